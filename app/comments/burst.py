"""How many comments one address sent within the burst window, counted atomically across workers.

The count decides a write (the next comment from a busy address is held), so it must not be a plain
read: ten requests at once would each count the same few earlier comments and all be published.

- With Redis configured (``REDIS_URL``), one Lua script per comment trims the address's sliding window,
  counts what is left and records this comment, atomically on the Redis server, so every worker and
  every app server shares one count without touching the database.
- Otherwise (or when Redis fails: an outside failure must never publish a comment unchecked), the
  database counts, after serialising comments from the same address: on PostgreSQL a transaction-scoped
  advisory lock keyed by the address, held until the comment commits, so the next one's count sees it;
  on SQLite every writing request holds the database's write lock from its first statement already
  (``app.db.writing``).

No Flask here: the web edge builds the Redis counter from configuration and passes it in.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.comments.models import Comment

log = logging.getLogger(__name__)

# KEYS[1]: the address's window; ARGV: now (ms), window (ms), a unique member. Returns the count
# of earlier comments still inside the window, this one not counted.
_SLIDING_WINDOW = """
local cutoff = tonumber(ARGV[1]) - tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
local earlier = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return earlier
"""


class RedisBurst:
    """The sliding-window counter on a Redis server (any ``redis.Redis``-like client)."""

    def __init__(self, client: Any, prefix: str = "candor:burst:") -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    def earlier(self, ip: str, now: datetime, window: timedelta, member: str | None = None) -> int:
        """Comments from ``ip`` within ``window`` before this one, which is recorded as ``member`` (the
        same comment sent twice, a double click, is recorded once; by default each call is a new one)."""
        key = self.prefix + hashlib.sha256(ip.encode()).hexdigest()[:32]
        now_ms = int(now.timestamp() * 1000)
        window_ms = max(1, int(window.total_seconds() * 1000))
        return int(self._script(keys=[key], args=[now_ms, window_ms, member or uuid.uuid4().hex]))


def _lock_address(session: Session, ip: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"candor.burst:" + ip.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def earlier_comments(
    session: Session,
    ip: str,
    now: datetime,
    window: timedelta,
    limit: int,
    counter: RedisBurst | None = None,
    *,
    member: str | None = None,
) -> int:
    """Comments from ``ip`` within ``window`` before this one (counted up to ``limit + 1``)."""
    if not ip:
        return 0
    if counter is not None:
        try:
            return counter.earlier(ip, now, window, member)
        except Exception:  # Redis down or confused: count in the database instead, never skip the check
            log.warning("burst count in Redis failed; counting in the database", exc_info=True)
    _lock_address(session, ip)
    # Counted only up to the limit: a flood from one address must not make each of its requests slower.
    return (
        session.scalar(
            select(func.count()).select_from(
                select(Comment.id)
                .where(Comment.author_ip == ip, Comment.created_at >= now - window)
                .limit(limit + 1)
                .subquery()
            )
        )
        or 0
    )
