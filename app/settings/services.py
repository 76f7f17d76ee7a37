"""Read and change the run-time settings. Services take a Session and an actor, flush, never commit.

``overrides`` gives the stored values keyed by their config name (``SITE_NAME`` ...), which the web edge
lays over the environment's; ``version`` is one indexed read (the newest change's id), on which the edge
caches them, so every worker sees a change on its next request without a restart.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.audit import services as audit
from app.clock import utc_now
from app.errors import InvalidInput
from app.settings.models import Setting, SettingChange
from app.text import clean_text

MAX_ITEMS = 500


def _name(value: Any, field: str) -> str:
    return clean_text(value, field, max_chars=100)


def _lines(value: Any, field: str) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"{field} must be a list, one entry a line.", field=field)
    items: dict[str, None] = {}
    for item in value:
        text = clean_text(item, field, max_chars=100, required=False)
        if text:
            items[text] = None
        if len(items) > MAX_ITEMS:
            raise InvalidInput(f"{field}: at most {MAX_ITEMS} entries.", field=field)
    return list(items)


def _terms(value: Any, field: str) -> list[str]:
    terms = _lines(value, field)
    short = [t for t in terms if len(t) < 3]
    if short:
        raise InvalidInput(
            f"{field}: {short[0]!r} is too short to scan for (three characters at least).", field=field
        )
    return terms


_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(/[!-~]*)?", re.ASCII)


def _hosts(value: Any, field: str) -> list[str]:
    hosts = [h.lower() for h in _lines(value, field)]
    bad = [h for h in hosts if not _HOST.fullmatch(h)]
    if bad:
        raise InvalidInput(
            f"{field}: {bad[0]!r} is not a host name such as bit.ly or a host and path such as "
            "google.com/url (no scheme, no spaces).",
            field=field,
        )
    return list(dict.fromkeys(hosts))


def _whole(lower: int, upper: int) -> Callable[[Any, str], int]:
    def parse(value: Any, field: str) -> int:
        if isinstance(value, str) and re.fullmatch(r"\s*\d{1,9}\s*", value, re.ASCII):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not lower <= value <= upper:
            raise InvalidInput(f"{field} must be a whole number from {lower} to {upper}.", field=field)
        return value

    return parse


def _choice(*choices: str) -> Callable[[Any, str], str]:
    def parse(value: Any, field: str) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise InvalidInput(f"{field} must be one of: {', '.join(choices)}.", field=field)
        return value.strip().lower()

    return parse


_RATE_PART = re.compile(
    r"\s*\d{1,7}\s*(/|per)\s*(\d{1,4}\s*)?(second|minute|hour|day|month|year)s?\s*", re.ASCII | re.IGNORECASE
)


def _rate(value: Any, field: str) -> str:
    from limits import parse

    text = clean_text(value, field, max_chars=200)
    message = f"{field} must be a rate limit such as '10 per minute; 100 per day' (at most five parts)."
    # Checked part by part with a linear pattern first: limits' own pattern for a whole list backtracks
    # for minutes on some inputs (a trailing ";" after many parts).
    parts = re.split(r"[;,]", text)
    if len(parts) > 5 or not all(_RATE_PART.fullmatch(part) for part in parts):
        raise InvalidInput(message, field=field)
    try:
        amounts = [parse(part.strip()).amount for part in parts]
    except ValueError:
        raise InvalidInput(message, field=field) from None
    if not all(1 <= amount <= 1_000_000 for amount in amounts):
        raise InvalidInput(message, field=field)
    return text


@dataclass(frozen=True)
class Spec:
    key: str  # the form field and the stored key
    config: str  # the Flask config name whose environment value is the default
    label: str
    kind: str  # "text", "lines" or "number": how the page shows it
    help: str
    parse: Callable[[Any, str], Any]


SPECS: tuple[Spec, ...] = (
    Spec("site_name", "SITE_NAME", "Site name", "text", "The blog's name in page titles and feeds.", _name),
    Spec(
        "organisation", "ORGANISATION", "Organisation", "text", "The organisation the staff work for.", _name
    ),
    Spec(
        "privacy_terms",
        "PRIVACY_TERMS",
        "Privacy terms",
        "lines",
        "Extra terms the privacy scan flags in posts and comments (patient, ward and room names), "
        "one a line.",
        _terms,
    ),
    Spec(
        "privacy_allow",
        "PRIVACY_ALLOW",
        "Privacy allow-list",
        "lines",
        "Identifiers the privacy scan lets through, such as the clinic's own published numbers, one a line.",
        _lines,
    ),
    Spec(
        "blocked_link_hosts",
        "BLOCKED_LINK_HOSTS",
        "Blocked link hosts",
        "lines",
        "Extra URL shorteners or redirect wrappers to refuse, one a line, as host or host/path.",
        _hosts,
    ),
    Spec(
        "comment_rate_limit",
        "COMMENT_RATE_LIMIT",
        "Comment rate limit",
        "text",
        "Most comment and contact-form submissions accepted from one reader IP, "
        "e.g. 10 per minute; 100 per day.",
        _rate,
    ),
    Spec(
        "comment_burst",
        "COMMENT_BURST",
        "Comment burst",
        "number",
        "Comments from one reader IP within 10 minutes after which the next is held (1 to 1000).",
        _whole(1, 1000),
    ),
    Spec(
        "comment_max_links",
        "COMMENT_MAX_LINKS",
        "Links per comment",
        "number",
        "Links a comment may carry before it is held (0 to 100).",
        _whole(0, 100),
    ),
    Spec(
        "offtopic_threshold",
        "OFFTOPIC_THRESHOLD",
        "Off-topic threshold",
        "number",
        "Relevance in percent below which the off-topic filter holds a comment (1 to 99; default 52).",
        _whole(1, 99),
    ),
    Spec(
        "offtopic_mode",
        "OFFTOPIC_MODE",
        "Off-topic mode",
        "choice",
        "hold: a comment the off-topic filter scores below the threshold is held for a moderator; log: its "
        "verdict is only recorded in the comment's checks (to watch the filter before trusting it).",
        _choice("hold", "log"),
    ),
    Spec(
        "offtopic_small_blog",
        "OFFTOPIC_SMALL_BLOG",
        "Off-topic on a small blog",
        "choice",
        "flag: while the blog has fewer than 10 other published posts to compare a comment with, the "
        "off-topic filter's verdict is only recorded in the comment's checks, as in log mode (the comment is "
        "not held for it; moderators find it under Flagged off-topic); hold: it holds as on a larger blog.",
        _choice("flag", "hold"),
    ),
)
BY_KEY = {spec.key: spec for spec in SPECS}


def version_column() -> ScalarSelect[int]:
    """The settings' version as a column another query can carry (one round trip for both)."""
    return select(func.coalesce(func.max(SettingChange.id), 0)).scalar_subquery()


