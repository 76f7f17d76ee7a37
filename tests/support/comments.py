"""Fixtures and helpers for the comment tests: a local Akismet, a moderator, published reader comments.

A pytest plugin (tests/conftest.py lists it in ``pytest_plugins``), so a test takes these fixtures by
name and never imports them; the helpers (``READER``, ``comment_api``, ``submit``, ``statuses``) are
plain functions to import.

``akismet`` is a local server speaking Akismet's protocol (tests/support/akismet_server.py), started
once per session. ``comments_config`` points the app at it and relaxes the reader rate limits, which
the pipeline tests switch on one by one where they are under test; a module whose app needs it says so::

    @pytest.fixture
    def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
        return comments_config
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.comments import learning, services
from app.comments.models import Comment, CommentStatus
from app.comments.views import pipeline_settings
from app.db import commit, rollback, writing
from app.moderation.services import moderate
from app.posts.models import Post
from app.web.outside import akismet_checker, site
from tests.support.akismet_server import AkismetServer
from tests.support.web import parse

READER = {
    "author_name": "Ada Reader",
    "author_email": "ada@example.net",
    "body": "Thank you, seven hours of sleep a night is a helpful target for adults.",
}


def assert_form_kept(answer: Any, body: str, *, says: str, reader: dict[str, str] = READER) -> Any:
    """The comment form came back (HTML) with what the reader wrote and a message saying ``says``; the
    parsed page, for more checks."""
    page = parse(answer)
    assert page.select_one("textarea[name=body]").get_text() == body
    assert page.select_one("input[name=author_name]")["value"] == reader["author_name"]
    assert page.select_one("input[name=author_email]")["value"] == reader["author_email"]
    assert says in page.select_one(".error-summary").get_text()
    return page


def assert_form_refused(
    answer: Any, body: str, *, says: str, wait: str | None = None, reader: dict[str, str] = READER
) -> Any:
    """The comment form came back (HTML) with what the reader wrote, refused though nothing in it was
    wrong (busy, a database failure, the rate limit): one notice for the page (role alert, before the
    form) saying ``says``, that nothing is lost and, given ``wait``, when to send it again; no field
    marked as an error and a title that claims none. The parsed page, for more checks."""
    page = parse(answer)
    assert page.select_one("textarea[name=body]").get_text() == body
    assert page.select_one("input[name=author_name]")["value"] == reader["author_name"]
    assert page.select_one("input[name=author_email]")["value"] == reader["author_email"]
    notices = page.select('[role="alert"]')
    assert len(notices) == 1, notices
    notice = notices[0]
    said = " ".join(notice.get_text(" ").split())
    assert says in said, said
    assert "Nothing you wrote is lost" in said
    if wait is not None:
        assert f"send it again in {wait}." in said, said
    assert "was not sent" in notice.select_one("h2").get_text()
    form = page.select_one("form.comment-form")
    assert form in notice.find_all_next("form"), "the notice is not above the form"
    assert page.select_one(".error-summary") is None
    assert page.select("[aria-invalid]") == [] and page.select(".error") == []
    title = page.title.get_text()
    assert not title.startswith("Error") and title.startswith("Not sent:"), title
    return page


@pytest.fixture(scope="session")
def akismet_session() -> Iterator[AkismetServer]:
    with AkismetServer(slow_seconds=10.0) as server:
        yield server


@pytest.fixture
def akismet(akismet_session: AkismetServer) -> Iterator[AkismetServer]:
    """The shared local Akismet, in normal mode, with no requests recorded yet."""
    akismet_session.set_mode("normal")
    akismet_session.clear()
    yield akismet_session
    akismet_session.set_mode("normal")


@pytest.fixture
def comments_config(akismet: AkismetServer) -> dict[str, Any]:
    """App settings for the comment tests: the local Akismet, reader rate limits relaxed."""
    learning.forget_all()
    return {
        **akismet.config_overrides(timeout=1.0),
        "COMMENT_RATE_LIMIT": "1000 per minute",
        "COMMENT_BURST": 1000,
        "COMMENT_MIN_SECONDS": 0.0,
        "PUBLIC_URL": "http://blog.example.org",
    }


def comment_api(client: Any, post: Post, **fields: Any) -> Any:
    """POST /api/v1/posts/<id>/comments as an anonymous reader, READER's fields unless overridden."""
    return client.post(
        f"/api/v1/posts/{post.id}/comments",
        json={**READER, **fields},
        headers={"User-Agent": "Mozilla/5.0 (test)", "Referer": "https://search.example/"},
    )


