"""Attacks on s31's intake (``app.web.intake``): a reader's plain comment POST answered without Flask must
be answered as Flask answers it, counted once, and never with a 500. PostgreSQL (the intake's only
database) and the real Redis on 127.0.0.1:6379, as tests/test_intake.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.posts.models import Post
from tests.support.comments import fresh_ipv4
from tests.test_intake import _counted, _post, _ready


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_that_takes_no_connection_is_flasks_503_counted_once(
    make_redis_limited_app: Callable[..., Any],
    make_post: Callable[..., Post],
    database_url: str,
    postgresql_template: Any,
) -> None:
    """The database refuses new connections (restarting, at max_connections) after the post was counted,
    with no backlog limit (CANDOR_COMMENT_BACKLOG=0, so nothing asked the database before the count):
    the intake must leave the post to Flask with its count, which answers 503 as it always has, never a
    500, and the post is counted once."""
    app = make_redis_limited_app(COMMENT_BACKLOG=0, COMMENT_RATE_LIMIT="5 per minute")
    post = make_post()
    client = _ready(app)
    app.extensions["candor.engine"].dispose()  # the pool's connections closed: the next one is opened anew
    name = make_url(database_url).database
    with postgresql_template.admin.connect() as admin:
        admin.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    try:
        ip = fresh_ipv4()
        answer = _post(client, post.id, ip, "Is anyone there to read this?")
    finally:
        with postgresql_template.admin.connect() as admin:
            admin.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "unavailable"
    assert _counted(ip) == {"5/1/minute": 1}
