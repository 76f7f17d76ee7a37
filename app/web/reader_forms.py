"""What the two forms anonymous readers post (a comment, a contact message) share at the edge: the
signed "form shown at" token, and one rate limit for both.

The token measures time-to-submit, a spam signal (app.spam.pipeline, app.contact.services). A cached
post page cannot carry it, so static/comments.js fetches one from ``GET /api/v1/comment-form-token``;
without it the time is unknown, which is no evidence of spam.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app

from app.comments import tokens
from app.web.extensions import limiter, network_key

F = TypeVar("F", bound=Callable[..., Any])


def form_token() -> str:
    return tokens.sign(current_app.config["SECRET_KEY"], tokens.Purpose.FORM_TIME, f="form")


def form_age(token: str | None) -> timedelta | None:
    """How long ago the form was shown, from its signed time token; None when unknown or not genuine."""
    if not token:
        return None
    try:
        return tokens.verify(current_app.config["SECRET_KEY"], tokens.Purpose.FORM_TIME, token)["age"]
    except tokens.TokenInvalid:
        return None


def _rate_limit() -> str:
    """CANDOR_COMMENT_RATE_LIMIT as this process last read the settings (``runtime.provisional``): the
    limit is asked before the view's first statement, which reads the settings' version itself."""
    from app.web.runtime import provisional

    return provisional()["COMMENT_RATE_LIMIT"]


REFUSED_UNCOUNTED = "candor.reader_post_refused"  # app.extensions: () -> bool, set by a domain's views


def _refused_uncounted() -> bool:
    """A post the app will refuse whatever the writer's count (the comment backlog is full: 503 busy)
    is not counted: a reader told to send again in a few seconds who does so must not use up their
    budget and be refused 429 once the backlog has cleared. The view then refuses exactly the posts
    this said it would (app.comments.views.admit_reader_comment), so nothing passes uncounted."""
    refused = current_app.extensions.get(REFUSED_UNCOUNTED)
    return bool(refused is not None and refused())


def _network_rate_limit() -> str:
    return str(current_app.config["COMMENT_NETWORK_RATE_LIMIT"])


def _not_counted_by_network() -> bool:
    """An IPv4 reader has no /48 (``network_key`` is empty): no second count, and no round trip for it."""
    return not network_key() or _refused_uncounted()


# One budget per reader IP for comments and contact messages together (CANDOR_COMMENT_RATE_LIMIT).
_per_reader = limiter.shared_limit(
    _rate_limit, scope="reader-posts", methods=["POST"], exempt_when=_refused_uncounted
)
# And a looser one per IPv6 /48 (CANDOR_COMMENT_NETWORK_RATE_LIMIT): one network could otherwise take a
# fresh /64, a fresh reader's budget, for every post.
_per_network = limiter.shared_limit(
    _network_rate_limit,
    scope="reader-networks",
    key_func=network_key,
    methods=["POST"],
    exempt_when=_not_counted_by_network,
)


def reader_limit(view: F) -> F:
    """The readers' limits on a view that takes their posts (a comment, a contact message)."""
    return _per_reader(_per_network(view))
