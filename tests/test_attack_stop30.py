"""What this stop's attack on the readers' address forms (embedded IPv4), /healthz's and /metrics'
monitoring check and the held-comment metric found; each a test."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from app.comments import services
from app.comments.models import Comment
from app.comments.views import pipeline_settings
from app.moderation.services import moderate
from app.posts.models import Post
from app.spam.akismet_adapter import AkismetResult, Verdict
from tests.support.comments import checking_comment, comment_from, held_metric


@pytest.fixture
def app_config(comments_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**comments_config, "COMMENT_CHECK_BUDGET_MS": 0, **getattr(request, "param", {})}


def _fresh_public_ipv4() -> tuple[int, int]:
    """Two octets no earlier run counted (rate-limit windows outlive a test): 198.18.x.y, whose 6to4
    and Teredo forms the tests build."""
    n = uuid.uuid4().int
    return n % 256, 1 + (n >> 8) % 250


def _teredo(ipv4: tuple[int, int, int, int], port: int, flags: int = 0x8000, server: str = "c000:201") -> str:
    """The Teredo address (RFC 4380) of a client whose NAT maps it to ``ipv4``:``port``, the client's
    address and port stored inverted."""
    a, b, c, d = (x ^ 0xFF for x in ipv4)
    return f"2001:0:{server}:{flags:x}:{port ^ 0xFFFF:x}:{a:02x}{b:02x}:{c:02x}{d:02x}"


# --- 1. address forms: one reader's budget, whatever the form ----------------------------------------


def test_every_form_of_one_ipv4_reader_shares_its_budget_and_spends_no_one_elses(
    app: Any, client: Any, make_post: Callable[..., Post], session: Session
) -> None:
    """Held. An attacker holding one IPv4 address can originate it natively, from its 6to4 /48 (any of
    its 65,536 /64s), and as a Teredo client (any port, flags or server): all are that one reader (one
    CANDOR_COMMENT_RATE_LIMIT). Forms that no one can originate over the Internet (IPv4-mapped,
    IPv4-compatible, NAT64 64:ff9b::/96: only the server's own socket or translator makes them) count
    the same, and native IPv6 /64s of the attacker's own never touch an IPv4 reader's budget."""
    app.config["COMMENT_RATE_LIMIT"] = "3 per minute"
    app.config["COMMENT_NETWORK_RATE_LIMIT"] = "1000 per minute"
    post = make_post()
    c, d = _fresh_public_ipv4()
    ipv4 = f"198.18.{c}.{d}"
    sixtofour = f"2002:c612:{c:02x}{d:02x}"
    forms = [
        f"{sixtofour}:1::1",
        f"{sixtofour.upper()}:ABCD::2",  # upper case, another /64 of the same 6to4 /48
        _teredo((198, 18, c, d), 40000, flags=0xFFFF, server="ffff:ffff"),  # odd flags, any server
    ]
    sent = [comment_from(client, post, a, n) for n, a in enumerate(forms)]
    assert sent == [202, 202, 202]
    later = [ipv4, f"::ffff:{ipv4}", f"::{ipv4}", f"64:ff9b::{ipv4}", _teredo((198, 18, c, d), 1)]
    assert [comment_from(client, post, a, 3 + n) for n, a in enumerate(later)] == [429] * 5
    # Another IPv4 reader next door (its 6to4 /48 is the neighbouring one) is untouched.
    neighbour = f"198.18.{c}.{d + 1}"
    assert comment_from(client, post, neighbour, 8) == 202
    # The attacker's native IPv6 (a /48 of its own, fresh /64s) spends nothing of the IPv4 readers'.
    site = f"2001:db8:{uuid.uuid4().int % 0xFFFF:x}"
    assert [comment_from(client, post, f"{site}:{n:x}::1", 9 + n) for n in range(3)] == [202] * 3
    assert comment_from(client, post, neighbour, 12) == 202
    stored = session.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == post.id))
    assert stored == 8


EDGE_ADDRESSES = (
    "::",
    "::1",
    "::2",
    "::ffff:0:0",
    "2002::",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001::",  # Teredo, every field zero (the client is 255.255.255.255)
    "2001:0:0:ffff:ffff:ffff:ffff:ffff",
    "fe80::1%eth0",
    "FE80::1%1",
    "::FFFF:7F00:1",
    "64:FF9B::A00:1",
    "unknown",
    "9" * 4000,
)


def test_edge_addresses_are_counted_never_a_server_error(
    app: Any, client: Any, make_post: Callable[..., Post]
) -> None:
    """Held. Addresses no reader sends over the Internet (the server's own socket or a proxy's header may
    still carry them) are each some one reader: a second post from the same address is refused 429
    (its reader's budget of one is spent, maybe by an earlier form of it), never a 500."""
    app.config["COMMENT_RATE_LIMIT"] = "1 per minute"
    app.config["COMMENT_NETWORK_RATE_LIMIT"] = "1000 per minute"
    post = make_post()
    for n, address in enumerate(EDGE_ADDRESSES):
        first, second = (comment_from(client, post, address, 2 * n + k) for k in range(2))
        assert first in (202, 429) and second == 429, (address[:40], first, second)
    assert comment_from(client, post, "::3", 99) == 202  # 0.0.0.3: a reader no form above was


@pytest.mark.parametrize("app_config", [{"CANDOR_TRUSTED_PROXIES": 1}], indirect=True, ids=["one-proxy"])
def test_a_long_forwarded_for_from_the_reader_changes_nothing(
    app: Any, client: Any, make_post: Callable[..., Post]
) -> None:
    """Held. Behind one proxy, a reader's own X-Forwarded-For (long, several headers, loopback and
    IPv4-embedding forms) is followed by the address the proxy appends, the one believed: every post
    counts against that one reader."""
    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    post = make_post()
    c, d = _fresh_public_ipv4()
    real = f"198.18.{c}.{d}"
    forged = ", ".join(["127.0.0.1", "::1", f"2002:c612:{c + 1:02x}01::1", "x" * 3000])
    codes = []
    for n in range(3):
        answer = client.post(
            f"/api/v1/posts/{post.id}/comments",
            json={"author_name": "Ada", "author_email": "ada@example.net", "body": f"Question {n} on naps?"},
            headers=[("X-Forwarded-For", forged), ("X-Forwarded-For", f"10.9.{n}.1, {real}")],
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        codes.append(answer.status_code)
    assert codes == [202, 202, 429]


# --- 2. /metrics and /healthz: who is the monitoring system ------------------------------------------


def _monitoring_app(tmp_path: Any, database_url: str, proxies: int) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DEMO_ACCOUNTS_DIR": str(tmp_path),
            "DATABASE_URL": database_url,
            "CANDOR_TRUSTED_PROXIES": proxies,
        }
    )


PAST_THE_CDN = (
    "203.0.113.9",  # reached the inner proxy directly (not through the CDN): one hop, not two
    "127.0.0.1, 203.0.113.9",  # the same, naming the loopback first
    "::1, 203.0.113.9",
)


def test_a_reader_past_the_cdn_is_not_the_loopback(tmp_path: Any, database_url: str) -> None:
    """Broke. Behind a CDN and nginx on the loopback (CANDOR_TRUSTED_PROXIES=2), a reader who reaches
    nginx directly (an origin's address is rarely secret) sent a request whose X-Forwarded-For has one
    hop (nginx's) instead of two: ProxyFix then leaves the socket's peer, nginx's 127.0.0.1, as the
    reader's address, and /metrics answered them and /healthz named the revisions, though the README says
    readers behind a proxy get 403; naming 127.0.0.1 as the first hop did the same. The monitoring system
    is a request that never left the host: its socket's peer and every hop loopback."""
    migrated = _monitoring_app(tmp_path, database_url, 2)
    unmigrated = _monitoring_app(tmp_path, f"sqlite:///{tmp_path / 'empty.sqlite3'}", 2)
    try:
        nginx = {"REMOTE_ADDR": "127.0.0.1"}
        for forwarded_for in PAST_THE_CDN:
            reader = {"X-Forwarded-For": forwarded_for}
            answer = migrated.test_client().get("/metrics", headers=reader, environ_base=nginx)
            assert answer.status_code == 403, forwarded_for
            health = unmigrated.test_client().get("/healthz", headers=reader, environ_base=nginx)
            assert health.status_code == 503 and health.get_json()["migrations"] == "behind"
        # The monitoring system itself: a Prometheus on the host, directly or through nginx.
        assert migrated.test_client().get("/metrics", environ_base=nginx).status_code == 200
        local = {"X-Forwarded-For": "127.0.0.1"}
        assert migrated.test_client().get("/metrics", headers=local, environ_base=nginx).status_code == 200
        health = unmigrated.test_client().get("/healthz", headers=local, environ_base=nginx)
        assert "head is" in health.get_json()["migrations"]
    finally:
        migrated.extensions["candor.engine"].dispose()
        unmigrated.extensions["candor.engine"].dispose()


def test_a_forwarded_header_or_a_reader_through_both_proxies_is_not_the_loopback(
    tmp_path: Any, database_url: str
) -> None:
    """Held. Through both proxies, a reader naming 127.0.0.1 (in X-Forwarded-For, several such headers,
    or RFC 7239's Forwarded, which nothing here reads) is the address the CDN appended."""
    app = _monitoring_app(tmp_path, database_url, 2)
    try:
        client = app.test_client()
        nginx = {"REMOTE_ADDR": "127.0.0.1"}
        for headers in (
            [("X-Forwarded-For", "127.0.0.1, 203.0.113.9, 198.51.100.1")],
            [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-For", "::1, 203.0.113.9, 198.51.100.1")],
            [("Forwarded", "for=127.0.0.1"), ("X-Forwarded-For", "203.0.113.9, 198.51.100.1")],
        ):
            assert client.get("/metrics", headers=headers, environ_base=nginx).status_code == 403
    finally:
        app.extensions["candor.engine"].dispose()


# --- 3. candor_comments{held, checking} against the comments themselves ------------------------------


def _truth(session: Session) -> dict[str, float]:
    """Held comments, and those still being checked (``services.is_checking``: the job will check them),
    counted from the comments."""
    session.expire_all()
    held = session.scalar(select(func.count()).select_from(Comment).where(Comment.status == "held"))
    checking = session.scalar(
        select(func.count())
        .select_from(Comment)
        .where(Comment.status == "held", Comment.akismet_verdict == services.CHECKING)
    )
    return {"held": float(held or 0), "checking": float(checking or 0)}


def test_the_held_metric_equals_the_comments_after_every_kind_of_decision(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], moderator: Any
) -> None:
    """Held. Six comments still being checked, then: a moderator approves one, marks one spam and
    deletes one; the job gives one up (hold_unchecked) and finishes two (Akismet down: held for a
    moderator; Akismet ham); a writer replaces a held one; a moderator approves a given-up one. After
    each step the metric is what counting the comments finds."""
    post = make_post()
    ids = [checking_comment(app, session, post, f"Thanks, a helpful read on naps ({n}).") for n in range(6)]
    assert held_metric(client) == _truth(session) == {"held": 6.0, "checking": 6.0}
    for comment_id, action in zip(ids[:3], ("approve", "spam", "delete"), strict=True):
        moderate(session, moderator, session.get(Comment, comment_id), action)
        session.commit()
        assert held_metric(client) == _truth(session)
    with app.test_request_context("/"):
        settings = pipeline_settings()
        assert services.hold_unchecked(session, ids[3]) is not None
        session.commit()
        assert held_metric(client) == _truth(session)
        down = AkismetResult(Verdict.UNAVAILABLE, "Akismet: unavailable")
        assert services.finish_checks(session, ids[4], down, settings) is not None
        session.commit()
        assert held_metric(client) == _truth(session)
        ham = AkismetResult(Verdict.HAM, "Akismet: not spam")
        assert services.finish_checks(session, ids[5], ham, settings) is not None
        session.commit()
        assert held_metric(client) == _truth(session)
        replaced = session.get(Comment, ids[4])
        assert replaced is not None and replaced.status == "held"
        data = services.CommentInput(
            author_name="Ada Reader",
            author_email="ada@example.net",
            body="Corrected: naps count.",
            ip="203.0.113.9",
        )
        services.accept_comment(
            session, services.Target(post.id, post.slug), data, settings=settings, replaces=replaced
        )
        session.commit()
    assert session.get(Comment, ids[4]).status == "deleted"
    assert held_metric(client) == _truth(session)
    moderate(session, moderator, session.get(Comment, ids[3]), "approve")
    session.commit()
    assert held_metric(client) == _truth(session)


def test_a_redaction_of_a_comment_being_checked_keeps_it_counted_as_checking(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], make_user: Any
) -> None:
    """Broke. A redaction of a comment scrubbed the removed text from its reason codes too, though they
    are a fixed vocabulary holding no reader's words: redacting a patient named "king" from a comment
    still being checked turned its reason "checking" into "chec[redacted: patient identifier]". The
    metric, now read from the reason tallies, no longer counted it as checking (nor the desk as
    "Being checked") while the job would still check it. Reason codes are left as they are."""
    from app.redaction import services as redaction

    post = make_post()
    comment_id = checking_comment(app, session, post, "Our night nurse, king of the ward, says naps help.")
    editor = make_user("editor", name="Erin First")
    with app.test_request_context("/"):
        redaction.request(
            session, editor, "comments", comment_id, text="king", reason="Names a member of staff."
        )
        session.commit()
    comment = session.get(Comment, comment_id)
    assert comment is not None and "king" not in comment.body and services.is_checking(comment)
    assert comment.reasons == ["checking"]
    assert held_metric(client) == _truth(session) == {"held": 1.0, "checking": 1.0}
