"""The burst limit counts a sender as the rate limits do: an IPv4 address or an IPv6 /64.

Without Redis the burst counted ``comments.author_ip`` equal to the sender's whole address, so one
machine taking a fresh address of its /64 for every comment was never held. ``comment_burst_marks``
keeps one row per recent comment under a digest of the sender's key (``app.comments.burst``), counted
from an index; rows older than the burst window are deleted. Not history: derived, short-lived.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comment_burst_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_burst_marks")),
        sa.UniqueConstraint("sender", "member", name=op.f("uq_comment_burst_marks_sender")),
    )
    op.create_index("ix_comment_burst_marks_sender_at", "comment_burst_marks", ["sender", "at"])
    op.create_index("ix_comment_burst_marks_at", "comment_burst_marks", ["at"])


def downgrade() -> None:
    op.drop_index("ix_comment_burst_marks_at", table_name="comment_burst_marks")
    op.drop_index("ix_comment_burst_marks_sender_at", table_name="comment_burst_marks")
    op.drop_table("comment_burst_marks")
