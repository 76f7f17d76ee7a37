"""The media library: images (``media``), their renditions (``media_variants``), stored bytes
(``media_blobs``), patient consents (``media_consents``, append-only) and which revisions show which
images (``revision_media``, append-only, ON DELETE RESTRICT towards ``media``).

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import append_only_ddl, drop_append_only_ddl

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

APPEND_ONLY = ("media_consents", "revision_media")


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("alt", sa.Text(), nullable=False),
        sa.Column("decorative", sa.Boolean(), nullable=False),
        sa.Column("shows_patient", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("format IN ('jpeg', 'png', 'webp', 'avif')", name=op.f("ck_media_format_known")),
        sa.CheckConstraint("width > 0 AND height > 0", name=op.f("ck_media_size_positive")),
        sa.CheckConstraint("NOT decorative OR alt = ''", name=op.f("ck_media_decorative_has_empty_alt")),
        sa.CheckConstraint("length(alt) <= 1000", name=op.f("ck_media_alt_length")),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_media_sha256_length")),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"], name=op.f("fk_media_uploaded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("sha256", name=op.f("uq_media_sha256")),
    )
    op.create_table(
        "media_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_media_blobs_sha256_length")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_media_blobs")),
    )
    op.create_table(
        "media_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("storage", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "width > 0 AND height > 0 AND size > 0", name=op.f("ck_media_variants_size_positive")
        ),
        sa.CheckConstraint("storage IN ('database', 's3')", name=op.f("ck_media_variants_storage_known")),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_media_variants_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_variants")),
    )
    with op.batch_alter_table("media_variants", schema=None) as batch_op:
        batch_op.create_index("ix_media_variants_media_width", ["media_id", "width"], unique=True)
        batch_op.create_index(batch_op.f("ix_media_variants_sha256"), ["sha256"], unique=False)
    op.create_table(
        "media_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("form_reference", sa.String(length=200), nullable=False),
        sa.Column("consented_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("form_reference <> ''", name=op.f("ck_media_consents_form_reference_given")),
        sa.CheckConstraint(
            "expires_on >= consented_on", name=op.f("ck_media_consents_expires_after_consent")
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_media_consents_media_id_media"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_media_consents_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_consents")),
    )
    with op.batch_alter_table("media_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_consents_media_id"), ["media_id"], unique=False)
    op.create_table(
        "revision_media",
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_revision_media_media_id_media"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["post_revisions.id"], name=op.f("fk_revision_media_revision_id_post_revisions")
        ),
        sa.PrimaryKeyConstraint("revision_id", "media_id", name=op.f("pk_revision_media")),
    )
    with op.batch_alter_table("revision_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revision_media_media_id"), ["media_id"], unique=False)
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(append_only_ddl(dialect, table))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        _run(drop_append_only_ddl(dialect, table))
    with op.batch_alter_table("revision_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revision_media_media_id"))
    op.drop_table("revision_media")
    with op.batch_alter_table("media_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_consents_media_id"))
    op.drop_table("media_consents")
    with op.batch_alter_table("media_variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_variants_sha256"))
        batch_op.drop_index("ix_media_variants_media_width")
    op.drop_table("media_variants")
    op.drop_table("media_blobs")
    op.drop_table("media")
