"""Times as people read them: local, with the zone's abbreviation, while ``<time datetime>`` stays UTC.

Readers see the organisation's zone (``CANDOR_TIMEZONE``); signed-in staff see their own (``users.timezone``),
or the organisation's when they have not chosen one. A page that depends on who is asking is never
cached for others: the page cache stores only requests without a session cookie, which have no user,
so a cached page always shows the organisation's zone. Feeds and the JSON API stay UTC ISO 8601.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context
from markupsafe import Markup, escape

from app.clock import to_local, zone
from config import ConfigError

STYLES = {
    "datetime": "%-d %b %Y, %H:%M",
    "long": "%-d %B %Y, %H:%M",
    "date": "%-d %B %Y",
    "short_date": "%-d %b %Y",
}


def init_app(app: Flask) -> None:
    try:
        zone(app.config["TIMEZONE"])
    except (KeyError, ValueError):
        raise ConfigError(
            f"CANDOR_TIMEZONE must be an IANA time zone name, not {app.config.get('TIMEZONE')!r}"
        ) from None
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["local_input"] = local_input
    app.context_processor(lambda: {"viewer_zone": viewer_zone()})


def organisation_zone() -> ZoneInfo:
    return zone(current_app.config["TIMEZONE"])


def viewer_zone() -> ZoneInfo:
    """The signed-in staff member's own zone, else the organisation's."""
    from app.web.auth import current_user

    user = current_user() if has_request_context() else None
    if user is not None and user.timezone:
        try:
            return zone(user.timezone)
        except ValueError:
            pass  # a zone the tz database no longer knows: fall back rather than fail the page
    return organisation_zone()


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def local_text(instant: datetime, style: str = "datetime", where: ZoneInfo | None = None) -> str:
    """``instant`` on the viewer's wall clock, as text: "3 Dec 2026, 14:05 GMT" (dates carry no zone)."""
    local = to_local(_aware(instant), where or viewer_zone())
    text = local.strftime(STYLES[style])
    return text if style in ("date", "short_date") else f"{text} {local.tzname()}"


def localtime(instant: datetime | None, style: str = "datetime") -> Markup:
    """A ``<time>`` element: the machine-readable UTC instant, and the local wall-clock time to read."""
    if instant is None:
        return Markup("")
    utc = _aware(instant).astimezone(UTC).isoformat(timespec="seconds")
    return Markup('<time datetime="{}">{}</time>').format(utc, escape(local_text(instant, style)))


def local_input(instant: datetime | None) -> str:
    """The value of a ``datetime-local`` input for ``instant``, on the viewer's wall clock."""
    if instant is None:
        return ""
    return to_local(_aware(instant), viewer_zone()).strftime("%Y-%m-%dT%H:%M")
