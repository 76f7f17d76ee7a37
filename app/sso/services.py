"""Who a verified OpenID Connect identity is in the blog: link, provision, map roles. Flush, never commit.

The provider adapter (``app/sso/provider.py``) has already proved the claims came from the configured
issuer for this client; these rules decide what they may do here:

- a known (issuer, subject) is its linked account, whatever e-mail it now claims;
- a new one links to the staff account with the same e-mail, only when the provider says that address is
  verified, and only if that account has no other subject at this issuer (a reused address is refused);
- otherwise it is refused, unless auto-provisioning creates the account (with its mapped roles);
- a deactivated account is refused;
- with a role claim configured, each sign-in sets the mapped roles (those the map can grant) from the
  claim, leaves the others alone, and audits any change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import services as accounts
from app.accounts.models import Role, User
from app.audit import services as audit
from app.clock import utc_now
from app.errors import InvalidInput, NotAllowed
from app.sso.models import UserIdentity
from app.text import clean_text


class SignInRefused(NotAllowed):
    """The provider vouched for someone the blog will not sign in; ``reason`` picks the page's words."""

    def __init__(self, reason: str, message: str, *, keep_changes: bool = False) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason
        # True when the refusal itself must be kept (roles the provider withdrew stay withdrawn).
        self.keep_changes = keep_changes


@dataclass(frozen=True)
class SsoPolicy:
    issuer: str
    role_claim: str | None = None
    role_map: dict[str, list[str]] = field(default_factory=dict)
    auto_provision: bool = False

    @classmethod
    def from_config(cls, config: Any) -> SsoPolicy:
        return cls(
            issuer=config["OIDC_ISSUER"],
            role_claim=config.get("OIDC_ROLE_CLAIM"),
            role_map=dict(config.get("OIDC_ROLE_MAP") or {}),
            auto_provision=bool(config.get("OIDC_AUTO_PROVISION")),
        )

    @property
    def managed_roles(self) -> frozenset[Role]:
        return frozenset(Role(r) for roles in self.role_map.values() for r in roles)

    def roles_from(self, claims: dict[str, Any]) -> tuple[frozenset[Role], list[str]]:
        """The roles the claim's groups grant, and the groups (strings only, as the provider sent them)."""
        raw = claims.get(self.role_claim) if self.role_claim else None
        if isinstance(raw, str):
            raw = raw.replace(",", " ").split()
        # No cap on how many: the ID token's own size limit bounds them, and a cap would drop real groups.
        groups = [g for g in raw if isinstance(g, str)] if isinstance(raw, list) else []
        granted = frozenset(Role(r) for g in groups for r in self.role_map.get(g, []))
        return granted, groups


def _verified_email(claims: dict[str, Any]) -> str:
    # Some providers send the boolean as a string; nothing else counts (not 1, which equals True).
    verified = claims.get("email_verified")
    if verified is not True and verified != "true":
        raise SignInRefused(
            "unverified", "Your provider has not verified your e-mail address, so it cannot name an account."
        )
    email = claims.get("email")
    try:
        return accounts.normalise_email(email if isinstance(email, str) else "")
    except InvalidInput:
        raise SignInRefused("unknown", "Your provider sent no usable e-mail address.") from None


def _display_name(claims: dict[str, Any], email: str) -> str:
    for candidate in (
        claims.get("name"),
        " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if isinstance(p, str)),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:200]
    return email.partition("@")[0]


def _link(session: Session, policy: SsoPolicy, user: User, subject: str, email: str) -> UserIdentity:
    existing = session.scalar(
        select(UserIdentity).where(UserIdentity.user_id == user.id, UserIdentity.issuer == policy.issuer)
    )
    if existing is not None and existing.subject == subject:
        # The same person's other sign-in, begun at the same moment, linked it first: one identity.
        return existing
    if existing is not None:
        raise SignInRefused(
            "linked_elsewhere",
            "This staff account is already linked to another identity at your provider.",
        )
    identity = UserIdentity(user_id=user.id, issuer=policy.issuer, subject=subject, email=email)
    session.add(identity)
    session.flush()
    audit.record(
        session, user, "account.sso_linked", note=f"{user.email} linked to {policy.issuer}", user_id=user.id
    )
    return identity


def sign_in(session: Session, policy: SsoPolicy, claims: dict[str, Any]) -> User:
    """The active staff user these verified claims sign in as; raises SignInRefused otherwise."""
    subject = claims["sub"]
    identity = session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == policy.issuer, UserIdentity.subject == subject)
    )
    if identity is None:
        email = _verified_email(claims)
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            granted, _ = policy.roles_from(claims)
            if not policy.auto_provision:
                raise SignInRefused("unknown", f"There is no staff account for {email}.")
            if not granted:
                raise SignInRefused(
                    "no_role", f"Your groups at the provider give {email} no role in the blog."
                )
            try:
                name = clean_text(_display_name(claims, email), "name", max_chars=200)
            except InvalidInput:
                name = email.partition("@")[0]
            user = accounts.create_user_without_password(session, email=email, name=name, roles=set(granted))
            audit.record(
                session,
                user,
                "account.sso_provisioned",
                note=f"{email} created at first sign-in through {policy.issuer}",
                user_id=user.id,
                roles=sorted(r.value for r in granted),
            )
        else:
            # Lock the account (PostgreSQL; SQLite's callback holds the write lock already), so a second
            # first sign-in begun at the same moment waits here and then finds the identity this one links.
            session.scalar(select(User.id).where(User.id == user.id).with_for_update())
            if not user.is_active:
                raise SignInRefused("deactivated", "This staff account has been deactivated.")
        identity = _link(session, policy, user, subject, email)
    user = identity.user
    if not user.is_active:
        raise SignInRefused("deactivated", "This staff account has been deactivated.")
    if policy.role_claim:
        _apply_roles(session, policy, user, claims)
    identity.last_sign_in_at = utc_now()
    session.flush()
    if not user.roles:
        raise SignInRefused(
            "no_role", "Your groups at the provider give you no role in the blog.", keep_changes=True
        )
    return user


def _apply_roles(session: Session, policy: SsoPolicy, user: User, claims: dict[str, Any]) -> None:
    granted, groups = policy.roles_from(claims)
    before = user.roles
    after = (before - policy.managed_roles) | granted
    if after == before:
        return
    accounts.set_roles(session, user, set(after))
    audit.record(
        session,
        user,
        "account.roles_from_sso",
        note=f"Roles of {user.email} set from the provider's {policy.role_claim!r} claim",
        user_id=user.id,
        before=sorted(r.value for r in before),
        after=sorted(r.value for r in after),
        groups=[g for g in groups if g in policy.role_map][:50],  # the groups that counted
    )
