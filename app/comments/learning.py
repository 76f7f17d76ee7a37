"""What moderators taught the off-topic filter: one stored example per decision, read back bounded.

Each approve (or ham) decision by a moderator says "this comment belongs on its post", each off_topic
decision says it does not. When the decision is recorded, the comment's vector and that label are
appended to ``offtopic_examples`` (with what the filter had said, so a moderator sees how often it was
overruled). Nothing is replayed: scoring reads the latest ``PER_POST`` examples of the comment's post
with one indexed query, and the blog-wide examples and other posts' passages from a per-process cache:
the latest ``BLOG_EXAMPLES`` examples, then only rows newer than it has; the passages of the latest
``OTHER_POSTS`` live posts, whose list is looked at again when a passage is stored or a publication or
retraction moved the ``corrections`` stamp (a post retracted in another process stops counting as an
other post, and that count chooses the scorer's weights). A worker is ready at once, whatever the
history's size. It lives here, not in app/spam, because it reads the comments' tables; the scorer it
feeds (app.spam.meaning) stays pure. No Flask here.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, LargeBinary, case, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import utc_now
from app.comments import vectors
from app.comments.models import Action, Comment, ModerationDecision
from app.db import AppendOnly, Base, intpk, on_commit
from app.posts import passages as post_passages
from app.posts.models import Post, PublicationState, Revision
from app.posts.passages import VECTOR_BYTES, PostPassage, vectors_of
from app.posts.services import site_stamp
from app.spam import embedding, meaning, pipeline
from app.spam.relevance import PostContext

TEACHING = {Action.APPROVE.value: True, Action.HAM.value: True, Action.OFF_TOPIC.value: False}
PER_POST = 200  # the post's own latest examples read per scoring
BLOG_EXAMPLES = 2000  # blog-wide examples kept per process (the latest)
OTHER_POSTS = 300  # other published posts whose passages are kept per process (the latest)


class OffTopicExample(AppendOnly, Base):
    """A moderator's decision as an example: the comment's vector, on topic or not. Append-only."""

    __tablename__ = "offtopic_examples"
    __table_args__ = (
        CheckConstraint(f"length(vector) = {VECTOR_BYTES}", name="vector_size"),
        Index("ix_offtopic_examples_post", "post_id", "id"),
    )

    id: Mapped[intpk]
    decision_id: Mapped[int] = mapped_column(ForeignKey("moderation_decisions.id"), unique=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    on_topic: Mapped[bool] = mapped_column(Boolean)
    # What the filter had said of the comment (None: it was not scored): differing means overruled.
    filter_on_topic: Mapped[bool | None] = mapped_column(Boolean)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    # Moved up by a redaction of the comment, the one UPDATE the table's trigger lets through (migration
    # 0026): the vector is then the redacted text's. See ``rewrite_redacted``.
    redaction_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Moved up by a re-encoding run (migration 0030, app.comments.vectors.reencode), the other UPDATE.
    encoding: Mapped[int] = mapped_column(default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<OffTopicExample {self.id} comment={self.comment_id} on_topic={self.on_topic}>"


def post_context(post: Post, revision: Revision, approved: list[str] | None = None) -> PostContext:
    """The post as the lexicon sees it; keyed by id, so a retitled post keeps what was learned about it."""
    return PostContext(
        revision.title, revision.body, list(revision.references), approved or [], key=str(post.id)
    )


def learn(session: Session, comment: Comment, decision: ModerationDecision) -> OffTopicExample | None:
    """Keep ``decision`` as an example if it teaches: a moderator's approve, ham or off_topic."""
    if decision.action not in TEACHING or decision.moderator_id is None or comment.staff_user_id is not None:
        return None
    held_off_topic = _filter_said_off_topic(comment)
    scored = comment.relevance_score is not None
    example = OffTopicExample(
        decision_id=decision.id,
        comment_id=comment.id,
        post_id=comment.post_id,
        on_topic=TEACHING[decision.action],
        filter_on_topic=(not held_off_topic) if scored else None,
        vector=embedding.to_bytes(
            embedding.encoder().encode(comment.body, max_tokens=embedding.COMMENT_TOKENS)
        ),
        at=decision.at,
    )
    session.add(example)
    session.flush()
    return example


