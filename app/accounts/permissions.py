"""Who may do what: the one place a permission is decided.

Each action maps to a rule over the actor and, where it matters, the post. Views and services both
ask ``require``; nothing else compares roles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.accounts.models import Role, User
from app.errors import NotAllowed, NotAuthenticated

if TYPE_CHECKING:
    from app.posts.models import Post


def _is_staff(user: User, _post: Post | None) -> bool:
    return bool(user.roles)


def _owns(user: User, post: Post | None) -> bool:
    return post is not None and post.author_id == user.id


RULES: dict[str, tuple[str, Callable[[User, Post | None], bool]]] = {
    "post.create": ("Only authors can write posts.", lambda u, p: u.has_role(Role.AUTHOR)),
    "post.view_unpublished": ("Only staff can see unpublished posts.", _is_staff),
    "post.revise": (
        "Only the post's author or an editor can revise it.",
        lambda u, p: (_owns(u, p) and u.has_role(Role.AUTHOR)) or u.has_role(Role.EDITOR),
    ),
    "post.submit": (
        "Only the post's author (or an editor) can submit it for review.",
        lambda u, p: _owns(u, p) or u.has_role(Role.EDITOR),
    ),
    "post.withdraw": (
        "Only the post's author can withdraw it from review.",
        lambda u, p: _owns(u, p),
    ),
    "post.approve": (
        "Only an editor who did not write the post can approve it.",
        lambda u, p: u.has_role(Role.EDITOR) and not _owns(u, p),
    ),
    "post.request_changes": ("Only editors can request changes.", lambda u, p: u.has_role(Role.EDITOR)),
    "post.medical_review": (
        "Only editors record medical reviews.",
        lambda u, p: u.has_role(Role.EDITOR),
    ),
    "post.retract": ("Only editors can retract a post.", lambda u, p: u.has_role(Role.EDITOR)),
    "post.override_gate": (
        "Only an editor who did not write the post can override a publishing gate.",
        lambda u, p: u.has_role(Role.EDITOR) and not _owns(u, p),
    ),
    "history.redact": (
        "Only editors can redact identifiers from stored text.",
        lambda u, p: u.has_role(Role.EDITOR),
    ),
    "audit.view": ("Only staff can read the audit log.", _is_staff),
    "media.upload": (
        "Only authors and editors can add images.",
        lambda u, p: u.has_role(Role.AUTHOR) or u.has_role(Role.EDITOR),
    ),
    "media.manage_any": (
        "Only the image's uploader or an editor can change it.",
        lambda u, p: u.has_role(Role.EDITOR),
    ),
    "disclosure.record": ("Only staff keep disclosures.", _is_staff),
    "tokens.own": ("Only staff hold API tokens.", _is_staff),
    "users.manage": ("Only admins can manage users.", lambda u, p: u.has_role(Role.ADMIN)),
    "settings.manage": ("Only admins can change the blog's settings.", lambda u, p: u.has_role(Role.ADMIN)),
    "comments.moderate": (
        "Only moderators can moderate comments and answer readers.",
        lambda u, p: u.has_role(Role.MODERATOR),
    ),
    "comments.staff_comment": ("Only staff comment as staff.", _is_staff),
    "comments.close": (
        "Only editors can close or reopen a post's comments.",
        lambda u, p: u.has_role(Role.EDITOR),
    ),
    "topics.manage": ("Only editors can add or rename topics.", lambda u, p: u.has_role(Role.EDITOR)),
    "sites.propose": ("Only staff propose external sites.", _is_staff),
    "sites.decide_public_affairs": (
        "Only a Public Affairs editor decides for Public Affairs.",
        lambda u, p: u.has_role(Role.EDITOR),
    ),
    "sites.decide_compliance": (
        "Only a compliance reviewer decides for the Office for Compliance.",
        lambda u, p: u.has_role(Role.COMPLIANCE),
    ),
}


def can(user: User | None, action: str, post: Post | None = None) -> bool:
    if user is None or not user.is_active:
        return False
    return RULES[action][1](user, post)


def require(user: User | None, action: str, post: Post | None = None) -> User:
    """Return the user if allowed; raise NotAuthenticated for nobody, NotAllowed for the wrong somebody."""
    if user is None:
        raise NotAuthenticated("Sign in, or send an API token, to do this.")
    if not can(user, action, post):
        raise NotAllowed(RULES[action][0])
    return user
