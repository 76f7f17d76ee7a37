"""Claim a job's period before doing its work: the second claimant of the same period gets False.

Two processes running the same periodic job at once (two workers, or several web processes each running
jobs in-process) both try to insert the same primary key; the database lets exactly one succeed (on
PostgreSQL the second waits for the first to commit, then fails), so a digest is never sent twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.jobs.models import JobRun

KEEP = timedelta(days=30)


def period(now: datetime, every: timedelta) -> str:
    """The period ``now`` falls in, for a job run every ``every`` (a day, ten minutes ...), as a string."""
    seconds = int(every.total_seconds())
    start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    return start.strftime("%Y-%m-%d") if seconds % 86400 == 0 else start.strftime("%Y-%m-%dT%H:%M")


def claim(session: Session, job: str, when: str) -> bool:
    """Record that this unit of work runs ``job`` for period ``when``; False if another already did.

    Inside the caller's transaction (a savepoint): rolled back with it, so a failed run may be retried.
    """
    try:
        with session.begin_nested():
            session.add(JobRun(job=job, period=when, claimed_at=utc_now()))
            session.flush()
    except IntegrityError:
        return False
    return True
