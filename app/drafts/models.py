"""The editor's autosaved working copy: one per post and writer, overwritten in place, never a revision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.db import Base, intpk


class DraftBuffer(Base):
    """What one writer had typed into one post's editor when the page last autosaved.

    Not history: it is replaced by each autosave and removed when the writer saves a revision, so the
    revision list stays the record of what was deliberately saved. ``base_revision`` is the revision the
    writer was editing, so the editor can tell a buffer that predates a newer revision.
    """

    __tablename__ = "draft_buffers"
    __table_args__ = (UniqueConstraint("post_id", "user_id"),)

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    base_revision: Mapped[int]
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    saved_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<DraftBuffer post={self.post_id} user={self.user_id} base=r{self.base_revision}>"
