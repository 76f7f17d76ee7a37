"""The editorial workflow: two state axes, each with one transition table and one writer.

A post has a publication state (never published, live, retracted) and a review state for its newest
revision (none, in review, changes requested, scheduled). They are separate because they are separate
facts: a live post with a correction in review is live. ``_move`` is the only code that writes either
column; it checks the tables, writes an audit entry and sends a signal.

Approval is a record (``Approval``) of exactly what the editor saw: the revision, the disclosure in
force, the gate results. Publication publishes that record and nothing else, now or at its scheduled
time, and a scheduled one is checked again at that time: if the text, the disclosure or a gate moved,
the approval is withdrawn (audited) and the post goes back to its editor.

Four eyes: nobody approves text they wrote. Every verb that changes a post locks its row first
(``SELECT ... FOR UPDATE``; SQLite's writers are serialised at BEGIN) and decides on what it reads
after the lock, so a double click or two racing editors meet a 409, never a 500 or a lost update.
Services flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cursors, events
from app.accounts.models import User
from app.accounts.permissions import can, require
from app.audit.services import record
from app.clock import utc_now
from app.corrections import services as corrections
from app.disclosures import services as disclosures
from app.disclosures.models import Disclosure
from app.editorial.gates import GateResult, GateSettings, evaluate, failing
from app.editorial.models import OVERRIDABLE, Gate, GateOverride, Review, ReviewState
from app.errors import InvalidInput, InvalidTransition, NotAllowed, PublishBlocked, StaleRevision
from app.posts import passages
from app.posts import services as posts
from app.posts.models import (
    Approval,
    ApprovalWithdrawal,
    Post,
    Publication,
    PublicationState,
    Retraction,
    Revision,
)
from app.posts.models import ReviewState as PostReview
from app.search import services as search

R = PostReview
P = PublicationState

# The review axis: (state, action) -> state. The whole review workflow.
REVIEW_MOVES: dict[tuple[PostReview, str], PostReview] = {
    (R.NONE, "submit"): R.IN_REVIEW,
    (R.CHANGES_REQUESTED, "submit"): R.IN_REVIEW,
    (R.IN_REVIEW, "request_changes"): R.CHANGES_REQUESTED,
    (R.IN_REVIEW, "approve"): R.NONE,
    (R.IN_REVIEW, "schedule"): R.SCHEDULED,
    (R.IN_REVIEW, "withdraw"): R.NONE,
    (R.SCHEDULED, "withdraw"): R.NONE,
    (R.SCHEDULED, "publish_due"): R.NONE,
    (R.SCHEDULED, "edit"): R.NONE,
    (R.SCHEDULED, "recheck_failed"): R.IN_REVIEW,
    # The WordPress import: a text already published (or scheduled) there, recorded as it was.
    (R.NONE, "import"): R.NONE,
    (R.NONE, "import_schedule"): R.SCHEDULED,
    **{(state, "retract"): R.NONE for state in R},
}
# The publication axis. Only these actions move it; every other action needs a post that is not retracted.
PUBLICATION_MOVES: dict[tuple[PublicationState, str], PublicationState] = {
    (P.NEVER_PUBLISHED, "approve"): P.LIVE,
    (P.LIVE, "approve"): P.LIVE,
    (P.NEVER_PUBLISHED, "publish_due"): P.LIVE,
    (P.LIVE, "publish_due"): P.LIVE,
    (P.LIVE, "retract"): P.RETRACTED,
    (P.NEVER_PUBLISHED, "import"): P.LIVE,
}
_PUBLISHING_ACTIONS = frozenset(action for _, action in PUBLICATION_MOVES)

_PAST = {
    "submit": "submitted for review",
    "request_changes": "sent back for changes",
    "approve": "approved",
    "schedule": "scheduled",
    "withdraw": "withdrawn from review",
    "publish_due": "published on schedule",
    "edit": "edited",
    "recheck_failed": "sent back to its editor",
    "retract": "retracted",
    "import": "imported as published",
    "import_schedule": "imported as scheduled",
}


def _targets(post: Post, action: str) -> tuple[PostReview, PublicationState] | None:
    review, publication = R(post.review_state), P(post.publication_state)
    if action in _PUBLISHING_ACTIONS:
        new_publication = PUBLICATION_MOVES.get((publication, action))
        if new_publication is None:
            return None
    elif publication == P.RETRACTED:
        return None
    else:
        new_publication = publication
    new_review = REVIEW_MOVES.get((review, action))
    return None if new_review is None else (new_review, new_publication)


def can_move(post: Post, action: str) -> bool:
    return _targets(post, action) is not None


def _describe(post: Post) -> str:
    if post.publication_state == P.RETRACTED:
        return "retracted"
    if post.review_state != R.NONE:
        return post.review_state.replace("_", " ")
    return "published" if post.publication_state == P.LIVE else "a draft"


def _expect(post: Post, action: str) -> tuple[PostReview, PublicationState]:
    targets = _targets(post, action)
    if targets is None:
        raise InvalidTransition(
            f"A post that is {_describe(post)} cannot be {_PAST[action]}.",
            post_status=post.status,
            publication_state=post.publication_state,
            review_state=post.review_state,
        )
    return targets


def _move(
    session: Session,
    actor: User | None,
    post: Post,
    action: str,
    *,
    note: str = "",
    scheduled: Approval | None = None,
    published: tuple[Revision, str, datetime] | None = None,
    **data: object,
) -> None:
    """The one writer of both state columns and of what goes with them in the same row write: the
    scheduled approval, and on publication the published revision, the slug and the first date (the
    table's CHECK constraints tie them together, so they change in one UPDATE)."""
    review, publication = _expect(post, action)
    if (action in _PUBLISHING_ACTIONS and action != "retract") != (published is not None):
        raise AssertionError("publishing moves, and only they, name what they publish")
    if (review == R.SCHEDULED) != (scheduled is not None):
        raise AssertionError("scheduling, and only scheduling, names the approval it will publish")
    old = {"review": post.review_state, "publication": post.publication_state}
    if published is not None:
        revision, slug, at = published
        post.published_revision_id = revision.id
        post.slug = slug
        if post.first_published_at is None:
            post.first_published_at = at
    post.review_state = review.value
    post.publication_state = publication.value
    post.scheduled_approval_id = scheduled.id if scheduled is not None else None
    session.flush()
    if published is not None and action != "import":
        # The off-topic filter's vectors, encoded once. Not for an import (a second per post on a large
        # export): ``passages.vectors_of`` stores them the first time a comment on the post needs them.
        passages.store(session, post, published[0])
    revision = post.current_revision
    record(
        session,
        actor,
        f"post.{action}",
        post_id=post.id,
        revision_number=revision.number if revision else None,
        note=note,
        **{"from": old, "to": {"review": review.value, "publication": publication.value}, **data},
    )
    events.post_status_changed.send(
        post, old=old, new={"review": review.value, "publication": publication.value}
    )


def lock(session: Session, post: Post) -> Post:
    """Lock the post's row for this transaction and re-read it: every decision below sees the latest state."""
    session.refresh(post, with_for_update={"of": Post})
    return post


# --- reviews ----------------------------------------------------------------------------------------


def open_review(session: Session, post: Post) -> Review | None:
    return session.scalar(
        select(Review).where(Review.post_id == post.id, Review.state == ReviewState.OPEN.value)
    )


def _close_review(
    session: Session, post: Post, actor: User | None, state: ReviewState, note: str = ""
) -> None:
    review = open_review(session, post)
    if review is not None:
        review.state = state.value
        review.closed_by_id = actor.id if actor else None
        review.closed_at = utc_now()
        review.note = note
        session.flush()


def check_gates(
    session: Session,
    post: Post,
    settings: GateSettings,
    touches_interests: bool | None = None,
    *,
    working_copy: Revision | None = None,
) -> list[GateResult]:
    return evaluate(session, post, settings, touches_interests=touches_interests, working_copy=working_copy)


def revise(
    session: Session, actor: User, post: Post, data: posts.RevisionInput, base_revision: int
) -> tuple[Revision, bool]:
    """Save a new revision; an edit withdraws a pending (scheduled) approval, which approved other text."""
    require(actor, "post.revise", post)
    lock(session, post)
    if post.publication_state == P.RETRACTED:
        raise InvalidTransition("A retracted post cannot be revised.")
    revision, created = posts.revise(session, actor, post, data, base_revision)
    if created and post.review_state == R.SCHEDULED:
        _withdraw_approval(session, actor, post, "edit", "Edited after approval; the approval was withdrawn.")
    return revision, created


def submit(
    session: Session,
    actor: User,
    post: Post,
    settings: GateSettings,
    *,
    touches_interests: bool | None = None,
    interest_statement: str = "",
) -> Review:
    """Send the current revision to review, if every gate passes; else PublishBlocked lists them all."""
    require(actor, "post.submit", post)
    lock(session, post)
    if (
        post.review_state == R.NONE
        and post.publication_state == P.LIVE
        and post.current_revision_id == post.published_revision_id
    ):
        raise InvalidTransition("Nothing to review: the current revision is already published.")
    _expect(post, "submit")
    blocked = failing(check_gates(session, post, settings, touches_interests))
    if blocked:
        raise PublishBlocked(blocked)
    latest = disclosures.latest(session, post.author)
    touches = bool(touches_interests) and latest is not None and not latest.no_conflicts
    assert post.current_revision is not None
    review = Review(
        post_id=post.id,
        revision_number=post.current_revision.number,
        submitted_by_id=actor.id,
        submitted_at=utc_now(),
        touches_interests=touches,
        interest_statement=interest_statement,
    )
    session.add(review)
    _move(session, actor, post, "submit", touches_interests=touches)
    return review


def request_changes(session: Session, actor: User, post: Post, note: str) -> Post:
    require(actor, "post.request_changes", post)
    if not note.strip():
        raise InvalidInput("Say what needs to change.", field="note")
    lock(session, post)
    _move(session, actor, post, "request_changes", note=note)
    _close_review(session, post, actor, ReviewState.CHANGES_REQUESTED, note)
    return post


def withdraw(session: Session, actor: User, post: Post) -> Post:
    """The author takes the post out of review, or out of its schedule (the approval is withdrawn); the
    editor who gave a scheduled approval may withdraw that approval too."""
    lock(session, post)
    approver = post.scheduled_approval.approved_by_id if post.scheduled_approval is not None else None
    if actor.id != approver:
        require(actor, "post.withdraw", post)
    require(actor, "post.view_unpublished", post)
    if post.review_state == R.SCHEDULED:
        _withdraw_approval(session, actor, post, "withdraw", "Withdrawn before its scheduled time.")
        return post
    _move(session, actor, post, "withdraw")
    _close_review(session, post, actor, ReviewState.WITHDRAWN)
    return post


# --- four eyes and approval ----------------------------------------------------------------------


def writers_since_publication(session: Session, post: Post, up_to: Revision) -> set[int]:
    """Everyone who wrote a revision after the last published one, up to ``up_to``: the text under review."""
    published = post.published_revision.number if post.published_revision is not None else 0
    return set(
        session.scalars(
            select(Revision.author_id)
            .where(Revision.post_id == post.id, Revision.number > published, Revision.number <= up_to.number)
            .distinct()
        )
    )


def _require_four_eyes(session: Session, actor: User, post: Post, revision: Revision, what: str) -> None:
    if actor.id in writers_since_publication(session, post, revision):
        raise NotAllowed(
            f"You wrote part of this text, so another editor must {what} it: "
            "nobody approves their own words.",
            rule="four_eyes",
        )


def _interests_answer(session: Session, post: Post, review: Review | None) -> bool | None:
    """The author's "does this touch a disclosed interest?" answer, if given against the disclosure in
    force now; None (unanswered) when the disclosure changed since, so the gate asks again."""
    if review is None:
        return None
    latest = disclosures.latest(session, post.author)
    if latest is not None and latest.created_at > review.submitted_at:
        return None
    return review.touches_interests


def _gate_record(results: Iterable[GateResult]) -> list[dict[str, object]]:
    return [{"gate": r.gate.value, "ok": r.ok, "overridden": r.override is not None} for r in results]


def _disclosure_in_force(session: Session, post: Post, settings: GateSettings) -> Disclosure | None:
    return disclosures.current(session, post.author, settings.coi_max_age_days)


def approve(
    session: Session,
    actor: User,
    post: Post,
    revision_number: int,
    settings: GateSettings,
    *,
    publish_at: datetime | None = None,
) -> Publication | None:
    """Approve exactly ``revision_number`` with the disclosure and gate results in force now.

    Publishes that approval at once, or schedules it for ``publish_at``. Gates are checked again here.
    """
    require(actor, "post.approve", post)
    lock(session, post)
    _expect(post, "approve")
    current = post.current_revision
    assert current is not None
    if revision_number != current.number:
        raise StaleRevision(
            f"You reviewed revision {revision_number}, but revision {current.number} is current. "
            "Review it again.",
            current_revision=current.number,
        )
    _require_four_eyes(session, actor, post, current, "approve")
    review = open_review(session, post)
    results = check_gates(session, post, settings, _interests_answer(session, post, review))
    blocked = failing(results)
    if blocked:
        raise PublishBlocked(blocked)
    disclosure = _disclosure_in_force(session, post, settings)
    now = utc_now()
    scheduled = publish_at is not None and publish_at > now
    approval = Approval(
        post_id=post.id,
        revision_id=current.id,
        revision_author_id=current.author_id,
        approved_by_id=actor.id,
        approved_at=now,
        publish_at=publish_at if scheduled else None,
        disclosure_id=disclosure.id if disclosure else None,
        touches_interests=review.touches_interests if review else False,
        interest_statement=review.interest_statement if review else "",
        gates=_gate_record(results),
    )
    session.add(approval)
    session.flush()
    _close_review(session, post, actor, ReviewState.APPROVED)
    if scheduled:
        assert publish_at is not None
        _move(
            session,
            actor,
            post,
            "schedule",
            scheduled=approval,
            approval_id=approval.id,
            publish_at=publish_at.isoformat(),
        )
        return None
    return _publish(session, actor, post, approval, "approve", at=now)


def _publish(
    session: Session,
    actor: User | None,
    post: Post,
    approval: Approval,
    action: str,
    *,
    at: datetime,
    via: str = "review",
) -> Publication:
    """Make the approved revision public, with the disclosure the approval froze. Nothing else is read."""
    revision = approval.revision
    slug = posts.reserve_slug(session, post, revision.title)
    _move(session, actor, post, action, published=(revision, slug, at), approval_id=approval.id)
    publication = Publication(
        post_id=post.id,
        revision_id=approval.revision_id,
        approval_id=approval.id,
        approved_by_id=approval.approved_by_id,
        published_at=at,
        via=via,
        disclosure_id=approval.disclosure_id,
        touches_interests=approval.touches_interests,
        interest_statement=approval.interest_statement,
    )
    session.add(publication)
    session.flush()
    session.expire(post, ["published_revision"])
    corrections.after_publication(session, post, revision, publication)
    search.index_post(session, post)
    events.post_published.send(post, revision=revision)
    return publication


def record_import(
    session: Session,
    importer: User,
    post: Post,
    *,
    published_at: datetime,
    provenance: str,
    gates: list[GateResult],
    publish_at: datetime | None = None,
) -> Publication | None:
    """Record a text the import brought in as published (or, with ``publish_at``, scheduled) there.

    The narrowest honest record: an approval by ``importer`` (the import's own system account, which
    wrote nothing, so the four-eyes CHECK holds) of the post's only revision, carrying the gate results
    as they would be today (the gates are not applied: the text was already public) and published
    ``via='import'`` at its original date. ``provenance`` is the audit note. A scheduled import is a
    scheduled approval like any other: ``publish_due`` re-checks it at its time.
    """
    lock(session, post)
    current = post.current_revision
    assert current is not None and current.number == 1
    if importer.id == current.author_id:
        raise NotAllowed("The import's account cannot be the author of what it imports.", rule="four_eyes")
    action = "import" if publish_at is None else "import_schedule"
    _expect(post, action)
    approval = Approval(
        post_id=post.id,
        revision_id=current.id,
        revision_author_id=current.author_id,
        approved_by_id=importer.id,
        approved_at=utc_now(),
        publish_at=publish_at,
        disclosure_id=None,
        touches_interests=False,
        interest_statement="",
        gates=_gate_record(gates),
    )
    session.add(approval)
    session.flush()
    if publish_at is not None:
        _move(
            session,
            importer,
            post,
            action,
            note=provenance,
            scheduled=approval,
            approval_id=approval.id,
            publish_at=publish_at.isoformat(),
        )
        return None
    publication = _publish(session, importer, post, approval, action, at=published_at, via="import")
    return publication


def _record_withdrawal(session: Session, actor: User | None, approval: Approval, reason: str) -> None:
    """That ``approval`` will never be published, and why: the one place the record is written."""
    session.add(
        ApprovalWithdrawal(
            approval_id=approval.id, reason=reason, actor_id=actor.id if actor else None, at=utc_now()
        )
    )
    session.flush()


def _withdraw_approval(session: Session, actor: User | None, post: Post, action: str, reason: str) -> None:
    """End the post's pending approval (recorded, append-only) and move the review axis by ``action``."""
    approval = post.scheduled_approval
    assert approval is not None
    _move(session, actor, post, action, note=reason, approval_id=approval.id)
    _record_withdrawal(session, actor, approval, reason)
    if action == "recheck_failed":
        # The text is as approved but something around it moved: the editor decides again.
        session.add(
            Review(
                post_id=post.id,
                revision_number=approval.revision.number,
                submitted_by_id=post.author_id,
                submitted_at=utc_now(),
                touches_interests=approval.touches_interests,
                interest_statement=approval.interest_statement,
                note=reason,
            )
        )
        session.flush()


def _what_moved(session: Session, post: Post, approval: Approval, settings: GateSettings) -> str | None:
    """Why a scheduled approval no longer holds, or None if the text, disclosure and gates are as approved."""
    if post.current_revision_id != approval.revision_id:
        return "The text changed after it was approved."
    disclosure = _disclosure_in_force(session, post, settings)
    if (disclosure.id if disclosure else None) != approval.disclosure_id:
        return "The author's disclosure changed (or expired) after approval."
    if not can(approval.approved_by, "post.approve", post):
        return "The editor who approved it can no longer approve posts."
    results = check_gates(session, post, settings, approval.touches_interests)
    # Compared on the gates the approval recorded: a gate added by a later release (topics) is not a
    # change of result, and if it fails, ``failing`` refuses anyway.
    recorded = {g["gate"] for g in approval.gates}
    if failing(results) or [g for g in _gate_record(results) if g["gate"] in recorded] != approval.gates:
        return "A publishing gate's result changed after approval."
    return None


def publish_due(session: Session, settings: GateSettings, now: datetime | None = None) -> list[Post]:
    """Publish every scheduled approval whose time has come, if nothing moved since it was given.

    Safe from cron and from any request, on several workers at once: each post is locked and re-read,
    and one that another worker is publishing is skipped.
    """
    now = now or utc_now()
    due_ids = list(
        session.scalars(
            select(Post.id)
            .join(Approval, Approval.id == Post.scheduled_approval_id)
            .where(Post.review_state == R.SCHEDULED.value, Approval.publish_at <= now)
        )
    )
    published: list[Post] = []
    for post_id in due_ids:
        post = session.scalar(
            select(Post)
            .where(Post.id == post_id)
            .with_for_update(skip_locked=True, of=Post)
            .execution_options(populate_existing=True)
        )
        if post is None or post.review_state != R.SCHEDULED.value:
            continue
        approval = post.scheduled_approval
        assert approval is not None and approval.publish_at is not None
        if approval.publish_at > now:
            continue
        moved = _what_moved(session, post, approval, settings)
        if moved is not None:
            _withdraw_approval(session, None, post, "recheck_failed", moved)
            continue
        _publish(session, None, post, approval, "publish_due", at=approval.publish_at)
        published.append(post)
    return published


def disclosure_changed(session: Session, user: User) -> list[Post]:
    """A new disclosure: every scheduled approval of this author's posts froze the old one, so each goes
    back to its editor now (publication would refuse it anyway)."""
    affected = list(
        session.scalars(select(Post).where(Post.author_id == user.id, Post.review_state == R.SCHEDULED.value))
    )
    for post in affected:
        lock(session, post)
        if post.review_state == R.SCHEDULED.value:
            _withdraw_approval(
                session, user, post, "recheck_failed", "The author recorded a new disclosure after approval."
            )
    return affected


# --- overrides and retraction ---------------------------------------------------------------------


def override_gate(
    session: Session, actor: User, post: Post, gate: str, justification: str, revision_number: int
) -> GateOverride:
    require(actor, "post.override_gate", post)
    try:
        which = Gate(gate)
    except ValueError:
        raise InvalidInput(f"Unknown gate {gate!r}.", field="gate") from None
    if which not in OVERRIDABLE:
        names = ", ".join(sorted(g.value for g in OVERRIDABLE))
        raise InvalidInput(
            f"The {which.value} gate has no exceptions; only {names} can be overridden.", field="gate"
        )
    if not justification.strip():
        raise InvalidInput("An override needs a justification on the record.", field="justification")
    lock(session, post)
    current = post.current_revision
    assert current is not None
    if revision_number != current.number:
        raise StaleRevision(
            f"Revision {current.number} is current, not {revision_number}.", current_revision=current.number
        )
    _require_four_eyes(session, actor, post, current, "override a gate on")
    existing = session.scalar(
        select(GateOverride).where(
            GateOverride.post_id == post.id,
            GateOverride.revision_number == current.number,
            GateOverride.gate == which.value,
        )
    )
    if existing is not None:
        raise InvalidTransition(
            f"The {which.value} gate is already overridden for revision {current.number}."
        )
    override = GateOverride(
        post_id=post.id,
        revision_number=current.number,
        gate=which.value,
        justification=justification,
        editor_id=actor.id,
        at=utc_now(),
    )
    session.add(override)
    session.flush()
    record(
        session,
        actor,
        "gate.override",
        post_id=post.id,
        revision_number=current.number,
        note=justification,
        gate=which.value,
    )
    return override


def retract(session: Session, actor: User, post: Post, reason: str) -> Retraction:
    """One editor's act, audited and shown to readers with its reason; the text and history stay."""
    require(actor, "post.retract", post)
    if not reason.strip():
        raise InvalidInput("A retraction needs a reason readers will see.", field="reason")
    lock(session, post)
    _expect(post, "retract")
    pending = post.scheduled_approval
    _move(session, actor, post, "retract", note=reason)
    if pending is not None:
        _record_withdrawal(session, actor, pending, "The post was retracted.")
    _close_review(session, post, actor, ReviewState.WITHDRAWN)
    retraction = Retraction(post_id=post.id, reason=reason, editor_id=actor.id, at=utc_now())
    session.add(retraction)
    session.flush()
    return retraction


def record_imported_retraction(
    session: Session, importer: User, post: Post, *, reason: str, at: datetime
) -> Retraction:
    """A retraction an import carried over (Candor's own export names it in ``_candor_retraction``): the
    post is retracted again, with the reason readers saw and the date it happened, the import's account
    on record as who carried it (the audit says it was imported). Not ``retract``: no editor acts today,
    and a blog that moves must not un-retract what it had retracted."""
    if not reason.strip():
        raise InvalidInput("A retraction needs a reason readers will see.", field="reason")
    lock(session, post)
    _move(session, importer, post, "retract", note=reason, imported=True)
    retraction = Retraction(post_id=post.id, reason=reason, editor_id=importer.id, at=at)
    session.add(retraction)
    session.flush()
    return retraction


def retraction_for(session: Session, post: Post) -> Retraction | None:
    return session.scalar(select(Retraction).where(Retraction.post_id == post.id))


REVIEW_QUEUE_PAGE = 50


def review_queue(
    session: Session,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = REVIEW_QUEUE_PAGE,
) -> cursors.Page:
    """Open reviews, oldest first (what editors should look at next), a page at a time: the page and the
    cursor of the next one (``?after=``, app/cursors.py), or None on the last page."""
    key, backward = cursors.position(after, before, "reviews", (datetime, int))
    query = (
        select(Post, Review)
        .join(Review, Review.post_id == Post.id)
        .where(Review.state == ReviewState.OPEN.value)
    )
    query = cursors.after(query, (Review.submitted_at, Review.id), key, descending=False, backward=backward)
    rows = [(p, r) for p, r in session.execute(query.limit(per_page + 1)).all()]
    return cursors.page(
        rows, per_page, "reviews", lambda row: (row[1].submitted_at, row[1].id), key=key, backward=backward
    )


def open_review_count(session: Session) -> int:
    """How many reviews are open (at most one per post: a count on that partial unique index)."""
    return (
        session.scalar(select(func.count()).select_from(Review).where(Review.state == ReviewState.OPEN.value))
        or 0
    )
