"""What the two forms anonymous readers post (a comment, a contact message) share at the edge: the
signed "form shown at" token, and one rate limit for both.

The token measures time-to-submit, a spam signal (app.spam.pipeline, app.contact.services). A cached
post page cannot carry it, so static/comments.js fetches one from ``GET /api/v1/comment-form-token``;
without it the time is unknown, which is no evidence of spam.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_limiter import RateLimitExceeded
from flask_limiter._extension import RequestLimit
from limits import RateLimitItem, parse_many

from app.comments import tokens
from app.comments.burst import sender_key, sliding_window_lua
from app.web.extensions import (
    _COUNTED,
    CountingRedisStorage,
    client_ip,
    limiter,
    network_key,
    network_of,
)
from app.web.runtime import provisional

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def form_token() -> str:
    return tokens.sign(current_app.config["SECRET_KEY"], tokens.Purpose.FORM_TIME, f="form")


def form_age(token: str | None) -> timedelta | None:
    """How long ago the form was shown, from its signed time token; None when unknown or not genuine."""
    if not token:
        return None
    try:
        return tokens.verify(current_app.config["SECRET_KEY"], tokens.Purpose.FORM_TIME, token)["age"]
    except tokens.TokenInvalid:
        return None


def _rate_limit() -> str:
    """CANDOR_COMMENT_RATE_LIMIT as this process last read the settings (``runtime.provisional``): the
    limit is asked before the view's first statement, which reads the settings' version itself."""
    from app.web.runtime import provisional

    return provisional()["COMMENT_RATE_LIMIT"]


REFUSED_UNCOUNTED = "candor.reader_post_refused"  # app.extensions: () -> bool, set by a domain's views


def _refused_uncounted() -> bool:
    """A post the app will refuse whatever the writer's count (the comment backlog is full: 503 busy)
    is not counted: a reader told to send again in a few seconds who does so must not use up their
    budget and be refused 429 once the backlog has cleared. The view then refuses exactly the posts
    this said it would (app.comments.views.admit_reader_comment), so nothing passes uncounted."""
    refused = current_app.extensions.get(REFUSED_UNCOUNTED)
    return bool(refused is not None and refused())


def _network_rate_limit() -> str:
    return str(current_app.config["COMMENT_NETWORK_RATE_LIMIT"])


def _not_counted_by_network() -> bool:
    """An IPv4 reader has no /48 (``network_key`` is empty): no second count, and no round trip for it."""
    return not network_key() or _refused_uncounted()


# One budget per reader IP for comments and contact messages together (CANDOR_COMMENT_RATE_LIMIT).
_per_reader = limiter.shared_limit(
    _rate_limit, scope="reader-posts", methods=["POST"], exempt_when=_refused_uncounted
)
# And a looser one per IPv6 /48 (CANDOR_COMMENT_NETWORK_RATE_LIMIT): one network could otherwise take a
# fresh /64, a fresh reader's budget, for every post.
_per_network = limiter.shared_limit(
    _network_rate_limit,
    scope="reader-networks",
    key_func=network_key,
    methods=["POST"],
    exempt_when=_not_counted_by_network,
)


def reader_limit(view: F) -> F:
    """The readers' limits on a view that takes their posts (a comment, a contact message)."""
    return _per_reader(_per_network(view))


# --- the same limits counted in one round trip --------------------------------------------------------

