"""Posts, pages, comments, authors and topics as WXR 1.2 records, for ``app.wordpress.write``.

What WordPress can carry, shaped as WordPress's own exporter writes it, so WordPress's importer takes it
(and Disqus or Remark42 take the comments): the published text as HTML, rendered by our renderer, with
images' addresses made absolute, and a dated list of corrections appended, since WordPress has no
notices of its own. What only Candor knows rides along in ``wp:postmeta`` (``_candor_*``), which
WordPress keeps and ignores, so that Candor re-imports its own export losslessly: the Markdown the
corrections are edited in, the references, the corrections and the retraction.

Status: a live post is ``publish``; a retracted one too (it keeps its address in Candor), with the
notice on top of its content and in ``_candor_retraction``; one scheduled for first publication is
``future`` at its time; one in review ``pending``; any other never published ``draft``, with its newest
text. Dates are written in the organisation's zone and in GMT, as WordPress does. The hierarchy an import
brought (a page's parent, a topic's parent) goes back out as ``wp:post_parent`` and ``category_parent``.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from email.utils import format_datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments.models import Comment as CandorComment
from app.comments.models import CommentClosure
from app.db import keyset_batches
from app.export.record import SiteInfo
from app.importer.models import PageParent, TopicParent
from app.posts.models import (
    Approval,
    Post,
    PostType,
    Publication,
    PublicationState,
    Retraction,
    ReviewState,
    Revision,
    RevisionKind,
    Topic,
    revision_topics,
)
from app.wordpress import records as wp
from app.wordpress.write import write_wxr

BATCH = 100
COMMENT_STATES = {"published": wp.COMMENT_APPROVED, "held": wp.COMMENT_PENDING, "spam": wp.COMMENT_SPAM}
NOTICE_KINDS = (RevisionKind.CORRECTION, RevisionKind.CLARIFICATION, RevisionKind.UPDATE)
_LOGIN_UNSAFE = re.compile(r"[^a-z0-9_.@-]+")
_RELATIVE = re.compile(r'(\s(?:src|href|poster)=")/(?!/)')
_SRCSET = re.compile(r'(\ssrcset=")([^"]*)"')


def site_record(site: SiteInfo) -> wp.Site:
    return wp.Site(
        title=site.name,
        link=site.public_url,
        description="",
        language="",
        base_site_url=site.public_url,
        base_blog_url=site.public_url,
        wxr_version="1.2",
    )


def records(session: Session, site: SiteInfo, *, batch: int = BATCH) -> Iterator[wp.Record]:
    """Authors (everyone who wrote a post or a staff comment), topics as categories, then every post
    and page with its comments, in id order."""
    zone = ZoneInfo(site.timezone)
    logins = _logins(session)
    writers = set(session.scalars(select(Post.author_id).distinct())) | set(
        session.scalars(select(CandorComment.staff_user_id).where(CandorComment.staff_user_id.is_not(None)))
    )
    for user in session.scalars(select(User).where(User.id.in_(writers)).order_by(User.id)):
        first, _, last = user.name.partition(" ")
        yield wp.Author(
            login=logins[user.id],
            id=user.id,
            email=user.email,
            display_name=user.name,
            first_name=first,
            last_name=last,
        )
    parent_slugs = dict(
        session.execute(
            select(TopicParent.topic_id, Topic.slug).join(Topic, Topic.id == TopicParent.parent_id)
        ).all()
    )
    for topic in session.scalars(select(Topic).order_by(Topic.id)):
        parent = parent_slugs.get(topic.id, "")
        yield wp.Category(nicename=topic.slug, name=topic.name, parent=parent, term_id=topic.id)
    for rows in keyset_batches(session, select(Post.id, Post), Post.id, size=batch):
        yield from _items(session, [post for _, post in rows], site, zone, logins)
        session.expunge_all()  # keep the identity map to one batch


def _logins(session: Session) -> dict[int, str]:
    """A WordPress login for each user: the e-mail's local part in the characters WordPress allows,
    made unique with the user's id where two would meet."""
    logins: dict[int, str] = {}
    taken: set[str] = set()
    for user_id, email in session.execute(select(User.id, User.email).order_by(User.id)):
        login = _LOGIN_UNSAFE.sub("-", email.partition("@")[0].lower()).strip("-") or "user"
        if login in taken:
            login = f"{login}-{user_id}"
        taken.add(login)
        logins[user_id] = login
    return logins


