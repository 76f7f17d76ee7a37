"""Verbs on posts: write, revise, and move through review to publication.

Every verb takes a Session and an explicit actor, flushes, raises app.errors.*, and never commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slugify import slugify
from sqlalchemy import Connection, Select, and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app import cursors, events
from app.accounts.models import User
from app.accounts.permissions import require
from app.audit.services import record
from app.clock import utc_now
from app.errors import InvalidInput, InvalidTransition, Moved, NotFound, StaleRevision
from app.media.services import by_hashes, image_infos, referenced_hashes
from app.posts.models import (
    CHANGE_KINDS,
    Post,
    PostSlug,
    PostType,
    Publication,
    PublicationState,
    ReviewState,
    Revision,
    RevisionKind,
    RevisionMedia,
    SiteStamp,
    Topic,
    revision_topics,
    status_of,
)
from app.posts.rendering import render_markdown

MAX_TITLE_CHARS = 300


@dataclass(frozen=True)
class RevisionInput:
    title: str
    body: str
    references: list[str]
    kind: str | None = None
    note: str = ""
    personal_view: bool = False
    # Topic names; None keeps the current revision's topics (a new draft then has none).
    topics: tuple[str, ...] | None = None


def slug_base(title: str) -> str:
    return slugify(title, max_length=80, word_boundary=True) or "post"


def reserve_slug(session: Session, post: Post, title: str) -> str:
    """The post's public address from its published title, given at publication and never before.

    A draft has no slug, so a title nobody approved never reaches a URL. A later published retitle gets
    a new slug; every earlier one stays in ``post_slugs`` (unique across all posts, so an old address
    never passes to another post) and answers 301 to the current one. Returns the slug to set (the
    editorial workflow sets it, with the publication state, in one write).
    """
    base = slug_base(title)
    n = 1
    while True:
        slug = base if n == 1 else f"{base}-{n}"
        owner = session.scalar(select(PostSlug.post_id).where(PostSlug.slug == slug))
        if owner == post.id:  # back to an address this post had before
            return slug
        if owner is None:
            try:
                with session.begin_nested():
                    session.add(PostSlug(post_id=post.id, slug=slug, created_at=utc_now()))
            except IntegrityError:  # another post took it at the same moment: try the next
                n += 1
                continue
            return slug
        n += 1


def slug_redirect(session: Session, slug: str) -> str | None:
    """The current slug of the public post that once had ``slug``, if it has changed since."""
    current = session.scalar(
        select(Post.slug)
        .join(PostSlug, PostSlug.post_id == Post.id)
        .where(PostSlug.slug == slug, Post.slug.is_not(None), Post.slug != slug)
    )
    return current


def _check_kind(post: Post, data: RevisionInput) -> tuple[str, str]:
    """Before first publication every revision is 'original'; afterwards it must say what kind of change."""
    note = data.note.strip()
    if post.first_published_at is None:
        if data.kind not in (None, "", RevisionKind.ORIGINAL.value):
            raise InvalidInput(
                "A post that was never published has no corrections yet; leave kind out.", field="kind"
            )
        return RevisionKind.ORIGINAL.value, note
    kinds = ", ".join(k.value for k in CHANGE_KINDS)
    if data.kind not in {k.value for k in CHANGE_KINDS}:
        raise InvalidInput(
            f"This post is published: say what kind of change this is ({kinds}).", field="kind"
        )
    if data.kind != RevisionKind.MINOR.value and not note:
        raise InvalidInput(
            f"A {data.kind} needs a note for readers saying what changed and why.", field="note"
        )
    return data.kind, note


def render(session: Session, body: str) -> str:
    """``body`` rendered, with the library's images it uses made responsive (see app/posts/rendering.py)."""
    return render_markdown(body, image_infos(session, body))


def _link_media(session: Session, revision: Revision) -> None:
    """Record which library images the revision shows: the database then keeps them (ON DELETE
    RESTRICT) for as long as the revision exists, which is forever."""
    for media_id in sorted({m.id for m in by_hashes(session, referenced_hashes(revision.html)).values()}):
        session.add(RevisionMedia(revision_id=revision.id, media_id=media_id))
    session.flush()


