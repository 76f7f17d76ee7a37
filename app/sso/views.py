"""Single sign-on routes: ``/login/oidc`` sends the browser to the provider, ``/login/oidc/callback``
brings it back signed in (or tells it plainly why not).

The pending sign-in (state, nonce, PKCE verifier, where to go next) lives in the signed session cookie,
so a callback is only honoured in the browser that started it (no state fixation, no login CSRF), and
each state is removed at its first use, good or bad (a replayed callback URL is refused). The callback
address is built on CANDOR_PUBLIC_URL, never on the request's Host.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session

from app.accounts.views import safe_next
from app.sso import services as sso
from app.sso.provider import OidcProvider, PendingSignIn, ProviderError, TokenRejected
from app.web.auth import log_in
from app.web.database import db, keep_on_error, writes_on_get
from app.web.extensions import limiter
from app.web.outside import oidc_provider
from app.web.urls import public_url

log = logging.getLogger(__name__)

bp = Blueprint("sso", __name__)

PENDING_KEY = "oidc_pending"
# Sign-ins begun in other tabs stay valid, up to a few; the oldest is forgotten first.
MAX_PENDING = 3
PENDING_MAX_AGE_SECONDS = 600
MAX_PARAM_CHARS = 2048

PAGES = {
    "expired": (400, "This sign-in has expired or was already used"),
    "denied": (403, "The sign-in was cancelled at the provider"),
    "mixup": (400, "This answer came from another provider"),
    "unreachable": (502, "The sign-in service could not be reached"),
    "rejected": (403, "The provider's answer could not be verified"),
    "unknown": (403, "No staff account for this identity"),
    "unverified": (403, "Your e-mail address is not verified"),
    "deactivated": (403, "This staff account is deactivated"),
    "linked_elsewhere": (403, "This account is linked to another identity"),
    "no_role": (403, "No role in the blog"),
}


def _provider() -> OidcProvider:
    provider = oidc_provider()
    if provider is None:
        abort(404)
    return provider


def _redirect_uri() -> str:
    return public_url("sso.callback")


def _refused(reason: str, detail: str = "") -> Any:
    status, heading = PAGES[reason]
    config = current_app.config
    contact = config.get("OIDC_CONTACT") or f"an administrator of {config['SITE_NAME']}"
    return render_template(
        "sso/refused.html",
        reason=reason,
        heading=heading,
        detail=detail,
        contact=contact,
        provider_name=config["OIDC_NAME"],
    ), status


def _pending() -> dict[str, Any]:
    stored = session.get(PENDING_KEY)
    now = time.time()
    if not isinstance(stored, dict):
        return {}
    return {
        state: data
        for state, data in stored.items()
        if isinstance(data, dict)
        and isinstance(data.get("at"), int | float)
        and 0 <= now - data["at"] < PENDING_MAX_AGE_SECONDS
    }


@bp.get("/login/oidc")
@limiter.limit("20 per minute")
def start() -> Any:
    provider = _provider()
    next_path = safe_next(request.args.get("next"), default="staff.dashboard")
    try:
        url, pending = provider.start(_redirect_uri(), next_path)
    except ProviderError as exc:
        log.warning("single sign-on could not start: %s", exc)
        return _refused("unreachable")
    pending_states = _pending()
    pending_states[pending.state] = pending.as_dict()
    session[PENDING_KEY] = dict(list(pending_states.items())[-MAX_PENDING:])
    return redirect(url)


@bp.get("/login/oidc/callback")
@writes_on_get
@limiter.limit("30 per minute")
def callback() -> Any:
    provider = _provider()
    args = request.args
    state = args.get("state", "")
    pending_states = _pending()
    data = pending_states.pop(state, None) if 0 < len(state) <= MAX_PARAM_CHARS else None
    # Used once, whatever happens next: the same callback URL a second time finds nothing.
    if PENDING_KEY in session:
        session[PENDING_KEY] = pending_states
    pending = PendingSignIn.from_dict(state, data)
    if pending is None:
        return _refused("expired")
    if "error" in args:
        log.info("provider answered error %r", args.get("error", "")[:100])
        return _refused("denied")
    # RFC 9207: a provider that names itself in the answer must be the one we asked.
    issuer = args.get("iss")
    if issuer is not None and issuer.rstrip("/") != provider.settings.issuer.rstrip("/"):
        log.warning("callback from another issuer refused")
        return _refused("mixup")
    code = args.get("code", "")
    if not 0 < len(code) <= MAX_PARAM_CHARS:
        return _refused("expired")
    try:
        claims = provider.finish(pending, code, _redirect_uri())
    except ProviderError as exc:
        log.warning("single sign-on failed at the provider: %s", exc)
        return _refused("unreachable")
    except TokenRejected as exc:
        log.warning("single sign-on refused an answer: %s", exc)
        return _refused("rejected")
    try:
        user = sso.sign_in(db(), sso.SsoPolicy.from_config(current_app.config), claims)
    except sso.SignInRefused as exc:
        if exc.keep_changes:
            keep_on_error()
        log.info("single sign-on refused (%s) for subject %r", exc.reason, claims.get("sub"))
        return _refused(exc.reason, exc.message)
    log_in(user)
    flash(f"Signed in as {user.name}.")
    return redirect(safe_next(pending.next_path, default="staff.dashboard"))
