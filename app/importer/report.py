"""What an import did, kind by kind, with every skip and failure and why: printed and written as JSON."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("imported", "matched", "updated", "unchanged", "skipped", "failed")


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
    entries: list[dict[str, Any]] = field(default_factory=list)

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        self.counts[kind][outcome] += n

    def note(self, kind: str, outcome: str, why: str, **where: Any) -> None:
        """An entry of the JSON report: a skip, a failure, or a warning (converted HTML, a missing image)."""
        self.entries.append({"kind": kind, "outcome": outcome, "why": why, **where})

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "site": self.site,
            "dry_run": self.dry_run,
            "wxr_version": self.wxr_version,
            "failed": self.failed,
            "counts": {kind: dict(c) for kind, c in sorted(self.counts.items())},
            "entries": self.entries,
        }
