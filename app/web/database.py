"""One SQLAlchemy session per request, committed once at the edge and rolled back on error."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_session_factory


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["candor.engine"] = engine
    app.extensions["candor.sessions"] = make_session_factory(engine)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["candor.engine"]


def session_factory() -> sessionmaker:
    return current_app.extensions["candor.sessions"]


def db() -> Session:
    """The request's session, opened on first use."""
    if "db" not in g:
        g.db = session_factory()()
    return g.db


def commit() -> None:
    db().commit()


def _close_session(exc: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is None:
        return
    if exc is not None:
        session.rollback()
    session.close()
