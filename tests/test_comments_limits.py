"""What readers are held to: one real mailbox per comment, and a burst limit that holds under concurrency.

The burst limit (``COMMENT_BURST`` comments from one address within ten minutes, then the next is
held) is raced here for real: ten comments from one address at the same moment, through a threaded
HTTP server, on SQLite and PostgreSQL, with and without Redis (a real server on 127.0.0.1:6379).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from app.comments.models import Comment
from app.posts.models import Post
from tests.support.comments import READER, comment_api

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


@pytest.mark.parametrize(
    "address",
    [
        "allstaff,victim@evil.example",
        "allstaff@clinic.example, victim@evil.example",
        '"<script>alert(1)</script>"@example.org',
        "Victim <victim@example.org>",
        "victim@[127.0.0.1]",
        "victim@localhost",
        "victim@example..org",
        "vic..tim@example.org",
        "victim@example.org\nBcc: all@clinic.example",
        "ünïcode@exämple.org",
        "@example.org",
        "victim@",
    ],
)
def test_anything_but_one_plain_mailbox_is_refused_with_the_field_named(
    client: Any, make_post: Callable[..., Post], session: Session, address: str
) -> None:
    answer = comment_api(client, make_post(), author_email=address)
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["field"] == "author_email"
    assert "e-mail address" in error["message"] or "single line" in error["message"]
    assert session.scalars(select(Comment)).all() == []


def test_a_valid_address_is_kept_lower_cased_with_an_ascii_domain(
    client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    answer = comment_api(client, make_post(), author_email="Ada.Reader+blog@Exämple.ORG")
    assert answer.status_code in (201, 202), answer.get_json()
    assert session.scalars(select(Comment)).one().author_email == "ada.reader+blog@xn--exmple-cua.org"


def test_the_contact_form_uses_the_same_rule(client: Any) -> None:
    answer = client.post(
        "/contact",
        data={
            "name": "Cy Reader",
            "email": "a@example.org,b@example.org",
            "subject": "Visiting",
            "message": "When are visiting hours?",
        },
    )
    assert answer.status_code == 422
    assert "e-mail address" in answer.get_data(as_text=True)


# --- the burst limit under concurrency ------------------------------------------------------------------


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def _ten_at_once(url: str) -> list[int]:
    barrier = threading.Barrier(10)
    codes = [0] * 10

    def send(i: int) -> None:
        body = {**READER, "author_email": f"reader{i}@example.net", "body": f"Question {i} about sleep?"}
        barrier.wait()
        codes[i] = httpx.post(url, json=body, timeout=30).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return codes


@pytest.mark.parametrize("redis", ["database", "redis", "redis-down"])
def test_ten_comments_at_once_from_one_address_hold_all_past_the_burst(
    app: Any, server: str, make_post: Callable[..., Post], session: Session, redis: str
) -> None:
    app.config["COMMENT_BURST"] = 3
    if redis == "redis":
        app.config["REDIS_URL"] = REDIS_URL
        app.config["JOBS_QUEUE"] = f"candor-test-{uuid.uuid4().hex}"  # its own burst counts in Redis
    elif redis == "redis-down":
        app.config["REDIS_URL"] = "redis://127.0.0.1:9/0"  # nothing listens: the database counts instead
    post = make_post()
    codes = _ten_at_once(f"{server}/api/v1/posts/{post.id}/comments")
    assert set(codes) <= {201, 202}, codes
    session.expire_all()
    comments = session.scalars(select(Comment)).all()
    assert len(comments) == 10  # none lost
    limited = [c for c in comments if "rate_limit" in c.reasons]
    assert len(limited) == 7, [(c.id, c.status, c.reasons) for c in comments]
    assert all(c.status != "published" for c in limited)
