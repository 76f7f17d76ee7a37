"""Every model, imported once, so Alembic and the schema tests see the whole metadata."""

from app.accounts.models import ApiToken, User, UserRole
from app.audit.models import AuditEntry
from app.comments.models import Comment, ModerationDecision, Subscription
from app.contact.models import ContactMessage, ContactReply
from app.corrections.models import ErrorReport, RevisionDiff
from app.db import Base
from app.disclosures.models import Disclosure
from app.editorial.models import GateOverride, LinkCheck, Review
from app.jobs.models import JobRun
from app.mail.models import OutboxMessage
from app.medical.models import HealthMark, MedicalReview
from app.moderation.models import AkismetSubmission
from app.posts.models import Approval, ApprovalWithdrawal, Post, PostSlug, Publication, Retraction, Revision
from app.redaction.models import Redaction, RedactionApplication, RedactionRewrite
from app.settings.models import Setting, SettingChange
from app.sso.models import UserIdentity

__all__ = [
    "Approval",
    "ApprovalWithdrawal",
    "PostSlug",
    "AkismetSubmission",
    "Comment",
    "ContactMessage",
    "ContactReply",
    "ModerationDecision",
    "OutboxMessage",
    "Subscription",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Disclosure",
    "ErrorReport",
    "RevisionDiff",
    "GateOverride",
    "JobRun",
    "Setting",
    "SettingChange",
    "LinkCheck",
    "HealthMark",
    "MedicalReview",
    "Post",
    "Publication",
    "Retraction",
    "Redaction",
    "RedactionApplication",
    "RedactionRewrite",
    "Review",
    "Revision",
    "User",
    "UserRole",
    "UserIdentity",
]
