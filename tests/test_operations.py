"""Operations: /healthz, request ids and JSON log lines, Prometheus /metrics and who may read it, and the
database options for production (statement timeout, PgBouncer's transaction mode)."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import re
import runpy
import socket
import struct
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.test import EnvironBuilder

from app import create_app
from app.comments import services
from app.comments.models import Comment
from app.web.ops import log_handler
from tests.support.browser import LiveServer
from tests.support.comments import checking_comment, held_metric, recounted
from tests.support.databases import postgresql_only

ROOT = Path(__file__).resolve().parent.parent


def _app(tmp_path: Any, **config: Any) -> Any:
    return create_app({"TESTING": True, "DEMO_ACCOUNTS_DIR": str(tmp_path), **config})


def test_healthz_says_ok_when_the_database_answers_at_the_migrations_head(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["migrations"] == "ok"
    assert body["queue"] == "ok" and answer.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_without_a_database_and_before_migrations(tmp_path):
    down = _app(tmp_path, DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none")
    unmigrated = _app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        answer = down.test_client().get("/healthz")
        assert answer.status_code == 503 and answer.get_json()["database"] == "unreachable"
        answer = unmigrated.test_client().get("/healthz")
        body = answer.get_json()
        assert answer.status_code == 503 and body["database"] == "ok" and body["status"] == "unavailable"
        assert "head is" in body["migrations"]  # to the loopback: which revisions, for the operator
        answer = unmigrated.test_client().get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.5"})
        body = answer.get_json()
        assert answer.status_code == 503 and body["migrations"] == "behind"  # to anyone else, not which
        assert "head" not in answer.get_data(as_text=True)
    finally:
        down.extensions["candor.engine"].dispose()
        unmigrated.extensions["candor.engine"].dispose()


def test_healthz_reports_a_queue_that_is_down_without_taking_the_server_out(database_url, tmp_path):
    app = _app(tmp_path, DATABASE_URL=database_url, REDIS_URL="redis://127.0.0.1:1/0")
    try:
        answer = app.test_client().get("/healthz")
        body = answer.get_json()
        assert answer.status_code == 200 and body["status"] == "degraded" and body["queue"] == "unreachable"
    finally:
        app.extensions["candor.engine"].dispose()


def test_a_request_id_is_echoed_when_it_looks_like_one_and_made_up_otherwise(client, make_post):
    post = make_post("published")
    for path in ("/", f"/posts/{post.slug}", f"/posts/{post.slug}", "/healthz", "/no-such-page"):
        given = client.get(path, headers={"X-Request-ID": "edge-7f3a.1"})
        assert given.headers["X-Request-ID"] == "edge-7f3a.1", path
        for hostile in ("<script>alert(1)</script>", "x" * 500, "a b"):
            made = client.get(path, headers={"X-Request-ID": hostile}).headers["X-Request-ID"]
            assert made != hostile and len(made) == 32 and made.isalnum()
        assert len(client.get(path).headers.getlist("X-Request-ID")) == 1


def test_json_log_lines_carry_the_request_id_route_and_status(app, client, make_post):
    post = make_post("published")
    app.wsgi_app.access_log = True  # what CANDOR_LOG_FORMAT=json turns on
    stream = io.StringIO()
    handler = log_handler("json", stream)
    access = logging.getLogger("candor.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        # A server reads each answer to its end (the test client only when asked): then it is logged.
        client.get(f"/posts/{post.slug}").get_data()
        client.get(f"/posts/{post.slug}", headers={"X-Request-ID": "trace-42"}).get_data()  # fast path
        client.get("/no-such-page", headers={"X-Request-ID": "trace-43"}).get_data()
    finally:
        access.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    hit = next(line for line in lines if line["request_id"] == "trace-42")
    assert hit["route"] == "/posts/<slug>" and hit["status"] == 200 and hit["method"] == "GET"
    assert hit["level"] == "INFO" and hit["duration_ms"] >= 0 and hit["path"] == f"/posts/{post.slug}"
    missing = next(line for line in lines if line["request_id"] == "trace-43")
    assert missing["status"] == 404 and missing["route"] == "other"


def test_metrics_count_requests_by_route_and_report_held_comments(client, make_post):
    post = make_post("published")
    for _ in range(3):
        client.get(f"/posts/{post.slug}").get_data()
    body = client.get("/metrics").get_data(as_text=True)
    assert 'candor_request_duration_seconds_bucket{le="0.001",method="GET",route="/posts/<slug>"}' in body
    assert 'candor_requests_total{route="/posts/<slug>",status="200"}' in body
    assert 'candor_comments{status="held"} 0.0' in body and "candor_queue_depth 0.0" in body
    assert "candor_jobs_failed_total" in body


def test_the_held_comments_metric_is_read_from_the_tallies_and_equals_the_comments(
    app, client, session, make_post
):
    """candor_comments{held, checking} come from the maintained tallies (a few rows, not a count of
    every held comment on each scrape), and equal what counting the comments themselves finds."""
    post = make_post("published")
    checking = [checking_comment(app, session, post, f"Thanks, a helpful read ({n}).") for n in range(3)]
    comment = session.get(Comment, checking[0])
    assert comment is not None
    with app.test_request_context("/"):  # its checks given up: held for a moderator, no longer checking
        assert services.hold_unchecked(session, comment.id) is not None
    session.commit()
    counted = recounted(session)
    assert counted[("held", "")] == 3 and counted[("held", "checking")] == 2
    assert held_metric(client) == {"held": 3.0, "checking": 2.0}


def test_metrics_are_for_the_loopback_or_the_token_holder_only(database_url, tmp_path):
    open_ = _app(tmp_path, DATABASE_URL=database_url)
    guarded = _app(tmp_path, DATABASE_URL=database_url, METRICS_TOKEN="s3cret-token")
    try:
        anyone = open_.test_client()
        assert anyone.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 403
        assert anyone.get("/metrics").status_code == 200
        other = guarded.test_client()
        assert other.get("/metrics").status_code == 403  # the loopback alone is not enough with a token
        assert other.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        answer = other.get(
            "/metrics",
            headers={"Authorization": "Bearer s3cret-token"},
            environ_base={"REMOTE_ADDR": "203.0.113.5"},
        )
        assert answer.status_code == 200 and "candor_requests_total" in answer.get_data(as_text=True)
    finally:
        open_.extensions["candor.engine"].dispose()
        guarded.extensions["candor.engine"].dispose()


@postgresql_only
def test_statement_timeout_and_pgbouncer_options_reach_postgresql(database_url, tmp_path):
    timed = _app(tmp_path, DATABASE_URL=database_url, STATEMENT_TIMEOUT_MS=50)
    pooled = _app(tmp_path, DATABASE_URL=database_url, PGBOUNCER=True)
    try:
        with timed.extensions["candor.engine"].connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "50ms"
            with pytest.raises(OperationalError, match="statement timeout"):
                connection.execute(text("SELECT pg_sleep(1)"))
        with pooled.extensions["candor.engine"].connect() as connection:
            assert connection.connection.dbapi_connection.prepare_threshold is None
        client = timed.test_client()
        assert client.get("/healthz").status_code == 200
    finally:
        timed.extensions["candor.engine"].dispose()
        pooled.extensions["candor.engine"].dispose()


@postgresql_only
def test_as_many_requests_at_once_as_threads_reuse_their_connections_instead_of_opening_new_ones(
    database_url, tmp_path
):
    """Twelve threads at once (a gunicorn process with 12 threads), twice: the second round reuses the
    first round's PostgreSQL connections. With SQLAlchemy's default pool of 5, the 7 opened beyond it were
    closed on return and opened again (a new PostgreSQL process each), 138 times in 18 s of a flood."""
    app = _app(tmp_path, DATABASE_URL=database_url)
    engine = app.extensions["candor.engine"]

    def round_of(count: int) -> set[int]:
        held = [engine.connect() for _ in range(count)]
        try:
            return {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in held}
        finally:
            for c in held:
                c.close()

    try:
        first = round_of(12)
        assert len(first) == 12
        assert round_of(12) == first
        small = _app(tmp_path, DATABASE_URL=database_url, DB_POOL_SIZE=2)
        try:
            engine = small.extensions["candor.engine"]
            first = round_of(4)
            assert len(round_of(4) & first) == 2  # the setting is the pool: two kept, two opened afresh
        finally:
            small.extensions["candor.engine"].dispose()
    finally:
        app.extensions["candor.engine"].dispose()


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("GUNICORN_MAX_REQUESTS", "lots", "candor: GUNICORN_MAX_REQUESTS must be a whole number, not 'lots'"),
        ("GUNICORN_MAX_REQUESTS", "-1", "candor: GUNICORN_MAX_REQUESTS must be 0 or at least 1000, not -1"),
        ("GUNICORN_MAX_REQUESTS", "1", "candor: GUNICORN_MAX_REQUESTS must be 0 or at least 1000, not 1"),
        ("GUNICORN_THREADS", "0", "candor: GUNICORN_THREADS must be at least 1, not 0"),
        ("GUNICORN_WORKERS", "2.5", "candor: GUNICORN_WORKERS must be a whole number, not '2.5'"),
    ],
)
def test_a_bad_gunicorn_setting_stops_the_server_with_one_line_naming_it(name, value, said):
    env = {**os.environ, name: value}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [said]


# --- answers are closed even when the server does not close them ---------------------------------------


def _no_unclosed_files(run: Any) -> list[str]:
    """Run ``run`` and collect; the ResourceWarnings for files left to the garbage collector."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("read", ["in_full", "one_chunk"])
