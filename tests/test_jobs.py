"""Jobs run by themselves: a real worker process on a real Redis, and the dev server's own job thread,
each deliver a staff reply's notification to a local SMTP server with no command run by hand; an SMTP
server that refuses first gets the message once, on the retry."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import services as comments
from app.comments.models import Comment, Subscription
from app.jobs import services as job_runs
from app.mail.models import OutboxMessage
from app.posts.models import Post
from tests.support.require_all import require_redis
from tests.support.smtp import Inbox, serving
from tests.support.web import log_in, parse

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
JOB_WORKER = [sys.executable, "-m", "flask", "--app", "app:create_jobs_app", "worker"]  # as in production
REDIS_URL = "redis://127.0.0.1:6379/11"


def _reply_notification_subject(message: Message) -> bool:
    return "replied" in (message["Subject"] or "")


@pytest.fixture
def smtp(request: pytest.FixtureRequest) -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server refusing the first ``param`` reply notifications with a temporary error (other
    mail, such as the reader's opt-in request, goes through)."""
    inbox = Inbox(refuse=getattr(request, "param", 0), refusing=_reply_notification_subject)
    with serving(inbox) as port:
        yield inbox, port


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def _env(database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CANDOR_", "MAIL_", "REDIS_", "AKISMET_"))
    }
    return {
        **env,
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_FROM": "Clinic Blog <blog@clinic.example>",
        "CANDOR_PUBLIC_URL": "http://blog.example.org",
        **extra,
    }


@pytest.fixture
def question(
    session: Session, make_post: Callable[..., Post], publish_reader: Callable[..., Comment]
) -> Comment:
    comment = publish_reader(make_post(), body="Is it fine to nap after lunch?", notify=True)
    subscription = session.scalars(select(Subscription)).one()
    comments.confirm_subscription(session, subscription.id, subscription.email)  # the reader's opt-in
    session.commit()
    return comment


def _reply_notification(session: Session) -> OutboxMessage:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "staff_reply")).one()


def _reply_in_the_test_client(client: Any, staff: User, parent: Comment) -> None:
    log_in(client, staff.email)
    csrf = parse(client.get(f"/staff/comments/{parent.id}")).select_one("input[name=csrf_token]")["value"]
    response = client.post(
        f"/staff/comments/{parent.id}/reply", data={"csrf_token": csrf, "body": "Yes, short."}
    )
    assert response.status_code == 303


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


# --- production: a worker process on Redis --------------------------------------------------------------


@pytest.fixture
def queue_name() -> str:
    return f"candor-test-{uuid.uuid4().hex}"


@pytest.fixture
def app_config(comments_config: dict[str, Any], smtp: tuple[Inbox, int], queue_name: str) -> dict[str, Any]:
    require_redis()
    return {
        **comments_config,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp[1],
        "MAIL_FROM": "Clinic Blog <blog@clinic.example>",
        "REDIS_URL": REDIS_URL,
        "JOBS_QUEUE": queue_name,
        "MAIL_RETRY_SECONDS": 1.0,
    }


@pytest.fixture
def worker(
    app: Any, database_url: str, smtp: tuple[Inbox, int], queue_name: str
) -> Iterator[subprocess.Popen]:
    env = _env(
        database_url,
        smtp[1],
        REDIS_URL=REDIS_URL,
        CANDOR_JOBS_QUEUE=queue_name,
        CANDOR_MAIL_RETRY_SECONDS="1",
    )
    process = subprocess.Popen(
        JOB_WORKER, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        app.extensions["candor.tasks"].huey.flush()


@pytest.mark.slow
@pytest.mark.parametrize("smtp", [0, 1], indirect=True, ids=["accepts", "refuses-first"])
def test_a_worker_on_redis_delivers_the_reply_notification_once(
    app: Any,
    client: Any,
    session: Session,
    smtp: tuple[Inbox, int],
    worker: Any,
    moderator: User,
    question: Comment,
) -> None:
    inbox = smtp[0]
    assert app.extensions["candor.tasks"].mode == "redis"
    _reply_in_the_test_client(client, moderator, question)  # the request only enqueues, after its commit

    def sent() -> bool:
        session.expire_all()
        return _reply_notification(session).status == "sent"

    _wait_for(sent, "the worker to deliver the reply notification")
    assert inbox.refused == inbox.refuse
    time.sleep(2)  # a duplicate would have been sent by now (retries come after 1 s)
    replies = [m for m in inbox.messages if "replied" in m["Subject"]]
    assert len(replies) == 1
    message = replies[0]
    assert message["To"] == "ada@example.net" and "Yes, short." in _text(message)
    delivered = _reply_notification(session)
    assert delivered.attempts == 1 + inbox.refuse
    assert message["Message-ID"] == delivered.headers["Message-ID"]
    assert worker.poll() is None  # still running


def test_the_worker_command_needs_redis(runner: Any, app: Any) -> None:
    app.extensions["candor.tasks"].mode = "thread"
    result = runner.invoke(args=["worker"])
    assert result.exit_code != 0 and "REDIS_URL is not set" in result.output


def test_a_daily_job_claims_its_day_once(session: Session) -> None:
    assert job_runs.claim(session, "digest", "2026-12-03") is True
    assert job_runs.claim(session, "digest", "2026-12-03") is False
    assert job_runs.claim(session, "digest", "2026-12-04") is True
    session.rollback()
