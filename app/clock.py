"""The one place that reads the clock, so tests can freeze or move it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

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


class LocalTimeError(ValueError):
    """A wall-clock time that names no instant in its zone (it falls in a DST gap)."""


@dataclass(frozen=True)
class LocalInstant:
    """A wall-clock time resolved to one UTC instant; ``ambiguous`` when the clock showed it twice."""

    utc: datetime
    local: datetime
    ambiguous: bool


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError (never a KeyError, never a path lookup) for anything else."""
    if not isinstance(name, str) or name not in available_zones():
        raise ValueError(f"{name!r} is not a time zone name such as Europe/London")
    return ZoneInfo(name)


@cache
def available_zones() -> frozenset[str]:
    """Every zone name the installed tz database knows (read once)."""
    return frozenset(available_timezones())


def to_local(instant: datetime, where: ZoneInfo) -> datetime:
    """An aware instant as the wall clock in ``where`` shows it."""
    if instant.tzinfo is None:
        raise ValueError("to_local() needs an aware datetime")
    return instant.astimezone(where)


def from_local(wall: datetime, where: ZoneInfo) -> LocalInstant:
    """The instant a naive wall-clock time in ``where`` names.

    A time skipped when the clocks go forward names no instant: LocalTimeError. A time the clocks show
    twice when they go back is ambiguous: the earlier of the two instants is taken (``fold=0``), and
    ``ambiguous`` says so, for the caller to tell the person.
    """
    if wall.tzinfo is not None:
        raise ValueError("from_local() needs a naive wall-clock time")
    first = wall.replace(tzinfo=where, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(where).replace(tzinfo=None) != wall:
        raise LocalTimeError(
            f"{wall:%Y-%m-%d %H:%M} does not exist in {where.key}: the clocks skip it when they go forward."
        )
    second = wall.replace(tzinfo=where, fold=1)
    return LocalInstant(utc=utc, local=first, ambiguous=first.utcoffset() != second.utcoffset())
