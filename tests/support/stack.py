"""Candor as production runs it, on one machine and without docker: N gunicorn app servers (gthread,
gunicorn.conf.py) and one job worker (``flask --app app:create_jobs_app worker``) over one PostgreSQL
database and one Redis, all real processes. Used by tests/test_two_servers.py, bench/two_servers.py and
bench/bench_flood.py.

PostgreSQL and Redis are the ones already running (``CANDOR_TEST_POSTGRES_URL``, the server's admin
URL, and ``REDIS_URL``, default ``redis://127.0.0.1:6379/14``): the stack creates a database of its own
(dropped at the end) and a queue name of its own, so several stacks can share them.

    with Stack(servers=2) as stack:
        stack.url(0, "/healthz"); stack.url(1, "/healthz")
        with stack.session() as session: ...        # the same database, from the test's process
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "stack-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        sent = {**({"Content-Type": "application/json"} if payload is not None else {}), **(headers or {})}
        conn.request(method, path, body=payload, headers=sent)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


class Stack:
    def __init__(
        self,
        *,
        servers: int = 2,
        workers_per_server: int = 2,
        threads: int = 4,
        job_threads: int = 16,
        env: dict[str, str] | None = None,
        admin_url: str | None = None,
        redis_url: str | None = None,
        log_dir: Path | None = None,
        pin: dict[str, str] | None = None,
        nice: dict[str, int] | None = None,
    ) -> None:
        admin = admin_url or os.environ.get("CANDOR_TEST_POSTGRES_URL")
        if not admin:
            raise RuntimeError("set CANDOR_TEST_POSTGRES_URL to a PostgreSQL server's admin URL")
        self.admin_url = make_url(admin).set(drivername="postgresql+psycopg")
        self.name = f"candor_stack_{uuid.uuid4().hex[:10]}"
        self.database_url = self.admin_url.set(database=self.name).render_as_string(hide_password=False)
        self.redis_url = redis_url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"
        self.queue = self.name
        self.servers = servers
        self.workers_per_server = workers_per_server
        self.threads = threads
        self.job_threads = job_threads  # a job waiting on Akismet holds a thread: rate × latency of them
        self.extra_env = env or {}
        self.log_dir = log_dir or Path(f"/tmp/{self.name}")
        # CPUs per process ("server0", "server1", "worker" -> "0", "1-3" ...), through taskset: a benchmark
        # keeps the servers it measures off the cores its own load generator and the worker use.
        self.pin = pin or {}
        # Scheduling niceness per process (as ``pin``), through nice(1): an operator's lower priority for
        # the pool that takes comment POSTs, so a flood slows its own intake before judging or reading.
        self.nice = nice or {}
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    # --- lifecycle ---------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CANDOR_", "REDIS_", "AKISMET_", "MAIL_"))
        }
        return {
            **keep,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CANDOR_JOBS_QUEUE": self.queue,
            "SECRET_KEY": SECRET,
            "CANDOR_ENV": "development",
            "CANDOR_PUBLIC_URL": "http://127.0.0.1",
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        engine.dispose()
        from app import migrate

        migrate.upgrade(self.database_url)
        self.spawn_all()

    def spawn_all(self) -> None:
        """Start the app servers (on the ports they had, if restarted) and the worker; wait until healthy."""
        bin_dir = Path(sys.executable).parent
        env = self.env()
        try:
            for n in range(self.servers):
                if n == len(self.ports):
                    self.ports.append(free_port())
                port = self.ports[n]
                self._spawn(
                    f"server{n}",
                    [
                        str(bin_dir / "gunicorn"),
                        "-c",
                        str(ROOT / "gunicorn.conf.py"),
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        str(self.workers_per_server),
                        "--threads",
                        str(self.threads),
                        "wsgi:app",
                    ],
                    env,
                )
            self._spawn(
                "worker",
                [
                    str(bin_dir / "flask"),
                    *("--app", "app:create_jobs_app", "worker"),
                    *("--workers", str(self.job_threads)),
                ],
                env,
            )
            for port in self.ports:
                self._wait(port)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        if name in self.pin:
            command = ["taskset", "-c", self.pin[name], *command]
        if name in self.nice:
            command = ["nice", "-n", str(self.nice[name]), *command]
        with (self.log_dir / f"{name}.log").open(
            "ab"
        ) as log:  # a restart appends  # the child keeps its own copy
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )
            self.processes.append(process)
        if name in self.nice:
            # A new session is a scheduling group of its own where the kernel groups by session
            # (autogroup): there, nice(1) orders only the group's own processes, and the group's weight is
            # set here.
            try:
                Path(f"/proc/{process.pid}/autogroup").write_text(str(self.nice[name]))
            except OSError:
                pass

    def _wait(self, port: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a stack process exited; logs in {self.log_dir}")
            try:
                if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"port {port} did not become healthy; logs in {self.log_dir}")

    def restart(self) -> None:
        """Stop every app server and the worker (SIGTERM, as a deploy does) and start them again."""
        self._terminate()
        self.spawn_all()

    def _terminate(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def stop(self) -> None:
        self._terminate()
        import redis

        client = redis.Redis.from_url(self.redis_url)
        for key in client.scan_iter(f"{self.queue}*"):
            client.delete(key)
        for key in client.scan_iter("huey*" + self.queue + "*"):
            client.delete(key)
        client.close()
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        engine.dispose()

    # --- use ---------------------------------------------------------------------------------------

    def url(self, server: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[server]}{path}"

    def call(self, server: int, method: str, path: str, body: Any = None, **headers: str) -> Any:
        status, answer_headers, data = request(self.ports[server], method, path, body, headers)
        return status, answer_headers, data

    @contextmanager
    def app(self) -> Iterator[Any]:
        """A Candor app on the stack's database, in this process (to seed and to inspect)."""
        from app import create_app

        application = create_app(
            {"DATABASE_URL": self.database_url, "TESTING": True, "SECRET_KEY": SECRET, "REDIS_URL": None}
        )
        try:
            yield application
        finally:
            application.extensions["candor.engine"].dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.app() as application:
            session = application.extensions["candor.sessions"]()
            try:
                yield session
            finally:
                session.close()


