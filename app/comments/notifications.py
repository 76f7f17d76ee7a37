"""The e-mails comments cause, composed as plain text and queued in the outbox (app/mail).

Links in e-mail must work from a mail client, so they are absolute, built on the blog's public URL;
the web edge (or the CLI) passes a ``Site`` (app/mail/compose.py) that knows how to spell each path.
Every notification a reader did not ask for by acting (a staff reply to their comment) carries a
signed, expiring unsubscribe link for that purpose only, also as List-Unsubscribe headers (RFC 2369
and RFC 8058). What moderation e-mails is app.moderation.notifications. No Flask here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import tokens
from app.comments.models import Comment, Subscription
from app.mail.compose import Site, quote
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