# KEYS: the windows, in the order Flask-Limiter evaluates them, then (if asked) the sender's burst window;
# ARGV[i]: window i's expiry (seconds), ARGV[n + i]: its amount (n windows: ARGV[#ARGV]), then the
# burst's now (ms), window (ms) and member. Each window is counted as limits' fixed window counts it
# (INCRBY, the expiry set by the first hit: CountingRedisStorage's script), and counting stops at the
# first window over its amount, as Flask-Limiter stops at the first limit breached. Then, if no window
# refused and a burst key was given, the burst is counted as RedisBurst's script counts it. Returns the
# count and ttl of each window counted, then (if counted) the burst's earlier comments and whether this
# post's member was new (ZADD's answer: a double click's is not), so a post that stores no comment can
# take back its mark (``CountedPost.forget_burst``).
_COUNT_WINDOWS = (
    """
local n = tonumber(ARGV[#ARGV])
local out = {}
for i = 1, n do
  local current = redis.call('incrby', KEYS[i], 1)
  if current == 1 then redis.call('expire', KEYS[i], ARGV[i]) end
  out[#out + 1] = current
  out[#out + 1] = redis.call('ttl', KEYS[i])
  if current > tonumber(ARGV[n + i]) then return out end
end
if #KEYS > n then"""
    + sliding_window_lua("KEYS[n + 1]", "ARGV[2 * n + 1]", "ARGV[2 * n + 2]", "ARGV[2 * n + 3]")
    + """  out[#out + 1] = earlier
  out[#out + 1] = added
end
return out
"""
)


