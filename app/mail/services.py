"""Queue e-mail in the outbox, and deliver what is due by SMTP, retrying failures until they go through.

``queue`` is a service like any other: it adds a row and flushes, inside the caller's transaction, so
an e-mail exists exactly when the change that caused it is committed. ``deliver_due`` is the worker:
it runs after that commit (from a request, for promptness) and from ``flask mail send`` (cron, for
retries). It commits its own short transactions, because a message must be claimed before the SMTP
conversation starts, or two workers could both send it. No Flask here.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.mail.compose import Site
from app.mail.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # how long a claimed message is left alone by other workers
MAX_BACKOFF = timedelta(hours=6)
SMTP_TIMEOUT = 10.0
MAX_SUBJECT_CHARS = 300
QUEUED_KEY = "candor.outbox_ids"


@dataclass(frozen=True)
class MailSettings:
    """SMTP settings; ``server`` None means messages are logged, not sent (development, CI)."""

    server: str | None
    port: int = 25
    sender: str = "candor@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    timeout: float = SMTP_TIMEOUT
    retry_seconds: float = 60.0  # the first retry's wait; each further one doubles, up to MAX_BACKOFF

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        return cls(
            server=config.get("MAIL_SERVER") or None,
            port=int(config.get("MAIL_PORT") or 25),
            sender=config.get("MAIL_FROM") or "candor@localhost",
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            use_tls=bool(config.get("MAIL_USE_TLS")),
            retry_seconds=float(config.get("MAIL_RETRY_SECONDS") or 60.0),
        )


def queue(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    purpose: str,
    headers: Mapping[str, str] | None = None,
    sender_domain: str = "localhost",
) -> OutboxMessage:
    """Store one message for delivery. Nothing is sent here; it is sent after the caller commits."""
    all_headers = {"Message-ID": make_msgid(domain=sender_domain), **(headers or {})}
    message = OutboxMessage(
        to_addr=to,
        subject=" ".join(subject.split())[:MAX_SUBJECT_CHARS],
        body=body,
        headers=all_headers,
        purpose=purpose,
        status=OutboxStatus.QUEUED.value,
        next_attempt_at=utc_now(),
        created_at=utc_now(),
    )
    session.add(message)
    session.flush()
    # The request edge sends what this transaction queued as soon as it has committed (app/web/jobs.py).
    session.info.setdefault(QUEUED_KEY, []).append(message.id)
    return message


def notice(
    session: Session,
    site: Site,
    *,
    to: str,
    subject: str,
    body: str,
    purpose: str,
    headers: Mapping[str, str] | None = None,
) -> OutboxMessage:
    """Queue an automatic e-mail from the blog ``site`` (marked ``Auto-Submitted``, so mail servers
    send no vacation replies to it), its Message-ID on the blog's sender domain."""
    return queue(
        session,
        to=to,
        subject=subject,
        body=body,
        purpose=purpose,
        sender_domain=site.sender_domain,
        headers={**(headers or {}), "Auto-Submitted": "auto-generated"},
    )


def queued_ids(session: Session) -> list[int]:
    """Ids of the messages queued through ``session`` since the last call: to send right after commit."""
    return session.info.pop(QUEUED_KEY, [])


def backoff(attempts: int, first: float = 60.0) -> timedelta:
    """Wait before retry number ``attempts``: 1, 2, 4 ... minutes (``first`` seconds, doubling), at most
    six hours. Never give up."""
    return min(timedelta(seconds=first * 2 ** min(attempts - 1, 20)), MAX_BACKOFF)


# Long unbroken header values (an unsubscribe URL) must not be folded into RFC 2047 encoded words, which
# mail clients do not decode in List-Unsubscribe; RFC 5322 allows lines of up to 998 characters.
_POLICY = policy.default.clone(max_line_length=998)


def as_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage(policy=_POLICY)
    email["From"] = sender
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.body)
    return email


def _smtp_send(settings: MailSettings, email: EmailMessage) -> None:
    assert settings.server is not None
    with smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout) as smtp:
        if settings.use_tls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password)
        smtp.send_message(email)


@dataclass
class DeliveryReport:
    sent: int = 0
    logged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


Sender = Callable[[MailSettings, EmailMessage], None]


def deliver_due(
    sessions: Callable[[], Session],
    settings: MailSettings,
    *,
    ids: Iterable[int] | None = None,
    limit: int = 200,
    send: Sender = _smtp_send,
) -> DeliveryReport:
    """Send every queued message whose time has come (only ``ids``, if given); return what happened.

    Each message is claimed (its next attempt pushed past a lease) and committed before sending, so a
    second worker skips it; the outcome is committed after. A failure keeps the message queued with
    the error and a later next attempt, so ``flask mail send`` retries it.
    """
    report = DeliveryReport()
    session = sessions()
    try:
        query = (
            select(OutboxMessage.id, OutboxMessage.next_attempt_at)
            .where(
                OutboxMessage.status == OutboxStatus.QUEUED.value, OutboxMessage.next_attempt_at <= utc_now()
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if ids is not None:
            query = query.where(OutboxMessage.id.in_(list(ids)))
        due = session.execute(query).all()
        session.rollback()
        for message_id, was_due in due:
            claimed = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == OutboxStatus.QUEUED.value,
                    OutboxMessage.next_attempt_at == was_due,
                )
                .values(next_attempt_at=utc_now() + LEASE)
            ).rowcount
            session.commit()
            if not claimed:
                continue
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            _attempt(message, settings, send, report)
            session.commit()
    finally:
        session.close()
    return report


def _attempt(message: OutboxMessage, settings: MailSettings, send: Sender, report: DeliveryReport) -> None:
    now = utc_now()
    message.attempts += 1
    if settings.server is None:
        log.info(
            "mail not sent (MAIL_SERVER is unset): to=%s subject=%r\n%s",
            message.to_addr,
            message.subject,
            message.body,
        )
        message.status = OutboxStatus.LOGGED.value
        message.sent_at = now
        report.logged += 1
        return
    try:
        send(settings, as_email(message, settings.sender))
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        message.next_attempt_at = now + backoff(message.attempts, settings.retry_seconds)
        report.failed += 1
        report.errors.append(f"message {message.id} to {message.to_addr}: {message.last_error}")
        log.warning(
            "mail %s to %s failed (attempt %s), retrying after %s: %s",
            message.id,
            message.to_addr,
            message.attempts,
            message.next_attempt_at.isoformat(timespec="seconds"),
            message.last_error,
        )
        return
    message.status = OutboxStatus.SENT.value
    message.sent_at = now
    message.last_error = ""
    report.sent += 1


def pending(session: Session) -> list[OutboxMessage]:
    """Messages not yet delivered, oldest first: what an operator looks at when mail seems stuck."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.QUEUED.value)
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )
