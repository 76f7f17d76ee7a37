"""Every failure becomes a clear answer: JSON under /api/, an HTML page elsewhere. Never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.errors import CandorError, Moved

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

PLAIN: dict[int, str] = {
    400: "The request could not be understood.",
    401: "Please sign in to do this.",
    403: "You are not allowed to do this.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    409: "That conflicts with a newer change.",
    413: "That is too large to accept.",
    415: "Send JSON with Content-Type: application/json.",
    422: "That input could not be accepted.",
    429: "Too many requests; please wait a moment and try again.",
    500: "Something went wrong on our side. Nothing you sent was lost; please try again.",
}

SHARED_READER_LIMIT = "Comments and contact messages sent from one connection count together."
"""Said under the comment and contact forms' 429 (one budget for both, app/web/reader_forms.py): a reader
who has just commented is refused on their first message, and "Too many attempts" alone read as a miscount."""


def wants_json() -> bool:
    # /staff/writing/: the editor page's own JSON helpers (app/drafts/views.py)
    return request.path.startswith(("/api/", "/staff/writing/"))


def _staff_upload_json() -> bool:
    """The editor's paste-and-drop upload asks for JSON and is told ``{error, message}`` (its contract)."""
    return request.path == "/staff/media" and request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    if _staff_upload_json():
        response = jsonify({"error": code, "message": message})
    elif wants_json():
        body: dict[str, Any] = {"code": code, "message": message}
        body.update(details or {})
        response = jsonify({"error": body})
    else:
        response = Response(render_template("errors/error.html", status=status, message=message, code=code))
    response.status_code = status
    return response


def answer_failures_with(render: Callable[[int, str], Any]) -> Callable[[F], F]:
    """Answer the decorated view's 409 (a lost race, a locked database) and 503 (no database) with
    ``render(status, message)`` instead of the plain error page: a form that gives back what was written.

    Declared on the view (put it directly under the route decorator), not set inside it: the database
    may fail before the view runs (loading the signed-in user). ``render`` must not need the request's
    session (it has been rolled back); it may read in one of its own (``failure_reading``), and must answer
    without that read if it fails. If it needs the database after all and that fails, the plain page
    answers. The form page carries ``Retry-After`` (FAILURE_RETRY_SECONDS) unless ``render`` set its own.
    """

    def wrap(view: F) -> F:
        view.candor_failure_page = render  # type: ignore[attr-defined]
        return view

    return wrap


FAILURE_RETRY_SECONDS = {409: 5, 503: 60}
"""When a form refused for a locked database (409: another writer held it a moment) or an unanswering one
(503) asks to be sent again: said on the page and in ``Retry-After``."""

FAILURE_READ_MS = 500
"""How long a failure page may wait for the one read it tries (``failure_reading``), on PostgreSQL."""


def wait_words(seconds: int) -> str:
    """ "5 seconds", "1 minute", "2 minutes": how long to wait, as a form's refusal says it."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@contextmanager
def failure_reading() -> Iterator[Session]:
    """A session of its own for a failure page that would show more than the request holds (the comment
    a reply answers): the request's session was rolled back, and on SQLite taking it again would wait for
    the write lock that failed. Reading takes no lock on either database (WAL; MVCC), so a locked database
    usually still answers; a table locked whole, or a database that is down, does not, and then the read
    fails within FAILURE_READ_MS on PostgreSQL (a DBAPIError the caller answers without it).
    """
    from app.web.database import session_factory

    session: Session = session_factory()()
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL statement_timeout = {int(FAILURE_READ_MS)}"))
        yield session
    finally:
        session.rollback()
        session.close()


def failure_response(status: int, code: str, message: str) -> Response:
    """The answer to a 409 or 503 of this request: its form page if it set one, else the plain page."""
    view = current_app.view_functions.get(request.endpoint or "")
    render = getattr(view, "candor_failure_page", None)
    if render is not None and status in (409, 503) and not wants_json():
        try:
            response = make_response(render(status, message))
        except DBAPIError:
            log.warning(
                "the form page of %s %s needed the database; the plain page answers",
                request.method,
                request.path,
            )
        else:
            response.status_code = status
            response.headers.setdefault("Retry-After", str(FAILURE_RETRY_SECONDS[status]))
            g.candor_retry_after = response.headers["Retry-After"]  # kept over the rate limit's (extensions)
            return response
    return error_response(status, code, message)


def http_error_response(exc: HTTPException) -> Response:
    """The answer to an HTTP error (404, 405, 429...): its plain message, a 429's retry time."""
    status = exc.code or 500
    code = (exc.name or "error").lower().replace(" ", "_")
    message = PLAIN.get(status, exc.description or exc.name)
    if status == 429:
        from app.web.extensions import retry_message

        message = retry_message()
    response = error_response(status, code, message)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(Moved)
    def _moved(exc: Moved) -> Response:
        """Same route, same arguments, the new slug: 301 for reads, 308 (method and body kept) for writes."""
        if request.endpoint is None or "slug" not in (request.view_args or {}):
            return error_response(404, "not_found", PLAIN[404])
        target = url_for(
            request.endpoint, **{**(request.view_args or {}), "slug": exc.slug}, **request.args.to_dict()
        )
        return redirect(target, 301 if request.method in ("GET", "HEAD") else 308)

    @app.errorhandler(CandorError)
    def _domain(exc: CandorError) -> Response:
        if exc.status in (409, 503) and not exc.details:
            response = failure_response(exc.status, exc.code, exc.message)
        else:
            response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(
            400, "csrf", "The form expired or came from elsewhere. Reload the page and try again."
        )

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
        return error_response(413, "too_large", f"The request is too large; the limit is {limit:,} bytes.")

    app.errorhandler(HTTPException)(http_error_response)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", PLAIN[500])
