"""Readers' posts from an IPv6 site network: one looser budget per /48 beside each reader's (stop 28)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.posts.models import Post
from tests.support.comments import comment_from


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0}


def test_one_ipv6_site_network_has_one_looser_budget_for_all_its_readers(
    app: Any, client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """Each IPv6 /64 is one reader's budget (CANDOR_COMMENT_RATE_LIMIT), but a site is routed a /48:
    65,536 /64s, so one machine taking a fresh /64 for every POST was never refused. Now a /48 also has
    one looser budget for all its readers (CANDOR_COMMENT_NETWORK_RATE_LIMIT): its readers are refused
    once it is spent, while another /48 and IPv4 readers (who have no /48) are not."""
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    app.config["COMMENT_NETWORK_RATE_LIMIT"] = "3 per minute"
    post = make_post()
    site = f"2001:db8:{uuid.uuid4().int % 0xFFFF:x}"  # a /48 no earlier test counted
    other = f"2001:db8:{(uuid.uuid4().int % 0xFFFF) ^ 0x8000:x}"
    sent = [comment_from(client, post, f"{site}:{n:x}::1", n) for n in range(4)]  # four /64s of one /48
    assert sent == [202, 202, 202, 429]
    assert comment_from(client, post, f"{site}:ff::1", 4) == 429  # a fifth /64: the network's budget is spent
    assert comment_from(client, post, f"{other}:1::1", 5) == 202  # another site's network
    ipv4 = [comment_from(client, post, f"198.51.100.{60 + n}", 6 + n) for n in range(4)]
    assert ipv4 == [202, 202, 202, 202]  # IPv4 readers are counted by their own address only
    stored = session.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == post.id))
    assert stored == 8
