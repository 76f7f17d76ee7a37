"""The services outside the app as views, after-commit jobs and the CLI reach them: the Akismet client,
the Redis burst counter, the fetcher for links people wrote (``link_fetcher``: public destinations
only, see app/outbound.py), and the blog as e-mails link to it (``site``).

Both are built here, at the edge, from the app's config; domain services receive them as arguments and
never read config themselves, so tests can hand them their own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Flask, current_app

from app.comments.burst import RedisBurst
from app.mail.compose import Site
from app.outbound import Fetcher, OutboundPolicy
from app.spam.akismet_adapter import AkismetChecker, AkismetResult, AkismetSettings, CommentSignals
from app.spam.pipeline import Deferred
from app.sso.provider import OidcProvider, OidcSettings
from app.web.runtime import effective


def init_app(app: Flask) -> None:
    """One Akismet client (and connection pool) per app, built at start-up so bad settings fail early."""
    app.extensions["candor.akismet"] = AkismetChecker(AkismetSettings.from_config(app.config))
    try:
        policy = OutboundPolicy(
            allow=tuple(app.config.get("OUTBOUND_ALLOW", ())), user_agent="Candor link checker"
        )
    except ValueError as exc:
        raise ValueError(f"CANDOR_OUTBOUND_ALLOW: {exc}") from None
    app.extensions["candor.outbound"] = Fetcher(policy)
    # Single sign-on, when configured: its discovery document is fetched at the first sign-in, not here.
    oidc = OidcSettings.from_config(app.config)
    app.extensions["candor.oidc"] = OidcProvider(oidc) if oidc else None


def link_fetcher() -> Fetcher:
    """Fetches URLs that people wrote: refuses every non-public destination, at every redirect hop,
    except what CANDOR_OUTBOUND_ALLOW admits."""
    return current_app.extensions["candor.outbound"]


def oidc_provider() -> OidcProvider | None:
    """The configured OpenID provider, or None when single sign-on is off."""
    return current_app.extensions["candor.oidc"]


def akismet_checker() -> AkismetChecker:
    return current_app.extensions["candor.akismet"]


class WithinBudget:
    """The Akismet checker as a reader's comment request uses it: an answer within ``seconds``, or
    ``Deferred`` (the comment is then answered 202 "checking" and the job asks Akismet again).

    The call runs on a small shared pool of threads, so the request stops waiting at its budget
    whatever Akismet does; a call still queued then is cancelled, one under way ends at AKISMET_TIMEOUT.
    """

    _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="akismet")

    def __init__(self, inner: AkismetChecker, seconds: float) -> None:
        self.inner = inner
        self.settings = inner.settings
        self.deadline = time.monotonic() + seconds

    def check(self, signals: CommentSignals) -> AkismetResult:
        left = self.deadline - time.monotonic()
        if left <= 0 or not self.settings.api_key:
            if self.settings.api_key:
                raise Deferred("no time left in the request's budget")
            return self.inner.check(signals)  # no key: answered at once, nothing is asked
        future = self._pool.submit(self.inner.check, signals)
        try:
            return future.result(timeout=left)
        except FutureTimeout:
            future.cancel()
            raise Deferred(f"Akismet did not answer within {left * 1000:.0f} ms") from None


def budgeted_akismet() -> WithinBudget:
    """The checker for a reader's comment: CANDOR_COMMENT_CHECK_BUDGET_MS to answer, then the queue."""
    return WithinBudget(akismet_checker(), current_app.config["COMMENT_CHECK_BUDGET_MS"] / 1000)


def burst_counter() -> RedisBurst | None:
    """The shared burst counter on Redis when ``REDIS_URL`` is set (one client per app), else None."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    counter = current_app.extensions.get("candor.burst")
    if counter is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        # Namespaced like the page cache and the queue: blogs (or test stacks) sharing a Redis never
        # count each other's comments.
        prefix = (current_app.config.get("JOBS_QUEUE") or "candor") + ":burst:"
        counter = current_app.extensions["candor.burst"] = RedisBurst(client, prefix)
    return counter


def akismet_enabled() -> bool:
    return bool(akismet_checker().settings.api_key)


def site(settings: Mapping[str, Any] | None = None) -> Site:
    """The blog as e-mails link to it: absolute URLs on CANDOR_PUBLIC_URL, built without a request (cron).

    ``settings``: the run-time settings as a job read them in its own transaction
    (``runtime.config_from``); by default the request's (``effective``). A job holding SQLite's write
    lock must pass them: run in the caller (``JOBS_MODE=immediate``, tests) inside a request, the
    request's session would wait for that very lock (5 s, then the settings of the environment)."""
    config = current_app.config
    paths = current_app.url_map.bind("localhost", script_name=config.get("APPLICATION_ROOT") or "/")
    return Site(
        name=(settings if settings is not None else effective())["SITE_NAME"],
        base_url=config["PUBLIC_URL"],
        secret=config["SECRET_KEY"],
        sender=config["MAIL_FROM"],
        post_path=lambda slug: paths.build("posts.show", {"slug": slug}),
        unsubscribe_path=lambda token: paths.build("comments.unsubscribe", {"token": token}),
        confirm_path=lambda token: paths.build("comments.confirm_subscription", {"token": token}),
        queue_path=paths.build("moderation.queue"),
        needs_reply_path=paths.build("moderation.needs_reply"),
        comment_admin_path=lambda comment_id: paths.build("moderation.comment", {"comment_id": comment_id}),
        media_admin_path=lambda media_id: paths.build("media.item", {"media_id": media_id}),
        edit_post_path=lambda post_id: paths.build("staff.edit_post", {"post_id": post_id}),
    )
