"""The editorial workflow as one transition table, with the gates, reviews and audit log around it.

draft -> in review -> changes requested | published (or scheduled, then published) -> retracted.
A published post with a pending correction goes through the same review. An impossible move raises
InvalidTransition; a move this actor may not make raises NotAllowed. Every transition writes an audit
entry and sends a signal. Services flush and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import User
from app.accounts.permissions import require
from app.audit.services import record
from app.clock import utc_now
from app.corrections import services as _corrections  # noqa: F401  (its publication receivers)
from app.disclosures import services as disclosures
from app.editorial.gates import GateResult, GateSettings, evaluate, failing
from app.editorial.models import OVERRIDABLE, Gate, GateOverride, Retraction, Review, ReviewState
from app.errors import InvalidInput, InvalidTransition, PublishBlocked, StaleRevision
from app.posts.models import Post, PostStatus, Publication

S = PostStatus

# (status, action) -> status. "after" marks the status a post returns to when it has, or has not,
# been published before; the table is the whole workflow.
TRANSITIONS: dict[tuple[PostStatus, str], PostStatus | str] = {
    (S.DRAFT, "submit"): S.IN_REVIEW,
    (S.CHANGES_REQUESTED, "submit"): S.IN_REVIEW,
    (S.PUBLISHED, "submit"): S.IN_REVIEW,
    (S.IN_REVIEW, "request_changes"): S.CHANGES_REQUESTED,
    (S.IN_REVIEW, "approve"): S.PUBLISHED,
    (S.IN_REVIEW, "schedule"): S.SCHEDULED,
    (S.IN_REVIEW, "withdraw"): "after",
    (S.SCHEDULED, "publish_due"): S.PUBLISHED,
    (S.SCHEDULED, "edit"): "after",
    (S.PUBLISHED, "publish_direct"): S.PUBLISHED,
    (S.PUBLISHED, "retract"): S.RETRACTED,
    (S.IN_REVIEW, "retract"): S.RETRACTED,
    (S.CHANGES_REQUESTED, "retract"): S.RETRACTED,
    (S.SCHEDULED, "retract"): S.RETRACTED,
}

_PAST = {
    "submit": "submitted for review", "request_changes": "sent back for changes", "approve": "approved",
    "schedule": "scheduled", "withdraw": "withdrawn from review", "publish_due": "published on schedule",
    "edit": "edited", "publish_direct": "corrected and published in one step", "retract": "retracted",
}


def can_move(post: Post, action: str) -> bool:
    if action == "retract" and post.published_revision_id is None:
        return False
    return (PostStatus(post.status), action) in TRANSITIONS


def _move(session: Session, actor: User | None, post: Post, action: str, *, note: str = "", **data: object) -> None:
    current = PostStatus(post.status)
    target = TRANSITIONS.get((current, action))
    if target is None or not can_move(post, action):
        state = current.value.replace("_", " ")
        raise InvalidTransition(f"A post that is {state} cannot be {_PAST[action]}.", post_status=current.value)
    if target == "after":
        target = S.PUBLISHED if post.published_revision_id else S.DRAFT
    assert isinstance(target, PostStatus)
    post.status = target.value
    post.updated_at = utc_now()
    session.flush()
    revision = post.current_revision
    record(session, actor, f"post.{action}", post_id=post.id, revision_number=revision.number if revision else None,
           note=note, **{"from": current.value, "to": target.value, **data})
    events.post_status_changed.send(post, old=current.value, new=target.value)


def open_review(session: Session, post: Post) -> Review | None:
    return session.scalar(select(Review).where(Review.post_id == post.id, Review.state == ReviewState.OPEN.value))


def _close_review(session: Session, post: Post, actor: User | None, state: ReviewState, note: str = "") -> None:
    review = open_review(session, post)
    if review is not None:
        review.state = state.value
        review.closed_by_id = actor.id if actor else None
        review.closed_at = utc_now()
        review.note = note
        session.flush()


def check_gates(session: Session, post: Post, settings: GateSettings,
                touches_interests: bool | None = None) -> list[GateResult]:
    return evaluate(session, post, settings, touches_interests=touches_interests)


def submit(session: Session, actor: User, post: Post, settings: GateSettings, *,
           touches_interests: bool | None = None, interest_statement: str = "") -> Review:
    """Send the current revision to review, if every gate passes; else PublishBlocked lists them all."""
    require(actor, "post.submit", post)
    if post.status == S.PUBLISHED and post.current_revision_id == post.published_revision_id:
        raise InvalidTransition("Nothing to review: the current revision is already published.")
    if not can_move(post, "submit"):
        _move(session, actor, post, "submit")  # raises the precise InvalidTransition
    blocked = failing(check_gates(session, post, settings, touches_interests))
    if blocked:
        raise PublishBlocked(blocked)
    latest = disclosures.latest(session, post.author)
    touches = bool(touches_interests) and latest is not None and not latest.no_conflicts
    assert post.current_revision is not None
    review = Review(post_id=post.id, revision_number=post.current_revision.number, submitted_by_id=actor.id,
                    submitted_at=utc_now(), touches_interests=touches, interest_statement=interest_statement)
    session.add(review)
    _move(session, actor, post, "submit", touches_interests=touches)
    return review


def request_changes(session: Session, actor: User, post: Post, note: str) -> Post:
    require(actor, "post.request_changes", post)
    if not note.strip():
        raise InvalidInput("Say what needs to change.", field="note")
    _move(session, actor, post, "request_changes", note=note)
    _close_review(session, post, actor, ReviewState.CHANGES_REQUESTED, note)
    return post


def withdraw(session: Session, actor: User, post: Post) -> Post:
    require(actor, "post.submit", post)
    _move(session, actor, post, "withdraw")
    _close_review(session, post, actor, ReviewState.WITHDRAWN)
    return post


def _publish(session: Session, approver: User, post: Post, settings: GateSettings, *, via: str,
             touches_interests: bool, interest_statement: str, at: datetime | None = None) -> Publication:
    """Make the current revision public, freezing the author's disclosure in force with it."""
    revision = post.current_revision
    assert revision is not None
    now = at or utc_now()
    disclosure = disclosures.current(session, post.author, settings.coi_max_age_days)
    publication = Publication(post_id=post.id, revision_id=revision.id, approved_by_id=approver.id, published_at=now,
                              via=via, disclosure_id=disclosure.id if disclosure else None,
                              touches_interests=touches_interests, interest_statement=interest_statement)
    session.add(publication)
    post.published_revision = revision
    post.publish_at = None
    if post.first_published_at is None:
        post.first_published_at = now
    post.updated_at = utc_now()
    session.flush()
    events.post_published.send(post, revision=revision)
    return publication


