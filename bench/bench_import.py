"""Importing a generated WordPress export into PostgreSQL: items per second and peak memory.

Run: ``.venv/bin/python bench/bench_import.py [MEGABYTES]`` (200 by default) with
``CANDOR_TEST_POSTGRES_URL`` set (a server where it may create and drop a database of its own).
Generates the export with ``tests/support/wxr_gen.py`` (posts and pages of every status, three threaded
comments each, classic and block-editor content), then in fresh child processes:

- ``read+convert``: the export read and every item's content converted to Markdown, nothing written:
  the floor under any import of this file (the baseline, measured in the same run);
- ``import``: ``app.importer.import_wordpress`` into an empty, migrated PostgreSQL database, in one
  transaction, committed.

Prints items per second, the ratio import / read+convert in time, and each child's peak resident set
(``ru_maxrss``, the whole interpreter) with the peak of Python allocations (``tracemalloc``), so that
memory that grows with the file shows up as a difference between two sizes (run it at 20 and 200).
The import prints its progress every 2,000 items on stderr. ``--no-floor`` leaves the read+convert
child out (on a loaded machine, to give the import the time; measure the floor on a smaller file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.wxr_gen import generate  # noqa: E402

_CHILD = """
import json, resource, sys, time, tracemalloc
sys.path.insert(0, {root!r})
mode, path, url = sys.argv[1], sys.argv[2], sys.argv[3]
trace = "--trace" in sys.argv
if trace:
    tracemalloc.start()
start = time.perf_counter()
items = 0
if mode == "read+convert":
    from app.wordpress.convert import convert
    from app.wordpress.records import Item
    from app.wordpress.wxr import read
    for record in read(path):
        if isinstance(record, Item):
            items += 1
            convert(record.content)
    counts = {{}}
else:
    from app import create_app
    from app.importer import import_wordpress
    from app.web.database import session_factory
    app = create_app({{"DATABASE_URL": url, "TESTING": True}})
    with app.app_context():
        session = session_factory()()
        done = [0]
        def progress():
            # On stderr as it goes: a run cut short still says how far it got, how fast, in how much memory.
            done[0] += 1
            if done[0] % 2000 == 0:
                spent = time.perf_counter() - start
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"  {{done[0]}} items in {{spent:.0f}} s = {{done[0] / spent:.1f}} items/s, "
                      f"peak RSS {{rss:.1f}} MiB", file=sys.stderr, flush=True)
        report = import_wordpress(session, path, on_item=progress)
        session.commit()
        counts = {{k: dict(v) for k, v in report.counts.items()}}
        items = sum(sum(counts.get(k, {{}}).values()) for k in ("post", "page"))
seconds = time.perf_counter() - start
traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
print(json.dumps({{"items": items, "seconds": seconds, "counts": counts, "traced_peak_mib": traced,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _child(mode: str, path: Path, url: str, trace: bool) -> dict:
    args = [sys.executable, "-c", _CHILD.format(root=str(ROOT)), mode, str(path), url]
    out = subprocess.run(
        args + (["--trace"] if trace else []), stdout=subprocess.PIPE, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"the {mode} child failed (its error is above)")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _database(base: str) -> tuple[str, str]:
    import sqlalchemy as sa

    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.rsplit("/", 1)[0] + "/" + name, name


def _drop(base: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    megabytes = float(args[0]) if args else 200.0
    trace = "--trace" in sys.argv
    base = os.environ.get("CANDOR_TEST_POSTGRES_URL")
    if not base:
        raise SystemExit("Set CANDOR_TEST_POSTGRES_URL (the import is measured on PostgreSQL).")
    from app import migrate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.xml"
        t = time.perf_counter()
        made = generate(path, int(megabytes * 2**20))
        print(
            f"generated {made.bytes / 2**20:.1f} MiB: {made.items} items, {made.comments} comments "
            f"in {time.perf_counter() - t:.1f} s"
        )
        url, name = _database(base)
        try:
            migrate.upgrade(url)
            # The import first: on a loaded machine the floor (CPU only) is the part to leave out.
            run = _child("import", path, url, trace)
            floor = None if "--no-floor" in sys.argv else _child("read+convert", path, url, trace)
        finally:
            _drop(base, name)
    for label, r in (("read+convert", floor), ("import", run)):
        if r is None:
            continue
        traced = f", Python allocations peak {r['traced_peak_mib']:.1f} MiB" if r["traced_peak_mib"] else ""
        print(
            f"{label:>13}: {r['items']} items in {r['seconds']:.1f} s = "
            f"{r['items'] / r['seconds']:.1f} items/s, peak RSS {r['peak_mib']:.1f} MiB{traced}"
        )
    if floor is not None:
        print(f"import / read+convert time: {run['seconds'] / floor['seconds']:.2f}")
    print("counts:", json.dumps(run["counts"]))


if __name__ == "__main__":
    main()
