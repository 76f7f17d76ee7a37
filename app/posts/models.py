"""Posts, their append-only revisions, and the record of each publication.

A revision is never changed once stored: the ORM refuses it here and the database refuses it with a
trigger (see the migrations). Which revision readers see is a pointer on the post; when and by whom
each revision went public is its own append-only table, so history needs no mutable flags.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.disclosures.models import Disclosure
from app.clock import utc_now
from app.db import AppendOnly, Base, intpk, str200


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    RETRACTED = "retracted"


class RevisionKind(enum.StrEnum):
    ORIGINAL = "original"  # any revision saved before the post was first published
    CORRECTION = "correction"
    CLARIFICATION = "clarification"
    UPDATE = "update"
    MINOR = "minor"


POST_STATUSES = tuple(s.value for s in PostStatus)
REVISION_KINDS = tuple(k.value for k in RevisionKind)
CHANGE_KINDS = (RevisionKind.CORRECTION, RevisionKind.CLARIFICATION, RevisionKind.UPDATE, RevisionKind.MINOR)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (CheckConstraint(f"status IN {POST_STATUSES!r}", name="status_known"),)

    id: Mapped[intpk]
    slug: Mapped[str200] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(String(32), default=PostStatus.DRAFT.value)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("post_revisions.id", use_alter=True, name="fk_posts_current_revision_id_post_revisions")
    )
    published_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("post_revisions.id", use_alter=True, name="fk_posts_published_revision_id_post_revisions")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    first_published_at: Mapped[datetime | None] = mapped_column(index=True)
    # Bumped on every change a reader could see; reader-page caches key on it.
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    # When an approved revision is scheduled rather than published at once.
    publish_at: Mapped[datetime | None] = mapped_column(index=True)

    author: Mapped[User] = relationship(lazy="joined")
    current_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[current_revision_id], post_update=True
    )
    published_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[published_revision_id], post_update=True
    )

    @property
    def is_public(self) -> bool:
        return self.published_revision_id is not None and self.status != PostStatus.DRAFT

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.slug!r} {self.status}>"


class Revision(AppendOnly, Base):
    """One immutable save of a post: its title, Markdown, references and the HTML rendered from them."""

    __tablename__ = "post_revisions"
    __table_args__ = (
        UniqueConstraint("post_id", "number", name="uq_post_revisions_post_number"),
        CheckConstraint(f"kind IN {REVISION_KINDS!r}", name="kind_known"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("kind IN ('original', 'minor') OR note <> ''", name="note_required"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    references: Mapped[list[Any]] = mapped_column(default=list)
    html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    kind: Mapped[str] = mapped_column(String(32), default=RevisionKind.ORIGINAL.value)
    note: Mapped[str] = mapped_column(Text, default="")
    # The author's own view rather than the organisation's: the page adds the ethics code's disclaimer.
    personal_view: Mapped[bool] = mapped_column(default=False)

    author: Mapped[User] = relationship(lazy="joined")

    def same_content(self, title: str, body: str, references: list[str]) -> bool:
        return self.title == title and self.body == body and list(self.references) == list(references)

    def same_as(self, title: str, body: str, references: list[str], personal_view: bool) -> bool:
        return self.same_content(title, body, references) and self.personal_view == personal_view

    def __repr__(self) -> str:
        return f"<Revision post={self.post_id} #{self.number} {self.kind}>"


class Publication(AppendOnly, Base):
    """That a revision went public: when, approved by whom. Append-only, like revisions."""

    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("revision_id", name="uq_publications_revision_id"),
        CheckConstraint("via IN ('review', 'editor_direct')", name="via_known"),
        Index("ix_publications_post_published", "post_id", "published_at"),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    revision_id: Mapped[int] = mapped_column(ForeignKey("post_revisions.id"))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utc_now)
    # "review" (approved after submission) or "editor_direct" (an editor corrected and published at once).
    via: Mapped[str] = mapped_column(String(32), default="review")
    # The author's disclosure in force at approval, frozen with this revision.
    disclosure_id: Mapped[int | None] = mapped_column(ForeignKey("disclosures.id"))
    touches_interests: Mapped[bool] = mapped_column(default=False)
    interest_statement: Mapped[str] = mapped_column(Text, default="")

    revision: Mapped[Revision] = relationship(lazy="joined")
    approved_by: Mapped[User] = relationship(lazy="joined")
    disclosure: Mapped[Disclosure | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Publication post={self.post_id} revision={self.revision_id}>"
