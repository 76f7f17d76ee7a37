"""A reader's comment POST on the quick path, raced across processes: two gunicorn app servers (two
processes each) and the job worker on one PostgreSQL database and one Redis (tests/support/stack.py), the
readers' limits, their /48's and the burst counted by one Lua script (``reader_forms.count_at_once``),
the comment stored by two statements under the duplicate lock (``services.comment_target``,
``services._arrive_at_once``). Many POSTs at the same moment, over real HTTP, to both servers:

- one reader (an IPv4 address, or many addresses of one IPv6 /64) sending 30 different comments: exactly
  the limit accepted, each seeing its own count once, the rest 429 with their headers, never a 500;
- the same comment sent 10 times: one comment, one id in every answer, one burst mark;
- 30 readers of one IPv6 /48: exactly the network's limit accepted;
- a Redis restarted between two floods (a Redis of the test's own): nothing fails, nothing is lost.

Afterwards the database must agree with the answers: the comments, one ``submit`` decision each, and the
maintained tallies equal to the comments counted (``recounted``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from app.comments import states
from app.comments.burst import sender_key
from app.comments.models import Comment, ModerationDecision
from tests.support.comments import recounted
from tests.support.require_all import missing
from tests.support.stack import Stack, free_port, redis_answers, request, stack_can_run, staff_tokens

pytestmark = pytest.mark.slow

SHARED_REDIS = "redis://127.0.0.1:6379/14"
READER_LIMIT, NETWORK_LIMIT, BURST = 10, 15, 3
ENV = {
    "CANDOR_TRUSTED_PROXIES": "1",  # X-Forwarded-For is the reader's address
    "CANDOR_COMMENT_CHECK_BUDGET_MS": "0",  # the quick path
    "CANDOR_COMMENT_RATE_LIMIT": f"{READER_LIMIT} per minute; 50 per day",
    "CANDOR_COMMENT_NETWORK_RATE_LIMIT": f"{NETWORK_LIMIT} per minute; 500 per day",
    "CANDOR_COMMENT_BURST": str(BURST),
    "CANDOR_COMMENT_MIN_SECONDS": "0",
    "CANDOR_CDN_MAX_AGE": "0",
}
ACCEPTED = (201, 202)


def _published_post(stack: Stack) -> int:
    """A published post, made through server 0's API by an author and an editor of its own."""
    tag = uuid.uuid4().hex[:8]
    writer, approver = staff_tokens(stack, f"-{tag}")
    draft = {
        "title": f"Sleep {tag}",
        "body": "Seven hours of sleep.",
        "references": ["https://example.org/s"],
    }
    status, _, data = stack.call(0, "POST", "/api/v1/posts", draft, Authorization=f"Bearer {writer}")
    assert status == 201, data
    post = json.loads(data)["id"]
    path = f"/api/v1/posts/{post}"
    assert stack.call(0, "POST", f"{path}/submit", {}, Authorization=f"Bearer {writer}")[0] == 200
    approved = stack.call(0, "POST", f"{path}/approve", {"revision": 1}, Authorization=f"Bearer {approver}")
    assert approved[0] == 200, approved
    return post


