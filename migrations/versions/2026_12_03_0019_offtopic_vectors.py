"""The off-topic filter's stored vectors: ``post_passages`` and ``offtopic_examples`` (both append-only).

- ``post_passages``: one row per passage (title, section, topic) of a published revision, with its
  MiniLM vector (384 float32, little-endian; a CHECK keeps the length), encoded once at publication.
- ``offtopic_examples``: one row per moderator decision that teaches the filter (approve, ham,
  off_topic): the comment's vector, the label, and what the filter had said (to count overrulings).

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-03 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

VECTOR_BYTES = 384 * 4
TABLES = ("post_passages", "offtopic_examples")


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "post_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"length(vector) = {VECTOR_BYTES}", name=op.f("ck_post_passages_vector_size")),
        sa.CheckConstraint("position >= 0", name=op.f("ck_post_passages_position_natural")),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_post_passages_post_id_posts")),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["post_revisions.id"], name=op.f("fk_post_passages_revision_id_post_revisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_passages")),
    )
    op.create_index("ix_post_passages_revision", "post_passages", ["revision_id", "position"], unique=True)
    op.create_index(op.f("ix_post_passages_post_id"), "post_passages", ["post_id"], unique=False)
    op.create_table(
        "offtopic_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("on_topic", sa.Boolean(), nullable=False),
        sa.Column("filter_on_topic", sa.Boolean(), nullable=True),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"length(vector) = {VECTOR_BYTES}", name=op.f("ck_offtopic_examples_vector_size")),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["moderation_decisions.id"],
            name=op.f("fk_offtopic_examples_decision_id_moderation_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_offtopic_examples_comment_id_comments")
        ),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_offtopic_examples_post_id_posts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offtopic_examples")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_offtopic_examples_decision_id")),
    )
    op.create_index("ix_offtopic_examples_post", "offtopic_examples", ["post_id", "id"], unique=False)
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        _run(append_only_ddl(dialect, table))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        _run(drop_append_only_ddl(dialect, table))
    op.drop_index("ix_offtopic_examples_post", table_name="offtopic_examples")
    op.drop_table("offtopic_examples")
    op.drop_index(op.f("ix_post_passages_post_id"), table_name="post_passages")
    op.drop_index("ix_post_passages_revision", table_name="post_passages")
    op.drop_table("post_passages")
