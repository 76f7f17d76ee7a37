"""A redacted comment's off-topic example is re-encoded from the redacted text, through one narrow door.

``offtopic_examples`` keeps the vector of each comment a moderator decided. A vector is derived from the
comment's words: an identifier redacted from the comment must not live on in it. The table stays
append-only except for one UPDATE its trigger lets through: ``vector`` changes and ``redaction_count``
moves up to the sequence of the latest redaction applied to that very comment
(``redaction_applications`` with ``target_table = 'comments'``), every other column as it was. Only the
redaction service's application (app/redaction/services.py) writes that row, so only a confirmed,
audited redaction opens the door, and a second UPDATE for the same redaction is refused.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = "0026"
down_revision = '0025'
branch_labels = None
depends_on = None

TABLE = "offtopic_examples"
KEPT = ("id", "decision_id", "comment_id", "post_id", "on_topic", "filter_on_topic", "at")


def _allowed(same: str) -> str:
    """True only for the application's UPDATE; never NULL (SQLite's WHEN NOT (NULL) would let it pass)."""
    unchanged = " AND ".join(f"NEW.{c} {same} OLD.{c}" for c in KEPT)
    return (
        f"{unchanged} AND NEW.redaction_count > OLD.redaction_count "
        "AND NEW.redaction_count = (SELECT COALESCE(MAX(a.sequence), 0) FROM redaction_applications a "
        "WHERE a.target_table = 'comments' AND a.target_id = OLD.comment_id)"
    )


def _guard_ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} WHEN NOT ({_allowed('IS')}) "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END",
            f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END",
        ]
    return [
        f"CREATE OR REPLACE FUNCTION candor_guard_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' AND ({_allowed('IS NOT DISTINCT FROM')}) THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$",
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION candor_guard_{TABLE}()",
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION candor_refuse_change()",
    ]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _run(drop_append_only_ddl(dialect, TABLE))
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("redaction_count", sa.Integer(), nullable=False, server_default="0"))
    _run(_guard_ddl(dialect))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _run(drop_append_only_ddl(dialect, TABLE))
    if dialect != "sqlite":
        op.execute(f"DROP FUNCTION IF EXISTS candor_guard_{TABLE}()")
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("redaction_count")
    _run(append_only_ddl(dialect, TABLE))
