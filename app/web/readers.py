"""Where a post's or a page's reader views live: /posts/<slug>/... or /pages/<slug>/....

Posts and pages share views (the same text, history, changes and revision pages) under two prefixes.
``reader_url`` picks the endpoint from the post's type, so templates shared by both never hard-code
one; ``other_kind`` lets a view send a reader who typed the wrong prefix to the right one (301).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, url_for

from app.posts.models import Post
from app.posts.rendering import excerpt
from app.web.urls import public_url

ENDPOINTS: dict[str, dict[str, str]] = {
    "post": {
        "show": "posts.show",
        "revision": "posts.revision",
        "version": "posts.version",
        "changes": "corrections.changes",
        "history": "corrections.history",
    },
    "page": {
        "show": "posts.page",
        "revision": "posts.page_revision",
        "version": "posts.page_version",
        "changes": "corrections.page_changes",
        "history": "corrections.page_history",
    },
}


def endpoint(what: str, type: str) -> str:
    return ENDPOINTS[type][what]


def reader_url(what: str, post: Post, **values: Any) -> str:
    """The path of ``post``'s reader view ``what`` (show, revision, changes, history)."""
    return url_for(endpoint(what, post.type), slug=post.slug, **values)


def public_reader_url(what: str, post: Post, **values: Any) -> str:
    """The same on CANDOR_PUBLIC_URL, for feeds, search results and e-mails."""
    return public_url(endpoint(what, post.type), slug=post.slug, **values)


def same_view_other_type(current_endpoint: str | None, type: str) -> str | None:
    """The endpoint showing the same view for the other type: posts.show -> posts.page and back."""
    for what, name in ENDPOINTS[type].items():
        if name == current_endpoint:
            return ENDPOINTS["page" if type == "post" else "post"][what]
    return None


def init_app(app: Flask) -> None:
    app.add_template_global(reader_url, "reader_url")
    app.add_template_filter(excerpt, "excerpt")
