"""Operations: request ids, structured logs, Prometheus metrics and the health check.

* Every request gets an id: the ``X-Request-ID`` it came with (a proxy's, when it looks like an id:
  up to 128 letters, digits and ``._:-``), else a new one. It is sent back in ``X-Request-ID`` and is on
  every log line written while the request runs (``request_id``).
* ``CANDOR_LOG_FORMAT=json`` logs one JSON object per line (python-json-logger), plus one line per
  request (method, route, path, status, duration).
* ``GET /metrics``: Prometheus text (prometheus-client): request latency by route and method,
  requests by status, jobs failed, and, read when scraped, queue depth, held comments and comments
  being checked. Under gunicorn with several processes set ``PROMETHEUS_MULTIPROC_DIR`` (an empty
  directory, emptied at each start) and every process's counters are summed. Only a request from this
  host may read it (its socket's peer and every forwarded hop the loopback: ``from_this_host``), or
  whoever sends ``Authorization: Bearer <CANDOR_METRICS_TOKEN>``.
* ``GET /healthz``: 200 when the app can serve (the database answers and is at the migrations' head),
  503 otherwise, as JSON; the queue is reported too, and a queue that is down makes the status
  ``degraded`` (still 200: pages are served and comments stored; their checks wait for the queue).

The request id and the metrics are taken by a WSGI wrapper around everything, so a page answered by
the page cache's fast path (before Flask) is counted, logged and given its id like any other.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import parse_list_header

from app import migrate
from app.comments.models import CommentStatus, CommentTally
from app.spam.pipeline import CHECKING

log = logging.getLogger(__name__)

REQUEST_ID = contextvars.ContextVar("candor_request_id", default="-")
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ROUTE_KEY = "candor.route"
LOOPBACK = frozenset({"127.0.0.1", "::1"})
# Methods a label may name; any other a client invents is "other" (each new label set is kept forever).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

LATENCY = Histogram(
    "candor_request_duration_seconds",
    "Time to answer a request, by route and method",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUESTS = Counter("candor_requests_total", "Requests answered, by route and status", ["route", "status"])
JOBS_FAILED = Counter("candor_jobs_failed_total", "Jobs that raised (each retry counts)", ["task"])


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def log_handler(fmt: str, stream: Any = None) -> logging.Handler:
    """A handler writing JSON lines (``json``) or plain text, each with the request id."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    return handler


def configure_logging(fmt: str) -> None:
    """Once per process: the root logger writes through ``log_handler`` on stderr, from INFO up."""
    root = logging.getLogger()
    if any(getattr(h, "candor", False) for h in root.handlers):
        return
    handler = log_handler(fmt)
    handler.candor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


