"""A cached post page against Flask's hello world, both under gunicorn, measured with wrk.

Run: ``.venv/bin/python bench/bench_post_page.py`` (or ``make bench``). It builds a throwaway SQLite
database (migrated, demo content seeded, plus a published post of about 1,500 words), then starts two
gunicorns with identical settings (2 gthread workers of 4 threads, as gunicorn.conf.py, or
``--worker-class sync``; CANDOR_ENV=development, a SECRET_KEY) on random ports: one serving Candor
(``wsgi:app``), one serving bench/hello_app.py. After a warm-up of each, wrk
loads them alternately, hello / post / hello / post ..., so that on a small machine neither side gets
the quieter minutes. It prints every run and the ratio of the medians.

Target: ``post page / hello >= 0.8``. The post page is cached whole for anonymous readers
(app/web/pagecache.py); a hit costs one indexed query for the cache key, which is what this measures.

Without wrk on PATH, a small Python load generator (threads, keep-alive http.client) stands in, and
the output says so; its absolute numbers are lower, but both sides get the same one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.8
SECRET = "bench-secret-key-not-for-production"


# --- data ---------------------------------------------------------------------------------------------

_SENTENCES = [
    "Most adults need between seven and nine hours of sleep each night to feel rested.",
    "Short sleep is linked with higher blood pressure, weight gain and a weaker immune response.",
    "A regular schedule, even at weekends, helps the body clock settle into a steady rhythm.",
    "Caffeine stays in the body for hours, so an afternoon coffee can still keep you awake at night.",
    "Screens before bed delay sleep, partly through light and partly through the content itself.",
    "If you cannot fall asleep within twenty minutes, get up and do something calm in dim light.",
    "Snoring that stops and starts with gasps can be a sign of sleep apnoea and is worth a check.",
    "Alcohol may help you fall asleep, but it breaks up sleep later in the night.",
    "Exercise improves sleep quality, though a hard workout late in the evening can do the opposite.",
    "A cool, dark and quiet bedroom makes it easier to fall asleep and to stay asleep.",
    "Naps of twenty minutes or less refresh most people without spoiling the night that follows.",
    "Shift workers face particular challenges and benefit from planning light exposure carefully.",
    "Long-term insomnia responds well to cognitive behavioural therapy, often better than to pills.",
    "Sleeping tablets can help for a few nights but carry risks when they are used for months.",
    "Children and teenagers need more sleep than adults, and their body clocks run later.",
    "Talk to your doctor if poor sleep lasts for more than a few weeks or affects your daytime life.",
]
_HEADINGS = [
    "Why sleep matters",
    "How much is enough",
    "Habits that help",
    "When to seek help",
    "Sleep across a lifetime",
    "What the research says",
    "A practical plan",
]


def long_body(words: int = 1500, seed: int = 7) -> str:
    """Plain Markdown prose of about ``words`` words: headings, paragraphs, lists, some emphasis."""
    rng = random.Random(seed)
    parts: list[str] = []
    count = 0
    headings = iter(_HEADINGS * 10)
    while count < words:
        if len(parts) % 5 == 0:
            parts.append(f"## {next(headings)}")
        if len(parts) % 5 == 4:
            items = rng.sample(_SENTENCES, 3)
            parts.append("\n".join(f"- {item}" for item in items))
            count += sum(len(i.split()) for i in items)
            continue
        paragraph = " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(3, 5)))
        parts.append(paragraph.replace("seven and nine hours", "*seven and nine hours*"))
        count += len(paragraph.split())
    return "\n\n".join(parts) + "\n"


def build_database(directory: Path, url: str | None = None) -> tuple[str, str, str]:
    """Migrate and seed a database (SQLite in ``directory`` unless ``url`` names an empty one); return
    (url, slug of the page to load, how it was made)."""
    url = url or f"sqlite:///{directory / 'candor.sqlite3'}"
    os.environ["SECRET_KEY"] = SECRET
    os.environ["DATABASE_URL"] = url
    os.environ["CANDOR_ENV"] = "development"
    from app import create_app, demo, migrate
    from app.accounts.models import Role
    from app.accounts.services import create_token, get_user_by_email

    migrate.upgrade(url)
    # Jobs run inline: no consumer thread left running in this process, reading the measured database.
    app = create_app({"DATABASE_URL": url, "JOBS_MODE": "immediate"})
    session = app.extensions["candor.sessions"]()
    demo.seed(session, str(directory))
    session.commit()
    author_email, editor_email = demo.STAFF[0][0], next(s[0] for s in demo.STAFF if Role.EDITOR in s[4])
    author_token = create_token(session, get_user_by_email(session, author_email))
    editor_token = create_token(session, get_user_by_email(session, editor_email))
    session.commit()
    session.close()

    # The long post goes through the public API, as a writer's would: draft, submit, approve.
    client = app.test_client()
    body = long_body()
    created = client.post(
        "/api/v1/posts",
        headers={"Authorization": f"Bearer {author_token}"},
        json={
            "title": "Sleep: a practical guide for adults",
            "body": body,
            "references": ["https://www.nhlbi.nih.gov/health/sleep-deprivation"],
        },
    )
    how = f"a published post of {len(body.split())} words"
    try:
        assert created.status_code == 201, created.get_data(as_text=True)
        post = created.get_json()
        submitted = client.post(
            f"/api/v1/posts/{post['id']}/submit", headers={"Authorization": f"Bearer {author_token}"}, json={}
        )
        assert submitted.status_code == 200, submitted.get_data(as_text=True)
        approved = client.post(
            f"/api/v1/posts/{post['id']}/approve",
            headers={"Authorization": f"Bearer {editor_token}"},
            json={"revision": 1},
        )
        assert approved.status_code == 200, approved.get_data(as_text=True)
        # A draft has no address; the post gets its slug when it is published.
        slug = client.get(f"/api/v1/posts/{post['id']}").get_json()["slug"]
        assert slug, "the published post has no slug"
    except AssertionError as exc:
        # Fall back to the longest demo post rather than benchmarking nothing.
        print(f"note: could not publish the long post ({str(exc)[:200]}); using a demo post", file=sys.stderr)
        slug = max(demo.POSTS, key=lambda p: len(p[2]))[1].lower()
        slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")
        how = "the longest demo post"
    app.extensions["candor.engine"].dispose()
    return url, slug, how


# --- servers ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn with the bench's settings, on a random port, stopped on exit."""

    def __init__(
        self,
        name: str,
        app: str,
        *,
        chdir: Path,
        env: dict[str, str],
        workers: int,
        log_dir: Path,
        worker_class: str = "gthread",
        threads: int = 4,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.log = log_dir / f"{name}.log"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn) if gunicorn.exists() else shutil.which("gunicorn") or "gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--chdir",
            str(chdir),
            "--log-level",
            "warning",
            app,
        ]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=log, stderr=log, start_new_session=True
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_until_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} gunicorn exited:\n{self.log.read_text()[-2000:]}")
            try:
                status, _, _ = fetch(self.port, path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} gunicorn did not answer {path} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def fetch(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# --- load ---------------------------------------------------------------------------------------------


def run_wrk(url: str, *, duration: float, connections: int, threads: int) -> tuple[float, int, str]:
    """Requests per second and requests served, from wrk, and a note on errors or non-2xx answers."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    served = re.search(r"(\d+) requests in", out)
    if rate is None or served is None:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    notes = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return float(rate.group(1)), int(served.group(1)), "; ".join(notes)


def run_python(url: str, *, duration: float, connections: int, threads: int) -> tuple[float, int, str]:
    """The fallback load generator: ``connections`` threads, each a keep-alive http.client loop."""
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.split(":")
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.monotonic() + duration

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        while time.monotonic() < deadline:
            try:
                conn.request("GET", "/" + path)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(host, int(port), timeout=5)
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.close()

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    return sum(counts) / elapsed, sum(counts), f"{sum(errors)} errors" if sum(errors) else ""


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its children (a gunicorn and its workers), from /proc.

    Throughput on a shared machine moves with whatever else runs; CPU per request mostly does not, so
    it is printed alongside. None where /proc is not there.
    """
    try:
        tick = os.sysconf("SC_CLK_TCK")
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except (OSError, ValueError, AttributeError):
        return None
    total = 0.0
    for entry in entries:
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# --- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="measured runs of each server (at least 2)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (both servers)")
    parser.add_argument("--gunicorn-threads", type=int, default=4, help="threads per gthread worker")
    args = parser.parse_args(argv)
    rounds = max(2, args.rounds)

    if shutil.which("wrk"):
        load, tool = run_wrk, f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s"
    else:
        load = run_python
        tool = f"python load generator ({args.connections} keep-alive threads, {args.duration:g} s)"
        print("wrk not found on PATH: falling back to a Python load generator (lower absolute numbers)")

    with tempfile.TemporaryDirectory(prefix="candor-bench-") as tmp:
        directory = Path(tmp)
        url, slug, how = build_database(directory)
        env = {
            "DATABASE_URL": url,
            "CANDOR_ENV": "development",
            "SECRET_KEY": SECRET,
            "PYTHONPATH": str(ROOT),
        }
        same = {"workers": args.workers, "worker_class": args.worker_class, "threads": args.gunicorn_threads}
        candor = Gunicorn("candor", "wsgi:app", chdir=ROOT, env=env, log_dir=directory, **same)
        hello = Gunicorn("hello", "hello_app:app", chdir=ROOT / "bench", env=env, log_dir=directory, **same)
        try:
            post_path = f"/posts/{slug}"
            candor.wait_until_ready(post_path)
            hello.wait_until_ready("/hello")
            for server, path in ((hello, "/hello"), (candor, post_path)):
                load(
                    server.url(path), duration=args.warmup, connections=args.connections, threads=args.threads
                )
            # Every worker has now rendered the page once: this answer shows whether it is cached.
            status, headers, page = fetch(candor.port, post_path)
            print(
                f"post page: {post_path} ({how}), {len(page):,} bytes, status {status}, "
                f"X-Candor-Cache: {headers.get('x-candor-cache', 'absent')}"
            )
            print(
                f"load: {tool}; gunicorn: {args.workers} {args.worker_class} workers each "
                f"({args.gunicorn_threads} threads); rounds: {rounds}, alternating"
            )

            changes_path = f"{post_path}/changes"
            load(
                candor.url(changes_path),
                duration=args.warmup,
                connections=args.connections,
                threads=args.threads,
            )
            results: dict[str, list[float]] = {"hello": [], "post": [], "changes": []}
            cpu: dict[str, list[float]] = {"hello": [], "post": [], "changes": []}
            for n in range(1, rounds + 1):
                for label, server, path in (
                    ("hello", hello, "/hello"),
                    ("post", candor, post_path),
                    ("changes", candor, changes_path),
                ):
                    before = tree_cpu_seconds(server.process.pid)
                    rps, served, note = load(
                        server.url(path),
                        duration=args.duration,
                        connections=args.connections,
                        threads=args.threads,
                    )
                    after = tree_cpu_seconds(server.process.pid)
                    results[label].append(rps)
                    line = f"round {n}  {label:5s}  {rps:9.1f} req/s"
                    if before is not None and after is not None and served:
                        cpu[label].append((after - before) / served * 1e6)
                        line += f"  {cpu[label][-1]:6.0f} us server CPU/request"
                    print(line + (f"  ({note})" if note else ""), flush=True)
        finally:
            candor.stop()
            hello.stop()

    hello_median = statistics.median(results["hello"])
    post_median = statistics.median(results["post"])
    ratio = post_median / hello_median
    print(f"median: hello {hello_median:.1f} req/s, post page {post_median:.1f} req/s")
    if cpu["hello"] and cpu["post"]:
        hello_cpu, post_cpu = statistics.median(cpu["hello"]), statistics.median(cpu["post"])
        print(
            f"median server CPU per request: hello {hello_cpu:.0f} us, post page {post_cpu:.0f} us "
            f"(hello / post = {hello_cpu / post_cpu:.2f})"
        )
    print(f"post page / hello = {ratio:.2f}  (target >= {TARGET})")
    changes_cost = post_median / statistics.median(results["changes"])
    print(f"changes view cost / post page cost = {changes_cost:.2f}  (target <= 1.2)")
    print(
        json.dumps(
            {
                "hello": results["hello"],
                "post": results["post"],
                "changes": results["changes"],
                "ratio": round(ratio, 3),
                "changes_cost": round(changes_cost, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
