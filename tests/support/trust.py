"""Seeding health information for tests: mark a post as health information and record its medical review."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.accounts.models import User
from app.clock import utc_now
from app.medical import services as medical
from app.medical.models import MedicalReview
from app.posts.models import Post


def review_health_post(
    session: Session,
    post: Post,
    editor: User,
    reviewer: User,
    *,
    reviewed_on: date | None = None,
    due_in: timedelta = timedelta(days=365),
) -> MedicalReview:
    """Mark ``post`` as health information (as its editor) and record ``reviewer``'s review; commit."""
    medical.mark_health(session, editor, post, True)
    today = utc_now().date()
    on = reviewed_on or today - timedelta(days=1)
    review, _ = medical.record_review(
        session, editor, post, medical.ReviewInput(reviewer.id, on, on + due_in), today=max(today, on)
    )
    session.commit()
    return review
