"""Two append-only histories: a post's health-information mark, and its medical reviews.

Both are rows readers see (the post page says "medically reviewed by", its JSON-LD says
``MedicalWebPage``), so writing either moves the post's ``version`` and every cached page of it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, ReaderVisible, intpk


class HealthMark(ReaderVisible, AppendOnly, Base):
    """That a post is (or, later, is no longer) health information, set by its author or an editor.

    The post's flag is its newest mark; none means no. Kept as history, not a column, so who marked it
    and when is never lost.
    """

    __tablename__ = "post_health_marks"
    __table_args__ = (Index("ix_post_health_marks_post_at", "post_id", "id"),)

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    health: Mapped[bool]
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utc_now)

    actor: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<HealthMark post={self.post_id} health={self.health}>"


class MedicalReview(ReaderVisible, AppendOnly, Base):
    """ "Medically reviewed by X on DATE", recorded by an editor, with the date it falls due again."""

    __tablename__ = "medical_reviews"
    __table_args__ = (
        CheckConstraint("due_on > reviewed_on", name="due_after_review"),
        Index("ix_medical_reviews_post_id", "post_id", "id"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_on: Mapped[date]
    due_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now)

    reviewer: Mapped[User] = relationship(lazy="joined", foreign_keys=[reviewer_id])
    recorded_by: Mapped[User] = relationship(lazy="joined", foreign_keys=[recorded_by_id])

    def __repr__(self) -> str:
        return f"<MedicalReview post={self.post_id} by={self.reviewer_id} on={self.reviewed_on}>"
