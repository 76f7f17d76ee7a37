"""The records of a WXR export, as the reader yields them and the writer takes them.

Frozen, with tuples for their lists, so two readings of one export compare equal. Text fields hold the
export's text verbatim (a display name may span lines); identifiers, slugs, states, e-mails and URLs are
stripped of surrounding white space. A missing optional tag gives ``""``, ``None`` or ``()``. ``line`` is
where the record starts in the file, for reports; it takes no part in comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The states WordPress gives a comment in ``wp:comment_approved``.
COMMENT_APPROVED = "1"
COMMENT_PENDING = "0"
COMMENT_SPAM = "spam"
COMMENT_TRASH = "trash"


@dataclass(frozen=True, slots=True)
class Site:
    """The channel: which site the export came from (items are keyed by it and their post id)."""

    title: str = ""
    link: str = ""
    description: str = ""
    language: str = ""
    base_site_url: str = ""
    base_blog_url: str = ""
    wxr_version: str = ""
    """``wp:wxr_version`` when present, else the version of the ``wp`` namespace."""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Author:
    """A ``wp:author`` (WXR 1.1 and later; 1.0 names authors only in items' ``dc:creator``)."""

    login: str
    id: int | None = None
    email: str = ""
    display_name: str = ""
    first_name: str = ""
    last_name: str = ""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Category:
    """A ``wp:category``; ``parent`` is the parent's nicename, ``""`` at the top."""

    nicename: str
    name: str = ""
    parent: str = ""
    term_id: int | None = None
    description: str = ""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Tag:
    """A ``wp:tag``."""

    slug: str
    name: str = ""
    term_id: int | None = None
    description: str = ""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Term:
    """A ``wp:term`` of another taxonomy (menus, formats, custom taxonomies); ``parent`` is a slug."""

    taxonomy: str
    slug: str
    name: str = ""
    parent: str = ""
    term_id: int | None = None
    description: str = ""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ItemTerm:
    """An item's ``<category domain="..." nicename="...">name</category>``; ``domain`` is the taxonomy
    (``category``, ``post_tag``, ...), ``""`` in WXR 1.0's plain ``<category>``."""

    domain: str
    nicename: str
    name: str


@dataclass(frozen=True, slots=True)
class Meta:
    """A ``wp:postmeta`` or ``wp:commentmeta`` pair."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``wp:comment``; ``approved`` is WordPress's value verbatim: ``1``, ``0``, ``spam``, ``trash``
    (or ``post-trashed``); ``parent`` 0 means a reply to the item itself."""

    id: int
    author: str = ""
    author_email: str = ""
    author_url: str = ""
    author_ip: str = ""
    date: datetime | None = None
    """Local time of the site, naive, as the export gives it."""
    date_gmt: datetime | None = None
    """Aware UTC, or None where WordPress wrote ``0000-00-00 00:00:00``."""
    content: str = ""
    approved: str = COMMENT_APPROVED
    type: str = ""
    parent: int = 0
    user_id: int = 0
    meta: tuple[Meta, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Item:
    """An ``item``: a post, page, attachment, revision, menu item or any other post type."""

    post_id: int
    post_type: str = "post"
    status: str = ""
    title: str = ""
    link: str = ""
    guid: str = ""
    guid_is_permalink: bool = False
    pub_date: str = ""
    """The RSS ``pubDate`` verbatim (RFC 822, local to the exporting server): kept, not interpreted."""
    creator: str = ""
    """``dc:creator``: an author's login."""
    description: str = ""
    content: str = ""
    excerpt: str = ""
    date: datetime | None = None
    date_gmt: datetime | None = None
    modified: datetime | None = None
    modified_gmt: datetime | None = None
    comment_status: str = ""
    ping_status: str = ""
    post_name: str = ""
    post_parent: int = 0
    menu_order: int = 0
    post_password: str = ""
    is_sticky: bool = False
    attachment_url: str = ""
    terms: tuple[ItemTerm, ...] = ()
    meta: tuple[Meta, ...] = ()
    comments: tuple[Comment, ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)
    """What the reader could not make sense of (an unreadable date, a non-numeric id) and replaced by a
    default: for the import's report."""
    line: int = field(default=0, compare=False)


Record = Site | Author | Category | Tag | Term | Item
