"""Moderators' verbs on comments: decide (one or many), take one off the needs-reply queue.

A comment's status is a current pointer, moved only through ``app.comments.states`` (its one transition
table); anything else is InvalidTransition. Each verb locks the comment first. Each decision is a
``ModerationDecision`` (append-only, written
through app.comments.services.record_decision, as the comment's own arrival is), may owe Akismet a
correction (app.moderation.models), and may tell the commenter why by e-mail. Every verb takes a
Session and an explicit actor, flushes, raises app.errors.*, and never commits. No Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.clock import utc_now
from app.comments import states
from app.comments.models import MODERATOR_ACTIONS, Action, Comment, CommentStatus, ModerationDecision
from app.comments.services import lock_in_order, record_decision
from app.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed
from app.mail.compose import Site
from app.moderation import notifications
from app.moderation.models import AkismetSubmission
from app.posts.models import Post
from app.text import clean_text

S = CommentStatus
A = Action

MAX_REASON_CHARS = 2000


STAFF_ACTIONS = frozenset(
    {Action.DELETE, Action.APPROVE}
)  # a staff comment is removed or restored, not judged


def can_moderate(comment: Comment, action: Action | str) -> bool:
    """Whether ``moderate`` would take ``action`` on ``comment`` as it is: the pages offer only those."""
    if comment.is_staff and Action(action) not in STAFF_ACTIONS:
        return False
    return states.can_move(comment, Action(action))


def moderate(
    session: Session,
    actor: User,
    comment: Comment,
    action: str,
    reason: str = "",
    *,
    akismet_enabled: bool = False,
    site: Site | None = None,
    seen: str | None = None,
) -> ModerationDecision:
    """One moderator decision: move the comment, record who and why, owe Akismet a correction if it erred.

    ``reason`` is optional and is told to the commenter (by e-mail) unless the decision is spam.
    ``seen`` is the status the moderator saw when they chose (the form carries it): if another moderator
    (or the same one, in another tab) has moved the comment since, the decision is refused with a
    Conflict rather than silently overturning theirs, e.g. marking spam a comment just approved.
    """
    require(actor, "comments.moderate")
    if action not in {a.value for a in MODERATOR_ACTIONS}:
        choices = ", ".join(a.value for a in MODERATOR_ACTIONS)
        raise InvalidInput(f"action must be one of {choices}.", field="action")
    act = Action(action)
    reason = clean_text(reason, "reason", max_chars=MAX_REASON_CHARS, required=False, multiline=True).strip()
    # Lock the comment and decide on what it is now: two moderators at once meet a 409, not two decisions.
    session.refresh(comment, with_for_update={"of": Comment})
    if seen is not None and seen != comment.status:
        raise Conflict(
            f"Comment {comment.id} is {comment.status} now, not {seen[:20]}: it was decided on since your "
            "page was loaded. Look at it again before deciding."
        )
    if comment.is_staff and act not in STAFF_ACTIONS:
        raise NotAllowed(
            "A staff member's comment can only be deleted or restored, not judged as spam or topic."
        )
    post = session.get(Post, comment.post_id)
    assert post is not None
    current = states.move(comment, act)
    target = CommentStatus(comment.status)
    decision = record_decision(session, comment, actor, act, current.value, reason)
    if akismet_enabled and not comment.is_staff:
        _owe_akismet(session, comment, decision, target)
    if site is not None and post.published_revision is not None:
        notifications.moderation_notice(
            session, site, comment, act.value, reason, post.slug, post.published_revision.title
        )
    session.flush()
    return decision


AKISMET_QUEUED_KEY = "candor.akismet_submission_ids"


def owed_to_akismet(session: Session) -> list[int]:
    """Ids of the Akismet corrections owed through ``session`` since the last call: to send after commit."""
    return session.info.pop(AKISMET_QUEUED_KEY, [])


def _owe_akismet(
    session: Session, comment: Comment, decision: ModerationDecision, target: CommentStatus
) -> None:
    said_spam = comment.akismet_verdict in ("spam", "discard")
    kind = (
        "spam"
        if target == S.SPAM and not said_spam
        else "ham"
        if target == S.PUBLISHED and said_spam
        else None
    )
    if kind is None:
        return
    submission = AkismetSubmission(
        comment_id=comment.id, decision_id=decision.id, kind=kind, created_at=utc_now()
    )
    session.add(submission)
    session.flush()
    # The request edge sends it as soon as this transaction has committed (app/web/jobs.py).
    session.info.setdefault(AKISMET_QUEUED_KEY, []).append(submission.id)


def moderate_many(
    session: Session,
    actor: User,
    comment_ids: list[int],
    action: str,
    reason: str = "",
    *,
    akismet_enabled: bool = False,
    site: Site | None = None,
    seen: Mapping[int, str] | None = None,
) -> tuple[int, list[str]]:
    """The same decision on several comments; those it does not apply to are listed, not fatal.
    ``seen`` maps a comment's id to the status the moderator saw (see ``moderate``)."""
    require(actor, "comments.moderate")
    if not comment_ids:
        raise InvalidInput("Choose at least one comment.", field="comment_ids")
    done, skipped = 0, []
    wanted = list(dict.fromkeys(comment_ids))
    lock_in_order(session, wanted)  # as a check batch does: never a deadlock with one
    for comment_id in wanted:
        comment = session.get(Comment, comment_id)
        if comment is None:
            skipped.append(f"comment {comment_id} does not exist")
            continue
        try:
            moderate(
                session,
                actor,
                comment,
                action,
                reason,
                akismet_enabled=akismet_enabled,
                site=site,
                seen=(seen or {}).get(comment_id),
            )
            done += 1
        except (InvalidTransition, NotAllowed, Conflict) as exc:
            skipped.append(f"comment {comment_id}: {exc.message}")
    return done, skipped


def dismiss_reply(session: Session, actor: User, comment: Comment, reason: str = "") -> ModerationDecision:
    """Take a comment off the needs-reply queue without a staff reply (it asked nothing of staff)."""
    require(actor, "comments.moderate")
    if not comment.needs_reply:
        raise InvalidTransition("This comment is not waiting for a staff reply.")
    comment.needs_reply = False
    return record_decision(
        session,
        comment,
        actor,
        A.NO_REPLY_NEEDED,
        comment.status,
        clean_text(reason, "reason", max_chars=MAX_REASON_CHARS, required=False, multiline=True),
    )
