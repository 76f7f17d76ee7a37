"""Every model, imported once, so Alembic and the schema tests see the whole metadata."""

from app.accounts.models import ApiToken, User, UserRole
from app.audit.models import AuditEntry
from app.comments.learning import OffTopicExample
from app.comments.models import Comment, CommentClosure, ModerationDecision, Subscription
from app.contact.models import ContactMessage, ContactReply
from app.corrections.models import ErrorReport, RevisionDiff
from app.db import Base
from app.disclosures.models import Disclosure
from app.drafts.models import DraftBuffer
from app.editorial.models import GateOverride, LinkCheck, Review
from app.importer.models import LegacyPath, PageParent, TopicParent, WordPressItem
from app.jobs.models import JobRun
from app.mail.models import OutboxMessage
from app.media.models import Media, MediaBlob, MediaConsent, MediaVariant
from app.medical.models import HealthMark, MedicalReview
from app.moderation.models import AkismetSubmission
from app.posts.models import (
    Approval,
    ApprovalWithdrawal,
    Post,
    PostSlug,
    Publication,
    Retraction,
    Revision,
    RevisionMedia,
    Topic,
)
from app.posts.passages import OffTopicEncoding, PostPassage
from app.redaction.models import Redaction, RedactionApplication, RedactionRewrite
from app.search.models import SearchDocument
from app.settings.models import Setting, SettingChange
from app.sites.models import ExternalSite, SiteDecision
from app.sso.models import UserIdentity

__all__ = [
    "LegacyPath",
    "PageParent",
    "TopicParent",
    "WordPressItem",
    "Approval",
    "ApprovalWithdrawal",
    "PostSlug",
    "AkismetSubmission",
    "Comment",
    "CommentClosure",
    "ContactMessage",
    "ContactReply",
    "ModerationDecision",
    "OffTopicEncoding",
    "OffTopicExample",
    "PostPassage",
    "OutboxMessage",
    "Subscription",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Disclosure",
    "DraftBuffer",
    "ExternalSite",
    "SiteDecision",
    "ErrorReport",
    "RevisionDiff",
    "GateOverride",
    "JobRun",
    "Setting",
    "SettingChange",
    "LinkCheck",
    "Media",
    "MediaBlob",
    "MediaConsent",
    "MediaVariant",
    "HealthMark",
    "MedicalReview",
    "Post",
    "Publication",
    "RevisionMedia",
    "Retraction",
    "Redaction",
    "RedactionApplication",
    "RedactionRewrite",
    "Review",
    "SearchDocument",
    "Topic",
    "Revision",
    "User",
    "UserRole",
    "UserIdentity",
]
