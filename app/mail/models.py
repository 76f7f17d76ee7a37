"""The outbox: one row per e-mail, written in the same transaction as whatever caused it.

A message is never lost: it is stored before any SMTP conversation starts, a failed send leaves it
queued with the error and the time of the next attempt, and only a confirmed hand-over (or, without
``MAIL_SERVER``, a log line) marks it done.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.db import Base, intpk, str320


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its first attempt, or for a retry after a failure
    SENT = "sent"  # the SMTP server accepted it
    LOGGED = "logged"  # MAIL_SERVER is unset: written to the log instead of sent


OUTBOX_STATUSES = tuple(s.value for s in OutboxStatus)


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status_known"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    to_addr: Mapped[str320]
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # Extra headers (List-Unsubscribe, In-Reply-To ...); Message-ID is fixed here so retries keep it.
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    purpose: Mapped[str] = mapped_column(String(40))  # e.g. "staff_reply", "contact_reply", "digest"
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.purpose} {self.status}>"
