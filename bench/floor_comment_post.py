"""The least a reader's comment POST can cost with Candor's guarantees, against a bare insert (issue 15).

Run: ``.venv/bin/python bench/floor_comment_post.py [--n 2000] [--rounds 3]`` (PostgreSQL on
``CANDOR_BENCH_POSTGRES_URL`` / ``CANDOR_TEST_POSTGRES_URL``, Redis on ``REDIS_URL``, both local).

Three endpoints of one bare Flask app (no Candor middleware, no extensions), driven through Flask's
test client, each POST a different comment from a different address:

- ``bare``: bench_comments.bare_app's insert (parse the JSON, insert one row, commit, answer 201);
- ``floor``: only what a comment's arrival must do, each part through the raw drivers (psycopg, redis-py),
  the statements compiled once from Candor's own: validate and clean the input (``services.clean``),
  render its HTML, one Redis script for both rate-limit windows and the burst count, then ``BEGIN``, the
  post's row key-share-locked with the duplicate lock and the settings' version (``comment_target``'s
  statement), the one-statement arrival (the comment, its ``submit`` decision, its two tally rows:
  ``_arrival_statement``), ``COMMIT``, and one ``LPUSH`` of the job's message; then sign the status token;
- with ``--candor``: ``floor in candor``, the same route added to Candor's app (its WSGI middleware:
  request id and metrics, page cache, security headers, proxy; Flask's request hooks), and ``candor``,
  Candor's own ``POST /api/v1/posts/<id>/comments``.

It prints the CPU per POST of this process (``time.process_time``) and of the PostgreSQL and Redis
servers (their processes' user+system time from /proc, every process of each: the WAL writer's work on a
commit counts), and the ratios of the totals. On one machine a load generator and an app server would
add their own share to both sides alike; the ratio of these totals is what a comment costs over a bare
insert before any framework, and so a bound on what any comment intake with these guarantees can reach.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

_TICK = os.sysconf("SC_CLK_TCK")

_LIMITS_AND_BURST = """
local m = redis.call('incrby', KEYS[1], 1)
if m == 1 then redis.call('expire', KEYS[1], 60) end
local d = redis.call('incrby', KEYS[2], 1)
if d == 1 then redis.call('expire', KEYS[2], 86400) end
redis.call('zremrangebyscore', KEYS[3], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local earlier = redis.call('zcard', KEYS[3])
redis.call('zadd', KEYS[3], tonumber(ARGV[1]), ARGV[3])
redis.call('pexpire', KEYS[3], tonumber(ARGV[2]))
return {m, d, earlier}
"""


def server_cpu(*names: str) -> dict[int, float]:
    """User+system seconds of each process on this machine whose command line holds one of ``names``
    (a PostgreSQL backend's names its database: ``postgres: postgres <database> ...``)."""
    seconds: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        if any(name in command for name in names):
            fields = stat[stat.rindex(")") + 2 :].split()
            seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return seconds


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes spent between two ``server_cpu`` readings (new ones from zero)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


class Raw:
    """A SQLAlchemy statement compiled once for psycopg, its parameters processed as SQLAlchemy would."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.compiled = compiled
        self.sql = str(compiled)
        self.processors = {
            key: processor
            for key, bind in compiled.binds.items()
            if (processor := bind.type._cached_bind_processor(dialect)) is not None
        }

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        out = self.compiled.construct_params(values)
        for key, processor in self.processors.items():
            if key in out:
                out[key] = processor(out[key])
        return out


def floor_routes(app: Any, engine: Any, redis_url: str, *, exempt: Any = None) -> None:
    import redis
    from flask import request

    from app.clock import utc_now
    from app.comments import services, tokens
    from app.spam import pipeline

    client = redis.Redis.from_url(redis_url)
    script = client.register_script(_LIMITS_AND_BURST)
    target = Raw(services._target_query(locking=True), engine.dialect)
    arrival = Raw(services._arrival_statement(reply=False, notify=False), engine.dialect)
    raw = engine.raw_connection()  # one connection, as a pool would hand it out
    connection = raw.driver_connection
    settings = pipeline.PipelineSettings.from_config(app.config)
    secret = "floor-secret"

    @app.post("/floor/<int:post_id>")
    def floor(post_id: int) -> Any:
        data = request.get_json()
        for name in ("author_name", "author_email", "body"):
            if not isinstance(data.get(name), str):
                return {"error": name}, 400
        ip = request.headers.get("X-Forwarded-For", "")
        given = services.clean(
            services.CommentInput(
                author_name=data["author_name"],
                author_email=data["author_email"],
                body=data["body"],
                ip=ip,
                user_agent=request.headers.get("User-Agent", ""),
                referrer=request.headers.get("Referer", ""),
                permalink="",
            )
        )
        html = services._render(given.body)
        now = utc_now()
        twin_key = services._twin_key(post_id, given)
        address = hashlib.sha256(ip.encode()).hexdigest()[:32]
        minute, day, earlier = script(
            keys=[f"floor:m:{address}", f"floor:d:{address}", f"floor:b:{address}"],
            args=[int(now.timestamp() * 1000), 60_000, str(twin_key)],
        )
        if minute > 10**9 or day > 10**9:
            return {"error": "limit"}, 429
        submission = pipeline.Submission(
            author_name=given.author_name,
            author_email=given.author_email,
            body=given.body,
            ip=given.ip,
            user_agent=given.user_agent,
            referrer=given.referrer,
            permalink="",
            is_reply=False,
            post=services.relevance.PostContext("", "", key=str(post_id)),
            post_modified_at=None,
            submitted_at=now,
            links=0,
            honeypot=given.honeypot,
            form_age=given.form_age,
        )
        checks = [r.as_dict() for r in pipeline.run_at_arrival(submission, settings, pipeline.Facts(earlier))]
        with connection.transaction():
            row = connection.execute(target.sql, target.params({"post_id": post_id, "twin_key": twin_key}))
            slug = row.fetchone()[1]
            values = {
                "post_id": post_id,
                "author_name": given.author_name,
                "author_email": given.author_email,
                "author_ip": given.ip[:64],
                "user_agent": given.user_agent,
                "referrer": given.referrer,
                "permalink": f"http://blog.example.org/posts/{slug}",
                "body": given.body,
                "html": html,
                "status": "held",
                "reasons": [pipeline.CHECKING],
                "checks": checks,
                "relevance_drivers": [],
                "akismet_verdict": services.CHECKING,
                "needs_reply": False,
                "notify": False,
                "created_at": now,
                "status_changed_at": now,
                "action": "submit",
                **services._twin_params(post_id, given, now),
            }
            comment_id = connection.execute(arrival.sql, arrival.params(values)).fetchone()[0]
        message = pickle.dumps(("candor.check_comment", (comment_id,), {}, now.timestamp(), 0, 0, None))
        client.lpush("floor:queue", message)
        token = tokens.sign(secret, tokens.Purpose.COMMENT_STATUS, c=comment_id)
        return {
            "id": comment_id,
            "status": "held",
            "reasons": [],
            "status_url": f"/comments/status/{token}",
        }, 202

    if exempt is not None:
        exempt(floor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--candor", action="store_true", help="also Candor's own comment POST")
    args = parser.parse_args()

    from bench_comments import COMMENT, bare_app, prepare

    from tests.support.akismet_server import AkismetServer
    from tests.support.databases import bench_database

    queue = f"candor_floor_{os.getpid()}"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"
    os.environ["CANDOR_COMMENT_CHECK_BUDGET_MS"] = "0"
    os.environ["CANDOR_COMMENT_BACKLOG"] = "0"
    with contextlib.ExitStack() as stack:
        pg_url = stack.enter_context(bench_database(queue))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        akismet = stack.enter_context(AkismetServer(slow_seconds=1))
        env = {
            "AKISMET_API_KEY": akismet.api_key,
            "AKISMET_API_URL": akismet.base_url,
            "AKISMET_BLOG_URL": "http://blog.example.org/",
            "AKISMET_TIMEOUT": "3",
        }
        url, post_id, _ = prepare(tmp, env, pg_url)
        database = f" {pg_url.rsplit('/', 1)[1]} "  # its backends' command lines name it
        os.environ.update(
            {"CANDOR_TRUSTED_PROXIES": "1", "REDIS_URL": redis_url, "CANDOR_JOBS_QUEUE": queue, **env}
        )
        os.environ["DATABASE_URL"] = url
        import logging

        logging.disable(logging.INFO)
        bare = bare_app()
        from app.db import make_engine

        engine = make_engine(url)
        floor_routes(bare, engine, redis_url)
        endpoints = [
            ("bare", bare.test_client(), "/comments"),
            ("floor", bare.test_client(), f"/floor/{post_id}"),
        ]
        if args.candor:
            from app import create_app

            app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "JOBS_QUEUE": queue})
            from app.web.extensions import csrf

            # The floor's route inside Candor's app: its middleware and request hooks, the intake's I/O raw.
            floor_routes(app, engine, redis_url, exempt=csrf.exempt)
            endpoints.append(("floor in candor", app.test_client(), f"/floor/{post_id}"))
            endpoints.append(("candor", app.test_client(), f"/api/v1/posts/{post_id}/comments"))
        counter = iter(range(1, 10**7))

        def send(client: Any, path: str) -> None:
            k = next(counter)
            body = json.dumps({**COMMENT, "body": f"{COMMENT['body']} ({k})"})
            ip = f"10.{(k // 65536) % 256}.{(k // 256) % 256}.{k % 256}"
            r = client.post(
                path, data=body, headers={"Content-Type": "application/json", "X-Forwarded-For": ip}
            )
            assert 200 <= r.status_code < 300, (path, r.status_code, r.get_data(as_text=True)[:300])

        for _, client, path in endpoints:
            for _ in range(100):
                send(client, path)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _, _ in endpoints}
        for _ in range(args.rounds):
            for name, client, path in endpoints:
                pg0, redis0 = server_cpu(database, "walwriter"), server_cpu("redis-server")
                own0 = time.process_time()
                for _ in range(args.n):
                    send(client, path)
                own = time.process_time() - own0
                pg = spent(pg0, server_cpu(database, "walwriter"))
                rd = spent(redis0, server_cpu("redis-server"))
                results[name].append(tuple(v / args.n * 1000 for v in (own, pg, rd)))  # type: ignore[arg-type]
        print(f"CPU ms per POST (this process + PostgreSQL + Redis), {args.rounds} rounds of {args.n}:")
        best: dict[str, float] = {}
        for name, rounds in results.items():
            line = "; ".join(f"{o:.2f} + {p:.2f} + {r:.2f} = {o + p + r:.2f}" for o, p, r in rounds)
            best[name] = min(o + p + r for o, p, r in rounds)
            print(f"  {name}: {line}")
        for name in best:
            if name != "bare":
                print(f"{name} / bare (best rounds, totals): {best[name] / best['bare']:.2f}")
        print(f"load average {os.getloadavg()[0]:.1f}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
