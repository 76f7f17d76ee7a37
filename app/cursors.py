"""Keyset pagination: opaque ``?after=`` cursors and the one way a list query continues after one.

Why not ``?page=N``: OFFSET makes the database read and throw away every row before the page, so page
1,000 costs a thousand pages. A cursor names the last row shown by its sort key (say its timestamp and
id); the next page is "rows after that key", which an index on those columns answers by seeking, at the
same cost on any page.

A cursor is the list's name and the key's values as JSON, in URL-safe base64 without padding. It is not
signed: a forged one only names another position in a list the caller may read anyway. It is checked all
the same, before any query: its length, its encoding, the list it belongs to (a cursor of the moderation
queue is refused by the home page) and the type of every value. A bad one is ``BadCursor``, a 400 with a
message, never a 500. No Flask here.

Going back: ``?before=`` takes the same kind of cursor, naming the first row shown; the previous page is
"rows before that key", read with the order turned round (the same index, seeked from the other end) and
put back in the list's order. A previous page costs what a next page costs.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, tuple_

from app.errors import InvalidInput
from app.text import has_lone_surrogate

MAX_CURSOR_CHARS = 1100
"""Longer is not a cursor we made (most are under 100 characters; one keyed on a 200-character name, at
most four bytes a character, stays under this): refused before decoding."""

_MAX_INT = 2**63 - 1

Key = tuple[Any, ...]
"""A row's sort key: datetimes (aware UTC), ints, finite floats (a search rank, exactly as the database
returned it: JSON carries a float's shortest exact form) and short strings, in the list's order."""


class BadCursor(InvalidInput):
    """An ``after`` that is not a cursor of this list: the request cannot be understood (400)."""

    code = "invalid_cursor"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, field="after")


def encode(kind: str, key: Key) -> str:
    """The cursor that continues list ``kind`` after the row whose sort key is ``key``."""
    values = [v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps([kind, *values], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position(
    after: str | None, before: str | None, kind: str, shape: Sequence[type]
) -> tuple[Key | None, bool]:
    """The key of ``?after=`` or ``?before=`` (at most one of them) and whether it is ``before``."""
    if after and before:
        raise BadCursor("after and before together name no page; follow one link of a page.")
    if before:
        return decode(before, kind, shape), True
    return decode(after, kind, shape), False


def decode(token: str | None, kind: str, shape: Sequence[type]) -> Key | None:
    """The key ``token`` names in list ``kind`` whose key has the types ``shape``; None for no cursor.

    Raises BadCursor for anything else: too long, not base64, not JSON, another list's, a wrong count
    or type of values, an int out of range, a time without a zone.
    """
    if token is None or token == "":
        return None
    if len(token) > MAX_CURSOR_CHARS:
        raise BadCursor("after is not a cursor of this list (too long).")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeError):
        raise BadCursor("after is not a cursor of this list; use the next link of a page.") from None
    if not isinstance(data, list) or len(data) != len(shape) + 1 or data[0] != kind:
        raise BadCursor("after is a cursor of another list, or of none; use the next link of this page.")
    return tuple(_value(v, t) for v, t in zip(data[1:], shape, strict=True))


def _value(value: Any, kind: type) -> Any:
    if kind is datetime:
        if isinstance(value, str) and len(value) <= 40:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                try:
                    return moment.astimezone(UTC)
                except OverflowError:  # year 1 at +14:00, year 9999 at -23:59: no UTC time
                    pass
        raise BadCursor("after holds a time that is not one (or has no time zone).")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool) and -_MAX_INT <= value <= _MAX_INT:
            return value
        raise BadCursor("after holds a number that is not a whole number in range.")
    if kind is float:
        # JSON's NaN and Infinity (and 1e999, which reads as infinity) name no row; a huge whole number
        # cannot be a float at all.
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
        raise BadCursor("after holds a number that is not a finite number.")
    if kind is str:
        if isinstance(value, str) and len(value) <= 200 and "\x00" not in value:
            # JSON's "\ud800" decodes to a lone surrogate: no database driver can send it (a 500).
            if not has_lone_surrogate(value):
                return value
        raise BadCursor("after holds text that is not a short string.")
    raise TypeError(f"no cursor values of type {kind!r}")


def after(
    query: Select[Any], columns: Sequence[Any], key: Key | None, *, descending: bool, backward: bool = False
) -> Select[Any]:
    """``query`` ordered by ``columns`` (all one direction) from just after ``key`` (None: from the top).

    A row-value comparison, ``(a, b) < (x, y)``, which PostgreSQL answers from an index on ``(a, b)``
    (after any columns the query fixes by equality) and SQLite (3.15+) as well. ``backward``: the rows
    just before ``key`` instead, nearest first (the list's order turned round; ``page`` turns it back).
    """
    if backward and key is not None:
        descending = not descending
    order = [c.desc() for c in columns] if descending else list(columns)
    query = query.order_by(*order)
    if key is None:
        return query
    row = tuple_(*columns)
    return query.where(row < tuple_(*key) if descending else row > tuple_(*key))


class Page(tuple[list[Any], str | None]):
    """``(rows, next cursor)``, as every list has returned, and ``previous``: the ``?before=`` cursor of
    the page before this one (None on the first page)."""

    previous: str | None

    def __new__(cls, rows: list[Any], following: str | None, previous: str | None = None) -> Page:
        made = super().__new__(cls, (rows, following))
        made.previous = previous
        return made

    @property
    def rows(self) -> list[Any]:
        return self[0]

    @property
    def next(self) -> str | None:
        return self[1]


def page(
    rows: Sequence[Any],
    per_page: int,
    kind: str,
    key_of: Any,
    *,
    key: Key | None = None,
    backward: bool = False,
) -> Page:
    """The first ``per_page`` of ``rows`` (fetched with one more), the cursor of the next page, if any,
    and (given the ``key`` the page was read from) the cursor of the previous one.

    Read ``backward`` (``?before=``), the rows come nearest first: they are put back in the list's order;
    there is a page before only if one more row was found, and always one after (the page we came from).
    """
    shown = list(rows[:per_page])
    more = len(rows) > per_page
    if backward and key is not None:
        shown.reverse()
        if not shown:
            return Page(shown, None, None)
        return Page(shown, encode(kind, key_of(shown[-1])), encode(kind, key_of(shown[0])) if more else None)
    previous = encode(kind, key_of(shown[0])) if key is not None and shown else None
    if not more or not shown:
        return Page(shown, None, previous)
    return Page(shown, encode(kind, key_of(shown[-1])), previous)
