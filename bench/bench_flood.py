"""A comment flood against a cached post page: does reading survive, and is every comment judged?

Run: ``CANDOR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres
.venv/bin/python bench/bench_flood.py``. It starts the production layout on this machine
(tests/support/stack.py: one gunicorn app server, gthread, with Redis, PostgreSQL and the job worker)
and a local Akismet (tests/support/akismet_server.py) that answers every comment after ``--akismet-delay``
seconds (1 s). Then:

1. unloaded: readers load a cached post page for ``--duration`` seconds (requests per second);
2. flood: the same readers again while ``--commenters`` (8) threads post comments through the JSON API
   as fast as they are answered, for ``--flood`` seconds (20);
3. unloaded again, once the verdicts are in (the baseline is the mean of 1 and 3: the load others put
   on a shared machine drifts within a minute).

It prints the readers' throughput under flood over unloaded (target >= 0.8), how long each comment
waited for its verdict (target: all within 10 s), and accepted answers (201 + 202) against stored
comments (target: equal). Ratios, not asserts: the machine is shared.

The comments' server runs at niceness ``--nice-comments`` (10), as README's production layout gives the
pool that takes comment POSTs: the job worker and the readers' server come first, and a flood slows its
own intake. ``--nice-comments 0`` measures without. ``--backlog N`` sets CANDOR_COMMENT_BACKLOG.

``--pin-services 1`` also pins the shared PostgreSQL and Redis to CPU 1 for the run (as if they had hosts
of their own, off the readers' server's CPU), says so, and restores their affinity at the end; it affects
anything else using them meanwhile. Quote figures both with and without it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from tests.support.akismet_server import AkismetServer  # noqa: E402
from tests.support.readers import sleep_post_with_readers  # noqa: E402
from tests.support.stack import Stack, request  # noqa: E402


def readers(port: int, path: str, seconds: float, connections: int) -> float:
    counts = [0] * connections
    deadline = time.monotonic() + seconds

    def loop(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
                answer = conn.getresponse()
                answer.read()
                if answer.status == 200:
                    counts[i] += 1
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def wrk_readers(port: int, path: str, seconds: float, connections: int) -> float:
    """As ``readers``, by ``wrk`` (C): the load generator shares CPU 1 with the flood, and a Python client
    starved of it would count its own slowdown as the server's. Non-2xx answers are not counted."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-H", "Accept-Encoding: gzip"]
        + [f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rate * (total - (int(bad.group(1)) if bad else 0)) / total if total else 0.0


def commenters(
    port: int, post_id: int, seconds: float, count: int, new_writers: bool = False
) -> tuple[list[int], dict[int, int]]:
    accepted: list[int] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(i: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            body = {
                "author_name": f"Reader {i}",
                "author_email": f"new{i}.{n}@example.net" if new_writers else f"reader{i}@example.net",
                "body": f"Thanks for the advice on sleep hygiene for adults ({i}.{n}).",
            }
            try:
                status, _, data = request(port, "POST", f"/api/v1/posts/{post_id}/comments", body, timeout=30)
            except OSError:
                continue
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status in (201, 202):
                    accepted.append(json.loads(data)["id"])

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return accepted, statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of unloaded reading")
    parser.add_argument("--flood", type=float, default=20.0, help="seconds of flood")
    parser.add_argument("--commenters", type=int, default=8)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--akismet-delay", type=float, default=1.0)
    parser.add_argument(
        "--budget-ms",
        default="0",
        help="CANDOR_COMMENT_CHECK_BUDGET_MS: how long a comment POST holds a thread waiting for Akismet "
        "(0, the default: stored, answered 202 checking, every check in the job)",
    )
    parser.add_argument(
        "--job-threads",
        type=int,
        default=16,
        help="threads of the job worker (flask worker --workers): each holds one Akismet call",
    )
    parser.add_argument("--processes", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn process")
    parser.add_argument(
        "--new-writers",
        action="store_true",
        help="every comment from a first-time writer (held for a moderator: the post page does not change)",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let every process use every core (default on 2+ cores: the app server on CPU 0; the job "
        "worker, this load generator and the local Akismet on CPU 1; PostgreSQL and Redis unpinned)",
    )
    parser.add_argument(
        "--pin-services",
        metavar="CPUS",
        default="",
        help='also pin every PostgreSQL and Redis process (the shared servers) to these CPUs ("1"), as '
        "if they ran on hosts of their own, away from the readers' server; their affinity is restored at "
        "the end (default: unpinned)",
    )
    parser.add_argument(
        "--python-readers",
        action="store_true",
        help="read with Python threads instead of wrk (C; the default when wrk is installed): the flood "
        "starves this Python client of CPU 1 too, and it counts its own slowdown as the server's",
    )
    parser.add_argument(
        "--one-server",
        action="store_true",
        help="readers and commenters on one app server (default: two, as a reverse proxy that sends comment "
        "POSTs to their own pool would; the readers' server is the one measured)",
    )
    parser.add_argument(
        "--nice-comments",
        type=int,
        default=10,
        help="the comments' app server's CPU niceness (default 10, as README's production layout sets for "
        "the pool behind the comment POSTs: a flood then slows its own intake before judging or reading; "
        "0: the same priority as everything else). Not with --one-server",
    )
    parser.add_argument(
        "--backlog",
        default="",
        help="CANDOR_COMMENT_BACKLOG for the run (default: the app's; 0: no limit)",
    )
    args = parser.parse_args(argv)
    servers = 1 if args.one_server else 2
    cores = os.cpu_count() or 1
    pin: dict[str, str] = {}
    if not args.no_pin and cores >= 2 and shutil.which("taskset"):
        pin = {"server0": "0", "server1": "1", "worker": "1"}
        os.sched_setaffinity(0, {1})  # this process: the readers, the commenters and the local Akismet
    print(
        f"{cores} cores; comments' server at niceness {args.nice_comments if servers > 1 else 0}; "
        + (
            "readers' app server pinned to CPU 0; the comments' server, the worker, load generator and"
            " Akismet to CPU 1"
            if pin
            else "nothing pinned"
        )
        + f"; load average {os.getloadavg()[0]:.1f}; comments from "
        + (
            "first-time writers (held: the page does not change)"
            if args.new_writers
            else "returning readers (published: each one changes the page)"
        ),
        flush=True,
    )

    services = ServicePins(args.pin_services) if args.pin_services else None
    if services is not None:
        print(
            f"PostgreSQL and Redis pinned to CPU {args.pin_services} ({services.count} processes)", flush=True
        )
    try:
        return flood(args, servers, pin)
    finally:
        if services is not None:
            services.restore()
            print("PostgreSQL and Redis affinity restored", flush=True)


class ServicePins:
    """The shared PostgreSQL and Redis servers' processes pinned to ``cpus``, and put back as they were.

    Backends PostgreSQL starts meanwhile inherit the postmaster's affinity; ``restore`` gives them the
    postmaster's original one."""

    NAMES = ("postgres", "redis-server")

    def __init__(self, cpus: str) -> None:
        wanted = {int(c) for c in cpus.split(",")}
        self.original: dict[int, set[int]] = {}
        for pid in self._pids():
            try:
                self.original[pid] = os.sched_getaffinity(pid)
                os.sched_setaffinity(pid, wanted)
            except OSError:
                self.original.pop(pid, None)  # gone meanwhile, or not ours to change
        self.count = len(self.original)
        self.default = set(range(os.cpu_count() or 1))

    def _pids(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    name = (entry / "comm").read_text().strip()
                except OSError:
                    continue
                if name in self.NAMES or name.startswith("postgres"):
                    found.append(int(entry.name))
        return found

    def restore(self) -> None:
        postmaster = max((cpus for cpus in self.original.values()), key=len, default=self.default)
        for pid in self._pids():
            try:
                os.sched_setaffinity(pid, self.original.get(pid, postmaster))
            except OSError:
                pass


def flood(args: argparse.Namespace, servers: int, pin: dict[str, str]) -> int:
    with AkismetServer(slow_seconds=args.akismet_delay) as akismet:
        akismet.set_mode("slow")
        env = {
            "AKISMET_API_KEY": akismet.api_key,
            "AKISMET_API_URL": akismet.base_url,
            "AKISMET_BLOG_URL": "http://blog.example.org/",
            "AKISMET_TIMEOUT": str(args.akismet_delay + 2),
            "CANDOR_COMMENT_RATE_LIMIT": "100000 per minute",
            "CANDOR_COMMENT_BURST": "100000",
            "CANDOR_COMMENT_MIN_SECONDS": "0",
            "CANDOR_COMMENT_CHECK_BUDGET_MS": args.budget_ms,
            **({"CANDOR_COMMENT_BACKLOG": args.backlog} if args.backlog else {}),
        }
        with Stack(
            servers=servers,
            workers_per_server=args.processes,
            threads=args.threads,
            job_threads=args.job_threads,
            env=env,
            pin=pin,
            nice={f"server{servers - 1}": args.nice_comments} if args.nice_comments and servers > 1 else {},
        ) as stack:
            post_id, slug = seed(stack)
            port = stack.ports[0]
            path = f"/posts/{slug}"
            for _ in range(4):
                request(port, "GET", path)
            read = readers if args.python_readers or not shutil.which("wrk") else wrk_readers
            print(f"readers: {'wrk' if read is wrk_readers else 'Python threads'}", flush=True)
            unloaded = read(port, path, args.duration, args.readers)
            print(f"unloaded: {unloaded:.1f} req/s on {path}", flush=True)
            # The commenters in a process of their own: sharing this one's interpreter lock, their
            # threads would slow the readers' client, and the flood would seem to slow the server.
            with multiprocessing.get_context("fork").Pool(1) as pool:
                sent = pool.apply_async(
                    commenters,
                    (stack.ports[servers - 1], post_id, args.flood, args.commenters),
                    {"new_writers": args.new_writers},
                )
                loaded = read(port, path, args.flood, args.readers)
                result = dict(zip(("accepted", "statuses"), sent.get(timeout=args.flood + 60), strict=True))
            accepted: list[int] = result["accepted"]  # type: ignore[assignment]
            print(f"under flood: {loaded:.1f} req/s; answers {result['statuses']}", flush=True)
            waits = verdict_waits(stack, accepted, timeout=30.0)
            # Unloaded again, once every verdict is in: the machine is shared, and what else runs on it
            # changes within a minute; the flood is compared with the mean of before and after.
            for _ in range(4):
                request(port, "GET", path)
            after = read(port, path, args.duration, args.readers)
            print(f"unloaded again after the flood: {after:.1f} req/s", flush=True)
            unloaded = (unloaded + after) / 2
    ratio = loaded / unloaded if unloaded else 0.0
    judged = [w for w in waits.values() if w is not None]
    print(f"reading under flood / unloaded = {ratio:.2f}  (target >= 0.8)")
    print(
        f"comments accepted {len(accepted)}, stored {len(waits)}, judged {len(judged)}; verdict wait "
        f"median {statistics.median(judged) if judged else float('nan'):.2f} s, "
        f"max {max(judged, default=float('nan')):.2f} s  (target: all within 10 s)"
    )
    print(
        json.dumps(
            {
                "unloaded": unloaded,
                "loaded": loaded,
                "ratio": round(ratio, 3),
                "accepted": len(accepted),
                "stored": len(waits),
                "judged": len(judged),
                "max_wait": max(judged, default=None),
            }
        )
    )
    return 0


def seed(stack: Stack) -> tuple[int, str]:
    """A published post and a returning reader per commenter (so Akismet's answer decides each comment)."""
    with stack.session() as session:
        post = sleep_post_with_readers(session, 64, lambda _: "Earlier thanks.")
        return post.id, post.slug


def verdict_waits(stack: Stack, ids: list[int], timeout: float) -> dict[int, float | None]:
    """Seconds from each comment's arrival to its verdict (None: still being checked at ``timeout``)."""
    from app.comments.models import Comment, ModerationDecision

    deadline = time.monotonic() + timeout
    with stack.session() as session:
        while True:
            session.expire_all()
            rows = session.execute(
                select(Comment.id, Comment.created_at, Comment.akismet_verdict).where(Comment.id.in_(ids))
            ).all()
            pending = [r for r in rows if r.akismet_verdict == "checking"]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        decided = dict(
            session.execute(
                select(ModerationDecision.comment_id, ModerationDecision.at).where(
                    ModerationDecision.comment_id.in_(ids), ModerationDecision.action == "recheck"
                )
            ).all()
        )
    waits: dict[int, float | None] = {}
    for row in rows:
        if row.akismet_verdict == "checking":
            waits[row.id] = None
        elif row.id in decided:
            waits[row.id] = (decided[row.id] - row.created_at).total_seconds()
        else:
            waits[row.id] = 0.0  # judged within the request's budget
    return waits


if __name__ == "__main__":
    sys.exit(main())
