"""Comment tallies spread over shards, so that comments arriving at once do not queue on one row.

Every comment counted ``('held', '')`` (and each of its held reasons) in one row, updated in the
transaction that stored it: under a flood, each transaction held that row's lock until it committed, and
comments were stored one after another (bench/bench_comments.py). A count is now the sum of
``TALLY_SHARDS`` rows (16); a comment always counts in shard ``id % 16`` (app.comments.states), so each
shard stays >= 0 and its CHECK holds. Filled here by counting once, per shard.

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-04 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = '0023'
branch_labels = None
depends_on = None

SHARDS = 16  # app.comments.models.TALLY_SHARDS when this was written


def _create(sharded: bool) -> None:
    columns = [
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
    ]
    if sharded:
        columns.append(sa.Column("shard", sa.SmallInteger(), nullable=False))
    op.create_table(
        "comment_tallies",
        *columns,
        sa.Column("n", sa.Integer(), nullable=False),
        sa.CheckConstraint("n >= 0", name=op.f("ck_comment_tallies_not_negative")),
        *(
            [
                sa.CheckConstraint(
                    f"shard >= 0 AND shard < {SHARDS}", name=op.f("ck_comment_tallies_shard_known")
                )
            ]
            if sharded
            else []
        ),
        sa.PrimaryKeyConstraint(
            "status", "reason", *(["shard"] if sharded else []), name=op.f("pk_comment_tallies")
        ),
    )


def _fill(sharded: bool) -> None:
    """Count once: by status, and held comments by each reason (as app.comments.states counts them)."""
    bind = op.get_bind()
    shard = f"id % {SHARDS}" if sharded else "0"
    group = f"status, {shard}" if sharded else "status"
    tallies: dict[tuple[str, str, int], int] = {}
    for status, k, n in bind.execute(
        sa.text(f"SELECT status, {shard} AS k, count(*) FROM comments GROUP BY {group}")
    ):
        tallies[(status, "", int(k))] = n
    comments = sa.table(
        "comments", sa.column("id", sa.Integer), sa.column("status", sa.String), sa.column("reasons", sa.JSON)
    )
    rows = bind.execute(sa.select(comments.c.id, comments.c.reasons).where(comments.c.status == "held"))
    for comment_id, reasons in rows:
        k = comment_id % SHARDS if sharded else 0
        for reason in dict.fromkeys(str(r)[:100] for r in reasons or ()):
            tallies[("held", reason, k)] = tallies.get(("held", reason, k), 0) + 1
    if not tallies:
        return
    names = ["status", "reason", "n"] + (["shard"] if sharded else [])
    table = sa.table("comment_tallies", *(sa.column(name) for name in names))
    op.bulk_insert(
        table,
        [
            {"status": s, "reason": r, "n": n, **({"shard": k} if sharded else {})}
            for (s, r, k), n in sorted(tallies.items())
        ],
    )


def upgrade() -> None:
    op.drop_table("comment_tallies")
    _create(sharded=True)
    _fill(sharded=True)


def downgrade() -> None:
    op.drop_table("comment_tallies")
    _create(sharded=False)
    _fill(sharded=False)