class Observe:
    """The outermost WSGI layer: request id in and out, one log line (JSON mode), latency and count."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], *, access_log: bool) -> None:
        self.wsgi_app = wsgi_app
        self.access_log = access_log
        self.access = logging.getLogger("candor.access")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _GOOD_ID.fullmatch(given) else uuid.uuid4().hex
        environ["HTTP_X_REQUEST_ID"] = request_id
        token = REQUEST_ID.set(request_id)
        status_seen: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_seen.append(status)
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        try:
            answer = self.wsgi_app(environ, start)
        finally:
            REQUEST_ID.reset(token)
        return _Answer(answer, lambda: self._done(environ, status_seen, started, request_id))

    def _done(self, environ: dict[str, Any], status_seen: list[str], started: float, request_id: str) -> None:
        took = time.perf_counter() - started
        route = environ.get(ROUTE_KEY, "other")
        method = environ.get("REQUEST_METHOD", "")
        if method not in METHODS:
            method = "other"
        status = status_seen[-1].split(" ", 1)[0] if status_seen else "000"
        LATENCY.labels(route, method).observe(took)
        REQUESTS.labels(route, status).inc()
        if self.access_log:
            token = REQUEST_ID.set(request_id)
            try:
                self.access.info(
                    "request",
                    extra={
                        "method": method,
                        "route": route,
                        "path": environ.get("PATH_INFO", ""),
                        "status": int(status) if status.isdigit() else 0,
                        "duration_ms": round(took * 1000, 2),
                    },
                )
            finally:
                REQUEST_ID.reset(token)


class _Answer:
    """The app's answer, passed through; ``done`` runs once, when it has been sent in full or when the
    server closes it (WSGI says it must), whichever comes first.

    The inner answer is closed as soon as it has been sent in full or its sending was abandoned, without
    waiting for the server's ``close()``: a server may never call it. Werkzeug's server (the browser
    tests' live server) drains the socket before it closes the answer, and when the client has reset the
    connection that read raises and ``close()`` is skipped: a static file's handle was then left to the
    garbage collector (a ResourceWarning, failing a test at random). Closing twice is harmless: the
    inner answer is closed once.
    """

    def __init__(self, inner: Iterable[bytes], done: Callable[[], None]) -> None:
        self.inner = inner
        self._done: Callable[[], None] | None = done
        self._inner_open = True

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.inner
        finally:
            # Sent in full, or the iteration was given up (the generator is closed when dropped).
            self.close()

    def _finish(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done()

    def close(self) -> None:
        try:
            if self._inner_open:
                self._inner_open = False
                close = getattr(self.inner, "close", None)
                if close is not None:
                    close()
        finally:
            self._finish()


def init_app(app: Flask) -> None:
    if not app.config.get("TESTING"):  # tests keep pytest's own log capture
        configure_logging(app.config.get("LOG_FORMAT", "text"))
    app.before_request(_name_route)
    app.add_url_rule("/healthz", "ops.healthz", healthz)
    app.add_url_rule("/metrics", "ops.metrics", metrics)
    _watch_jobs(app)


def wrap(app: Flask) -> None:
    """Called last by create_app: outermost, around the page cache's fast path too."""
    app.wsgi_app = Observe(  # type: ignore[method-assign]
        app.wsgi_app, access_log=app.config.get("LOG_FORMAT") == "json"
    )


def _name_route() -> None:
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else "other"


def _watch_jobs(app: Flask) -> None:
    tasks = app.extensions.get("candor.tasks")
    if tasks is None:
        return
    from huey.signals import SIGNAL_ERROR

    @tasks.huey.signal(SIGNAL_ERROR)
    def _failed(signal: str, task: Any, exc: Any = None) -> None:
        JOBS_FAILED.labels(task.name).inc()


# --- /healthz -----------------------------------------------------------------------------------------


def _engine_for_checks() -> Any:
    engine = current_app.extensions["candor.engine"]
    return (
        engine.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql"
        else engine
    )


def _heads() -> frozenset[str]:
    found = current_app.extensions.get("candor.migration_heads")
    if found is None:
        found = current_app.extensions["candor.migration_heads"] = migrate.heads()
    return found


@dataclass(frozen=True)
class Readiness:
    """What a process needs before it serves: the database answering, at the migrations' head, and the
    job queue. Asked by ``/healthz`` on each probe and by the job worker once at start (app.cli)."""

    database: SQLAlchemyError | None  # why the database could not be asked; None: it answered
    applied: frozenset[str]  # the revisions it is at (empty if it could not be asked)
    heads: frozenset[str]
    queue: Exception | None  # why the queue could not be asked; None: it answered

    @property
    def migrated(self) -> bool:
        return self.database is None and self.applied == self.heads


def readiness() -> Readiness:
    database: SQLAlchemyError | None = None
    applied: frozenset[str] = frozenset()
    try:
        with _engine_for_checks().connect() as connection:
            connection.execute(select(1)).scalar_one()
            applied = migrate.applied(connection)
    except SQLAlchemyError as exc:
        database = exc
    queue: Exception | None = None
    try:
        current_app.extensions["candor.tasks"].huey.pending_count()
    except Exception as exc:  # noqa: BLE001 - Redis down, or anything else the storage raises
        queue = exc
    return Readiness(database, applied, _heads(), queue)


def healthz() -> Response:
    ready = readiness()
    body: dict[str, Any] = {"status": "ok"}
    if ready.database is None:
        body["database"] = "ok"
        if ready.migrated:
            body["migrations"] = "ok"
        elif metrics_allowed():  # the monitoring system (loopback, or the metrics token) sees which
            body["migrations"] = f"at {sorted(ready.applied) or 'nothing'}, head is {sorted(ready.heads)}"
        else:  # anyone else only that it is behind: which release runs is not the public's to read
            body["migrations"] = "behind"
    else:
        log.error("health check: database unreachable: %s", ready.database)
        body["database"] = "unreachable"
        body["migrations"] = "unknown"
    body["queue"] = "ok"
    if ready.queue is not None:
        log.error("health check: job queue unreachable: %s", ready.queue)
        body["queue"] = "unreachable"
    if not ready.migrated:
        body["status"] = "unavailable"
    elif ready.queue is not None:
        body["status"] = "degraded"
    response = jsonify(body)
    response.status_code = 200 if ready.migrated else 503
    response.headers["Cache-Control"] = "no-store"
    return response


# --- /metrics -----------------------------------------------------------------------------------------


class _ScrapeTime:
    """Gauges read when Prometheus scrapes: queue depth, held comments, comments being checked."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tasks = self.app.extensions["candor.tasks"]
        depth = GaugeMetricFamily("candor_queue_depth", "Jobs waiting in the queue (scheduled retries apart)")
        try:
            depth.add_metric([], float(tasks.huey.pending_count()))
        except Exception:  # noqa: BLE001 - the queue is down: no sample rather than a wrong one
            pass
        yield depth
        held = GaugeMetricFamily("candor_comments", "Comments by status (held, checking)", labels=["status"])
        try:
            # From the maintained tallies (app.comments.states), a few rows whatever the comments' number:
            # counting the held comments themselves read 100,000 index entries on every scrape.
            with self.app.app_context(), _engine_for_checks().connect() as connection:
                counts = dict(connection.execute(_HELD_TALLIES).all())
            held.add_metric(["held"], float(counts.get("", 0)))
            held.add_metric(["checking"], float(counts.get(CHECKING, 0)))
        except SQLAlchemyError:
            pass
        yield held


# The held comments' total (reason "") and those still being checked (reason "checking": every comment
# the quick path stored, until its job's verdict), each summed over the tally's shards.
_HELD_TALLIES = (
    select(CommentTally.reason, func.coalesce(func.sum(CommentTally.n), 0))
    .where(CommentTally.status == CommentStatus.HELD.value, CommentTally.reason.in_(["", CHECKING]))
    .group_by(CommentTally.reason)
)


def metrics_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return from_this_host()


def from_this_host() -> bool:
    """Whether the request never left this host: the address believed (``request.remote_addr``), the
    socket's peer and every hop ``X-Forwarded-For`` names are all the loopback. Behind
    CANDOR_TRUSTED_PROXIES, a header with fewer hops than proxies (a reader who reached the inner proxy
    directly, past the CDN) leaves the inner proxy's own 127.0.0.1 as the reader's address, and such a
    reader chooses the first hops too."""
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", request.remote_addr)
    hops = parse_list_header(request.environ.get("HTTP_X_FORWARDED_FOR", ""))
    return all(address in LOOPBACK for address in (request.remote_addr, peer, *hops))


def metrics() -> Response:
    if not metrics_allowed():
        from app.web.errors import error_response

        return error_response(403, "forbidden", "Metrics are served to the monitoring system only.")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY  # this process's own counters
    scrape = CollectorRegistry()
    scrape.register(_ScrapeTime(current_app._get_current_object()))  # type: ignore[attr-defined]
    body = generate_latest(registry) + generate_latest(scrape)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
