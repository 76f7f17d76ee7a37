"""Record and look up disclosures. Only the newest counts, and only while it is younger than the limit."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.audit.services import record
from app.clock import utc_now
from app.disclosures.models import Disclosure, Relationship
from app.errors import InvalidInput
from app.text import clean_text

MAX_INTERESTS = 50
_SINCE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _interest(raw: Any, index: int) -> dict[str, Any]:
    where = f"interests[{index}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be an object with entity and relationship.", field="interests")
    entity = clean_text(raw.get("entity"), f"{where}.entity", max_chars=200)
    relationship = raw.get("relationship")
    if not isinstance(relationship, str) or relationship not in {r.value for r in Relationship}:
        known = ", ".join(r.value for r in Relationship)
        raise InvalidInput(f"{where}.relationship must be one of {known}.", field="interests")
    paid = raw.get("paid", True)
    if not isinstance(paid, bool):
        raise InvalidInput(f"{where}.paid must be true or false.", field="interests")
    since = clean_text(raw.get("since"), f"{where}.since", max_chars=10, required=False)
    if since and not _SINCE.match(since):
        raise InvalidInput(
            f"{where}.since must be a date like 2024, 2024-05 or 2024-05-01.", field="interests"
        )
    description = clean_text(raw.get("description"), f"{where}.description", max_chars=500, required=False)
    return {
        "entity": entity,
        "relationship": relationship,
        "paid": paid,
        "since": since,
        "description": description,
    }


def record_disclosure(
    session: Session, actor: User, *, no_conflicts: Any, interests: Any, statement: Any = ""
) -> Disclosure:
    """Store a new disclosure for ``actor``; earlier ones stay, superseded."""
    require(actor, "disclosure.record")
    if not isinstance(no_conflicts, bool):
        raise InvalidInput("no_conflicts must be true or false.", field="no_conflicts")
    if interests is None:
        interests = []
    if not isinstance(interests, list) or len(interests) > MAX_INTERESTS:
        raise InvalidInput(f"interests must be a list of at most {MAX_INTERESTS} entries.", field="interests")
    cleaned = [_interest(raw, i) for i, raw in enumerate(interests)]
    if no_conflicts and cleaned:
        raise InvalidInput(
            "You said you have no relevant relationships but listed some; choose one.", field="interests"
        )
    if not no_conflicts and not cleaned:
        raise InvalidInput(
            "List at least one interest, or declare that you have no relevant relationships.",
            field="interests",
        )
    disclosure = Disclosure(
        user_id=actor.id,
        created_at=utc_now(),
        no_conflicts=no_conflicts,
        interests=cleaned,
        statement=clean_text(statement, "statement", max_chars=2000, required=False, multiline=True),
    )
    session.add(disclosure)
    session.flush()
    record(
        session,
        actor,
        "disclosure.recorded",
        disclosure_id=disclosure.id,
        no_conflicts=no_conflicts,
        interests=len(cleaned),
    )
    return disclosure


def latest(session: Session, user: User) -> Disclosure | None:
    return session.scalar(
        select(Disclosure)
        .where(Disclosure.user_id == user.id)
        .order_by(Disclosure.created_at.desc(), Disclosure.id.desc())
        .limit(1)
    )


def is_current(disclosure: Disclosure | None, max_age_days: int, now: datetime | None = None) -> bool:
    if disclosure is None:
        return False
    return (now or utc_now()) - disclosure.created_at <= timedelta(days=max_age_days)


def current(session: Session, user: User, max_age_days: int) -> Disclosure | None:
    """The disclosure in force for ``user`` now, or None if they have none or it has expired."""
    disclosure = latest(session, user)
    return disclosure if is_current(disclosure, max_age_days) else None


def history(session: Session, user: User) -> list[Disclosure]:
    return list(
        session.scalars(
            select(Disclosure).where(Disclosure.user_id == user.id).order_by(Disclosure.created_at.desc())
        )
    )


def to_json(disclosure: Disclosure, max_age_days: int) -> dict[str, Any]:
    return {
        "id": disclosure.id,
        "created_at": disclosure.created_at.isoformat(),
        "expires_at": (disclosure.created_at + timedelta(days=max_age_days)).isoformat(),
        "current": is_current(disclosure, max_age_days),
        "no_conflicts": disclosure.no_conflicts,
        "interests": disclosure.interests,
        "statement": disclosure.statement,
        "summary": disclosure.summary(),
    }
