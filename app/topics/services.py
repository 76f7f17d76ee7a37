"""The editors' topic list: add and rename topics, audited. Posts are filed under these and no others.

A topic's slug is given at creation and kept through renames, so its page and feed keep their address.
A rename rewrites the search documents of the posts filed under it (topics are searchable words).
"""

from __future__ import annotations

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.audit.services import record
from app.clock import utc_now
from app.errors import Conflict, InvalidInput, NotFound
from app.posts.models import Topic
from app.search import services as search
from app.text import clean_text

MAX_NAME_CHARS = 80


def _name(value: object) -> str:
    name = " ".join(clean_text(value, "name", max_chars=MAX_NAME_CHARS).split())
    if not slugify(name):
        raise InvalidInput("A topic's name needs at least one letter or digit.", field="name")
    return name


def _taken(session: Session, name: str, but: int | None = None) -> bool:
    """Whether another topic has this name, whatever the case (compared here: SQLite's lower() is ASCII)."""
    folded = name.casefold()
    return any(n.casefold() == folded for i, n in session.execute(select(Topic.id, Topic.name)) if i != but)


def create_topic(session: Session, actor: User, name: object) -> Topic:
    require(actor, "topics.manage")
    clean = _name(name)
    if _taken(session, clean):
        raise Conflict(f"There is already a topic named {clean!r}.")
    base = slugify(clean, max_length=90, word_boundary=True)
    n = 1
    while True:
        slug = base if n == 1 else f"{base}-{n}"
        if session.scalar(select(Topic.id).where(Topic.slug == slug)) is None:
            break
        n += 1
    topic = Topic(name=clean, slug=slug, created_at=utc_now(), created_by_id=actor.id)
    try:
        with session.begin_nested():
            session.add(topic)
    except IntegrityError:  # the same name or slug added at the same moment
        raise Conflict(f"A topic named {clean!r} was just added.") from None
    record(session, actor, "topic.created", topic_id=topic.id, name=clean, slug=slug)
    return topic


def rename_topic(session: Session, actor: User, topic_id: int, name: object) -> Topic:
    require(actor, "topics.manage")
    topic = session.scalar(select(Topic).where(Topic.id == topic_id).with_for_update())
    if topic is None:
        raise NotFound("There is no such topic.")
    clean = _name(name)
    if clean == topic.name:
        return topic
    if _taken(session, clean, but=topic.id):
        raise Conflict(f"There is already a topic named {clean!r}.")
    old = topic.name
    topic.name = clean
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"A topic named {clean!r} was just added.") from None
    record(session, actor, "topic.renamed", topic_id=topic.id, old=old, new=clean)
    search.reindex_topic(session, topic)
    return topic
