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


def test_ipv4_readers_through_a_nat64_translator_are_each_their_own_reader(
    app: Any, client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """A site served over IPv6 only behind a NAT64/SIIT translator (RFC 6052's well-known prefix
    64:ff9b::/96) sees each IPv4 reader as 64:ff9b::<their IPv4 address>: one /64 and one /48 for the
    whole IPv4 Internet. Each is the IPv4 reader it embeds, as an IPv4-mapped address is: one reader's
    spent budget refuses no other, and the /48 budget (IPv4 readers have none) counts none of them."""
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    app.config["COMMENT_NETWORK_RATE_LIMIT"] = "3 per minute"
    post = make_post()
    base = 1 + uuid.uuid4().int % 200  # IPv4 addresses no earlier test counted
    first = [comment_from(client, post, f"64:ff9b::203.0.113.{base}", n) for n in range(3)]
    assert first == [202, 202, 429]  # that reader's own budget
    others = [comment_from(client, post, f"64:ff9b::203.0.113.{base + 1 + n}", 3 + n) for n in range(4)]
    assert others == [202, 202, 202, 202]  # other IPv4 readers: neither their /64 nor their /48 spent
    assert comment_from(client, post, f"203.0.113.{base}", 7) == 429  # the same reader reached over IPv4
    stored = session.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == post.id))
    assert stored == 6
