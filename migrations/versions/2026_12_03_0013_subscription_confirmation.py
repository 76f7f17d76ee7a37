"""Double opt-in for "staff replied" e-mails: ``comment_subscriptions.confirmed_at``.

Subscriptions made before this revision were never confirmed by their address's owner (anyone could
type any address), so they stay unconfirmed: nothing more is sent to them until someone confirms.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('comment_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('comment_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')
