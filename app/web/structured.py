"""schema.org JSON-LD: what search engines and fact-checking tools read of a post and of the blog.

A post is a ``BlogPosting`` (``MedicalWebPage`` when marked as health information) with its author as a
``Person`` (``jobTitle``, ``worksFor``), its dates, each correction as a ``CorrectionComment``, its
medical review (``reviewedBy``, ``lastReviewed``) and the publisher: the ``Organization`` with its
policies (``correctionsPolicy``, ``ethicsPolicy``, ``actionableFeedbackPolicy``,
``publishingPrinciples``), which the home page carries alone. Every URL is on CANDOR_PUBLIC_URL.

``script_json`` writes the data for a ``<script>`` element: JSON with ``<``, ``>`` and ``&`` escaped, so
no text in a title or a note can close the script or open a comment.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from markupsafe import Markup

from app.accounts.models import User
from app.corrections.services import Notice
from app.medical.models import MedicalReview
from app.posts.models import Post, Retraction, Revision
from app.web.policies import policy_url
from app.web.readers import endpoint
from app.web.runtime import effective
from app.web.urls import public_root, public_url

CONTEXT = "https://schema.org"
_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def script_json(data: dict[str, Any]) -> Markup:
    """JSON for inside ``<script type="application/ld+json">``: ``</script>`` or ``<!--`` cannot occur."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_ESCAPES)
    # U+2028/2029 are valid JSON but not valid in older script parsers: escape them too.
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))  # noqa: S704


def organization(*, full: bool = True) -> dict[str, Any]:
    """The organisation behind the blog, with its policies (``full``), or just who it is."""
    data: dict[str, Any] = {
        "@type": "Organization",
        "name": effective()["ORGANISATION"],
        "url": public_root(),
    }
    if full:
        data |= {
            "logo": public_url("static", filename="favicon.svg"),
            "correctionsPolicy": policy_url("corrections"),
            "ethicsPolicy": policy_url("ethics"),
            "actionableFeedbackPolicy": policy_url("comments"),
            "publishingPrinciples": policy_url("ethics"),
            "contactPoint": {
                "@type": "ContactPoint",
                "contactType": "editorial",
                "url": policy_url("contact"),
            },
        }
    return data


def home() -> dict[str, Any]:
    return {"@context": CONTEXT, **organization()}


def person(user: User) -> dict[str, Any]:
    data: dict[str, Any] = {
        "@type": "Person",
        "name": user.name,
        "url": public_url("posts.person", user_id=user.id),
        "worksFor": organization(full=False),
    }
    if user.title:
        data["jobTitle"] = user.title
    return data


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat(timespec="seconds") if instant else None


def post(
    post: Post,
    revision: Revision,
    *,
    published_at: datetime,
    notices: list[Notice],
    health: bool,
    review: MedicalReview | None,
    retraction: Retraction | None,
    url: str | None = None,
) -> dict[str, Any]:
    """The post page's JSON-LD. ``published_at`` is when the shown revision went public (dateModified);
    ``url`` the page's address (a standing page's is under /pages/).

    A standing page (About, the policies) is a ``WebPage``, not a blog post: it has no place in the
    blog's stream, and its corrections link its own changes view, under /pages/.
    """
    url = url or public_url(endpoint("show", post.type), slug=post.slug)
    if post.is_page:
        kind = "WebPage"
    else:
        kind = "MedicalWebPage" if health else "BlogPosting"
    data: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": kind,
        "@id": url,
        "url": url,
        "mainEntityOfPage": url,
        "headline": revision.title,
        "name": revision.title,
        "inLanguage": "en",
        "author": person(post.author),
        "datePublished": _iso(post.first_published_at),
        "dateModified": _iso(published_at),
        "publisher": organization(),
    }
    if notices:
        data["correction"] = [
            {
                "@type": "CorrectionComment",
                "text": f"{n.revision.kind.capitalize()}: {n.revision.note}",
                "datePublished": _iso(n.publication.published_at),
                "url": public_url(
                    endpoint("changes", post.type),
                    slug=post.slug,
                    **{"from": n.previous_number, "to": n.revision.number},
                ),
            }
            for n in notices
        ]
    if retraction is not None:
        data["creativeWorkStatus"] = "Retracted"
    if health and review is not None:
        data["reviewedBy"] = person(review.reviewer)
        data["lastReviewed"] = review.reviewed_on.isoformat()
    return data
