"""Reading comments as moderators do: the queue by status, reason and search, counts, the log, a comment's
context, and who waits for a staff reply.

Queries only (no verbs, nothing written); those only moderators may see check with ``require`` first.
No Flask here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from app import cursors
from app.accounts.models import User
from app.accounts.permissions import require
from app.comments import closing, states
from app.comments.models import Comment, CommentStatus, ModerationDecision
from app.contact import services as contact
from app.cursors import Key
from app.errors import InvalidInput
from app.posts import services as post_services
from app.posts.models import Post
from app.spam import pipeline
from app.text import clean_text

S = CommentStatus


def moderation_queue(
    session: Session,
    actor: User,
    *,
    status: str | None = "held",
    reason: str | None = None,
    search: str = "",
    after: str | None = None,
    before: str | None = None,
    per_page: int = 25,
) -> cursors.Page:
    """Comments for moderators: held ones oldest first (a queue), the others newest first; a page and the
    cursor of the next. Keyset on (created_at, id) after the status (ix_comments_held,
    ix_comments_status_created); every status at once is each status's page merged, so that too is
    four index seeks, never a walk of the whole table in time order. ``before``: the page before the one
    that began with that cursor's comment, read the same way from the other end."""
    require(actor, "comments.moderate")
    query = select(Comment)
    if status:
        if status not in {s.value for s in CommentStatus}:
            raise InvalidInput(
                f"status must be one of {', '.join(s.value for s in CommentStatus)}.", field="status"
            )
        query = query.where(Comment.status == status)
    if reason == pipeline.FLAGGED:  # found off-topic and only recorded (log mode, a small blog): no reason
        query = query.where(cast(Comment.checks, Text).like(f'%"{pipeline.LOGGED}%'))
    elif reason:
        pattern = f'%"{reason}%' if reason.endswith(":") else f'%"{reason}"%'
        query = query.where(cast(Comment.reasons, Text).like(pattern))
    # The same text rules as any input: a NUL cannot even be compared with a PostgreSQL text column. Read
    # as a comment body is (direction marks kept): the text a moderator pastes is the text as stored.
    search = clean_text(search[:200], "q", max_chars=200, required=False, multiline=True)
    if search.strip():
        needle = search.strip().lower()
        query = query.where(
            or_(
                *(
                    func.lower(col).contains(needle, autoescape=True)
                    for col in (Comment.body, Comment.author_name, Comment.author_email)
                )
            )
        )
    # The cursor belongs to this exact list: another status's (or the API's other filter's) is refused.
    kind = f"queue:{status or ''}:{reason or ''}:{search.strip().lower()[:40]}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    order = (Comment.created_at, Comment.id)
    if status:
        rows = session.scalars(
            cursors.after(query, order, key, descending=status != "held", backward=backward).limit(
                per_page + 1
            )
        )
        return cursors.page(
            rows.all(), per_page, kind, lambda c: (c.created_at, c.id), key=key, backward=backward
        )
    merged: list[Comment] = []
    for each in CommentStatus:
        one = cursors.after(
            query.where(Comment.status == each.value), order, key, descending=True, backward=backward
        )
        merged += session.scalars(one.limit(per_page + 1)).all()
    # Nearest the cursor first, as each status's rows came: newest first, or oldest first going back.
    merged.sort(key=lambda c: (c.created_at, c.id), reverse=not (backward and key is not None))
    return cursors.page(
        merged[: per_page + 1], per_page, kind, lambda c: (c.created_at, c.id), key=key, backward=backward
    )


def status_counts(session: Session) -> dict[str, int]:
    """Comments by status, from the counts kept with every status change (app.comments.states)."""
    counts = {s.value: 0 for s in CommentStatus}
    for (status, reason), n in states.tally(session).items():
        if reason == "" and status in counts:
            counts[status] = n
    return counts


def held_reason_counts(session: Session) -> dict[str, int]:
    """Held comments by reason, from the same kept counts: nothing is loaded to count them."""
    counts = {r: n for (status, r), n in states.tally(session).items() if status == S.HELD and r and n > 0}
    return {r: counts[r] for r in pipeline.sorted_reasons(list(counts))}


def moderation_log(
    session: Session, actor: User, *, after: str | None = None, before: str | None = None, per_page: int = 50
) -> cursors.Page:
    """Every decision, newest first, with its comment: nothing a moderator did is ever out of sight.
    Keyset on (at, id) over ix_moderation_decisions_at."""
    require(actor, "comments.moderate")
    key, backward = cursors.position(after, before, "decisions", (datetime, int))
    query = select(ModerationDecision, Comment).join(Comment, Comment.id == ModerationDecision.comment_id)
    query = cursors.after(
        query, (ModerationDecision.at, ModerationDecision.id), key, descending=True, backward=backward
    )
    rows = [(d, c) for d, c in session.execute(query.limit(per_page + 1)).all()]
    return cursors.page(
        rows, per_page, "decisions", lambda row: (row[0].at, row[0].id), key=key, backward=backward
    )


def ancestors(session: Session, comment: Comment, limit: int = 10) -> list[Comment]:
    """The comments above ``comment`` in its thread, oldest first: the context a moderator needs."""
    chain: list[Comment] = []
    current = comment
    while current.parent_id is not None and len(chain) < limit:
        parent = session.get(Comment, current.parent_id)
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return list(reversed(chain))


def replies_to(session: Session, comment: Comment) -> list[Comment]:
    return list(
        session.scalars(
            select(Comment).where(Comment.parent_id == comment.id).order_by(Comment.created_at, Comment.id)
        )
    )


def posts_by_id(session: Session, post_ids: set[int]) -> dict[int, Post]:
    return post_services.posts_by_id(session, post_ids)


