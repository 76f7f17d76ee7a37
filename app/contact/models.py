"""Contact messages from readers and the replies staff e-mailed to them.

A message waits (open) until a member of staff answers it or closes it; a reply is kept exactly as it
was e-mailed, append-only in the ORM and in the database (a trigger, see migration 0005), next to the
outbox message that carried it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk, str200, str320


class ContactStatus(enum.StrEnum):
    OPEN = "open"  # waits for a reply
    ANSWERED = "answered"
    CLOSED = "closed"  # no reply needed
    SPAM = "spam"


CONTACT_STATUSES = tuple(s.value for s in ContactStatus)


class ContactMessage(Base):
    """A private message from the contact form. It joins the needs-reply queue until answered or closed."""

    __tablename__ = "contact_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {CONTACT_STATUSES!r}", name="status_known"),
        Index("ix_contact_messages_status_created", "status", "created_at"),
    )

    id: Mapped[intpk]
    name: Mapped[str200]
    email: Mapped[str320]
    subject: Mapped[str200] = mapped_column(default="")
    body: Mapped[str] = mapped_column(Text)
    sender_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default=ContactStatus.OPEN.value)
    # Set when the form arrived suspiciously (honeypot, too fast): shown to moderators, never hidden.
    flags: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<ContactMessage {self.id} {self.status}>"


class ContactReply(AppendOnly, Base):
    """A staff reply to a contact message, as e-mailed. Append-only: what was sent stays as sent."""

    __tablename__ = "contact_replies"

    id: Mapped[intpk]
    message_id: Mapped[int] = mapped_column(ForeignKey("contact_messages.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    # Moved only by a redaction that rewrote a copy of redacted text here (app.redaction; migration 0008).
    redaction_count: Mapped[int] = mapped_column(default=0, server_default="0")

    staff: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<ContactReply {self.id} message={self.message_id}>"
