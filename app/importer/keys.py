"""The import's keys: which Candor row each WordPress thing of one site became (``wordpress_items``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.importer.models import ItemKind, WordPressItem

# Authors and terms are asked for once per item; posts and comments once each. Only the few are kept, so
# the memo stays small however large the export.
MEMOISED = frozenset({ItemKind.AUTHOR, ItemKind.TERM})
BATCH = 100  # keys per query: 300 bound parameters, well under any driver's limit


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
        return {row.wp_key: row.target_id for row in self._lookup(kind, keys, WordPressItem.target_id)}

    def rows(self, kind: ItemKind, keys: list[str]) -> dict[str, WordPressItem]:
        """The stored rows of ``keys`` (of one kind), by key: what each became, and what was recorded of
        it then (``data``: a post's fingerprint, to tell whether it changed on WordPress since)."""
        ids = [row.id for row in self._lookup(kind, keys, WordPressItem.id)]
        if not ids:
            return {}
        return {
            row.wp_key: row
            for row in self.session.scalars(select(WordPressItem).where(WordPressItem.id.in_(ids)))
        }

    def _lookup(self, kind: ItemKind, keys: list[str], column: Any) -> list[Any]:
        """One query for many keys, as a UNION ALL of one exact lookup each.

        Not ``wp_key IN (...)``: inside the import's one transaction the table has no statistics yet, and
        PostgreSQL then reads the IN list as a filter over every key of the site and kind, not as a
        condition on the unique index: each look-up would grow with the import (measured: the 200 MB
        import slowed down steadily). Each branch here is a single lookup on the index, whatever the
        statistics say.
        """
        wanted = list(dict.fromkeys(k[:500] for k in keys))
        found: list[Any] = []
        for start in range(0, len(wanted), BATCH):
            branches = [
                select(WordPressItem.wp_key, column).where(
                    WordPressItem.site == self.site,
                    WordPressItem.kind == kind.value,
                    WordPressItem.wp_key == key,
                )
                for key in wanted[start : start + BATCH]
            ]
            statement = branches[0] if len(branches) == 1 else union_all(*branches)
            found += self.session.execute(statement).all()
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
