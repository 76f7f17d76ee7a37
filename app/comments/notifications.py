"""The e-mails comments cause, composed as plain text and queued in the outbox (app/mail).

Links in e-mail must work from a mail client, so they are absolute, built on the blog's public URL;
the web edge (or the CLI) passes a ``Site`` that knows how to spell each path. Every notification a
reader did not ask for by acting (a staff reply to their comment) carries a signed, expiring
unsubscribe link for that purpose only, also as List-Unsubscribe headers (RFC 2369 and RFC 8058).
No Flask here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import tokens
from app.comments.models import Comment, Subscription
from app.mail.compose import Site, age, quote
from app.mail.models import OutboxMessage
from app.mail.services import queue


def staff_replied(
    session: Session,
    site: Site,
    parent: Comment,
    reply: Comment,
    staff: User,
    post_slug: str,
    post_title: str,
) -> OutboxMessage | None:
    """Tell the writer of ``parent`` that staff replied, if they opted in and have not unsubscribed."""
    subscription = session.scalar(select(Subscription).where(Subscription.comment_id == parent.id))
    if subscription is None or subscription.unsubscribed_at is not None:
        return None
    token = tokens.sign(site.secret, tokens.Purpose.UNSUBSCRIBE, s=subscription.id, e=subscription.email)
    unsubscribe = site.url(site.unsubscribe_path(token))
    link = site.url(site.post_path(post_slug)) + f"#comment-{reply.id}"
    role = ", ".join(part for part in (staff.title, staff.department) if part)
    body = (
        f"Hello {parent.author_name},\n\n"
        f"{staff.name}{f' ({role})' if role else ''} of {site.name} replied to your comment on "
        f'"{post_title}":\n\n{quote(reply.body)}\n\nYou wrote:\n\n{quote(parent.body, 300)}\n\n'
        f"Read the conversation: {link}\n\n"
        f"You get this e-mail because you asked to hear when staff reply to your comment.\n"
        f"To stop these e-mails: {unsubscribe}\n"
    )
    return queue(
        session,
        to=subscription.email,
        subject=f'{staff.name} replied to your comment on "{post_title}"',
        body=body,
        purpose="staff_reply",
        sender_domain=site.sender_domain,
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


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
    return queue(
        session,
        to=comment.author_email,
        subject=f'Your comment on "{post_title}"',
        body=body,
        purpose="moderation_notice",
        sender_domain=site.sender_domain,
        headers={"Auto-Submitted": "auto-generated"},
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
    return queue(
        session,
        to=moderator.email,
        subject=f"{len(lines)} held comment(s) on {site.name}",
        body=body,
        purpose="digest",
        sender_domain=site.sender_domain,
        headers={"Auto-Submitted": "auto-generated"},
    )
