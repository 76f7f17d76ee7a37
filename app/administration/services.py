"""Account administration, audited: admins manage staff, and each member of staff their own password and
API tokens. No Flask here; the web (HTML and JSON) and the command line call these alike.

It sits above accounts, audit and mail because every change here is written to the audit log, and a
password reset is e-mailed through the outbox. The lower ``app.accounts.services`` does the raw work.

Who acts is explicit: a signed-in ``User``, or ``OPERATOR``, someone at the server's command line (who can
read the database anyway). An admin's changes are bound by one rule the database alone cannot state:
there is always at least one active admin. The rule is checked under a lock on every admin's row
(``SELECT ... FOR UPDATE``; on SQLite the request already holds the write lock), so two admins removing
each other at the same moment leave one of them in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import cursors
from app.accounts import passwords
from app.accounts import services as accounts
from app.accounts.models import ApiToken, Role, User, UserRole
from app.accounts.permissions import require
from app.audit import services as audit
from app.clock import utc_now
from app.errors import Conflict, InvalidInput, NotAllowed, NotFound
from app.mail import services as mail
from app.mail.compose import Site
from app.text import clean_text

RESET_MAX_AGE = timedelta(hours=1)
MAX_SEARCH_CHARS = 200
PROFILE_LIMITS = {"name": 200, "title": 200, "department": 200, "photo_alt": 300, "bio": 5000}


class Operator:
    """Someone at the server's command line: trusted with every account, recorded as "command line"."""

    def __repr__(self) -> str:
        return "<Operator>"


OPERATOR = Operator()
Actor = User | Operator


def _record(session: Session, actor: Actor | None, action: str, user: User | None, **data: Any) -> None:
    by = actor if isinstance(actor, User) else None
    if isinstance(actor, Operator):
        data["via"] = "command line"
    note = ""
    if user is not None:
        data = {"user_id": user.id, "email": user.email, **data}
        note = f"{user.name} <{user.email}>"
    audit.record(session, by, action, note=note, **data)


def _require_admin(actor: Actor | None) -> None:
    if not isinstance(actor, Operator):
        require(actor, "users.manage")


# --- reading ------------------------------------------------------------------------------------------


def get_user(session: Session, user_id: object, *, lock: bool = False) -> User:
    if isinstance(user_id, bool) or not isinstance(user_id, int) or not 0 < user_id < 2**31:
        raise NotFound("There is no such user.")
    user = session.get(User, user_id, with_for_update=lock, populate_existing=lock)
    if user is None:
        raise NotFound("There is no such user.")
    return user


def find_user(session: Session, email: str) -> User:
    return accounts.get_user_by_email(session, email)


def user_cursor(session: Session, user: User) -> str:
    """The cursor after ``user`` in ``search_users``'s order, its name lower-cased by the database (as
    the query compares it; SQLite lower-cases only ASCII, Python all of Unicode)."""
    lowered = session.scalar(select(func.lower(User.name)).where(User.id == user.id))
    return cursors.encode("users", (lowered or "", user.id))


def search_users(
    session: Session,
    actor: Actor | None,
    *,
    query: str = "",
    role: str = "",
    active: bool | None = None,
    per_page: int = 50,
    after: str | None = None,
    before: str | None = None,
) -> tuple[list[User], bool]:
    """Staff matching ``query`` (in name, e-mail, title or department), by name; and whether more follow
    (with ``before``, the page before that cursor's user: whether more come before it).

    ``after`` (a cursor: ``user_cursor`` of the last one shown) continues from a (lower-cased name, id),
    so every page costs the same, on the staff page and the API alike."""
    _require_admin(actor)
    q = select(User)
    text = clean_text(query, "q", max_chars=MAX_SEARCH_CHARS, required=False)
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (User.name, User.email, User.title, User.department)
                )
            )
        )
    if role:
        wanted = accounts.parse_roles([role]).pop()
        q = q.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == wanted.value)))
    if active is not None:
        q = q.where(User.is_active.is_(active))
    key, backward = cursors.position(after, before, "users", (str, int))
    q = cursors.after(q, (func.lower(User.name), User.id), key, descending=False, backward=backward)
    rows = list(session.scalars(q.limit(per_page + 1)))
    if backward and key is not None:  # read nearest first: put back in name order
        return rows[:per_page][::-1], len(rows) > per_page
    return rows[:per_page], len(rows) > per_page


