"""A web worker's and the job worker's memory (issue 14: under 200 MB with the off-topic model): what
each never needs is not imported, and the model's runs give back what they free.

Each check runs in a fresh interpreter (the test process has imported everything already). No timing or
machine-dependent figure is asserted except one generous bound on memory kept after long texts, where
the failure it guards against is 70 MB (bench/bench_offtopic.py --memory measures the worker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import migrate
from app.comments.models import Comment
from app.comments.services import CHECKING
from tests.support.comments import comment_api
from tests.support.require_all import require_redis

ROOT = Path(__file__).resolve().parent.parent

NEVER_IN_A_SERVING_WORKER = (
    "alembic",  # migrations: `flask db`, `make run` (app.migrate loads it in the command)
    "bs4",  # the WordPress import's converters
    "markdownify",
    "app.importer.services",
    "app.wordpress.convert",
    "app.export.wxr",
    "authlib",  # single sign-on: loaded at the first sign-in
    "joserfc",
    "feedgen",  # feeds: loaded by the first feed served
    "PIL",  # images: loaded by the first upload
    "confusable_homoglyphs.confusables",  # 8 MB of parsed data; the impersonation check keeps 1 MB
    "onnxruntime",  # the model: loaded by the first comment scored
)

SERVE = """
import json, sys
from app import create_app

app = create_app({"DATABASE_URL": sys.argv[1], "TESTING": True})
client = app.test_client()
seen = {}
for path in ("/", "/healthz", "/posts/no-such-post", "/2009/05/hello/", "/?p=12", "/api/v1/posts"):
    seen[path] = client.get(path).status_code
seen["loaded"] = sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)
seen["feed"] = client.get("/feed.atom").status_code
seen["feedgen after a feed"] = "feedgen" in sys.modules
app.extensions["candor.engine"].dispose()
print(json.dumps(seen))
"""


def _run(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_serving_worker_imports_nothing_it_does_not_use(database_url: str) -> None:
    seen = _run(SERVE, database_url, json.dumps(NEVER_IN_A_SERVING_WORKER))
    assert seen["loaded"] == []
    assert seen["/"] == 200
    assert seen["/healthz"] == 200  # the migration check reads the scripts' heads without Alembic
    assert seen["/posts/no-such-post"] == 404  # the old-address lookup runs, without the importer
    assert seen["/2009/05/hello/"] == 404
    assert seen["/api/v1/posts"] == 200
    assert seen["feed"] == 200 and seen["feedgen after a feed"] is True


# --- the job worker (flask --app app:create_jobs_app worker) -----------------------------------------

NEVER_IN_THE_JOB_WORKER = (
    *(name for name in NEVER_IN_A_SERVING_WORKER if name != "onnxruntime"),  # the worker loads the model
    "lxml",  # rendering and plain text: loaded by the first render (app/posts/rendering.py)
    "markdown",
    "jsonschema",  # the JSON API's bodies: views only
    "flask_wtf",  # forms and CSRF
    "wtforms",
    "flask_compress",  # responses
    "app.web.api",  # no view of any kind: the URL map is copied (app.create_jobs_app)
    "app.web.pagecache",
    "app.web.fragments",
    "app.web.security",
    "app.posts.views",
    "app.comments.views",
    "app.comments.api.views",
)

REDIS_URL = "redis://127.0.0.1:6379/11"

JOB_WORKER = """
import atexit, json, sys
from flask.cli import main

