"""Who is asking: a signed session cookie for the web, a bearer token for the API."""

from __future__ import annotations

import logging

from flask import Flask, g, request, session
from sqlalchemy.exc import DBAPIError

from app.accounts.models import User
from app.accounts.services import end_sessions, live_token, note_token_use
from app.db import rollback, writing
from app.web.database import db, session_factory

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.context_processor(lambda: {"current_user": current_user()})


def _load_user() -> None:
    g.user = None
    if request.path.startswith("/api/"):
        # The JSON API knows bearer tokens only. A session cookie is sent by the browser on its own, so
        # honouring it here would let any page post a body-less form to the API as a signed-in editor.
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            user_id = _check_token(header.removeprefix("Bearer ").strip())
            g.user = db().get(User, user_id) if user_id is not None else None
            g.via_token = True
        return
    user_id = session.get("user_id")
    if isinstance(user_id, int):
        user = db().get(User, user_id)
        # The session also carries a fragment of the password hash (changing the password signs out)
        # and the user's session generation (signing out anywhere ends every session, server-side).
        if (
            user is not None
            and user.is_active
            and session.get("auth") == user.password_hash[-16:]
            and session.get("generation") == user.session_generation
        ):
            g.user = user


def _check_token(secret: str) -> int | None:
    """The user id of a live token, its use noted, in a short session of its own that ends before the
    request's begins: the note is kept even when the request writes nothing (a GET) or fails, and on
    SQLite it never waits on the request's own write lock. Noting is best effort: a busy database costs
    the note, never the request."""
    session = session_factory()()
    try:
        token = live_token(session, secret)
        if token is None or not token.use_unrecorded:
            return token.user_id if token else None
        rollback(session)
        writing(session)
        try:
            note_token_use(session, token.token_id)
            session.commit()
        except DBAPIError as exc:
            rollback(session)
            log.info("token use not recorded: %s", exc.orig)
        return token.user_id
    finally:
        session.close()


def current_user() -> User | None:
    return g.get("user")


def log_in(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session["auth"] = user.password_hash[-16:]
    session["generation"] = user.session_generation
    session.permanent = True


def log_out() -> None:
    """Sign out here and end the user's every other session: the server forgets the generation."""
    user = current_user()
    if user is not None:
        end_sessions(db(), user)
    session.clear()
