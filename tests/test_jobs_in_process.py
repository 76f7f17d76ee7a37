"""Without Redis, the web process runs the jobs itself: the app started the way ``make run`` starts it
(``flask run`` on a loopback port) e-mails a staff reply's notification with no command run by hand."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup

from app.accounts.models import User
from app.comments.models import Comment
from app.posts.models import Post
from tests.support.smtp import Inbox, free_port
from tests.support.web import PASSWORD
from tests.test_jobs import FLASK, ROOT, _env, _text, _wait_for, smtp  # noqa: F401

__all__ = ["smtp"]


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


@pytest.fixture
def question(make_post: Callable[..., Post], publish_reader: Callable[..., Comment]) -> Comment:
    return publish_reader(make_post(), body="Is it fine to nap after lunch?", notify=True)


@pytest.fixture
def server(database_url: str, smtp: tuple[Inbox, int], question: Comment) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*FLASK, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=_env(database_url, smtp[1]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        _wait_for(up, "the dev server to answer")
        assert process.poll() is None, "the dev server exited"
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _csrf(response: httpx.Response) -> str:
    node = BeautifulSoup(response.text, "html.parser").select_one("input[name=csrf_token]")
    assert node is not None, response.text[:500]
    return str(node["value"])


@pytest.mark.slow
def test_the_dev_server_sends_the_reply_notification_by_itself(
    server: str, smtp: tuple[Inbox, int], moderator: User, question: Comment
) -> None:
    inbox = smtp[0]
    with httpx.Client(base_url=server, timeout=10) as browser:
        # The reader's double opt-in: the request e-mail arrives by itself, and they follow its link.
        asks = lambda: [m for m in inbox.messages if "Confirm" in m["Subject"]]  # noqa: E731
        _wait_for(lambda: len(asks()) >= 1, "the confirmation request", seconds=120)
        link = re.search(r"http://blog\.example\.org(/subscriptions/confirm/\S+)", _text(asks()[0]))
        assert link is not None
        assert browser.post(link.group(1)).status_code == 303
        login = browser.post(
            "/login",
            data={"email": moderator.email, "password": PASSWORD, "csrf_token": _csrf(browser.get("/login"))},
        )
        assert login.status_code in (302, 303), login.text[:300]
        page = browser.get(f"/staff/comments/{question.id}")
        reply = browser.post(
            f"/staff/comments/{question.id}/reply", data={"csrf_token": _csrf(page), "body": "Yes, short."}
        )
        assert reply.status_code == 303
    replies = lambda: [m for m in inbox.messages if "replied" in m["Subject"]]  # noqa: E731
    _wait_for(lambda: len(replies()) >= 1, "the reply notification", seconds=120)
    time.sleep(1)
    assert len(replies()) == 1
    assert replies()[0]["To"] == "ada@example.net" and "Yes, short." in _text(replies()[0])
