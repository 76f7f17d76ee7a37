"""Verbs on staff accounts. They take a Session, flush, and never commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.accounts import passwords
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


MIN_PASSWORD_CHARS = passwords.MIN_CHARS
TOKEN_PREFIX = "cnd_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3660
TOKEN_NAME_CHARS = 100
# A token's last use is written at most this often, so a busy integration does not write on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    password = passwords.check(password, email=email, name=name)
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


def set_password(session: Session, user: User, password: str) -> None:
    """Give ``user`` a new password (under the rules of app.accounts.passwords) and end every session
    they have, wherever: whoever knew the old password is signed out with it."""
    user.password_hash = _hasher.hash(passwords.check(password, email=user.email, name=user.name))
    session.flush()
    end_sessions(session, user)


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` is ``user``'s current one (to confirm a change of password)."""
    return _verify(user.password_hash, password)


def _verify(password_hash: str, password: object) -> bool:
    if not isinstance(password, str) or len(password) > passwords.MAX_CHARS * 4:
        return False
    candidates = dict.fromkeys((passwords.normalise(password), password))  # NFC first; older hashes: as typed
    for candidate in candidates:
        try:
            if _hasher.verify(password_hash, candidate):
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def unguessable_password() -> str:
    """For an account created without a password: nobody knows it, so only a reset link lets them in."""
    return secrets.token_urlsafe(32)


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
    if not _verify(user.password_hash if user else _DUMMY_HASH, password):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(passwords.normalise(password))
        session.flush()
    return user


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"No user with e-mail {email}.")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_token_name(name: object) -> str:
    return clean_text(name, "name", max_chars=TOKEN_NAME_CHARS, required=False)


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the stored row, and the secret, which exists only here and is shown once."""

    row: ApiToken
    secret: str


def issue_token(
    session: Session, user: User, *, name: str = "", lifetime_days: int = DEFAULT_TOKEN_DAYS
) -> IssuedToken:
    """Issue a named bearer token that expires after ``lifetime_days``; only its digest is kept."""
    if isinstance(lifetime_days, bool) or not isinstance(lifetime_days, int):
        raise InvalidInput("A token's lifetime is a whole number of days.", field="days")
    if not 1 <= lifetime_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"A token lives from 1 to {MAX_TOKEN_DAYS} days.", field="days")
    if not user.is_active:
        raise InvalidInput("A deactivated account cannot be given a token.", field="email")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utc_now()
    row = ApiToken(
        user_id=user.id,
        token_hash=_digest(secret),
        prefix=secret[:12],
        name=clean_token_name(name),
        created_at=now,
        expires_at=now + timedelta(days=lifetime_days),
    )
    session.add(row)
    session.flush()
    return IssuedToken(row, secret)


def create_token(
    session: Session, user: User, *, name: str = "", lifetime_days: int = DEFAULT_TOKEN_DAYS
) -> str:
    """Issue a bearer token and return its secret; the caller shows it once."""
    return issue_token(session, user, name=name, lifetime_days=lifetime_days).secret


@dataclass(frozen=True)
class LiveToken:
    token_id: int
    user_id: int
    use_unrecorded: bool  # last use older than LAST_USED_RESOLUTION: worth writing down


def live_token(session: Session, token: str) -> LiveToken | None:
    """The live (unexpired, unrevoked) ``token`` of an active user, or None. Reads only."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = utc_now()
    row = session.execute(
        select(ApiToken.id, ApiToken.user_id, ApiToken.last_used_at)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == _digest(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.is_active.is_(True),
        )
    ).first()
    if row is None:
        return None
    stale = row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION
    return LiveToken(row.id, row.user_id, stale)


def note_token_use(session: Session, token_id: int) -> None:
    """Write down that a token was used now (at most once per LAST_USED_RESOLUTION)."""
    now = utc_now()
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
    )


def user_for_token(session: Session, token: str) -> User | None:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or not row.is_live(utc_now()) or not row.user.is_active:
        return None
    return row.user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """Every token ``user`` has had, newest first, revoked and expired ones included (they say so)."""
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
    )


def all_tokens(session: Session, *, user: User | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def get_token(session: Session, token_id: object, *, owner: User | None = None) -> ApiToken:
    """The token with this id (``owner``'s, when given); NotFound otherwise, so ids of others stay secret."""
    if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 < token_id < 2**31:
        raise NotFound("There is no such token.")
    row = session.get(ApiToken, token_id, with_for_update=True)
    if row is None or (owner is not None and row.user_id != owner.id):
        raise NotFound("There is no such token.")
    return row


def revoke(session: Session, row: ApiToken) -> bool:
    """Revoke one token; False when it already was (revoking twice changes nothing)."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = max(utc_now(), row.created_at)
    session.flush()
    return True


def revoke_all_tokens(session: Session, user: User) -> int:
    """Revoke every token of ``user`` still unrevoked; returns how many."""
    now = utc_now()
    count = 0
    for row in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).with_for_update()
    ):
        row.revoked_at = max(now, row.created_at)
        count += 1
    session.flush()
    return count


def revoke_token(session: Session, token: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is not None:
        revoke(session, row)


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


def token_status(row: ApiToken, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    return "active" if row.expires_at > now else "expired"
