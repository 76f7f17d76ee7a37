"""Keep the search documents current, and search them: readers' search (published text only) and staff's.

Readers' search reads only ``search_documents``, which holds the text of each public post's published
revision and nothing else, so a draft, or the unpublished newer revision of a live post, cannot be
found whatever the query. The user's words are never handed to the engine's query language: they are
cut into word tokens here and rebuilt into a query that cannot fail (each token quoted for FTS5; plain
words for PostgreSQL's ``websearch_to_tsquery``), so quotes, NEAR, ``*``, ``-``, parentheses, NUL bytes
or 10 KB of input give results or none, never an error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from app import cursors
from app.accounts.models import User
from app.accounts.permissions import require
from app.clock import utc_now
from app.cursors import Key
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


def query_kind(list_name: str, words: list[str] | str) -> str:
    """The cursor kind of one list of results for one query: a cursor made for another query (or the
    other search) is refused, not read as a position in this one."""
    joined = words if isinstance(words, str) else " ".join(words)
    return f"{list_name}:{hashlib.sha256(joined.encode()).hexdigest()[:16]}"


RANK_KEY: tuple[type, ...] = (float, int)
"""A reader search cursor: the last hit's rank, exactly as the database returned it, and its post id."""


def _sqlite_rows(
    session: Session, words: list[str], key: Key | None, limit: int, backward: bool = False
) -> list[tuple[int, str, float]]:
    match = " ".join(f'"{w}"' for w in words)  # \w+ tokens hold no quote: each is one literal term
    rank = f"bm25({FTS_TABLE}, 10.0, 1.0, 4.0, 2.0)"  # lower is better
    statement = text(
        f"SELECT d.post_id, snippet({FTS_TABLE}, -1, :start, :stop, '…', 24), {rank} "
        f"FROM {FTS_TABLE} JOIN search_documents d ON d.post_id = {FTS_TABLE}.rowid "
        "JOIN posts p ON p.id = d.post_id "
        f"WHERE {FTS_TABLE} MATCH :match AND p.published_revision_id IS NOT NULL "
        + (
            f"AND ({rank}, d.post_id) {'<' if backward else '>'} (:rank, :post_id) "
            if key is not None
            else ""
        )
        + (f"ORDER BY {rank} DESC, d.post_id DESC " if backward else f"ORDER BY {rank}, d.post_id ")
        + "LIMIT :limit"
    )
    params: dict[str, object] = {"start": START, "stop": STOP, "match": match, "limit": limit}
    if key is not None:
        params.update(rank=key[0], post_id=key[1])
    return [(row[0], row[1] or "", row[2]) for row in session.execute(statement, params)]


def _postgres_rows(
    session: Session, words: list[str], key: Key | None, limit: int, backward: bool = False
) -> list[tuple[int, str, float]]:
    options = (
        f'StartSel={START}, StopSel={STOP}, MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "'
    )
    # ts_rank_cd is a real; read as double precision it reaches Python, the cursor's JSON and back
    # unchanged, so the comparison with the cursor's rank is exact. Higher is better.
    statement = text(
        f"SELECT s.post_id, ts_headline('{PG_CONFIG}', s.body, s.q, :options), s.rank FROM ("
        f"SELECT d.post_id, d.body, q, CAST(ts_rank_cd({PG_VECTOR}, q) AS double precision) AS rank "
        f"FROM search_documents d JOIN posts p ON p.id = d.post_id, "
        f"websearch_to_tsquery('{PG_CONFIG}', :query) AS q "
        # OFFSET 0 keeps the inner query whole: flattened, its rank would be recomputed (the vector
        # rebuilt from the text) in each term of the cursor's condition and again for the order.
        f"WHERE {PG_VECTOR} @@ q AND p.published_revision_id IS NOT NULL OFFSET 0) AS s "
        + (
            "WHERE s.rank > CAST(:rank AS double precision) "
            "OR (s.rank = CAST(:rank AS double precision) AND s.post_id < :post_id) "
            if key is not None and backward
            else "WHERE s.rank < CAST(:rank AS double precision) "
            "OR (s.rank = CAST(:rank AS double precision) AND s.post_id > :post_id) "
            if key is not None
            else ""
        )
        + ("ORDER BY s.rank, s.post_id DESC " if backward else "ORDER BY s.rank DESC, s.post_id ")
        + "LIMIT :limit"
    ).bindparams(bindparam("options"), bindparam("query"))
    params: dict[str, object] = {"options": options, "query": " ".join(words), "limit": limit}
    if key is not None:
        params.update(rank=key[0], post_id=key[1])
    return [(row[0], row[1] or "", float(row[2])) for row in session.execute(statement, params)]


