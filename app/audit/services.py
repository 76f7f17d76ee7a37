"""Write and read the audit log. Every editorial transition calls ``record``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import cursors
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
    session: Session,
    *,
    post_id: int | None = None,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 50,
) -> cursors.Page:
    """Newest first; for one post, or blog-wide: a page and the cursor of the next one (None: the last).

    Keyset on (at, id), served by ix_audit_entries_at_id / ix_audit_entries_post_at_id at any depth.
    """
    kind = "audit" if post_id is None else f"audit:{post_id}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    query = select(AuditEntry)
    if post_id is not None:
        query = query.where(AuditEntry.post_id == post_id)
    query = cursors.after(query, (AuditEntry.at, AuditEntry.id), key, descending=True, backward=backward)
    rows = session.scalars(query.limit(per_page + 1)).all()
    return cursors.page(rows, per_page, kind, lambda e: (e.at, e.id), key=key, backward=backward)


def latest_entry(session: Session, post_id: int, action: str) -> AuditEntry | None:
    """The newest entry of one kind for a post: e.g. the editor's note on the last request for changes."""
    return session.scalar(
        select(AuditEntry)
        .where(AuditEntry.post_id == post_id, AuditEntry.action == action)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
