"""Comment submissions per second, against a bare Flask endpoint that only inserts a row, in one run.

Run: ``.venv/bin/python bench/bench_comments.py [--database postgresql]``. It builds a throwaway database
the way bench_post_page.py does (SQLite, or with ``--database postgresql`` a database of its own on
``CANDOR_BENCH_POSTGRES_URL`` / ``CANDOR_TEST_POSTGRES_URL``; migrated, demo content, a published post),
starts a local Akismet-speaking server (tests/support/akismet_server.py) answering after
``--akismet-delay`` seconds (1), and two gunicorns with identical settings (2 gthread workers, one
trusted proxy so each request's X-Forwarded-For is its reader's address), jobs on Redis as in production
(the job worker is not started: it runs elsewhere, and the request only enqueues):

* Candor, taking ``POST /api/v1/posts/<id>/comments``: by default (``--budget-ms 0``, Akismet slower than
  the budget) what a comment POST does when the checks are slow: text checks, honeypot, rate facts,
  impersonation, links, privacy scan, the insert of the comment, its decision and its counts, the
  enqueue of its remaining checks, and the 202 "checking" answer (taken by the intake, app/web/intake.py,
  without entering Flask, as production's layout is). ``--budget-ms 5000 --akismet-delay 0``
  runs the whole pipeline in the request instead (Akismet, the off-topic model, publication);
* a bare Flask app (``bare_app()`` below) whose endpoint parses the same JSON and inserts one row.

wrk (with a Lua script for the POST) loads them alternately, bare / candor / bare / candor ..., after a
warm-up of each; the output is every run and the cost ratio of the medians (bare req/s over comment
req/s; target <= 2), and each round's CPU per request of the processes that serve it (the gunicorn's
master and workers, the bench database's PostgreSQL backends and WAL writer, Redis; not wrk's, the same
for both), split into app, database and Redis, with the ratio of their medians. Without wrk a Python
load generator stands in, and the output says so. Every request is a different comment from a different
address, so the default rate limits apply (in Redis, measured as part of the request) without holding
anything.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SECRET = "bench-secret-key-not-for-production"
EMAIL = "bench.reader@example.net"
COMMENT = {
    "author_name": "Bench Reader",
    "author_email": EMAIL,
    "body": "Thank you, this helped. Does a short nap in the afternoon count towards the hours of sleep?",
}

# wrk's script: a different comment from a different address in each request (counter spread over 10.x.y.z).
LUA = """\
counter = START
request = function()
  counter = counter + 1
  local body = string.format(TEMPLATE, counter)
  local ip = string.format("10.%d.%d.%d", math.floor(counter / 65536) % 256, math.floor(counter / 256) % 256,
                           counter % 256)
  local headers = {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}
  return wrk.format("POST", nil, headers, body)