def rewrite_redacted(session: Session, comment_id: int, body: str, sequence: int) -> int:
    """Re-encode the examples of ``comment_id`` from its redacted ``body``; returns how many.

    Called by app.redaction only, within the application of a confirmed redaction whose sequence (for that
    comment) is ``sequence``: the table's trigger lets the UPDATE through for exactly that. A vector is
    derived from the words, so the redacted identifier must not live on in it; the process's blog-wide
    copy is dropped after the commit, and the stamp of app.comments.vectors moves so that other processes
    read theirs again at their next scoring."""
    ids = list(session.scalars(select(OffTopicExample.id).where(OffTopicExample.comment_id == comment_id)))
    if not ids:
        return 0
    vector = embedding.to_bytes(embedding.encoder().encode(body, max_tokens=embedding.COMMENT_TOKENS))
    session.execute(
        update(OffTopicExample)
        .where(OffTopicExample.id.in_(ids))
        .values(vector=vector, redaction_count=sequence)
        .execution_options(synchronize_session=False)
    )
    vectors.move_examples_stamp(session)  # other processes read their examples again
    for obj in list(session.identity_map.values()):
        if isinstance(obj, OffTopicExample) and obj.id in ids:
            session.expire(obj)
    forget_after_commit(session)
    return len(ids)


def rewrite_redacted_passages(
    session: Session,
    revision: Revision,
    old: tuple[str, str],
    new: tuple[str, str],
    removed: list[str],
    sequence: int,
    mark: str,
) -> int:
    """Rewrite the stored passages of a redacted ``revision`` (labels and vectors) from its redacted
    (title, body) ``new``; returns how many (app.posts.passages.rewrite_redacted).

    Called by app.redaction only, within the application of the redaction whose sequence (for that
    revision) is ``sequence``. The stamp of app.comments.vectors moves, so every process reads its posts'
    passages again (the blog-wide ones and its own post's, which are kept by the stamp), and this
    process's copy is dropped after the commit."""
    count = post_passages.rewrite_redacted(session, revision, old, new, removed, sequence, mark)
    if count:
        vectors.move_examples_stamp(session)
        forget_after_commit(session)
    return count


def forget_after_commit(session: Session) -> None:
    """Drop this process's blog-wide copy once ``session`` commits (a stored vector was rewritten)."""
    key = str(session.get_bind().url)

    def forget() -> None:
        with _lock:
            _cache.pop(key, None)

    on_commit(session, forget)


def _filter_said_off_topic(comment: Comment) -> bool:
    """Whether the off_topic check found the comment off-topic on arrival (held, or logged in log mode)."""
    return any(
        check.get("check") == "off_topic"
        and (
            "off_topic" in check.get("reasons", ())
            or str(check.get("detail", "")).startswith(pipeline.LOGGED)
        )
        for check in comment.checks or ()
    )


@dataclass
class _Blog:
    """One database's blog-wide examples and posts' passages in this process, newest rows last."""

    examples: list[meaning.Example] = field(default_factory=list)
    examples_through: int = 0
    posts: dict[int, meaning.PostVectors] = field(default_factory=dict)
    passages_through: int = 0
    revisions: dict[int, int] = field(default_factory=dict)  # post id -> the revision ``posts`` holds
    publications: tuple[object, ...] = ()  # the ``corrections`` stamp when ``posts`` was last checked
    rows_read: int = 0  # for tests: how many rows this process ever read into the cache
    stamp: tuple[object, ...] = ()  # app.comments.vectors: moved when an example's vector is rewritten
    stacked_examples: meaning.Examples | None = None  # ``examples`` as one matrix, until they change
    stacked_posts: meaning.Posts | None = None  # ``posts`` as one matrix, until they change

    def stacked(self) -> tuple[meaning.Examples, meaning.Posts]:
        """The examples and posts stacked for one matrix product each (built again only after a change)."""
        if self.stacked_examples is None:
            self.stacked_examples = meaning.Examples.of(self.examples)
        if self.stacked_posts is None:
            self.stacked_posts = meaning.Posts.of(list(self.posts.values()))
        return self.stacked_examples, self.stacked_posts


