"""Gunicorn's settings for Candor: ``gunicorn -c gunicorn.conf.py wsgi:app`` (README, "Production layout").

Worker class: gthread. A request that waits on I/O (PostgreSQL, Redis, SMTP for the few mails still
sent in-request, a slow reader on a keep-alive connection) holds one thread, not a whole process, and
keep-alive connections are served (the sync class closes every connection). Candor's code is threaded
already (one SQLAlchemy session per request, thread-safe page cache), so no monkey-patching async class
(gevent, eventlet) is needed; Akismet and the other slow calls run as jobs on the queue, not in requests.

Environment: GUNICORN_WORKERS (processes, default 2 × cores + 1), GUNICORN_THREADS (threads per process,
default 4), GUNICORN_BIND (default 127.0.0.1:8000). Keep workers × threads under the database's
connection budget: each thread may hold one pooled connection (pool 5 + overflow 10 per process).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
keepalive = 5
timeout = 30
graceful_timeout = 30
max_requests = 10000  # recycle a worker now and then, so a slow leak can never take a server down
max_requests_jitter = 1000
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # Candor logs each request itself (JSON with CANDOR_LOG_FORMAT=json), with its request id


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    """Before a worker takes connections: compile the SQL and templates of the home page and the newest
    post (app/web/warmup.py), so the first reader after a restart is not the one who pays for it."""
    from app.web.warmup import warm_up

    warm_up(worker.wsgi)
