"""One SQLAlchemy session per request, committed once at the edge and rolled back on error.

Views call services and return; they never commit. After the view, ``_commit_at_edge`` commits when
the answer to a POST, PUT, PATCH or DELETE is a success (2xx/3xx) and rolls back otherwise (a GET
never writes, save a view marked ``writes_on_get``: the single sign-on callback), then runs the work the
request registered with ``app.db.on_commit`` (mail, Akismet feedback, cache purges): the shape of
Indico's ``RH.process``.
A conflict that only the database can see (a unique index two racing requests both passed) answers
409, never 500, and nothing of the request is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, Response, current_app, g, request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app import db as database
from app.db import make_engine, make_session_factory

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# PostgreSQL's serialization failure and deadlock: the other transaction won; ours may simply be retried.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
CONFLICT_MESSAGE = "Someone else changed this at the same moment. Reload to see their change, then try again."


def engine_options(config: Any) -> dict[str, Any]:
    """How the app connects to PostgreSQL (nothing for SQLite).

    No pre-ping: it would cost a round trip on every checkout, a cached page's whole budget. A
    connection the server closed fails its first statement instead; SQLAlchemy then sees a disconnect
    and discards the whole pool, so one request answers 503 (the page cache's fast path just hands that
    request to Flask, which gets a fresh connection) and the next ones are served.
    ``CANDOR_STATEMENT_TIMEOUT_MS`` is sent as a startup option (direct connections; PgBouncer refuses
    startup options, so behind it set ``ALTER ROLE ... SET statement_timeout`` instead), and
    ``CANDOR_PGBOUNCER`` turns psycopg's prepared statements off, which transaction pooling cannot keep.
    ``CANDOR_DB_POOL_SIZE`` (16) connections are kept for reuse: at least one per thread (gunicorn's
    ``--threads``, the worker's ``--workers``), since a connection opened beyond the pool is closed when
    returned, and opening one costs PostgreSQL a process (a flood of comments opened 138 in 18 s with
    SQLAlchemy's default of 5 against 8 threads, 5 with 16). A process never holds more connections than
    it ran requests at once, so the pool's size opens nothing by itself.
    """
    if not config["DATABASE_URL"].startswith("postgresql"):
        return {}
    connect_args: dict[str, Any] = {}
    if config.get("PGBOUNCER"):
        connect_args["prepare_threshold"] = None
    elif config.get("STATEMENT_TIMEOUT_MS"):
        connect_args["options"] = f"-c statement_timeout={int(config['STATEMENT_TIMEOUT_MS'])}"
    return {"pool_pre_ping": False, "pool_size": config["DB_POOL_SIZE"], "connect_args": connect_args}


PRIMARY_COOKIE = "candor_primary"
"""Set on the answer to any committed write, for ``REPLICA_STICKY_SECONDS``: that browser's next reads go
to the primary, so a reader who just commented sees their comment, whatever the replica's lag."""
REPLICA_DOWN_UNTIL = "candor.replica_down_until"
"""In ``app.extensions``: the monotonic time until which this worker leaves a failed replica alone."""


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], explicit_begin=True, **engine_options(app.config))
    app.extensions["candor.engine"] = engine
    app.extensions["candor.sessions"] = make_session_factory(engine)
    replica_url = app.config.get("DATABASE_REPLICA_URL")
    if replica_url:
        options = engine_options({**app.config, "DATABASE_URL": replica_url})
        replica = make_engine(replica_url, **options)
        app.extensions["candor.replica_engine"] = replica
        app.extensions["candor.replica_sessions"] = make_session_factory(replica)
    app.after_request(_commit_at_edge)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(DBAPIError, _database_error)


def engine() -> Engine:
    return current_app.extensions["candor.engine"]


def session_factory() -> sessionmaker:
    return current_app.extensions["candor.sessions"]


def writes_on_get(view: F) -> F:
    """Mark a view whose GET must write and be committed: an OpenID Connect callback, which the provider
    reaches by redirecting the browser (a GET) and which links an identity and signs in. Put it directly
    under the route decorator. Like a POST, it takes the write lock first and commits a 2xx/3xx answer."""
    view.writes_on_get = True  # type: ignore[attr-defined]
    return view


def _writes() -> bool:
    if request.method not in READ_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return request.method == "GET" and bool(getattr(view, "writes_on_get", False))


def replica_engine(app: Flask, environ: dict[str, Any]) -> Engine | None:
    """The replica's engine if this request may read from it, else None (read the primary).

    Only an anonymous reader's GET or HEAD: no session cookie (staff, and anyone mid-form, have one)
    and no ``PRIMARY_COOKIE`` (this browser wrote a moment ago and must read what it wrote). Taking
    the WSGI environ, so that the page cache's fast path, which runs before Flask, routes alike.
    """
    replica = app.extensions.get("candor.replica_engine")
    if replica is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    if app.extensions.get(REPLICA_DOWN_UNTIL, 0.0) > time.monotonic():
        return None  # it failed a moment ago (``_replica_failed``): the primary, until the pause ends
    cookies = environ.get("HTTP_COOKIE", "")
    session_cookie = app.config.get("SESSION_COOKIE_NAME", "session")
    if f"{session_cookie}=" in cookies or f"{PRIMARY_COOKIE}=" in cookies:
        return None
    return replica