def comments_by_id(session: Session, comment_ids: set[int]) -> dict[int, Comment]:
    """Comments by id in one statement (a page's parents), not one per comment."""
    if not comment_ids:
        return {}
    return {c.id: c for c in session.scalars(select(Comment).where(Comment.id.in_(comment_ids)))}


# Spelled as the partial index ix_comments_waiting_reply's predicate is (a bare ``needs_reply``, not
# ``needs_reply IS true``), so that PostgreSQL can prove the index applies.
_WAITING = (Comment.status == S.PUBLISHED, Comment.needs_reply, Comment.staff_user_id.is_(None))


def _waiting(close_after_days: int) -> Any:
    """Waiting comments, not on posts whose comments are closed (by an editor, or by age): nobody can
    reply there, so the duty ends with them."""
    return (
        select(Comment)
        .join(Post, Post.id == Comment.post_id)
        .where(*_WAITING, ~closing.closed_condition(close_after_days))
    )


def waiting_for_reply(
    session: Session,
    *,
    after: Key | None = None,
    limit: int = 100,
    close_after_days: int = 0,
    backward: bool = False,
) -> list[Comment]:
    """Published reader comments that ask something of staff and have no staff reply yet, oldest first:
    at most ``limit``, from just after the (created_at, id) ``after`` (partial ix_comments_waiting_reply).
    ``backward``: those just before it instead, newest first."""
    query = cursors.after(
        _waiting(close_after_days),
        (Comment.created_at, Comment.id),
        after,
        descending=False,
        backward=backward,
    )
    return list(session.scalars(query.limit(limit)))


# Waiting comments are counted up to this many and no further: the count reads the partial index entry by
# entry (each one's post by key, for closing), so an uncapped count grows with the backlog (9 ms of a
# 33 ms desk page at bench_scale's 5,000 waiting). Past it the desk says "more than 1000".
WAITING_CAP = 1000


class Waiting(int):
    """Readers waiting for a staff reply, an int; ``more``: the comments were counted up to WAITING_CAP
    and there are more, so it reads "more than N" (in the desk, the dashboard and the digest)."""

    more: bool

    def __new__(cls, n: int, more: bool = False) -> Waiting:
        self = super().__new__(cls, n)
        self.more = more
        return self

    def __str__(self) -> str:
        return f"more than {int(self)}" if self.more else str(int(self))


def waiting_count(session: Session, close_after_days: int = 0, *, cap: int | None = WAITING_CAP) -> int:
    """How many comments wait for a staff reply (the partial index, and each one's post by key), counted
    up to ``cap + 1`` (None: all of them)."""
    waiting = _waiting(close_after_days).with_only_columns(Comment.id)
    if cap is not None:
        waiting = waiting.limit(cap + 1)
    return session.scalar(select(func.count()).select_from(waiting.subquery())) or 0


NEEDS_REPLY_PER_PAGE = 50


def needs_reply_page(
    session: Session,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = NEEDS_REPLY_PER_PAGE,
    close_after_days: int = 0,
) -> cursors.Page:
    """Comments and contact messages waiting for staff, oldest first, interleaved: a page and the next's
    cursor. Each source is read from its own index from the cursor on (comments sort before messages of
    the same instant), at most a page of each, and the two merged. ``before`` reads the page before the
    same way from the other end: the bounds are the same, only the direction turns."""
    key, backward = cursors.position(after, before, "needs-reply", (datetime, int, int))
    comment_after: Key | None = None
    message_after: Key | None = None
    if key is not None:
        at, rank, ident = key
        comment_after = (at, ident) if rank == 0 else (at, 2**62)
        message_after = (at, ident) if rank == 1 else (at, -1)
    comments = waiting_for_reply(
        session, after=comment_after, limit=per_page + 1, close_after_days=close_after_days, backward=backward
    )
    messages = contact.waiting(session, after=message_after, limit=per_page + 1, backward=backward)
    merged = sorted(
        [("comment", c.created_at, c, 0) for c in comments]
        + [("contact", m.created_at, m, 1) for m in messages],
        key=lambda row: (row[1], row[3], row[2].id),
        reverse=backward and key is not None,  # nearest the cursor first, as each source came
    )
    found = cursors.page(
        merged[: per_page + 1],
        per_page,
        "needs-reply",
        lambda row: (row[1], row[3], row[2].id),
        key=key,
        backward=backward,
    )
    return cursors.Page(
        [(kind, at, item) for kind, at, item, _rank in found.rows], found.next, found.previous
    )


def waiting_total(session: Session, close_after_days: int = 0) -> Waiting:
    """Readers waiting for a staff reply, comments (up to WAITING_CAP) and messages: two counts on indexes."""
    comments = waiting_count(session, close_after_days)
    more = comments > WAITING_CAP
    return Waiting(min(comments, WAITING_CAP) + contact.waiting_count(session), more)


def summary(comment: Comment) -> dict[str, Any]:
    """The comment as the moderation API shows it."""
    return {
        "id": comment.id,
        "post_id": comment.post_id,
        "parent_id": comment.parent_id,
        "status": comment.status,
        "reasons": list(comment.reasons),
        "author_name": comment.author_name,
        "author_email": comment.author_email,
        "author_ip": comment.author_ip,
        "body": comment.body,
        "html": comment.html,
        "created_at": comment.created_at.isoformat(),
        "staff": comment.is_staff,
        "relevance": {"score": comment.relevance_score, "drivers": comment.relevance_drivers},
        "checks": list(comment.checks),
        "akismet": comment.akismet_verdict or None,
        "needs_reply": comment.needs_reply,
    }
