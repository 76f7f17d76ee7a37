"""``site_stamps``: blog-wide counters moved with every change a list page shows (issue 15); and the
index of the staff's error-report queue, which pages by (state, created_at, id).

The home page, topics, feeds, the corrections log and the sitemap key their cache on these instead of
summing every post's version and counting every publication per request. Each row gets a random
``generation`` so that counters started again (this migration downgraded and re-applied) never meet
pages cached under the old ones.

Revision ID: 0027
Revises: 0028
Create Date: 2026-12-04 15:45:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamps = op.create_table(
        "site_stamps",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_site_stamps")),
    )
    op.bulk_insert(
        stamps,
        [{"name": name, "generation": secrets.token_hex(8), "value": 0} for name in ("posts", "corrections", "embeds")],
    )
    with op.batch_alter_table("error_reports", schema=None) as batch_op:
        batch_op.create_index("ix_error_reports_state_created", ["state", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("error_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_error_reports_state_created")
    op.drop_table("site_stamps")
