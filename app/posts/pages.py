"""The standing pages every Candor blog is expected to have, by their well-known slugs.

Footer links, JSON-LD (``correctionsPolicy``, ``ethicsPolicy``, ``actionableFeedbackPolicy``,
``publishingPrinciples``) and the demo use exactly these slugs: a page published with one of these
titles gets the slug here (slugs come from the published title), at /pages/<slug>.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.posts.models import Post, PostSlug, PostType

# slug -> title
POLICY_PAGES: dict[str, str] = {
    "about": "About",
    "comment-policy": "Comment policy",
    "corrections-policy": "Corrections policy",
    "ethics-code": "Ethics code",
}


def answering(session: Session, slugs: Iterable[str]) -> set[str]:
    """Which of ``slugs`` a reader can open at /pages/<slug> now: a public page has it, or had it and
    answers 301 from it. A fresh blog has none until its editors publish them (the footer leaves the
    others out rather than link to a 404)."""
    wanted = list(slugs)
    current = select(Post.slug).where(
        Post.slug.in_(wanted), Post.type == PostType.PAGE.value, Post.published_revision_id.is_not(None)
    )
    former = (
        select(PostSlug.slug)
        .join(Post, PostSlug.post_id == Post.id)
        .where(PostSlug.slug.in_(wanted), Post.slug.is_not(None), Post.type == PostType.PAGE.value)
    )
    return set(session.scalars(current.union(former)))