_cache: dict[str, _Blog] = {}
_lock = threading.Lock()
_engagement: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
# (database, revision id, stamp of app.comments.vectors) -> its passages: the stamp moves when a redaction
# (or a re-encoding) rewrote stored passages, so no process goes on with the old labels and vectors.
_own: dict[tuple[str, int, tuple[object, ...]], meaning.PostVectors] = {}
OWN_POSTS = 256


def _blog(session: Session, stamp: tuple[object, ...] | None = None) -> _Blog:
    """``stamp``: of app.comments.vectors, if the caller read it already (before any of the rows)."""
    key = str(session.get_bind().url)
    with _lock:
        if stamp is None:
            stamp = vectors.examples_stamp(session)  # before the rows: a rewrite in between reads them twice
        blog = _cache.setdefault(key, _Blog(stamp=stamp))
        newest = session.scalar(select(func.max(OffTopicExample.id))) or 0
        if newest < blog.examples_through or stamp != blog.stamp:  # a new database, or a vector rewritten
            blog = _cache[key] = _Blog(stamp=stamp)
        if newest > blog.examples_through:
            rows = session.execute(
                select(
                    OffTopicExample.id,
                    OffTopicExample.post_id,
                    OffTopicExample.on_topic,
                    OffTopicExample.vector,
                )
                .where(OffTopicExample.id > blog.examples_through)
                .order_by(OffTopicExample.id.desc())
                .limit(BLOG_EXAMPLES)
            ).all()
            blog.rows_read += len(rows)
            blog.examples.extend(
                meaning.Example(str(post_id), on, embedding.from_bytes(vector))
                for _, post_id, on, vector in reversed(rows)
            )
            del blog.examples[:-BLOG_EXAMPLES]
            blog.examples_through = newest
            blog.stacked_examples = None
        _read_passages(session, blog)
        return blog


def _read_passages(session: Session, blog: _Blog) -> None:
    """The passages of the latest live posts (bounded by OTHER_POSTS), read again only for posts this
    process does not hold at their published revision.

    Looked at again when a passage is stored (a publication, or a post's first scored comment after an
    import) or when the ``corrections`` stamp moved: it moves in the transaction of every publication and
    retraction (``app.posts.models.SiteStamp``), so a post retracted in another process stops counting as
    an "other post" at this process's next scoring (the count chooses the weights, ``meaning.weights_for``),
    and a post published again at an older revision, whose passages were stored already, is read at it."""
    stamp = site_stamp(session, "corrections")  # before the rows: a move in between reads them twice
    newest = session.scalar(select(func.max(PostPassage.id))) or 0
    if newest <= blog.passages_through and stamp == blog.publications:
        return
    live = session.execute(
        select(Post.id, Revision.id, Revision.title)
        .join(Revision, Revision.id == Post.published_revision_id)
        .where(Post.publication_state == PublicationState.LIVE.value)
        .order_by(Post.id.desc())
        .limit(OTHER_POSTS)
    ).all()
    wanted = {revision_id: (post_id, title) for post_id, revision_id, title in live}
    missing = [r for r in wanted if blog.revisions.get(wanted[r][0]) != r]
    found: dict[int, list[meaning.Passage]] = defaultdict(list)
    for start in range(0, len(missing), 500):  # bounded IN lists
        rows = session.execute(
            select(PostPassage.revision_id, PostPassage.label, PostPassage.vector)
            .where(PostPassage.revision_id.in_(missing[start : start + 500]))
            .order_by(PostPassage.revision_id, PostPassage.position)
        ).all()
        blog.rows_read += len(rows)
        for revision_id, label, vector in rows:
            found[revision_id].append(meaning.Passage(label, embedding.from_bytes(vector)))
    live_ids = {post_id for post_id, _, _ in live}
    for gone in [post_id for post_id in blog.posts if post_id not in live_ids]:
        del blog.posts[gone]
        del blog.revisions[gone]
    for revision_id, passages in found.items():  # a live post without stored passages waits for them
        post_id, title = wanted[revision_id]
        blog.posts[post_id] = meaning.PostVectors(str(post_id), title, tuple(passages))
        blog.revisions[post_id] = revision_id
    blog.passages_through = newest
    blog.publications = stamp
    blog.stacked_posts = None