report = sys.argv.pop(1)
atexit.register(lambda: open(report, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["flask", "--app", "app:create_jobs_app", "worker", "--workers", "2"]
main()
"""


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    require_redis()
    return {
        **comments_config,
        "COMMENT_CHECK_BUDGET_MS": 0,  # production's default: the job worker checks every comment
        "REDIS_URL": REDIS_URL,
        "JOBS_QUEUE": f"candor-test-{uuid.uuid4().hex}",
    }


def test_the_job_worker_judges_a_comment_without_what_it_never_uses(
    app: Flask, client: Any, make_post: Any, database_url: str, tmp_path: Path
) -> None:
    """A real ``flask --app app:create_jobs_app worker`` checks a comment (the model loads, Akismet is
    asked) and, once stopped, has imported none of the views, forms or libraries only they use."""
    post = make_post()
    answer = comment_api(client, post, body="Does a short nap in the afternoon count towards my sleep?")
    assert answer.status_code == 202, answer.get_json()
    comment_id = answer.get_json()["id"]
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("CANDOR_", "MAIL_", "REDIS_", "AKISMET_"))
    }
    config = app.config
    env = {
        **keep,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "CANDOR_JOBS_QUEUE": config["JOBS_QUEUE"],
        "CANDOR_PUBLIC_URL": config["PUBLIC_URL"],
        "CANDOR_COMMENT_CHECK_BUDGET_MS": "0",
        **{key: str(config[key]) for key in ("AKISMET_API_KEY", "AKISMET_BLOG_URL", "AKISMET_API_URL")},
    }
    report = tmp_path / "modules.json"
    worker = subprocess.Popen(
        [sys.executable, "-c", JOB_WORKER, str(report)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        sessions = app.extensions["candor.sessions"]
        deadline = time.monotonic() + 120
        while True:
            with sessions() as session:
                verdict = session.scalar(select(Comment.akismet_verdict).where(Comment.id == comment_id))
            if verdict != CHECKING:
                break
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the job worker did not check the comment in 2 minutes"
            time.sleep(0.2)
    finally:
        worker.terminate()  # SIGTERM: the consumer stops, the interpreter exits and writes the report
        try:
            _, errors = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, errors = worker.communicate()
        app.extensions["candor.tasks"].huey.flush()
    assert report.exists(), errors.decode()[-3000:]
    loaded = set(json.loads(report.read_text()))
    assert "onnxruntime" in loaded and "app.spam.embedding" in loaded  # it did judge with the model
    assert sorted(name for name in NEVER_IN_THE_JOB_WORKER if name in loaded) == []


URL_MAPS = """
import json, sys
from app import create_app, create_jobs_app

config = {"DATABASE_URL": sys.argv[1], "TESTING": True, "PUBLIC_URL": "https://blog.example.org"}
full, jobs = create_app(config), create_jobs_app(config)

def rules(app):
    return sorted(
        [r.rule, r.endpoint, sorted(r.methods or ()), sorted((r.defaults or {}).items()), r.build_only]
        for r in app.url_map.iter_rules()
    )

with jobs.app_context():
    from app.web.urls import public_url
    urls = [public_url("posts.show", slug="a-post"), public_url("comments.more", slug="a-post")]
print(json.dumps({"full": rules(full), "jobs": rules(jobs), "urls": urls}))
"""


def test_the_job_workers_url_map_is_the_full_apps(database_url: str) -> None:
    """E-mail links and CDN purges are built in the job worker: every rule of the full app is there
    (build-only: the worker serves no request), though the worker never imports a view."""
    seen = _run(URL_MAPS, database_url)
    full = {json.dumps(rule[:4]) for rule in seen["full"]}
    jobs = {json.dumps(rule[:4]) for rule in seen["jobs"]}
    assert jobs == full and len(full) > 100
    served = sorted(rule[1] for rule in seen["jobs"] if not rule[4])
    assert served == ["ops.healthz", "ops.metrics", "static"]  # its own; every copied rule is build-only
    assert seen["urls"] == [
        "https://blog.example.org/posts/a-post",
        "https://blog.example.org/posts/a-post/comments",
    ]


def test_heads_read_from_the_scripts_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    expected = ScriptDirectory.from_config(migrate.alembic_config("")).get_heads()
    assert migrate.heads() == frozenset(expected)
    assert len(expected) == 1


def test_heads_read_annotated_and_merge_revisions(tmp_path: Path, monkeypatch: Any) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "0002"\ndown_revision: str | None = "0001"\n')
    (versions / "c.py").write_text("revision = '0003'\ndown_revision = '0001'\n")
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    assert migrate.heads() == frozenset({"0002", "0003"})
    (versions / "d.py").write_text('revision = "0004"\ndown_revision = ("0002", "0003")\n')  # a merge
    assert migrate.heads() == frozenset({"0004"})


LONG_TEXTS = """
import json
from app.spam import embedding

def rss():
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("Rss:"):
            return int(line.split()[1]) / 1024

encoder = embedding.encoder()
encoder.encode("a first sentence, so that the session's own allocations are made")
before = rss()
encoder.encode_many([("word%d and another %d " % (n, n)) * 80 for n in range(12)])
for n in range(12):
    encoder.encode(("comment %d words " % n) * 60, max_tokens=embedding.COMMENT_TOKENS)
print(json.dumps({"kept": rss() - before}))
"""


def test_long_texts_leave_no_memory_behind() -> None:
    """Without the fixed mmap threshold a worker kept about 70 MB after a few 256-word-piece passages."""
    kept = _run(LONG_TEXTS)["kept"]
    assert kept < 15, f"{kept:.0f} MB kept after encoding long texts"