def _append_revision(
    session: Session, post: Post, revision: Revision, actor: User | None, action: str, **details: object
) -> Revision:
    """Store ``revision`` as ``post``'s current one: the library images it shows linked, the audit
    entry ``action`` (by ``actor``; None for the import) written and ``revision_saved`` sent."""
    session.add(revision)
    session.flush()
    _link_media(session, revision)
    post.current_revision = revision
    session.flush()
    record(session, actor, action, post_id=post.id, revision_number=revision.number, **details)
    events.revision_saved.send(post, revision=revision)
    return revision


def find_topics(session: Session, names: tuple[str, ...]) -> list[Topic]:
    """The topics named (case-insensitively), in the order given; an unknown name is refused (422).

    Topics are the editors' list: an author files a post under existing topics and cannot invent one,
    so a typo never becomes a topic page.
    """
    wanted = list(dict.fromkeys(" ".join(n.split()).casefold() for n in names if n.strip()))
    if not wanted:
        return []
    # The editors' list is short: matched here, case-folded (the databases' lower() differ beyond ASCII).
    every = all_topics(session)
    found = {t.name.casefold(): t for t in every}
    unknown = [n for n in wanted if n not in found]
    if unknown:
        known = ", ".join(t.name for t in every) or "none yet"
        raise InvalidInput(
            f"No topic named {unknown[0]!r}: topics are chosen from the editors' list ({known}).",
            field="topics",
        )
    return [found[n] for n in wanted]


def create_draft(session: Session, actor: User, data: RevisionInput, *, type: str = "post") -> Post:
    require(actor, "post.create")
    if type not in {t.value for t in PostType}:
        raise InvalidInput("type must be post or page.", field="type")
    topics = find_topics(session, data.topics or ())
    html = render(session, data.body)
    post = Post(author_id=actor.id, type=type)
    session.add(post)
    session.flush()
    revision = Revision(
        post_id=post.id,
        number=1,
        title=data.title,
        body=data.body,
        references=list(data.references),
        html=html,
        author_id=actor.id,
        kind=RevisionKind.ORIGINAL.value,
        note="",
        personal_view=data.personal_view,
        topics=topics,
    )
    _append_revision(session, post, revision, actor, "post.created", type=type)
    return post


def create_imported(
    session: Session,
    author: User,
    data: RevisionInput,
    topics: list[Topic],
    *,
    type: str,
    written_at: datetime,
    note: str,
    html: str | None = None,
) -> Post:
    """A post brought in from elsewhere (the WordPress import): revision 1 as ``author`` wrote it then.

    Unlike ``create_draft`` it asks no permission of the author (an imported author is inactive until
    an admin or single sign-on activates them; the import itself is an operator's command), takes the
    topics as found, dates the revision when it was written, and carries ``note``: where it came from.
    ``html``: the body already rendered by ``app.posts.rendering.render_many`` (an import renders its
    texts in batches), for a body that shows none of our library's images.
    """
    post = Post(author_id=author.id, type=type, created_at=written_at)
    session.add(post)
    session.flush()
    revision = Revision(
        post_id=post.id,
        number=1,
        title=data.title,
        body=data.body,
        references=list(data.references),
        # Rendered again if it shows library images after all: the batch rendered it without them.
        html=html if html is not None and not referenced_hashes(data.body) else render(session, data.body),
        author_id=author.id,
        created_at=written_at,
        kind=RevisionKind.ORIGINAL.value,
        note=note,
        personal_view=False,
        topics=topics,
    )
    _append_revision(session, post, revision, None, "post.created", type=type, note=note)
    return post


def revise_imported(
    session: Session,
    post: Post,
    data: RevisionInput,
    topics: list[Topic],
    *,
    written_at: datetime,
    note: str,
) -> Revision | None:
    """A new revision of an imported draft that was changed where it came from (the WordPress import).

    Appended like any revision (history is never rewritten), by the post's own author, dated when it was
    changed there (never before the revision it follows), with ``note`` saying so; None when the text
    converts to what the draft already holds. Only for a draft nobody has worked on in Candor: a post
    that readers have seen changes by a correction, which an editor decides on; the caller checks the
    rest (its review state, its revisions since the import).
    """
    current = post.current_revision
    if post.is_public or current is None:
        raise InvalidTransition("Only a draft that was never published takes a change from its source.")
    if current.same_as(data.title, data.body, data.references, False, {t.id for t in topics}):
        return None
    revision = Revision(
        post_id=post.id,
        number=current.number + 1,
        title=data.title,
        body=data.body,
        references=list(data.references),
        html=render(session, data.body),
        author_id=post.author_id,
        created_at=max(written_at, current.created_at),
        kind=RevisionKind.ORIGINAL.value,
        note=note,
        personal_view=False,
        topics=topics,
    )
    return _append_revision(session, post, revision, None, "post.revised", note=note)