def knowledge(session: Session, post: Post) -> meaning.Knowledge | None:
    """What the scorer compares a comment on ``post`` with; None if the post has no published revision."""
    if post.published_revision_id is None:
        return None
    stamp = vectors.examples_stamp(session)  # before the rows: a rewrite in between reads them twice
    key = (str(session.get_bind().url), post.published_revision_id, stamp)
    with _lock:
        own = _own.get(key)
    if own is None:
        own = vectors_of(session, post)
        if own is None:
            return None
        with _lock:  # a revision's passages change only with the stamp: keep the latest few here
            _own[key] = own
            while len(_own) > OWN_POSTS:
                del _own[next(iter(_own))]
    blog = _blog(session, stamp)
    with _lock:
        stacked_examples, stacked_posts = blog.stacked()
    here = session.execute(
        select(OffTopicExample.on_topic, OffTopicExample.vector)
        .where(OffTopicExample.post_id == post.id)
        .order_by(OffTopicExample.id.desc())
        .limit(PER_POST)
    ).all()
    key = str(post.id)
    examples = [meaning.Example(key, on, embedding.from_bytes(v)) for on, v in here]
    engagement, promotion, everyday, elsewhere = _phrase_vectors()
    # The blog-wide rows of this post are left out by the scorer (``examples`` has them, fresher).
    return meaning.Knowledge(
        own,
        (),
        examples,
        engagement,
        promotion,
        blog=stacked_examples,
        others=stacked_posts,
        everyday=everyday,
        elsewhere=elsewhere,
    )


def _phrase_vectors() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vectors of meaning.ENGAGEMENT, PROMOTION, EVERYDAY and ELSEWHERE, encoded once per process."""
    with _lock:
        if not _engagement:
            _engagement.append(
                (
                    meaning.engagement_vectors(),
                    meaning.promotion_vectors(),
                    meaning.everyday_vectors(),
                    meaning.elsewhere_vectors(),
                )
            )
        return _engagement[0]


@dataclass(frozen=True)
class Overruled:
    """How often moderators decided otherwise than the filter: held but approved, or passed but removed."""

    decided: int
    held_but_approved: int
    passed_but_removed: int

    @property
    def overruled(self) -> int:
        return self.held_but_approved + self.passed_but_removed

    @property
    def rate(self) -> float:
        return self.overruled / self.decided if self.decided else 0.0


def overruled(session: Session) -> tuple[Overruled, list[tuple[int, str, Overruled]]]:
    """Overall, and per post (id, title, counts; most overruled first): one grouped query."""
    E = OffTopicExample
    rows = session.execute(
        select(
            E.post_id,
            func.count(),
            func.sum(case((E.filter_on_topic.is_(False) & E.on_topic.is_(True), 1), else_=0)),
            func.sum(case((E.filter_on_topic.is_(True) & E.on_topic.is_(False), 1), else_=0)),
        )
        .where(E.filter_on_topic.is_not(None))
        .group_by(E.post_id)
    ).all()
    titles = dict(
        session.execute(
            select(Post.id, Revision.title)
            .join(Revision, Revision.id == Post.current_revision_id)
            .where(Post.id.in_([r[0] for r in rows]))
        ).all()
    )
    per_post = [
        (pid, titles.get(pid, f"post {pid}"), Overruled(n, int(a or 0), int(b or 0))) for pid, n, a, b in rows
    ]
    per_post.sort(key=lambda r: (-r[2].overruled, -r[2].decided, r[0]))
    total = Overruled(
        sum(r[2].decided for r in per_post),
        sum(r[2].held_but_approved for r in per_post),
        sum(r[2].passed_but_removed for r in per_post),
    )
    return total, per_post


def rows_read(session: Session) -> int:
    """Rows this process has read into its blog-wide cache for this database (tests: it stays bounded)."""
    with _lock:
        blog = _cache.get(str(session.get_bind().url))
        return blog.rows_read if blog else 0


def forget_all() -> None:
    """Drop every process-local copy (tests that recreate a database at the same address)."""
    with _lock:
        _cache.clear()
        _own.clear()