def comment_from(client: Any, post: Post, address: str, n: int) -> int:
    """The status of an anonymous reader's comment ``n`` on ``post`` sent from ``address`` (the JSON API)."""
    answer = client.post(
        f"/api/v1/posts/{post.id}/comments",
        json={**READER, "body": f"Question {n}: does a nap count towards the hours of sleep?"},
        environ_base={"REMOTE_ADDR": address},
    )
    return int(answer.status_code)


def submit(
    app: Flask,
    session: Session,
    post: Post,
    *,
    ip: str = "203.0.113.9",
    form_age: Any = None,
    honeypot: str = "",
    **fields: Any,
) -> Comment:
    """Run a reader comment through the service directly (the pipeline, the real Akismet client)."""
    values = {**READER, **fields}
    data = services.CommentInput(
        author_name=values["author_name"],
        author_email=values["author_email"],
        body=values["body"],
        parent_id=values.get("parent_id"),
        notify=values.get("notify", False),
        ip=ip,
        user_agent="Mozilla/5.0 (test)",
        referrer="",
        permalink=f"http://blog.example.org/posts/{post.slug}",
        honeypot=honeypot,
        form_age=form_age,
    )
    with app.test_request_context("/"):
        comment = services.submit_comment(
            session,
            post,
            data,
            actor=None,
            checker=akismet_checker(),
            settings=pipeline_settings(),
            site=site(),
        )
    session.commit()
    return comment


@pytest.fixture
def moderator(make_user: Callable[..., User]) -> User:
    return make_user(
        "moderator", name="Malik Reyes", title="Community Moderator", department="Public Affairs"
    )


@pytest.fixture
def publish_reader(app: Flask, session: Session, moderator: User) -> Callable[..., Comment]:
    """A published comment from ``email`` (so its writer is a returning commenter from then on)."""

    def _make(
        post: Post,
        email: str = "ada@example.net",
        name: str = "Ada Reader",
        body: str = "Thanks, this explains sleep hygiene for adults well.",
        **kw: Any,
    ) -> Comment:
        comment = submit(app, session, post, author_email=email, author_name=name, body=body, **kw)
        if comment.status != CommentStatus.PUBLISHED:
            moderate(session, moderator, comment, "approve")
            session.commit()
        return comment

    return _make


def statuses(session: Session) -> dict[int, str]:
    session.expire_all()
    return {c.id: c.status for c in session.scalars(select(Comment))}


@pytest.fixture
def returning_post(make_post: Callable[..., Post], publish_reader: Callable[..., Comment]) -> Post:
    """A published post with one published comment from Ada (``READER``): her next comments there come from
    a returning commenter, so the checks alone decide them (published when every check passes)."""
    post = make_post()
    publish_reader(post)
    return post


def session_thread(
    app: Flask,
    work: Callable[[Session], Any],
    failures: list[BaseException],
    *,
    start: threading.Barrier | None = None,
) -> threading.Thread:
    """A thread (not started) that runs ``work`` in a writing session of its own, in an app context,
    then commits, as a request or a job would. What it raises is appended to ``failures`` (and rolled
    back). With ``start``, it waits at that barrier first, so several such threads begin together."""

    def run() -> None:
        own = app.extensions["candor.sessions"]()
        try:
            if start is not None:
                start.wait()
            writing(own)
            with app.app_context():
                work(own)
            commit(own)
        except BaseException as error:  # noqa: BLE001 - the test asserts on failures
            rollback(own)
            failures.append(error)
        finally:
            own.close()

    return threading.Thread(target=run)