def revise(
    session: Session, actor: User, post: Post, data: RevisionInput, base_revision: int
) -> tuple[Revision, bool]:
    """Store a new revision on top of ``base_revision``; return (revision, created).

    Unchanged content makes no revision: the current one comes back with created=False. An edit based
    on anything but the current revision is refused with the newer one attached, so nobody overwrites
    an edit they never saw. The workflow's entry point is ``app.editorial.services.revise``, which
    locks the post first and withdraws an approval the edit makes stale.
    """
    require(actor, "post.revise", post)
    if post.publication_state == PublicationState.RETRACTED:
        raise InvalidTransition("A retracted post cannot be revised.")
    current = post.current_revision
    assert current is not None
    if base_revision != current.number:
        raise StaleRevision(
            f"Revision {base_revision} is not the current one; revision {current.number} is. "
            "Merge your changes into it and try again.",
            current_revision=current.number,
        )
    topics = list(current.topics) if data.topics is None else find_topics(session, data.topics)
    if current.same_as(data.title, data.body, data.references, data.personal_view, {t.id for t in topics}):
        return current, False
    kind, note = _check_kind(post, data)
    html = render(session, data.body)
    revision = Revision(
        post_id=post.id,
        number=current.number + 1,
        title=data.title,
        body=data.body,
        references=list(data.references),
        html=html,
        author_id=actor.id,
        kind=kind,
        note=note,
        personal_view=data.personal_view,
        topics=topics,
    )
    return _append_revision(session, post, revision, actor, "post.revised", note=note, kind=kind), True


# --- queries -------------------------------------------------------------------------------------


def get_post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"No post {post_id}.")
    return post


def get_public_post(session: Session, slug: str, type: str | None = "post") -> Post:
    """The public post (or page, or either for ``type`` None) at ``slug``; Moved if it was retitled."""
    query = select(Post).where(Post.slug == slug)
    if type is not None:
        query = query.where(Post.type == type)
    post = session.scalar(query)
    if post is None:
        moved = slug_redirect(session, slug)
        if moved is not None:
            raise Moved(moved)
        raise NotFound("No such post.")
    return post


def published_posts(
    session: Session, *, after: str | None = None, before: str | None = None, per_page: int
) -> cursors.Page:
    """A page of public posts (not pages), newest first, and the next page's cursor (None: the last).

    Keyset on (first_published_at, id), served by the partial index ix_posts_public_first_published.
    """
    key, backward = cursors.position(after, before, "posts", (datetime, int))
    query = (
        select(Post)
        .where(Post.published_revision_id.is_not(None), Post.type == PostType.POST.value)
        .options(*WITH_REVISIONS)
    )
    query = cursors.after(query, (Post.first_published_at, Post.id), key, descending=True, backward=backward)
    rows = session.scalars(query.limit(per_page + 1)).all()
    return cursors.page(
        rows, per_page, "posts", lambda p: (p.first_published_at, p.id), key=key, backward=backward
    )


def revisions(
    session: Session, post: Post, *, published_only: bool
) -> list[tuple[Revision, Publication | None]]:
    pubs = {
        p.revision_id: p for p in session.scalars(select(Publication).where(Publication.post_id == post.id))
    }
    query = select(Revision).where(Revision.post_id == post.id).order_by(Revision.number)
    if published_only:
        query = query.where(Revision.id.in_(list(pubs) or [-1]))
    return [(r, pubs.get(r.id)) for r in session.scalars(query)]


WITH_REVISIONS = (selectinload(Post.published_revision), selectinload(Post.current_revision))
"""Load a page of posts' revisions in one statement each, not one per post (lists show titles)."""


def posts_by_id(session: Session, post_ids: Iterable[int]) -> dict[int, Post]:
    """Posts by id, with their revisions, in three statements however many: for lists that name posts."""
    wanted = set(post_ids)
    if not wanted:
        return {}
    return {
        p.id: p for p in session.scalars(select(Post).where(Post.id.in_(wanted)).options(*WITH_REVISIONS))
    }


