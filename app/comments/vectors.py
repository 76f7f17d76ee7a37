"""A stamp that moves whenever a stored off-topic example's vector is rewritten in place.

Each process keeps the blog-wide examples in memory (app.comments.learning) and reads only rows newer
than it has: a vector rewritten in place (a redaction of the comment, ``learning.rewrite_redacted``)
would otherwise live on in every other worker until it restarts. The stamp is a row of ``site_stamps``
(``offtopic_examples``), read with one primary-key lookup each time the cache is consulted and moved in
the transaction that rewrites; a process that sees it moved reads the examples again. The row is made by
its first move, so a blog that never rewrote an example has none (and reads the same constant).
No Flask here.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.posts.models import SiteStamp

STAMP = "offtopic_examples"


def examples_stamp(session: Session) -> tuple[object, ...]:
    """The stamp's ``(generation, value)``; ``()`` before any example was rewritten."""
    row = session.execute(
        select(SiteStamp.generation, SiteStamp.value).where(SiteStamp.name == STAMP)
    ).first()
    return tuple(row) if row is not None else ()


def move_examples_stamp(session: Session) -> None:
    """Move the stamp in this transaction (made at its first move; two at once queue on the row)."""
    table = SiteStamp.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(name=STAMP, generation=secrets.token_hex(8), value=1)
    session.execute(
        statement.on_conflict_do_update(index_elements=[table.c.name], set_={"value": table.c.value + 1})
    )
