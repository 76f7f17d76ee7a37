"""Marking posts as health information and recording their medical reviews; the re-review list.

Marks and reviews are append-only rows (app.medical.models); each write is audited. Both take the post's
row lock first (SQLite: the write lock the request took at BEGIN), so two editors clicking at once
record one review, not two, and a double-click changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.audit.services import record
from app.errors import InvalidInput, NotFound
from app.medical.models import HealthMark, MedicalReview
from app.posts.models import Post, PublicationState

# A review says when it falls due again; further out than this is a typing mistake, not a plan.
MAX_REVIEW_INTERVAL = timedelta(days=5 * 366)
# The re-review list shows what is overdue and what falls due within this many days.
DUE_SOON = timedelta(days=30)


def _lock(session: Session, post: Post) -> None:
    session.refresh(post, with_for_update={"of": Post})


def is_health(session: Session, post_id: int) -> bool:
    """The post's newest mark; a post never marked is not health information."""
    mark = session.scalar(
        select(HealthMark.health).where(HealthMark.post_id == post_id).order_by(HealthMark.id.desc()).limit(1)
    )
    return bool(mark)


def mark_health(session: Session, actor: User, post: Post, health: bool) -> HealthMark | None:
    """Mark ``post`` as health information (or not). None when it already was: nothing to record."""
    require(actor, "post.revise", post)
    _lock(session, post)
    if is_health(session, post.id) == health:
        return None
    mark = HealthMark(post_id=post.id, health=health, actor_id=actor.id)
    session.add(mark)
    session.flush()
    record(session, actor, "post.health_information", post_id=post.id, health=health)
    return mark


def latest_review(session: Session, post_id: int) -> MedicalReview | None:
    return session.scalar(
        select(MedicalReview)
        .where(MedicalReview.post_id == post_id)
        .order_by(MedicalReview.id.desc())
        .limit(1)
    )


def reviews(session: Session, post_id: int) -> list[MedicalReview]:
    """Every review of the post, newest first."""
    return list(
        session.scalars(
            select(MedicalReview).where(MedicalReview.post_id == post_id).order_by(MedicalReview.id.desc())
        )
    )


def reviewers(session: Session) -> list[User]:
    """Who may be named as a medical reviewer: active staff (anyone holding a role)."""
    users = session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name, User.id))
    return [u for u in users if u.roles]


@dataclass(frozen=True)
class ReviewInput:
    reviewer_id: int
    reviewed_on: date
    due_on: date


def record_review(
    session: Session, actor: User, post: Post, data: ReviewInput, *, today: date
) -> tuple[MedicalReview, bool]:
    """Record that ``data.reviewer_id`` medically reviewed ``post``; (the review, whether it is new).

    Only for posts marked as health information; the reviewer is active staff other than the post's
    author (a review is a second pair of eyes); the review date is not in the future (``today`` is the
    organisation's date) and the due date follows it. Recording the same review twice records it once.
    """
    require(actor, "post.medical_review", post)
    _lock(session, post)
    if not is_health(session, post.id):
        raise InvalidInput("Only a post marked as health information carries a medical review.", field="post")
    reviewer = session.get(User, data.reviewer_id)
    if reviewer is None or not reviewer.is_active or not reviewer.roles:
        raise InvalidInput("The reviewer must be an active member of staff.", field="reviewer_id")
    if reviewer.id == post.author_id:
        raise InvalidInput("The post's author cannot be its medical reviewer.", field="reviewer_id")
    if data.reviewed_on > today:
        raise InvalidInput("The review date cannot be in the future.", field="reviewed_on")
    if data.due_on <= data.reviewed_on:
        raise InvalidInput("The next review must fall due after this one.", field="due_on")
    if data.due_on - data.reviewed_on > MAX_REVIEW_INTERVAL:
        raise InvalidInput("The next review must fall due within five years.", field="due_on")
    latest = latest_review(session, post.id)
    if latest is not None and (latest.reviewer_id, latest.reviewed_on, latest.due_on) == (
        reviewer.id,
        data.reviewed_on,
        data.due_on,
    ):
        return latest, False
    review = MedicalReview(
        post_id=post.id,
        reviewer_id=reviewer.id,
        reviewed_on=data.reviewed_on,
        due_on=data.due_on,
        recorded_by_id=actor.id,
    )
    session.add(review)
    session.flush()
    record(
        session,
        actor,
        "post.medical_review",
        post_id=post.id,
        reviewer_id=reviewer.id,
        reviewed_on=data.reviewed_on.isoformat(),
        due_on=data.due_on.isoformat(),
    )
    return review, True


@dataclass(frozen=True)
class DueItem:
    post: Post
    review: MedicalReview | None  # None: never reviewed


def due_for_review(session: Session, today: date) -> list[DueItem]:
    """Live health posts never reviewed, or whose review is overdue or falls due within ``DUE_SOON``;
    never reviewed first, then the earliest due."""
    newest_mark = (
        select(func.max(HealthMark.id)).where(HealthMark.post_id == Post.id).correlate(Post).scalar_subquery()
    )
    health_posts = select(HealthMark.post_id).where(HealthMark.id == newest_mark, HealthMark.health.is_(True))
    newest_review = (
        select(MedicalReview.post_id, func.max(MedicalReview.id).label("review_id"))
        .group_by(MedicalReview.post_id)
        .subquery()
    )
    rows = session.execute(
        select(Post, MedicalReview)
        .outerjoin(newest_review, newest_review.c.post_id == Post.id)
        .outerjoin(MedicalReview, MedicalReview.id == newest_review.c.review_id)
        .where(
            Post.publication_state == PublicationState.LIVE.value,
            Post.id.in_(health_posts),
            (MedicalReview.id.is_(None)) | (MedicalReview.due_on <= today + DUE_SOON),
        )
        .order_by(MedicalReview.id.is_not(None), MedicalReview.due_on, Post.id)
    ).all()
    return [DueItem(post, review) for post, review in rows]


def get_review_post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"No post {post_id}.")
    return post
