"""`flask export` on a few thousand posts: seconds, records per second and peak memory, against a floor.

Run: ``.venv/bin/python bench/bench_export.py [POSTS]`` (3000 by default). Seeds a migrated SQLite
database in a temporary directory, in bulk (Core inserts, not the services: a corrected post every third,
so two revisions, approvals and publications; four comments a post, one a reply, each with its
decision; an audit entry per publication), then runs each mode in a fresh child process:

- ``empty``: imports the app and reads nothing (the interpreter's own footprint);
- ``baseline``: one plain ``SELECT`` per table the export reads most of (posts, revisions, approvals,
  publications, comments, decisions, audit), every row dumped as a JSON line: the least any export of
  the same rows can cost;
- ``json``: ``app.export.record.write_record`` (the whole record, nested, in keyset batches);
- ``wxr``: ``app.export.wxr`` through ``app.wordpress.write`` (posts with their comments).

Each is run twice (the faster run counts) at POSTS and at 3 x POSTS: time should grow with the data,
peak memory should not (batches).
Printed: seconds, posts per second, output size, peak resident memory (``VmHWM``, reset once the child
has imported everything, so it is the peak while exporting) and how much above the resident size at the
start that is, and the ratio of time to the baseline's at the same size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert  # noqa: E402

from app import migrate  # noqa: E402
from app.models import (  # noqa: E402
    Approval,
    AuditEntry,
    Comment,
    ModerationDecision,
    Post,
    Publication,
    Revision,
    User,
)

_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
mode, url, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
from datetime import UTC, datetime
from sqlalchemy import text
from app.db import make_engine, make_session_factory, snapshot
from app.export import record, wxr
engine = make_engine(url, explicit_begin=True)
session = make_session_factory(engine)()
site = record.SiteInfo("Bench", "https://blog.example.org", "Europe/Paris")
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # from here on, VmHWM is the peak of the export alone
before = status("VmRSS")
start = time.perf_counter()
with open(out_path, "wb") as out:
    if mode == "baseline":
        for table in ("posts", "post_revisions", "approvals", "publications", "comments",
                      "moderation_decisions", "audit_entries"):
            for row in session.execute(text(f"SELECT * FROM {{table}}")).mappings():
                out.write(json.dumps(dict(row), default=str).encode() + b"\\n")
    elif mode == "json":
        snapshot(session)
        record.write_record(session, out, site, datetime.now(UTC))
    elif mode == "wxr":
        snapshot(session)
        wxr.write(out, site, wxr.records(session, site))
seconds = time.perf_counter() - start
session.close()
print(json.dumps({{"seconds": seconds, "peak_mib": status("VmHWM"), "growth_mib": status("VmHWM") - before}}))
"""

T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
HTML = "<p>Adults need <strong>seven hours</strong> of sleep; see <a href='https://example.org/s'>it</a>.</p>"
BODY = "Adults need **seven hours** of sleep; see [the study](https://example.org/s).\n\n" * 6


