"""A new worker's first requests, made by itself before it takes any: the home page and the newest post.

A fresh process compiles each SQL statement and each template the first time it meets them: about half a
second for a post page on a quiet machine, several on a busy one. Without a warm-up the first reader
after every deploy or restart pays that. gunicorn.conf.py calls ``warm_up`` from ``post_worker_init``,
which gunicorn runs before the worker accepts connections. The renders go through the app as any
request does (nothing is written; the page cache keeps what they render). A failure is logged and the
worker starts anyway: the warm-up only ever saves time.
"""

from __future__ import annotations

import logging
import time

from flask import Flask

log = logging.getLogger(__name__)


def warm_up(app: Flask) -> None:
    from app.posts import services as posts

    started = time.perf_counter()
    try:
        sessions = app.extensions["candor.sessions"]
        with sessions() as session:
            newest, _ = posts.published_posts(session, per_page=1)
            slugs = [p.slug for p in newest]
        client = app.test_client()
        base = app.config["PUBLIC_URL"]  # a Host the blog answers to (app/web/security.py)
        for path in ["/", *(f"/posts/{slug}" for slug in slugs)]:
            answer = client.get(path, base_url=base, headers={"User-Agent": "Candor warm-up"})
            if answer.status_code != 200:
                log.warning("warm-up: %s answered %s", path, answer.status_code)
    except Exception:  # noqa: BLE001 - a warm-up that fails must never stop a worker from starting
        log.exception("warm-up failed; serving anyway")
        return
    log.info("warmed up in %.2f s", time.perf_counter() - started)
