"""The external sites registry and its decisions, both append-only.

A site is proposed once (name, kind, host patterns, an optional embed link template) and never edited:
a correction is a new entry, and an entry that should no longer be used is revoked by a decision. Each
decision is one person's approval or revocation in one capacity (Public Affairs or Compliance), with its
date and a note, so the public page can show the whole history of who allowed what and when.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk


class SiteKind(enum.StrEnum):
    VIDEO = "video"
    PHOTO = "photo"  # photo sharing
    MAPS = "maps"
    SOCIAL = "social"


class Capacity(enum.StrEnum):
    """On whose behalf a decision is taken; the ethics code asks for both."""

    PUBLIC_AFFAIRS = "public_affairs"
    COMPLIANCE = "compliance"


class Verdict(enum.StrEnum):
    APPROVE = "approve"
    REVOKE = "revoke"


SITE_KINDS = tuple(k.value for k in SiteKind)
CAPACITIES = tuple(c.value for c in Capacity)
VERDICTS = tuple(v.value for v in Verdict)


class ExternalSite(AppendOnly, Base):
    """One proposed external site. ``hosts`` holds its normalised host patterns, space-separated."""

    __tablename__ = "external_sites"
    __table_args__ = (
        CheckConstraint(f"kind IN {SITE_KINDS!r}", name="kind_known"),
        CheckConstraint("name <> ''", name="named"),
        CheckConstraint("hosts <> ''", name="has_hosts"),
        CheckConstraint("note <> ''", name="noted"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    hosts: Mapped[str] = mapped_column(Text)
    embed_template: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utc_now)

    proposed_by: Mapped[User] = relationship(lazy="joined")

    @property
    def host_list(self) -> list[str]:
        return self.hosts.split()

    def __repr__(self) -> str:
        return f"<ExternalSite {self.id} {self.name!r} {self.hosts!r}>"


class SiteDecision(AppendOnly, Base):
    """One person's approval or revocation of a site, in one capacity. Never changed; a later one wins."""

    __tablename__ = "external_site_decisions"
    __table_args__ = (
        CheckConstraint(f"capacity IN {CAPACITIES!r}", name="capacity_known"),
        CheckConstraint(f"verdict IN {VERDICTS!r}", name="verdict_known"),
        CheckConstraint("note <> ''", name="noted"),
    )

    id: Mapped[intpk]
    site_id: Mapped[int] = mapped_column(ForeignKey("external_sites.id"), index=True)
    capacity: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str] = mapped_column(String(16))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utc_now)
    note: Mapped[str] = mapped_column(Text)

    decided_by: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<SiteDecision {self.id} site={self.site_id} {self.capacity} {self.verdict}>"
