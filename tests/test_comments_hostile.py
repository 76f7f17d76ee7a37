"""No input to the comment and moderation calls and forms yields a 5xx, and nothing accepted can run script.

The corpus is tests/support/hostile.py's. Anything a database cannot store (NUL, lone surrogates) is
refused with 422; a script payload is either refused or stored as text that renders without anything
that can run, in the comment's HTML and on the post page (STYLE.md: hostile Markdown gets a 422, never
a 500).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.posts.models import Post
from tests.support import hostile
from tests.support.comments import READER
from tests.support.web import log_in, parse


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    """This module's app talks to the local Akismet (tests/support/comments.py)."""
    return comments_config


MUST_REFUSE = {
    "nul",
    "only-nul",
    "lone-high-surrogate",
    "lone-low-surrogate",
    "reversed-surrogate-pair",
    "escaped-nul",
    "escaped-lone-surrogate",
    "escaped-reversed-pair",
}
TEXT_VALUES = {**hostile.TEXT, **hostile.SCRIPTS, **hostile.MARKDOWN, **hostile.JSON_TYPES}


def _post_json(client: Any, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize("field", ["author_name", "author_email", "body", "parent_id", "notify"])
def test_every_comment_field_survives_the_corpus(
    client: Any, session: Session, make_post: Callable[..., Post], field: str, subtests: Any
) -> None:
    post = make_post()
    path = f"/api/v1/posts/{post.id}/comments"
    values = TEXT_VALUES if field not in ("parent_id",) else {**hostile.JSON_TYPES, **hostile.NUMBERS}
    for name, value in values.items():
        with subtests.test(msg=f"{field}={name}"):
            response = _post_json(client, path, hostile.json_body(READER, field, value))
            assert hostile.problem_with_error(response) is None, (name, response.status_code)
            if name in MUST_REFUSE:
                assert response.status_code == 422, name
            if response.status_code in (201, 202):
                comment = session.get(Comment, response.get_json()["id"])
                assert hostile.active_content(comment.html, fragment=True) == [], name
    page = client.get(f"/posts/{post.slug}")
    assert page.status_code == 200
    assert hostile.active_content(page.get_data(as_text=True), fragment=False) == []


def test_raw_bodies_and_content_types_are_refused_cleanly(
    client: Any, make_post: Callable[..., Post], subtests: Any
) -> None:
    post = make_post()
    path = f"/api/v1/posts/{post.id}/comments"
    for name, body in hostile.RAW_BODIES.items():
        with subtests.test(msg=f"raw {name}"):
            assert hostile.problem_with_error(_post_json(client, path, body)) is None
    for name, content_type in hostile.CONTENT_TYPES.items():
        with subtests.test(msg=f"content-type {name}"):
            headers = {"Content-Type": content_type} if content_type else {}
            response = client.post(path, data=b'{"body": "x"}', headers=headers)
            assert hostile.problem_with_error(response) is None


@pytest.mark.parametrize("path", ["/posts/{slug}/comments", "/contact"])
def test_every_form_field_survives_the_corpus(
    client: Any, session: Session, make_post: Callable[..., Post], path: str, subtests: Any
) -> None:
    post = make_post()
    url = path.format(slug=post.slug)
    base = {
        "author_name": b"Ada",
        "author_email": b"ada@example.net",
        "body": b"Thanks for the sleep tips.",
        "name": b"Ada",
        "email": b"ada@example.net",
        "subject": b"Hello",
    }
    fields = [
        "author_name",
        "author_email",
        "body",
        "parent_id",
        "notify",
        "website",
        "form_token",
        "replaces",
    ]
    if path == "/contact":
        fields = ["name", "email", "subject", "body", "website", "form_token"]
    for field in fields:
        for name, value in hostile.form_values().items():
            with subtests.test(msg=f"{field}={name}"):
                body = hostile.urlencoded({**base, field: value})
                response = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
                assert hostile.problem_with_error(response) is None, (field, name, response.status_code)
    page = client.get(f"/posts/{post.slug}")
    assert hostile.active_content(page.get_data(as_text=True), fragment=False) == []


def test_moderation_inputs_survive_the_corpus(
    api: Any, client: Any, session: Session, moderator: Any, make_post: Callable[..., Post], subtests: Any
) -> None:
    post = make_post()
    created = api.post(f"/api/v1/posts/{post.id}/comments", READER).get_json()
    token = api.make_token(moderator)
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/comments/{created['id']}/moderate"
    for field in ("action", "reason"):
        for name, value in {**hostile.TEXT, **hostile.SCRIPTS, **hostile.JSON_TYPES}.items():
            with subtests.test(msg=f"{field}={name}"):
                base = {"action": "delete", "reason": "ok"}
                response = _post_json(client, path, hostile.json_body(base, field, value), headers)
                assert hostile.problem_with_error(response) is None, (field, name, response.status_code)
                if response.status_code == 200:  # put it back for the next value
                    _post_json(client, path, hostile.json_body({"action": "approve"}, "reason", ""), headers)
    for query in (
        "status=%00",
        "status=held&reason=%ff",
        "status=held&page=-1",
        "status=held&per_page=10000",
        "q=" + "a" * 5000,
        "status=held&q=%25%5F%5C",
    ):
        with subtests.test(msg=query):
            response = client.get(f"/api/v1/moderation/comments?{query}", headers=headers)
            assert hostile.problem_with_error(response) is None
    log_in(client, moderator.email)
    for query in ("status=%00", "reason=%ff", "q=%00", "page=0", "page=99999999999", "q=" + "%" * 300):
        with subtests.test(msg=f"page {query}"):
            assert hostile.problem_with_error(client.get(f"/staff/comments/?{query}")) is None
    csrf = parse(client.get("/staff/comments/?status=")).select_one("input[name=csrf_token]")["value"]
    for name, value in hostile.form_values().items():
        with subtests.test(msg=f"bulk ids={name}"):
            body = hostile.urlencoded({"csrf_token": csrf.encode(), "action": b"spam", "comment_ids": value})
            response = client.post(
                "/staff/comments/bulk", data=body, content_type="application/x-www-form-urlencoded"
            )
            assert hostile.problem_with_error(response) is None
    assert session.scalars(select(Comment)).first() is not None
