"""The editor's autosaved working copy: one per post and writer, overwritten in place, never a revision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.db import Base, intpk


class DraftBuffer(Base):
    """What one writer had typed into one post's editor when the page last autosaved.

    Not history: it is replaced by each autosave and removed when the writer saves a revision, so the
    revision list stays the record of what was deliberately saved. ``base_revision`` is the revision the
    writer was editing, so the editor can tell a buffer that predates a newer revision.

    A post not yet saved has one too: ``post_id`` NULL, ``base_revision`` 0, one per writer. It is
    offered back on the new-post page, and dropped when the post is first saved.
    """

    __tablename__ = "draft_buffers"
    __table_args__ = (
        UniqueConstraint("post_id", "user_id"),
        Index(
            "uq_draft_buffers_one_new_post_per_user",
            "user_id",
            unique=True,
            sqlite_where=text("post_id IS NULL"),
            postgresql_where=text("post_id IS NULL"),
        ),
    )

    id: Mapped[intpk]
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    base_revision: Mapped[int]
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    saved_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<DraftBuffer post={self.post_id} user={self.user_id} base=r{self.base_revision}>"