def approve(session: Session, actor: User, post: Post, revision_number: int, settings: GateSettings, *,
            publish_at: datetime | None = None) -> Publication | None:
    """Approve exactly ``revision_number``: publish it now, or schedule it. Gates are checked again."""
    require(actor, "post.approve", post)
    current = post.current_revision
    assert current is not None
    if revision_number != current.number:
        raise StaleRevision(
            f"You reviewed revision {revision_number}, but revision {current.number} is current. Review it again.",
            current_revision=current.number,
        )
    if not can_move(post, "approve"):
        _move(session, actor, post, "approve")
    review = open_review(session, post)
    blocked = failing(check_gates(session, post, settings, review.touches_interests if review else None))
    if blocked:
        raise PublishBlocked(blocked)
    touches = review.touches_interests if review else False
    statement = review.interest_statement if review else ""
    _close_review(session, post, actor, ReviewState.APPROVED)
    if publish_at is not None and publish_at > utc_now():
        post.publish_at = publish_at
        _move(session, actor, post, "schedule", publish_at=publish_at.isoformat())
        return None
    _move(session, actor, post, "approve")
    return _publish(session, actor, post, settings, via="review", touches_interests=touches,
                    interest_statement=statement)


def publish_due(session: Session, settings: GateSettings, now: datetime | None = None) -> list[Post]:
    """Publish every scheduled post whose time has come. Safe to run from cron and on any request."""
    now = now or utc_now()
    due = list(session.scalars(
        select(Post).where(Post.status == S.SCHEDULED.value, Post.publish_at <= now).with_for_update(skip_locked=True, of=Post)
    ))
    for post in due:
        approval = session.scalar(
            select(Review).where(Review.post_id == post.id, Review.state == ReviewState.APPROVED.value)
            .order_by(Review.closed_at.desc()).limit(1)
        )
        approver = session.get(User, approval.closed_by_id) if approval and approval.closed_by_id else post.author
        _move(session, None, post, "publish_due")
        _publish(session, approver, post, settings, via="review", at=post.publish_at,
                 touches_interests=approval.touches_interests if approval else False,
                 interest_statement=approval.interest_statement if approval else "")
    return due