def _at_once(stack: Stack, post: int, sends: list[tuple[str, dict[str, str]]]) -> list[Any]:
    """Every ``(address, comment)`` POSTed at the same moment, one thread each, to the servers in turn:
    ``(status, headers, json or None)`` per send, in order."""
    barrier = threading.Barrier(len(sends))
    answers: list[Any] = [None] * len(sends)

    def send(i: int, ip: str, comment: dict[str, str]) -> None:
        barrier.wait()
        try:
            status, headers, data = request(
                stack.ports[i % len(stack.ports)],
                "POST",
                f"/api/v1/posts/{post}/comments",
                comment,
                {"X-Forwarded-For": ip, "User-Agent": "Mozilla/5.0 (race)"},
                timeout=60,
            )
            is_json = headers.get("content-type", "").startswith("application/json")
            body = json.loads(data) if is_json else None
            answers[i] = (status, headers, body)
        except Exception as exc:  # a dropped connection is an answer too, and a wrong one
            answers[i] = (0, {}, repr(exc))

    threads = [threading.Thread(target=send, args=(i, *s)) for i, s in enumerate(sends)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return answers


def _comment(n: int, tag: str, email: str | None = None) -> dict[str, str]:
    return {
        "author_name": f"Reader {tag}",
        "author_email": email or f"reader-{tag}@example.net",
        "body": f"Question {n} ({tag}): is seven hours of sleep enough for a night-shift nurse?",
    }


def _assert_refusals(answers: list[Any], limit: int) -> None:
    """Every answer is an acceptance or a 429 that says when to send again; no 5xx, no dropped connection."""
    for status, headers, body in answers:
        assert status in (*ACCEPTED, 429), (status, body)
        if status == 429:
            assert 0 < int(headers["retry-after"]) <= 60, headers
            assert headers["x-ratelimit-limit"] == str(limit), headers
            assert headers["x-ratelimit-remaining"] == "0", headers
            assert int(headers["x-ratelimit-reset"]) > time.time() - 1, headers


def _limit_counts(client: redis.Redis, queue: str, who: str, scope: str) -> dict[str, int]:
    """Flask-Limiter's windows for ``who`` (a reader's key or a /48) in Redis: ``{"minute": n, "day": n}``."""
    found = {}
    for key in client.scan_iter(f"LIMITS:LIMITER/{queue}/{who}/{scope}/*"):
        found[key.decode().rsplit("/", 1)[1]] = int(client.get(key) or 0)
    return found


def _burst_marks(client: redis.Redis, queue: str, ip: str) -> int:
    digest = hashlib.sha256(sender_key(ip).encode()).hexdigest()[:32]
    return int(client.zcard(f"{queue}:burst:{digest}"))


def _stored(stack: Stack, post: int) -> dict[int, Comment]:
    with stack.session() as session:
        comments = session.scalars(select(Comment).where(Comment.post_id == post)).all()
        for comment in comments:
            session.expunge(comment)
        return {c.id: c for c in comments}


def _assert_database_agrees(stack: Stack) -> None:
    """One snapshot (the job worker may be judging comments meanwhile): one ``submit`` decision per
    comment, and the tallies equal to the comments counted."""
    with stack.session() as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        comments = session.scalar(select(func.count()).select_from(Comment))
        submits = dict(
            session.execute(
                select(ModerationDecision.comment_id, func.count())
                .where(ModerationDecision.action == "submit")
                .group_by(ModerationDecision.comment_id)
            ).all()
        )
        assert len(submits) == comments and set(submits.values()) == {1}
        assert {k: n for k, n in states.tally(session).items() if n} == recounted(session)


def _rate_check(comment: Comment) -> dict[str, Any]:
    return next(check for check in comment.checks if check["check"] == "rate_limit")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not stack_can_run(SHARED_REDIS):
        missing("needs PostgreSQL (CANDOR_TEST_POSTGRES_URL) and Redis on 127.0.0.1:6379")
    with Stack(servers=2, workers_per_server=2, redis_url=SHARED_REDIS, env=ENV) as running:
        yield running


# --- one reader, thirty comments at once ------------------------------------------------------------


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_one_reader_sending_thirty_comments_at_once_gets_exactly_the_limit(stack: Stack, family: str) -> None:
    post = _published_post(stack)
    n = uuid.uuid4().int
    if family == "ipv4":
        addresses = [f"10.{n % 256}.{(n >> 8) % 256}.{(n >> 16) % 256}"] * 30
    else:  # thirty addresses of one /64: one reader
        addresses = [f"2001:db8:{n % 65536:x}:{(n >> 16) % 65536:x}::{i + 1:x}" for i in range(30)]
    tag = uuid.uuid4().hex[:8]
    answers = _at_once(stack, post, [(ip, _comment(i, tag)) for i, ip in enumerate(addresses)])

    _assert_refusals(answers, READER_LIMIT)
    accepted = [a for a in answers if a[0] in ACCEPTED]
    assert len(accepted) == READER_LIMIT, [a[0] for a in answers]
    # Each accepted post saw its own count, once: remaining 9, 8, ... 0 across both servers.
    remaining = sorted(int(h["x-ratelimit-remaining"]) for _, h, _ in accepted)
    assert remaining == list(range(READER_LIMIT))
    ids = {body["id"] for _, _, body in accepted}
    stored = _stored(stack, post)
    assert set(stored) == ids and len(ids) == READER_LIMIT  # comments stored == accepted answers
    # The burst counted every stored comment once, and only those: 0 .. 9 earlier, the last 7 held for it.
    counted = sorted(int(_rate_check(c)["detail"].split()[0]) for c in stored.values())
    assert counted == list(range(READER_LIMIT))
    held = [c for c in stored.values() if _rate_check(c)["verdict"] == "hold"]
    assert len(held) == READER_LIMIT - BURST
    client = redis.Redis.from_url(stack.redis_url)
    assert _burst_marks(client, stack.queue, addresses[0]) == READER_LIMIT
    # Flask-Limiter's windows, counted as it counts them: the minute's for every post, the day's only for
    # those the minute let through (and, for IPv6, the /48's minute for those too).
    reader = sender_key(addresses[0])
    assert _limit_counts(client, stack.queue, reader, "reader-posts") == {"minute": 30, "day": READER_LIMIT}
    if family == "ipv6":
        network = f"2001:db8:{n % 65536:x}::/48"
        counts = _limit_counts(client, stack.queue, network, "reader-networks")
        assert counts == {"minute": READER_LIMIT, "day": READER_LIMIT}
    _assert_database_agrees(stack)


# --- a double click, ten times, on both servers ---------------------------------------------------------


def test_the_same_comment_ten_times_at_once_is_one_comment(stack: Stack) -> None:
    """Three readers each send their comment ten times (a double click, and more), all thirty at once, to
    both servers: one comment each, named by every one of its ten answers, one burst mark each, and each
    comment counted by the burst with no earlier comment (a click is no comment before its own twin)."""
    post = _published_post(stack)
    readers = []
    for _ in range(3):
        n = uuid.uuid4().int
        readers.append(
            (f"10.{n % 256}.{(n >> 8) % 256}.{(n >> 16) % 256}", _comment(1, uuid.uuid4().hex[:8]))
        )
    answers = _at_once(stack, post, [readers[i % 3] for i in range(30)])

    assert [a[0] for a in answers if a[0] not in ACCEPTED] == [], answers
    stored = _stored(stack, post)
    assert len(stored) == 3
    client = redis.Redis.from_url(stack.redis_url)
    for r, (ip, comment) in enumerate(readers):
        ids = {body["id"] for _, _, body in answers[r::3]}
        assert len(ids) == 1 and ids <= set(stored), (ids, set(stored))
        assert stored[ids.pop()].body == comment["body"]
        assert _burst_marks(client, stack.queue, ip) == 1
    assert [_rate_check(c)["detail"].split()[0] for c in stored.values()] == ["0"] * 3
    _assert_database_agrees(stack)


# --- many readers of one IPv6 /48 -------------------------------------------------------------------


def test_thirty_readers_of_one_network_at_once_get_exactly_its_limit(stack: Stack) -> None:
    post = _published_post(stack)
    n = uuid.uuid4().int
    prefix = f"2001:db8:{n % 65536:x}"
    tag = uuid.uuid4().hex[:8]
    sends = [(f"{prefix}:{i + 1:x}::7", _comment(i, tag, f"r{i}-{tag}@example.net")) for i in range(30)]
    answers = _at_once(stack, post, sends)

    _assert_refusals(answers, NETWORK_LIMIT)
    accepted = [a for a in answers if a[0] in ACCEPTED]
    assert len(accepted) == NETWORK_LIMIT, [a[0] for a in answers]
    stored = _stored(stack, post)
    assert set(stored) == {body["id"] for _, _, body in accepted}
    client = redis.Redis.from_url(stack.redis_url)
    counts = _limit_counts(client, stack.queue, f"{prefix}::/48", "reader-networks")
    assert counts == {"minute": 30, "day": NETWORK_LIMIT}
    marks = [_burst_marks(client, stack.queue, ip) for ip, _ in sends]
    assert sum(marks) == NETWORK_LIMIT and set(marks) <= {0, 1}
    _assert_database_agrees(stack)


# --- a Redis restarted between two floods -----------------------------------------------------------


class _OwnRedis:
    """A redis-server of the test's own (no persistence), so it can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(f"/tmp/candor-race30-redis-{self.port}")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(exist_ok=True)
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.dir)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if redis_answers(self.url, timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def own_redis() -> Iterator[_OwnRedis]:
    if not os.environ.get("CANDOR_TEST_POSTGRES_URL"):
        missing("needs PostgreSQL (CANDOR_TEST_POSTGRES_URL)")
    if shutil.which("redis-server") is None:
        missing("needs redis-server to restart a Redis of the test's own")
    server = _OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


def test_a_redis_restarted_between_two_floods_fails_nothing_and_loses_nothing(
    own_redis: _OwnRedis,
) -> None:
    with Stack(servers=2, workers_per_server=1, redis_url=own_redis.url, env=ENV) as stack:
        post = _published_post(stack)
        floods = []
        for flood in range(2):
            if flood == 1:
                own_redis.stop()  # every count, mark and queued job gone with it
                own_redis.start()
            n = uuid.uuid4().int
            ip = f"10.{n % 256}.{(n >> 8) % 256}.{(n >> 16) % 256}"
            tag = uuid.uuid4().hex[:8]
            answers = _at_once(stack, post, [(ip, _comment(i, tag)) for i in range(30)])
            _assert_refusals(answers, READER_LIMIT)
            floods.append([body["id"] for status, _, body in answers if status in ACCEPTED])
        stored = _stored(stack, post)
        assert set(stored) == {i for ids in floods for i in ids}  # nothing accepted is lost
        assert len(floods[0]) == READER_LIMIT
        # Counted in Redis again (the clients reconnect): the limit still holds exactly across processes.
        assert len(floods[1]) == READER_LIMIT, [len(f) for f in floods]
        _assert_database_agrees(stack)


# --- the same words from several addresses of one /64 -----------------------------------------------


def test_the_same_words_from_ten_addresses_of_one_reader_are_ten_comments_in_the_burst(stack: Stack) -> None:
    """An IPv6 reader's address changes (privacy addresses) while the sender is their /64: the same text sent
    from ten of its addresses at once is no double click (a twin is from the same address), so ten comments
    are stored, and the burst, which counts comments, must count ten: the fourth and later held."""
    post = _published_post(stack)
    n = uuid.uuid4().int
    addresses = [f"2001:db8:{n % 65536:x}:{(n >> 16) % 65536:x}::{i + 1:x}" for i in range(10)]
    same = _comment(1, uuid.uuid4().hex[:8])
    answers = _at_once(stack, post, [(ip, same) for ip in addresses])

    assert {a[0] for a in answers} <= set(ACCEPTED), answers
    stored = _stored(stack, post)
    assert len(stored) == 10 == len({body["id"] for _, _, body in answers})
    counted = sorted(int(_rate_check(c)["detail"].split()[0]) for c in stored.values())
    client = redis.Redis.from_url(stack.redis_url)
    assert _burst_marks(client, stack.queue, addresses[0]) == 10
    assert counted == list(range(10))
    held = [c for c in stored.values() if _rate_check(c)["verdict"] == "hold"]
    assert len(held) == 10 - BURST
    _assert_database_agrees(stack)
