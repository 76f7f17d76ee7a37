"""A staff member's disclosure at one moment. A new one supersedes, never replaces, the old."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk


class Relationship(enum.StrEnum):
    CONSULTING = "consulting"
    SPEAKING = "speaking"
    RESEARCH_FUNDING = "research_funding"
    EQUITY = "equity"
    ROYALTIES = "royalties"
    BOARD_ROLE = "board_role"
    FAMILY_EMPLOYMENT = "family_employment"
    EMPLOYMENT = "employment"
    GIFTS_TRAVEL = "gifts_travel"
    OTHER = "other"


RELATIONSHIP_LABELS = {
    Relationship.CONSULTING: "Consulting",
    Relationship.SPEAKING: "Speaking fees",
    Relationship.RESEARCH_FUNDING: "Research funding",
    Relationship.EQUITY: "Equity or stock",
    Relationship.ROYALTIES: "Royalties or licensing",
    Relationship.BOARD_ROLE: "Board or advisory role",
    Relationship.FAMILY_EMPLOYMENT: "Employment of a family member",
    Relationship.EMPLOYMENT: "Employment",
    Relationship.GIFTS_TRAVEL: "Gifts or travel",
    Relationship.OTHER: "Other",
}


class Disclosure(AppendOnly, Base):
    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_user_created", "user_id", "created_at"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    no_conflicts: Mapped[bool]
    # [{entity, relationship, paid, since, description}]; validated by services.record_disclosure.
    interests: Mapped[list[Any]] = mapped_column(default=list)
    statement: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(lazy="joined")

    def summary(self) -> str:
        if self.no_conflicts:
            return "No relevant financial relationships."
        return "; ".join(
            f"{i['entity']} ({RELATIONSHIP_LABELS[Relationship(i['relationship'])].lower()}"
            f"{', paid' if i.get('paid') else ', unpaid'}{', since ' + i['since'] if i.get('since') else ''})"
            for i in self.interests
        )

    def __repr__(self) -> str:
        return f"<Disclosure {self.id} user={self.user_id}>"