end
"""


# --- the baseline: a bare Flask endpoint that inserts one row ---------------------------------------


def bare_app() -> Any:
    """``gunicorn 'bench_comments:bare_app()'``: parse the JSON, insert one row, commit, answer 201."""
    from flask import Flask, request
    from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert
    from sqlalchemy.exc import DBAPIError

    from app.db import make_engine

    engine = make_engine(os.environ["DATABASE_URL"])
    rows = Table(
        "bench_rows",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("author_name", String(200)),
        Column("author_email", String(320)),
        Column("body", Text),
    )
    try:
        rows.create(engine, checkfirst=True)
    except DBAPIError:  # the other gunicorn worker created it a moment ago (checkfirst is not atomic)
        pass
    app = Flask(__name__)

    @app.post("/comments")
    def add() -> Any:
        data = request.get_json()
        with engine.begin() as conn:
            new_id = conn.execute(
                insert(rows).values(
                    author_name=data["author_name"], author_email=data["author_email"], body=data["body"]
                )
            ).inserted_primary_key[0]
        return {"id": new_id}, 201

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    return app


# --- setup ----------------------------------------------------------------------------------------------


def prepare(directory: Path, akismet_env: dict[str, str], url: str | None = None) -> tuple[str, int, str]:
    """The database of bench_post_page.py (SQLite, or the empty PostgreSQL database ``url``), plus one
    published comment by the bench's reader."""
    os.environ.update(akismet_env)
    from bench_post_page import build_database
    from sqlalchemy import create_engine, text

    url, slug, how = build_database(directory, url)
    engine = create_engine(url)
    with engine.connect() as conn:
        post_id = conn.execute(text("SELECT id FROM posts WHERE slug = :s"), {"s": slug}).scalar_one()
    engine.dispose()

    from app import create_app
    from app.comments import services
    from app.comments.views import pipeline_settings
    from app.moderation.services import moderate
    from app.web.outside import akismet_checker

    # Jobs run inline here: no consumer thread left running (and reading the bench database) in this process.
    app = create_app({"DATABASE_URL": url, "JOBS_MODE": "immediate", **_config(akismet_env)})
    session = app.extensions["candor.sessions"]()
    from sqlalchemy import select

    from app.accounts.models import Role, User, UserRole
    from app.posts.models import Post

    post = session.get(Post, post_id)
    moderator = session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.MODERATOR.value)
    ).first()
    with app.test_request_context("/"):
        first = services.submit_comment(
            session,
            post,
            services.CommentInput(**COMMENT, ip="127.0.0.1", permalink=f"/posts/{slug}"),
            actor=None,
            checker=akismet_checker(),
            settings=pipeline_settings(),
        )
        if first.status != "published":
            moderate(session, moderator, first, "approve")
    session.commit()
    session.close()
    app.extensions["candor.engine"].dispose()
    return url, post_id, how


def _config(akismet_env: dict[str, str]) -> dict[str, Any]:
    return {
        "AKISMET_API_KEY": akismet_env["AKISMET_API_KEY"],
        "AKISMET_API_URL": akismet_env["AKISMET_API_URL"],
        "AKISMET_BLOG_URL": akismet_env["AKISMET_BLOG_URL"],
    }


# --- load -------------------------------------------------------------------------------------------


_runs = iter(range(1, 10**6))


def run_wrk(
    url: str, *, duration: float, connections: int, threads: int, lua: Path
) -> tuple[float, str, int]:
    # Each run starts its counter far from the others', so no reader address comes back in a later run.
    run = next(_runs)
    script = lua.with_name(f"run-{run}.lua")
    script.write_text(lua.read_text().replace("START", str(run * 200_000)))
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if match is None or total is None:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    notes = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return float(match.group(1)), "; ".join(notes), int(total.group(1))


