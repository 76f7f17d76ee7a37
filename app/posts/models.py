"""Posts, their append-only revisions, and the record of each publication.

A revision is never changed once stored: the ORM refuses it here and the database refuses it with a
trigger (see the migrations). Which revision readers see is a pointer on the post; when and by whom
each revision went public is its own append-only table, so history needs no mutable flags.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    insert,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.util import identity_key

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, ReaderVisible, intpk
from app.disclosures.models import Disclosure


class PublicationState(enum.StrEnum):
    """Whether readers can see the post at all. Written only by app.editorial.services._move."""

    NEVER_PUBLISHED = "never_published"
    LIVE = "live"
    RETRACTED = "retracted"


class ReviewState(enum.StrEnum):
    """Where the post's newest revision stands in review. Written only by app.editorial.services._move.

    Independent of publication: a live post with a correction in review is live and in review.
    """

    NONE = "none"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    SCHEDULED = "scheduled"


class RevisionKind(enum.StrEnum):
    ORIGINAL = "original"  # any revision saved before the post was first published
    CORRECTION = "correction"
    CLARIFICATION = "clarification"
    UPDATE = "update"
    MINOR = "minor"


class PostType(enum.StrEnum):
    """A post is dated news in the feed; a page (About, the ethics code) is a standing text at /pages/.

    Both go through the same revisions, four-eyes approval, gates, corrections and changes view.
    """

    POST = "post"
    PAGE = "page"


PUBLICATION_STATES = tuple(s.value for s in PublicationState)
POST_TYPES = tuple(t.value for t in PostType)
REVIEW_STATES = tuple(s.value for s in ReviewState)
REVISION_KINDS = tuple(k.value for k in RevisionKind)
CHANGE_KINDS = (RevisionKind.CORRECTION, RevisionKind.CLARIFICATION, RevisionKind.UPDATE, RevisionKind.MINOR)


def status_of(publication_state: str, review_state: str) -> str:
    """The one word for a pair of states: retracted > a review in progress > published > draft."""
    if publication_state == PublicationState.RETRACTED:
        return "retracted"
    if review_state != ReviewState.NONE:
        return review_state
    return "published" if publication_state == PublicationState.LIVE else "draft"


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint(f"publication_state IN {PUBLICATION_STATES!r}", name="publication_state_known"),
        CheckConstraint(f"review_state IN {REVIEW_STATES!r}", name="review_state_known"),
        CheckConstraint(f"type IN {POST_TYPES!r}", name="type_known"),
        # Only what readers have seen has a public address: a draft has no slug to leak its title.
        CheckConstraint(
            "(slug IS NULL) = (publication_state = 'never_published')", name="slug_iff_published"
        ),
        CheckConstraint(
            "(published_revision_id IS NULL) = (publication_state = 'never_published')",
            name="published_revision_iff_published",
        ),
        # A scheduled post always names the approval it will publish, and only a scheduled one does.
        CheckConstraint(
            "(scheduled_approval_id IS NULL) = (review_state <> 'scheduled')", name="scheduled_iff_approval"
        ),
        # The home page, the feed and the posts API: keyset on (first_published_at, id), public posts only.
        Index(
            "ix_posts_public_first_published",
            "first_published_at",
            "id",
            postgresql_where=text("published_revision_id IS NOT NULL"),
            sqlite_where=text("published_revision_id IS NOT NULL"),
        ),
    )

    id: Mapped[intpk]
    # Chosen at creation and never changed: a page's address is /pages/<slug>, a post's /posts/<slug>.
    type: Mapped[str] = mapped_column(String(8), default=PostType.POST.value, server_default="post")
    slug: Mapped[str | None] = mapped_column(String(200), unique=True)
    publication_state: Mapped[str] = mapped_column(String(16), default=PublicationState.NEVER_PUBLISHED.value)
    review_state: Mapped[str] = mapped_column(String(24), default=ReviewState.NONE.value)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("post_revisions.id", use_alter=True, name="fk_posts_current_revision_id_post_revisions")
    )
    published_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("post_revisions.id", use_alter=True, name="fk_posts_published_revision_id_post_revisions")
    )
    scheduled_approval_id: Mapped[int | None] = mapped_column(
        ForeignKey("approvals.id", use_alter=True, name="fk_posts_scheduled_approval_id_approvals")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    first_published_at: Mapped[datetime | None] = mapped_column(index=True)
    # What reader-page caches key on. Never set by hand: ``_bump_what_readers_see`` below moves both
    # whenever a row that readers can see (a publication, a retraction, a slug, a comment) is written for
    # this post. ``version`` is incremented in the database (version + 1), so the sum over all posts
    # changes with every commit, in commit order, which a timestamp taken at flush does not.
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # Published comments, kept by app.comments.states in the flush that moves one: shown, never counted.
    comment_count: Mapped[int] = mapped_column(default=0, server_default="0")

    author: Mapped[User] = relationship(lazy="joined")
    current_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[current_revision_id], post_update=True
    )
    published_revision: Mapped[Revision | None] = relationship(foreign_keys=[published_revision_id])
    scheduled_approval: Mapped[Approval | None] = relationship(foreign_keys=[scheduled_approval_id])

    @property
    def is_page(self) -> bool:
        return self.type == PostType.PAGE

    @property
    def is_public(self) -> bool:
        return self.publication_state != PublicationState.NEVER_PUBLISHED

    @property
    def is_live(self) -> bool:
        return self.publication_state == PublicationState.LIVE

    @property
    def is_retracted(self) -> bool:
        return self.publication_state == PublicationState.RETRACTED

    @property
    def status(self) -> str:
        """Both axes folded into the one word the API has always answered with (and staff pages show).

        retracted > a review in progress > published > draft. Decisions never read this; they read
        the two columns.
        """
        return status_of(self.publication_state, self.review_state)

    @property
    def publish_at(self) -> datetime | None:
        approval = self.scheduled_approval
        return approval.publish_at if approval is not None else None

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.slug!r} {self.publication_state}/{self.review_state}>"


class PostSlug(ReaderVisible, AppendOnly, Base):
    """Every address a post has had. Unique across all posts, so an old address never changes owner."""

    __tablename__ = "post_slugs"

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<PostSlug {self.slug!r} -> {self.post_id}>"


class Topic(Base):
    """One of the editor-managed topics a post is filed under.

    The slug is given when the topic is created and never changes, so a topic's page and feed keep
    their address when editors rename it.
    """

    __tablename__ = "topics"
    __table_args__ = (CheckConstraint("name <> ''", name="name_given"),)

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(80), unique=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<Topic {self.slug!r}>"


# Which topics each revision was filed under. Append-only like the revision itself (triggers in migration
# 0014): readers see the topics of the published revision, so a draft's new topics never show early.
revision_topics = Table(
    "revision_topics",
    Base.metadata,
    Column("revision_id", ForeignKey("post_revisions.id"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id"), primary_key=True, index=True),
)


class Revision(AppendOnly, Base):
    """One immutable save of a post: its title, Markdown, references and the HTML rendered from them."""

    __tablename__ = "post_revisions"
    __table_args__ = (
        UniqueConstraint("post_id", "number", name="uq_post_revisions_post_number"),
        # Lets an approval name the revision together with its writer, checked (see Approval).
        UniqueConstraint("id", "author_id", name="uq_post_revisions_id_author"),
        CheckConstraint(f"kind IN {REVISION_KINDS!r}", name="kind_known"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("kind IN ('original', 'minor') OR note <> ''", name="note_required"),
        CheckConstraint("redaction_count >= 0", name="redaction_count_positive"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    references: Mapped[list[Any]] = mapped_column(default=list)
    html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    kind: Mapped[str] = mapped_column(String(32), default=RevisionKind.ORIGINAL.value)
    note: Mapped[str] = mapped_column(Text, default="")
    # The author's own view rather than the organisation's: the page adds the ethics code's disclaimer.
    personal_view: Mapped[bool] = mapped_column(default=False)
    # How many redactions replaced spans of this revision's text (app.redaction). The database lets a
    # revision's text change only by moving this to the sequence of a recorded redaction (migration 0008).
    redaction_count: Mapped[int] = mapped_column(default=0, server_default="0")

    author: Mapped[User] = relationship(lazy="joined")
    topics: Mapped[list[Topic]] = relationship(
        secondary=revision_topics, lazy="selectin", order_by=Topic.name
    )

    def same_content(self, title: str, body: str, references: list[str]) -> bool:
        return self.title == title and self.body == body and list(self.references) == list(references)

    def same_as(
        self,
        title: str,
        body: str,
        references: list[str],
        personal_view: bool,
        topic_ids: set[int] | None = None,
    ) -> bool:
        """Whether saving these would change nothing; ``topic_ids`` None means the topics are kept."""
        same_topics = topic_ids is None or {t.id for t in self.topics} == topic_ids
        return (
            self.same_content(title, body, references) and self.personal_view == personal_view and same_topics
        )

    def __repr__(self) -> str:
        return f"<Revision post={self.post_id} #{self.number} {self.kind}>"


class RevisionMedia(AppendOnly, Base):
    """That a revision shows an image of the library. Append-only like the revision; its foreign key
    to ``media`` is ON DELETE RESTRICT, so the database refuses to delete an image any revision uses."""

    __tablename__ = "revision_media"

    revision_id: Mapped[int] = mapped_column(ForeignKey("post_revisions.id"), primary_key=True)
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="RESTRICT"), primary_key=True, index=True
    )

    def __repr__(self) -> str:
        return f"<RevisionMedia revision={self.revision_id} media={self.media_id}>"


class Approval(AppendOnly, Base):
    """An editor's approval of exactly one revision, with the disclosure and gate results it saw.

    Publication publishes an approval, never "the current revision": the composite foreign key from
    publications (approval_id, revision_id) to here makes publishing any other text impossible. An
    approval is pending until it is published or withdrawn (``ApprovalWithdrawal``); both are rows of
    their own, so this one never changes.
    """

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("id", "revision_id", name="uq_approvals_id_revision"),
        # Four eyes, in the data: the approved text's own writer (tied to the revision by this foreign
        # key, so it cannot be named falsely) is never its approver. The service also refuses an approver
        # who wrote any revision since the last publication.
        ForeignKeyConstraint(
            ["revision_id", "revision_author_id"],
            ["post_revisions.id", "post_revisions.author_id"],
            name="fk_approvals_revision_writer",
        ),
        CheckConstraint("approved_by_id <> revision_author_id", name="four_eyes"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("post_revisions.id"))
    revision_author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(default=utc_now)
    publish_at: Mapped[datetime | None]
    # The author's disclosure in force when the editor approved: what the published page will show.
    disclosure_id: Mapped[int | None] = mapped_column(ForeignKey("disclosures.id"))
    touches_interests: Mapped[bool] = mapped_column(default=False)
    interest_statement: Mapped[str] = mapped_column(Text, default="")
    # Every gate's result as the editor saw it: [{"gate", "ok", "overridden"}].
    gates: Mapped[list[Any]] = mapped_column(default=list)

    revision: Mapped[Revision] = relationship(lazy="joined", foreign_keys=[revision_id])
    approved_by: Mapped[User] = relationship(lazy="joined", foreign_keys=[approved_by_id])

    def __repr__(self) -> str:
        return f"<Approval {self.id} post={self.post_id} revision={self.revision_id}>"


class ApprovalWithdrawal(AppendOnly, Base):
    """That a pending approval will never be published, and why (an edit, a new disclosure, a gate)."""

    __tablename__ = "approval_withdrawals"

    id: Mapped[intpk]
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<ApprovalWithdrawal approval={self.approval_id}>"


class Publication(ReaderVisible, AppendOnly, Base):
    """That a revision went public: when, approved by whom. Append-only, like revisions."""

    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("revision_id", name="uq_publications_revision_id"),
        UniqueConstraint("approval_id", name="uq_publications_approval_id"),
        CheckConstraint("via IN ('review', 'editor_direct', 'import')", name="via_known"),
        Index("ix_publications_post_published", "post_id", "published_at"),
        Index("ix_publications_published_id", "published_at", "id"),  # the corrections log, newest first
        ForeignKeyConstraint(
            ["approval_id", "revision_id"],
            ["approvals.id", "approvals.revision_id"],
            name="fk_publications_approval_revision",
        ),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    revision_id: Mapped[int] = mapped_column(ForeignKey("post_revisions.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The approval this publishes (None only for publications older than approvals). Its revision is
    # this row's revision: the foreign key above pairs them.
    approval_id: Mapped[int | None]
    # "review"; "editor_direct" survives only in history from before four eyes applied to editors;
    # "import": the revision was published elsewhere (WordPress) and brought in by the import, whose
    # system actor is the approver on record (app.editorial.services.record_import).
    via: Mapped[str] = mapped_column(String(32), default="review")
    # The author's disclosure in force at approval, frozen with this revision.
    disclosure_id: Mapped[int | None] = mapped_column(ForeignKey("disclosures.id"))
    touches_interests: Mapped[bool] = mapped_column(default=False)
    interest_statement: Mapped[str] = mapped_column(Text, default="")

    revision: Mapped[Revision] = relationship(lazy="joined")
    approved_by: Mapped[User] = relationship(lazy="joined")
    disclosure: Mapped[Disclosure | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Publication post={self.post_id} revision={self.revision_id}>"


class Retraction(ReaderVisible, AppendOnly, Base):
    """That a post was retracted, why, and by whom. Append-only; the post keeps its address and history."""

    __tablename__ = "retractions"
    __table_args__ = (Index("ix_retractions_at_id", "at", "id"),)  # the corrections log, newest first

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utc_now)

    editor: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Retraction post={self.post_id}>"


class SiteStamp(Base):
    """A counter moved in the same transaction as whatever changes a blog-wide reader page.

    The key of the pages that list many posts (home, topics, feeds, the corrections log, the sitemap),
    read with one primary-key lookup whatever the number of posts, instead of summing every post's
    ``version`` per request. ``posts`` moves with every version bump (``_bump_what_readers_see``);
    ``corrections`` only with a publication or a retraction. The row lock of the UPDATE orders the bumps
    as their transactions commit, so a value names exactly the commits up to it. ``generation`` is drawn
    at random when the row is made: a database rebuilt (or a migration downgraded and upgraded) starts
    its counter again, and must not meet pages a shared cache keeps under the old one's values.
    """

    __tablename__ = "site_stamps"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[str] = mapped_column(String(32))
    value: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<SiteStamp {self.name}={self.value}>"


STAMPS = ("posts", "corrections", "embeds")
CHANGED_POSTS = "candor.changed_posts"
"""``session.info`` key: ids of the posts whose reader pages this transaction changed (app.web.cdn purges
them after the commit)."""
CHANGED_ALL = "candor.changed_all"
"""``session.info`` key: set when a change reaches every public post's page (an embed approved)."""