def _items(
    session: Session, posts: list[Post], site: SiteInfo, zone: ZoneInfo, logins: dict[int, str]
) -> Iterator[wp.Item]:
    ids = [p.id for p in posts]
    revision_ids = [p.published_revision_id or p.current_revision_id for p in posts]
    revisions = {r.id: r for r in session.scalars(select(Revision).where(Revision.id.in_(revision_ids)))}
    topics: dict[int, list[Topic]] = defaultdict(list)
    for revision_id, topic in session.execute(
        select(revision_topics.c.revision_id, Topic)
        .join(Topic, Topic.id == revision_topics.c.topic_id)
        .where(revision_topics.c.revision_id.in_(revision_ids))
        .order_by(Topic.name)
    ):
        topics[revision_id].append(topic)
    changes: dict[int, list[tuple[Publication, Revision]]] = defaultdict(list)
    for publication, revision in session.execute(
        select(Publication, Revision)
        .join(Revision, Revision.id == Publication.revision_id)
        .where(Publication.post_id.in_(ids))
        .order_by(Publication.published_at, Publication.id)
    ):
        changes[publication.post_id].append((publication, revision))
    retractions = {
        r.post_id: r for r in session.scalars(select(Retraction).where(Retraction.post_id.in_(ids)))
    }
    closed = set(session.scalars(select(CommentClosure.post_id).where(CommentClosure.post_id.in_(ids))))
    scheduled_at = dict(
        session.execute(
            select(Post.id, Approval.publish_at)
            .join(Approval, Approval.id == Post.scheduled_approval_id)
            .where(Post.id.in_(ids))
        ).all()
    )
    parents = dict(
        session.execute(
            select(PageParent.post_id, PageParent.parent_id).where(PageParent.post_id.in_(ids))
        ).all()
    )
    comments: dict[int, list[wp.Comment]] = defaultdict(list)
    for comment, staff_email, staff_name in session.execute(
        select(CandorComment, User.email, User.name)
        .outerjoin(User, User.id == CandorComment.staff_user_id)
        .where(CandorComment.post_id.in_(ids))
        .order_by(CandorComment.id)
    ):
        comments[comment.post_id].append(_comment(comment, staff_email, staff_name, zone))
    for post in posts:
        revision = revisions[post.published_revision_id or post.current_revision_id]
        yield _item(
            post,
            revision,
            site,
            zone,
            logins,
            topics=topics[revision.id],
            changes=changes[post.id],
            retraction=retractions.get(post.id),
            comments_open=post.id not in closed,
            publish_at=scheduled_at.get(post.id),
            comments=comments[post.id],
            parent=parents.get(post.id, 0),
        )


def _status(post: Post, publish_at: datetime | None) -> str:
    if post.publication_state != PublicationState.NEVER_PUBLISHED:
        return "publish"
    if post.review_state == ReviewState.SCHEDULED and publish_at is not None:
        return "future"
    if post.review_state == ReviewState.IN_REVIEW:
        return "pending"
    return "draft"


