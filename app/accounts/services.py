"""Verbs on staff accounts. They take a Session, flush, and never commit."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken, Role, User, UserRole
from app.clock import utc_now, zone
from app.errors import Conflict, InvalidInput, NotAllowed, NotFound
from app.text import clean_text

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("candor-timing-equaliser")


def use_hash_profile(name: str) -> None:
    """Switch Argon2 parameters (e.g. "CHEAPEST" for test suites). Stored hashes carry their own
    parameters, so existing ones still verify, and are upgraded on the next sign-in."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(getattr(profiles, name))
    _DUMMY_HASH = _hasher.hash("candor-timing-equaliser")


MIN_PASSWORD_CHARS = 10
TOKEN_PREFIX = "cnd_"


def normalise_email(email: str) -> str:
    email = clean_text(email, "email", max_chars=320).lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email:
        raise InvalidInput(f"{email!r} is not an e-mail address.", field="email")
    return email


def parse_roles(names: list[str] | tuple[str, ...]) -> set[Role]:
    roles: set[Role] = set()
    for name in names:
        try:
            roles.add(Role(name.strip().lower()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInput(f"Unknown role {name!r}; roles are {known}.", field="role") from None
    if not roles:
        raise InvalidInput("A user needs at least one role.", field="role")
    return roles


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    roles: set[Role],
    title: str = "",
    department: str = "",
) -> User:
    email = normalise_email(email)
    name = clean_text(name, "name", max_chars=200)
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"The password needs at least {MIN_PASSWORD_CHARS} characters.", field="password")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with e-mail {email} already exists.")
    user = User(
        email=email,
        name=name,
        title=clean_text(title, "title", max_chars=200, required=False),
        department=clean_text(department, "department", max_chars=200, required=False),
        password_hash=_hasher.hash(password),
        role_rows=[UserRole(role=r.value) for r in sorted(roles)],
    )
    session.add(user)
    session.flush()
    return user


def create_user_without_password(session: Session, *, email: str, name: str, roles: set[Role]) -> User:
    """A staff user who signs in through single sign-on only: the stored "hash" is no Argon2 hash, so no
    password ever matches it (``authenticate`` refuses), until an administrator sets one."""
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with e-mail {email} already exists.")
    user = User(
        email=email,
        name=clean_text(name, "name", max_chars=200),
        password_hash="!no-password:" + secrets.token_hex(16),
        role_rows=[UserRole(role=r.value) for r in sorted(roles)],
    )
    session.add(user)
    session.flush()
    return user


def set_roles(session: Session, user: User, roles: set[Role]) -> None:
    """Give ``user`` exactly ``roles`` (possibly none: a staff member whose groups grant no role)."""
    keep = {row.role for row in user.role_rows if Role(row.role) in roles}
    user.role_rows = [row for row in user.role_rows if row.role in keep] + [
        UserRole(role=r.value) for r in sorted(roles) if r.value not in keep
    ]
    session.flush()


def end_sessions(session: Session, user: User) -> None:
    """End every signed-in session of ``user`` (sign-out, a new password, deactivation)."""
    user.session_generation = User.session_generation + 1  # type: ignore[assignment]  (SQL: +1, race-free)
    session.flush()
    session.refresh(user, ["session_generation"])


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None; rehashes when Argon2's parameters moved on."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    user = session.scalar(select(User).where(User.email == email))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return user


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No user with e-mail {email}.")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User) -> str:
    """Issue a bearer token; the caller shows it once, only its digest is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), prefix=token[:12]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.is_active:
        return None
    return row.user


def revoke_token(session: Session, token: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utc_now()
        session.flush()


def set_timezone(session: Session, actor: User, user: User, name: str | None) -> None:
    """Set the zone ``user`` sees times in; empty or None means the organisation's.

    Only the user sets their own: a zone is a personal preference, not something another role decides.
    """
    if actor.id != user.id:
        raise NotAllowed("Only you choose the time zone you see.")
    name = (name or "").strip() or None
    if name is not None:
        try:
            zone(name)
        except ValueError:
            raise InvalidInput(
                "Choose a time zone from the list, such as Europe/London.", field="timezone"
            ) from None
    user.timezone = name
    session.flush()
