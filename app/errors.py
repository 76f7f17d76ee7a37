"""Domain exceptions. No Flask here: the web edge maps them to HTTP answers."""

from __future__ import annotations

from typing import Any


class CandorError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        """Headers the answer carries, whatever renders it (the JSON error, or a form shown again)."""
        return {}


class Moved(CandorError):
    """The thing lives at another address now (a post retitled after publication): answer a redirect."""

    code = "moved"
    status = 301

    def __init__(self, slug: str) -> None:
        super().__init__("This post has a new address.", slug=slug)
        self.slug = slug


class InvalidInput(CandorError):
    """The request itself is malformed: a missing field, a wrong type, bad text."""

    code = "invalid_input"
    status = 422


class NotFound(CandorError):
    code = "not_found"
    status = 404


class NotAuthenticated(CandorError):
    code = "not_authenticated"
    status = 401


class NotAllowed(CandorError):
    """The move exists, but this actor may not make it."""

    code = "forbidden"
    status = 403


class CommentsClosed(CandorError):
    """The post takes no new comments (an editor closed them, or they closed by age)."""

    code = "comments_closed"
    status = 409


class InvalidTransition(CandorError):
    """The move does not exist from the current state."""

    code = "invalid_transition"
    status = 409


class StaleRevision(CandorError):
    """An edit was based on a revision that is no longer current."""

    code = "stale_revision"
    status = 409


class Conflict(CandorError):
    code = "conflict"
    status = 409


class Busy(CandorError):
    """More work is waiting than can be done in time: try again after ``retry_after`` seconds (sent as
    ``Retry-After``). Nothing was stored."""

    code = "busy"
    status = 503

    def __init__(self, message: str, retry_after: int, **details: object) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooLarge(CandorError):
    """An upload over a size or pixel limit."""

    code = "too_large"
    status = 413


class RenderError(CandorError):
    """Markdown that cannot be rendered safely within our limits."""

    code = "unrenderable"
    status = 422


class PublishBlocked(CandorError):
    """One or more publishing gates fail; ``gates`` lists every one."""

    code = "publish_blocked"
    status = 422

    def __init__(self, gates: list[dict[str, str]]) -> None:
        super().__init__("This post cannot be submitted until every gate passes.", gates=gates)
        self.gates = gates
