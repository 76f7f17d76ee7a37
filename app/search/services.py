"""Keep the search documents current, and search them: readers' search (published text only) and staff's.

Readers' search reads only ``search_documents``, which holds the text of each public post's published
revision and nothing else, so a draft, or the unpublished newer revision of a live post, cannot be
found whatever the query. The user's words are never handed to the engine's query language: they are
cut into word tokens here and rebuilt into a query that cannot fail (each token quoted for FTS5; plain
words for PostgreSQL's ``websearch_to_tsquery``), so quotes, NEAR, ``*``, ``-``, parentheses, NUL bytes
or 10 KB of input give results or none, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.permissions import require
from app.clock import utc_now
from app.posts.models import Post, Revision, Topic, revision_topics
from app.posts.rendering import plain_text
from app.search.ddl import FTS_TABLE, PG_CONFIG, PG_VECTOR
from app.search.models import SearchDocument

MAX_QUERY_CHARS = 500
MAX_TOKENS = 12
MAX_TOKEN_CHARS = 60
# Private-use characters mark the highlighted words in the engine's snippet; the page escapes the text
# and draws <mark> from these, so no stored or typed HTML ever reaches the page as markup.
START, STOP = "\ue000", "\ue001"
_MARKERS = re.compile(f"[{START}{STOP}]")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    post: Post
    title: str
    snippet: list[tuple[str, bool]]  # (text, highlighted) runs, in order

    @property
    def snippet_text(self) -> str:
        return "".join(run for run, _ in self.snippet)


def tokens(query: str) -> list[str]:
    """The words of a user's query, at most MAX_TOKENS of them; nothing of its syntax survives."""
    words = _WORD.findall(query[:MAX_QUERY_CHARS].replace("\x00", " "))
    return [w[:MAX_TOKEN_CHARS] for w in words if w.strip("_")][:MAX_TOKENS]


def runs(snippet: str) -> list[tuple[str, bool]]:
    """Split an engine snippet at the markers into (text, highlighted) runs (an unmatched marker: plain)."""
    out: list[tuple[str, bool]] = []
    highlighted = False
    for piece in re.split(f"([{START}{STOP}])", snippet):
        if piece == START:
            highlighted = True
        elif piece == STOP:
            highlighted = False
        elif piece:
            out.append((piece, highlighted))
    return out


# --- the index -----------------------------------------------------------------------------------


def _clean(value: str) -> str:
    return _MARKERS.sub(" ", value)


def index_post(session: Session, post: Post) -> None:
    """Write ``post``'s search document from its published revision (or remove it if it has none).

    Called after every publication and redaction; the database keeps the full-text index in step.
    """
    revision = post.published_revision
    existing = session.get(SearchDocument, post.id)
    if revision is None:
        if existing is not None:
            session.delete(existing)
            session.flush()
        return
    values = {
        "title": _clean(revision.title),
        "body": _clean(plain_text(revision.html)),
        "topics": _clean(" ".join(t.name for t in revision.topics)),
        "authors": _clean(post.author.name),
        "updated_at": utc_now(),
    }
    if existing is None:
        session.add(SearchDocument(post_id=post.id, **values))
    else:
        for name, value in values.items():
            setattr(existing, name, value)
    session.flush()


def reindex_topic(session: Session, topic: Topic) -> int:
    """Rewrite the documents of every public post filed under ``topic`` (after a rename)."""
    posts = list(
        session.scalars(
            select(Post)
            .join(revision_topics, revision_topics.c.revision_id == Post.published_revision_id)
            .where(revision_topics.c.topic_id == topic.id)
        )
    )
    for post in posts:
        index_post(session, post)
    return len(posts)


def reindex_author(session: Session, author: User) -> int:
    """Rewrite the documents of every public post ``author`` wrote (after their name changed): readers
    search for the name the byline shows, never the old one."""
    posts = list(
        session.scalars(
            select(Post).where(Post.author_id == author.id, Post.published_revision_id.is_not(None))
        )
    )
    for post in posts:
        index_post(session, post)
    return len(posts)


def reindex_all(session: Session) -> int:
    """Every public post's document, rewritten: after an upgrade, or to repair the index."""
    posts = list(session.scalars(select(Post).where(Post.published_revision_id.is_not(None))))
    for post in posts:
        index_post(session, post)
    return len(posts)


# --- readers' search ---------------------------------------------------------------------------


