"""Old WordPress addresses answer 301 to the imported post's address (a table, ``legacy_paths``).

A request hook, not a route: WordPress's addresses are any path (``/2009/05/hello/``) and ``/?p=12``.
Category and tag archives (``/category/<nicename>/``, ``/tag/<slug>/``) answer 301 to the topic the term
became. It looks only at requests no route matched, and at ``/`` with ``p`` or ``page_id``; everything else
costs nothing, and an unknown old address gets the normal 404.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, request, url_for

from app.importer.legacy import legacy_target, legacy_topic
from app.web.database import db


def _legacy_redirect() -> Any:
    if request.method not in ("GET", "HEAD"):
        return None
    at_root = request.path == "/" and ("p" in request.args or "page_id" in request.args)
    if request.url_rule is not None and not at_root:
        return None
    post = legacy_target(db(), request.path, request.args.to_dict())
    if post is None:
        topic = legacy_topic(db(), request.path) if request.url_rule is None else None
        return redirect(url_for("topics.show", slug=topic.slug), 301) if topic is not None else None
    endpoint = "posts.page" if post.is_page else "posts.show"
    return redirect(url_for(endpoint, slug=post.slug), 301)


def register(app: Flask) -> None:
    app.before_request(_legacy_redirect)