def publication_of(session: Session, revision: Revision) -> Publication | None:
    return session.scalar(select(Publication).where(Publication.revision_id == revision.id))


def latest_publications(session: Session, post: Post, limit: int) -> list[Publication]:
    """The post's ``limit`` latest publications, newest first (the post page asks whether there are two)."""
    return list(
        session.scalars(
            select(Publication)
            .where(Publication.post_id == post.id)
            .order_by(Publication.published_at.desc(), Publication.id.desc())
            .limit(limit)
        )
    )


def posts_by(session: Session, author: User) -> list[Post]:
    return list(
        session.scalars(
            select(Post)
            .where(
                Post.author_id == author.id,
                Post.published_revision_id.is_not(None),
                Post.type == PostType.POST.value,
            )
            .order_by(Post.first_published_at.desc())
        )
    )


def published_revision(session: Session, post: Post, number: int) -> tuple[Revision, Publication]:
    row = session.execute(
        select(Revision, Publication)
        .join(Publication, Publication.revision_id == Revision.id)
        .where(Revision.post_id == post.id, Revision.number == number)
    ).first()
    if row is None:
        raise NotFound(f"This post has no published revision {number}.")
    return row[0], row[1]


# Built once: on a cached page, building this statement cost more than running it.
_PAGE_KEY = (
    select(
        Post.id,
        Post.version,
        Post.published_revision_id,
        User.name,
        User.title,
        User.department,
        Post.first_published_at,
    )
    .join(User, User.id == Post.author_id)
    .where(
        Post.slug == bindparam("slug"),
        Post.type == bindparam("type"),
        Post.published_revision_id.is_not(None),
    )
)


def page_key_statement(*extra: Any) -> Select[Any]:
    """The page-key query with ``extra`` columns after the key's (the page cache's fast path adds the
    settings' version, so that a cached hit costs one statement)."""
    return _PAGE_KEY.add_columns(*extra)


def page_key(session: Session | Connection, slug: str, type: str = "post") -> tuple[object, ...] | None:
    """What a public post (or page) shows, cheaply: the cache key of its page, or None if not public.

    One indexed query, run on every request for the page (cached or not), by a Session or a bare
    Connection (the page cache's fast path has no Session). The first publication's time is in it
    because comments close by age (app.comments.closing).
    """
    row = session.execute(_PAGE_KEY, {"slug": slug, "type": type}).first()
    return tuple(row) if row is not None else None


def site_stamp(session: Session, name: str) -> tuple[object, ...]:
    """The current ``(generation, value)`` of a blog-wide stamp (``SiteStamp``): one primary-key read.

    A missing row (a database someone emptied by hand) gives a key never seen before: nothing cached is
    served under it, so pages are drawn afresh rather than possibly stale.
    """
    row = session.execute(select(SiteStamp.generation, SiteStamp.value).where(SiteStamp.name == name)).first()
    return tuple(row) if row is not None else (name, secrets.token_hex(8))


def public_stamp(session: Session) -> tuple[object, ...]:
    """Changes whenever any public post's page would: the key of the index page and the feed.

    A counter moved in the transaction of every version bump (``SiteStamp``), not a sum over the posts
    table: the same at 10,000 posts as at 10.
    """
    return site_stamp(session, "posts")


def all_posts_by(session: Session, author: User) -> list[Post]:
    """Every post ``author`` wrote, in any state, most recently changed first: the staff dashboard's list."""
    return list(
        session.scalars(
            select(Post)
            .where(Post.author_id == author.id)
            .order_by(Post.current_revision_id.desc(), Post.id.desc())
        )
    )


# The one-word statuses staff pages filter on, as conditions on the two state columns (see Post.status).
STATUSES = ("draft", "in_review", "changes_requested", "scheduled", "published", "retracted")


def _status_condition(status: str) -> Any:
    live, retracted = PublicationState.LIVE.value, PublicationState.RETRACTED.value
    none = ReviewState.NONE.value
    if status == "retracted":
        return Post.publication_state == retracted
    if status in ("in_review", "changes_requested", "scheduled"):
        return and_(Post.publication_state != retracted, Post.review_state == status)
    if status == "published":
        return and_(Post.publication_state == live, Post.review_state == none)
    if status == "draft":
        return and_(
            Post.publication_state == PublicationState.NEVER_PUBLISHED.value, Post.review_state == none
        )
    raise InvalidInput(f"state must be one of {', '.join(STATUSES)}, or empty for all.", field="state")


