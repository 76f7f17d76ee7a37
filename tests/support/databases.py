"""Fresh, migrated databases for each test, on SQLite and (when configured) PostgreSQL.

Migrating takes a while and history tables refuse DELETE, so each backend is migrated once into a
template, and every test gets its own copy: a file copy on SQLite, CREATE DATABASE ... TEMPLATE on
PostgreSQL. Tests therefore run against the real schema, triggers included, and never share rows.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app import migrate

POSTGRES_ENV = "CANDOR_TEST_POSTGRES_URL"
_counter = itertools.count()


def postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url or None


@contextlib.contextmanager
def bench_database(name: str) -> Iterator[str]:
    """A PostgreSQL database of a benchmark's own, created afresh and dropped on exit; yields its URL.

    The server is ``CANDOR_BENCH_POSTGRES_URL``, else ``CANDOR_TEST_POSTGRES_URL``, else the local one.
    """
    admin_url = make_url(
        os.environ.get("CANDOR_BENCH_POSTGRES_URL")
        or os.environ.get(POSTGRES_ENV)
        or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.sqlite3"
        migrate.upgrade(f"sqlite:///{self.path}")

    def fresh(self, directory: Path) -> str:
        target = directory / "candor.sqlite3"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        pass

    def close(self) -> None:
        pass


class PostgresTemplate:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.name = f"candor_tpl_{os.getpid()}"
        self._to_drop: queue.Queue[str | None] = queue.Queue()
        self._dropper: threading.Thread | None = None
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        url = self._url(self.name)
        migrate.upgrade(url)

    def _url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def fresh(self, directory: Path) -> str:
        name = f"candor_t_{os.getpid()}_{next(_counter)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"'))
        return self._url(name)

    def drop(self, url: str) -> None:
        """Dropped by a thread of its own while the next test runs: PostgreSQL checkpoints on each DROP
        DATABASE (~0.5 s measured, against ~0.08 s for the CREATE), which no test needs to wait for."""
        if self._dropper is None:
            self._dropper = threading.Thread(target=self._drop_each, name="candor-dropdb", daemon=True)
            self._dropper.start()
        self._to_drop.put(make_url(url).database)

    def _drop_each(self) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
        try:
            while (name := self._to_drop.get()) is not None:
                with engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            engine.dispose()

    def close(self) -> None:
        if self._dropper is not None:
            self._to_drop.put(None)
            self._dropper.join()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


# A test that only PostgreSQL can run (two connections writing at once, its planner, its options): it is
# collected for PostgreSQL alone, never collected and skipped for SQLite (CI allows no skip).
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def wait_for_lock_waiters(engine: Engine, count: int, *threads: threading.Thread) -> None:
    """Until ``count`` sessions of this database wait for a lock (or a thread has ended). Asked on a
    connection of its own, outside any transaction: PostgreSQL shows a transaction pg_stat_activity as
    it was when the transaction first looked."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
        for _ in range(400):
            waiting = watch.scalar(
                text(
                    "SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE NOT l.granted AND a.datname = current_database()"
                )
            )
            if waiting >= count or not all(t.is_alive() for t in threads):
                break
            time.sleep(0.05)
    assert waiting >= count
