"""What this stop's attack on the reader comment intake (the busy backlog, issue 15) found; each a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.posts.models import Post
from tests.support.comments import READER, checking_comment, comment_api, comment_from


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0}


def test_one_ipv6_network_is_one_reader_for_the_rate_limit(
    app: Any, client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """The readers' limit counted each IPv6 address on its own, but every IPv6 customer is given at least
    a /64 (2^64 addresses): one machine changing its address on each POST was never limited, and ten
    such comments a minute from each of ten addresses filled CANDOR_COMMENT_BACKLOG (100), shutting the
    form for every reader. Now a /64 counts as one reader; another /64, or an IPv4 address, has its own
    budget, and an IPv4 address seen as IPv4-mapped IPv6 is the same reader as itself."""
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    post = make_post()
    network = "2001:db8:a:b:"
    sent = [comment_from(client, post, f"{network}{n:x}::{n + 1:x}", n) for n in range(3)]
    assert sent == [202, 202, 429]
    assert comment_from(client, post, "2001:db8:a:c::1", 3) == 202  # the next /64: another reader
    ipv4 = [
        comment_from(client, post, a, 4 + n) for n, a in enumerate(("198.51.100.7", "::ffff:198.51.100.7"))
    ]
    assert ipv4 == [202, 202]
    assert comment_from(client, post, "::ffff:198.51.100.7", 6) == 429  # the same reader, third time
    assert comment_from(client, post, "198.51.100.8", 7) == 202  # IPv4 addresses stay one reader each
    stored = session.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == post.id))
    assert stored == 6  # every answer but the refusals stored exactly one comment


def test_being_refused_busy_does_not_use_up_the_readers_rate_limit(
    app: Any, client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """A reader refused with 503 busy is told to send again in a few seconds (Retry-After 5); each
    refusal is counted by CANDOR_COMMENT_RATE_LIMIT (10 a minute), so a reader who does as told ten
    times during a flood is then refused 429 "Too many attempts" for the rest of the minute, after the
    backlog has cleared: the flood shuts them out longer than it lasts. Now the limit asks first and
    does not count a post that will be refused busy (not Flask-Limiter's ``deduct_when``, which counts
    after the answer and so lets one address race past the limit with posts sent at once); posts
    accepted still count."""
    app.config["COMMENT_RATE_LIMIT"] = "3 per minute; 100 per day"  # two limits, one decision
    app.config["COMMENT_BACKLOG"] = 2
    post = make_post()
    waiting = [checking_comment(app, session, post, f"Is a nap of {k} minutes too long?") for k in range(2)]
    form = f"/posts/{post.slug}/comments"
    busy = [
        client.post(form, data={**READER, "body": f"Question {n} about naps?"}).status_code for n in range(3)
    ]
    assert busy == [503, 503, 503]
    through_api = [comment_api(client, post, body=f"Question {n} about naps?").status_code for n in range(3)]
    assert through_api == [503, 503, 503]  # nor is the JSON API's
    session.execute(
        update(Comment).where(Comment.id.in_(waiting)).values(akismet_verdict="ham", status="published")
    )
    session.commit()
    app.extensions["candor.comment_backlog"].__init__()  # this process counts again now, not in 0.25 s
    again = client.post(form, data={**READER, "body": "Does a nap after six spoil the night?"})
    assert again.status_code == 303
    app.config["COMMENT_BACKLOG"] = 0  # no refusal now: the limit alone
    counted = [client.post(form, data={**READER, "body": f"And naps at {n}?"}).status_code for n in (4, 5, 6)]
    assert counted == [303, 303, 429]  # accepted posts are counted as before
