"""A reader's comment POST taken without entering Flask: the write side's ``pagecache.FastPath``.

Why: a comment POST is the request a flood sends, and on the quick path (budget 0: stored at once, every
check left to the job) Flask's request context, its request hooks and the ORM Session cost more than the
comment's own work (bench/bench_comments.py: issue 15 asks that a comment POST cost at most twice a bare
insert). The intake does what ``api_post_comment`` does on that path (``_post_at_once``), with the same
functions: the same input rules (``services.clean``), the same count of the readers' limits and the
sender's burst in one Redis script (``reader_forms.run_count``), the same two statements in one
transaction (``services.quick_target``, ``services.quick_arrival``), the same job enqueued after the
commit, the same answer and headers. Only the transport differs: a driver connection from the engine's
pool, outside any Session, and a WSGI answer.

It takes only the plain case, in production's layout: a POST of a JSON object to
``/api/v1/posts/<id>/comments`` with no query, no session cookie and no ``Authorization`` (a reader, not
staff), on PostgreSQL, the budget 0, the readers' limits, the burst and the jobs all on Redis, no read
replica, the settings read by this process already and the backlog's count fresh. Anything else goes
to Flask untouched, nothing counted or stored: a body that is not plainly a new comment (Flask counts it,
then says what is wrong), a backlog that is full (Flask refuses it, uncounted), Redis failing.

Once the post is counted, whatever the intake does not finish (a 429, no such post, comments closed, a
double click's twin, a reply to no published comment, the settings changed meanwhile, a database error)
is rolled back and handed to Flask with the count it took (``reader_forms.PRECOUNTED``): Flask's view
then does it all again without counting again, and answers as it always has (429, 404, 409, 422, the
twin's 202, 503). So every answer but the plain 202 is Flask's own.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import threading
from collections import ChainMap
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.clock import utc_now
from app.comments import services
from app.comments.api.views import plainly_new_comment, reader_input
from app.comments.views import backlog, close_after_days, status_token
from app.errors import CandorError
from app.spam import pipeline
from app.web.ops import ROUTE_KEY
from app.web.outside import burst_counter
from app.web.reader_forms import (
    PRECOUNTED,
    can_count_at_once,
    counted_answer,
    limit_headers,
    reader_windows,
    run_count,
    shares_redis_with,
)
from app.web.security import MAX_PATH_INT, REFUSED_HOST, SECURITY_HEADERS
from app.web.tasks import REDIS
from app.web.urls import public_url

log = logging.getLogger(__name__)

ROUTE = "/api/v1/posts/<int:post_id>/comments"  # the route's name in the metrics and the access log
# The longest answer beside the public URL: the id, the reasons, the status token (its id and time).
_ANSWER_BESIDE_URL = 300
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")  # unreserved (RFC 3986): a path part Werkzeug leaves as it is


class _ToFlask(Exception):
    """The post is counted, and the intake leaves the rest to Flask (which says why it was not stored)."""


class Intake:
    """``api_post_comment``'s quick path for a reader's plain comment, without Flask (see the module)."""

    _PATH = re.compile(r"/api/v1/posts/([1-9][0-9]{0,9})/comments")

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.answered = 0  # posts the intake answered itself, in this process (for the tests)
        self._lock = threading.Lock()
        self._prefixes: dict[tuple[str, str], str] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        post_id = self._post_id(environ)
        if post_id is None:
            return self.wsgi_app(environ, start_response)
        data = self._plain_comment(environ)
        if data is None:
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():
            answer = None if self._busy() else self._take(environ, post_id, data)
        if answer is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = answer
        environ[ROUTE_KEY] = ROUTE
        with self._lock:
            self.answered += 1
        start_response(status, headers)
        return [body]

    # --- what the intake takes --------------------------------------------------------------------------

    def _post_id(self, environ: dict[str, Any]) -> int | None:
        """The post's id if this request is one the intake may take (see the module), else None."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
            return None
        match = self._PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or int(match.group(1)) > MAX_PATH_INT:
            return None
        if REFUSED_HOST in environ or "HTTP_AUTHORIZATION" in environ:
            return None
        app, config = self.app, self.app.config
        if config.get("SESSION_COOKIE_NAME", "session") + "=" in environ.get("HTTP_COOKIE", ""):
            return None
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        limit = config.get("MAX_CONTENT_LENGTH")
        if (
            mimetype != "application/json"
            or not (length.isascii() and length.isdigit())  # "²" is a digit to str.isdigit, not to int()
            or not 0 < int(length) <= (limit or 2**31)
        ):
            return None
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            return None
        if (
            int(config["COMMENT_CHECK_BUDGET_MS"]) > 0
            or app.extensions["candor.tasks"].mode != REDIS
            or "candor.replica_engine" in app.extensions
            or app.extensions["candor.engine"].dialect.name != "postgresql"
            or not can_count_at_once()
            or not shares_redis_with(config.get("REDIS_URL"), config)
            or app.extensions["candor.settings"].state[0] < 0  # not read by this process yet
            or len(config["PUBLIC_URL"]) + _ANSWER_BESIDE_URL >= int(config["COMPRESS_MIN_SIZE"])
        ):
            return None
        return int(match.group(1))

    def _busy(self) -> bool:
        """The backlog is full (``comments.views._backlog_full``), or unknown: the post is left to Flask,
        which refuses it busy, uncounted. The count is read again, in a session of its own, when this
        process's is older than BACKLOG_FRESH."""
        limit = int(self.app.config.get("COMMENT_BACKLOG") or 0)
        if limit <= 0:
            return False
        known = backlog().recent()
        if known is not None:
            return known >= limit
        session = self.app.extensions["candor.sessions"]()
        try:
            return backlog().count(session) >= limit
        except SQLAlchemyError:  # the database failed: Flask asks again, and answers as it always has
            return True
        finally:
            session.close()

    def _plain_comment(self, environ: dict[str, Any]) -> dict[str, Any] | None:
        """The body, read, if it is plainly a new comment's JSON object; the environ's input is put back
        so that Flask reads the same bytes whatever happens next."""
        length = int(environ["CONTENT_LENGTH"])
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        if len(body) != length:
            return None
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or not all(
            isinstance(data.get(name), str) for name in ("author_name", "author_email", "body")
        ):
            return None
        return data if plainly_new_comment(data) else None

    def _url(self, endpoint: str, name: str, value: str) -> str:
        """``public_url(endpoint, name=value)``, its part before the value built once per base URL when the
        value needs no quoting (a slug, a status token: ``_URL_SAFE``), as ``public_url`` would build it."""
        if not _URL_SAFE.fullmatch(value):
            return public_url(endpoint, **{name: value})
        key = (self.app.config["PUBLIC_URL"], endpoint)
        prefix = self._prefixes.get(key)
        if prefix is None:
            probe = public_url(endpoint, **{name: "x"})
            if not probe.endswith("/x"):  # the value is not the URL's last part: build each one
                return public_url(endpoint, **{name: value})
            prefix = self._prefixes[key] = probe[:-1]
        return prefix + value

    # --- the post ----------------------------------------------------------------------------------------

    def _take(
        self, environ: dict[str, Any], post_id: int, data: dict[str, Any]
    ) -> tuple[str, list[Any], bytes] | None:
        """Count, store, enqueue and answer the post; None to leave it to Flask (with its count, if taken)."""
        app = self.app
        ip = environ.get("REMOTE_ADDR") or "unknown"  # client_ip(): ProxyFix has peeled the trusted hops
        try:
            given = services.clean(
                reader_input(
                    data,
                    ip=ip,
                    user_agent=environ.get("HTTP_USER_AGENT", ""),
                    referrer=environ.get("HTTP_REFERER", ""),
                )
            )
        except Exception:  # noqa: BLE001 - nothing counted yet: Flask counts it, then says what is wrong
            return None
        version, values = app.extensions["candor.settings"].state
        config = ChainMap(values, app.config)
        counter = burst_counter()
        assert counter is not None  # REDIS_URL is set (``_post_id``)
        now = utc_now()
        burst = counter.ask(given.ip, now, pipeline.BURST_WINDOW, services.burst_member(post_id, given))
        windows = reader_windows(ip, config)
        try:
            out = run_count(app, windows, burst)
            counts, refused, earlier, _ = counted_answer(windows, out, True)
        except Exception:  # Redis failed, or answered nonsense: Flask counts it its own way
            log.warning("the intake could not count a reader's post in Redis; Flask will", exc_info=True)
            return None
        environ[PRECOUNTED] = (windows, out, burst)  # from here on, Flask must not count it again
        if refused or earlier is None:
            return None  # Flask answers the 429, from this count
        arrival = self._store(post_id, given, version, config, earlier)
        if arrival is None:
            return None
        del environ[PRECOUNTED]
        backlog().accepted()
        try:
            app.extensions["candor.tasks"].check_comment(arrival.id)
        except Exception:  # noqa: BLE001 - committed: as ``db.commit``'s after-commit work, checks_overdue
            log.exception("enqueueing the checks of comment %s failed", arrival.id)
        answer = {
            "id": arrival.id,
            "status": arrival.status,
            "reasons": pipeline.reasons_for_writer(arrival.reasons),
            "status_url": self._url("comments.status", "token", status_token(arrival)),
        }
        response = app.json.response(answer)
        (item, _), (current, ttl) = windows[0], counts[0]
        reset_at = int(max(ttl, 0) + now.timestamp() + 1)
        headers = [
            *response.headers.items(),
            *limit_headers(item.amount, max(0, item.amount - current), reset_at),
            ("Vary", "Accept-Encoding"),
            *SECURITY_HEADERS,
        ]
        return "202 ACCEPTED", headers, response.get_data()

    def _store(
        self, post_id: int, given: services.CommentInput, version: int, config: Any, earlier: int
    ) -> services.Arrival | None:
        """The comment stored and committed, or None (all rolled back) for Flask to do it and say why."""
        engine = self.app.extensions["candor.engine"]
        try:
            raw = engine.raw_connection()
        except Exception:  # noqa: BLE001 - no connection (the database refuses one, the pool is spent): Flask's 503
            log.warning("the intake could not connect to the database; Flask will answer", exc_info=True)
            return None
        driver = raw.driver_connection
        try:
            target = services.quick_target(driver, engine.dialect, post_id, given, close_after_days())
            if target.settings_version != version:
                raise _ToFlask("the settings changed since this process read them")
            permalink = self._url("posts.show", "slug", target.slug)
            arrival = services.quick_arrival(
                driver,
                engine.dialect,
                target,
                dataclasses.replace(given, permalink=permalink),
                settings=pipeline.PipelineSettings.from_config(config),
                earlier=earlier,
            )
            if arrival is None:
                raise _ToFlask("a twin, or a reply to no published comment")
            driver.commit()
            return arrival
        except Exception as error:  # noqa: BLE001 - Flask does it again and answers (404, 409, 422, 503)
            if not isinstance(error, _ToFlask | CandorError):
                log.warning("the intake could not store a reader's comment; Flask will", exc_info=True)
            try:
                driver.rollback()
            except Exception:  # noqa: BLE001 - a connection gone: the pool's next check replaces it
                raw.invalidate()
            return None
        finally:
            raw.close()


def init_app(app: Flask) -> None:
    """Inside the host guard and ProxyFix (registered before ``security.init_app``): the Host is checked
    and the reader's address peeled before the intake reads them."""
    app.wsgi_app = app.extensions["candor.intake"] = Intake(app, app.wsgi_app)  # type: ignore[method-assign]