def _replica_failed(exc: OperationalError) -> Response:
    """The replica did not answer a reader's GET: this worker reads the primary for a while, and the
    reader is sent to the same address again with the primary's cookie, so whichever worker takes the
    retry reads the primary too (no loop: the retry carries the cookie). A 307 keeps the method."""
    from flask import redirect

    pause = int(current_app.config.get("REPLICA_RETRY_SECONDS", 30))
    current_app.extensions[REPLICA_DOWN_UNTIL] = time.monotonic() + pause
    log.error("read replica unavailable; reading the primary for %d s: %s", pause, exc.orig)
    query = request.query_string.decode("latin-1")
    # The script root kept (a blog under /blog), the path encoded again, and never "//host" or "/\\host"
    # (a browser reads either as another site): the same address on this site.
    path = "/" + quote(request.script_root + request.path, safe="/:@!$&'()*+,;=~").lstrip("/\\")
    response = redirect(path + (f"?{query}" if query else ""), 307)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        PRIMARY_COOKIE,
        "1",
        max_age=pause,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
    return response


def reads_replica() -> bool:
    """Whether this request's session reads the replica (set when the session is opened)."""
    return bool(g.get("db_replica"))


def db() -> Session:
    """The request's session, opened on first use; a request that may write takes the write lock first.

    An anonymous reader's GET reads the replica when one is configured (``replica_engine``); nothing it
    does there can write, since a replica refuses writes and a GET commits nothing.
    """
    if "db" not in g:
        if request and not _writes() and replica_engine(current_app, request.environ) is not None:
            g.db_replica = True
            g.db = current_app.extensions["candor.replica_sessions"]()
            return g.db
        session = session_factory()()
        if request and _writes():
            try:
                database.writing(session)
            except BaseException:  # not kept: the next db() of this request opens (and closes) its own
                session.close()
                raise
        g.db = session
    return g.db


def keep_on_error() -> None:
    """Commit this request's work even though it answers 4xx (a failed sign-in that must be counted)."""
    g.db_keep_on_error = True


def is_conflict(exc: BaseException) -> bool:
    """A database error meaning "another transaction got there first", as opposed to a broken database."""
    if isinstance(exc, IntegrityError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return sqlstate in _RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig)
    return False


def _conflict_response() -> Response:
    from app.web.errors import failure_response

    return failure_response(409, "conflict", CONFLICT_MESSAGE)


UNAVAILABLE_MESSAGE = "The blog's database cannot be reached; please try again soon."


def _unavailable_response() -> Response:
    from app.web.errors import failure_response

    return failure_response(503, "unavailable", UNAVAILABLE_MESSAGE)


def _database_error(exc: DBAPIError) -> Response:
    """A statement failed inside the view: 409 for a lost race, 503 for a database that is not there."""
    from app.web.errors import PLAIN, error_response

    session: Session | None = g.get("db")
    if session is not None:
        database.rollback(session)
    if is_conflict(exc):
        log.info("conflict answered 409 on %s %s: %s", request.method, request.path, exc.orig)
        return _conflict_response()
    if isinstance(exc, OperationalError) and g.get("db_replica"):
        return _replica_failed(exc)
    if isinstance(exc, OperationalError):
        log.error("database unavailable on %s %s: %s", request.method, request.path, exc.orig)
        return _unavailable_response()
    log.exception("database error on %s %s", request.method, request.path)
    return error_response(500, "internal", PLAIN[500])


def _commit_at_edge(response: Response) -> Response:
    session: Session | None = g.get("db")
    if session is None:
        return response
    if not _writes() or (response.status_code >= 400 and not g.get("db_keep_on_error")):
        # A GET writes nothing: whatever a reader's request might have changed is dropped here.
        database.rollback(session)
        return response
    try:
        database.commit(session)
    except DBAPIError as exc:
        database.rollback(session)
        if isinstance(exc, OperationalError) and not is_conflict(exc):
            # Gone between the view and its commit: nothing was kept, which a 503 says (not a 500).
            log.error("database unavailable at commit on %s %s: %s", request.method, request.path, exc.orig)
            return _unavailable_response()
        if not is_conflict(exc):
            raise
        log.info("commit conflict answered 409 on %s %s: %s", request.method, request.path, exc.orig)
        return _conflict_response()
    if "candor.replica_engine" in current_app.extensions:
        # Read-your-writes: this browser reads the primary until the replica has surely caught up.
        response.set_cookie(
            PRIMARY_COOKIE,
            "1",
            max_age=int(current_app.config.get("REPLICA_STICKY_SECONDS", 30)),
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
            samesite="Lax",
        )
    return response


def _close_session(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is None:
        return
    if session.in_transaction():
        database.rollback(session)
    session.close()
