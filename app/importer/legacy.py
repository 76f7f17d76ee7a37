"""Old WordPress addresses, as stored by the import and looked up by every request no route matched.

Apart from app.importer.services so that this lookup, which runs in every web worker (app/importer/
views.py), does not load the import's converters (Beautiful Soup, markdownify, lxml: about 12 MB a
worker) with it. No Flask here.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.importer.models import ItemKind, LegacyPath, WordPressItem
from app.posts.models import Post, Topic

MAX_LEGACY_PATH_CHARS = 2000  # legacy_paths.path


def legacy_key(path: str, query: str) -> str:
    """How an old address is stored and looked up: the path without its trailing slash, or ``?query``."""
    if query:
        return "?" + query
    return "/" + path.strip("/")


def legacy_target(session: Session, path: str, args: dict[str, str]) -> Post | None:
    """The public post or page an old WordPress address names, if any: ``?p=ID`` or ``?page_id=ID`` (on
    any path, as WordPress answers them) or the item's own path. None for anything else, and for a post
    that is not public (a draft or a scheduled one has no address yet)."""
    candidates = [f"?{name}={args[name]}" for name in ("p", "page_id") if args.get(name, "").isdigit()]
    if path.strip("/"):
        candidates.append(legacy_key(path, ""))
    # No stored address holds a NUL (PostgreSQL text cannot) or runs past the column: never looked up.
    for candidate in (c for c in candidates if "\x00" not in c and len(c) <= MAX_LEGACY_PATH_CHARS):
        post = session.scalar(
            select(Post).join(LegacyPath, LegacyPath.post_id == Post.id).where(LegacyPath.path == candidate)
        )
        if post is not None and post.slug is not None:
            return post
    return None


_ARCHIVES = {"category": "category", "tag": "post_tag"}
"""WordPress's default archive bases (``/category/<parent>/<nicename>/``, ``/tag/<slug>/``) and the
taxonomy each lists: the prefix of the term's key (app/importer/people.py)."""


def legacy_topic(session: Session, path: str) -> Topic | None:
    """The topic an old WordPress category or tag archive address names (``/category/health/sleep/``,
    ``/tag/night-shift/page/2/``), if an import made one of that term. The nicename is looked up as the
    request gives it (decoded) and percent-encoded in lower case, as WordPress writes a non-ASCII one."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 4 and parts[-2] == "page" and parts[-1].isdigit():
        parts = parts[:-2]
    if len(parts) < 2 or parts[0] not in _ARCHIVES or "\x00" in path or len(path) > MAX_LEGACY_PATH_CHARS:
        return None
    name = parts[-1]
    keys = {f"{_ARCHIVES[parts[0]]}:{n}"[:500] for n in (name, quote(name, safe="").lower())}
    target = session.scalar(
        select(WordPressItem.target_id)
        .where(WordPressItem.kind == ItemKind.TERM.value, WordPressItem.wp_key.in_(sorted(keys)))
        .order_by(WordPressItem.id)
        .limit(1)
    )
    return session.get(Topic, target) if target is not None else None
