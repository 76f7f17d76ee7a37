"""The import's keys: which Candor row each WordPress thing of one site became (``wordpress_items``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.importer.models import ItemKind, WordPressItem

# Authors and terms are asked for once per item; posts and comments once each. Only the few are kept, so
# the memo stays small however large the export.
MEMOISED = frozenset({ItemKind.AUTHOR, ItemKind.TERM})
BATCH = 500  # keys per IN (...) list: well under any driver's limit on bound parameters


class Keys:
    """Look-ups and additions for one site, memoised for the run (an import asks for the same author or
    term once per item)."""

    def __init__(self, session: Session, site: str):
        self.session, self.site = session, site[:500]
        self._memo: dict[tuple[str, str], int | None] = {}

    def find(self, kind: ItemKind, key: str) -> int | None:
        memo = (kind.value, key)
        if memo not in self._memo:
            found = self.session.scalar(
                select(WordPressItem.target_id).where(
                    WordPressItem.site == self.site,
                    WordPressItem.kind == kind.value,
                    WordPressItem.wp_key == key[:500],
                )
            )
            if kind not in MEMOISED:
                return found
            self._memo[memo] = found
        return self._memo[memo]

    def find_many(self, kind: ItemKind, keys: list[str]) -> dict[str, int]:
        """The targets of ``keys`` (of one kind) that are stored, by key: one query for an item's comments
        instead of one per comment."""
        wanted = list(dict.fromkeys(k[:500] for k in keys))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), BATCH):
            found.update(
                self.session.execute(
                    select(WordPressItem.wp_key, WordPressItem.target_id).where(
                        WordPressItem.site == self.site,
                        WordPressItem.kind == kind.value,
                        WordPressItem.wp_key.in_(wanted[start : start + BATCH]),
                    )
                ).all()
            )
        return found

    def rows(self, kind: ItemKind, keys: list[str]) -> dict[str, WordPressItem]:
        """The stored rows of ``keys`` (of one kind), by key: what each became, and what was recorded of
        it then (``data``: a post's fingerprint, to tell whether it changed on WordPress since)."""
        wanted = list(dict.fromkeys(k[:500] for k in keys))
        found: dict[str, WordPressItem] = {}
        for start in range(0, len(wanted), BATCH):
            for row in self.session.scalars(
                select(WordPressItem).where(
                    WordPressItem.site == self.site,
                    WordPressItem.kind == kind.value,
                    WordPressItem.wp_key.in_(wanted[start : start + BATCH]),
                )
            ):
                found[row.wp_key] = row
        return found

    def add(self, kind: ItemKind, key: str, target_id: int, *, flush: bool = True, **data: Any) -> None:
        """Record that ``key`` became ``target_id``. ``flush=False``: written with the session's next flush
        (the import adds an item's comments' keys together, and flushes once)."""
        self.session.add(
            WordPressItem(
                site=self.site,
                kind=kind.value,
                wp_key=key[:500],
                target_id=target_id,
                data={k: v for k, v in data.items() if v not in (None, "")},
                imported_at=utc_now(),
            )
        )
        if flush:
            self.session.flush()
        if kind in MEMOISED:
            self._memo[(kind.value, key)] = target_id