def staff_tokens(stack: Stack, tag: str = "") -> tuple[str, str]:
    """An author (with a current disclosure) and an editor made in the stack's database, e-mails marked
    with ``tag`` (several per database): their API tokens, the writer's and the approver's."""
    from app.accounts.models import Role
    from app.accounts.services import create_token, create_user
    from app.disclosures.services import record_disclosure
    from tests.support.web import PASSWORD

    people = {
        "author": ("Ana Author", Role.AUTHOR, "Physician", "Internal Medicine"),
        "editor": ("Eli Editor", Role.EDITOR, "Editor", "Public Affairs"),
    }
    with stack.session() as session:
        made = {
            key: create_user(
                session,
                email=f"{key}{tag}@clinic.example",
                name=name,
                password=PASSWORD,
                roles={role},
                title=title,
                department=department,
            )
            for key, (name, role, title, department) in people.items()
        }
        record_disclosure(session, made["author"], no_conflicts=True, interests=[])
        tokens = create_token(session, made["author"]), create_token(session, made["editor"])
        session.commit()
    return tokens


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """Whether a Redis answers a PING at ``url`` within ``timeout`` seconds."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout).ping())
    except redis.RedisError:
        return False


def stack_can_run(redis_url: str = "redis://127.0.0.1:6379/14") -> bool:
    """A ``Stack`` needs a PostgreSQL (CANDOR_TEST_POSTGRES_URL) and a Redis answering at ``redis_url``."""
    return bool(os.environ.get("CANDOR_TEST_POSTGRES_URL")) and redis_answers(redis_url)
