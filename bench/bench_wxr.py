"""Reading a 200 MB WordPress export: items per second and peak memory, against lxml's own floor.

Run: ``.venv/bin/python bench/bench_wxr.py [MEGABYTES] [--convert]`` (200 MB by default). Generates
the export with ``tests/support/wxr_gen.py`` into a temporary directory (items with threaded comments,
classic and block-editor content), then reads it in a fresh child process each way:

- ``baseline``: a bare ``lxml.etree.iterparse`` over the same file, clearing each item, building
  nothing: the least any streaming reader can cost;
- ``read``: ``app.wordpress.wxr.read``, building every record (items with their comments and meta);
- ``read+convert`` (with ``--convert``): the same, and every item's content converted to Markdown (a
  first import's work before the database); markdownify makes it far slower than reading.

Peak memory is the child's maximum resident set (``ru_maxrss``), the whole interpreter included; that
of a child that imports the same modules and reads nothing is printed for reference. Targets: read /
baseline time <= 8 (the baseline builds nothing in Python); read's peak within 16 MiB of the empty
child's, whatever the file's size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.wxr_gen import generate  # noqa: E402

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
mode, path = sys.argv[1], sys.argv[2]
items = comments = 0
start = time.perf_counter()
if mode == "baseline":
    from lxml import etree
    for _, element in etree.iterparse(path, tag="item", resolve_entities=False, no_network=True):
        items += 1
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
else:
    from app.wordpress.convert import convert
    from app.wordpress.records import Item
    from app.wordpress.wxr import read
    for record in read(path) if mode != "empty" else ():
        if isinstance(record, Item):
            items += 1
            comments += len(record.comments)
            if mode == "read+convert":
                convert(record.content)
seconds = time.perf_counter() - start
print(json.dumps({{"items": items, "comments": comments, "seconds": seconds,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _run(mode: str, path: Path) -> dict:
    command = [sys.executable, "-c", _CHILD.format(root=str(ROOT)), mode, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    megabytes = int(numbers[0]) if numbers else 200
    modes = ("read", "read+convert") if "--convert" in sys.argv else ("read",)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.xml"
        started = time.perf_counter()
        made = generate(path, megabytes * 1_000_000)
        print(
            f"generated {made.bytes / 1e6:.0f} MB: {made.items:,} items, {made.comments:,} comments "
            f"in {time.perf_counter() - started:.0f} s"
        )
        empty = _run("empty", path)
        print(f"empty child: peak {empty['peak_mib']:.0f} MiB")
        baseline = _run("baseline", path)
        print(f"baseline iterparse: {baseline['seconds']:.1f} s, peak {baseline['peak_mib']:.0f} MiB")
        for mode in modes:
            run = _run(mode, path)
            assert (run["items"], run["comments"]) == (made.items, made.comments)
            print(
                f"{mode}: {run['seconds']:.1f} s, {run['items'] / run['seconds']:,.0f} items/s, "
                f"{made.bytes / 1e6 / run['seconds']:.1f} MB/s, peak {run['peak_mib']:.0f} MiB "
                f"(+{run['peak_mib'] - empty['peak_mib']:.0f} over an empty child); "
                f"time / baseline = {run['seconds'] / baseline['seconds']:.2f}"
            )


if __name__ == "__main__":
    main()
