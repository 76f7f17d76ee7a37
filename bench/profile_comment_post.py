"""CPU time of one reader's comment POST in-process, and where it goes (cProfile).

Run: ``.venv/bin/python bench/profile_comment_post.py [--database postgresql] [--n 500] [--profile]``.
It builds the database of bench_comments.py (PostgreSQL: a database of its own on
``CANDOR_BENCH_POSTGRES_URL`` / ``CANDOR_TEST_POSTGRES_URL``), then sends ``--n`` comment POSTs to
``/api/v1/posts/<id>/comments`` through Flask's test client (no HTTP server, no load generator) with
the production settings of the bench: the quick path (budget 0), rate limits and the burst counter and
the job queue on Redis (the job worker is not started). Each POST is a different comment from a
different address. It prints the process CPU time per POST (``time.process_time``), and with
``--profile`` the functions that took most of it. A bare insert of the same JSON through the same test
client (bench_comments.bare_app) is measured in the same run, for the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-out", help="also write the profile's stats to this file (pstats)")
    args = parser.parse_args()

    from bench_comments import COMMENT, bare_app, prepare

    from tests.support.akismet_server import AkismetServer
    from tests.support.databases import bench_database

    queue = f"candor_profile_comments_{os.getpid()}"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"
    databases = contextlib.ExitStack()  # the PostgreSQL database of this run, dropped at the end
    pg_url = databases.enter_context(bench_database(queue)) if args.database == "postgresql" else None
    os.environ["CANDOR_COMMENT_CHECK_BUDGET_MS"] = "0"
    os.environ["CANDOR_COMMENT_BACKLOG"] = "0"  # no worker judges them: they all stay being checked
    try:
        with tempfile.TemporaryDirectory() as tmp, AkismetServer(slow_seconds=1) as akismet:
            akismet.set_mode("slow")
            env = {
                "AKISMET_API_KEY": akismet.api_key,
                "AKISMET_API_URL": akismet.base_url,
                "AKISMET_BLOG_URL": "http://blog.example.org/",
                "AKISMET_TIMEOUT": "3",
            }
            url, post_id, _ = prepare(Path(tmp), env, pg_url)
            os.environ.update(
                {"CANDOR_TRUSTED_PROXIES": "1", "REDIS_URL": redis_url, "CANDOR_JOBS_QUEUE": queue, **env}
            )
            os.environ["DATABASE_URL"] = url
            import logging

            logging.disable(logging.INFO)
            from app import create_app

            app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "JOBS_QUEUE": queue})
            client = app.test_client()
            bare = bare_app().test_client()
            counter = iter(range(1, 10**7))

            def send(c, path: str) -> None:
                k = next(counter)
                body = json.dumps({**COMMENT, "body": f"{COMMENT['body']} ({k})"})
                ip = f"10.{(k // 65536) % 256}.{(k // 256) % 256}.{k % 256}"
                r = c.post(
                    path, data=body, headers={"Content-Type": "application/json", "X-Forwarded-For": ip}
                )
                assert 200 <= r.status_code < 300, (r.status_code, r.get_data(as_text=True))

            path = f"/api/v1/posts/{post_id}/comments"
            for _ in range(50):  # warm-up
                send(client, path)
                send(bare, "/comments")
            results: dict[str, list[float]] = {"bare": [], "candor": []}
            for _ in range(args.rounds):
                for name, c, p in (("bare", bare, "/comments"), ("candor", client, path)):
                    t0 = time.process_time()
                    for _ in range(args.n):
                        send(c, p)
                    results[name].append((time.process_time() - t0) / args.n * 1000)
            for name, values in results.items():
                print(f"{name}: CPU ms per POST " + ", ".join(f"{v:.2f}" for v in values))
            ratio = min(results["candor"]) / min(results["bare"])
            print(f"ratio (best rounds): {ratio:.2f}; load average {os.getloadavg()[0]:.1f}")
            if args.profile:
                profiler = cProfile.Profile(time.process_time)  # CPU, not waits on the database or Redis
                profiler.enable()
                for _ in range(args.n):
                    send(client, path)
                profiler.disable()
                stats = pstats.Stats(profiler)
                if args.profile_out:
                    stats.dump_stats(args.profile_out)
                stats.sort_stats("cumulative").print_stats(60)
                stats.sort_stats("tottime").print_stats(30)
            app.extensions["candor.engine"].dispose()
    finally:
        databases.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