def _item(
    post: Post,
    revision: Revision,
    site: SiteInfo,
    zone: ZoneInfo,
    logins: dict[int, str],
    *,
    topics: list[Topic],
    changes: list[tuple[Publication, Revision]],
    retraction: Retraction | None,
    comments_open: bool,
    publish_at: datetime | None,
    comments: list[wp.Comment],
    parent: int,
) -> wp.Item:
    base = site.public_url.rstrip("/")
    status = _status(post, publish_at)
    kind = "page" if post.type == PostType.PAGE else "post"
    guid = f"{base}/?{'page_id' if kind == 'page' else 'p'}={post.id}"
    link = f"{base}/{'pages' if kind == 'page' else 'posts'}/{post.slug}" if post.slug else guid
    posted = post.first_published_at or publish_at or post.created_at
    modified = changes[-1][0].published_at if changes else revision.created_at
    notices = [
        {
            "revision": changed.number,
            "kind": changed.kind,
            "note": changed.note,
            "published_at": publication.published_at.isoformat(),
        }
        for publication, changed in changes
        if changed.kind in NOTICE_KINDS
    ]
    meta = [
        wp.Meta("_candor_markdown", revision.body),
        wp.Meta("_candor_references", json.dumps(list(revision.references), ensure_ascii=False)),
        wp.Meta("_candor_revision", str(revision.number)),
    ]
    if revision.personal_view:
        meta.append(wp.Meta("_candor_personal_view", "1"))
    if notices:
        meta.append(wp.Meta("_candor_corrections", json.dumps(notices, ensure_ascii=False)))
    if retraction is not None:
        meta.append(
            wp.Meta(
                "_candor_retraction",
                json.dumps(
                    {"reason": retraction.reason, "at": retraction.at.isoformat()}, ensure_ascii=False
                ),
            )
        )
    content = _absolute(revision.html, base)
    if retraction is not None:
        content = _retraction_html(retraction, zone) + content
    if notices:
        content += _corrections_html(notices, changes, zone)
    return wp.Item(
        post_id=post.id,
        post_type=kind,
        status=status,
        title=revision.title,
        link=link,
        guid=guid,
        guid_is_permalink=False,
        pub_date=format_datetime(posted) if status in ("publish", "future") else "",
        creator=logins[post.author_id],
        content=content,
        date=posted.astimezone(zone),
        date_gmt=posted if status in ("publish", "future") else None,
        modified=modified.astimezone(zone),
        modified_gmt=modified,
        comment_status="open" if comments_open and kind == "post" else "closed",
        ping_status="closed",
        post_name=post.slug or "",
        post_parent=parent,
        terms=tuple(wp.ItemTerm("category", t.slug, t.name) for t in topics),
        meta=tuple(meta),
        comments=tuple(comments),
    )


def _comment(
    comment: CandorComment, staff_email: str | None, staff_name: str | None, zone: ZoneInfo
) -> wp.Comment:
    meta = [wp.Meta("_candor_status", comment.status)]
    if comment.reasons:
        meta.append(wp.Meta("_candor_reasons", json.dumps(comment.reasons, ensure_ascii=False)))
    return wp.Comment(
        id=comment.id,
        author=staff_name if staff_name is not None else comment.author_name,
        author_email=staff_email if staff_email is not None else comment.author_email,
        author_ip=comment.author_ip,
        date=comment.created_at.astimezone(zone),
        date_gmt=comment.created_at,
        content=comment.body,
        approved=COMMENT_STATES.get(comment.status, wp.COMMENT_TRASH),
        type="comment",
        parent=comment.parent_id or 0,
        user_id=comment.staff_user_id or 0,
        meta=tuple(meta),
    )


def _absolute(text: str, base: str) -> str:
    """Stored HTML names our own images by path (``/media/...``); WordPress needs whole addresses."""
    text = _RELATIVE.sub(lambda m: f"{m.group(1)}{base}/", text)

    def srcset(match: re.Match[str]) -> str:
        candidates = [c.strip() for c in match.group(2).split(",")]
        fixed = [f"{base}{c}" if c.startswith("/") and not c.startswith("//") else c for c in candidates]
        return f'{match.group(1)}{", ".join(fixed)}"'

    return _SRCSET.sub(srcset, text)


def _day(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%-d %B %Y")


def _retraction_html(retraction: Retraction, zone: ZoneInfo) -> str:
    return (
        '<aside class="candor-retraction"><p><strong>Retracted on '
        f'<time datetime="{retraction.at.isoformat()}">{_day(retraction.at, zone)}</time>.</strong> '
        f"{html.escape(retraction.reason)}</p></aside>\n"
    )


def _corrections_html(notices: list[dict[str, Any]], changes: list[Any], zone: ZoneInfo) -> str:
    when = {revision.number: publication.published_at for publication, revision in changes}
    lines = "".join(
        f'<li><time datetime="{notice["published_at"]}">{_day(when[notice["revision"]], zone)}</time>: '
        f"{html.escape(notice['kind'].capitalize())}. {html.escape(notice['note'])}</li>"
        for notice in notices
    )
    return f'\n<aside class="candor-corrections"><h2>Corrections</h2><ul>{lines}</ul></aside>\n'


def write(out: BinaryIO, site: SiteInfo, items: Iterable[wp.Record]) -> int:
    """Write the export as WXR 1.2; the number of characters dropped as not XML."""
    return write_wxr(out, site_record(site), items)
