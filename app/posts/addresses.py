"""Every public post's canonical address and when its text last changed: what a sitemap lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
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


def published_numbers(session: Session, post_id: int) -> list[int]:
    """The internal numbers of the post's published revisions, ascending: readers' version k is the k-th.

    Readers count only what was published (1, 2, 3), never the drafts and reviews between; the staff desk
    and the API keep the internal numbers.
    """
    rows = session.scalars(
        select(Revision.number)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Revision.post_id == post_id)
        .order_by(Revision.number)
    )
    return list(rows)


def version_of(numbers: list[int], number: int) -> int | None:
    """Readers' version number of internal revision ``number`` (None if it was never published)."""
    return numbers.index(number) + 1 if number in numbers else None
