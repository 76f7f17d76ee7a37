"""Verbs on comments: submit (through the pipeline), comment as staff, moderate, and the queues.

Every verb takes a Session and an explicit actor (None for an anonymous reader), flushes, raises
app.errors.*, and never commits. A comment's status is a current pointer; each change of it writes a
``ModerationDecision`` (append-only). Whenever what readers see of a post's thread changes, the post's
``updated_at`` moves, so cached pages are rendered afresh.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import User, UserRole
from app.accounts.permissions import can, require
from app.clock import utc_now
from app.comments import learning, notifications, pipeline
from app.comments.akismet_adapter import AkismetChecker
from app.comments.formatting import MAX_COMMENT_CHARS, render_comment
from app.comments.models import (
    MODERATOR_ACTIONS,
    Action,
    AkismetSubmission,
    Comment,
    CommentStatus,
    ModerationDecision,
    Subscription,
)
from app.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from app.posts.models import Post
from app.text import clean_text

S = CommentStatus
A = Action

MAX_NAME_CHARS = 200
MAX_EMAIL_CHARS = 320
MAX_REASON_CHARS = 2000
APPROVED_CONTEXT = 50  # approved comments the off-topic scorer reads as part of the post
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")

# (status, action) -> status: the whole of moderation. Anything else is InvalidTransition.
TRANSITIONS: dict[tuple[CommentStatus, Action], CommentStatus] = {
    (S.HELD, A.APPROVE): S.PUBLISHED,
    (S.SPAM, A.APPROVE): S.PUBLISHED,
    (S.DELETED, A.APPROVE): S.PUBLISHED,
    (S.HELD, A.HAM): S.PUBLISHED,
    (S.SPAM, A.HAM): S.PUBLISHED,
    (S.HELD, A.SPAM): S.SPAM,
    (S.PUBLISHED, A.SPAM): S.SPAM,
    (S.DELETED, A.SPAM): S.SPAM,
    (S.HELD, A.OFF_TOPIC): S.DELETED,
    (S.PUBLISHED, A.OFF_TOPIC): S.DELETED,
    (S.HELD, A.DELETE): S.DELETED,
    (S.PUBLISHED, A.DELETE): S.DELETED,
    (S.SPAM, A.DELETE): S.DELETED,
}

_PAST = {
    A.APPROVE: "approved",
    A.HAM: "marked as not spam",
    A.SPAM: "marked as spam",
    A.OFF_TOPIC: "removed as off-topic",
    A.DELETE: "deleted",
}

# A reader comment asks something of staff: a question, or a request. Moderators can dismiss mistakes.
_ASKS = re.compile(
    r"\?|\b(?:can|could|would|will)\s+(?:you|someone|anyone|the\s+(?:doctor|clinic|team|staff|author))\b"
    r"|\bplease\s+(?:advise|help|tell|explain|let\s+me\s+know|confirm|reply|respond|clarify)\b"
    r"|\b(?:i|we)\s+(?:need|want|would\s+like)\s+to\s+know\b|\bany\s+(?:advice|thoughts|suggestions)\b"
    r"|\b(?:how|what|when|where|who)\s+(?:do|can|should)\s+i\b|\bshould\s+i\b|\bwondering\s+(?:if|whether)\b",
    re.IGNORECASE,
)


def asks_staff(body: str) -> bool:
    return _ASKS.search(body[:MAX_COMMENT_CHARS]) is not None


@dataclass(frozen=True)
class CommentInput:
    """A comment as it arrived, before any checking. Text is cleaned by ``clean``."""

    author_name: str
    author_email: str
    body: str
    parent_id: int | None = None
    notify: bool = False
    ip: str = ""
    user_agent: str = ""
    referrer: str = ""
    permalink: str = ""
    honeypot: str = ""
    form_age: timedelta | None = None


def clean(data: CommentInput, *, staff: bool = False) -> CommentInput:
    """The same text rules for the form, the JSON API and tests; raises InvalidInput naming the field."""
    body = clean_text(data.body, "body", max_chars=MAX_COMMENT_CHARS, multiline=True)
    if staff:
        return dataclasses.replace(data, body=body)
    name = clean_text(data.author_name, "author_name", max_chars=MAX_NAME_CHARS)
    email = clean_email(data.author_email, "author_email")
    return dataclasses.replace(
        data,
        author_name=name,
        author_email=email,
        body=body,
        user_agent=clean_text(data.user_agent, "user_agent", max_chars=2000, required=False)[:500],
        referrer=clean_text(data.referrer, "referrer", max_chars=4000, required=False)[:2000],
        honeypot=(data.honeypot or "")[:200],
    )


def clean_email(value: object, field: str) -> str:
    email = clean_text(value, field, max_chars=MAX_EMAIL_CHARS).lower()
    if not EMAIL.match(email):
        raise InvalidInput(f"{field} must be an e-mail address, like name@example.org.", field=field)
    return email


def field_errors(data: CommentInput, *, staff: bool = False) -> dict[str, str]:
    """Every field's problem at once (a form shows them all), by the same rules as ``clean``."""
    errors: dict[str, str] = {}
    checks = [
        ("body", lambda: _render(clean_text(data.body, "body", max_chars=MAX_COMMENT_CHARS, multiline=True)))
    ]
    if not staff:
        checks += [
            ("author_name", lambda: clean_text(data.author_name, "author_name", max_chars=MAX_NAME_CHARS)),
            ("author_email", lambda: clean_email(data.author_email, "author_email")),
        ]
    for name, check in checks:
        try:
            check()
        except InvalidInput as exc:
            if exc.details.get("field", name) == name:
                errors[name] = exc.message
    return errors


