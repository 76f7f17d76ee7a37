"""Staff search bounded at scale (issue 15): on PostgreSQL, the ``pg_trgm`` extension and GIN trigram
indexes on ``lower(title)`` and ``lower(body)`` of ``post_revisions``, the expressions staff search
matches with ``LIKE '%needle%'``. ``pg_trgm`` is a trusted extension (PostgreSQL 13+): the database's
owner may create it. On SQLite this migration does nothing (staff search keeps scanning there).
Downgrade drops the indexes, not the extension (something else may use it).

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-05 22:20:00
"""

from __future__ import annotations

from alembic import op

from app.search.ddl import create_trigram_ddl, drop_trigram_ddl

revision = "0029"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in create_trigram_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_trigram_ddl(op.get_bind().dialect.name):
        op.execute(statement)
