"""Gunicorn's settings for Candor: ``gunicorn -c gunicorn.conf.py wsgi:app`` (README, "Production layout").

Worker class: gthread. A request that waits on I/O (PostgreSQL, Redis, SMTP for the few mails still
sent in-request, a slow reader on a keep-alive connection) holds one thread, not a whole process, and
keep-alive connections are served (the sync class closes every connection). Candor's code is threaded
already (one SQLAlchemy session per request, thread-safe page cache), so no monkey-patching async class
(gevent, eventlet) is needed; Akismet and the other slow calls run as jobs on the queue, not in requests.

Environment: GUNICORN_WORKERS (processes, default 2 × cores + 1), GUNICORN_THREADS (threads per process,
default 4), GUNICORN_BIND (default 127.0.0.1:8000), GUNICORN_MAX_REQUESTS (requests before a worker
is replaced, default 1,000,000, at least 1,000; 0: never). Keep workers × threads under the database's
connection budget: each thread may hold one pooled connection (CANDOR_DB_POOL_SIZE, 16, kept + overflow 10
per process). gunicornc's control socket is one per address (~/.gunicorn/candor-<bind>.ctl)
unless --control-socket says otherwise. A bad value of these or of Candor's settings stops gunicorn
at once with one line naming it.
"""

import multiprocessing
import os
import re
import sys
from pathlib import Path


def _whole(name: str, default: int, low: int, *, or_zero: bool = False) -> int:
    """A whole-number setting from the environment (at least ``low``, or 0 if ``or_zero``), or one clear
    line naming it (not a traceback)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"candor: {name} must be a whole number, not {raw!r}") from None
    if value < low and not (or_zero and value == 0):
        floor = f"0 or at least {low}" if or_zero else f"at least {low}"
        raise SystemExit(f"candor: {name} must be {floor}, not {value}")
    return value


def _candor_settings() -> None:
    """Read Candor's settings once in the master, before it binds or forks: a bad one stops gunicorn with
    one line naming it (config.ConfigError), instead of every worker failing to boot with a traceback."""
    root = Path(__file__).resolve().parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import config

    try:
        config.load(root / "instance")
    except config.ConfigError as error:
        sys.exit(f"candor: {error}")


_candor_settings()
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = _whole("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1, 1)
threads = _whole("GUNICORN_THREADS", 4, 1)
keepalive = 5
timeout = 30
graceful_timeout = 30
# Recycle a worker now and then, so a slow leak can never take a server down; but rarely: a new worker
# imports the app and warms up (about a second of CPU) and starts with an empty page cache. A cached post
# page is answered ~1,500 times a second per server on 2 cores, so the old 10,000 recycled each worker every
# few seconds under load (the flood bench: readers 0.41-0.53 of unloaded with it, 0.61-0.70 without).
max_requests = _whole("GUNICORN_MAX_REQUESTS", 1_000_000, 1000, or_zero=True)  # 0: never
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # Candor logs each request itself (JSON with CANDOR_LOG_FORMAT=json), with its request id

if os.environ.get("CANDOR_LOG_FORMAT", "").strip() == "json":
    # gunicorn's own lines (starting, listening, a worker booted, timed out or killed) as JSON too, in
    # the fields Candor's lines have (app/web/ops.py), so a JSON log pipeline reads the whole stream.
    # The root logger gets no handler here (Candor's own is added by the app), and gunicorn's access
    # lines stay off (a logging config would turn them on): Candor writes one per request already.
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {
                "level": "INFO",
                "handlers": ["error_console"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
            "gunicorn.access": {
                "level": "INFO",
                "handlers": ["null"],
                "propagate": False,
                "qualname": "gunicorn.access",
            },
        },
        "handlers": {
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "null": {"class": "logging.NullHandler"},
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
    }


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook
    """gunicorn's control socket (gunicornc) defaults to one path per user, which a second app server on
    the same host takes over (and removes when it stops): give each server its own, named after its
    address (the bind from GUNICORN_BIND or --bind), unless --control-socket chose one."""
    from gunicorn.config import ControlSocket

    if server.cfg.control_socket == ControlSocket.default:
        address = re.sub(r"[^A-Za-z0-9.]+", "-", "_".join(server.cfg.bind)).strip("-")
        server.cfg.set("control_socket", str(Path(ControlSocket.default).parent / f"candor-{address}.ctl"))


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    """Before a worker takes connections: compile the SQL and templates of the home page and the newest
    post (app/web/warmup.py), so the first reader after a restart is not the one who pays for it."""
    from app.web.warmup import warm_up

    warm_up(worker.wsgi)
