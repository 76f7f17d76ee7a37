"""The redaction ledger: requests and their applications. Both append-only; neither holds redacted text.

A redaction names its target by table and id, the spans by field and offsets, and the bookkeeping the
database checks (characters removed, marks inserted). An application carries a redaction out, as the
target's n-th (``sequence``): for a revision, the database lets exactly one UPDATE through per
application, and only of the text columns (migration 0008).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, ReaderVisible, intpk

MARK = "[redacted: patient identifier]"


class Target(enum.StrEnum):
    """What may be redacted: the table, and the text fields of it that may hold an identifier."""

    REVISION = "post_revisions"
    COMMENT = "comments"
    ERROR_REPORT = "error_reports"
    CONTACT_MESSAGE = "contact_messages"


TARGETS = tuple(t.value for t in Target)
FIELDS: dict[str, tuple[str, ...]] = {
    Target.REVISION: ("title", "body", "note"),
    Target.COMMENT: ("body",),
    Target.ERROR_REPORT: ("what", "source"),
    Target.CONTACT_MESSAGE: ("subject", "body"),
}


class Redaction(AppendOnly, Base):
    """A request to replace spans of one stored text with ``MARK``. Pending until applied."""

    __tablename__ = "redactions"
    __table_args__ = (
        CheckConstraint(f"target_table IN {TARGETS!r}", name="target_known"),
        CheckConstraint("reason <> ''", name="reason_given"),
        CheckConstraint("span_count >= 1 AND span_length >= span_count", name="spans_counted"),
        CheckConstraint("base_sequence >= 0", name="base_sequence_positive"),
        UniqueConstraint(
            "id",
            "target_table",
            "target_id",
            "requested_by_id",
            "needs_confirmation",
            name="uq_redactions_request",
        ),
        Index("ix_redactions_target", "target_table", "target_id"),
    )

    id: Mapped[intpk]
    target_table: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int]
    # The post the text belongs to (None for a contact message), and for a revision its number.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_number: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utc_now)
    # [[field, start, end], ...] in the text as it stood at ``base_sequence`` redactions.
    spans: Mapped[list[Any]] = mapped_column(default=list)
    span_count: Mapped[int]
    span_length: Mapped[int]
    base_sequence: Mapped[int] = mapped_column(default=0)
    # Published text needs a second editor to confirm.
    needs_confirmation: Mapped[bool]

    requested_by: Mapped[User] = relationship(lazy="joined", foreign_keys=[requested_by_id])

    def __repr__(self) -> str:
        return f"<Redaction {self.id} {self.target_table}#{self.target_id}>"


class RedactionApplication(ReaderVisible, AppendOnly, Base):
    """That a redaction was carried out, by whom; the target's ``sequence``-th. Writing one moves the post's
    ``version``, so every reader-page cache is refreshed."""

    __tablename__ = "redaction_applications"
    __table_args__ = (
        ForeignKeyConstraint(
            ["redaction_id", "target_table", "target_id", "requested_by_id", "needs_confirmation"],
            [
                "redactions.id",
                "redactions.target_table",
                "redactions.target_id",
                "redactions.requested_by_id",
                "redactions.needs_confirmation",
            ],
            name="fk_redaction_applications_request",
        ),
        UniqueConstraint("target_table", "target_id", "sequence", name="uq_redaction_applications_sequence"),
        CheckConstraint("NOT needs_confirmation OR applied_by_id <> requested_by_id", name="four_eyes"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
    )

    id: Mapped[intpk]
    redaction_id: Mapped[int] = mapped_column(unique=True)
    target_table: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int]
    requested_by_id: Mapped[int]
    needs_confirmation: Mapped[bool]
    applied_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sequence: Mapped[int]
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"), index=True)
    applied_at: Mapped[datetime] = mapped_column(default=utc_now)

    applied_by: Mapped[User] = relationship(lazy="joined", foreign_keys=[applied_by_id])

    def __repr__(self) -> str:
        return f"<RedactionApplication {self.redaction_id} {self.target_table}#{self.target_id}>"


REWRITABLE = ("audit_entries", "contact_replies", "moderation_decisions", "post_slugs")


class RedactionRewrite(AppendOnly, Base):
    """A copy of redacted text an application rewrote in another history table (an audit entry, a staff
    reply, a moderation decision), as that row's ``sequence``-th rewrite; or, for ``post_slugs``, an old
    address of the post that held the identifier and was removed. Names the row, never the text: the
    database lets that one change through (migration 0008)."""

    __tablename__ = "redaction_rewrites"
    __table_args__ = (
        CheckConstraint(f"table_name IN {REWRITABLE!r}", name="table_known"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        UniqueConstraint("table_name", "row_id", "sequence", name="uq_redaction_rewrites_row_sequence"),
    )

    id: Mapped[intpk]
    application_id: Mapped[int] = mapped_column(ForeignKey("redaction_applications.id"), index=True)
    table_name: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[int]
    sequence: Mapped[int]

    def __repr__(self) -> str:
        return f"<RedactionRewrite {self.table_name}#{self.row_id} ({self.sequence})>"
