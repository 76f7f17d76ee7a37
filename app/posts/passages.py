"""The vectors of a published revision's passages (title, sections, topics), stored once at publication.

The topics are the revision's own (``revision_topics``): a comment asking about "chargers" is near the
topic "electric vehicle charging" of a parking post even where the text says "charging points".

A comment is compared with its post's passages (app.spam.meaning); encoding them for every comment
would cost a post's worth of encodings per comment, so they are encoded once when a revision is
published (first publication and each correction) and kept, append-only, keyed by revision. A revision
published before this table existed gets its rows the first time a comment needs them. No Flask here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import utc_now
from app.db import AppendOnly, Base, intpk
from app.posts.models import Post, Revision
from app.spam import embedding, meaning

VECTOR_BYTES = embedding.DIMENSION * 4


class PostPassage(AppendOnly, Base):
    """One passage of one revision and its unit vector (float32, little-endian). Append-only."""

    __tablename__ = "post_passages"
    __table_args__ = (
        CheckConstraint(f"length(vector) = {VECTOR_BYTES}", name="vector_size"),
        CheckConstraint("position >= 0", name="position_natural"),
        Index("ix_post_passages_revision", "revision_id", "position", unique=True),
    )

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("post_revisions.id"))
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(300))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Moved up to an ``OffTopicEncoding`` run's id when that run re-encoded the vector with the model of
    # the day, the one UPDATE the table's trigger lets through (migration 0030; app.comments.vectors).
    encoding: Mapped[int] = mapped_column(default=0, server_default="0")
    # Moved up to the sequence of a redaction of the revision whose application rewrote the label and the
    # vector from the redacted words, the other UPDATE the trigger lets through (migration 0032).
    redaction_count: Mapped[int] = mapped_column(default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<PostPassage revision={self.revision_id} {self.position} {self.label!r}>"


class OffTopicEncoding(AppendOnly, Base):
    """One run of ``flask offtopic reencode`` that rewrote stored vectors (``post_passages``,
    ``offtopic_examples``) with the model of the day. Append-only; the latest id is the only ``encoding``
    the two tables' triggers let an UPDATE move a row to (migration 0030)."""

    __tablename__ = "offtopic_encodings"

    id: Mapped[intpk]
    model_sha256: Mapped[str] = mapped_column(String(64))
    tokenizer_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utc_now)


def store(session: Session, post: Post, revision: Revision) -> list[PostPassage]:
    """Encode and keep ``revision``'s passages, unless they were stored already (a re-publication)."""
    existing = list(
        session.scalars(
            select(PostPassage).where(PostPassage.revision_id == revision.id).order_by(PostPassage.position)
        )
    )
    if existing:
        return existing
    pieces = meaning.passages_of(revision.title, revision.body, [topic.name for topic in revision.topics])
    vectors = embedding.encoder().encode_many([text for _, text in pieces])
    rows = [
        PostPassage(
            post_id=post.id,
            revision_id=revision.id,
            position=i,
            label=label[:300],
            vector=embedding.to_bytes(vector),
            # Cut from the text as the revision's latest redaction left it: 0032's door stays shut for
            # these rows until a further redaction of the revision.
            redaction_count=revision.redaction_count,
        )
        for i, ((label, _), vector) in enumerate(zip(pieces, vectors, strict=True))
    ]
    session.add_all(rows)
    session.flush()
    return rows


def vectors_of(session: Session, post: Post) -> meaning.PostVectors | None:
    """The published revision's passages as the scorer takes them (stored now if they were not yet)."""
    revision = post.published_revision
    if revision is None:
        return None
    rows = store(session, post, revision)
    return meaning.PostVectors(
        str(post.id),
        revision.title,
        tuple(meaning.Passage(r.label, embedding.from_bytes(r.vector)) for r in rows),
    )


def rewrite_redacted(
    session: Session,
    revision: Revision,
    old: tuple[str, str],
    new: tuple[str, str],
    removed: list[str],
    sequence: int,
    mark: str,
) -> int:
    """Rewrite the stored passages of ``revision`` whose label or words held redacted text; returns how many.

    Called by app.redaction only, within the application of a redaction of ``revision`` whose sequence is
    ``sequence``: the table's trigger lets exactly that UPDATE through (migration 0032). ``old`` and
    ``new`` are the revision's (title, body) before and after. The passages are cut again from the
    redacted text: a row whose label or words changed takes the new label and the vector of the new
    words, so the labels stay those the revision's text gives (``offtopic check-vectors`` compares them).
    Where it is cut into fewer (a paragraph redacted with the blank line after it), a row past the new
    ones keeps its place, its label with the removed text replaced by ``mark`` and the vector of that
    label alone (a row cannot go, and its old words may hold part of the removed text). Into more (the
    mark holds no paragraph break nor heading: only where a heading and the title become equal), the
    passages past the stored rows are left out. Nothing stored (never published, or not yet needed):
    nothing to do, they are stored from the redacted text when needed (``store``). Every row of the
    revision takes the count ``sequence``, those left as they were too."""
    rows = list(
        session.scalars(
            select(PostPassage).where(PostPassage.revision_id == revision.id).order_by(PostPassage.position)
        )
    )
    if not rows:
        return 0
    topics = [topic.name for topic in revision.topics]
    before = meaning.passages_of(*old, topics)
    after = meaning.passages_of(*new, topics)

    def scrubbed(value: str) -> str:
        for text in removed:
            value = value.replace(text, mark)
        return value

    # Whether the rows are the old text's passages (labels and count): then their old words are known.
    aligned = len(before) == len(rows) and all(
        row.label == label[:300] for row, (label, _) in zip(rows, before, strict=True)
    )
    wanted: dict[int, tuple[str, str]] = {}  # row id -> (label, words)
    for i, row in enumerate(rows):
        was = before[i][1] if aligned else None
        if i < len(after):
            label, words = after[i][0][:300], after[i][1]
        else:
            label = scrubbed(row.label)[:300]
            words = label  # its old words may hold part of the removed text (cut across paragraphs)
        if label != row.label or words != was:
            wanted[row.id] = (label, words)
    passages = PostPassage.__table__
    if wanted:
        vectors = embedding.encoder().encode_many([words for _, words in wanted.values()])
        for (row_id, (label, _)), vector in zip(wanted.items(), vectors, strict=True):
            session.execute(
                update(passages)
                .where(passages.c.id == row_id)
                .values(label=label, vector=embedding.to_bytes(vector), redaction_count=sequence)
            )
    # The rows this redaction leaves as they are take its count too: 0032's door closes on every row of
    # the revision with this application (else a plain UPDATE could still rewrite one, no redaction).
    session.execute(
        update(passages)
        .where(passages.c.revision_id == revision.id, passages.c.redaction_count < sequence)
        .values(redaction_count=sequence)
    )
    for row in rows:
        session.expire(row)
    return len(wanted)