@pytest.mark.parametrize("ask", ["plain", "if_none_match", "head"])
def test_a_static_file_is_closed_when_the_server_drops_the_answer_without_closing_it(app, read, ask):
    """Werkzeug's server skips ``close()`` when the client resets the connection (it drains the socket
    first, and that read raises): the answer must not leave the file open for the garbage collector."""
    headers = {}
    if ask == "if_none_match":  # a 304: the file was opened, and nothing of it is sent
        headers["If-None-Match"] = app.test_client().get("/static/favicon.svg").headers["ETag"]

    def serve_and_drop() -> None:
        method = "HEAD" if ask == "head" else "GET"
        environ = EnvironBuilder(path="/static/favicon.svg", method=method, headers=headers).get_environ()
        answer = app(environ, lambda status, headers, exc_info=None: None)
        chunks = iter(answer)
        if read == "in_full":
            list(chunks)
        else:
            next(chunks, None)
        del answer, chunks  # as the server does when the client has gone: no close()

    assert _no_unclosed_files(serve_and_drop) == []


def test_clients_resetting_the_connection_leave_no_file_open(app):
    """The same through a real socket: browsers reset connections (a page closed while its favicon is
    being sent). Each request is sent and the connection reset at once, or after the answer was read."""

    def requests() -> None:
        before = set(threading.enumerate())
        with LiveServer(app) as server:
            port = int(server.url.rsplit(":", 1)[1])
            for n in range(30):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.sendall(b"GET /static/favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if n % 2:
                    sock.recv(65536)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()  # a reset, not a polite close
            # Every request was answered before the server stops: each one is read back on a new connection.
            with socket.create_connection(("127.0.0.1", port)) as last:
                last.sendall(
                    b"GET /static/favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                assert last.recv(12).startswith(b"HTTP/1.1 200")
        for thread in set(threading.enumerate()) - before:  # the request threads, done with their files
            thread.join(timeout=10)

    assert _no_unclosed_files(requests) == []


# --- an operator's start-up mistakes: one line naming what is wrong, never a traceback --------------------

BIN = Path(sys.executable).parent


def _start(
    args: list[str], tmp_path: Any, timeout: float = 90, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run one of the operator's commands from the project directory with a clean Candor environment."""
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("CANDOR_", "REDIS_", "MAIL_", "GUNICORN_"))
    }
    base = {
        "SECRET_KEY": "operator-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'operator.sqlite3'}",
        "CANDOR_JOBS_QUEUE": f"operator-{tmp_path.name}",
    }
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**keep, **base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line the process stopped with (log lines, such as Alembic's INFO ones, aside)."""
    logged = re.compile(r"^(\{|\d{4}-\d\d-\d\d \d\d:\d\d)")
    lines = [line for line in done.stderr.splitlines() if line.strip() and not logged.match(line)]
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CANDOR_ENV", "prod"),
        ("DATABASE_URL", "mysql://candor:hunter2hunter2@db/candor"),
        ("MAIL_PORT", "99999"),
        ("CANDOR_RATELIMIT_STORAGE_URI", "garbage"),
        ("REDIS_URL", "redis://127.0.0.1:6379/thirteen"),
    ],
)
def test_a_bad_setting_stops_a_flask_command_with_one_line_naming_it(tmp_path, name, value):
    line = _one_line(
        _start([str(BIN / "flask"), "--app", "wsgi", "db", "current"], tmp_path, **{name: value})
    )
    assert line.startswith(f"candor: {name} ") and "hunter2" not in line