def _render(body: str) -> str:
    try:
        return render_comment(body)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="body") from None


def _commentable(session: Session, post: Post, parent_id: int | None) -> Comment | None:
    if post.published_revision_id is None:
        raise NotFound(f"No post {post.id}.")
    if post.is_retracted:
        raise InvalidTransition("This post was retracted; it takes no new comments.")
    if parent_id is None:
        return None
    parent = session.get(Comment, parent_id)
    if parent is None or parent.post_id != post.id or parent.status != S.PUBLISHED:
        raise InvalidInput("parent_id must be a published comment on this post.", field="parent_id")
    return parent


def _decide(
    session: Session, comment: Comment, actor: User | None, action: Action, old: str, reason: str = ""
) -> ModerationDecision:
    decision = ModerationDecision(
        comment_id=comment.id,
        moderator_id=actor.id if actor else None,
        action=action.value,
        from_status=old,
        to_status=comment.status,
        reason=reason,
        reasons=list(comment.reasons),
        at=utc_now(),
    )
    session.add(decision)
    session.flush()
    return decision


def _thread_changed(post: Post) -> None:
    post.updated_at = utc_now()


def staff_directory(session: Session) -> tuple[list[str], frozenset[str]]:
    """Names and e-mail addresses of active staff, for the impersonation check."""
    rows = session.execute(
        select(User.name, User.email)
        .where(User.is_active.is_(True), User.id.in_(select(UserRole.user_id).distinct()))
        .order_by(User.id)
    ).all()
    return [name for name, _ in rows], frozenset(email.lower() for _, email in rows)


def _facts(session: Session, data: CommentInput, now: datetime, burst: int) -> pipeline.Facts:
    # Counted only up to the limit: a flood from one address must not make each of its requests slower.
    recent = (
        session.scalar(
            select(func.count()).select_from(
                select(Comment.id)
                .where(Comment.author_ip == data.ip, Comment.created_at >= now - pipeline.BURST_WINDOW)
                .limit(burst + 1)
                .subquery()
            )
        )
        if data.ip
        else 0
    )
    returning = (
        session.scalar(
            select(Comment.id)
            .where(
                Comment.author_email == data.author_email,
                Comment.status == S.PUBLISHED,
                Comment.staff_user_id.is_(None),
            )
            .limit(1)
        )
        is not None
    )
    return pipeline.Facts(
        recent_from_ip=recent or 0, returning_commenter=returning, feedback=learning.feedback(session)
    )


def approved_texts(session: Session, post: Post) -> list[str]:
    """What people vouched for on this post, newest first: comments a moderator approved, and staff's.

    Comments the pipeline published on its own are left out on purpose. Were they in, a spammer whose
    first comments slipped through would widen the post's vocabulary for the next ones; and the post's
    vocabulary, rebuilt whenever this list changes, would be rebuilt on every published comment. Read
    from the decisions (approve, ham, staff), so the cost follows what people did, not how many
    comments the post has.
    """
    rows = session.execute(
        select(Comment.id, Comment.body)
        .join(ModerationDecision, ModerationDecision.comment_id == Comment.id)
        .where(
            ModerationDecision.action.in_([A.APPROVE.value, A.HAM.value, A.STAFF.value]),
            ModerationDecision.moderator_id.is_not(None),
            Comment.post_id == post.id,
            Comment.status == S.PUBLISHED,
        )
        .order_by(ModerationDecision.id.desc())
        .limit(2 * APPROVED_CONTEXT)
    ).all()
    return list(dict(rows).values())[:APPROVED_CONTEXT]


