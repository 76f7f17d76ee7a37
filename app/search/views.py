"""Search: the reader page (/search), the JSON API (GET /api/v1/search) and the staff page (/staff/search).

The page never shows markup from the index: a snippet arrives as runs of (text, highlighted), which the
template escapes and wraps in <mark>; the JSON gives the plain text, and ``snippet_html`` built the same
way (escaped text, our own <mark> only).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from app.accounts.permissions import require
from app.cursors import BadCursor
from app.errors import InvalidInput
from app.search import services
from app.search.services import Hit
from app.text import whole_number
from app.web import api
from app.web.api import OPTIONAL, PAGE_QUERY, TEXT, URL, answer, listing, listing_of, nullable, page_args
from app.web.auth import current_user
from app.web.database import db
from app.web.readers import public_reader_url

bp = Blueprint("search", __name__)
API = api.Routes()
PER_PAGE = 10
STAFF_PER_PAGE = 20

MAX_API_QUERY_CHARS = 10_000
"""The API refuses a longer q (its document says so); the reader's form just reads the first
MAX_QUERY_CHARS of whatever it is sent."""


def _query() -> str:
    value = request.args.get("q", "")
    return value[: services.MAX_QUERY_CHARS]


def _after() -> str | None:
    """``?after=``, the cursor of a next link (checked by the search itself). Results no longer page by
    number (OFFSET read every hit before the page): ``?page=1`` is the first page, any other ``page`` is
    refused (400), saying so, rather than silently showing the first page again."""
    if request.args.get("page", "1") != "1":
        raise BadCursor("page is no longer accepted: follow the More results link, which carries after.")
    return request.args.get("after") or None


def _before() -> str | None:
    """``?before=``, the cursor of a previous link (checked by the search itself, like ``after``)."""
    return request.args.get("before") or None


def _shown() -> int:
    """How many results the earlier pages showed (``?shown=``, carried by the next link), so that a later
    page numbers its results on from there: every page's list began again at 1, and a reader on the 23rd
    could not tell it from the first. Display only: a wrong number mislabels, it never selects."""
    if not request.args.get("after") and not request.args.get("before"):
        return 0
    return whole_number(request.args.get("shown"), upper=10**6) or 0


@bp.get("/search")
def results() -> Any:
    query, after, before = _query(), _after(), _before()
    found = services.search(db(), query, after=after, before=before, per_page=PER_PAGE)
    hits, next_cursor = found
    return render_template(
        "search/results.html",
        query=query,
        searched=bool(services.tokens(query)),
        hits=hits,
        after=after or (before if found.previous else None),
        next_cursor=next_cursor,
        previous_cursor=found.previous,
        # Back at the top, the list numbers from 1 whatever the link said.
        shown=_shown() if after or found.previous else 0,
        per_page=PER_PAGE,
    )


@bp.get("/staff/search")
def staff_results() -> Any:
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.full_path))
    require(user, "post.view_unpublished")
    query, after, before = _query(), _after(), _before()
    found = services.staff_search(db(), user, query, after=after, before=before, per_page=STAFF_PER_PAGE)
    hits, next_cursor = found
    return render_template(
        "search/staff.html",
        query=query,
        hits=hits,
        after=after or (before if found.previous else None),
        next_cursor=next_cursor,
        previous_cursor=found.previous,
        shown=_shown() if after or found.previous else 0,
        per_page=STAFF_PER_PAGE,
        staff_section="search",
    )


def snippet_html(hit: Hit) -> str:
    """The snippet as HTML: every run escaped, the highlighted ones in our own <mark>."""
    return str(
        Markup("").join(Markup("<mark>%s</mark>") % run if lit else escape(run) for run, lit in hit.snippet)
    )


HIT = answer(
    {
        "type": {"type": "string", "enum": ["post", "page"]},
        "id": api.ID,
        "slug": nullable(TEXT),
        "title": TEXT,
        "url": nullable(URL),
        "snippet": TEXT,
        "snippet_html": {**TEXT, "description": "The snippet, escaped, matched words in <mark>."},
        "status": TEXT,
    }
)
SEARCH_QUERY: dict[str, Any] = {
    "q": {
        "type": "string",
        "maxLength": MAX_API_QUERY_CHARS,
        "description": "Words to find (any punctuation is ignored).",
    },
    "scope": {
        "type": "string",
        "enum": ["public", "staff"],
        "default": "public",
        "description": "staff (with a staff token): every post and page in any state, by the newest text.",
    },
    **PAGE_QUERY,
}


@API.get(
    "/search",
    summary="Published posts and pages matching q, best first (staff: every draft too, with scope=staff)",
    auth=OPTIONAL,
    query=SEARCH_QUERY,
    responses={200: listing_of(HIT)},
)
def api_search() -> Any:
    if len(request.args.get("q", "")) > MAX_API_QUERY_CHARS:
        raise InvalidInput(f"q is too long: at most {MAX_API_QUERY_CHARS:,} characters.", field="q")
    query = _query()
    scope = request.args.get("scope", "public")
    if scope not in ("public", "staff"):
        raise InvalidInput("scope must be public or staff.", field="scope")
    # Keyset like every list: a reader's results continue after the last hit's (rank, id), staff's after
    # its (newest revision, id); the cursor belongs to one query and one scope.
    after, per_page = page_args(PER_PAGE)
    if scope == "staff":
        user = require(current_user() if g.get("via_token") else None, "post.view_unpublished")
        hits, next_cursor = services.staff_search(db(), user, query, after=after, per_page=per_page)
    else:
        hits, next_cursor = services.search(db(), query, after=after, per_page=per_page)
    items = [
        {
            "type": hit.post.type,
            "id": hit.post.id,
            "slug": hit.post.slug,
            "title": hit.title,
            "url": public_reader_url("show", hit.post) if hit.post.slug else None,
            "snippet": hit.snippet_text,
            "snippet_html": snippet_html(hit),
            "status": hit.post.status,
        }
        for hit in hits
    ]
    return listing(items, next_cursor, "api.api_search", per_page, q=query, scope=scope)
