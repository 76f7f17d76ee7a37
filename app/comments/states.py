"""A comment's status: one transition table and the one function that writes the column.

Moderators' decisions, the writer's withdrawal of a held comment and the Akismet recheck all move a
comment through ``move``; nothing else assigns ``Comment.status``. A move that is not in the table is
InvalidTransition (a 409), never a silent overwrite. Most moves have one target; the recheck's target is
the pipeline's new verdict, which must be one the table allows.
"""

from __future__ import annotations

from app.clock import utc_now
from app.comments.models import Action, Comment, CommentStatus
from app.errors import InvalidTransition

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
