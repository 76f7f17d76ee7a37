"""Work that runs later, from cron (``flask comments recheck``, ``flask comments digest``) or right
after a request commits (app/web/jobs.py): asking Akismet again about held comments, sending it
moderators' corrections, and the moderators' digest. Each is safe to run twice. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User, UserRole
from app.clock import utc_now
from app.comments import states
from app.comments.models import Action, Comment, CommentStatus, ModerationDecision
from app.comments.services import STATUS_FOR_VERDICT
from app.mail.compose import Site
from app.mail.models import OutboxMessage
from app.moderation import notifications
from app.moderation.models import AkismetSubmission
from app.moderation.queries import waiting_total
from app.posts.models import Post
from app.spam import pipeline
from app.spam.akismet_adapter import AkismetChecker, CommentSignals

RECHECKABLE = ("akismet:unavailable", "akismet:no_key")


def comment_signals(
    comment: Comment, post: Post | None, *, recheck_reason: str | None = None
) -> CommentSignals:
    """What Akismet was told about ``comment`` when it arrived, rebuilt from what was stored."""
    return CommentSignals(
        user_ip=comment.author_ip or "0.0.0.0",
        user_agent=comment.user_agent,
        referrer=comment.referrer,
        permalink=comment.permalink,
        comment_type="reply" if comment.parent_id else "comment",
        comment_author=comment.author_name,
        comment_author_email=comment.author_email,
        comment_content=comment.body,
        blog_lang=pipeline.BLOG_LANG,
        comment_date_gmt=comment.created_at,
        comment_post_modified_gmt=post.updated_at if post is not None else None,
        recheck_reason=recheck_reason,
    )


@dataclass
class RecheckReport:
    checked: int = 0
    published: int = 0
    spam: int = 0
    still_held: int = 0
    unavailable: int = 0
    feedback_sent: int = 0
    feedback_failed: int = 0
    errors: list[str] = field(default_factory=list)


def recheck_held(
    session: Session, checker: AkismetChecker, *, limit: int = 500, report: RecheckReport | None = None
) -> RecheckReport:
    """Ask Akismet again about comments held because it could not answer (or had no key then).

    Akismet's new answer replaces its old one; the other checks' reasons stay. A comment with no reason
    left is published, one Akismet calls spam goes to spam, and each such move is a decision in the
    log (moderator: none, action recheck). Comments still unanswered wait for the next run.
    """
    report = report or RecheckReport()
    if not checker.settings.api_key:
        return report
    candidates = session.scalars(
        select(Comment)
        .where(Comment.status == CommentStatus.HELD, cast(Comment.reasons, Text).like('%"akismet:%'))
        .order_by(Comment.created_at, Comment.id)
        .limit(limit)
    ).all()
    for comment in candidates:
        if not set(comment.reasons) & set(RECHECKABLE):
            continue
        post = session.get(Post, comment.post_id)
        result, verdict = pipeline.akismet_result(
            checker, comment_signals(comment, post, recheck_reason="recheck_queue")
        )
        report.checked += 1
        if verdict == "unavailable":
            report.unavailable += 1
            continue
        outcome = pipeline.recheck(list(comment.checks), result, verdict)
        comment.checks = outcome.checks_json
        comment.reasons = outcome.reasons
        comment.akismet_verdict = verdict
        old = states.move(comment, Action.RECHECK, STATUS_FOR_VERDICT[outcome.verdict]).value
        session.flush()
        session.add(
            ModerationDecision(
                comment_id=comment.id,
                moderator_id=None,
                action=Action.RECHECK.value,
                from_status=old,
                to_status=comment.status,
                reasons=list(comment.reasons),
                reason=result.detail,
                at=utc_now(),
            )
        )
        if comment.status == CommentStatus.PUBLISHED and post is not None:
            report.published += 1
        elif comment.status == CommentStatus.SPAM:
            report.spam += 1
        else:
            report.still_held += 1
        session.flush()
    return report


def send_feedback(
    session: Session,
    checker: AkismetChecker,
    *,
    ids: list[int] | None = None,
    limit: int = 500,
    report: RecheckReport | None = None,
) -> RecheckReport:
    """Send moderators' corrections (submit-spam / submit-ham) that Akismet has not yet received."""
    report = report or RecheckReport()
    if not checker.settings.api_key:
        return report
    query = (
        select(AkismetSubmission).where(AkismetSubmission.sent_at.is_(None)).order_by(AkismetSubmission.id)
    )
    if ids is not None:
        query = query.where(AkismetSubmission.id.in_(ids))
    for submission in session.scalars(query.limit(limit)).all():
        comment = session.get(Comment, submission.comment_id)
        assert comment is not None
        signals = comment_signals(comment, session.get(Post, comment.post_id))
        submit = checker.submit_spam if submission.kind == "spam" else checker.submit_ham
        submission.attempts += 1
        submission.last_attempt_at = utc_now()
        if submit(signals):
            submission.sent_at = utc_now()
            submission.last_error = ""
            report.feedback_sent += 1
        else:
            submission.last_error = "Akismet did not accept it (unavailable, or refused the key); will retry"
            report.feedback_failed += 1
            report.errors.append(f"submit-{submission.kind} for comment {comment.id} failed")
        session.flush()
    return report


def moderators(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.MODERATOR.value, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def digest(session: Session, site: Site, *, now: datetime | None = None) -> list[OutboxMessage]:
    """One e-mail to each moderator listing held comments, oldest first; nothing when none are held."""
    now = now or utc_now()
    held = session.execute(
        select(Comment, Post)
        .join(Post, Post.id == Comment.post_id)
        .where(Comment.status == CommentStatus.HELD)
        .order_by(Comment.created_at, Comment.id)
        .limit(200)
    ).all()
    if not held:
        return []
    lines = [
        notifications.DigestLine(
            comment_id=c.id,
            post_title=p.published_revision.title if p.published_revision else p.slug,
            author_name=c.author_name,
            reasons=list(c.reasons),
            created_at=c.created_at,
            excerpt=" ".join(c.body.split())[:160],
        )
        for c, p in held
    ]
    waiting = waiting_total(session)
    return [
        notifications.digest(session, site, moderator, lines, now, waiting)
        for moderator in moderators(session)
    ]
