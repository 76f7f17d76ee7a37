"""Staff users, their roles and their API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utc_now
from app.db import Base, intpk, str80, str200, str320


class Role(enum.StrEnum):
    AUTHOR = "author"
    EDITOR = "editor"
    MODERATOR = "moderator"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


ROLE_VALUES = tuple(r.value for r in Role)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # NULL: the organisation's zone (CANDOR_TIMEZONE). The name itself is checked against the tz
        # database by accounts.services.set_timezone; the database only refuses an empty one.
        CheckConstraint("timezone IS NULL OR length(timezone) BETWEEN 1 AND 64", name="timezone_named"),
    )

    id: Mapped[intpk]
    email: Mapped[str320] = mapped_column(unique=True)
    name: Mapped[str200]
    title: Mapped[str200] = mapped_column(default="")
    department: Mapped[str200] = mapped_column(default="")
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The text alternative of the profile photo, for screen readers (the photo itself comes later).
    photo_alt: Mapped[str] = mapped_column(String(300), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Every signed-in session carries the generation it began in; moving it on ends them all at once,
    # wherever their cookies are (a cookie copied before sign-out is worthless after it).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    timezone: Mapped[str | None] = mapped_column(String(64))

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role_known"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str80] = mapped_column(primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")

    def __repr__(self) -> str:
        return f"<UserRole {self.user_id} {self.role}>"


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, so a database leak yields no usable token."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("revoked_at IS NULL OR revoked_at >= created_at", name="revoked_after_creation"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    # What its owner calls it ("CI publisher"), so a list of tokens says which one to revoke.
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}… user={self.user_id}>"
