"""A redacted revision's passages are rewritten from the redacted words, through one narrow door.

``post_passages`` keeps, for each published revision, the label of each passage (the title, a section's
heading, a topic) and the vector of its words, which the off-topic filter compares comments with and
quotes in their drivers ("closest to the section '...'"). Both are derived from the revision's text: an
identifier redacted from the revision must not live on in them. Beside 0030's re-encoding door the
table gets a second one, as 0026 gave ``offtopic_examples``: ``label`` and ``vector`` change and
``redaction_count`` moves up to the sequence of the latest redaction applied to that very revision
(``redaction_applications`` with ``target_table = 'post_revisions'``), every other column as it was
(id, post, revision, position, creation time, encoding). Only the redaction service's application
(app/redaction/services.py) writes that row, so only a confirmed, audited redaction opens the door, and
a second UPDATE for the same redaction is refused. The re-encoding door now also keeps
``redaction_count``. DELETE and TRUNCATE stay refused.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import drop_append_only_ddl

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

TABLE = "post_passages"
RUNS = "offtopic_encodings"
ALWAYS_KEPT = ("id", "post_id", "revision_id", "position", "created_at")
REENCODING_KEPT = (*ALWAYS_KEPT, "label", "redaction_count")  # 0030's door: vector and encoding change
REDACTION_KEPT = (*ALWAYS_KEPT, "encoding")  # this door: label, vector and redaction_count change


def _unchanged(columns: tuple[str, ...], same: str) -> str:
    return " AND ".join(f"NEW.{c} {same} OLD.{c}" for c in columns)


def _reencoding(same: str, kept: tuple[str, ...] = REENCODING_KEPT) -> str:
    """0030's door: only ``vector`` and ``encoding``, the latter up to the latest run."""
    return (
        f"{_unchanged(kept, same)} AND NEW.encoding > OLD.encoding "
        f"AND NEW.encoding = (SELECT COALESCE(MAX(r.id), 0) FROM {RUNS} r)"
    )


def _redaction(same: str) -> str:
    """The redaction's UPDATE: ``redaction_count`` up to the revision's latest redaction application."""
    return (
        f"{_unchanged(REDACTION_KEPT, same)} AND NEW.redaction_count > OLD.redaction_count "
        "AND NEW.redaction_count = (SELECT COALESCE(MAX(a.sequence), 0) FROM redaction_applications a "
        "WHERE a.target_table = 'post_revisions' AND a.target_id = OLD.revision_id)"
    )


def _allowed(same: str, *, before: bool = False) -> str:
    """True only for an allowed UPDATE; never NULL (SQLite's WHEN NOT (NULL) would let it pass).
    ``before``: 0030's guard (the downgrade puts it back)."""
    if before:
        return f"({_reencoding(same, REENCODING_KEPT[:-1])})"
    return f"(({_reencoding(same)}) OR ({_redaction(same)}))"


def _guard_ddl(dialect: str, *, before: bool = False) -> list[str]:
    if dialect == "sqlite":
        allowed = _allowed("IS", before=before)
        return [
            f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} WHEN NOT ({allowed}) "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END",
            f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END",
        ]
    allowed = _allowed("IS NOT DISTINCT FROM", before=before)
    return [
        f"CREATE OR REPLACE FUNCTION candor_guard_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF TG_OP = 'UPDATE' AND {allowed} THEN RETURN NEW; END IF; "
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
    """Back to 0030's guard (rewritten labels and vectors stay as they are: the count column goes)."""
    dialect = op.get_bind().dialect.name
    _run(drop_append_only_ddl(dialect, TABLE))
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("redaction_count")
    _run(_guard_ddl(dialect, before=True))
