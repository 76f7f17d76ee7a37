"""Which posts show which library images: for the library's pages, and for editors' notice of posts
whose patient consent has run out. (The media package sits below posts and knows nothing of them.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.media.models import Media
from app.media.services import has_consent
from app.posts.models import Post, PublicationState, Revision, RevisionMedia


@dataclass(frozen=True)
class Use:
    post: Post
    revision_numbers: tuple[int, ...]
    published: bool  # whether the post's published revision shows it


def used_by(session: Session, media: Media) -> list[Use]:
    rows = session.execute(
        select(Post, Revision.number, Revision.id)
        .join(Revision, Revision.post_id == Post.id)
        .join(RevisionMedia, RevisionMedia.revision_id == Revision.id)
        .where(RevisionMedia.media_id == media.id)
        .order_by(Post.id, Revision.number)
    ).all()
    by_post: dict[int, tuple[Post, list[int], bool]] = {}
    for post, number, revision_id in rows:
        entry = by_post.setdefault(post.id, (post, [], False))
        entry[1].append(number)
        if post.published_revision_id == revision_id:
            by_post[post.id] = (entry[0], entry[1], True)
    return [Use(post, tuple(numbers), published) for post, numbers, published in by_post.values()]


@dataclass(frozen=True)
class Expired:
    post: Post
    media: Media


def expired_consents(session: Session, day: date) -> list[Expired]:
    """Live posts whose published text shows an image of a patient with no consent in force on ``day``
    (expired, or never recorded): editors must act (a correction removing it, a renewed consent)."""
    rows = session.execute(
        select(Post, Media)
        .join(RevisionMedia, RevisionMedia.revision_id == Post.published_revision_id)
        .join(Media, Media.id == RevisionMedia.media_id)
        .where(Post.publication_state == PublicationState.LIVE.value, Media.shows_patient.is_(True))
        .order_by(Post.id, Media.id)
    ).all()
    return [Expired(post, media) for post, media in rows if not has_consent(session, media, day)]


def shown_to_readers(session: Session, media: Media) -> bool:
    """Whether a live post's published text shows ``media`` (readers can see it there)."""
    return (
        session.scalar(
            select(RevisionMedia.media_id)
            .join(Post, Post.published_revision_id == RevisionMedia.revision_id)
            .where(RevisionMedia.media_id == media.id)
            .limit(1)
        )
        is not None
    )
