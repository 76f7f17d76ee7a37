"""The one place that reads the clock, so tests can freeze or move it."""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def utc_now() -> datetime:
    """Aware UTC now (or the frozen instant under test)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(instant: datetime | None) -> None:
    """Pin utc_now() to ``instant``; None releases it. For tests and the demo seed."""
    global _frozen
    if instant is not None and instant.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = instant