def batch_thread(
    app: Flask,
    verdicts: dict[int, Any],
    settings: Any,
    failures: list[BaseException],
    *,
    start: threading.Barrier | None = None,
) -> threading.Thread:
    """``session_thread`` finishing a check batch as the job worker does: ``finish_batch`` on
    ``verdicts``."""
    return session_thread(
        app, lambda own: services.finish_batch(own, verdicts, settings), failures, start=start
    )


def checking_comment(app: Flask, session: Session, post: Post, body: str) -> int:
    """A reader's comment stored by the quick path (held, still being checked), its job not run: the
    id. Committed."""
    with app.test_request_context("/"):
        data = services.CommentInput(
            author_name="Ada Reader", author_email="ada@example.net", body=body, ip="203.0.113.9"
        )
        comment = services.accept_comment(
            session, services.Target(post.id, post.slug), data, settings=pipeline_settings()
        )
    session.commit()
    assert services.is_checking(comment)
    return comment.id


def recounted(session: Session) -> dict[tuple[str, str], int]:
    """Each status's count, and each held reason's, counted from the comments themselves: what the
    maintained tallies (``states.tally``) must equal."""
    found: dict[tuple[str, str], int] = {}
    for status, n in session.execute(select(Comment.status, func.count()).group_by(Comment.status)):
        found[(status, "")] = n
    for (reasons,) in session.execute(select(Comment.reasons).where(Comment.status == "held")):
        for reason in set(reasons):
            found[("held", reason)] = found.get(("held", reason), 0) + 1
    return found


LIMITS_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def make_redis_limited_app(app_config: dict[str, Any], database_url: str) -> Iterator[Callable[..., Any]]:
    """``make(**config)``: an app whose rate limits, burst counts and queue are in the real Redis on
    127.0.0.1:6379 (the readers' limits then counted in one script: ``reader_forms.count_at_once``), the
    quick path on (budget 0); its queue's keys deleted and its engine disposed after the test."""
    import uuid

    import redis

    from app import create_app

    apps: list[Any] = []

    def make(**overrides: Any) -> Any:
        queue = f"candor-test-{uuid.uuid4().hex}"
        config = {
            **app_config,
            "DATABASE_URL": database_url,
            "TESTING": True,
            "COMMENT_CHECK_BUDGET_MS": 0,
            "REDIS_URL": LIMITS_REDIS_URL,
            "RATELIMIT_STORAGE_URI": LIMITS_REDIS_URL,
            "RATELIMIT_KEY_PREFIX": queue,
            "JOBS_QUEUE": queue,
            **overrides,
        }
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    client = redis.Redis.from_url(LIMITS_REDIS_URL)
    for app in apps:
        keys = client.keys(f"*{app.config['JOBS_QUEUE']}*")
        if keys:
            client.delete(*keys)
        app.extensions["candor.engine"].dispose()
    client.close()


def fresh_ipv4() -> str:
    """An IPv4 address no earlier run has counted (rate-limit windows outlive a test)."""
    import uuid

    n = uuid.uuid4().int
    return f"10.{n % 256}.{(n >> 8) % 256}.{(n >> 16) % 256}"


# A comment's fields of a wrong type or out of range, as the API refuses them (4xx naming the field).
WRONG_FIELDS: tuple[dict[str, Any], ...] = (
    {"body": 5},
    {"body": ["a"]},
    {"body": {"a": 1}},
    {"body": None},
    {"author_name": 1},
    {"author_email": ["a@example.net"]},
    {"parent_id": "1"},
    {"parent_id": 1.5},
    {"parent_id": True},
    {"parent_id": -1},
    {"parent_id": 0},
    {"parent_id": 2**31},
    {"parent_id": 10**40},
    {"parent_id": [1]},
    {"notify": "yes"},
    {"notify": 1},
    {"notify": None},
)


def held_metric(client: Any) -> dict[str, float]:
    """``candor_comments{status=...}`` as ``/metrics`` reports it to ``client`` (the loopback)."""
    body = client.get("/metrics").get_data(as_text=True)
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^candor_comments\{status="(\w+)"\} (\S+)$', body, re.M)
    }
