"""Rendered fragments cached by what they are made of: a revision's body, a comment, a diff.

The page cache keeps whole pages, and a post page's key moves with every comment; without this, the
page is then re-rendered whole: every comment drawn again, the body cut around its embeds again. A
fragment's key names only what it is drawn from, each part immutable or a counter moved when it
changes, so a fragment is never stale and is shared by every page and every version of a page:

* a revision's body: the revision id (revisions are append-only) and its ``redaction_count`` (the one
  way a revision's text changes), plus the ``embeds`` stamp when its HTML could embed an external site
  (approving or revoking a site moves it);
* a published comment: its id, a digest of its stored HTML (a redaction or an edit rewrites it, so the
  key moves), its author's display (name; for staff their name, title, department and roles), the post's
  slug and the time zone the date is shown in;
* a diff: both revision ids, both ``redaction_count``s and the diff engine's version.

Every key also holds the run-time settings' version (``app.web.runtime``: the site's names).

Where: each worker's LRU (bounded by bytes, a quarter of ``CANDOR_PAGE_CACHE_MB``); with ``REDIS_URL``,
revision bodies and diffs also in Redis, shared by all workers and servers (comments stay local: a page
draws hundreds, and one Redis round trip each would cost more than drawing them).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template
from markupsafe import Markup

from app.comments.models import Comment
from app.corrections.diff import ENGINE_VERSION
from app.posts.models import Post, Revision
from app.posts.services import site_stamp
from app.sites import services as sites
from app.web import runtime
from app.web.database import db
from app.web.pagecache import REDIS_TTL, PageCache
from app.web.timezones import viewer_zone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fragment:
    html: str

    @property
    def size(self) -> int:
        return len(self.html)


class Fragments:
    """This worker's LRU of fragments, in front of Redis (when configured) for the shared ones."""

    def __init__(self, local: PageCache, redis_url: str | None, prefix: str) -> None:
        self.local = local
        self.prefix = prefix
        self.client: Any = None
        if redis_url:
            import redis

            self.client = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def _redis_key(self, key: Hashable) -> str:
        return f"{self.prefix}:frag:{hashlib.sha256(repr(key).encode()).hexdigest()}"

    def get(self, key: Hashable, *, shared: bool) -> str | None:
        found = self.local.get(key)
        if found is not None:
            return found.html
        if shared and self.client is not None:
            try:
                raw = self.client.get(self._redis_key(key))
            except Exception:  # noqa: BLE001 - Redis down: draw it instead
                log.warning("fragment cache: Redis unreadable", exc_info=True)
                return None
            if raw is not None:
                html = raw.decode()
                self.local.put(key, Fragment(html))
                return html
        return None

    def put(self, key: Hashable, html: str, *, shared: bool) -> None:
        self.local.put(key, Fragment(html))
        if shared and self.client is not None:
            try:
                self.client.set(self._redis_key(key), html.encode(), ex=REDIS_TTL)
            except Exception:  # noqa: BLE001 - this worker has it; others draw it once
                log.warning("fragment cache: Redis unwritable", exc_info=True)

    def clear(self) -> None:
        self.local.clear()


def init_app(app: Flask) -> None:
    megabytes = max(1, int(app.config.get("PAGE_CACHE_MB", 64)) // 4)
    app.extensions["candor.fragments"] = Fragments(
        PageCache(max_entries=100_000, max_bytes=megabytes * 1024 * 1024),
        app.config.get("REDIS_URL"),
        app.config.get("JOBS_QUEUE") or "candor",
    )
    app.add_template_global(revision_body, "revision_body")
    app.add_template_global(comment_article, "comment_article")


def fragments() -> Fragments:
    return current_app.extensions["candor.fragments"]


def fragment(key: tuple[Any, ...], render: Callable[[], str], *, shared: bool = False) -> str:
    """The fragment under ``key`` (with the settings' version added), drawn by ``render`` when missing."""
    full_key = (*key, runtime.version())
    store = fragments()
    html = store.get(full_key, shared=shared)
    if html is None:
        html = render()
        store.put(full_key, html, shared=shared)
    return html


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def revision_body(revision: Revision) -> Markup:
    """A revision's body as readers see it (``_macros/posts.html`` post_html), cached by revision."""
    key: tuple[Any, ...] = ("revision", revision.id, revision.redaction_count)
    if sites.may_embed(revision.html):
        key = (*key, site_stamp(db(), "embeds"))
    return Markup(  # noqa: S704 - drawn by the template that marks stored HTML safe (stored_html)
        fragment(key, lambda: render_template("posts/_body.html", revision=revision), shared=True)
    )


def comment_article(comment: Comment, post: Post) -> Markup:
    """One published comment's article (author, date, body, reply link), cached by what it shows."""
    staff = comment.staff_user
    who = (
        (staff.id, staff.name, staff.title, staff.department, tuple(sorted(r.value for r in staff.roles)))
        if staff is not None
        else None
    )
    key = (
        "comment",
        comment.id,
        digest(comment.html),
        comment.author_name,
        who,
        post.slug,
        viewer_zone().key,
    )
    return Markup(  # noqa: S704 - the template marks the stored comment HTML safe (stored_html)
        fragment(key, lambda: render_template("comments/_article.html", c=comment, post=post))
    )


def diff(old: Revision, new: Revision, compute: Callable[[], str]) -> str:
    """A diff of two revisions (``compute`` draws it when missing), cached by both and their redactions."""
    key = ("diff", old.id, new.id, old.redaction_count, new.redaction_count, ENGINE_VERSION)
    return fragment(key, compute, shared=True)
