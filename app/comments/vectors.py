"""The off-topic filter's stored vectors: a stamp for the copies processes keep, a check of the stored
vectors against the current graph (``flask --app wsgi offtopic check-vectors``) and their re-encoding
(``flask --app wsgi offtopic reencode``).

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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.comments.models import Comment
from app.db import commit, keyset_batches, rollback, writing
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
    skipped: int = 0  # reencode: rewritten by someone else (a redaction) between the read and the write

    def line(self) -> str:
        text = f"{self.kind}: {self.checked} checked, {self.same} as the current graph encodes them"
        if self.differ:
            text += f", {self.differ} differ (lowest cosine {self.lowest_cosine:.4f})"
        if self.skipped:
            text += f", {self.skipped} changed meanwhile (left for the next run)"
        if self.not_comparable:
            text += f", {self.not_comparable} passages no longer cut the same way"
        return text

    def rewritten(self) -> str:
        """The line of ``reencode``: ``differ`` counts the vectors it rewrote."""
        text = f"{self.kind}: {self.checked} checked, {self.same} already as the current graph encodes them"
        text += f", {self.differ} re-encoded"
        if self.differ:
            text += f" (lowest cosine with the old vector {self.lowest_cosine:.4f})"
        if self.skipped:
            text += f", {self.skipped} changed meanwhile (left for the next run)"
        if self.not_comparable:
            text += f", {self.not_comparable} passages no longer cut the same way (left as they are)"
        return text

    def _compare(self, stored: bytes, vector: np.ndarray) -> None:
        self.checked += 1
        if stored == embedding.to_bytes(vector):
            self.same += 1
            return
        self.differ += 1
        cosine = float(np.dot(embedding.from_bytes(stored), vector))
        self.lowest_cosine = min(self.lowest_cosine, cosine)


def _stored(session: Session, batch: int, passages: Drift, examples: Drift) -> Iterator[list[Stored]]:
    """The stored vectors the scorer can read, ``batch`` rows at a time (keyset by id), each with what the
    current graph makes of its text. Passages: every revision that has stored ones (an older revision
    published again is read at them), counted in ``passages.not_comparable`` where the revision's text is
    no longer cut into the same passages (labels or count). Examples: the comment's current text (a
    redacted comment's redacted one)."""
    from app.comments.learning import OffTopicExample
    from app.posts.models import Revision
    from app.posts.passages import PostPassage
    from app.spam import meaning

    encoder = embedding.encoder()
    stored_revisions = select(Revision.id, Revision).where(
        Revision.id.in_(select(PostPassage.revision_id).distinct())
    )
    for revisions in keyset_batches(session, stored_revisions, Revision.id, size=batch):
        found: list[Stored] = []
        for _revision_id, revision in revisions:
            rows = session.execute(
                select(PostPassage.id, PostPassage.label, PostPassage.vector)
                .where(PostPassage.revision_id == revision.id)
                .order_by(PostPassage.position)
            ).all()
            pieces = meaning.passages_of(revision.title, revision.body, [t.name for t in revision.topics])
            if [label[:300] for label, _ in pieces] != [label for _, label, _ in rows]:
                passages.not_comparable += len(rows)
                continue
            vectors = encoder.encode_many([t for _, t in pieces])
            found.extend(
                Stored(passages, PostPassage, row_id, stored, vector)
                for (row_id, _, stored), vector in zip(rows, vectors, strict=True)
            )
        session.expunge_all()
        yield found
    stored_examples = select(OffTopicExample.id, OffTopicExample.vector, Comment.body).join(
        Comment, Comment.id == OffTopicExample.comment_id
    )
    for rows in keyset_batches(session, stored_examples, OffTopicExample.id, size=batch):
        yield [
            Stored(
                examples,
                OffTopicExample,
                example_id,
                stored,
                encoder.encode(body, max_tokens=embedding.COMMENT_TOKENS),
            )
            for example_id, stored, body in rows
        ]


@dataclass(frozen=True)
class Stored:
    """One stored vector (``kind``'s, row ``row_id`` of ``model``) and the current graph's of its text."""

    kind: Drift
    model: Any
    row_id: int
    stored: bytes
    vector: np.ndarray


def drift(session: Session, *, batch: int = 100) -> list[Drift]:
    """Every stored vector the scorer reads (the passages of each revision that has them, every moderator
    example) compared with the current graph's vector of the same text, read ``batch`` rows at a time
    (keyset by id). Reads only."""
    passages, examples = Drift("post passages"), Drift("moderator examples")
    for found in _stored(session, batch, passages, examples):
        for row in found:
            row.kind._compare(row.stored, row.vector)
    return [passages, examples]


def reencode(session: Session, *, batch: int = 100) -> list[Drift]:
    """Rewrite every stored vector that differs from what the current graph makes of its text (as ``drift``
    finds them), ``batch`` rows at a time, each batch committed: an interrupted run keeps what it did, and
    a run again rewrites only what still differs (none the second time). Returns the counts per kind;
    ``differ`` is how many were rewritten.

    Each batch's vectors are encoded in a reading transaction; the rewrite is a transaction of its own
    (SQLite's write lock taken first) that touches a row only if its vector is still the one read, so a
    redaction committed in between is never undone (that row is encoded again by the next run). The
    tables' triggers (migration 0030) let exactly this UPDATE through: ``vector`` and ``encoding`` change,
    ``encoding`` up to this run's row of ``offtopic_encodings``, recorded when the first vector differs.
    The stamp moves with each rewrite, so every process reads its posts and examples again."""
    from app.comments import learning
    from app.posts.passages import OffTopicEncoding

    passages, examples = Drift("post passages"), Drift("moderator examples")
    run: int | None = None
    for found in _stored(session, batch, passages, examples):
        changed = []
        for row in found:
            row.kind.checked += 1
            if row.stored == embedding.to_bytes(row.vector):
                row.kind.same += 1
            else:
                changed.append(row)
        rollback(session)  # the reading transaction ends; the write takes its own (and the lock first)
        if not changed:
            continue
        writing(session)
        if run is None:
            encoding = OffTopicEncoding(
                model_sha256=embedding.MODEL_SHA256, tokenizer_sha256=embedding.TOKENIZER_SHA256
            )
            session.add(encoding)
            session.flush()
            run = encoding.id
        for row in changed:
            table = row.model.__table__
            done = session.execute(
                table.update()
                .where(table.c.id == row.row_id, table.c.vector == row.stored)
                .values(vector=embedding.to_bytes(row.vector), encoding=run)
            )
            if done.rowcount:
                row.kind.differ += 1
                cosine = float(np.dot(embedding.from_bytes(row.stored), row.vector))
                row.kind.lowest_cosine = min(row.kind.lowest_cosine, cosine)
            else:
                row.kind.skipped += 1
        move_examples_stamp(session)  # other processes read their posts and examples again
        learning.forget_after_commit(session)
        commit(session)
    return [passages, examples]
