"""The link between a staff account and an identity at an OpenID provider."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utc_now
from app.db import Base, intpk, str320


class UserIdentity(Base):
    """(issuer, subject) is who signed in; it names one account, and an account one subject per issuer.

    The second rule matters when a provider reuses an e-mail address for a new person: the new subject
    finds the account already linked, and is refused instead of inheriting it.
    """

    __tablename__ = "user_identities"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_user_identities_issuer_subject"),
        UniqueConstraint("user_id", "issuer", name="uq_user_identities_user_issuer"),
        CheckConstraint("length(issuer) > 0", name="issuer_given"),
        CheckConstraint("length(subject) > 0", name="subject_given"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str320]  # the verified address it was linked by (or last signed in with)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_sign_in_at: Mapped[datetime] = mapped_column(default=utc_now)

    user: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<UserIdentity {self.id} user={self.user_id} {self.issuer} {self.subject}>"