def search(
    session: Session, query: str, *, after: str | None = None, before: str | None = None, per_page: int = 10
) -> cursors.Page:
    """Public posts and pages matching the words of ``query``, best first, and the cursor of the next
    page (None: no more).

    Keyset on (rank, post id): ranks are deterministic for a query and an index, so the next page is
    the hits ranked after the last one shown, ties broken by id; no page reads the ones before it.
    ``after`` is checked (BadCursor, a 400) before any query, and must be a cursor of this query; so is
    ``before`` (the previous page: the hits ranked just better than the first one shown, read the same
    way from the other end).
    """
    words = tokens(query)
    kind = query_kind("search", words)
    key, backward = cursors.position(after, before, kind, RANK_KEY)
    if not words:
        return cursors.Page([], None)
    backward = backward and key is not None
    limit = per_page + 1
    if session.get_bind().dialect.name == "postgresql":
        rows = _postgres_rows(session, words, key, limit, backward)
    else:
        rows = _sqlite_rows(session, words, key, limit, backward)
    rows = rows[:limit]
    more = len(rows) > per_page
    if backward:
        rows = rows[:per_page][::-1]
    posts = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_([r[0] for r in rows])))}
    hits = [
        Hit(post=posts[post_id], title=posts[post_id].published_revision.title, snippet=runs(snippet))
        for post_id, snippet, _rank in rows[:per_page]
        if post_id in posts and posts[post_id].published_revision is not None
    ]
    # The cursors name the first and last rows read, shown or not, so the pages either side start from
    # them either way.
    if not rows:
        return cursors.Page(hits, None)
    first = cursors.encode(kind, (rows[0][2], rows[0][0]))
    if backward:
        return cursors.Page(hits, cursors.encode(kind, (rows[-1][2], rows[-1][0])), first if more else None)
    nxt = cursors.encode(kind, (rows[per_page - 1][2], rows[per_page - 1][0])) if more else None
    return cursors.Page(hits, nxt, first if key is not None else None)


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


STAFF_KEY: tuple[type, ...] = (int, int)
"""A staff search cursor: the last hit's (current revision id, post id), its order, newest first."""


def staff_search(
    session: Session,
    actor: User,
    query: str,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 20,
) -> cursors.Page:
    """Every post and page, in any state, whose current (newest) revision's title or text contains
    ``query`` (case-insensitive, literally: ``%`` and ``_`` are not wildcards). Staff only.

    A plain substring match on the newest text rather than the public index: drafts are few, and a
    staff member looks for the words they remember, including ones no reader has seen yet.
    """
    require(actor, "post.view_unpublished")
    needle = " ".join(query[:MAX_QUERY_CHARS].replace("\x00", " ").split())
    lowered = needle.lower()
    kind = query_kind("staff-search", lowered)
    key, backward = cursors.position(after, before, kind, STAFF_KEY)
    if not needle:
        return cursors.Page([], None)
    # Driven by the matching revisions (on PostgreSQL read from the trigram indexes of migration 0029),
    # each kept only if it is its post's current one: a correlated lookup by the post's primary key, so
    # the work grows with the matches, never with the number of posts. A needle without a trigram (under
    # three letters or digits, e.g. "IV") still works: PostgreSQL then scans, as SQLite always does.
    # (revision id, post id) is the post's (current_revision_id, id): the cursor's key, unchanged.
    owner = aliased(Post)
    current = (
        select(owner.current_revision_id)
        .where(owner.id == Revision.post_id)
        .correlate(Revision)
        .scalar_subquery()
    )
    statement = (
        select(Post, Revision)
        .select_from(Revision)
        .join(Post, Post.id == Revision.post_id)
        .where(
            Revision.id == current,
            or_(
                func.lower(Revision.title).contains(lowered, autoescape=True),
                func.lower(Revision.body).contains(lowered, autoescape=True),
            ),
        )
    )
    statement = cursors.after(
        statement, [Revision.id, Revision.post_id], key, descending=True, backward=backward
    )
    rows = list(session.execute(statement.limit(per_page + 1)))
    found = cursors.page(
        rows, per_page, kind, lambda row: (row[0].current_revision_id, row[0].id), key=key, backward=backward
    )
    hits = [
        Hit(post=post, title=revision.title, snippet=_around(" ".join(revision.body.split()), needle))
        for post, revision in found.rows
    ]
    return cursors.Page(hits, found.next, found.previous)