def seed(url: str, posts: int) -> None:
    """Bulk rows that satisfy the schema's CHECKs (foreign keys are not enforced on this connection)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(User.__table__),
            [
                {"id": i, "email": f"u{i}@clinic.example", "name": f"Staff {i}", "password_hash": "x" * 40}
                for i in (1, 2)
            ],
        )
        revision_id = approval_id = comment_id = decision_id = audit_id = 0
        for first in range(1, posts + 1, 500):
            rows: dict[str, list[dict[str, object]]] = {
                name: []
                for name in (
                    "posts",
                    "revisions",
                    "approvals",
                    "publications",
                    "comments",
                    "decisions",
                    "audit",
                )
            }
            for post_id in range(first, min(first + 500, posts + 1)):
                at = T0 + timedelta(minutes=post_id)
                numbers = (1, 2) if post_id % 3 == 0 else (1,)
                for number in numbers:
                    revision_id += 1
                    approval_id += 1
                    audit_id += 1
                    when = at + timedelta(days=number - 1)
                    rows["revisions"].append(
                        {
                            "id": revision_id,
                            "post_id": post_id,
                            "number": number,
                            "title": f"Post {post_id} about sleep",
                            "body": BODY,
                            "references": ["https://example.org/s"],
                            "html": HTML * 6,
                            "author_id": 1,
                            "created_at": when,
                            "kind": "original" if number == 1 else "correction",
                            "note": "" if number == 1 else "The figure was wrong.",
                        }
                    )
                    rows["approvals"].append(
                        {
                            "id": approval_id,
                            "post_id": post_id,
                            "revision_id": revision_id,
                            "revision_author_id": 1,
                            "approved_by_id": 2,
                            "approved_at": when,
                            "gates": [{"gate": "references", "ok": True, "overridden": False}],
                        }
                    )
                    rows["publications"].append(
                        {
                            "id": approval_id,
                            "post_id": post_id,
                            "revision_id": revision_id,
                            "approved_by_id": 2,
                            "published_at": when,
                            "approval_id": approval_id,
                        }
                    )
                    rows["audit"].append(
                        {
                            "id": audit_id,
                            "at": when,
                            "actor_id": 2,
                            "action": "post.publish",
                            "post_id": post_id,
                            "revision_number": number,
                            "data": {},
                        }
                    )
                rows["posts"].append(
                    {
                        "id": post_id,
                        "slug": f"post-{post_id}",
                        "publication_state": "live",
                        "author_id": 1,
                        "current_revision_id": revision_id,
                        "published_revision_id": revision_id,
                        "created_at": at,
                        "first_published_at": at,
                        "updated_at": at,
                        "comment_count": 4,
                    }
                )
                thread = None
                for n in range(4):
                    comment_id += 1
                    decision_id += 1
                    rows["comments"].append(
                        {
                            "id": comment_id,
                            "post_id": post_id,
                            "parent_id": thread if n == 1 else None,
                            "thread_id": thread if n == 1 else None,
                            "author_name": f"Reader {n}",
                            "author_email": f"reader{n}@example.net",
                            "author_ip": "203.0.113.9",
                            "body": "Thank you, seven hours of sleep is a helpful target for adults.",
                            "html": "<p>Thank you, seven hours of sleep is a helpful target for adults.</p>",
                            "status": "published",
                            "checks": [{"check": "akismet", "verdict": "ham", "reason": "", "detail": ""}],
                            "created_at": at + timedelta(hours=n),
                            "status_changed_at": at + timedelta(hours=n),
                        }
                    )
                    thread = thread or comment_id
                    rows["decisions"].append(
                        {
                            "id": decision_id,
                            "comment_id": comment_id,
                            "action": "submit",
                            "to_status": "published",
                            "at": at + timedelta(hours=n),
                        }
                    )
            for table, name in (
                (Post, "posts"),
                (Revision, "revisions"),
                (Approval, "approvals"),
                (Publication, "publications"),
                (Comment, "comments"),
                (ModerationDecision, "decisions"),
                (AuditEntry, "audit"),
            ):
                conn.execute(insert(table.__table__), rows[name])
    engine.dispose()


def run(mode: str, url: str, out: Path) -> dict[str, float]:
    child = _CHILD.format(root=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", child, mode, url, str(out)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


MODES = ("empty", "baseline", "json", "wxr")


def best_of(times: int, mode: str, url: str, out: Path) -> dict[str, float]:
    """The fastest of a few runs (the machine is shared; noise only ever adds time), the largest peak."""
    runs = [run(mode, url, out) for _ in range(times)]
    fastest = min(runs, key=lambda r: r["seconds"])
    return {
        **fastest,
        "peak_mib": max(r["peak_mib"] for r in runs),
        "growth_mib": max(r["growth_mib"] for r in runs),
    }


def main() -> None:
    posts = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    with tempfile.TemporaryDirectory() as tmp:
        for size in (posts, 3 * posts):
            url = f"sqlite:///{tmp}/bench-{size}.sqlite3"
            migrate.upgrade(url)
            started = time.perf_counter()
            seed(url, size)
            print(f"{size} posts seeded in {time.perf_counter() - started:.1f} s")
            results = {mode: best_of(2, mode, url, Path(tmp) / f"out-{mode}") for mode in MODES}
            floor = results["baseline"]["seconds"]
            for mode, result in results.items():
                size_mb = (Path(tmp) / f"out-{mode}").stat().st_size / 1e6
                rate = size / result["seconds"] if mode != "empty" else 0
                print(
                    f"  {mode:<9} {result['seconds']:7.2f} s  {rate:8.0f} posts/s  {size_mb:7.1f} MB  "
                    f"peak {result['peak_mib']:6.1f} MiB (+{result['growth_mib']:5.1f} while exporting)  "
                    f"x{result['seconds'] / floor:5.2f} baseline"
                )


if __name__ == "__main__":
    main()
