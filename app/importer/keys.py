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

    def add(self, kind: ItemKind, key: str, target_id: int, **data: Any) -> None:
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
        self.session.flush()
        if kind in MEMOISED:
            self._memo[(kind.value, key)] = target_id