def version(connection: Session | Connection) -> int:
    """The settings' version: the newest change's id (0 before any). One read of the primary key index."""
    return connection.execute(_version_query()).scalar_one()


@functools.cache
def _version_query() -> Select[tuple[int]]:
    """Built once: read on every request (app.web.runtime), so its construction is not repeated."""
    return select(func.coalesce(func.max(SettingChange.id), 0))


def overrides(session: Session) -> dict[str, Any]:
    """The stored values, keyed by config name; settings without a row keep the environment's value."""
    rows = session.execute(select(Setting.key, Setting.value)).all()
    return {BY_KEY[key].config: value for key, value in rows if key in BY_KEY}


def current(session: Session, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting's value in force, keyed by ``Spec.key``: stored, else the environment's."""
    stored = overrides(session)
    return {spec.key: stored.get(spec.config, defaults.get(spec.config)) for spec in SPECS}


def change(
    session: Session, actor: User, raw: Mapping[str, Any], defaults: Mapping[str, Any]
) -> list[SettingChange]:
    """Validate every value in ``raw`` (keys of SPECS; others refused), then store those that differ.

    Each change locks its setting's row, appends a ``setting_changes`` row and an audit entry with the
    old and new value. Nothing is stored unless every value is valid.
    """
    require(actor, "settings.manage")
    unknown = sorted(set(raw) - set(BY_KEY))
    if unknown:
        raise InvalidInput(f"Unknown setting {unknown[0][:64]!r}.", field=unknown[0][:64])
    values = {}
    for key, value in raw.items():
        try:
            values[key] = BY_KEY[key].parse(value, BY_KEY[key].label)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=key) from None
    changes = []
    for key, value in values.items():
        row = session.scalars(select(Setting).where(Setting.key == key).with_for_update()).first()
        spec = BY_KEY[key]
        old = row.value if row is not None else None
        in_force = old if row is not None else defaults.get(spec.config)
        if _same(in_force, value):
            continue
        if row is None:
            row = Setting(key=key, value=value, updated_at=utc_now(), updated_by_id=actor.id)
            session.add(row)
        else:
            row.value = value
            row.updated_at = utc_now()
            row.updated_by_id = actor.id
        entry = SettingChange(key=key, old_value=old, new_value=value, actor_id=actor.id, at=utc_now())
        session.add(entry)
        session.flush()
        audit.record(session, actor, "settings.change", key=key, old=in_force, new=value)
        changes.append(entry)
    return changes


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b


def history(session: Session, *, limit: int = 50) -> list[SettingChange]:
    """The newest changes first."""
    return list(session.scalars(select(SettingChange).order_by(SettingChange.id.desc()).limit(limit)))
