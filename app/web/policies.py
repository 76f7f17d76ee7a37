"""Where the organisation's policies live: the one mapping every link, footer and JSON-LD property reads.

The policy pages themselves are standalone pages (``/pages/<slug>``, issue 11 part A); contact is its own
form. Everything that points at a policy (the footer, the sitemap, the ``Organization`` in JSON-LD with
``correctionsPolicy``, ``ethicsPolicy``, ``actionableFeedbackPolicy`` and ``publishingPrinciples``) goes
through ``POLICIES`` and ``policy_url`` here, so moving a page is a one-line change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import g
from sqlalchemy.exc import SQLAlchemyError

from app.posts.pages import POLICY_PAGES, answering
from app.web.database import db
from app.web.urls import public_root

log = logging.getLogger(__name__)


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


def _page_slug(policy: Policy) -> str | None:
    return policy.path.removeprefix("/pages/") if policy.path.startswith("/pages/") else None


def policy_links() -> list[Policy]:
    """The policies to link in the footer: those whose page a reader can open now (and contact, a form).

    One small query per rendered page, once per request; if the database cannot answer (an error page
    about that very thing), every policy is listed rather than none.
    """
    if "candor_policy_links" not in g:
        slugs = [slug for p in POLICIES.values() if (slug := _page_slug(p))]
        try:
            open_now = answering(db(), slugs)
        except SQLAlchemyError as exc:
            log.info("policy pages not checked for the footer: %s", exc)
            open_now = set(slugs)
        g.candor_policy_links = [
            p for p in POLICIES.values() if (slug := _page_slug(p)) is None or slug in open_now
        ]
    links: list[Policy] = g.candor_policy_links
    return links


def policy_path(key: str) -> str:
    """The page's path, for a link on one of the blog's own pages."""
    return POLICIES[key].path


def policy_url(key: str) -> str:
    """The page's absolute URL on CANDOR_PUBLIC_URL (for JSON-LD and the sitemap)."""
    return public_root() + POLICIES[key].path.lstrip("/")


# The header's sections that other parts of the blog serve (issue 11 part A): their paths, in one place.
SECTIONS: dict[str, str] = {"topics": "/topics", "search": "/search"}
