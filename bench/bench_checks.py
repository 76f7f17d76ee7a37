"""The check job's cost per comment, in process: CPU seconds and SQL statements, against storing a comment.

Run: ``.venv/bin/python bench/bench_checks.py [--database postgresql] [--batch 50] [--rounds 5] [--profile]``.
It migrates a throwaway database (SQLite in a temporary directory, or with ``--database postgresql`` a
database of its own on ``CANDOR_BENCH_POSTGRES_URL`` / ``CANDOR_TEST_POSTGRES_URL``), seeds a published post
with comments a moderator approved (the off-topic model's context) and returning readers, and starts a local
Akismet (tests/support/akismet_server.py, answering at once). Jobs go to a Redis queue no worker reads.

Each round stores ``--batch`` comments through ``POST /api/v1/posts/<id>/comments`` (answered 202
checking: the baseline, measured in the same run), asks Akismet about them (not measured: the network),
then runs what the job worker does for a batch in one transaction: ``pending_checks`` (the batch's
read), ``finish_batch`` and the commit (measured). The comments are mixed: published (returning
readers), held (first-time writers), spam (Akismet says so), several on the same post.

It prints, per comment, CPU (``time.process_time``) and statements (a SQLAlchemy
``before_cursor_execute`` listener: an executemany is one) of the batch and of storing, and their
ratio, median over rounds. ``--profile`` prints cProfile's top functions of the batches.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine.default import CACHE_MISS  # noqa: E402

from tests.support.akismet_server import GUARANTEED_SPAM_AUTHOR, AkismetServer  # noqa: E402
from tests.support.databases import bench_database  # noqa: E402
from tests.support.readers import sleep_post_with_readers  # noqa: E402

SECRET = "bench-secret-key-not-for-production"
BODIES = (
    "Thank you, this helped. Does a short nap in the afternoon count towards the hours of sleep?",
    "A dark room and regular hours made a difference for me; is a cooler bedroom worth trying too?",
    "How long before bed should adults stop drinking coffee, if they want seven hours of sleep?",
)


def seed(session: Any, readers: int) -> int:
    return sleep_post_with_readers(session, readers, lambda i: f"Earlier thanks about sleep hours ({i}).").id


class Counter:
    def __init__(self, engine: Any) -> None:
        self.n = 0
        self.seen: collections.Counter[str] | None = None
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_: Any) -> None:
        self.n += 1
        if self.seen is not None:
            # "compiled": SQLAlchemy compiled it afresh (not from its cache), CPU the next batch may spare
            fresh = "compiled  " if getattr(context, "cache_hit", None) is CACHE_MISS else ""
            self.seen[fresh + " ".join(statement.split())[:100]] += 1


def comment_of(round_: int, i: int, readers: int) -> dict[str, Any]:
    kind = i % 5
    body = f"{BODIES[i % len(BODIES)]} ({round_}.{i})"
    if kind == 3:  # a first-time writer: held for a moderator
        return {
            "author_name": f"New {round_}.{i}",
            "author_email": f"new{round_}.{i}@example.org",
            "body": body,
        }
    if kind == 4:  # Akismet says spam
        return {
            "author_name": GUARANTEED_SPAM_AUTHOR,
            "author_email": f"s{round_}.{i}@example.org",
            "body": body,
        }
    r = (round_ * 7 + i) % readers  # a returning reader: published
    return {"author_name": f"Reader {r}", "author_email": f"reader{r}@example.net", "body": body}


def run(args: argparse.Namespace, url: str, akismet: AkismetServer) -> int:
    from app import create_app, migrate
    from app.comments import services
    from app.db import commit, rollback, writing
    from app.spam.pipeline import PipelineSettings
    from app.web import runtime
    from app.web.outside import site

    migrate.upgrade(url)
    queue = f"candor_bench_checks_{os.getpid()}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14",
            "JOBS_QUEUE": queue,
            "COMMENT_CHECK_BUDGET_MS": 0,
            "COMMENT_RATE_LIMIT": "100000 per minute",
            "COMMENT_BURST": 100000,
            "COMMENT_MIN_SECONDS": 0.0,
            "PUBLIC_URL": "http://blog.example.org",
            **akismet.config_overrides(timeout=5.0),
        }
    )
    sessions = app.extensions["candor.sessions"]
    engine = app.extensions["candor.engine"]
    session = sessions()
    post_id = seed(session, args.readers)
    session.close()
    counter = Counter(engine)
    client = app.test_client()
    profile = cProfile.Profile() if args.profile else None
    rows: list[tuple[float, float, float, float]] = []
    checker = app.extensions["candor.akismet"]
    try:
        for round_ in range(args.rounds + 1):  # round 0 warms up (imports, the model, compiled statements)
            ids = []
            n0, t0 = counter.n, time.process_time()
            for i in range(args.batch):
                answer = client.post(
                    f"/api/v1/posts/{post_id}/comments",
                    json=comment_of(round_, i, args.readers),
                    headers={"User-Agent": "Mozilla/5.0 (bench)", "X-Forwarded-For": f"10.1.{round_}.{i}"},
                )
                assert answer.status_code == 202, answer.get_data(as_text=True)[:300]
                ids.append(answer.get_json()["id"])
            store_cpu, store_sql = time.process_time() - t0, counter.n - n0
            session = sessions()
            try:
                asked = services.pending_checks(session, None, limit=args.batch, since=_long_ago(), but=())
            finally:
                rollback(session)
                session.close()
            assert set(asked) == set(ids), (sorted(asked), ids)
            answers = {i: (checker.check(s) if s is not None else None) for i, s in asked.items()}
            with app.app_context():
                if args.statements and round_ == args.rounds:
                    counter.seen = collections.Counter()
                n0, t0 = counter.n, time.process_time()
                if profile is not None and round_:
                    profile.enable()
                session = sessions()
                try:
                    services.pending_checks(session, None, limit=args.batch, since=_long_ago(), but=())
                    settings = PipelineSettings.from_config(runtime.config_from(session))
                    rollback(session)
                    writing(session)
                    batch = services.finish_batch(session, answers, settings, site=site())
                    commit(session)
                finally:
                    session.close()
                if profile is not None:
                    profile.disable()
                batch_cpu, batch_sql = time.process_time() - t0, counter.n - n0
            assert len(batch.decided) == len(ids) and not batch.failed, batch
            if round_:
                n = len(ids)
                rows.append((batch_cpu / n, batch_sql / n, store_cpu / n, store_sql / n))
                print(
                    f"round {round_}: batch {1000 * batch_cpu / n:.2f} ms CPU,"
                    f" {batch_sql / n:.1f} statements per comment; storing {1000 * store_cpu / n:.2f} ms CPU,"
                    f" {store_sql / n:.1f} statements",
                    flush=True,
                )
    finally:
        redis = app.extensions.get("candor.tasks")
        if redis is not None:
            redis.huey.flush()
        engine.dispose()
    cpu, sql, store_cpu, store_sql = (statistics.median(c) for c in zip(*rows, strict=True))
    print(
        f"median of {args.rounds} rounds of {args.batch} comments ({url.split(':')[0]}; load average"
        f" {os.getloadavg()[0]:.1f}):\n"
        f"  check batch: {1000 * cpu:.2f} ms CPU, {sql:.1f} statements per comment\n"
        f"  storing (baseline): {1000 * store_cpu:.2f} ms CPU, {store_sql:.1f} statements per comment\n"
        f"  ratio batch/storing: CPU {cpu / store_cpu:.2f}, statements {sql / store_sql:.2f}"
    )
    if counter.seen is not None:
        print(f"statements of the last batch ({args.batch} comments), by kind:")
        for text, n in counter.seen.most_common():
            print(f"  {n:4d}  {text}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile_lines)
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile_lines)
    return 0


def _long_ago() -> Any:
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--batch", type=int, default=50, help="comments per batch (CANDOR_COMMENT_CHECK_BATCH)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--readers", type=int, default=40, help="returning readers (and approved comments)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--statements", action="store_true", help="list the last batch's statements")
    parser.add_argument("--profile-lines", type=int, default=40)
    args = parser.parse_args(argv)
    os.environ["CANDOR_ENV"] = "development"
    name = f"candor_bench_checks_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="candor-bench-checks-") as tmp, AkismetServer() as akismet:
        if args.database == "postgresql":
            with bench_database(name) as url:
                return run(args, url, akismet)
        return run(args, f"sqlite:///{Path(tmp) / 'candor.sqlite3'}", akismet)


if __name__ == "__main__":
    raise SystemExit(main())
