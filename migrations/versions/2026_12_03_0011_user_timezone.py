"""Each staff member's own time zone: ``users.timezone`` (NULL means the organisation's).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_users_timezone_named'), 'timezone IS NULL OR length(timezone) BETWEEN 1 AND 64'
        )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_timezone_named'), type_='check')
        batch_op.drop_column('timezone')