def submit_comment(
    session: Session,
    post: Post,
    data: CommentInput,
    *,
    actor: User | None,
    checker: AkismetChecker,
    settings: pipeline.PipelineSettings,
    site: notifications.Site | None = None,
    replaces: Comment | None = None,
) -> Comment:
    """Store a comment and its verdict: a staff member's is published as theirs, a reader's is checked.

    A reader's comment runs the whole pipeline (pipeline.py) and is published, held or marked spam,
    never dropped. ``replaces`` is the writer's own held comment (proved by a signed link) that this
    corrected one supersedes; it is withdrawn, and the log says so.
    """
    if actor is not None and can(actor, "comments.staff_comment"):
        return staff_comment(session, post, actor, data, site=site)
    data = clean(data)
    parent = _commentable(session, post, data.parent_id)
    html = _render(data.body)
    now = utc_now()
    revision = post.published_revision
    assert revision is not None
    names, emails = staff_directory(session)
    settings = dataclasses.replace(settings, staff_names=names, staff_emails=emails)
    submission = pipeline.Submission(
        author_name=data.author_name,
        author_email=data.author_email,
        body=data.body,
        ip=data.ip,
        user_agent=data.user_agent,
        referrer=data.referrer,
        permalink=data.permalink,
        is_reply=parent is not None,
        post=learning.post_context(post, revision, approved_texts(session, post)),
        post_modified_at=post.updated_at,
        submitted_at=now,
        honeypot=data.honeypot,
        form_age=data.form_age,
    )
    outcome = pipeline.run(submission, settings, _facts(session, data, now, settings.burst), checker)
    comment = Comment(
        post_id=post.id,
        parent_id=parent.id if parent else None,
        author_name=data.author_name,
        author_email=data.author_email,
        author_ip=data.ip[:64],
        user_agent=data.user_agent,
        referrer=data.referrer,
        permalink=data.permalink[:2000],
        body=data.body,
        html=html,
        status=outcome.status.value,
        reasons=outcome.reasons,
        checks=outcome.checks_json,
        relevance_score=outcome.relevance.score if outcome.relevance else None,
        relevance_drivers=[list(d) for d in outcome.relevance.drivers] if outcome.relevance else [],
        akismet_verdict=outcome.akismet_verdict,
        needs_reply=asks_staff(data.body),
        notify=data.notify,
        created_at=now,
        status_changed_at=now,
    )
    session.add(comment)
    session.flush()
    _decide(session, comment, None, A.SUBMIT, "")
    if data.notify:
        session.add(Subscription(comment_id=comment.id, email=data.author_email, created_at=now))
    if comment.status == S.PUBLISHED:
        _thread_changed(post)
    if replaces is not None and replaces.status == S.HELD and replaces.post_id == post.id:
        old = replaces.status
        replaces.status = S.DELETED.value
        replaces.needs_reply = False
        replaces.status_changed_at = now
        _decide(
            session,
            replaces,
            None,
            A.WITHDRAW,
            old,
            reason=f"replaced by its writer with comment {comment.id}",
        )
    session.flush()
    return comment


def staff_comment(
    session: Session, post: Post, actor: User, data: CommentInput, *, site: notifications.Site | None = None
) -> Comment:
    """A staff member's comment: always under their real name, badged, published without the pipeline,
    and logged like every other. A reply answers the reader's question and tells them, if they asked."""
    require(actor, "comments.staff_comment")
    data = clean(data, staff=True)
    parent = _commentable(session, post, data.parent_id)
    now = utc_now()
    comment = Comment(
        post_id=post.id,
        parent_id=parent.id if parent else None,
        author_name=actor.name,
        author_email=actor.email.lower(),
        author_ip=data.ip[:64],
        user_agent=data.user_agent[:500],
        referrer="",
        permalink=data.permalink[:2000],
        body=data.body,
        html=_render(data.body),
        status=S.PUBLISHED.value,
        reasons=[],
        checks=[
            {
                "check": "staff",
                "verdict": "publish",
                "reasons": [],
                "detail": f"written by signed-in staff member {actor.name}; the pipeline is skipped",
            }
        ],
        staff_user_id=actor.id,
        created_at=now,
        status_changed_at=now,
    )
    session.add(comment)
    session.flush()
    _decide(session, comment, actor, A.STAFF, "")
    _thread_changed(post)
    if parent is not None:
        parent.needs_reply = False
        if site is not None and not parent.is_staff:
            revision = post.published_revision
            assert revision is not None
            notifications.staff_replied(session, site, parent, comment, actor, post.slug, revision.title)
    session.flush()
    return comment


