"""What every page of the moderators' desk shares, whichever package serves it (app.moderation,
app.contact): sign-in first, the moderator's permission, the way back after a POST, and the words the
staff layout needs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

from app.accounts.permissions import can, require
from app.clock import utc_now
from app.mail.compose import age
from app.web.auth import current_user

PERMISSION = "comments.moderate"
DESK_PATHS = ("/staff/comments", "/staff/contact")


def moderators_only() -> ResponseReturnValue | None:
    """A ``before_request``: anonymous visitors go to sign-in and come back; signed-in staff who do not
    moderate get a 403."""
    if current_user() is None:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("accounts.login", next=target))
    require(current_user(), PERMISSION)
    return None


def back(default: str) -> ResponseReturnValue:
    """Back where the moderator was (the form's ``next``): only to the desk's own pages, never to
    another site."""
    target = request.form.get("next", "")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(DESK_PATHS):
        target = default
    return redirect(target, 303)


def vocabulary() -> dict[str, Any]:
    """For a ``context_processor``: the staff layout's navigation, and how long things have waited."""
    return {
        "age": age,
        "now": utc_now(),
        "is_editor": can(current_user(), "post.request_changes"),
        "can_write": can(current_user(), "post.create"),
    }
