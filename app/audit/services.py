"""Write and read the audit log. Every editorial transition calls ``record``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.clock import utc_now


def record(
    session: Session,
    actor: User | None,
    action: str,
    *,
    post_id: int | None = None,
    revision_number: int | None = None,
    note: str = "",
    **data: Any,
) -> AuditEntry:
    entry = AuditEntry(
        at=utc_now(),
        actor_id=actor.id if actor else None,
        action=action,
        post_id=post_id,
        revision_number=revision_number,
        note=note,
        data=data,
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session, *, post_id: int | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[AuditEntry], bool]:
    """Newest first; for one post, or blog-wide. Returns the page and whether more follow."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if post_id is not None:
        query = query.where(AuditEntry.post_id == post_id)
    rows = session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)).all()
    return list(rows[:per_page]), len(rows) > per_page


def latest_entry(session: Session, post_id: int, action: str) -> AuditEntry | None:
    """The newest entry of one kind for a post: e.g. the editor's note on the last request for changes."""
    return session.scalar(
        select(AuditEntry)
        .where(AuditEntry.post_id == post_id, AuditEntry.action == action)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
