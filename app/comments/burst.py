"""How many comments one sender sent within the burst window, counted atomically across workers.

A sender is who the rate limits count (``sender_key``): an IPv4 address, or an IPv6 /64 (every IPv6
customer may use any address of theirs, so counting single addresses held no one), an IPv4-mapped
IPv6 address being the IPv4 reader it maps. The comment keeps its whole address for moderators.

The count decides a write (the next comment from a busy address is held), so it must not be a plain
read: ten requests at once would each count the same few earlier comments and all be published.

- With Redis configured (``REDIS_URL``), one Lua script per comment trims the address's sliding window,
  counts what is left and records this comment, atomically on the Redis server, so every worker and
  every app server shares one count without touching the database.
- Otherwise (or when Redis fails: an outside failure must never publish a comment unchecked), the
  database counts the sender's marks (``BurstMark``, one per comment, written with it), after serialising
  comments from the same sender: on PostgreSQL a transaction-scoped advisory lock keyed by the sender,
  held until the comment commits, so the next one's count sees its mark; on SQLite every writing request
  holds the database's write lock from its first statement already (``app.db.writing``).

No Flask here: the web edge builds the Redis counter from configuration and passes it in.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.comments.models import BurstMark
from app.outbound import embedded_ipv4

log = logging.getLogger(__name__)


def sliding_window_lua(key: str, now: str, window: str, member: str) -> str:
    """The burst's count as Lua, given Lua expressions for the sender's key, now and the window (ms) and
    this comment's member: the window trimmed, what is left counted (``earlier``, this one not counted),
    this comment recorded (``added``: 1 when its member was new, 0 for a double click's, whose twin's mark
    is then no earlier comment: the click that stores the comment may be counted after its twin's) and the
    key's expiry moved. The one way it is counted: by ``RedisBurst``'s script, and by the script that
    counts it with the readers' rate limits (``app.web.reader_forms``)."""
    return f"""
local earlier, added
do
  local now, window = tonumber({now}), tonumber({window})
  redis.call('ZREMRANGEBYSCORE', {key}, '-inf', now - window)
  earlier = redis.call('ZCARD', {key})
  added = redis.call('ZADD', {key}, now, {member})
  if added == 0 then earlier = earlier - 1 end
  redis.call('PEXPIRE', {key}, window)
end
"""


# KEYS[1]: the address's window; ARGV: now (ms), window (ms), a unique member. Returns the count
# of earlier comments still inside the window, this one not counted.
_SLIDING_WINDOW = sliding_window_lua("KEYS[1]", "ARGV[1]", "ARGV[2]", "ARGV[3]") + "return earlier\n"


@functools.lru_cache(maxsize=4096)  # a comment POST asks three times (the limits, the burst, its digest)
def sender_key(ip: str) -> str:
    """Whom a limit counts for the address ``ip``: an IPv4 address, or an IPv6 /64 (``2001:db8:1:2::/64``);
    an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address is the IPv4 address it carries
    (``app.outbound.embedded_ipv4``). Anything that is no address (``unknown``) is itself. The rate limits
    (``app.web.extensions.limit_key``) and the burst count use this one rule."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        ipv4 = embedded_ipv4(address)
        if ipv4 is not None:
            return str(ipv4)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _digest(ip: str) -> str:
    return hashlib.sha256(sender_key(ip).encode()).hexdigest()[:32]


class RedisBurst:
    """The sliding-window counter on a Redis server (any ``redis.Redis``-like client)."""

    def __init__(self, client: Any, prefix: str = "candor:burst:") -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    def earlier(self, ip: str, now: datetime, window: timedelta, member: str | None = None) -> int:
        """Comments from ``ip``'s sender within ``window`` before this one, which is recorded as ``member``
        (the same comment sent twice, a double click, is recorded once; by default each call is a new one)."""
        key, *args = self.ask(ip, now, window, member)
        return int(self._script(keys=[key], args=args))

    def ask(self, ip: str, now: datetime, window: timedelta, member: str | None = None) -> tuple[Any, ...]:
        """What ``earlier`` gives its script: the sender's key, now and the window (ms), the member. A
        script of the web edge's counts it with the readers' rate limits, in one round trip
        (``app.web.reader_forms.count_at_once``), and the comment is then judged by ``Counted``."""
        now_ms = int(now.timestamp() * 1000)
        window_ms = max(1, int(window.total_seconds() * 1000))
        return (self.prefix + _digest(ip), now_ms, window_ms, member or uuid.uuid4().hex)


class Counted:
    """A burst count already taken (by the script that counted the readers' limits), answered to
    ``earlier_comments`` as a ``RedisBurst`` would answer it."""

    def __init__(self, earlier: int) -> None:
        self._earlier = earlier

    def earlier(self, ip: str, now: datetime, window: timedelta, member: str | None = None) -> int:
        return self._earlier


BurstCounter = RedisBurst | Counted


def _lock_sender(session: Session, sender: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(b"candor.burst:" + sender.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def forget_old(session: Session, now: datetime, window: timedelta) -> int:
    """Delete every mark older than ``window`` (the periodic job: senders who never came back)."""
    return session.execute(delete(BurstMark).where(BurstMark.at < now - window)).rowcount or 0


def earlier_comments(
    session: Session,
    ip: str,
    now: datetime,
    window: timedelta,
    limit: int,
    counter: BurstCounter | None = None,
    *,
    member: str | None = None,
) -> int:
    """Comments from ``ip``'s sender (``sender_key``) within ``window`` before this one (counted up to
    ``limit + 1``), this one recorded as ``member`` as ``RedisBurst.earlier`` does."""
    if not ip:
        return 0
    if counter is not None:
        try:
            return counter.earlier(ip, now, window, member)
        except Exception:  # Redis down or confused: count in the database instead, never skip the check
            log.warning("burst count in Redis failed; counting in the database", exc_info=True)
    sender = _digest(ip)
    _lock_sender(session, sender)
    cutoff = now - window
    member = member or uuid.uuid4().hex
    marks = BurstMark.__table__
    mine = marks.c.sender == sender
    # Counted only up to the limit: a flood from one sender must not make each of its requests slower.
    counted = select(func.count()).select_from(
        select(marks.c.id)
        .where(mine, marks.c.at >= cutoff, marks.c.member != member)
        .limit(limit + 1)
        .subquery()
    )
    # The sender's marks past the window go; this comment's is written (again: a double click's twin key
    # moves its time, as Redis's ZADD of a member it holds does, and is counted once).
    stale = delete(marks).where(mine, marks.c.at < cutoff, marks.c.member != member)
    values = {"sender": sender, "member": member, "at": now}
    if session.get_bind().dialect.name == "postgresql":
        # One statement: the count reads the snapshot from before the statement's own changes.
        upsert = pg_insert(marks).values(values)
        marked = upsert.on_conflict_do_update(
            index_elements=[marks.c.sender, marks.c.member], set_={"at": upsert.excluded.at}
        )
        return session.scalar(counted.add_cte(stale.cte("stale"), marked.cte("marked"))) or 0
    session.execute(stale)
    earlier = session.scalar(counted) or 0
    upsert_sqlite = sqlite_insert(marks).values(values)
    session.execute(
        upsert_sqlite.on_conflict_do_update(
            index_elements=[marks.c.sender, marks.c.member], set_={"at": upsert_sqlite.excluded.at}
        )
    )
    return earlier