def test_a_bad_setting_stops_the_worker_and_gunicorn_with_one_line_naming_it(tmp_path):
    worker = [str(BIN / "flask"), "--app", "app:create_jobs_app", "worker"]
    assert _one_line(_start(worker, tmp_path, CANDOR_COMMENT_BURST="-3")).startswith(
        "candor: CANDOR_COMMENT_BURST"
    )
    gunicorn = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0", "wsgi:app"]
    assert _one_line(_start(gunicorn, tmp_path, CANDOR_TIMEZONE="Mars/Olympus")).startswith(
        "candor: CANDOR_TIMEZONE"
    )
    assert _one_line(_start(gunicorn, tmp_path, GUNICORN_WORKERS="four")).startswith(
        "candor: GUNICORN_WORKERS must be"
    )


def test_a_worker_started_before_migrations_or_without_redis_stops_saying_so(database_url, tmp_path):
    worker = [str(BIN / "flask"), "--app", "app:create_jobs_app", "worker"]
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    line = _one_line(_start(worker, tmp_path, DATABASE_URL=empty, REDIS_URL="redis://127.0.0.1:6379/0"))
    assert "db upgrade" in line and "no migration" in line
    line = _one_line(_start(worker, tmp_path, DATABASE_URL=database_url, REDIS_URL="redis://127.0.0.1:1/0"))
    assert "Redis (REDIS_URL) cannot be reached" in line


