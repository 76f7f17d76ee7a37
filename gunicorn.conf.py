"""Gunicorn's settings for Candor: ``gunicorn -c gunicorn.conf.py wsgi:app`` (README, "Production layout").

Worker class: gthread. A request that waits on I/O (PostgreSQL, Redis, SMTP for the few mails still
sent in-request, a slow reader on a keep-alive connection) holds one thread, not a whole process, and
keep-alive connections are served (the sync class closes every connection). Candor's code is threaded
already (one SQLAlchemy session per request, thread-safe page cache), so no monkey-patching async class
(gevent, eventlet) is needed; Akismet and the other slow calls run as jobs on the queue, not in requests.

Environment: GUNICORN_WORKERS (processes, default 2 × cores + 1), GUNICORN_THREADS (threads per process,
default 4), GUNICORN_BIND (default 127.0.0.1:8000). gunicornc's control socket is one per address
(~/.gunicorn/candor-<bind>.ctl) unless --control-socket says otherwise. A bad value of these or of
Candor's settings stops gunicorn at once with one line naming it. Keep workers × threads under the
database's connection budget: each thread may hold one pooled connection (pool 5 + overflow 10 per process).
"""

import multiprocessing
import os
import re
import sys
from pathlib import Path


def _whole(name: str, default: int, high: int) -> int:
    """A whole number from 1 to ``high`` from the environment; anything else stops gunicorn with one line."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        sys.exit(f"candor: {name} must be a whole number from 1 to {high}, not {raw!r}")
    return int(raw)


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
bind = os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"
worker_class = "gthread"
workers = _whole("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1, 1024)
threads = _whole("GUNICORN_THREADS", 4, 1024)
keepalive = 5
timeout = 30
graceful_timeout = 30
max_requests = 10000  # recycle a worker now and then, so a slow leak can never take a server down
max_requests_jitter = 1000
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # Candor logs each request itself (JSON with CANDOR_LOG_FORMAT=json), with its request id


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
