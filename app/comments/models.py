"""Reader and staff comments, the log of decisions about them, and reply subscriptions.

A comment's ``status`` is a current pointer, like a post's: every change of it is a
``ModerationDecision``, append-only in the ORM (below) and in the database (a trigger, see migration
0005). A deleted comment leaves the public thread and stays here and in the log, with every check
the pipeline ran (``checks``) and every reason it was held (``reasons``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import AppendOnly, Base, ReaderVisible, intpk, str200, str320


class CommentStatus(enum.StrEnum):
    PUBLISHED = "published"
    HELD = "held"
    SPAM = "spam"
    DELETED = "deleted"


class Action(enum.StrEnum):
    """What a decision did. The first four are moderators'; the rest are the system's or the writer's."""

    APPROVE = "approve"
    SPAM = "spam"
    OFF_TOPIC = "off_topic"
    DELETE = "delete"
    HAM = "ham"
    SUBMIT = "submit"  # the pipeline's verdict when the comment arrived (moderator: none)
    STAFF = "staff"  # a signed-in staff member's own comment, published without the pipeline
    RECHECK = "recheck"  # `flask comments recheck` asked Akismet again (moderator: none)
    WITHDRAW = "withdraw"  # the writer replaced a held comment with a corrected one (moderator: none)
    NO_REPLY_NEEDED = "no_reply_needed"  # taken off the needs-reply queue without a staff reply


MODERATOR_ACTIONS = (Action.APPROVE, Action.SPAM, Action.OFF_TOPIC, Action.DELETE, Action.HAM)
COMMENT_STATUSES = tuple(s.value for s in CommentStatus)
ACTIONS = tuple(a.value for a in Action)


class Comment(ReaderVisible, Base):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint(f"status IN {COMMENT_STATUSES!r}", name="status_known"),
        # Staff comments carry who wrote them; reader comments an e-mail address.
        CheckConstraint("staff_user_id IS NOT NULL OR author_email <> ''", name="reader_email"),
        # Keyset pages (app/cursors.py): each list's equality columns, then its (created_at, id) order.
        Index("ix_comments_post_status_created", "post_id", "status", "created_at", "id"),
        Index("ix_comments_status_created", "status", "created_at", "id"),
        Index("ix_comments_thread_status_created", "thread_id", "status", "created_at", "id"),
        # A post's top-level threads, and the moderators' held queue and needs-reply queue: partial, so
        # each stays as small as what it lists however many comments are published.
        Index(
            "ix_comments_post_roots",
            "post_id",
            "created_at",
            "id",
            postgresql_where=text("parent_id IS NULL AND status = 'published'"),
            sqlite_where=text("parent_id IS NULL AND status = 'published'"),
        ),
        Index(
            "ix_comments_held",
            "created_at",
            "id",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
        Index(
            "ix_comments_waiting_reply",
            "created_at",
            "id",
            postgresql_where=text("status = 'published' AND needs_reply AND staff_user_id IS NULL"),
            sqlite_where=text("status = 'published' AND needs_reply AND staff_user_id IS NULL"),
        ),
        Index("ix_comments_ip_created", "author_ip", "created_at"),
        Index("ix_comments_email", "author_email"),
        Index("ix_comments_parent_id", "parent_id"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    # The top-level comment this one replies to, however deep (None for a top-level comment): a page
    # fetches a thread's replies by it, from an index, without walking the tree.
    # Set once, at creation (from the parent); an index, not a foreign key, so adding it rewrote no table.
    thread_id: Mapped[int | None]
    author_name: Mapped[str200]
    author_email: Mapped[str320] = mapped_column(default="")  # lower-cased
    author_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    referrer: Mapped[str] = mapped_column(String(2000), default="")
    permalink: Mapped[str] = mapped_column(String(2000), default="")
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CommentStatus.HELD.value)
    # Why it is held or spam, e.g. ["first_comment", "privacy:phone"]; empty when published cleanly.
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    # Every check the pipeline ran, in order: {"check", "verdict", "reason", "detail"}.
    checks: Mapped[list[Any]] = mapped_column(default=list)
    relevance_score: Mapped[float | None]
    relevance_drivers: Mapped[list[Any]] = mapped_column(default=list)
    akismet_verdict: Mapped[str] = mapped_column(String(16), default="")
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The reader's question still waits for a staff reply (the "needs reply" queue).
    needs_reply: Mapped[bool] = mapped_column(default=False)
    notify: Mapped[bool] = mapped_column(default=False)  # opted in to "email me when staff reply"
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    status_changed_at: Mapped[datetime] = mapped_column(default=utc_now)

    staff_user: Mapped[User | None] = relationship(lazy="joined")

    @property
    def is_staff(self) -> bool:
        return self.staff_user_id is not None

    def __repr__(self) -> str:
        return f"<Comment {self.id} post={self.post_id} {self.status}>"

    def changes_what_readers_see(self) -> bool:
        """Only a published comment shows: arriving published, or moving into or out of published (or
        changing its text while published). Held and spam comments leave every cache alone."""
        state = inspect(self)
        if state.pending or state.transient:
            return self.status == CommentStatus.PUBLISHED
        history = state.attrs.status.history
        before = history.deleted[0] if history.deleted else self.status
        if CommentStatus.PUBLISHED in (before, self.status) and before != self.status:
            return True
        return self.status == CommentStatus.PUBLISHED and state.attrs.html.history.has_changes()


TALLY_SHARDS = 16
"""Rows each count is spread over (a comment counts in shard ``id % TALLY_SHARDS``): comments arriving at
once update different rows, instead of queueing on one row's lock until each transaction commits."""


class CommentTally(Base):
    """How many comments stand in each status, and held ones by each reason: the moderation desk's counts.

    Kept exact by app.comments.states (the single writer of a comment's status) in the same flush as the
    change, so the desk never counts a million rows. ``reason`` is "" for a status's total; held comments
    also count once under each of their reasons. Each count is the sum of its ``TALLY_SHARDS`` rows; a
    comment is always counted in the same shard, so no shard goes below zero.
    """

    __tablename__ = "comment_tallies"
    __table_args__ = (
        CheckConstraint("n >= 0", name="not_negative"),
        CheckConstraint(f"shard >= 0 AND shard < {TALLY_SHARDS}", name="shard_known"),
    )

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=0)
    n: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<CommentTally {self.status} {self.reason!r} #{self.shard} {self.n}>"


