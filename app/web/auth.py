"""Who is asking: a signed session cookie for the web, a bearer token for the API."""

from __future__ import annotations

from flask import Flask, g, request, session

from app.accounts.models import User
from app.accounts.services import user_for_token
from app.web.database import db


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.context_processor(lambda: {"current_user": current_user()})


def _load_user() -> None:
    g.user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and request.path.startswith("/api/"):
        g.user = user_for_token(db(), header.removeprefix("Bearer ").strip())
        g.via_token = True
        return
    user_id = session.get("user_id")
    if isinstance(user_id, int):
        user = db().get(User, user_id)
        # The session also carries a fragment of the password hash: changing the password signs out.
        if user is not None and user.is_active and session.get("auth") == user.password_hash[-16:]:
            g.user = user


def current_user() -> User | None:
    return g.get("user")


def log_in(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session["auth"] = user.password_hash[-16:]
    session.permanent = True


def log_out() -> None:
    session.clear()
