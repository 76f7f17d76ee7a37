"""Reviews (one open per post, enforced by a partial unique index), gate overrides and retractions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk


class ReviewState(enum.StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    WITHDRAWN = "withdrawn"


class Gate(enum.StrEnum):
    IDENTITY = "identity"
    DISCLOSURE = "disclosure"
    REFERENCES = "references"
    DIRECT_LINKS = "direct_links"
    PRIVACY = "privacy"
    MEDIA_ALT = "media_alt"
    MEDIA_CONSENT = "media_consent"
    TOPICS = "topics"
    EXTERNAL_SITES = "external_sites"


# Gates an editor may override, with a recorded justification; the others have no exception. An external
# site's approval is Public Affairs' and Compliance's decision together, never one editor's exception.
OVERRIDABLE = frozenset({Gate.REFERENCES, Gate.PRIVACY})
REVIEW_STATES = tuple(s.value for s in ReviewState)
# What gate_overrides' CHECK allows: every gate but topics, which came later and is never overridden.
GATES = tuple(g.value for g in Gate if g is not Gate.TOPICS)


class Review(Base):
    """One submission for review. Closed by approval, a request for changes, or withdrawal."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(f"state IN {REVIEW_STATES!r}", name="state_known"),
        Index(
            "uq_reviews_one_open_per_post",
            "post_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_number: Mapped[int]
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utc_now)
    touches_interests: Mapped[bool] = mapped_column(default=False)
    interest_statement: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(32), default=ReviewState.OPEN.value)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")

    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id], lazy="joined")

    def __repr__(self) -> str:
        return f"<Review {self.id} post={self.post_id} r{self.revision_number} {self.state}>"


class GateOverride(AppendOnly, Base):
    """An editor's recorded decision that a failing gate may pass for one revision. Append-only."""

    __tablename__ = "gate_overrides"
    __table_args__ = (
        CheckConstraint(f"gate IN {GATES!r}", name="gate_known"),
        CheckConstraint("justification <> ''", name="justified"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_number: Mapped[int]
    gate: Mapped[str] = mapped_column(String(32))
    justification: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utc_now)

    editor: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<GateOverride post={self.post_id} r{self.revision_number} {self.gate}>"


class LinkCheck(Base):
    """The latest result of checking one link of one published post. Mutable: it is a status, not history."""

    __tablename__ = "link_checks"
    __table_args__ = (UniqueConstraint("post_id", "url", name="uq_link_checks_post_url"),)

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    ok: Mapped[bool]
    status: Mapped[int | None]
    error: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(default=utc_now)
    failing_since: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<LinkCheck post={self.post_id} {self.url} ok={self.ok}>"