class BurstMark(Base):
    """One comment counted toward its sender's burst (``app.comments.burst``), when Redis does not count.

    ``sender`` is a digest of the sender's key (``burst.sender_key``: an IPv4 address or an IPv6 /64,
    as the rate limits count), so comments from any address of one /64 count together, which a count
    of ``comments.author_ip`` cannot do with an index. Operations, not record: a mark older than the
    burst window is deleted (by its sender's next comment, and by the periodic ``checks_overdue`` job).
    """

    __tablename__ = "comment_burst_marks"
    __table_args__ = (
        UniqueConstraint("sender", "member"),  # one mark per comment
        Index("ix_comment_burst_marks_sender_at", "sender", "at"),
        Index("ix_comment_burst_marks_at", "at"),
    )

    id: Mapped[intpk]
    sender: Mapped[str] = mapped_column(String(32))
    member: Mapped[str] = mapped_column(String(64))  # services.burst_member: a double click counts once
    at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"<BurstMark {self.sender[:8]} {self.at:%H:%M:%S}>"


class ModerationDecision(AppendOnly, Base):
    """One change to a comment (or to whether it awaits a reply): who, when, what, and why. Append-only."""

    __tablename__ = "moderation_decisions"
    __table_args__ = (
        CheckConstraint(f"action IN {ACTIONS!r}", name="action_known"),
        Index("ix_moderation_decisions_comment_at", "comment_id", "at"),
        Index("ix_moderation_decisions_at", "at", "id"),
        Index("ix_moderation_decisions_action", "action", "comment_id"),
    )

    id: Mapped[intpk]
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"))
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16), default="")  # "" when the comment arrived
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")  # told to the commenter when a moderator gave one
    reasons: Mapped[list[Any]] = mapped_column(default=list)  # the comment's reasons after this decision
    at: Mapped[datetime] = mapped_column(default=utc_now)
    # Moved only by a redaction that rewrote a copy of redacted text here (app.redaction; migration 0008).
    redaction_count: Mapped[int] = mapped_column(default=0, server_default="0")

    moderator: Mapped[User | None] = relationship(lazy="joined")
    # Set when a comment and its first decision are written together: one flush inserts both, in order.
    comment: Mapped[Comment] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<ModerationDecision {self.id} comment={self.comment_id} {self.action}>"


class Subscription(Base):
    """A commenter's opt-in to an e-mail when staff reply to their comment, until they unsubscribe.

    Double opt-in: ticking the box only asks. Nothing but the confirmation request is sent to ``email``
    until its owner follows the signed, expiring link in it (``confirmed_at``), so nobody can sign
    somebody else's address up for our e-mails.
    """

    __tablename__ = "comment_subscriptions"
    __table_args__ = (UniqueConstraint("comment_id", name="uq_comment_subscriptions_comment_id"),)

    id: Mapped[intpk]
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"))
    email: Mapped[str320] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    comment: Mapped[Comment] = relationship(lazy="raise_on_sql")  # as ModerationDecision.comment

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None

    def __repr__(self) -> str:
        return f"<Subscription {self.id} comment={self.comment_id}>"


class CommentClosure(ReaderVisible, Base):
    """That an editor closed a post's comments: by whom, when, and why. Removed when they reopen them.

    Comments also close by age (``CANDOR_COMMENTS_CLOSE_AFTER_DAYS``), which needs no row: that is
    computed from the post's first publication (``app.comments.closing``).
    """

    __tablename__ = "comment_closures"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True, autoincrement=False)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(default=utc_now)
    reason: Mapped[str] = mapped_column(Text, default="")

    closed_by: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<CommentClosure post={self.post_id}>"
