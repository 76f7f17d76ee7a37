"""A web worker's memory (issue 14: under 200 MB with the off-topic model): what it never needs is not
imported, and the model's runs give back what they free.

Each check runs in a fresh interpreter (the test process has imported everything already). No timing or
machine-dependent figure is asserted except one generous bound on memory kept after long texts, where
the failure it guards against is 70 MB (bench/bench_offtopic.py --memory measures the worker).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from app import migrate

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
