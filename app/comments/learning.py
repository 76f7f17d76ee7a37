"""What moderators taught the off-topic scorer, read from the moderation log itself.

Each approve (or ham) decision says "this comment belongs on its post", each off_topic decision says
it does not. The append-only log is the persisted record; ``feedback`` replays it into a
``relevance.Feedback``, incrementally: each process keeps what it has learned and reads only the
decisions made since, one indexed query per call. It lives here, not in app/spam, because it reads the
comments' decision log; the scorer it feeds (app.spam.relevance) stays pure. No Flask here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.comments.models import Action, Comment, ModerationDecision
from app.posts.models import Post, Revision
from app.spam.relevance import Feedback, PostContext

TEACHING = {Action.APPROVE.value: True, Action.HAM.value: True, Action.OFF_TOPIC.value: False}


def _teaching() -> tuple[Any, ...]:
    return (ModerationDecision.action.in_(list(TEACHING)), ModerationDecision.moderator_id.is_not(None))


@dataclass
class _Learned:
    feedback: Feedback
    through: int  # the last decision id replayed


_cache: dict[str, _Learned] = {}
_lock = threading.Lock()


def post_context(post: Post, revision: Revision, approved: list[str] | None = None) -> PostContext:
    """The post as the scorer sees it; keyed by id, so a retitled post keeps what was learned about it."""
    return PostContext(
        revision.title, revision.body, list(revision.references), approved or [], key=str(post.id)
    )


def feedback(session: Session) -> Feedback:
    """Everything moderators taught so far (a copy is not made: treat it as read-only)."""
    key = str(session.get_bind().url)
    with _lock:
        learned = _cache.get(key)
        # Only a moderator's approve, ham or off_topic changes what was learned (found by the action index).
        last = session.scalar(select(func.max(ModerationDecision.id)).where(*_teaching())) or 0
        if learned is None or learned.through > last:  # a new database at the same address
            learned = _cache[key] = _Learned(Feedback(), 0)
        if last > learned.through:
            _replay(session, learned, last)
        return learned.feedback


def _replay(session: Session, learned: _Learned, last: int) -> None:
    rows = session.execute(
        select(ModerationDecision.action, Comment.body, Comment.post_id)
        .join(Comment, Comment.id == ModerationDecision.comment_id)
        .where(
            ModerationDecision.id > learned.through,
            ModerationDecision.id <= last,
            *_teaching(),
            Comment.staff_user_id.is_(None),
        )
        .order_by(ModerationDecision.id)
    ).all()
    contexts: dict[int, PostContext | None] = {}
    for action, body, post_id in rows:
        if post_id not in contexts:
            post = session.get(Post, post_id)
            revision = post.published_revision if post is not None else None
            contexts[post_id] = (
                post_context(post, revision) if post is not None and revision is not None else None
            )
        context = contexts[post_id]
        if context is not None:
            learned.feedback.learn(body, TEACHING[action], context)
    learned.through = last


def forget_all() -> None:
    """Drop every process-local copy (tests that recreate a database at the same address)."""
    with _lock:
        _cache.clear()
