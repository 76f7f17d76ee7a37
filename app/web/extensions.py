"""Third-party Flask extensions: CSRF on every form, rate limits keyed on the reader's real IP."""

from __future__ import annotations

import time

from flask import Flask, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def client_ip() -> str:
    """The reader's IP. ProxyFix (see security.py) has already peeled exactly the trusted hops."""
    return request.remote_addr or "unknown"


def normalised_email_key() -> str:
    """The account a sign-in or reset form names, as its owner would be found: so "Ann@X.org " and
    "ann@x.org" count against one account, from however many IPs they come."""
    raw = request.form.get("email", "")
    return "account:" + " ".join(raw.split()).lower()[:320]


limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)


def init_app(app: Flask) -> None:
    # The limiter first: a flood of forged or expired forms still counts against the sender.
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
    csrf.init_app(app)


def retry_message() -> str:
    """What a 429 page says: which limit, and when to try again (also in the Retry-After header)."""
    limit = limiter.current_limit
    if limit is None:
        return "Too many requests; please wait a moment and try again."
    seconds = max(1, int(limit.reset_at - time.time()))
    minutes, rest = divmod(seconds, 60)
    wait = (
        f"{minutes} minute{'s' if minutes != 1 else ''}"
        if minutes
        else f"{rest} second{'s' if rest != 1 else ''}"
    )
    if minutes and rest:
        wait = f"{minutes + 1} minutes"
    return f"Too many attempts ({limit.limit}). Please try again in {wait}."
