"""The settings in force: the environment's (``app.config``) with an admin's stored values laid over them.

Read once per request, cheaply: one indexed query for the settings' version (the newest change's id);
the stored values are re-read only when it moved. Every worker and host therefore sees a change on its
next request, without a restart. Templates get the same mapping as ``config``, so ``config.SITE_NAME``
is the admin's name. Lower layers never import app.settings: the edge passes these values down
(``GateSettings.from_config(effective())``, ``PipelineSettings.from_config(effective())``).
"""

from __future__ import annotations

import logging
import threading
from collections import ChainMap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, current_app, g, has_request_context
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.settings import services as settings

log = logging.getLogger(__name__)


_JOB_SESSION: ContextVar[Session | None] = ContextVar("candor_job_session", default=None)


@contextmanager
def job_session(session: Session) -> Iterator[None]:
    """Within it, ``effective()`` reads the settings through ``session`` (a job's transaction), not the
    request's. A job run in the caller (JOBS_MODE=immediate, tests) inside a request on SQLite holds the
    write lock in its own session; a read through the request's session would wait for that lock (the
    busy timeout, 5 s) and then fall back to the environment's settings."""
    token = _JOB_SESSION.set(session)
    try:
        yield
    finally:
        _JOB_SESSION.reset(token)


class _Cache:
    def __init__(self) -> None:
        self.state: tuple[int, dict[str, Any]] = (-1, {})
        self.lock = threading.Lock()


def init_app(app: Flask) -> None:
    app.extensions["candor.settings"] = _Cache()
    app.context_processor(lambda: {"config": effective()})


def _overrides(app: Flask, session: Session) -> tuple[int, dict[str, Any]]:
    cache: _Cache = app.extensions["candor.settings"]
    # Through the session's connection (its transaction), not Session.execute: a plain read of one
    # number needs none of the ORM's statement handling (~0.1 ms of CPU on every request).
    version = settings.version(session.connection())
    cached_version, values = cache.state
    if version != cached_version:
        values = settings.overrides(session)
        cache.state = (version, values)
    return version, values


def config_from(session: Session) -> Mapping[str, Any]:
    """The settings in force, read through ``session`` (a job's, a CLI command's)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return ChainMap(_overrides(app, session)[1], app.config)


def effective() -> Mapping[str, Any]:
    """The settings in force for this request (read once per request), or app.config outside one; in a
    job (``job_session``), read through the job's transaction."""
    session = _JOB_SESSION.get()
    if session is not None:
        return config_from(session)
    if not has_request_context():
        return current_app.config
    if "candor_config" not in g:
        from app.web.database import db

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            g.candor_settings_version, values = _overrides(app, db())
        except SQLAlchemyError:  # the database is down: the error page still renders, with the defaults
            log.warning("settings unreadable; using the environment's")
            return current_app.config
        g.candor_config = ChainMap(values, app.config)
    return g.candor_config


def provisional() -> Mapping[str, Any]:
    """The settings as this process last read them, without a statement: for a decision taken before the
    request has run one (the readers' rate limit, asked before the view). The request's own statement
    then reads the version (``settle``), and the rest of the request uses the settings in force. After an
    admin's change, each process thus decides one request's rate limit by the values it read last; a
    process that has not read them yet reads them now."""
    if not has_request_context() or _JOB_SESSION.get() is not None:
        return effective()
    config = g.get("candor_config")
    if config is not None:
        return config
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached_version, values = app.extensions["candor.settings"].state
    if cached_version < 0:
        return effective()
    return ChainMap(values, app.config)


def settle(version: int) -> Mapping[str, Any]:
    """The settings in force for this request, given their version as a statement the request runs anyway
    read it (``app.settings.services.version_column()`` as one of its columns): the stored values are
    read only when it moved, so the request needs no statement of its own for them."""
    config = g.get("candor_config")
    if config is not None:
        return config
    from app.web.database import db

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache: _Cache = app.extensions["candor.settings"]
    cached_version, values = cache.state
    if version != cached_version:
        values = settings.overrides(db())
        cache.state = (version, values)
    g.candor_settings_version = version
    g.candor_config = ChainMap(values, app.config)
    return g.candor_config


def version() -> int:
    """The settings' version this request saw (part of every cached page's key); -1 if unreadable."""
    effective()
    return g.get("candor_settings_version", -1)
