"""Scheduled posts go out on the first request after their time (and by ``flask publish-due`` from cron).

Each worker looks at most once every ``CHECK_EVERY`` seconds, so a reader's request costs nothing
extra almost always; the publishing itself is the same service cron calls, and safe to run twice.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app

from app.db import commit, writing
from app.editorial.gates import GateSettings
from app.editorial.services import publish_due
from app.web.database import session_factory

CHECK_EVERY = 30.0
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.extensions["candor.next_due_check"] = 0.0
    app.before_request(_maybe_publish_due)


def _maybe_publish_due() -> None:
    now = time.monotonic()
    if now < current_app.extensions["candor.next_due_check"]:
        return
    current_app.extensions["candor.next_due_check"] = now + CHECK_EVERY
    session = writing(session_factory()())
    try:
        published = publish_due(session, GateSettings.from_config(current_app.config))
        commit(session)
        for post in published:
            log.info("published scheduled post %s", post.slug)
    except Exception:  # a failed check must never fail the reader's request; cron will retry
        session.rollback()
        log.exception("publishing due posts failed")
    finally:
        session.close()
