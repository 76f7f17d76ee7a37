"""The blog's feeds, each in two formats from one list of entries: Atom (feedgen) and JSON Feed 1.1.

An entry is built once (``FeedEntry``) and written out by ``atom`` or ``json_feed``, so the two formats
never disagree. Every URL is on CANDOR_PUBLIC_URL: feeds are cached and read by all, whatever Host asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template

from app.clock import utc_now
from app.corrections import services as corrections
from app.corrections.services import LogEntry, Notice
from app.posts import services as posts
from app.posts.models import Post, Retraction
from app.web import timezones
from app.web.database import db
from app.web.readers import public_reader_url
from app.web.runtime import effective
from app.web.urls import public_root, public_url

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
POSTS_IN_FEED = 30
CORRECTIONS_IN_FEED = 50


@dataclass
class FeedEntry:
    id: str
    url: str
    title: str
    author: str
    author_url: str | None
    published: datetime
    updated: datetime
    summary: str | None = None
    content_html: str | None = None


@dataclass
class Feed:
    title: str
    endpoint: str  # the Atom feed's endpoint; ``json_endpoint`` is its JSON Feed twin
    json_endpoint: str
    entries: list[FeedEntry]  # newest first
    updated: datetime


def _when(instant: datetime) -> str:
    """Feeds are shared by everyone, so their words use the organisation's zone (timestamps stay UTC)."""
    return timezones.local_text(instant, "date", timezones.organisation_zone())


def retraction_summary(retraction: Retraction) -> str:
    return f"Retracted on {_when(retraction.at)}: {retraction.reason}"


def _changes_url(post: Post, notice: Notice) -> str:
    return public_reader_url(
        "changes", post, **{"from": notice.previous_number, "to": notice.revision.number}
    )


def correction_summary(post: Post, notices: list[Notice]) -> str:
    """What a corrected post's entry says first: each correction (newest first), its note and where to
    see what changed."""
    parts = [
        f"{n.revision.kind.capitalize()} on {_when(n.publication.published_at)}: {n.revision.note} "
        f"See what changed: {_changes_url(post, n)}"
        for n in notices
    ]
    return " ".join(parts)


def posts_feed() -> Feed:
    items, _ = posts.published_posts(db(), per_page=POSTS_IN_FEED)
    ids = [post.id for post in items]
    retractions = corrections.retractions_by_post(db(), ids)
    published = corrections.last_published_at(db(), ids)
    notices = corrections.notices_by_post(db(), ids)
    entries = []
    for post in items:
        rev = post.published_revision
        assert rev is not None and post.first_published_at is not None
        retraction = retractions.get(post.id)
        # A retraction is the entry's latest change; otherwise its latest published text (not a comment).
        updated = retraction.at if retraction else published.get(post.id, post.updated_at)
        url = public_url("posts.show", slug=post.slug)
        entry = FeedEntry(
            id=url,
            url=url,
            title=rev.title,
            author=post.author.name,
            author_url=public_url("posts.person", user_id=post.author.id),
            published=post.first_published_at,
            updated=updated,
            content_html=rev.html,
        )
        found = notices.get(post.id, [])
        if retraction is not None:
            entry.title = f"Retracted: {rev.title}"
            entry.summary = retraction_summary(retraction)
            entry.content_html = render_template(
                "corrections/_feed_retraction.html", retraction=retraction, revision=rev
            )
        elif found:
            entry.summary = correction_summary(post, found)
            entry.content_html = render_template(
                "corrections/_feed_corrected.html",
                post=post,
                notices=[(n, _changes_url(post, n)) for n in found],
                revision=rev,
            )
        entries.append(entry)
    return Feed(
        effective()["SITE_NAME"],
        "corrections.feed",
        "corrections.json_feed",
        entries,
        max((e.updated for e in entries), default=None) or utc_now(),
    )


def corrections_feed() -> Feed:
    found, _ = corrections.corrections_log(db(), per_page=CORRECTIONS_IN_FEED)
    return Feed(
        f"Corrections · {effective()['SITE_NAME']}",
        "corrections.corrections_feed",
        "corrections.corrections_json_feed",
        [_log_entry(item) for item in found],
        found[0].at if found else utc_now(),
    )


def _log_entry(item: LogEntry) -> FeedEntry:
    post = item.post
    if item.retraction is not None:
        url = public_reader_url("show", post)
        entry_id = public_reader_url("show", post, _anchor="retraction-heading")
        title = f"Retraction: {item.revision.title}"
        summary = retraction_summary(item.retraction)
    else:
        # A page's corrections are in the log too: its changes view is under /pages/.
        url = entry_id = public_reader_url(
            "changes", post, **{"from": item.previous_number, "to": item.revision.number}
        )
        title = f"{item.kind.capitalize()}: {item.revision.title}"
        summary = item.revision.note
    return FeedEntry(
        id=entry_id,
        url=url,
        title=title,
        author=post.author.name,
        author_url=public_url("posts.person", user_id=post.author.id),
        published=item.at,
        updated=item.at,
        summary=summary,
    )


def atom(feed: Feed) -> str:
    from feedgen.feed import FeedGenerator  # about 6 MB (lxml.etree): loaded by the first feed served

    fg = FeedGenerator()
    fg.id(public_url(feed.endpoint))
    fg.title(feed.title)
    fg.author({"name": effective()["ORGANISATION"]})
    fg.link(href=public_url(feed.endpoint), rel="self")
    fg.link(href=public_root(), rel="alternate")
    fg.language("en")
    fg.generator("Candor")  # not feedgen's default, which links to feedgen's own site
    fg.updated(feed.updated)
    for item in reversed(feed.entries):  # feedgen puts the last added first
        entry = fg.add_entry()
        entry.id(item.id)
        entry.title(item.title)
        entry.link(href=item.url)
        entry.author({"name": item.author, **({"uri": item.author_url} if item.author_url else {})})
        entry.published(item.published)
        entry.updated(item.updated)
        if item.summary:
            entry.summary(item.summary)
        if item.content_html is not None:
            entry.content(item.content_html, type="html")
    return fg.atom_str(pretty=True).decode()


def json_feed(feed: Feed) -> str:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1); tests validate it against its schema."""
    data: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed.title,
        "home_page_url": public_root(),
        "feed_url": public_url(feed.json_endpoint),
        "language": "en",
        "authors": [{"name": effective()["ORGANISATION"]}],
        "items": [],
    }
    for item in feed.entries:
        entry: dict[str, Any] = {
            "id": item.id,
            "url": item.url,
            "title": item.title,
            "date_published": item.published.isoformat(timespec="seconds"),
            "date_modified": item.updated.isoformat(timespec="seconds"),
            "authors": [{"name": item.author, **({"url": item.author_url} if item.author_url else {})}],
        }
        if item.summary:
            entry["summary"] = item.summary
        if item.content_html is not None:
            entry["content_html"] = item.content_html
        else:
            entry["content_text"] = item.summary or item.title
        data["items"].append(entry)
    return json.dumps(data, ensure_ascii=False, indent=1)