def test_commands_and_the_worker_say_in_one_line_that_postgresql_refuses_connections(tmp_path):
    refused = "postgresql+psycopg://postgres:hunter2hunter2@127.0.0.1:1/candor"
    for args in (["wsgi", "db", "upgrade"], ["wsgi", "users", "list"], ["app:create_jobs_app", "worker"]):
        done = _start(
            [str(BIN / "flask"), "--app", *args],
            tmp_path,
            DATABASE_URL=refused,
            REDIS_URL="redis://127.0.0.1:6379/0",
        )
        line = _one_line(done)
        assert "cannot be reached" in line and "DATABASE_URL" in line and "hunter2" not in line, line


def test_each_gunicorn_server_on_a_host_gets_its_own_control_socket(tmp_path):
    from gunicorn.config import Config, ControlSocket

    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    paths = set()
    for bind in ("127.0.0.1:8601", "127.0.0.1:8602"):
        config = Config()
        config.set("bind", [bind])
        settings["on_starting"](SimpleNamespace(cfg=config))
        paths.add(config.control_socket)
    assert len(paths) == 2 and ControlSocket.default not in paths
    chosen = Config()
    chosen.set("control_socket", str(tmp_path / "mine.ctl"))
    settings["on_starting"](SimpleNamespace(cfg=chosen))
    assert chosen.control_socket == str(tmp_path / "mine.ctl")


def test_with_json_logs_every_line_gunicorn_writes_is_json_too(tmp_path):
    """CANDOR_LOG_FORMAT=json made Candor's lines JSON, but gunicorn's own (starting, listening, a
    worker booted, timed out or killed: what an operator most needs to find) stayed plain text in the
    same stream, which a JSON log pipeline cannot read."""
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("CANDOR_", "REDIS_", "MAIL_", "GUNICORN_"))
    }
    env = {
        **keep,
        "SECRET_KEY": "operator-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'operator.sqlite3'}",
        "CANDOR_LOG_FORMAT": "json",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    upgrade = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        answered = None
        for _ in range(240):
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.25)
        assert answered is not None and answered.status_code == 200
    finally:
        server.terminate()
        out, err = server.communicate(timeout=60)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, or this raises naming the one that is not
    assert any("Listening at" in r.get("message", "") for r in records), lines
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), lines