# --- the one rule: an active admin remains ---------------------------------------------------------------


def _keep_an_admin(session: Session, actor: Actor | None, target: User, *, losing_admin: bool) -> None:
    """Refuse (409) a change that would leave no active admin, deciding on rows locked first.

    Every admin's row is locked in id order (one order, so two such changes queue rather than
    deadlock), then counted afresh: the second of two racing changes counts what the first committed.
    """
    if not losing_admin:
        return
    admin_ids = select(UserRole.user_id).where(UserRole.role == Role.ADMIN.value)
    locked = session.scalars(
        select(User)
        .where(User.id.in_(admin_ids))
        .order_by(User.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if isinstance(actor, User) and not (actor.is_active and actor.has_role(Role.ADMIN)):
        raise NotAllowed("Your own admin role or account was removed meanwhile.")
    others = [u for u in locked if u.id != target.id and u.is_active and u.has_role(Role.ADMIN)]
    if not others:
        who = "your own" if isinstance(actor, User) and actor.id == target.id else f"{target.name}'s"
        raise Conflict(
            f"This would remove {who} admin access and leave the blog without an active admin. "
            "Make someone else an admin first."
        )


# --- staff accounts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The fields of a staff profile that an admin edits; None leaves a field as it is."""

    email: str | None = None
    name: str | None = None
    title: str | None = None
    department: str | None = None
    bio: str | None = None
    photo_alt: str | None = None


def _clean_profile(profile: Profile) -> dict[str, str]:
    changes: dict[str, str] = {}
    if profile.email is not None:
        changes["email"] = accounts.normalise_email(profile.email)
    for name, limit in PROFILE_LIMITS.items():
        value = getattr(profile, name)
        if value is not None:
            changes[name] = clean_text(
                value, name, max_chars=limit, required=name == "name", multiline=name == "bio"
            )
    return changes


def create_user(
    session: Session,
    actor: Actor | None,
    profile: Profile,
    roles: set[Role],
    *,
    password: str | None,
) -> User:
    """A new staff account. Without a password, it gets none that anyone knows; send it a reset link."""
    _require_admin(actor)
    if profile.email is None or profile.name is None:
        raise InvalidInput("A new account needs an e-mail address and a name.", field="email")
    fields = _clean_profile(profile)
    if not roles:
        raise InvalidInput("A user needs at least one role.", field="roles")
    unusable = password is None
    user = accounts.create_user(
        session,
        email=fields["email"],
        name=fields["name"],
        password=password if password is not None else accounts.unguessable_password(),
        roles=roles,
        title=fields.get("title", ""),
        department=fields.get("department", ""),
    )
    user.bio = fields.get("bio", "")
    user.photo_alt = fields.get("photo_alt", "")
    session.flush()
    _record(
        session,
        actor,
        "user.created",
        user,
        name=user.name,
        roles=sorted(r.value for r in roles),
        password="none yet: a reset link is needed" if unusable else "set",
    )
    return user


def update_profile(session: Session, actor: Actor | None, user: User, profile: Profile) -> list[str]:
    """Change the given profile fields; returns the names of those that changed (audited, old and new)."""
    _require_admin(actor)
    fields = _clean_profile(profile)
    if "email" in fields and fields["email"] != user.email:
        taken = session.scalar(select(User.id).where(User.email == fields["email"], User.id != user.id))
        if taken is not None:
            raise Conflict(f"Another account already uses {fields['email']}.")
    changed = {name: value for name, value in fields.items() if getattr(user, name) != value}
    if not changed:
        return []
    before = {name: getattr(user, name) for name in changed}
    for name, value in changed.items():
        setattr(user, name, value)
    session.flush()
    _record(
        session,
        actor,
        "user.updated",
        user,
        changes={name: {"from": before[name], "to": changed[name]} for name in sorted(changed)},
    )
    return sorted(changed)


def set_roles(session: Session, actor: Actor | None, user: User, roles: set[Role]) -> bool:
    """Give ``user`` exactly ``roles`` (at least one); False when they already had them."""
    _require_admin(actor)
    if not roles:
        raise InvalidInput("A user needs at least one role.", field="roles")
    before = user.roles
    if roles == before:
        return False
    _keep_an_admin(session, actor, user, losing_admin=Role.ADMIN in before and Role.ADMIN not in roles)
    session.refresh(user, ["role_rows"])
    before = user.roles
    for row in list(user.role_rows):
        if Role(row.role) not in roles:
            user.role_rows.remove(row)
    for role in sorted(roles - before):
        user.role_rows.append(UserRole(role=role.value))
    session.flush()
    _record(
        session,
        actor,
        "user.roles",
        user,
        granted=sorted(r.value for r in roles - before),
        removed=sorted(r.value for r in before - roles),
    )
    return True


def deactivate(session: Session, actor: Actor | None, user: User) -> int:
    """Deactivate ``user``: every session and token ends at once; what they wrote stays theirs.

    Returns how many tokens were revoked. Deactivating an inactive account changes nothing.
    """
    _require_admin(actor)
    _keep_an_admin(session, actor, user, losing_admin=user.is_active and user.has_role(Role.ADMIN))
    session.refresh(user)
    if not user.is_active:
        return 0
    user.is_active = False
    accounts.end_sessions(session, user)
    revoked = accounts.revoke_all_tokens(session, user)
    _record(session, actor, "user.deactivated", user, tokens_revoked=revoked)
    return revoked


def reactivate(session: Session, actor: Actor | None, user: User) -> bool:
    """Let ``user`` sign in again (with their password; their old tokens stay revoked)."""
    _require_admin(actor)
    if user.is_active:
        return False
    user.is_active = True
    session.flush()
    _record(session, actor, "user.reactivated", user)
    return True


def set_password(session: Session, actor: Actor | None, user: User, password: str) -> None:
    """An admin (or the operator) sets ``user``'s password; every session of theirs ends."""
    _require_admin(actor)
    accounts.set_password(session, user, password)
    _record(session, actor, "user.password_set", user)


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    """A member of staff changes their own password, proving they know the current one."""
    if not accounts.check_password(user, current):
        raise InvalidInput("That is not your current password.", field="current_password")
    if passwords.normalise(new) == passwords.normalise(current):
        raise InvalidInput("The new password must differ from the current one.", field="password")
    accounts.set_password(session, user, new)
    _record(session, user, "user.password_changed", user)


# --- password reset by e-mailed link ------------------------------------------------------------------


def _password_stamp(user: User) -> str:
    """Binds a reset link to the password it replaces: once used (or the password changes), it is dead.

    A digest, so the link carries nothing of the hash itself.
    """
    return hashlib.sha256(f"{user.id}:{user.password_hash}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ResetMail:
    """What a reset e-mail needs from the edge: the blog, and how to spell the link for a token."""

    site: Site
    link: Callable[[str], str]  # token -> absolute URL of the reset page


# The signing salt names the purpose, so no other signed link of the blog can pass for a reset link.
RESET_SALT = "candor.accounts.password-reset"


def reset_token(secret: str, user: User) -> str:
    data = {"u": user.id, "p": _password_stamp(user), "iat": utc_now().timestamp()}
    return URLSafeSerializer(secret, salt=RESET_SALT).dumps(data)


def send_reset_link(session: Session, actor: Actor | None, user: User, how: ResetMail) -> None:
    """E-mail ``user`` a link to choose a new password: valid one hour, once."""
    if actor is not None:
        _require_admin(actor)
    if not user.is_active:
        raise InvalidInput("Reactivate the account before sending it a reset link.", field="user")
    token = reset_token(how.site.secret, user)
    minutes = int(RESET_MAX_AGE.total_seconds() // 60)
    if actor is None:
        opening = "Someone (we hope you) asked to reset your password."
    elif isinstance(actor, User):
        opening = f"{actor.name} sent you this link to set a password."
    else:
        opening = "An administrator sent you this link to set a password."
    body = (
        f"Hello {user.name},\n\n{opening}\n\n"
        f"Choose a new password here (the link works once, for {minutes} minutes):\n\n{how.link(token)}\n\n"
        f"Setting it signs you out everywhere else. If you did not ask for this, ignore this e-mail: "
        f"your password stays as it is.\n\n-- {how.site.name}\n"
    )
    mail.queue(
        session,
        to=user.email,
        subject=f"Set your password for {how.site.name}",
        body=body,
        purpose="password_reset",
        sender_domain=how.site.sender_domain,
    )
    _record(session, actor, "user.reset_link_sent", user)


def request_reset(session: Session, email: object, how: ResetMail) -> None:
    """ "Forgot password": e-mail a link to an active account with this address; otherwise do nothing.

    The caller answers the same either way, so nobody learns which addresses have accounts.
    """
    try:
        user = session.scalar(select(User).where(User.email == accounts.normalise_email(email)))
    except InvalidInput:
        return
    if user is not None and user.is_active:
        send_reset_link(session, None, user, how)


def user_for_reset(session: Session, secret: str, token: str, *, lock: bool = False) -> User:
    """The active user a live reset token is for; InvalidInput saying why a link is refused."""
    invalid = InvalidInput("This link is not valid. Ask for a new one.", field="token")
    if not isinstance(token, str) or not token or len(token) > 500:
        raise invalid
    try:
        data = URLSafeSerializer(secret, salt=RESET_SALT).loads(token)
    except BadSignature:
        raise invalid from None
    if not isinstance(data, dict) or not isinstance(data.get("iat"), int | float):
        raise invalid
    if utc_now().timestamp() - float(data["iat"]) > RESET_MAX_AGE.total_seconds():
        raise InvalidInput(
            "This link has expired (links work for one hour). Ask for a new one.", field="token"
        )
    try:
        user = get_user(session, data.get("u"), lock=lock)
    except NotFound:
        raise invalid from None
    if not user.is_active or data.get("p") != _password_stamp(user):
        raise InvalidInput(
            "This link has already been used, or the password was changed since. Ask for a new one.",
            field="token",
        )
    return user


def reset_password(session: Session, secret: str, token: str, password: str) -> User:
    """Set the password a reset link allows; the link dies with the old password, sessions end."""
    user = user_for_reset(session, secret, token, lock=True)
    accounts.set_password(session, user, password)
    _record(session, None, "user.password_reset", user)
    return user


# --- API tokens -----------------------------------------------------------------------------------------


def issue_token(
    session: Session, actor: Actor | None, user: User, *, name: str, lifetime_days: int
) -> accounts.IssuedToken:
    """A new token for ``user``: by themselves, or by the operator at the command line."""
    if isinstance(actor, User):
        if actor.id != user.id:
            raise NotAllowed("Only the account's owner creates its tokens.")
        require(actor, "tokens.own")
    issued = accounts.issue_token(session, user, name=name, lifetime_days=lifetime_days)
    _record(
        session,
        actor,
        "token.created",
        user,
        token_id=issued.row.id,
        name=issued.row.name,
        expires_at=issued.row.expires_at.isoformat(timespec="seconds"),
    )
    return issued


def revoke_token(
    session: Session, actor: Actor | None, token_id: object, *, owner: User | None = None
) -> ApiToken:
    """Revoke a token of ``owner`` (NotFound for anyone else's, so ids of others stay secret): its owner
    may, and an admin may revoke anyone's. Without ``owner``, any token (admins and the operator)."""
    if not (isinstance(actor, User) and owner is not None and actor.id == owner.id):
        _require_admin(actor)
    row = accounts.get_token(session, token_id, owner=owner)
    if accounts.revoke(session, row):
        _record(session, actor, "token.revoked", row.user, token_id=row.id, name=row.name)
    return row
