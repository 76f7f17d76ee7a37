"""The current value of each run-time setting, and the append-only history of every change to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk


class Setting(Base):
    """One setting an admin has set; a setting without a row takes its value from the environment."""

    __tablename__ = "settings"
    __table_args__ = (CheckConstraint("key <> ''", name="key_not_empty"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SettingChange(AppendOnly, Base):
    """One change: who, when, from what, to what. Its largest id is the settings' version."""

    __tablename__ = "setting_changes"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(64), index=True)
    old_value: Mapped[Any] = mapped_column(
        JSON, nullable=True
    )  # None: the environment's default was in force
    new_value: Mapped[Any] = mapped_column(JSON, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utc_now)

    actor: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<SettingChange {self.id} {self.key}>"
