"""Signed links and form tokens, each bound to one purpose and each expiring.

isso signs only a comment's id and its links never expire; here the purpose is the itsdangerous salt,
so a token minted to show a writer their comment's status cannot unsubscribe anyone, and every token
carries its issue time (from app.clock, so tests can move time) and is refused once too old.
No Flask here.
"""

from __future__ import annotations

import enum
import functools
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from app.clock import utc_now


class Purpose(enum.StrEnum):
    """What a token may be used for; the value is the signing salt."""

    FORM_TIME = "candor.comments.form-time"  # when the comment or contact form was shown
    COMMENT_STATUS = "candor.comments.status"  # lets a writer see (and replace) their held comment
    UNSUBSCRIBE = "candor.mail.unsubscribe-staff-replies"  # stops "staff replied" e-mails
    CONFIRM_SUBSCRIPTION = "candor.mail.confirm-staff-replies"  # the double opt-in for them


MAX_AGE: dict[Purpose, timedelta] = {
    Purpose.FORM_TIME: timedelta(days=1),
    Purpose.COMMENT_STATUS: timedelta(days=30),
    Purpose.UNSUBSCRIBE: timedelta(days=90),
    Purpose.CONFIRM_SUBSCRIPTION: timedelta(days=7),
}


class TokenInvalid(Exception):
    """Not a token of this purpose (forged, truncated, or minted for something else)."""


class TokenExpired(TokenInvalid):
    """A genuine token of this purpose, but older than its purpose allows."""


@functools.lru_cache(maxsize=32)
def _serializer(secret: str, purpose: Purpose) -> URLSafeSerializer:
    """One serializer per secret and purpose (building one derives its key: every comment POST signs)."""
    return URLSafeSerializer(secret, salt=purpose.value)


def sign(secret: str, purpose: Purpose, **data: Any) -> str:
    return _serializer(secret, purpose).dumps({**data, "iat": utc_now().timestamp()})


def verify(secret: str, purpose: Purpose, token: str, *, max_age: timedelta | None = None) -> dict[str, Any]:
    """The token's data (with ``age``, a timedelta), or TokenInvalid / TokenExpired."""
    if not isinstance(token, str) or not token or len(token) > 2000:
        raise TokenInvalid("missing or oversized token")
    try:
        data = _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise TokenInvalid("bad signature") from None
    if not isinstance(data, dict) or not isinstance(data.get("iat"), int | float):
        raise TokenInvalid("malformed token")
    age = timedelta(seconds=utc_now().timestamp() - float(data["iat"]))
    if age > (max_age or MAX_AGE[purpose]):
        raise TokenExpired("expired")
    return {**data, "age": age}
