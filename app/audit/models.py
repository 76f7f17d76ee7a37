"""Audit entries. Append-only: the ORM refuses changes and a database trigger refuses UPDATE/DELETE."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk


class AuditEntry(AppendOnly, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_post_at", "post_id", "at", "id"),
        Index("ix_audit_entries_at_id", "at", "id"),
    )

    id: Mapped[intpk]
    at: Mapped[datetime] = mapped_column(default=utc_now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system (a scheduler)
    action: Mapped[str] = mapped_column(String(64))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))
    revision_number: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Moved only by a redaction that rewrote a copy of redacted text here (app.redaction; migration 0008).
    redaction_count: Mapped[int] = mapped_column(default=0, server_default="0")

    actor: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} post={self.post_id}>"
