"""The e-mails moderation causes, composed as plain text and queued in the outbox (app/mail): a
moderator's reason told to the commenter, and the moderators' digest of held comments. No Flask here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments.models import Comment
from app.mail.compose import Site, age, quote
from app.mail.models import OutboxMessage
from app.mail.services import notice

_OUTCOMES = {
    "approve": "is now published",
    "ham": "is now published",
    "off_topic": "was removed as off-topic",
    "delete": "was removed",
}


def moderation_notice(
    session: Session, site: Site, comment: Comment, action: str, reason: str, post_slug: str, post_title: str
) -> OutboxMessage | None:
    """Tell a commenter what a moderator decided and why, when the moderator gave a reason.

    Spam decisions are never explained to the sender: that only teaches a spammer what to change.
    """
    if not reason or action not in _OUTCOMES or not comment.author_email or comment.is_staff:
        return None
    link = site.url(site.post_path(post_slug))
    body = (
        f"Hello {comment.author_name},\n\n"
        f'Your comment on "{post_title}" {_OUTCOMES[action]}. The moderator\'s note:\n\n{quote(reason)}\n\n'
        f"Your comment:\n\n{quote(comment.body, 400)}\n\nThe post: {link}\n"
    )
    return notice(
        session,
        site,
        to=comment.author_email,
        subject=f'Your comment on "{post_title}"',
        body=body,
        purpose="moderation_notice",
    )


@dataclass(frozen=True)
class DigestLine:
    comment_id: int
    post_title: str
    author_name: str
    reasons: Sequence[str]
    created_at: datetime
    excerpt: str


def digest(
    session: Session,
    site: Site,
    moderator: User,
    lines: Sequence[DigestLine],
    now: datetime,
    waiting_replies: int,
) -> OutboxMessage:
    by_reason: dict[str, int] = {}
    for line in lines:
        for reason in line.reasons or ("(no reason)",):
            by_reason[reason] = by_reason.get(reason, 0) + 1
    summary = "\n".join(
        f"  {count:>4}  {reason}" for reason, count in sorted(by_reason.items(), key=lambda x: -x[1])
    )
    items = "\n\n".join(
        f'- {line.author_name} on "{line.post_title}", waiting {age(now - line.created_at)} '
        f"[{', '.join(line.reasons)}]\n  {line.excerpt}\n"
        f"  {site.url(site.comment_admin_path(line.comment_id))}"
        for line in lines
    )
    body = (
        f"Hello {moderator.name},\n\n"
        f"{len(lines)} comment(s) on {site.name} wait for a moderator, oldest first.\n\n"
        f"By reason:\n{summary}\n\n{items}\n\nThe queue: {site.url(site.queue_path)}\n"
        f"Readers waiting for a staff reply: {waiting_replies} ({site.url(site.needs_reply_path)})\n"
    )
    return notice(
        session,
        site,
        to=moderator.email,
        subject=f"{len(lines)} held comment(s) on {site.name}",
        body=body,
        purpose="digest",
    )
