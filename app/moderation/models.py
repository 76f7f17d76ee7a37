"""What moderation owes outside the app: the corrections Akismet is to be told about.

A moderator who overrules Akismet (publishing what it called spam, or calling spam what it passed) owes
it a submit-ham or submit-spam, so its filter learns. Each is a row, written with the decision and sent
after the commit, then retried by ``flask comments recheck`` until Akismet has taken it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.db import Base, intpk


class AkismetSubmission(Base):
    """A moderator's correction owed to Akismet (submit-spam or submit-ham), retried until it is sent."""

    __tablename__ = "akismet_submissions"
    __table_args__ = (
        CheckConstraint("kind IN ('spam', 'ham')", name="kind_known"),
        Index("ix_akismet_submissions_pending", "sent_at", "id"),
    )

    id: Mapped[intpk]
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("moderation_decisions.id"))
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<AkismetSubmission {self.id} comment={self.comment_id} {self.kind}>"
