"""What the WordPress import keeps: which Candor row each WordPress thing became, the old addresses that
now answer 301, and the hierarchy of imported topics and pages.

``wordpress_items`` is the import's key: (site, kind, WordPress key) is unique, so running the same
export twice finds every row and writes nothing, and a later export of the same site adds only what is
new. Candor has no nested topics or pages of its own (yet): their parents are kept here, as the import
found them, for the editors and for a later export.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.db import Base, intpk


class ItemKind(enum.StrEnum):
    AUTHOR = "author"  # key: the author's login; target: users.id
    TERM = "term"  # key: "category:<nicename>" or "post_tag:<slug>"; target: topics.id
    POST = "post"  # key: wp:post_id; target: posts.id (posts and pages)
    COMMENT = "comment"  # key: wp:comment_id; target: comments.id
    ATTACHMENT = "attachment"  # key: the file's path under uploads; target: media.id


ITEM_KINDS = tuple(k.value for k in ItemKind)


class WordPressItem(Base):
    """One WordPress thing imported, and the Candor row it became. Written once, never changed."""

    __tablename__ = "wordpress_items"
    __table_args__ = (
        UniqueConstraint("site", "kind", "wp_key", name="uq_wordpress_items_site_kind_key"),
        CheckConstraint(f"kind IN {ITEM_KINDS!r}", name="kind_known"),
        Index("ix_wordpress_items_kind_target", "kind", "target_id"),
    )

    id: Mapped[intpk]
    site: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))
    wp_key: Mapped[str] = mapped_column(String(500))
    target_id: Mapped[int]
    # What WordPress said that Candor has no column for (an author's first and last name, a guid).
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    imported_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<WordPressItem {self.kind} {self.wp_key!r} -> {self.target_id}>"


class LegacyPath(Base):
    """An old WordPress address of an imported post or page: a path (``/2009/05/hello/``, kept without its
    trailing slash) or a query (``?p=12``, ``?page_id=7``). Answers 301 to the post's address."""

    __tablename__ = "legacy_paths"

    id: Mapped[intpk]
    path: Mapped[str] = mapped_column(String(2000), unique=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    def __repr__(self) -> str:
        return f"<LegacyPath {self.path!r} -> {self.post_id}>"


class TopicParent(Base):
    """A topic's parent, from a WordPress category's hierarchy."""

    __tablename__ = "topic_parents"
    __table_args__ = (CheckConstraint("topic_id <> parent_id", name="not_own_parent"),)

    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)

    def __repr__(self) -> str:
        return f"<TopicParent {self.topic_id} -> {self.parent_id}>"


class PageParent(Base):
    """A page's parent page, from WordPress's ``wp:post_parent``."""

    __tablename__ = "page_parents"
    __table_args__ = (CheckConstraint("post_id <> parent_id", name="not_own_parent"),)

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)

    def __repr__(self) -> str:
        return f"<PageParent {self.post_id} -> {self.parent_id}>"
