"""Start the production layout on this machine, without docker, and keep it running until Ctrl-C.

Run: ``CANDOR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres
.venv/bin/python bench/two_servers.py [--servers 2]``. It creates a database of its own on that
PostgreSQL server (migrated, empty), starts ``--servers`` gunicorn app servers (gunicorn.conf.py:
gthread) and one job worker (``flask --app app:create_jobs_app worker``) sharing it and Redis
(``REDIS_URL``, default ``redis://127.0.0.1:6379/14``, with a queue name of its own), prints their
addresses and the environment to reach the same database from a shell, and on Ctrl-C stops them all
and drops the database. tests/test_two_servers.py runs the same layout (tests/support/stack.py).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.stack import Stack  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes per server")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Stack(servers=args.servers, workers_per_server=args.workers) as stack:
        for n in range(args.servers):
            print(f"app server {n}: {stack.url(n, '/')}  (health: {stack.url(n, '/healthz')})")
        print(f"worker: flask --app app:create_jobs_app worker; logs in {stack.log_dir}")
        print(
            f"export DATABASE_URL={stack.database_url} REDIS_URL={stack.redis_url} "
            f"CANDOR_JOBS_QUEUE={stack.queue}"
        )
        print("Ctrl-C stops everything and drops the database.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
