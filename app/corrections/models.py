"""Reader error reports, and the cache of diffs between two revisions (computed once: revisions never
change)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk


class ReportState(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"


REPORT_STATES = tuple(s.value for s in ReportState)


class ErrorReport(Base):
    """A reader's "this is wrong" on a post. Decided once: accepted (linked to its correction) or declined."""

    __tablename__ = "error_reports"
    __table_args__ = (
        CheckConstraint(f"state IN {REPORT_STATES!r}", name="state_known"),
        Index("ix_error_reports_state_created", "state", "created_at", "id"),  # the staff queue, by state
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_number: Mapped[int]  # the published revision the reader was looking at
    what: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    reporter_ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    state: Mapped[str] = mapped_column(String(16), default=ReportState.OPEN.value)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    # Set when accepted: the revision that corrects it, and when that went public (for promptness).
    correction_revision: Mapped[int | None]
    corrected_at: Mapped[datetime | None]

    decided_by: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<ErrorReport {self.id} post={self.post_id} {self.state}>"


class RevisionDiff(AppendOnly, Base):
    """The marked-up diff of two revisions' HTML. Insert-only: both inputs are immutable, so is this."""

    __tablename__ = "revision_diffs"
    __table_args__ = (
        UniqueConstraint("from_revision_id", "to_revision_id", "engine", name="uq_revision_diffs_pair"),
    )

    id: Mapped[intpk]
    from_revision_id: Mapped[int] = mapped_column(ForeignKey("post_revisions.id"))
    to_revision_id: Mapped[int] = mapped_column(ForeignKey("post_revisions.id"))
    html: Mapped[str] = mapped_column(Text)
    # Which diff engine wrote it (app.corrections.diff.ENGINE_VERSION): a newer engine ignores older rows.
    engine: Mapped[int] = mapped_column(default=1, server_default="1")
    # The two revisions' redaction counts when this was computed: a redaction makes it stale, and only a
    # stale diff may be deleted (by app.redaction, in the database's own terms: migration 0008).
    from_redactions: Mapped[int] = mapped_column(default=0, server_default="0")
    to_redactions: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<RevisionDiff {self.from_revision_id}->{self.to_revision_id}>"
