"""What an import did, kind by kind, with every skip and failure and why: printed and written as JSON.

The entries are kept as JSON lines, in memory up to ``SPOOL_BYTES`` and then in a temporary file, so a
large export's report (it notes every post that would fail a gate) does not grow the import's memory
with the file; ``write_json`` streams them out again.
"""

from __future__ import annotations

import json
import tempfile
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

OUTCOMES = ("imported", "matched", "updated", "unchanged", "skipped", "failed")
SPOOL_BYTES = 1 << 20


@dataclass
class Report:
    """Counts per kind and outcome, and the entries behind the skips, failures and warnings."""

    source: str = ""
    site: str = ""
    dry_run: bool = False
    wxr_version: str = ""
    failed: bool = False
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    )
    noted: Counter[str] = field(default_factory=Counter)  # entries per outcome
    _lines: list[str] = field(default_factory=list)  # the entries while they are few
    _size: int = 0
    _file: Any = None  # then a temporary file, closed with the report (weakref.finalize)

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        self.counts[kind][outcome] += n

    def note(self, kind: str, outcome: str, why: str, **where: Any) -> None:
        """An entry of the JSON report: a skip, a failure, or a warning (converted HTML, a missing image)."""
        entry = {"kind": kind, "outcome": outcome, "why": why, **where}
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        self.noted[outcome] += 1
        if self._file is not None:
            self._file.write(line)
            return
        self._lines.append(line)
        self._size += len(line)
        if self._size > SPOOL_BYTES:
            self._file = tempfile.TemporaryFile("w+", encoding="utf-8")
            weakref.finalize(self, self._file.close)
            self._file.writelines(self._lines)
            self._lines = []

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def iter_entries(self) -> Iterator[dict[str, Any]]:
        if self._file is None:
            yield from (json.loads(line) for line in self._lines)
            return
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)
        self._file.seek(0, 2)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Every entry, in memory: for tests and small exports; ``write_json`` streams them."""
        return list(self.iter_entries())

    def _head(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "site": self.site,
            "dry_run": self.dry_run,
            "wxr_version": self.wxr_version,
            "failed": self.failed,
            "counts": {kind: dict(c) for kind, c in sorted(self.counts.items())},
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self._head(), "entries": self.entries}

    def write_json(self, out: IO[str]) -> None:
        """The report as one JSON document, the entries streamed one by one."""
        head = json.dumps(self._head(), indent=1, ensure_ascii=False)
        out.write(head[:-2] + ',\n "entries": [')
        for n, entry in enumerate(self.iter_entries()):
            out.write(("," if n else "") + "\n  " + json.dumps(entry, ensure_ascii=False, default=str))
        out.write("\n ]\n}\n")
