"""The HTML pagers' arguments: ``?after=`` (the cursor of a next link) and ``?before=`` (of a previous
link), as every list view reads them and hands them to its template (app/cursors.py makes the pages)."""

from __future__ import annotations

from typing import Any

from flask import request

from app.cursors import Page


def cursors() -> tuple[str | None, str | None]:
    """``(after, before)`` from the query string, None when absent or empty."""
    return request.args.get("after") or None, request.args.get("before") or None


def pager(listed: Page, after: str | None, before: str | None) -> dict[str, Any]:
    """What a template's pager needs: ``after`` (set on every page but the first: a page reached back by
    ``before`` that has a previous page is not the first), and the previous and next pages' cursors."""
    return {
        "after": after or (before if listed.previous else None),
        "previous_cursor": listed.previous,
        "next_cursor": listed.next,
    }
