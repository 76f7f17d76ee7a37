"""Which posts show which library images: for the library's pages, and for editors' notice of posts
whose patient consent has run out. (The media package sits below posts and knows nothing of them.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User, UserRole
from app.mail.compose import Site
from app.mail.models import OutboxMessage
from app.mail.services import notice
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


def editors(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.EDITOR.value, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def mail_expired_consents(session: Session, site: Site, day: date) -> list[OutboxMessage]:
    """The daily notice: one e-mail to each editor listing the live posts that show an image of a patient
    whose consent is no longer in force on ``day``; nothing when there are none.

    The flag on the library page waits for an editor to look; this goes to them. It repeats each day
    until the post is corrected or the consent renewed: the image is on a public page meanwhile.
    """
    found = expired_consents(session, day)
    if not found:
        return []
    by_post: dict[int, list[Expired]] = {}
    for entry in found:
        by_post.setdefault(entry.post.id, []).append(entry)
    items = []
    for entries in by_post.values():
        post = entries[0].post
        title = post.published_revision.title if post.published_revision else post.slug
        images = "\n".join(
            f"  - {e.media.label}: {site.url(site.media_admin_path(e.media.id))}" for e in entries
        )
        items.append(
            f'- "{title}"\n  Readers\' page: {site.url(site.post_path(post.slug))}\n'
            f"  Correct it: {site.url(site.edit_post_path(post.id))}\n  Image(s) without consent:\n{images}"
        )
    body_end = (
        "Each image shows a patient whose consent for the web is not in force (expired, or never "
        "recorded). Publish a correction that removes the image, or record the renewed consent in the "
        "media library.\n"
    )
    messages = []
    for editor in editors(session):
        body = (
            f"Hello {editor.name},\n\n"
            f"{len(by_post)} live post(s) on {site.name} show images of patients without consent in force "
            f"on {day.isoformat()}:\n\n" + "\n\n".join(items) + "\n\n" + body_end
        )
        messages.append(
            notice(
                session,
                site,
                to=editor.email,
                subject=f"{len(by_post)} post(s) show a patient without consent on {site.name}",
                body=body,
                purpose="consent_expired",
            )
        )
    return messages
