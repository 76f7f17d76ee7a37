"""What every staff page shares, whichever package serves it: the staff navigation for each role (built
once here, so every section's layout shows the same links), and, for the moderators' desk
(app.moderation, app.contact), sign-in first, the moderator's permission, the way back after a POST,
and the words the layout needs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.accounts.models import User
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


def desk_path(target: str, default: str) -> str:
    """``target`` if it is one of the desk's own pages, else ``default``: never another site, nor a path
    with control or invisible characters, spaces or backslashes (which browsers reinterpret, and which
    cannot go in a header), nor one too long for a header."""
    if (
        not target.startswith(DESK_PATHS)
        or "//" in target
        or len(target) > 2000
        or any(c == "\\" or not c.isprintable() or c.isspace() for c in target)
    ):
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


def back(default: str) -> ResponseReturnValue:
    """Back where the moderator was (the form's ``next``): only to the desk's own pages."""
    return redirect(desk_path(request.form.get("next", ""), default), 303)


def vocabulary() -> dict[str, Any]:
    """For a ``context_processor``: the staff layout's navigation, and how long things have waited."""
    return {
        "age": age,
        "now": utc_now(),
        "is_editor": can(current_user(), "post.request_changes"),
        "can_write": can(current_user(), "post.create"),
    }


def init_app(app: Flask) -> None:
    app.context_processor(lambda: {"staff_links": staff_links(current_user())})


def staff_links(user: User | None) -> list[dict[str, str]]:
    """The staff navigation for ``user``'s roles: each link a ``key``, a ``label`` and an ``href``.

    Each role sees the way to its own work: authors their posts and error reports, editors the review
    queue, every post and the error reports, moderators the comment desk, admins staff administration
    and site settings; everyone their disclosure, API tokens, password and time zone.
    """
    if user is None or not can(user, "post.view_unpublished"):
        return []
    links = [("dashboard", "Dashboard", "staff.dashboard")]
    if can(user, "post.create"):
        links.append(("new", "New post", "staff.new_post"))
    if can(user, "post.request_changes"):
        links += [("reviews", "Review queue", "staff.reviews"), ("posts", "All posts", "staff.post_list")]
    links.append(("search", "Search", "search.staff_results"))
    if can(user, "topics.manage"):
        links.append(("topics", "Topics", "topics.staff_topics"))
    if can(user, "post.medical_review"):
        links.append(("due", "Due for re-review", "medical.due"))
    if can(user, "post.create") or can(user, "post.request_changes"):
        links.append(("errors", "Error reports", "corrections.report_queue"))
    if can(user, "media.upload"):
        links.append(("media", "Images", "media.library"))
    if can(user, PERMISSION):
        links.append(("comments", "Comments", "moderation.queue"))
    links += [("disclosure", "My disclosure", "staff.disclosure"), ("audit", "Audit log", "staff.audit_log")]
    if can(user, "sites.propose"):
        links.append(("sites", "External sites", "sites_desk.index"))
    if can(user, "users.manage"):
        links.append(("users", "Staff accounts", "people.users"))
    if can(user, "settings.manage"):
        links.append(("settings", "Site settings", "settings.edit"))
    links += [("tokens", "API tokens", "people.tokens"), ("password", "Password", "people.password")]
    links.append(("me", "Your settings", "staff.my_settings"))
    return [{"key": key, "label": label, "href": url_for(endpoint)} for key, label, endpoint in links]


# --- confirmation steps ---------------------------------------------------------------------------------
# Whatever cannot be undone (approving, retracting, withdrawing, marking spam, deleting) is asked twice:
# a GET page says what will happen and carries the one POST form that does it, with ``confirm=yes``.
# A POST without it changes nothing and answers 303 to that page, so a form elsewhere (or a script
# posting straight to the action) still meets the question; and every POST answers with a redirect,
# so reloading a page never sends it again.


def confirmed() -> bool:
    return request.form.get("confirm") == "yes"


def confirm_page(
    *,
    title: str,
    consequences: list[str],
    action: str,
    button: str,
    back_url: str,
    hidden: list[tuple[str, Any]] | None = None,
    fields: list[Any] | None = None,
    danger: bool = False,
    notice: str = "",
    can_confirm: bool = True,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "staff/confirm.html",
        title=title,
        consequences=consequences,
        action=action,
        button=button,
        back_url=back_url,
        hidden=hidden or [],
        fields=fields or [],
        danger=danger,
        notice=notice,
        can_confirm=can_confirm,
    ), status
