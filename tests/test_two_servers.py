"""Two app servers (gunicorn, gthread, two processes each), one PostgreSQL, Redis and the job worker, as
real processes (tests/support/stack.py): after 20 corrections published through server A, neither
server ever serves the old text; the page cache and the comment limits are shared through Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from app.accounts.services import create_token
from tests.support.require_all import missing
from tests.support.stack import Stack, stack_can_run, staff_tokens

pytestmark = pytest.mark.slow

CORRECTIONS = 20


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not stack_can_run():
        missing("needs PostgreSQL (CANDOR_TEST_POSTGRES_URL) and Redis on 127.0.0.1:6379")
    with Stack(
        servers=2, env={"CANDOR_COMMENT_RATE_LIMIT": "3 per minute", "CANDOR_CDN_MAX_AGE": "0"}
    ) as running:
        yield running


def _staff(stack: Stack) -> tuple[str, str]:
    return staff_tokens(stack)


def _call(
    stack: Stack, server: int, method: str, path: str, body: Any = None, token: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, headers_, data = stack.call(server, method, path, body, **headers)
    return status, headers_, data


def test_corrections_through_one_server_are_never_stale_on_either(stack: Stack) -> None:
    author, editor = _staff(stack)
    status, _, data = _call(
        stack,
        0,
        "POST",
        "/api/v1/posts",
        {"title": "Dosing ibuprofen", "body": "Take dose 0 mg.", "references": ["https://example.org/a"]},
        author,
    )
    assert status == 201, data
    post = json.loads(data)
    assert _call(stack, 0, "POST", f"/api/v1/posts/{post['id']}/submit", {}, author)[0] == 200
    assert _call(stack, 0, "POST", f"/api/v1/posts/{post['id']}/approve", {"revision": 1}, editor)[0] == 200
    slug = json.loads(_call(stack, 0, "GET", f"/api/v1/posts/{post['id']}")[2])["slug"]
    page = f"/posts/{slug}"
    stale_seen = []
    for n in range(1, CORRECTIONS + 1):
        for server in (0, 1, 0, 1):  # every process of both servers has the current text cached
            assert f"Take dose {n - 1} mg.".encode() in _call(stack, server, "GET", page)[2]
        status, _, data = _call(
            stack,
            0,
            "POST",
            f"/api/v1/posts/{post['id']}/revisions",
            {"body": f"Take dose {n} mg.", "base_revision": n, "kind": "correction", "note": f"Fix {n}."},
            author,
        )
        assert status == 201, data
        assert _call(stack, 0, "POST", f"/api/v1/posts/{post['id']}/submit", {}, author)[0] == 200
        assert (
            _call(stack, 0, "POST", f"/api/v1/posts/{post['id']}/approve", {"revision": n + 1}, editor)[0]
            == 200
        )
        for server in (1, 0, 1, 0, 1, 0):
            for path in (page, f"{page}/changes", f"{page}/history", "/corrections", "/feed.atom"):
                body = _call(stack, server, "GET", path)[2]
                if f"Take dose {n - 1} mg.".encode() in body and path == page:
                    stale_seen.append((n, server, path))
            assert f"Take dose {n} mg.".encode() in _call(stack, server, "GET", page)[2]
    assert stale_seen == []


def test_the_page_cache_and_the_comment_limit_are_shared(stack: Stack) -> None:
    author, editor = _staff_again(stack)
    status, _, data = _call(
        stack,
        0,
        "POST",
        "/api/v1/posts",
        {
            "title": "Sleep for adults",
            "body": "Seven hours of sleep.",
            "references": ["https://example.org/s"],
        },
        author,
    )
    post = json.loads(data)
    _call(stack, 0, "POST", f"/api/v1/posts/{post['id']}/submit", {}, author)
    _call(stack, 0, "POST", f"/api/v1/posts/{post['id']}/approve", {"revision": 1}, editor)
    slug = json.loads(_call(stack, 0, "GET", f"/api/v1/posts/{post['id']}")[2])["slug"]
    assert _call(stack, 0, "GET", f"/posts/{slug}")[1]["x-candor-cache"] == "miss"
    assert _call(stack, 1, "GET", f"/posts/{slug}")[1]["x-candor-cache"] == "hit"  # rendered once, by A
    comment = {
        "author_name": "Ada Reader",
        "author_email": "ada@example.net",
        "body": "Thanks, helpful on sleep.",
    }
    answers = [
        _call(stack, server, "POST", f"/api/v1/posts/{post['id']}/comments", comment)[0]
        for server in (0, 1, 0, 1)
    ]
    assert answers[:3] == [answers[0]] * 3 and answers[0] in (201, 202)
    assert answers[3] == 429  # three a minute from one address, counted across both servers


def _staff_again(stack: Stack) -> tuple[str, str]:
    """Tokens for the staff the first test made (or made now, when this test runs alone)."""
    with stack.session() as session:
        from sqlalchemy import select

        from app.accounts.models import User

        users = {u.email: u for u in session.scalars(select(User))}
        if "author@clinic.example" not in users:
            session.close()
            return _staff(stack)
        tokens = (
            create_token(session, users["author@clinic.example"]),
            create_token(session, users["editor@clinic.example"]),
        )
        session.commit()
        return tokens
