"""Where the organisation's policies live: the one mapping every link, footer and JSON-LD property reads.

The policy pages themselves are standalone pages (``/pages/<slug>``, issue 11 part A); contact is its own
form. Everything that points at a policy (the footer, the sitemap, the ``Organization`` in JSON-LD with
``correctionsPolicy``, ``ethicsPolicy``, ``actionableFeedbackPolicy`` and ``publishingPrinciples``) goes
through ``POLICIES`` and ``policy_url`` here, so moving a page is a one-line change.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.posts.pages import POLICY_PAGES
from app.web.urls import public_root


@dataclass(frozen=True)
class Policy:
    key: str
    label: str
    path: str  # the page's path on the blog, without the base URL


POLICIES: dict[str, Policy] = {
    p.key: p
    for p in (
        Policy("about", POLICY_PAGES["about"], "/pages/about"),
        Policy("comments", POLICY_PAGES["comment-policy"], "/pages/comment-policy"),
        Policy("corrections", POLICY_PAGES["corrections-policy"], "/pages/corrections-policy"),
        Policy("ethics", POLICY_PAGES["ethics-code"], "/pages/ethics-code"),
        Policy("contact", "Contact", "/contact"),
    )
}


def policy_path(key: str) -> str:
    """The page's path, for a link on one of the blog's own pages."""
    return POLICIES[key].path


def policy_url(key: str) -> str:
    """The page's absolute URL on CANDOR_PUBLIC_URL (for JSON-LD and the sitemap)."""
    return public_root() + POLICIES[key].path.lstrip("/")


# The header's sections that other parts of the blog serve (issue 11 part A): their paths, in one place.
SECTIONS: dict[str, str] = {"topics": "/topics", "search": "/search"}