def _sqlite_rows(session: Session, words: list[str], offset: int, limit: int) -> list[tuple[int, str]]:
    match = " ".join(f'"{w}"' for w in words)  # \w+ tokens hold no quote: each is one literal term
    statement = text(
        f"SELECT d.post_id, snippet({FTS_TABLE}, -1, :start, :stop, '…', 24) "
        f"FROM {FTS_TABLE} JOIN search_documents d ON d.post_id = {FTS_TABLE}.rowid "
        "JOIN posts p ON p.id = d.post_id "
        f"WHERE {FTS_TABLE} MATCH :match AND p.published_revision_id IS NOT NULL "
        f"ORDER BY bm25({FTS_TABLE}, 10.0, 1.0, 4.0, 2.0), d.post_id LIMIT :limit OFFSET :offset"
    )
    params = {"start": START, "stop": STOP, "match": match, "limit": limit, "offset": offset}
    return [(row[0], row[1] or "") for row in session.execute(statement, params)]


def _postgres_rows(session: Session, words: list[str], offset: int, limit: int) -> list[tuple[int, str]]:
    options = (
        f'StartSel={START}, StopSel={STOP}, MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "'
    )
    statement = text(
        f"SELECT d.post_id, ts_headline('{PG_CONFIG}', d.body, q, :options) "
        f"FROM search_documents d JOIN posts p ON p.id = d.post_id, "
        f"websearch_to_tsquery('{PG_CONFIG}', :query) AS q "
        f"WHERE {PG_VECTOR} @@ q AND p.published_revision_id IS NOT NULL "
        f"ORDER BY ts_rank_cd({PG_VECTOR}, q) DESC, d.post_id LIMIT :limit OFFSET :offset"
    ).bindparams(bindparam("options"), bindparam("query"))
    params = {"options": options, "query": " ".join(words), "limit": limit, "offset": offset}
    return [(row[0], row[1] or "") for row in session.execute(statement, params)]


def search(session: Session, query: str, *, page: int = 1, per_page: int = 10) -> tuple[list[Hit], bool]:
    """Public posts and pages matching the words of ``query``, best first, and whether more follow."""
    words = tokens(query)
    if not words:
        return [], False
    offset, limit = (page - 1) * per_page, per_page + 1
    if session.get_bind().dialect.name == "postgresql":
        rows = _postgres_rows(session, words, offset, limit)
    else:
        rows = _sqlite_rows(session, words, offset, limit)
    rows = rows[:limit]
    posts = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_([r[0] for r in rows])))}
    hits = [
        Hit(post=posts[post_id], title=posts[post_id].published_revision.title, snippet=runs(snippet))
        for post_id, snippet in rows[:per_page]
        if post_id in posts and posts[post_id].published_revision is not None
    ]
    return hits, len(rows) > per_page


# --- staff search ------------------------------------------------------------------------------


def _around(body: str, needle: str, width: int = 160) -> list[tuple[str, bool]]:
    """A plain excerpt of ``body`` around the first occurrence of ``needle``, the match highlighted."""
    at = body.casefold().find(needle.casefold())
    if at < 0:
        return [(body[:width] + ("…" if len(body) > width else ""), False)]
    start = max(0, at - width // 2)
    before = ("…" if start else "") + body[start:at]
    end = at + len(needle)
    after = body[end : end + width // 2] + ("…" if end + width // 2 < len(body) else "")
    return [(before, False), (body[at:end], True), (after, False)]


def staff_search(
    session: Session, actor: User, query: str, *, page: int = 1, per_page: int = 20
) -> tuple[list[Hit], bool]:
    """Every post and page, in any state, whose current (newest) revision's title or text contains
    ``query`` (case-insensitive, literally: ``%`` and ``_`` are not wildcards). Staff only.

    A plain substring match on the newest text rather than the public index: drafts are few, and a
    staff member looks for the words they remember, including ones no reader has seen yet.
    """
    require(actor, "post.view_unpublished")
    needle = " ".join(query[:MAX_QUERY_CHARS].replace("\x00", " ").split())
    if not needle:
        return [], False
    lowered = needle.lower()
    rows = list(
        session.execute(
            select(Post, Revision)
            .join(Revision, Revision.id == Post.current_revision_id)
            .where(
                or_(
                    func.lower(Revision.title).contains(lowered, autoescape=True),
                    func.lower(Revision.body).contains(lowered, autoescape=True),
                )
            )
            .order_by(Post.current_revision_id.desc(), Post.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    hits = [
        Hit(post=post, title=revision.title, snippet=_around(" ".join(revision.body.split()), needle))
        for post, revision in rows[:per_page]
    ]
    return hits, len(rows) > per_page