def after_edit(session: Session, actor: User, post: Post) -> None:
    """An edit after approval needs approval again: a scheduled post goes back to its editor's queue."""
    if post.status == S.SCHEDULED.value:
        post.publish_at = None
        _move(session, actor, post, "edit", note="Edited after approval; approval withdrawn.")


def publish_direct(session: Session, actor: User, post: Post, settings: GateSettings) -> Publication:
    """An editor corrects a published post and publishes it in one step, recorded as such."""
    require(actor, "post.publish_direct", post)
    blocked = failing(check_gates(session, post, settings, False))
    if blocked:
        raise PublishBlocked(blocked)
    _move(session, actor, post, "publish_direct")
    return _publish(session, actor, post, settings, via="editor_direct", touches_interests=False,
                    interest_statement="")


def override_gate(session: Session, actor: User, post: Post, gate: str, justification: str,
                  revision_number: int) -> GateOverride:
    require(actor, "post.override_gate", post)
    try:
        which = Gate(gate)
    except ValueError:
        raise InvalidInput(f"Unknown gate {gate!r}.", field="gate") from None
    if which not in OVERRIDABLE:
        names = ", ".join(sorted(g.value for g in OVERRIDABLE))
        raise InvalidInput(f"The {which.value} gate has no exceptions; only {names} can be overridden.", field="gate")
    if not justification.strip():
        raise InvalidInput("An override needs a justification on the record.", field="justification")
    current = post.current_revision
    assert current is not None
    if revision_number != current.number:
        raise StaleRevision(f"Revision {current.number} is current, not {revision_number}.",
                            current_revision=current.number)
    override = GateOverride(post_id=post.id, revision_number=current.number, gate=which.value,
                            justification=justification, editor_id=actor.id, at=utc_now())
    session.add(override)
    session.flush()
    record(session, actor, "gate.override", post_id=post.id, revision_number=current.number, note=justification,
           gate=which.value)
    return override


def retract(session: Session, actor: User, post: Post, reason: str) -> Retraction:
    require(actor, "post.retract", post)
    if not reason.strip():
        raise InvalidInput("A retraction needs a reason readers will see.", field="reason")
    _move(session, actor, post, "retract", note=reason)
    _close_review(session, post, actor, ReviewState.WITHDRAWN)
    retraction = Retraction(post_id=post.id, reason=reason, editor_id=actor.id, at=utc_now())
    session.add(retraction)
    session.flush()
    return retraction


def retraction_for(session: Session, post: Post) -> Retraction | None:
    return session.scalar(select(Retraction).where(Retraction.post_id == post.id))


def review_queue(session: Session) -> list[tuple[Post, Review]]:
    """Open reviews, oldest first: what editors should look at next."""
    rows = session.execute(
        select(Post, Review).join(Review, Review.post_id == Post.id)
        .where(Review.state == ReviewState.OPEN.value).order_by(Review.submitted_at)
    ).all()
    return [(p, r) for p, r in rows]