@functools.lru_cache(maxsize=64)
def _items(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


class _Shared:
    """What Flask-Limiter's ``Limit`` gives ``RateLimitExceeded``: the limit breached, no own message."""

    error_message = None

    def __init__(self, item: RateLimitItem) -> None:
        self.limit = item


class CountedPost:
    """A reader's post counted by ``count_at_once``; ``earlier``: the burst's count, when it was asked."""

    def __init__(self, earlier: int | None, mark: tuple[Any, str, str] | None = None) -> None:
        self.earlier = earlier
        self._mark = mark  # (client, key, member) when this post added the member to the burst

    def forget_burst(self) -> None:
        """Take this post's mark back out of its sender's burst: the post stored no comment (no such post,
        comments closed, a reply to no published comment, a failure), and the burst counts comments (the
        database's count's mark rolls back with the post's transaction). A mark the post did not add (a
        double click's, the comment stored already) stays. Redis failing now is logged: the mark then
        counts until the window passes, as it did."""
        if self._mark is None:
            return
        client, key, member = self._mark
        self._mark = None
        try:
            client.zrem(key, member)
        except Exception:
            log.warning("taking a post's mark out of the burst in Redis failed", exc_info=True)


def can_count_at_once() -> bool:
    """The readers' limits are counted in Redis now (not ``memory://``, not in memory while Redis is down)."""
    storage = limiter._storage
    return limiter.enabled and isinstance(storage, CountingRedisStorage) and not limiter._storage_dead


def shares_redis_with(url: str | None, config: Any = None) -> bool:
    """The readers' limits are counted on the Redis at ``url`` (the burst's: one script can count both)."""
    config = current_app.config if config is None else config
    return bool(url) and config.get("RATELIMIT_STORAGE_URI") == f"candor+{url}"


def count_at_once(burst: tuple[str, int, int, str] | None = None) -> CountedPost | None:
    """Count this POST against the readers' limits (``reader_limit``: the reader's, and their IPv6 /48's)
    in one Redis round trip, as Flask-Limiter would count them in one script per window: the same keys
    (so the contact form and the comment form, still counted by the decorator, share the budget), the
    same windows and order, the same ``X-RateLimit-*`` and ``Retry-After`` headers (Flask-Limiter adds
    them after the request, from the counts kept here: ``CountingRedisStorage``), the same 429
    (``RateLimitExceeded``). ``burst`` (its key, now and window in ms, this comment's member, on the
    same Redis: ``shares_redis_with``) is counted by the same script once no limit refused: the comment
    burst's ``RedisBurst.earlier``, without its round trip.

    A comment POST is the request a flood sends, and the decorator's way cost it a script per window,
    each through the limits library's layers, and the burst one more. None when this cannot count
    (``can_count_at_once``, or Redis failed now); the caller then takes the decorated view, which
    counts as before (and falls back to memory: never a 500)."""
    precounted = request.environ.pop(PRECOUNTED, None)
    if precounted is not None:  # counted by the intake (app.web.intake), which then left the post to Flask
        windows, out, burst = precounted
    else:
        if not can_count_at_once():
            return None
        if _refused_uncounted():  # refused busy by the view: not counted (``_refused_uncounted``)
            return CountedPost(None)
        windows = reader_windows(client_ip(), provisional())
        try:
            out = run_count(current_app._get_current_object(), windows, burst)  # type: ignore[attr-defined]
        except Exception:  # Redis down: the decorator's way counts (never a 500)
            log.warning("counting a reader's post in Redis failed; Flask-Limiter counts it", exc_info=True)
            return None
    try:
        windows_counted, refused, earlier, added = _answer(
            out, [item for item, _ in windows], burst is not None
        )
    except Exception:  # an answer that is none: the decorator's way counts (never judged by it)
        log.warning("counting a reader's post in Redis failed; Flask-Limiter counts it", exc_info=True)
        return None
    now = time.time()
    if refused:
        # Refused: Flask-Limiter's context names the window, for the 429's message and its headers.
        counted = g.setdefault(_COUNTED, {})
        limits: list[RequestLimit] = []
        for (item, key_args), (current, ttl) in zip(windows, windows_counted, strict=False):
            counted[item.key_for(*key_args)] = (current, max(ttl, 0) + now)
            limits.append(RequestLimit(limiter, item, key_args, current > item.amount, True))
        limiter.context.view_rate_limits = limits
        limiter.context.view_rate_limit = limits[-1]
        raise RateLimitExceeded(_Shared(limits[-1].limit))  # type: ignore[arg-type]
    if windows_counted:
        # Accepted: the headers Flask-Limiter would add for its first window (the shortest), added by
        # ``_limit_headers`` without its context's objects and reads.
        (item, _), (current, ttl) = windows[0], windows_counted[0]
        g.candor_limit_headers = (item.amount, max(0, item.amount - current), int(max(ttl, 0) + now + 1))
    storage = limiter._storage
    mark = (storage.get_connection(), burst[0], burst[3]) if burst is not None and added else None
    return CountedPost(earlier, mark)


PRECOUNTED = "candor.reader_post_counted"  # in the WSGI environ: (windows, the script's answer, burst)


def reader_windows(ip: str, config: Any) -> list[tuple[RateLimitItem, list[str]]]:
    """The readers' limits' windows for a post from ``ip`` (``reader_limit``: the reader's, and their
    IPv6 /48's), in the order Flask-Limiter evaluates them, each with its key's parts; ``config``: the
    settings the reader's limit is read from (``runtime.provisional``, as ``_rate_limit``)."""
    prefix = [limiter._key_prefix] if limiter._key_prefix else []
    rate = config["COMMENT_RATE_LIMIT"]
    windows = [(item, [*prefix, sender_key(ip), "reader-posts"]) for item in _items(rate)]
    network = network_of(ip)
    if network:
        network_rate = _network_rate_limit()
        windows += [(item, [*prefix, network, "reader-networks"]) for item in _items(network_rate)]
    windows.sort(key=lambda window: window[0])  # stable, by window length: Flask-Limiter's order
    return windows


def run_count(
    app: Any, windows: list[tuple[RateLimitItem, list[str]]], burst: tuple[str, int, int, str] | None
) -> Any:
    """``_COUNT_WINDOWS`` run once for ``windows`` (and ``burst``), as ``count_at_once`` runs it: its raw
    answer, read by ``_answer``. Raises whatever Redis raises."""
    storage = limiter._storage
    assert isinstance(storage, CountingRedisStorage)
    keys = [storage.prefixed_key(item.key_for(*args)) for item, args in windows]
    args: list[Any] = [item.get_expiry() for item, _ in windows] + [item.amount for item, _ in windows]
    if burst is not None:
        keys.append(burst[0])
        args += list(burst[1:])
    args.append(len(windows))
    script = app.extensions.get("candor.count_windows")
    if script is None or script.registered_client is not storage.get_connection():
        script = storage.get_connection().register_script(_COUNT_WINDOWS)
        app.extensions["candor.count_windows"] = script
    return script(keys=keys, args=args)


def counted_answer(
    windows: list[tuple[RateLimitItem, list[str]]], out: Any, burst: bool
) -> tuple[list[tuple[int, int]], bool, int | None, bool]:
    """``_answer`` for ``windows``: each window's count and ttl, whether one refused, the burst's count
    and whether this post's mark was new. ValueError for an answer that is none."""
    return _answer(out, [item for item, _ in windows], burst)


def limit_headers(
    amount: int, remaining: int, reset_at: int, retry_after: str | None = None
) -> list[tuple[str, str]]:
    """The ``X-RateLimit-*`` and ``Retry-After`` headers of a post the limits accepted, as Flask-Limiter
    writes them (``Retry-After`` the window's reset, or ``retry_after`` when later)."""
    if retry_after is not None and retry_after.isdigit():
        reset_at = max(int(time.time()) + int(retry_after), reset_at)
    return [
        ("X-RateLimit-Limit", str(amount)),
        ("X-RateLimit-Remaining", str(remaining)),
        ("X-RateLimit-Reset", str(reset_at)),
        ("Retry-After", str(int(reset_at - time.time()))),
    ]


def _answer(
    out: Any, items: list[RateLimitItem], burst: bool
) -> tuple[list[tuple[int, int]], bool, int | None, bool]:
    """``_COUNT_WINDOWS``'s answer read as it must be: each window's count and ttl up to the first one
    over its amount (or all), whether one was over, then the burst's count and whether its member was
    new, if it was asked and no window refused. ValueError
    for anything else (a confused Redis, a proxy answering for it): then the post is counted the
    decorator's way, never judged by numbers that are not counts."""
    if not isinstance(out, list | tuple):
        raise ValueError(f"not a list: {type(out).__name__}")
    counts: list[tuple[int, int]] = []
    for item in items:
        if len(out) < 2 * len(counts) + 2:
            raise ValueError("too few counts")
        current, ttl = _whole(out[2 * len(counts)]), _whole(out[2 * len(counts) + 1])
        if current < 1:
            raise ValueError("a window counted below one")
        counts.append((current, ttl))
        if current > item.amount:
            break
    refused = bool(counts) and counts[-1][0] > items[len(counts) - 1].amount
    earlier, added = None, False
    if burst and not refused:
        if len(out) != 2 * len(counts) + 2:
            raise ValueError("no burst count")
        earlier, new = _whole(out[-2]), _whole(out[-1])
        if earlier < 0 or new not in (0, 1):
            raise ValueError("not a burst count")
        added = new == 1
    if len(out) != 2 * len(counts) + (2 if earlier is not None else 0):
        raise ValueError("more than was counted")
    return counts, refused, earlier, added


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | bytes | str):
        raise ValueError(f"not a whole number: {type(value).__name__}")
    return int(value)


def _limit_headers(response: Any) -> Any:
    """``X-RateLimit-*`` and ``Retry-After`` for a post ``count_at_once`` accepted, as Flask-Limiter
    writes them (``Retry-After`` the window's reset, or the answer's own when later; a 409/503 form
    page's own is put back after: ``extensions._failure_retry_after``)."""
    headers = g.get("candor_limit_headers")
    if headers is None:
        return response
    h = response.headers
    for name, value in limit_headers(*headers, retry_after=h.get("Retry-After")):
        h[name] = value
    return response


def init_app(app: Any) -> None:
    """Registered after ``extensions.init_app``: runs before its ``_failure_retry_after``."""
    app.after_request(_limit_headers)
