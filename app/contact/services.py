"""The contact form: private messages to the blog's staff, answered by e-mail with the reply kept.

Open messages join reader comments in the needs-reply queue (app.moderation). A message that arrived
looking automated (honeypot filled, sent too fast) is kept with that flag for a moderator, never
dropped. Answering one queues the e-mail in the outbox (app.mail); it goes out after the commit.
No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cursors
from app.accounts.models import User
from app.accounts.permissions import require
from app.audit.services import record
from app.clock import utc_now
from app.contact.models import ContactMessage, ContactReply, ContactStatus
from app.cursors import Key
from app.errors import InvalidInput, InvalidTransition, NotFound
from app.mail.addresses import clean_email
from app.mail.compose import Site, quote
from app.mail.models import OutboxMessage
from app.mail.services import queue
from app.text import clean_text

MAX_NAME_CHARS = 200
MAX_MESSAGE_CHARS = 10_000
MAX_SUBJECT_CHARS = 200


@dataclass(frozen=True)
class ContactInput:
    name: str
    email: str
    subject: str
    body: str
    ip: str = ""
    user_agent: str = ""
    honeypot: str = ""
    form_age: timedelta | None = None


def submit(session: Session, data: ContactInput, *, min_seconds: float) -> ContactMessage:
    name = clean_text(data.name, "name", max_chars=MAX_NAME_CHARS)
    email = clean_email(data.email, "email")
    subject = clean_text(data.subject, "subject", max_chars=MAX_SUBJECT_CHARS, required=False)
    body = clean_text(data.body, "message", max_chars=MAX_MESSAGE_CHARS, multiline=True)
    flags = []
    if data.honeypot.strip():
        flags.append("honeypot")
    if data.form_age is not None and data.form_age.total_seconds() < min_seconds:
        flags.append("too_fast")
    message = ContactMessage(
        name=name,
        email=email,
        subject=subject,
        body=body,
        sender_ip=data.ip[:64],
        user_agent=clean_text(data.user_agent, "user_agent", max_chars=2000, required=False)[:500],
        status=ContactStatus.SPAM.value if "honeypot" in flags else ContactStatus.OPEN.value,
        flags=flags,
        created_at=utc_now(),
    )
    session.add(message)
    session.flush()
    return message


def get_message(session: Session, actor: User, message_id: int) -> ContactMessage:
    require(actor, "comments.moderate")
    message = session.get(ContactMessage, message_id)
    if message is None:
        raise NotFound(f"No contact message {message_id}.")
    return message


S = ContactStatus
# A contact message's one transition table; ``_move`` is the only writer of its status.
MOVES: dict[tuple[ContactStatus, str], ContactStatus] = {
    (S.OPEN, "reply"): S.ANSWERED,
    (S.ANSWERED, "reply"): S.ANSWERED,  # a follow-up reply
    (S.CLOSED, "reply"): S.ANSWERED,
    (S.OPEN, "close"): S.CLOSED,
    (S.ANSWERED, "close"): S.CLOSED,
    (S.OPEN, "mark_spam"): S.SPAM,
    (S.ANSWERED, "mark_spam"): S.SPAM,
    (S.CLOSED, "mark_spam"): S.SPAM,
    (S.CLOSED, "reopen"): S.OPEN,
    (S.SPAM, "reopen"): S.OPEN,
    (S.ANSWERED, "reopen"): S.OPEN,
}


_PAST = {"reply": "answered", "close": "closed", "mark_spam": "marked as spam", "reopen": "reopened"}


def _move(message: ContactMessage, action: str) -> None:
    target = MOVES.get((ContactStatus(message.status), action))
    if target is None:
        raise InvalidTransition(
            f"A message that is {message.status} cannot be {_PAST[action]}; reopen it first."
            if action == "reply"
            else f"This message is already {message.status}."
        )
    message.status = target.value


def reply(session: Session, actor: User, message: ContactMessage, body: str, site: Site) -> ContactReply:
    """E-mail a reply to the sender (through the outbox) and keep it, append-only, with the message."""
    require(actor, "comments.moderate")
    text = clean_text(body, "reply", max_chars=MAX_MESSAGE_CHARS, multiline=True)
    session.refresh(message, with_for_update={"of": ContactMessage})
    if (ContactStatus(message.status), "reply") not in MOVES:
        _move(message, "reply")  # raises the precise InvalidTransition before any e-mail is queued
    outgoing = _email_reply(session, site, message, actor, text)
    row = ContactReply(
        message_id=message.id, staff_id=actor.id, body=text, outbox_id=outgoing.id, at=utc_now()
    )
    session.add(row)
    _move(message, "reply")
    session.flush()
    record(session, actor, "contact.reply", note=f"contact message {message.id}", message_id=message.id)
    return row


def _email_reply(
    session: Session, site: Site, message: ContactMessage, staff: User, body: str
) -> OutboxMessage:
    """The reply as the sender gets it: signed with the staff member's name and role, quoting them."""
    role = ", ".join(part for part in (staff.title, staff.department) if part)
    subject = message.subject or "your message"
    text = (
        f"{body.rstrip()}\n\n-- \n{staff.name}{f', {role}' if role else ''}\n{site.name}\n\n"
        f"In reply to your message of {message.created_at:%-d %B %Y}:\n\n{quote(message.body, 1500)}\n"
    )
    return queue(
        session,
        to=message.email,
        subject=f"Re: {subject}",
        body=text,
        purpose="contact_reply",
        sender_domain=site.sender_domain,
    )


