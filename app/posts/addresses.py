"""Every public post's canonical address and when its text last changed: what a sitemap lists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.posts.models import Post, Publication, Revision

# The sitemaps.org protocol's limit for one file.
MAX_ADDRESSES = 50_000


def public_addresses(session: Session) -> list[tuple[str, datetime, str]]:
    """(slug, latest publication time) of each public post, newest first; retracted posts included.

    A retracted post keeps its page (struck through, with the notice), so it stays a public URL. Only the
    current slug is listed: old ones answer 301 to it. A draft has no slug, so it can never appear.
    """
    rows = session.execute(
        select(Post.slug, func.max(Publication.published_at).label("at"), Post.type)
        .join(Publication, Publication.post_id == Post.id)
        .where(Post.slug.is_not(None))
        .group_by(Post.id, Post.slug, Post.type)
        .order_by(func.max(Publication.published_at).desc(), Post.id.desc())
        .limit(MAX_ADDRESSES)
    ).all()
    return [(slug, at, type) for slug, at, type in rows]


def last_publication_at(session: Session) -> datetime | None:
    """When any post last had a revision published: the home page's last change."""
    return session.scalar(select(func.max(Publication.published_at)))


MAX_VERSION = 10**6
"""No post has more published versions; a larger number in a URL is simply not one (and never reaches
the database as an OFFSET it cannot hold)."""


def _published(post_id: int) -> Select[Any]:
    return (
        select(Revision.number)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Revision.post_id == post_id)
    )


def versions_of(session: Session, post_id: int, numbers: Iterable[int]) -> dict[int, tuple[int, int | None]]:
    """{internal number: (readers' version, the previous published internal number or None)} for each of
    ``numbers`` that names a published revision of the post: readers' version k is the k-th published.

    Readers count only what was published (1, 2, 3), never the drafts and reviews between; the staff desk
    and the API keep the internal numbers. One statement, whose answer holds only the numbers asked for
    (a page's worth), however many times the post was published: the numbering is a window over the
    post's entries in the (post, number) index, never a list loaded into Python.
    """
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    ranked = _published(post_id).add_columns(
        func.row_number().over(order_by=Revision.number).label("version"),
        func.lag(Revision.number).over(order_by=Revision.number).label("previous"),
    )
    inner = ranked.subquery()
    rows = session.execute(
        select(inner.c.number, inner.c.version, inner.c.previous).where(inner.c.number.in_(wanted))
    )
    return {number: (version, previous) for number, version, previous in rows}


def version_of(session: Session, post_id: int, number: int) -> int | None:
    """Readers' version number of internal revision ``number`` (None if it was never published)."""
    found = versions_of(session, post_id, [number]).get(number)
    return found[0] if found else None


def number_of_version(session: Session, post_id: int, version: int) -> int | None:
    """The internal number of readers' version ``version`` of the post (None: there is no such version)."""
    if not 1 <= version <= MAX_VERSION:
        return None
    return session.scalar(_published(post_id).order_by(Revision.number).offset(version - 1).limit(1))


def published_window(session: Session, post_id: int, number: int, before: int, after: int) -> list[int]:
    """Up to ``before`` published internal numbers below ``number`` and ``after`` from it on, ascending:
    two seeks on the (post, number) index, the same cost for the 1,000th version as for the 1st."""
    below = session.scalars(
        _published(post_id).where(Revision.number < number).order_by(Revision.number.desc()).limit(before)
    )
    above = session.scalars(
        _published(post_id).where(Revision.number >= number).order_by(Revision.number).limit(after)
    )
    return sorted([*below, *above])


def last_published_number(session: Session, post_id: int) -> int | None:
    """The highest published internal number of the post (its latest published version)."""
    return session.scalar(_published(post_id).order_by(Revision.number.desc()).limit(1))