def can_moderate(comment: Comment, action: Action) -> bool:
    return (CommentStatus(comment.status), action) in TRANSITIONS


def moderate(
    session: Session,
    actor: User,
    comment: Comment,
    action: str,
    reason: str = "",
    *,
    akismet_enabled: bool = False,
    site: notifications.Site | None = None,
) -> ModerationDecision:
    """One moderator decision: move the comment, record who and why, owe Akismet a correction if it erred.

    ``reason`` is optional and is told to the commenter (by e-mail) unless the decision is spam.
    """
    require(actor, "comments.moderate")
    if action not in {a.value for a in MODERATOR_ACTIONS}:
        choices = ", ".join(a.value for a in MODERATOR_ACTIONS)
        raise InvalidInput(f"action must be one of {choices}.", field="action")
    act = Action(action)
    reason = clean_text(reason, "reason", max_chars=MAX_REASON_CHARS, required=False, multiline=True).strip()
    current = CommentStatus(comment.status)
    target = TRANSITIONS.get((current, act))
    if target is None:
        raise InvalidTransition(
            f"A comment that is {current.value} cannot be {_PAST[act]}.", comment_status=current.value
        )
    if comment.is_staff and act is not A.DELETE and act is not A.APPROVE:
        raise NotAllowed(
            "A staff member's comment can only be deleted or restored, not judged as spam or topic."
        )
    post = session.get(Post, comment.post_id)
    assert post is not None
    comment.status = target.value
    comment.status_changed_at = utc_now()
    if target != S.PUBLISHED:
        comment.needs_reply = False
    decision = _decide(session, comment, actor, act, current.value, reason)
    if S.PUBLISHED in (current, target):
        _thread_changed(post)
    if akismet_enabled and not comment.is_staff:
        _owe_akismet(session, comment, decision, target)
    if site is not None and post.published_revision is not None:
        notifications.moderation_notice(
            session, site, comment, act.value, reason, post.slug, post.published_revision.title
        )
    session.flush()
    return decision


AKISMET_QUEUED_KEY = "candor.akismet_submission_ids"


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
    session.info.setdefault(AKISMET_QUEUED_KEY, []).append(submission.id)


def moderate_many(
    session: Session,
    actor: User,
    comment_ids: list[int],
    action: str,
    reason: str = "",
    *,
    akismet_enabled: bool = False,
    site: notifications.Site | None = None,
) -> tuple[int, list[str]]:
    """The same decision on several comments; those it does not apply to are listed, not fatal."""
    require(actor, "comments.moderate")
    if not comment_ids:
        raise InvalidInput("Choose at least one comment.", field="comment_ids")
    done, skipped = 0, []
    for comment_id in dict.fromkeys(comment_ids):
        comment = session.get(Comment, comment_id)
        if comment is None:
            skipped.append(f"comment {comment_id} does not exist")
            continue
        try:
            moderate(session, actor, comment, action, reason, akismet_enabled=akismet_enabled, site=site)
            done += 1
        except (InvalidTransition, NotAllowed) as exc:
            skipped.append(f"comment {comment_id}: {exc.message}")
    return done, skipped


def dismiss_reply(session: Session, actor: User, comment: Comment, reason: str = "") -> ModerationDecision:
    """Take a comment off the needs-reply queue without a staff reply (it asked nothing of staff)."""
    require(actor, "comments.moderate")
    if not comment.needs_reply:
        raise InvalidTransition("This comment is not waiting for a staff reply.")
    comment.needs_reply = False
    return _decide(
        session,
        comment,
        actor,
        A.NO_REPLY_NEEDED,
        comment.status,
        clean_text(reason, "reason", max_chars=MAX_REASON_CHARS, required=False, multiline=True),
    )


def unsubscribe(session: Session, subscription_id: int, email: str) -> int:
    """Stop every "staff replied" e-mail to ``email``; returns how many subscriptions that ended."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.email != email:
        raise NotFound("This unsubscribe link does not match a subscription.")
    now = utc_now()
    ended = 0
    for row in session.scalars(
        select(Subscription).where(Subscription.email == email, Subscription.unsubscribed_at.is_(None))
    ):
        row.unsubscribed_at = now
        ended += 1
    session.flush()
    return ended