def close(session: Session, actor: User, message: ContactMessage, status: str = "closed") -> None:
    """No reply needed (closed) or junk (spam); recorded in the audit log, reversible by reopening."""
    require(actor, "comments.moderate")
    if status not in (ContactStatus.CLOSED, ContactStatus.SPAM, ContactStatus.OPEN):
        raise InvalidInput("status must be closed, spam or open.", field="status")
    session.refresh(message, with_for_update={"of": ContactMessage})
    old = message.status
    _move(message, {"closed": "close", "spam": "mark_spam", "open": "reopen"}[status])
    message.closed_by_id = None if status == ContactStatus.OPEN else actor.id
    message.closed_at = None if status == ContactStatus.OPEN else utc_now()
    session.flush()
    record(
        session,
        actor,
        f"contact.{status}",
        note=f"contact message {message.id}: {old} -> {status}",
        message_id=message.id,
    )


def replies(session: Session, message: ContactMessage) -> list[ContactReply]:
    return list(
        session.scalars(
            select(ContactReply)
            .where(ContactReply.message_id == message.id)
            .order_by(ContactReply.at, ContactReply.id)
        )
    )


def waiting(
    session: Session, *, after: Key | None = None, limit: int = 100, backward: bool = False
) -> list[ContactMessage]:
    """Open messages, oldest first: at most ``limit`` from just after the (created_at, id) ``after``
    (``backward``: just before it, newest first)."""
    query = select(ContactMessage).where(ContactMessage.status == ContactStatus.OPEN)
    query = cursors.after(
        query, (ContactMessage.created_at, ContactMessage.id), after, descending=False, backward=backward
    )
    return list(session.scalars(query.limit(limit)))


def waiting_count(session: Session) -> int:
    """Open messages, counted on ix_contact_messages_status_created alone."""
    return (
        session.scalar(
            select(func.count())
            .select_from(ContactMessage)
            .where(ContactMessage.status == ContactStatus.OPEN)
        )
        or 0
    )


def listing(
    session: Session,
    actor: User,
    status: str,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 50,
) -> cursors.Page:
    """Messages in ``status``: open ones oldest first (the longest waiting on top), the rest newest
    first; a page and the cursor of the next one, keyset on (created_at, id) over
    ix_contact_messages_status_created, so any page costs the same."""
    require(actor, "comments.moderate")
    if status not in {s.value for s in ContactStatus}:
        raise InvalidInput("status must be open, answered, closed or spam.", field="status")
    kind = f"contact:{status}"
    key, backward = cursors.position(after, before, kind, (datetime, int))
    query = cursors.after(
        select(ContactMessage).where(ContactMessage.status == status),
        (ContactMessage.created_at, ContactMessage.id),
        key,
        descending=status != ContactStatus.OPEN,
        backward=backward,
    )
    rows = list(session.scalars(query.limit(per_page + 1)))
    return cursors.page(rows, per_page, kind, lambda m: (m.created_at, m.id), key=key, backward=backward)


def field_errors(data: ContactInput) -> dict[str, str]:
    """Every field's problem at once, for the form, by the rules ``submit`` applies."""
    checks = {
        "name": lambda: clean_text(data.name, "name", max_chars=MAX_NAME_CHARS),
        "email": lambda: clean_email(data.email, "email"),
        "subject": lambda: clean_text(data.subject, "subject", max_chars=MAX_SUBJECT_CHARS, required=False),
        "body": lambda: clean_text(data.body, "message", max_chars=MAX_MESSAGE_CHARS, multiline=True),
    }
    errors: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
        except InvalidInput as exc:
            errors[name] = exc.message
    return errors