def run_python(
    url: str, *, duration: float, connections: int, threads: int, lua: Path
) -> tuple[float, str, int]:
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.split(":")
    counts, errors = [0] * connections, [0] * connections
    deadline = time.monotonic() + duration
    base = next(_runs) * 200_000

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            body = json.dumps({**COMMENT, "body": f"{COMMENT['body']} ({i}.{n})"})
            try:
                k = base + i * 20_000 + n
                ip = f"10.{(k // 65536) % 256}.{(k // 256) % 256}.{k % 256}"
                headers = {"Content-Type": "application/json", "X-Forwarded-For": ip}
                conn.request("POST", "/" + path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    counts[i] += 1
                else:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.close()

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    return sum(counts) / elapsed, f"{sum(errors)} errors" if sum(errors) else "", sum(counts) + sum(errors)


def serving_cpu(server: Any, database: str | None) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every process that serves a request, by part: ``app`` (the gunicorn's master
    and workers), ``database`` (the bench database's PostgreSQL backends and the WAL writer: a commit's
    flush), ``redis``. Not the load generator's (the same for both endpoints). Read from /proc
    (floor_comment_post.server_cpu)."""
    from floor_comment_post import server_cpu

    return {
        "app": process_tree_cpu(server.process.pid),
        "database": server_cpu(database, "walwriter") if database else {},
        "redis": server_cpu("redis-server"),
    }


def process_tree_cpu(root: int) -> dict[int, float]:
    """User+system seconds of ``root`` and its children (gunicorn's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(entry.name) == root or int(fields[1]) == root:  # fields[1]: the parent's pid
            seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return seconds


def spent(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each part spent between two ``serving_cpu`` readings (new processes from zero)."""
    return {
        part: sum(value - before[part].get(pid, 0.0) for pid, value in now.items())
        for part, now in after.items()
    }


def post_json(port: int, path: str) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        # Not COMMENT's text: the same writer's same text again would be answered as the comment stored.
        body = json.dumps({**COMMENT, "body": COMMENT["body"] + " (a first one)"})
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="measured runs of each server (at least 2)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: a throwaway database on CANDOR_BENCH_POSTGRES_URL (or CANDOR_TEST_POSTGRES_URL)",
    )
    parser.add_argument(
        "--akismet-delay", type=float, default=1.0, help="seconds the local Akismet takes to answer"
    )
    parser.add_argument(
        "--budget-ms",
        type=int,
        default=0,
        help="CANDOR_COMMENT_CHECK_BUDGET_MS (0: answer at once). Akismet slower than this (--akismet-delay) "
        "and the comment is stored, answered 202 checking and its checks enqueued, after holding a thread "
        "for the budget; --budget-ms 5000 --akismet-delay 0 measures the whole pipeline inside the request",
    )
    args = parser.parse_args(argv)
    rounds = max(2, args.rounds)

    from bench_post_page import Gunicorn
    from sqlalchemy import create_engine, text

    from tests.support.akismet_server import AkismetServer
    from tests.support.databases import bench_database

    if shutil.which("wrk"):
        load, tool = run_wrk, f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s (POST via Lua)"
    else:
        load = run_python
        tool = f"python load generator ({args.connections} keep-alive threads, {args.duration:g} s)"
        print("wrk not found on PATH: falling back to a Python load generator (lower absolute numbers)")

    deferred = args.akismet_delay * 1000 > args.budget_ms
    os.environ["CANDOR_COMMENT_CHECK_BUDGET_MS"] = str(args.budget_ms)
    # No worker judges the comments stored here, so they all stay being checked: without this, the
    # backlog limit would answer most POSTs 503 busy once 100 were waiting (the intake is measured).
    os.environ["CANDOR_COMMENT_BACKLOG"] = "0"
    # Jobs go to Redis, as in production: the request only enqueues, and the job worker (not started
    # here; in production on its own machine or cores) would run them. Without REDIS_URL the checks
    # would run on threads inside the very gunicorn processes being measured.
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"
    queue = f"candor_bench_comments_{os.getpid()}"
    databases = contextlib.ExitStack()  # the PostgreSQL database of this run, dropped at the end
    pg_url = databases.enter_context(bench_database(queue)) if args.database == "postgresql" else None
    try:
        with (
            tempfile.TemporaryDirectory(prefix="candor-bench-comments-") as tmp,
            AkismetServer(slow_seconds=args.akismet_delay) as akismet,
        ):
            if args.akismet_delay > 0:
                akismet.set_mode("slow")
            directory = Path(tmp)
            akismet_env = {
                "AKISMET_API_KEY": akismet.api_key,
                "AKISMET_API_URL": akismet.base_url,
                "AKISMET_BLOG_URL": "http://blog.example.org/",
                "AKISMET_TIMEOUT": str(args.akismet_delay + 2),
            }
            url, post_id, how = prepare(directory, akismet_env, pg_url)
            lua = directory / "post.lua"
            # Each request a different comment from a different reader's address (behind one trusted
            # proxy), as real traffic is; the same requests for both servers.
            template = json.dumps({**COMMENT, "body": COMMENT["body"] + " (%d)"})
            lua.write_text(LUA.replace("TEMPLATE", json.dumps(template)))
            env = {
                "DATABASE_URL": url,
                "CANDOR_ENV": "development",
                "SECRET_KEY": SECRET,
                "PYTHONPATH": str(ROOT),
                **akismet_env,
                "CANDOR_TRUSTED_PROXIES": "1",
                "REDIS_URL": redis_url,
                "CANDOR_JOBS_QUEUE": queue,
            }
            candor = Gunicorn(
                "candor", "wsgi:app", chdir=ROOT, env=env, workers=args.workers, log_dir=directory
            )
            bare = Gunicorn(
                "bare",
                "bench_comments:bare_app()",
                chdir=ROOT / "bench",
                env=env,
                workers=args.workers,
                log_dir=directory,
            )
            comment_path = f"/api/v1/posts/{post_id}/comments"
            results: dict[str, list[float]] = {"bare": [], "comments": []}
            cpu_ms: dict[str, list[float]] = {"bare": [], "comments": []}
            database = f" {pg_url.rsplit('/', 1)[1]} " if pg_url else None
            try:
                candor.wait_until_ready("/")
                bare.wait_until_ready("/hello")
                status, answer = post_json(candor.port, comment_path)
                if status != (202 if deferred else 201):
                    raise SystemExit(f"a benchmark comment was answered {status} {answer}; see {candor.log}")
                each = (
                    f"stored and answered 202 checking (Akismet answers after {args.akismet_delay:g} s, the "
                    f"budget is {args.budget_ms} ms); its checks enqueued on Redis for the job worker"
                    if deferred
                    else "the full pipeline, a local Akismet round trip, then published"
                )
                print(f"database: {args.database}; post: {how}; each comment: {each}")
                print(
                    f"load: {tool}; gunicorn: {args.workers} gthread workers each; rounds: {rounds}, "
                    f"alternating; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
                )
                for server, path in ((bare, "/comments"), (candor, comment_path)):
                    load(
                        server.url(path),
                        duration=args.warmup,
                        connections=args.connections,
                        threads=args.threads,
                        lua=lua,
                    )
                for n in range(1, rounds + 1):
                    for label, server, path in (
                        ("bare", bare, "/comments"),
                        ("comments", candor, comment_path),
                    ):
                        before = serving_cpu(server, database)
                        rps, note, requests = load(
                            server.url(path),
                            duration=args.duration,
                            connections=args.connections,
                            threads=args.threads,
                            lua=lua,
                        )
                        parts = {
                            part: seconds / max(requests, 1) * 1000
                            for part, seconds in spent(before, serving_cpu(server, database)).items()
                        }
                        cpu = sum(parts.values())
                        results[label].append(rps)
                        cpu_ms[label].append(cpu)
                        split = ", ".join(f"{part} {ms:.2f}" for part, ms in parts.items())
                        print(
                            f"round {n}  {label:8s}  {rps:9.1f} req/s  {cpu:.2f} CPU ms/request ({split})"
                            + (f"  ({note})" if note else ""),
                            flush=True,
                        )
            finally:
                candor.stop()
                bare.stop()
            engine = create_engine(url)
            with engine.connect() as conn:
                by_status = dict(
                    conn.execute(text("SELECT status, count(*) FROM comments GROUP BY status")).all()
                )
                held_for = dict(
                    conn.execute(
                        text(
                            "SELECT CAST(reasons AS TEXT), count(*) FROM comments WHERE status <> 'published'"
                            " GROUP BY CAST(reasons AS TEXT)"
                        )
                    ).all()
                )
            engine.dispose()
            print(f"not published, by reasons: {held_for}" if held_for else "every comment was published")
            print(
                f"comments stored by status: {by_status}; Akismet calls answered in requests: "
                f"{len(akismet.requests_to('/1.1/comment-check'))}"
            )
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
        client.close()
        databases.close()

    cpu_ratio = statistics.median(cpu_ms["comments"]) / statistics.median(cpu_ms["bare"])
    bare_median = statistics.median(results["bare"])
    comments_median = statistics.median(results["comments"])
    ratio = bare_median / comments_median
    print(f"median: bare insert {bare_median:.1f} req/s, comment submission {comments_median:.1f} req/s")
    print(f"cost of a comment POST / a bare insert = {ratio:.2f}  (target <= 2)")
    bare_cpu, comment_cpu = statistics.median(cpu_ms["bare"]), statistics.median(cpu_ms["comments"])
    print(
        "CPU per request (the app server's processes, PostgreSQL's backends and WAL writer, Redis), medians:"
        f" bare insert {bare_cpu:.2f} ms, comment {comment_cpu:.2f} ms;"
        f" CPU cost of a comment POST / a bare insert = {cpu_ratio:.2f}  (target <= 2)"
    )
    print(
        json.dumps(
            {
                "bare": results["bare"],
                "comments": results["comments"],
                "cost_ratio": round(ratio, 3),
                "cpu_ms": cpu_ms,
                "cpu_cost_ratio": round(cpu_ratio, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
