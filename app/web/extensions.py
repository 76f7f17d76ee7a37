"""Third-party Flask extensions: CSRF on every form, rate limits keyed on the reader's real IP."""

from __future__ import annotations

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
