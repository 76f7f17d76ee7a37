"""Account administration: named, expiring API tokens with their last use; profile fields for staff.

Tokens issued before this migration get the default lifetime (90 days) counted from their creation, so
an old token that has outlived it stops working, as a new one would.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:15:00
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

DEFAULT_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bio", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("photo_alt", sa.String(length=300), nullable=False, server_default=""))

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))

    tokens = sa.table(
        "api_tokens",
        sa.column("id", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    for token_id, created_at in bind.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        bind.execute(
            tokens.update().where(tokens.c.id == token_id).values(expires_at=created_at + DEFAULT_LIFETIME)
        )

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_check_constraint("expires_after_creation", "expires_at > created_at")
        batch_op.create_check_constraint(
            "revoked_after_creation", "revoked_at IS NULL OR revoked_at >= created_at"
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_api_tokens_revoked_after_creation"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_api_tokens_expires_after_creation"), type_="check")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("name")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("photo_alt")
        batch_op.drop_column("bio")
