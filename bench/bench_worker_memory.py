"""Memory of Candor's processes in the production layout (tests/support/stack.py): gunicorn (gthread)
app servers and the job worker over PostgreSQL and Redis, real processes.

    CANDOR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_worker_memory.py [--inline]

The demo content is seeded, every page of the home page and each demo post is read through each server,
then 20 reader comments are sent. By default (``CANDOR_COMMENT_CHECK_BUDGET_MS=0``) the comments are
checked by the job worker, so it is the process that loads the model; with ``--inline`` (a budget of
5 s) each gunicorn worker checks in the request and loads the model itself. Printed per process, from
/proc/<pid>/smaps_rollup once every comment has been checked: RSS (shared pages counted whole), PSS
(shared pages divided among the processes that map them) and private memory (USS), then RSS split into
mapped files (the shared libraries' code and data: onnxruntime, numpy, Python...) and anonymous memory
(Python's objects, the model's weights, malloc), and whether the process is under the limit of issue 14
(200 MB RSS per worker). gunicorn forks its
workers from a master that has not loaded the app (no ``preload_app``): a worker shares only the
read-only pages of the files it maps (Python, the shared libraries, onnxruntime's code) with the others.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.stack import Stack  # noqa: E402

LIMIT_MB = 200  # issue 14: "memory stays under 200 MB per worker", counted as RSS


def memory(pid: int) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            found[parts[0].rstrip(":")] = int(parts[1]) / 1024
    found["Uss"] = found["Private_Clean"] + found["Private_Dirty"]
    return found


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(x) for x in text)
    return found


def main() -> None:
    inline = "--inline" in sys.argv
    env = {
        "CANDOR_COMMENT_RATE_LIMIT": "100000 per minute",
        "CANDOR_COMMENT_BURST": "100000",
        "CANDOR_COMMENT_MIN_SECONDS": "0",
        "CANDOR_COMMENT_CHECK_BUDGET_MS": "5000" if inline else "0",
        **({"MALLOC_ARENA_MAX": os.environ["MALLOC_ARENA_MAX"]} if "MALLOC_ARENA_MAX" in os.environ else {}),
    }
    with Stack(servers=1, workers_per_server=2, threads=4, job_threads=16, env=env) as stack:
        with stack.app() as app:
            result = app.test_cli_runner().invoke(args=["demo"])
            assert result.exit_code == 0, result.output
        status, _, data = stack.call(0, "GET", "/api/v1/posts")
        import json

        posts = json.loads(data)["items"]
        for _ in range(4):  # both workers serve some of them
            stack.call(0, "GET", "/")
            for post in posts:
                stack.call(0, "GET", f"/posts/{post['slug']}")
        target = posts[0]["id"]
        for n in range(20):
            status, _, data = stack.call(
                0,
                "POST",
                f"/api/v1/posts/{target}/comments",
                {
                    "author_name": "Bench Reader",
                    "author_email": f"r{n}@example.net",
                    "body": f"Does a short nap in the afternoon count towards the hours of sleep? ({n})",
                },
                **{"X-Forwarded-For": f"10.1.0.{n + 1}"},
            )
            assert status in (201, 202), data
        from sqlalchemy import func, select

        from app.comments.models import Comment
        from app.comments.services import CHECKING

        deadline = time.monotonic() + 300
        with stack.session() as session:
            while session.scalar(select(func.count()).where(Comment.akismet_verdict == CHECKING)):
                assert time.monotonic() < deadline, "the checks did not finish in 5 minutes"
                session.rollback()
                time.sleep(0.5)
        time.sleep(1)
        server, worker = stack.processes[0].pid, stack.processes[-1].pid
        rows = [("gunicorn master", server)] + [(f"gunicorn worker {pid}", pid) for pid in children(server)]
        rows.append(("job worker (flask worker)", worker))
        print(f"\n{'comments checked ' + ('in the request' if inline else 'by the job worker')}:")
        over = []
        for name, pid in rows:
            m = memory(pid)
            print(
                f"  {name:28s} RSS {m['Rss']:6.1f} MB   PSS {m['Pss']:6.1f} MB   private {m['Uss']:6.1f} MB"
                f"   (files {m['Rss'] - m['Anonymous']:5.1f}, anonymous {m['Anonymous']:5.1f})"
            )
            if m["Rss"] >= LIMIT_MB:
                over.append(f"{name} ({m['Rss']:.0f} MB)")
        print(
            f"  over {LIMIT_MB} MB RSS: {', '.join(over)}"
            if over
            else f"  every process under {LIMIT_MB} MB RSS"
        )
        print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
