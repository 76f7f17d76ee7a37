"""Text checks shared by every edge (forms, JSON, CLI): what the databases can store and readers can trust.

A lone surrogate crashes an SQLite insert and PostgreSQL refuses NUL bytes, so both are refused here,
with a message, before anything reaches a service. Single-line fields (titles, names) also refuse
control characters and bidirectional overrides, which can make a name read as something it is not.
"""

from __future__ import annotations

import re
import unicodedata

from app.errors import InvalidInput

_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_BODY_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_lone_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(
    value: object, field: str, *, max_chars: int, required: bool = True, multiline: bool = False
) -> str:
    """Return ``value`` as safe, NFC-normalised text, or raise InvalidInput naming ``field``."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.", field=field)
    if has_lone_surrogate(value):
        raise InvalidInput(f"{field} contains invalid Unicode (a lone surrogate).", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL character.", field=field)
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if _BODY_CONTROLS.search(value):
            raise InvalidInput(f"{field} contains control characters.", field=field)
    else:
        value = value.strip()
        if _LINE_CONTROLS.search(value):
            raise InvalidInput(f"{field} must be a single line without control characters.", field=field)
        if _BIDI_CONTROLS.search(value):
            raise InvalidInput(f"{field} contains bidirectional control characters.", field=field)
    value = unicodedata.normalize("NFC", value)
    if required and not value.strip():
        raise InvalidInput(f"{field} is required.", field=field)
    if len(value) > max_chars:
        raise InvalidInput(
            f"{field} is too long: {len(value):,} characters, the limit is {max_chars:,}.", field=field
        )
    return value


def clean_url_list(value: object, field: str, *, max_items: int = 50, max_chars: int = 2000) -> list[str]:
    """A list of absolute http(s) URLs, in order, without duplicates."""
    from urllib.parse import urlsplit

    if value is None:
        return []
    if isinstance(value, str):
        value = [line for line in value.splitlines()]
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be a list of URLs.", field=field)
    urls: dict[str, None] = {}  # ordered, and O(1) to test: a 1 MB list must not take O(n²)
    for item in value:
        url = clean_text(item, field, max_chars=max_chars, required=False)
        if not url:
            continue
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. a malformed IPv6 host, "http://[::1::]/"
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
            raise InvalidInput(f"{field}: {url!r} is not an http(s) link.", field=field)
        urls[url] = None
        if len(urls) > max_items:
            raise InvalidInput(f"{field}: at most {max_items} links.", field=field)
    return list(urls)


def whole_number(raw: str | None, *, upper: int) -> int | None:
    """``raw`` as a whole number from 1 to ``upper``, or None.

    ``str.isdigit`` alone is a trap: it accepts "²" and "٣", which ``int`` refuses or reads as digits
    nobody typed, and ``int`` refuses strings over 4,300 digits. Both used to answer 500.
    """
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(upper)) + 2:
        return None
    value = int(raw)
    return value if 1 <= value <= upper else None
