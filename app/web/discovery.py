"""How readers, crawlers and feed readers find the blog: ``/sitemap.xml``, ``/robots.txt``, the favicon,
and the head links and meta tags every reader page carries (canonical URL, feeds, Open Graph).

The sitemap lists canonical reader pages only (never a draft, a staff page or an API route), each URL
on CANDOR_PUBLIC_URL. Its entries come from ``SITEMAP_SOURCES``: a new kind of public page (standalone
pages, topics) adds one function there.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import nh3
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.orm import Session

from app.corrections import services as corrections
from app.posts import services as posts
from app.posts.addresses import last_publication_at, public_addresses
from app.posts.models import PostType
from app.web import structured
from app.web.database import db
from app.web.pagecache import cached_page, reads_query
from app.web.policies import SECTIONS, policy_links
from app.web.urls import public_root, public_url

bp = Blueprint("discovery", __name__)
# What a list's cursor looks like (app/cursors.py: URL-safe base64, bounded); anything else is dropped.
_CURSOR = re.compile(r"[A-Za-z0-9_=-]{1,1100}")
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

SitemapEntry = tuple[str, datetime | None]


def _home_and_logs(session: Session) -> Iterable[SitemapEntry]:
    newest = last_publication_at(session)
    yield public_url("posts.index"), newest
    yield public_url("corrections.log"), corrections.last_correction_at(session)
    yield public_url("contact.form"), None


def _posts(session: Session) -> Iterable[SitemapEntry]:
    """Posts at /posts/<slug>, standing pages (About, the policies) at /pages/<slug>."""
    for slug, at, type in public_addresses(session):
        yield public_url("posts.page" if type == PostType.PAGE.value else "posts.show", slug=slug), at


def _topics(session: Session) -> Iterable[SitemapEntry]:
    yield public_url("topics.index"), None
    for topic in posts.all_topics(session):
        yield public_url("topics.show", slug=topic.slug), None


# Each returns (absolute URL, last modified or None). A new kind of public page adds its source here.
SITEMAP_SOURCES: list[Callable[[Session], Iterable[SitemapEntry]]] = [_home_and_logs, _posts, _topics]


def sitemap_entries(session: Session) -> list[SitemapEntry]:
    seen: set[str] = set()
    entries = []
    for source in SITEMAP_SOURCES:
        for url, at in source(session):
            if url not in seen:
                seen.add(url)
                entries.append((url, at))
    return entries


@bp.get("/sitemap.xml")
@reads_query()
def sitemap() -> Any:
    def render() -> str:
        ElementTree.register_namespace("", SITEMAP_NS)
        root = ElementTree.Element(f"{{{SITEMAP_NS}}}urlset")
        for url, at in sitemap_entries(db()):
            item = ElementTree.SubElement(root, f"{{{SITEMAP_NS}}}url")
            ElementTree.SubElement(item, f"{{{SITEMAP_NS}}}loc").text = url
            if at is not None:
                ElementTree.SubElement(item, f"{{{SITEMAP_NS}}}lastmod").text = at.isoformat(
                    timespec="seconds"
                )
        body = ElementTree.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    # The topics' own stamp too: a new topic's page is listed at once, before any post is filed under it.
    key = (
        "sitemap",
        posts.public_stamp(db()),
        corrections.corrections_stamp(db()),
        posts.topics_stamp(db()),
    )
    response = cached_page(key, render)
    response.mimetype = "application/xml"
    return response


@bp.get("/robots.txt")
def robots() -> Any:
    lines = [
        "User-agent: *",
        "Disallow: /staff/",
        "Disallow: /api/",
        "Disallow: /login",
        "",
        f"Sitemap: {public_url('discovery.sitemap')}",
        "",
    ]
    return Response("\n".join(lines), mimetype="text/plain")


@bp.get("/favicon.ico")
def favicon() -> Any:
    """Browsers ask for /favicon.ico whatever the page says: the same SVG the pages link to."""
    icon = Path(current_app.static_folder or "static") / "favicon.svg"
    response = Response(icon.read_bytes(), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 86_400
    return response


# --- what the head of every reader page carries ------------------------------------------------------


FEEDS = (
    ("corrections.feed", "application/atom+xml", "Posts (Atom)"),
    ("corrections.json_feed", "application/feed+json", "Posts (JSON Feed)"),
    ("corrections.corrections_feed", "application/atom+xml", "Corrections (Atom)"),
    ("corrections.corrections_json_feed", "application/feed+json", "Corrections (JSON Feed)"),
)


def canonical_url() -> str | None:
    """The canonical address of the page being served, on CANDOR_PUBLIC_URL: its route without a query,
    but for a list's ``after`` or ``before`` cursor (its later pages, and the way back). None for staff
    pages and errors (they are no one's canonical)."""
    endpoint = request.endpoint
    if not endpoint or request.path.startswith(("/staff", "/api")) or request.method != "GET":
        return None
    if request.routing_exception is not None:
        return None
    values = dict(request.view_args or {})
    for name in ("after", "before"):
        cursor = request.args.get(name, "")
        if _CURSOR.fullmatch(cursor):
            values[name] = cursor
    return public_url(endpoint, **values)


def excerpt(html_text: str, limit: int = 200) -> str:
    """Plain text from stored (already sanitised) HTML: for descriptions in meta tags and feeds."""
    text = html.unescape(nh3.clean(html_text, tags=set()))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def head_vocabulary() -> dict[str, Any]:
    return {
        "canonical_url": canonical_url,
        "feed_links": [(public_url(endpoint), kind, title, endpoint) for endpoint, kind, title in FEEDS],
        "policy_links": policy_links,
        "section_paths": SECTIONS,
        "public_root": public_root,
    }


def init_app(app: Flask) -> None:
    app.context_processor(head_vocabulary)
    app.jinja_env.filters["excerpt"] = excerpt
    app.jinja_env.filters["script_json"] = structured.script_json
