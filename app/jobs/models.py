"""One row per (job, period) that some process has claimed: the primary key lets only one claim win."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.db import Base


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (CheckConstraint("job <> '' AND period <> ''", name="named"),)

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. "2026-12-03" or "...T14:10"
    claimed_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<JobRun {self.job} {self.period}>"
