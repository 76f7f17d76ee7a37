"""Tell a CDN which reader pages changed: a purge of every URL that shows a change, after its commit.

Reader pages are kept by a CDN for ``CANDOR_CDN_MAX_AGE`` seconds (``Cache-Control: s-maxage``). When a
post changes in a way readers see (a correction, a retraction, a published comment, a closure), the
rule of ``app.posts.models`` notes the post on the session; when that session commits, this module
enqueues one ``cdn_purge`` job with the absolute URL of every page that shows the post: its page,
changes, history and comments (under /posts or /pages), the home page and feeds, its topics' pages and
feeds, and the corrections log and its feeds. The job POSTs them, as a JSON list, to
``CANDOR_CDN_PURGE_URL``, with the matching surrogate keys in a ``Surrogate-Key`` header (the keys
every reader page carries, see ``surrogate_keys``); a failed or refused POST is retried with backoff.
Nothing is sent for a transaction that rolled back, and nothing at all when the URL is unset.

Why a purge and not only a short max-age: a correction must reach readers at once, not after the
CDN's copy expires (the ethics code's promise).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

import httpx
from flask import Flask, Response, current_app, has_app_context, request
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.posts.models import CHANGED_ALL, CHANGED_POSTS, Post, Revision, Topic, revision_topics
from app.web.readers import ENDPOINTS
from app.web.urls import public_url

log = logging.getLogger(__name__)

PURGE_TIMEOUT = 5.0
ALL = "candor"  # the surrogate key of every reader page

# Blog-wide pages that list posts, and the corrections log with its feeds: purged with any change.
LISTINGS = ("posts.index", "corrections.feed", "corrections.json_feed")
LOGS = ("corrections.log", "corrections.corrections_feed", "corrections.corrections_json_feed")


def init_app(app: Flask) -> None:
    """Watch every session of the app's factory: its commits purge what they changed."""
    app.after_request(_tag)
    if not app.config.get("CDN_PURGE_URL"):
        return
    sessions = app.extensions["candor.sessions"]
    event.listen(sessions, "before_commit", partial(_prepare_purge, app))
    event.listen(sessions, "after_commit", partial(_enqueue_purge, app))
    event.listen(sessions, "after_soft_rollback", _forget)


_PENDING = "candor.cdn_purge"


def _forget(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        for key in (CHANGED_POSTS, CHANGED_ALL, _PENDING):
            session.info.pop(key, None)


def _prepare_purge(app: Flask, session: Session) -> None:
    """Just before the commit, while the session can still read: which URLs the transaction changed.

    Whoever commits (a request, a job, the CLI, a test), the purge follows: SQLAlchemy's own commit
    events, not the request edge's ``on_commit``.
    """
    if session.in_nested_transaction():
        return  # a savepoint: nothing is committed yet
    session.flush()  # what is still pending is part of this commit: record its changes first
    post_ids: set[int] = session.info.pop(CHANGED_POSTS, set())
    everything = session.info.pop(CHANGED_ALL, False)
    if not post_ids and not everything:
        return
    if has_app_context():
        session.info[_PENDING] = purge_for(session, post_ids, everything)
    else:
        with app.app_context():
            session.info[_PENDING] = purge_for(session, post_ids, everything)


def _enqueue_purge(app: Flask, session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released; the purge waits for the real commit
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    try:
        app.extensions["candor.tasks"].cdn_purge(*pending)
    except Exception:  # noqa: BLE001 - committed already; a lost purge costs at most the CDN's max-age
        log.exception("CDN purge could not be enqueued")


def purge_for(
    session: Session, post_ids: Iterable[int], everything: bool = False
) -> tuple[list[str], list[str]]:
    """The absolute URLs and surrogate keys of every reader page showing any of ``post_ids``."""
    urls: list[str] = []
    keys: list[str] = ["listing", "corrections"]
    ids = sorted(set(post_ids))
    found = (
        session.execute(select(Post.id, Post.slug, Post.type).where(Post.id.in_(ids))).all() if ids else []
    )
    for _id, slug, type_ in found:
        if not slug:
            continue
        keys.append(f"post-{slug}")
        urls += [
            public_url(endpoint, slug=slug)
            for what, endpoint in ENDPOINTS[type_].items()
            if what not in ("revision", "version")  # one page per version: keyed, not listed
        ]
        if type_ == "post":
            urls.append(public_url("comments.more", slug=slug))
    topic_slugs = (
        session.scalars(
            select(Topic.slug)
            .join(revision_topics, revision_topics.c.topic_id == Topic.id)
            .join(Revision, Revision.id == revision_topics.c.revision_id)
            .where(Revision.post_id.in_(ids))
            .distinct()
        ).all()
        if ids
        else []
    )
    for topic in sorted(topic_slugs):
        keys.append(f"topic-{topic}")
        urls += [public_url("topics.show", slug=topic), public_url("topics.feed", slug=topic)]
    urls += [
        public_url(endpoint) for endpoint in (*LISTINGS, *LOGS) if endpoint in current_app.view_functions
    ]
    if everything:
        keys.append(ALL)
    return list(dict.fromkeys(urls)), list(dict.fromkeys(keys))


def send_purge(url: str, urls: list[str], keys: list[str]) -> None:
    """POST the purge; raise on any failure, so that the job is retried."""
    response = httpx.post(
        url,
        json=urls,
        headers={"Surrogate-Key": " ".join(keys), "User-Agent": "Candor CDN purge"},
        timeout=PURGE_TIMEOUT,
    )
    response.raise_for_status()
    log.info("CDN purge: %d URL(s), keys %s", len(urls), " ".join(keys))


def _tag(response: Response) -> Response:
    """Give every page a CDN may keep (``Cache-Control: public``) its surrogate keys."""
    if response.headers.get("Cache-Control", "").startswith("public") and request.endpoint:
        response.headers["Surrogate-Key"] = surrogate_keys()
    return response


def surrogate_keys() -> str:
    """The surrogate keys of the reader page being answered: ``candor`` on all, ``post-<slug>`` on a
    post's pages, ``topic-<slug>`` on a topic's, ``listing`` on the home page and feeds, ``corrections``
    on the corrections log and its feeds."""
    keys = [ALL]
    endpoint = request.endpoint or ""
    slug = (request.view_args or {}).get("slug")
    if endpoint.startswith("topics."):
        keys += ["listing", f"topic-{slug}"] if slug else ["listing"]
    elif slug:
        keys.append(f"post-{slug}")
    elif endpoint in LISTINGS:
        keys.append("listing")
    elif endpoint in LOGS:
        keys.append("corrections")
    return " ".join(keys)
