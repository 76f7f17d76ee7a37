"""The media library: an image (``media``), its stored renditions (``media_variants``), the bytes kept in
the database when no bucket is configured (``media_blobs``), and patient consent records
(``media_consents``, append-only).

What is stored is never what was uploaded: every rendition is re-encoded from pixels (app/media/images.py),
so the uploaded file, with its EXIF, GPS, XMP and maker notes, is never kept.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk

FORMATS = ("jpeg", "png", "webp", "avif")
SCOPES = ("web", "social", "print")
MAX_ALT_CHARS = 1000
MAX_NAME_CHARS = 200


class Media(Base):
    """One image in the library. Its ``sha256`` is that of the full-size rendition's bytes: the same
    image uploaded twice is one row (``uq_media_sha256``), so two uploads at once cannot make two."""

    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint(f"format IN {FORMATS!r}", name="format_known"),
        CheckConstraint("width > 0 AND height > 0", name="size_positive"),
        # "Decorative" means alt="" on purpose; an image with a description is not decorative.
        CheckConstraint("NOT decorative OR alt = ''", name="decorative_has_empty_alt"),
        CheckConstraint(f"length(alt) <= {MAX_ALT_CHARS}", name="alt_length"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
    )

    id: Mapped[intpk]
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int]
    height: Mapped[int]
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS), default="")
    alt: Mapped[str] = mapped_column(Text, default="")
    decorative: Mapped[bool] = mapped_column(default=False)
    shows_patient: Mapped[bool] = mapped_column(default=False)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    uploaded_by: Mapped[User] = relationship(lazy="joined")
    variants: Mapped[list[MediaVariant]] = relationship(
        order_by="MediaVariant.width", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def ext(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def path(self) -> str:
        return media_path(self.sha256, self.format)

    @property
    def label(self) -> str:
        """How a checklist names the image: its file name and its number in the library."""
        return f"“{self.name}” (image {self.id})" if self.name else f"image {self.id}"

    @property
    def has_alt(self) -> bool:
        return self.decorative or bool(self.alt.strip())

    def __repr__(self) -> str:
        return f"<Media {self.id} {self.sha256[:12]}.{self.ext}>"


EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}
FORMAT_OF_EXT = {ext: fmt for fmt, ext in EXTENSIONS.items()}


def media_path(sha256: str, fmt: str) -> str:
    return f"/media/{sha256}.{EXTENSIONS[fmt]}"


class MediaVariant(Base):
    """One stored rendition of an image: the full size, and each narrower width made at upload."""

    __tablename__ = "media_variants"
    __table_args__ = (
        CheckConstraint("width > 0 AND height > 0 AND size > 0", name="size_positive"),
        CheckConstraint("storage IN ('database', 's3')", name="storage_known"),
        Index("ix_media_variants_media_width", "media_id", "width", unique=True),
    )

    id: Mapped[intpk]
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int]
    height: Mapped[int]
    size: Mapped[int]
    storage: Mapped[str] = mapped_column(String(16), default="database")

    def __repr__(self) -> str:
        return f"<MediaVariant media={self.media_id} {self.width}w>"


class MediaBlob(Base):
    """Stored bytes, by their sha256, when images live in the database (the default)."""

    __tablename__ = "media_blobs"
    __table_args__ = (CheckConstraint("length(sha256) = 64", name="sha256_length"),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)

    def __repr__(self) -> str:
        return f"<MediaBlob {self.sha256[:12]}>"


class MediaConsent(AppendOnly, Base):
    """A patient's recorded consent to show an image: the signed form's reference, when it was given,
    where the image may appear, and until when. Never changed or deleted: a new record supersedes."""

    __tablename__ = "media_consents"
    __table_args__ = (
        CheckConstraint("form_reference <> ''", name="form_reference_given"),
        CheckConstraint("expires_on >= consented_on", name="expires_after_consent"),
    )

    id: Mapped[intpk]
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="RESTRICT"), index=True)
    form_reference: Mapped[str] = mapped_column(String(200))
    consented_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now)

    recorded_by: Mapped[User] = relationship(lazy="joined")

    def covers(self, scope: str, day: date) -> bool:
        return scope in self.scopes and self.consented_on <= day <= self.expires_on

    def __repr__(self) -> str:
        return f"<MediaConsent media={self.media_id} until {self.expires_on}>"
