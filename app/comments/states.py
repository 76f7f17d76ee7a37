"""A comment's status: one transition table and the one function that writes the column.

Moderators' decisions, the writer's withdrawal of a held comment and the Akismet recheck all move a
comment through ``move``; nothing else assigns ``Comment.status``. A move that is not in the table is
InvalidTransition (a 409), never a silent overwrite. Most moves have one target; the recheck's target is
the pipeline's new verdict, which must be one the table allows.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from sqlalchemy import bindparam, event, func, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.clock import utc_now
from app.comments.models import TALLY_SHARDS, Action, Comment, CommentStatus, CommentTally
from app.errors import InvalidTransition
from app.posts.models import Post

S = CommentStatus
A = Action

# (status, action) -> the statuses it may lead to.
TRANSITIONS: dict[tuple[CommentStatus, Action], frozenset[CommentStatus]] = {
    (S.HELD, A.APPROVE): frozenset({S.PUBLISHED}),
    (S.SPAM, A.APPROVE): frozenset({S.PUBLISHED}),
    (S.DELETED, A.APPROVE): frozenset({S.PUBLISHED}),
    (S.HELD, A.HAM): frozenset({S.PUBLISHED}),
    (S.SPAM, A.HAM): frozenset({S.PUBLISHED}),
    (S.HELD, A.SPAM): frozenset({S.SPAM}),
    (S.PUBLISHED, A.SPAM): frozenset({S.SPAM}),
    (S.DELETED, A.SPAM): frozenset({S.SPAM}),
    (S.HELD, A.OFF_TOPIC): frozenset({S.DELETED}),
    (S.PUBLISHED, A.OFF_TOPIC): frozenset({S.DELETED}),
    (S.HELD, A.DELETE): frozenset({S.DELETED}),
    (S.PUBLISHED, A.DELETE): frozenset({S.DELETED}),
    (S.SPAM, A.DELETE): frozenset({S.DELETED}),
    # The writer replaces their own held comment with a corrected one.
    (S.HELD, A.WITHDRAW): frozenset({S.DELETED}),
    # Akismet answers at last for a comment held while it could not: the pipeline decides again.
    (S.HELD, A.RECHECK): frozenset({S.PUBLISHED, S.SPAM, S.HELD}),
}

_PAST = {
    A.APPROVE: "approved",
    A.HAM: "marked as not spam",
    A.SPAM: "marked as spam",
    A.OFF_TOPIC: "removed as off-topic",
    A.DELETE: "deleted",
    A.WITHDRAW: "withdrawn",
    A.RECHECK: "re-checked",
}


def target_of(comment: Comment, action: Action) -> CommentStatus | None:
    """The one status ``action`` leads to from here, or None if it is not a move (or has several)."""
    targets = TRANSITIONS.get((CommentStatus(comment.status), action))
    return next(iter(targets)) if targets is not None and len(targets) == 1 else None


def can_move(comment: Comment, action: Action) -> bool:
    return (CommentStatus(comment.status), action) in TRANSITIONS


def move(comment: Comment, action: Action, target: CommentStatus | None = None) -> CommentStatus:
    """Move ``comment`` by ``action`` (to ``target`` where several are allowed); return the old status."""
    current = CommentStatus(comment.status)
    allowed = TRANSITIONS.get((current, action))
    if allowed is None:
        raise InvalidTransition(
            f"A comment that is {current.value} cannot be {_PAST.get(action, action.value)}.",
            comment_status=current.value,
        )
    if target is None:
        if len(allowed) != 1:
            raise AssertionError(f"{action.value} from {current.value} needs a target")
        target = next(iter(allowed))
    elif target not in allowed:
        raise InvalidTransition(
            f"A comment that is {current.value} cannot become {target.value} by {action.value}.",
            comment_status=current.value,
        )
    comment.status = target.value
    if target != current:
        comment.status_changed_at = utc_now()
    if target != S.PUBLISHED:
        comment.needs_reply = False
    return current


# --- counts kept with the status ------------------------------------------------------------------------
#
# The moderation desk's counts (comment_tallies) and each post's published-comment count
# (posts.comment_count) change in the same flush as the status they count, whoever wrote it: a comment
# arriving, ``move`` above, a recheck's new reasons. Before the flush, each changed comment's stored status
# is read under a row lock (so a writer that decided on a stale copy still leaves the counts equal to what
# is stored), unless this transaction already locked and loaded it (``locked_afresh``: a check batch, a
# bulk decision); after it (when a new comment has its id, which names its tally shard) the difference is
# added with ``n = n + d`` statements, exact however many transactions run at once. A comment always
# counts in shard ``id % TALLY_SHARDS``: comments arriving together update different rows rather than
# queueing on one row's lock until each commits. Locks are taken in one order (the post's row, then
# tallies sorted by key), so two writers never wait on each other in a circle.

Tally = tuple[str, str]
_PENDING = "candor.tallies_pending"


def _tallies(status: str | None, reasons: Any) -> Counter[Tally]:
    if status is None:
        return Counter()
    found: Counter[Tally] = Counter({(status, ""): 1})
    if status == S.HELD.value:
        for reason in dict.fromkeys(str(r)[:100] for r in reasons or ()):
            found[(status, reason)] += 1
    return found


def _stored(session: Session, comment: Comment) -> tuple[str, list[Any]] | None:
    table = Comment.__table__
    row = (
        session.connection()
        .execute(select(table.c.status, table.c.reasons).where(table.c.id == comment.id).with_for_update())
        .first()
    )
    return (row[0], list(row[1] or ())) if row is not None else None


_LOCKED = "candor.comments_locked"  # (the transaction, {comment id: its stored (status, reasons)})


def locked_afresh(session: Session, comments: list[Comment]) -> None:
    """These comments' rows are locked by this session's transaction and were loaded after the lock
    (``lock_in_order``): until the transaction ends, or any rollback, what they held then, and then what
    each flush wrote, is what the database holds; ``_read_before`` need not read their rows again."""
    transaction = session.get_transaction()
    held = session.info.get(_LOCKED)
    known = held[1] if held is not None and held[0] is transaction else {}
    known.update({c.id: (c.status, list(c.reasons or ())) for c in comments})
    session.info[_LOCKED] = (transaction, known)


def _known(session: Session) -> dict[int, tuple[str, list[Any]]] | None:
    held = session.info.get(_LOCKED)
    return held[1] if held is not None and held[0] is session.get_transaction() else None


@event.listens_for(Session, "after_soft_rollback")
def _forget_locked(session: Session, _previous: Any) -> None:
    session.info.pop(_LOCKED, None)  # a savepoint's rollback, too: what was flushed in it is undone


@event.listens_for(Session, "before_flush")
def _read_before(session: Session, _ctx: Any, _instances: Any) -> None:
    """Each new or recounted comment, with what the database holds for it (None: new), for ``_keep_counts``.
    Set afresh by every flush, so a flush that failed leaves nothing behind to count twice."""
    pending: list[tuple[Comment, tuple[str, list[Any]] | None]] = []
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Comment):
            continue
        if obj in session.new:
            pending.append((obj, None))
            continue
        state = inspect(obj)
        if state.attrs.status.history.has_changes() or state.attrs.reasons.history.has_changes():
            known = _known(session)
            before = known.get(obj.id) if known is not None else None
            pending.append((obj, before if before is not None else _stored(session, obj)))
    session.info[_PENDING] = pending


@event.listens_for(Session, "after_flush")
def _keep_counts(session: Session, _ctx: Any) -> None:
    tallies: Counter[tuple[str, str, int]] = Counter()
    per_post: Counter[int] = Counter()
    pending = session.info.pop(_PENDING, [])
    known = _known(session)
    for obj, before in pending:
        if known is not None and obj.id in known:
            known[obj.id] = (obj.status, list(obj.reasons or ()))  # what the database now holds
        old_status, old_reasons = before if before is not None else (None, [])
        shard = obj.id % TALLY_SHARDS
        for (status, reason), d in _tallies(obj.status, obj.reasons).items():
            tallies[(status, reason, shard)] += d
        for (status, reason), d in _tallies(old_status, old_reasons).items():
            tallies[(status, reason, shard)] -= d
        published = S.PUBLISHED.value
        per_post[obj.post_id] += (obj.status == published) - (old_status == published)
    _apply(session, tallies, per_post)


def _apply(session: Session, tallies: Counter[tuple[str, str, int]], per_post: Counter[int]) -> None:
    connection = session.connection()
    for post_id in sorted(p for p, d in per_post.items() if d):
        connection.execute(
            update(Post)
            .where(Post.id == post_id)
            .values(comment_count=Post.comment_count + per_post[post_id])
        )
        post = session.identity_map.get(identity_key(Post, post_id))
        if post is not None:
            # Loaded again on next access; never flushed back over the database's count.
            session.expire(post, ["comment_count"])
    changed = sorted((key, d) for key, d in tallies.items() if d)
    if not changed:
        return
    dialect = connection.dialect.name
    upsert = functools.partial(_upsert, connection, pg_insert if dialect == "postgresql" else sqlite_insert)
    if all(d > 0 for _, d in changed):
        # A new comment (the usual case): one statement for its status and each of its reasons, its rows in
        # key order (PostgreSQL takes their locks in that order).
        upsert(changed)
        return
    # Some counts go down (a status changed; a batch of checks moves many comments at once): every row,
    # in key order, is first made to exist and locked by one upsert adding nothing (n = n + 0; the rows that
    # go down exist already: their comments were counted in their shards when they arrived, or by a
    # migration), then the differences are added by one UPDATE per row, sent together (executemany).
    upsert([(key, 0) for key, _ in changed])
    connection.execute(
        _add_statement(),
        [{"k_status": s, "k_reason": r, "k_shard": shard, "d": d} for (s, r, shard), d in changed],
    )


@functools.cache
def _add_statement() -> Any:
    table = CommentTally.__table__
    return (
        update(table)
        .where(
            table.c.status == bindparam("k_status"),
            table.c.reason == bindparam("k_reason"),
            table.c.shard == bindparam("k_shard"),
        )
        .values(n=table.c.n + bindparam("d"))
    )


def _upsert(connection: Any, make_insert: Any, rows: list[tuple[tuple[str, str, int], int]]) -> None:
    params: dict[str, Any] = {}
    for i, ((status, reason, shard), d) in enumerate(rows):
        params.update({f"status_{i}": status, f"reason_{i}": reason, f"shard_{i}": shard, f"n_{i}": d})
    connection.execute(_upsert_statement(make_insert, len(rows)), params)


@functools.cache
def _upsert_statement(make_insert: Any, n: int) -> Any:
    """``INSERT ... VALUES (n rows) ON CONFLICT DO UPDATE SET n = n + excluded.n`` with bound parameters,
    built once per dialect and row count: SQLAlchemy then compiles it once, not on every comment (a
    statement with literal VALUES rows is compiled afresh each time)."""
    table = CommentTally.__table__
    statement = make_insert(table).values(
        [
            {
                "status": bindparam(f"status_{i}"),
                "reason": bindparam(f"reason_{i}"),
                "shard": bindparam(f"shard_{i}"),
                "n": bindparam(f"n_{i}"),
            }
            for i in range(n)
        ]
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.status, table.c.reason, table.c.shard],
        set_={"n": table.c.n + statement.excluded.n},
    )


def tally(session: Session) -> dict[Tally, int]:
    """Every count: ``(status, "")`` totals and ``("held", reason)`` per reason."""
    return {
        (s, r): int(n)
        for s, r, n in session.execute(
            select(CommentTally.status, CommentTally.reason, func.sum(CommentTally.n)).group_by(
                CommentTally.status, CommentTally.reason
            )
        )
    }
