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


def after(query: Select[Any], columns: Sequence[Any], key: Key | None, *, descending: bool) -> Select[Any]:
    """``query`` ordered by ``columns`` (all one direction) from just after ``key`` (None: from the top).

    A row-value comparison, ``(a, b) < (x, y)``, which PostgreSQL answers from an index on ``(a, b)``
    (after any columns the query fixes by equality) and SQLite (3.15+) as well.
    """
    order = [c.desc() for c in columns] if descending else list(columns)
    query = query.order_by(*order)
    if key is None:
        return query
    row = tuple_(*columns)
    return query.where(row < tuple_(*key) if descending else row > tuple_(*key))


def page(rows: Sequence[Any], per_page: int, kind: str, key_of: Any) -> tuple[list[Any], str | None]:
    """The first ``per_page`` of ``rows`` (fetched with one more) and the cursor of the next page, if any."""
    shown = list(rows[:per_page])
    if len(rows) <= per_page or not shown:
        return shown, None
    return shown, encode(kind, key_of(shown[-1]))