@event.listens_for(SiteStamp.__table__, "after_create")
def _seed_stamps(target: Table, connection: Connection, **_kw: Any) -> None:
    connection.execute(
        insert(target), [{"name": n, "generation": secrets.token_hex(8), "value": 0} for n in STAMPS]
    )


_STAMPS_DUE = "candor.stamps_due"


def bump_stamps(session: Session, *names: str) -> None:
    """Move the named stamps when this transaction commits (and only if it does).

    The UPDATE is sent just before the commit (``_move_stamps``), not when the change is flushed: the
    row lock it takes is then the transaction's last, held only while it commits, so two writers never
    wait on each other's stamp while holding a post the other needs (no deadlock), and every writer of
    the blog queues on it for the length of a commit, not of a request.
    """
    session.info.setdefault(_STAMPS_DUE, set()).update(names)


@event.listens_for(Session, "before_commit")
def _move_stamps(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the stamps move with the real commit
    session.flush()  # what is still pending may move stamps too
    names = session.info.pop(_STAMPS_DUE, None)
    if not names:
        return
    table = SiteStamp.__table__
    session.connection().execute(
        update(table).where(table.c.name.in_(sorted(names))).values(value=table.c.value + 1)
    )


@event.listens_for(Session, "after_soft_rollback")
def _forget_stamps(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_STAMPS_DUE, None)


@event.listens_for(Session, "before_flush")
def _bump_what_readers_see(session: Session, _ctx: Any, _instances: Any) -> None:
    """Any reader-visible row written for a post moves that post's ``version`` (and ``updated_at``), and so
    every cache key.

    The one rule, instead of a bump by hand wherever something visible changes. A Post already in the
    session is stamped as an attribute (flushed with the rest); any other by one UPDATE.
    """
    changed = [
        obj
        for obj in (*session.new, *session.dirty)
        if isinstance(obj, ReaderVisible)
        and obj.post_id is not None
        and (obj in session.new or session.is_modified(obj, include_collections=False))
        and obj.changes_what_readers_see()
    ]
    # A deleted visible row (comments reopened: their closure removed) changes the page as well.
    changed += [obj for obj in session.deleted if isinstance(obj, ReaderVisible)]
    post_ids = {obj.post_id for obj in changed}
    if not post_ids:
        return
    session.info.setdefault(CHANGED_POSTS, set()).update(post_ids)
    logged = any(isinstance(obj, (Publication, Retraction)) for obj in changed)
    bump_stamps(session, "posts", *(("corrections",) if logged else ()))
    now = utc_now()
    rest = set()
    for post_id in post_ids:
        post = session.identity_map.get(identity_key(Post, post_id))
        if post is not None:
            post.updated_at = now
            post.version = Post.version + 1  # type: ignore[assignment]  (SQL: version = version + 1)
        else:
            rest.add(post_id)
    if rest:
        table = Post.__table__
        session.connection().execute(
            update(table).where(table.c.id.in_(rest)).values(updated_at=now, version=table.c.version + 1)
        )
