"""The e-mails comments cause, composed as plain text and queued in the outbox (app/mail).

Links in e-mail must work from a mail client, so they are absolute, built on the blog's public URL;
the web edge (or the CLI) passes a ``Site`` (app/mail/compose.py) that knows how to spell each path.
A reader who ticks "e-mail me when staff reply" is first sent one confirmation request (double
opt-in, rate-limited per address); only a confirmed subscription is ever told of replies. Every
notification a reader did not ask for by acting (a staff reply to their comment) carries a signed,
expiring unsubscribe link for that purpose only, also as List-Unsubscribe headers (RFC 2369 and
RFC 8058). What moderation e-mails is app.moderation.notifications. No Flask here.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import tokens
from app.comments.models import Comment, Subscription
from app.mail.compose import Site, quote
from app.mail.models import OutboxMessage
from app.mail.services import notice

# Confirmation requests one address may receive in a day: the form must not become a way to mail-bomb
# somebody (every request is for a comment someone wrote with that address, and each one asks).
CONFIRMATIONS_PER_DAY = 3


def confirmation_requested(
    session: Session, site: Site, subscription: Subscription, post_title: str
) -> OutboxMessage | None:
    """Ask the owner of ``subscription.email`` whether they want "staff replied" e-mails (double opt-in).

    Returns None, sending nothing, when that address was already asked ``CONFIRMATIONS_PER_DAY`` times
    in the last day; the subscription then simply stays unconfirmed.
    """
    since = subscription.created_at - timedelta(days=1)
    asked = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.to_addr == subscription.email,
            OutboxMessage.purpose == "confirm_subscription",
            OutboxMessage.created_at >= since,
        )
    )
    if (asked or 0) >= CONFIRMATIONS_PER_DAY:
        return None
    token = tokens.sign(
        site.secret, tokens.Purpose.CONFIRM_SUBSCRIPTION, s=subscription.id, e=subscription.email
    )
    confirm = site.url(site.confirm_path(token))
    days = tokens.MAX_AGE[tokens.Purpose.CONFIRM_SUBSCRIPTION].days
    body = (
        f'Hello,\n\nSomeone, probably you, commented on "{post_title}" on {site.name} and asked to be '
        f"e-mailed at this address when staff reply.\n\n"
        f"To confirm, open this link within {days} days and press the button: {confirm}\n\n"
        f"If it was not you, ignore this e-mail: nothing more will be sent to you about it.\n"
    )
    return notice(
        session,
        site,
        to=subscription.email,
        subject=f"Confirm e-mails about staff replies on {site.name}",
        body=body,
        purpose="confirm_subscription",
    )


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
    if subscription is None or not subscription.active:
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
    return notice(
        session,
        site,
        to=subscription.email,
        subject=f'{staff.name} replied to your comment on "{post_title}"',
        body=body,
        purpose="staff_reply",
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
