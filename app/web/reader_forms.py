"""What the two forms anonymous readers post (a comment, a contact message) share at the edge: the
signed "form shown at" token, and one rate limit for both.

The token measures time-to-submit, a spam signal (app.spam.pipeline, app.contact.services). A cached
post page cannot carry it, so static/comments.js fetches one from ``GET /api/v1/comment-form-token``;
without it the time is unknown, which is no evidence of spam.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.comments import tokens
from app.web.extensions import limiter


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


# One budget per reader IP for comments and contact messages together (CANDOR_COMMENT_RATE_LIMIT).
reader_limit = limiter.shared_limit(
    _rate_limit, scope="reader-posts", methods=["POST"], exempt_when=_refused_uncounted
)
