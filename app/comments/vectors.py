"""The off-topic filter's stored vectors: a stamp for the copies processes keep, and a check of the
stored vectors against the current graph (``flask --app wsgi offtopic check-vectors``).

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
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.db import keyset_batches
from app.posts.models import SiteStamp
from app.spam import embedding

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


# ----------------------------------------------------------------------------- stored vectors vs the graph


@dataclass
class Drift:
    """How the stored vectors of one kind compare with what the current graph makes of the same text."""

    kind: str
    checked: int = 0
    same: int = 0  # bit for bit
    differ: int = 0
    lowest_cosine: float = 1.0
    not_comparable: int = 0  # the text is no longer split into the same passages (labels or count)

    def line(self) -> str:
        text = f"{self.kind}: {self.checked} checked, {self.same} as the current graph encodes them"
        if self.differ:
            text += f", {self.differ} differ (lowest cosine {self.lowest_cosine:.4f})"
        if self.not_comparable:
            text += f", {self.not_comparable} passages no longer cut the same way"
        return text

    def _compare(self, stored: bytes, vector: np.ndarray) -> None:
        self.checked += 1
        if stored == embedding.to_bytes(vector):
            self.same += 1
            return
        self.differ += 1
        cosine = float(np.dot(embedding.from_bytes(stored), vector))
        self.lowest_cosine = min(self.lowest_cosine, cosine)


def drift(session: Session, *, batch: int = 100) -> list[Drift]:
    """Every stored vector the scorer reads (the passages of each published revision, every moderator
    example) compared with the current graph's vector of the same text, read ``batch`` rows at a time
    (keyset by id). Reads only: the two tables are append-only (see README, "Stored vectors")."""
    from app.comments.learning import OffTopicExample
    from app.posts.models import Post, Revision
    from app.posts.passages import PostPassage
    from app.spam import meaning

    encoder = embedding.encoder()
    passages, examples = Drift("post passages"), Drift("moderator examples")
    published = select(Post.id, Revision).join(Revision, Revision.id == Post.published_revision_id)
    for revisions in keyset_batches(session, published, Post.id, size=batch):
        for _post_id, revision in revisions:
            rows = session.execute(
                select(PostPassage.label, PostPassage.vector)
                .where(PostPassage.revision_id == revision.id)
                .order_by(PostPassage.position)
            ).all()
            if not rows:
                continue  # encoded the first time a comment needs them, by today's graph
            pieces = meaning.passages_of(revision.title, revision.body, [t.name for t in revision.topics])
            if [label[:300] for label, _ in pieces] != [label for label, _ in rows]:
                passages.not_comparable += len(rows)
                continue
            for (_, stored), vector in zip(rows, encoder.encode_many([t for _, t in pieces]), strict=True):
                passages._compare(stored, vector)
        session.expunge_all()
    stored_examples = select(OffTopicExample.id, OffTopicExample.vector, Comment.body).join(
        Comment, Comment.id == OffTopicExample.comment_id
    )
    for rows in keyset_batches(session, stored_examples, OffTopicExample.id, size=batch):
        for _example_id, stored, body in rows:
            examples._compare(stored, encoder.encode(body, max_tokens=embedding.COMMENT_TOKENS))
    return [passages, examples]
