"""A restart at scale: how soon after a deploy is the first page served and the first comment judged?

Run: ``CANDOR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres
.venv/bin/python bench/bench_restart.py [--scale 1.0]``. It starts the production layout on this machine
(tests/support/stack.py: one gunicorn app server, gthread, Redis, PostgreSQL and the job worker) and a
local Akismet (tests/support/akismet_server.py) answering after ``--akismet-delay`` seconds, so that every
comment is answered 202 "checking" and judged by the worker. Then:

1. fills the stack's database as bench/bench_scale.py builds its big one (``--scale 1.0``: 10,000 posts,
   1,000,000 comments, 100,000 held), plus ``--decisions`` (100,000) moderators' decisions, each one an
   off-topic example with its vector (what the learner would have stored as they were made), and one
   post published through the services (so it has its passages and the model scores comments on it);
2. restarts every process (SIGTERM, then start again, as a deploy does) and measures: seconds until the
   server answers ``/healthz``; the first post page, one no process has rendered (target <= 1 s); the
   newest post's page (the warm-up rendered it, see app/web/warmup.py); the first comment, from its
   POST to its verdict by the freshly started worker (target <= 5 s).

The issue's failure was a worker replaying every decision into the off-topic learner on its first
comment (170 s at 100,000); the learner now stores its examples and reads a bounded number
(app/comments/learning.py; tests/test_offtopic.py proves the bound with 100,000 decisions).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, select, text  # noqa: E402

from tests.support.akismet_server import AkismetServer  # noqa: E402
from tests.support.stack import Stack, request  # noqa: E402


def add_decisions(url: str, n: int, post_id: int, moderator_id: int) -> None:
    """``n`` moderators' approvals of published comments, each with its stored off-topic example (a
    tenth of them on ``post_id``, the rest spread over the blog), in bulk."""
    from app.spam import embedding

    vector = embedding.to_bytes(embedding.encoder().encode("Thanks, this helped me sleep better."))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO moderation_decisions (comment_id, moderator_id, action, from_status, to_status,"
                " reason, reasons, at) SELECT id, :m, 'approve', 'held', 'published', '', '[]',"
                " created_at + interval '1 minute' FROM comments WHERE status = 'published'"
                " ORDER BY id LIMIT :n"
            ),
            {"m": moderator_id, "n": n},
        )
        conn.execute(
            text(
                "INSERT INTO offtopic_examples (decision_id, comment_id, post_id, on_topic, filter_on_topic,"
                " vector, at) SELECT d.id, d.comment_id, CASE WHEN d.id % 10 = 0 THEN :p ELSE c.post_id END,"
                " d.id % 7 <> 0, true, :v, d.at FROM moderation_decisions d JOIN comments c"
                " ON c.id = d.comment_id WHERE d.action = 'approve' AND d.moderator_id = :m"
            ),
            {"p": post_id, "v": vector, "m": moderator_id},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1,000,000 comments")
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--akismet-delay", type=float, default=0.5)
    args = parser.parse_args(argv)

    from bench_flood import seed
    from bench_scale import Size, build

    from app.comments.models import Comment

    with AkismetServer(slow_seconds=args.akismet_delay) as akismet:
        akismet.set_mode("slow")
        env = {
            "AKISMET_API_KEY": akismet.api_key,
            "AKISMET_API_URL": akismet.base_url,
            "AKISMET_BLOG_URL": "http://blog.example.org/",
            "AKISMET_TIMEOUT": str(args.akismet_delay + 2),
            "CANDOR_COMMENT_CHECK_BUDGET_MS": "0",  # every comment is judged by the worker
            "CANDOR_COMMENT_MIN_SECONDS": "0",
        }
        with Stack(servers=1, workers_per_server=2, threads=4, env=env) as stack:
            size = Size(args.scale)
            print(
                f"building: {size.posts:,} posts, {size.comments:,} comments ({size.held:,} held), "
                f"{args.decisions:,} moderators' decisions with their examples",
                flush=True,
            )
            started = time.perf_counter()
            built = build(stack.database_url, size)
            built["app"].extensions["candor.engine"].dispose()
            post_id, slug = seed(stack)
            with stack.session() as session:
                from app.accounts.models import User

                moderator_id = session.scalar(select(User.id).where(User.email == "moderator@clinic.example"))
            add_decisions(stack.database_url, args.decisions, post_id, moderator_id)
            print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)

            started = time.perf_counter()
            stack.restart()
            healthy = time.perf_counter() - started
            port = stack.ports[0]
            # A post page no process has rendered (the warm-up renders the home page and the newest post,
            # which the page cache then holds): an uncached render in a fresh process.
            started = time.perf_counter()
            status, _, _ = request(port, "GET", "/posts/post-number-5")
            first_page = time.perf_counter() - started
            assert status == 200, status
            started = time.perf_counter()
            status, _, _ = request(port, "GET", f"/posts/{slug}")
            newest_page = time.perf_counter() - started
            assert status == 200, status
            body = {
                "author_name": "First After Restart",
                "author_email": "first.after.restart@example.net",
                "body": "Does keeping the room dark really help adults sleep?",
            }
            started = time.perf_counter()
            status, _, data = request(port, "POST", f"/api/v1/posts/{post_id}/comments", body)
            answered = time.perf_counter() - started
            assert status in (201, 202), (status, data)
            comment_id = json.loads(data)["id"]
            judged = None
            with stack.session() as session:
                while time.perf_counter() - started < 60:
                    session.expire_all()
                    comment = session.get(Comment, comment_id)
                    assert comment is not None
                    if comment.akismet_verdict != "checking":
                        judged = time.perf_counter() - started
                        verdict = (comment.status, list(comment.reasons))
                        break
                    time.sleep(0.05)
    print(f"restart: every process answering /healthz after {healthy:.2f} s")
    print(
        f"first post page after the restart (uncached, never rendered): {first_page * 1000:.0f} ms  "
        f"(target <= 1 s); the newest post (rendered by the warm-up): {newest_page * 1000:.0f} ms"
    )
    print(
        f"first comment: answered {status} in {answered * 1000:.0f} ms, judged by the new worker after "
        + (f"{judged:.2f} s {verdict}" if judged is not None else "more than 60 s")
        + "  (target <= 5 s)"
    )
    print(
        json.dumps({"healthy_s": round(healthy, 3), "first_page_s": round(first_page, 3), "judged_s": judged})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
