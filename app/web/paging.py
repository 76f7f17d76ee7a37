"""The HTML pagers' arguments: ``?after=`` (the cursor of a next link) and ``?before=`` (of a previous
link), as every list view reads them and hands them to its template (app/cursors.py makes the pages).

Addresses, for search engines: a page reached by ``?after=`` names itself canonical (its rows have that
one address). A page reached back by ``?before=`` does not: its rows are the rows of some ``?after=`` page
(or, once rows came or went, straddle two), whose address it cannot know without another query. It says
``noindex, follow`` instead (templates/base.html: any page with ``?before=``), so its rows are indexed
under their own page and its links still followed; only when it is the list's first page (there is none
before it) is its canonical known, the list's own address without a cursor (``first_page``).
"""

from __future__ import annotations

from typing import Any

from flask import request

from app.cursors import Page
from app.web.urls import public_url


def cursors() -> tuple[str | None, str | None]:
    """``(after, before)`` from the query string, None when absent or empty."""
    return request.args.get("after") or None, request.args.get("before") or None


def first_page(**args: Any) -> str | None:
    """The canonical address of the list being served, at its first page (no cursor), with ``args``
    (query arguments that choose the list rather than the page); None where pages name no canonical
    (staff pages, errors: app.web.discovery.canonical_url)."""
    from app.web.discovery import canonical_url  # the head's vocabulary, which reads the posts' services

    if request.endpoint is None or canonical_url() is None:
        return None
    return public_url(request.endpoint, **(request.view_args or {}), **args)


def pager(listed: Page, after: str | None, before: str | None) -> dict[str, Any]:
    """What a template's pager needs: ``after`` (set on every page but the first: a page reached back by
    ``before`` that has a previous page is not the first), the previous and next pages' cursors, and for
    the first page reached back by ``before`` its canonical address (``canonical_override``)."""
    shown: dict[str, Any] = {
        "after": after or (before if listed.previous else None),
        "previous_cursor": listed.previous,
        "next_cursor": listed.next,
    }
    if before and not listed.previous:
        first = first_page()
        if first is not None:
            shown["canonical_override"] = first
    return shown
