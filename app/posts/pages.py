"""The standing pages every Candor blog is expected to have, by their well-known slugs.

Footer links, JSON-LD (``correctionsPolicy``, ``ethicsPolicy``, ``actionableFeedbackPolicy``,
``publishingPrinciples``) and the demo use exactly these slugs: a page published with one of these
titles gets the slug here (slugs come from the published title), at /pages/<slug>.
"""

from __future__ import annotations

# slug -> title
POLICY_PAGES: dict[str, str] = {
    "about": "About",
    "comment-policy": "Comment policy",
    "corrections-policy": "Corrections policy",
    "ethics-code": "Ethics code",
}