def status_counts(session: Session, author: User | None = None) -> dict[str, int]:
    """How many posts (``author``'s, or everyone's) stand in each one-word status."""
    query = select(Post.publication_state, Post.review_state, func.count(Post.id)).group_by(
        Post.publication_state, Post.review_state
    )
    if author is not None:
        query = query.where(Post.author_id == author.id)
    counts = dict.fromkeys(STATUSES, 0)
    for publication_state, review_state, n in session.execute(query):
        counts[status_of(publication_state, review_state)] += n
    return counts


def find_posts(
    session: Session,
    actor: User,
    *,
    status: str = "",
    author_id: int | None = None,
    title: str = "",
    after: str | None = None,
    before: str | None = None,
    per_page: int = 25,
) -> cursors.Page:
    """Every post, in any state, most recently revised first, narrowed by status, author and a piece
    of the current title (case-insensitive, taken literally: ``%`` and ``_`` are not wildcards).

    A page and the cursor of the next one (None: the last): keyset on (current revision id, id), so the
    thousandth page costs what the first does.
    """
    require(actor, "post.view_unpublished")
    key, backward = cursors.position(after, before, "staff-posts", (int, int))
    query = select(Post).join(Revision, Revision.id == Post.current_revision_id)
    if status:
        query = query.where(_status_condition(status))
    if author_id is not None:
        query = query.where(Post.author_id == author_id)
    if title:
        query = query.where(func.lower(Revision.title).contains(title.lower(), autoescape=True))
    query = cursors.after(query, (Post.current_revision_id, Post.id), key, descending=True, backward=backward)
    rows = list(session.scalars(query.limit(per_page + 1)))
    return cursors.page(
        rows, per_page, "staff-posts", lambda p: (p.current_revision_id, p.id), key=key, backward=backward
    )


def post_authors(session: Session) -> list[User]:
    """Everyone who has written a post, by name: the choices of the post list's author filter."""
    return list(
        session.scalars(
            select(User).where(User.id.in_(select(Post.author_id).distinct())).order_by(User.name, User.id)
        )
    )


# --- topics --------------------------------------------------------------------------------------


def topics_stamp(session: Session) -> tuple[object, ...]:
    """Changes whenever a topic is added (topics are never deleted, and their slugs never change): the
    sitemap's key. A rename moves nothing the sitemap shows."""
    return tuple(session.execute(select(func.count(Topic.id), func.coalesce(func.max(Topic.id), 0))).one())


def all_topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.name)))


def topic_by_slug(session: Session, slug: str) -> Topic:
    topic = session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise NotFound("There is no such topic.")
    return topic


def published_in_topic(
    session: Session, topic: Topic, *, after: str | None = None, before: str | None = None, per_page: int
) -> cursors.Page:
    """Public posts whose published revision is filed under ``topic``, newest first: a page and the
    cursor of the next one (keyset on first publication time and id).

    The published revision's topics, never the draft's: a topic added in a revision still in review
    does not list the post here until that revision is published.
    """
    kind = f"topic:{topic.id}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    query = (
        select(Post)
        .join(revision_topics, revision_topics.c.revision_id == Post.published_revision_id)
        .where(revision_topics.c.topic_id == topic.id, Post.type == PostType.POST.value)
    )
    query = cursors.after(query, (Post.first_published_at, Post.id), key, descending=True, backward=backward)
    rows = session.scalars(query.limit(per_page + 1)).all()
    return cursors.page(
        rows, per_page, kind, lambda p: (p.first_published_at, p.id), key=key, backward=backward
    )


def topic_counts(session: Session) -> dict[int, int]:
    """How many public posts each topic lists (by the published revisions' topics)."""
    rows = session.execute(
        select(revision_topics.c.topic_id, func.count())
        .join(Post, Post.published_revision_id == revision_topics.c.revision_id)
        .where(Post.type == PostType.POST.value)
        .group_by(revision_topics.c.topic_id)
    )
    return {topic_id: n for topic_id, n in rows}
