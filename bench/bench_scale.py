"""Every reader and staff list page at scale, against the same pages on a small database (issue 15).

Run: ``.venv/bin/python bench/bench_scale.py [--scale 1.0] [--repeat 5]``. It needs PostgreSQL
(``--url``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``: any database there, used
only to create and drop two of its own, ``candor_bench_scale_<pid>_small`` and ``..._big``).

Both databases are built the same way, in bulk (``INSERT ... SELECT generate_series``: history tables
only ever get INSERTs, as their append-only triggers demand; only ``posts``, the current pointer, is
updated once to mark the bulk posts published), then ``VACUUM ANALYZE``d:

==========================  ===========  ==========  ==============
what                        full size    small        ``--scale s``
==========================  ===========  ==========  ==============
posts                       10,000       120          10,000 s
comments                    1,000,000    1,000        1,000,000 s
  on the hot post           20,000       440          20,000 s
  held (top-level)          100,000      120          100,000 s
  asking staff (needs-reply) every 200th every 7th    every 200th
revisions of one post       1,000        120          1,000 s
posts saying "ferritin"     100          100          100
==========================  ===========  ==========  ==============

The small database has every list at least two full pages long, so that each page (page 1 and the
deep page) shows as many rows on both databases: like is compared with like.

Every comment has a ``submit`` decision in the moderation log, every post an audit entry. A quarter
of the published comments are top-level; the rest reply within their thread. Every 200th comment asks
staff a question (needs-reply; every 7th on the small database). Every post has its search document;
100 posts (the same number on both databases: a search's work grows with its matches, which are compared
like for like) say "ferritin", the word the search pages look for.

Each page is requested in-process (Flask test client; the page cache is emptied before every request,
so every figure is an uncached render) ``--repeat`` times after one warm-up; the median is kept. A "deep"
page is the page whose cursor names a row ~90 % down its list, leaving at least a full page after it
(the cursor is built from that row, as the page before it would have linked it). It prints, per page,
the latencies at both sizes and the ratio big / small; target: every ratio <= 1.5 (bounded pages cost
the same at any size and any depth).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app, cursors, migrate  # noqa: E402
from app.accounts import services as accounts  # noqa: E402
from app.accounts.models import Role, User  # noqa: E402
from app.comments.models import TALLY_SHARDS  # noqa: E402
from app.corrections import services as corrections  # noqa: E402
from app.posts.models import Post, Revision  # noqa: E402
from app.search import services as search  # noqa: E402

TARGET = 1.5
FERRITIN = 100
PASSWORD = "bench-password-long-enough-1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Size:
    def __init__(self, scale: float) -> None:
        self.posts = int(10_000 * scale)
        self.comments = int(1_000_000 * scale)
        self.hot = int(20_000 * scale)
        self.held = int(100_000 * scale)
        self.revisions = int(1_000 * scale)
        self.reply_every = 200  # every 200th comment asks staff something (needs-reply)
        self.label = f"scale {scale:g}"

    @classmethod
    def small(cls) -> Size:
        """1,000 comments, and every list at least two full pages long, so that page 1 and the deep page
        show as many rows here as on the big database: like is compared with like (a deep page of a list
        of 10 shows 1 row where the big one shows 50, which measured rendering, not the query)."""
        size = cls(0.001)
        size.posts = 120  # home (10 a page), API posts (50)
        size.hot = 440  # 110 top-level threads: the post page and "more comments" both show 50
        size.held = 120  # the queue (25), the held API (20)
        size.revisions = 120  # history (50), corrections (20)
        size.reply_every = 7  # ~125 waiting for a reply (needs-reply, 50 a page)
        size.label = "small"
        return size


# --- building ------------------------------------------------------------------------------------------


def build(url: str, size: Size) -> dict[str, Any]:
    """Migrate, make three staff, and bulk-load ``size``; return what the pages need (ids, slugs)."""
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench"})
    sessions = app.extensions["candor.sessions"]
    with sessions() as session:
        author = accounts.create_user(
            session, email="author@clinic.example", name="Ada Author", password=PASSWORD, roles={Role.AUTHOR}
        )
        editor = accounts.create_user(
            session, email="editor@clinic.example", name="Eve Editor", password=PASSWORD, roles={Role.EDITOR}
        )
        moderator = accounts.create_user(
            session,
            email="moderator@clinic.example",
            name="Max Moderator",
            password=PASSWORD,
            roles={Role.MODERATOR, Role.EDITOR},
        )
        token = accounts.create_token(session, moderator)
        ids = {"author": author.id, "editor": editor.id, "moderator": moderator.id}
        session.commit()
    engine = app.extensions["candor.engine"]
    started = time.perf_counter()
    with engine.begin() as conn:
        _bulk(conn, size, ids)
    with sessions() as session:
        # Publication stores the diff from the first publication to the new one (the changes page's
        # default); the bulk load bypassed publication, so store that one diff as it would have.
        post = session.get(Post, 1)
        first = session.get(Revision, 1)
        assert post is not None and first is not None and post.published_revision is not None
        corrections.cached_diff(session, first, post.published_revision, store=True)
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    print(f"  built {size.label} in {time.perf_counter() - started:.0f} s", flush=True)
    return {"app": app, "token": token, "size": size}


def _bulk(conn: Any, size: Size, ids: dict[str, int]) -> None:
    p, c, hot, held, revs = size.posts, size.comments, size.hot, size.held, size.revisions
    a, e, m = ids["author"], ids["editor"], ids["moderator"]

    def run(sql: str) -> None:
        conn.exec_driver_sql(sql.replace("%", "%%"))  # the driver's placeholders; SQL's modulo

    t0 = f"'{T0.isoformat()}'::timestamptz"
    body = "Sleep matters. " * 40
    # The word searched for, in a fixed number of posts (3 ..): in their text and their search document.
    said = f"CASE WHEN g BETWEEN 3 AND {2 + FERRITIN} THEN ' Ferritin levels.' ELSE '' END"
    # Posts 1..p (1: the post with many revisions, 2: the hot post), first as drafts: a published post
    # must name its published revision, which must name its post.
    run(
        f"INSERT INTO posts (id, author_id, created_at, updated_at, publication_state, review_state, version)"
        f" SELECT g, {a}, {t0} + g * interval '1 minute', {t0}, 'never_published', 'none', 1"
        f" FROM generate_series(1, {p}) g"
    )
    # Revision 1 of every post (id = post id); revisions 2..revs of post 1 (ids p+1 ...).
    run(
        f'INSERT INTO post_revisions (id, post_id, number, title, body, "references", html, author_id,'
        f" created_at, kind, note)"
        f" SELECT g, g, 1, 'Post number ' || g, '{body}' || {said}, '[]', '<p>{body}' || {said} || '</p>',"
        f" {a}, {t0} + g * interval '1 minute', 'original', '' FROM generate_series(1, {p}) g"
    )
    run(
        f'INSERT INTO post_revisions (id, post_id, number, title, body, "references", html, author_id,'
        f" created_at, kind, note)"
        f" SELECT {p} + k - 1, 1, k, 'Post number 1', '{body} Fixed ' || k || '.', '[]',"
        f" '<p>{body} Fixed ' || k || '.</p>', {a}, {t0} + interval '30 days' + k * interval '1 minute',"
        f" 'correction', 'Corrected figure ' || k FROM generate_series(2, {revs}) k"
    )
    revision_rows = "SELECT id, post_id, created_at AS at FROM post_revisions"  # each published once
    run(
        f"INSERT INTO approvals (id, post_id, revision_id, revision_author_id, approved_by_id, approved_at,"
        f" touches_interests, interest_statement, gates)"
        f" SELECT r.id, r.post_id, r.id, {a}, {e}, r.at, false, '', '[]' FROM ({revision_rows}) r"
    )
    run(
        f"INSERT INTO publications (id, post_id, revision_id, approved_by_id, published_at, via, approval_id)"
        f" SELECT r.id, r.post_id, r.id, {e}, r.at, 'review', r.id FROM ({revision_rows}) r"
    )
    run(
        f"INSERT INTO post_slugs (post_id, slug, created_at)"
        f" SELECT g, 'post-number-' || g, {t0} + g * interval '1 minute' FROM generate_series(1, {p}) g"
    )
    last = p + revs - 2 if revs > 1 else 1
    run(
        f"UPDATE posts SET slug = 'post-number-' || id, current_revision_id = CASE WHEN id = 1 THEN {last}"
        f" ELSE id END, published_revision_id = CASE WHEN id = 1 THEN {last} ELSE id END,"
        f" first_published_at = created_at, publication_state = 'live'"
    )
    # What publication writes for search (app.search.services.index_post), in bulk.
    run(
        f"INSERT INTO search_documents (post_id, title, body, topics, authors, updated_at)"
        f" SELECT g, 'Post number ' || g, '{body}' || {said}, '', 'Ada Author', {t0}"
        f" FROM generate_series(1, {p}) g"
    )
    run(
        f"INSERT INTO audit_entries (at, actor_id, action, post_id, revision_number, note, data)"
        f" SELECT created_at, {e}, 'post.published', post_id, number, '', '{{}}' FROM post_revisions"
    )
    # Comments: ids 1..c-held published (hot post's first, then spread over posts 3..p); in fours, a
    # top-level comment and three replies in its thread. Then `held` held top-level comments.
    published = c - held
    post_of = f"CASE WHEN r <= {hot} THEN 2 ELSE 3 + (r / 4) % GREATEST({p} - 2, 1) END"
    run(
        f"INSERT INTO comments (id, post_id, parent_id, thread_id, author_name, author_email, author_ip,"
        f" user_agent, referrer, permalink, body, html, status, reasons, checks, relevance_drivers,"
        f" akismet_verdict, needs_reply, notify, created_at, status_changed_at)"
        f" SELECT g, {post_of}, CASE WHEN g % 4 = 1 THEN NULL ELSE g - 1 END,"
        f" CASE WHEN g % 4 = 1 THEN NULL ELSE g - (g - 1) % 4 END, 'Reader ' || g,"
        f" 'reader' || g || '@example.net', '203.0.113.9', 'bench', '', '',"
        f" 'Thanks for this, comment ' || g || '.', '<p>Thanks for this, comment ' || g || '.</p>',"
        f" 'published', '[]', '[]', '[]', 'ham', (g % {size.reply_every} = 1), false,"
        f" {t0} + g * interval '1 second', {t0} + g * interval '1 second'"
        f" FROM generate_series(1, {published}) g, LATERAL (SELECT g - (g - 1) % 4 AS r) root"
    )
    run(
        f"INSERT INTO comments (id, post_id, parent_id, thread_id, author_name, author_email, author_ip,"
        f" user_agent, referrer, permalink, body, html, status, reasons, checks, relevance_drivers,"
        f" akismet_verdict, needs_reply, notify, created_at, status_changed_at)"
        f" SELECT g, 3 + g % GREATEST({p} - 2, 1), NULL, NULL, 'Visitor ' || g, 'visitor' || g || "
        "'@example.net',"
        f" '198.51.100.7', 'bench', '', '', 'Buy cheap pills ' || g, '<p>Buy cheap pills ' || g || '</p>',"
        f" 'held', '[\"akismet:no_key\", \"first_comment\"]', '[]', '[]', '', false, false,"
        f" {t0} + g * interval '1 second', {t0} + g * interval '1 second'"
        f" FROM generate_series({published} + 1, {c}) g"
    )
    run(
        "INSERT INTO moderation_decisions (comment_id, moderator_id, action, from_status, to_status, reason,"
        " reasons, at) SELECT id, NULL, 'submit', '', status, '', reasons, created_at FROM comments"
    )
    run(
        "UPDATE posts SET comment_count = n FROM (SELECT post_id, count(*) AS n FROM comments"
        " WHERE status = 'published' GROUP BY post_id) k WHERE k.post_id = posts.id"
    )
    shard = f"id % {TALLY_SHARDS}"  # app.comments.states: a comment counts in its shard
    run(
        f"INSERT INTO comment_tallies (status, reason, shard, n) SELECT status, '', {shard}, count(*)"
        f" FROM comments GROUP BY status, {shard}"
    )
    for reason in ("akismet:no_key", "first_comment"):
        run(
            f"INSERT INTO comment_tallies (status, reason, shard, n) SELECT 'held', '{reason}', {shard},"
            f" count(*) FROM comments WHERE status = 'held' GROUP BY {shard}"
        )
    for table in ("posts", "post_revisions", "approvals", "publications", "comments"):
        run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    del m


# --- the pages -----------------------------------------------------------------------------------------


def pages(built: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(name, path, staff) for page 1 and a deep page of every list, on this database."""
    size: Size = built["size"]
    app = built["app"]
    engine = app.extensions["candor.engine"]

    def row(sql: str) -> Any:
        with engine.connect() as conn:
            return conn.execute(text(sql)).one()

    deep = 0.9

    def nth(count: int, per_page: int) -> int:
        """The row ~90 % down a list of ``count``, leaving at least a full page after it (the deep page
        shows as many rows as page 1, on both databases)."""
        return max(min(int(count * deep), count - per_page - 1), 1)

    def count(sql: str) -> int:
        return int(row(sql)[0])

    home = row(
        "SELECT first_published_at, id FROM posts"
        f" ORDER BY first_published_at DESC, id DESC OFFSET {nth(size.posts, 50) - 1} LIMIT 1"
    )
    hot_roots = size.hot // 4
    thread = row(
        "SELECT created_at, id FROM comments WHERE post_id = 2 AND parent_id IS NULL AND status = 'published'"
        f" ORDER BY created_at, id OFFSET {nth(hot_roots, 50) - 1} LIMIT 1"
    )
    hot_comment = row(
        "SELECT created_at, id FROM comments WHERE post_id = 2 AND status = 'published'"
        f" ORDER BY created_at, id OFFSET {nth(size.hot, 50) - 1} LIMIT 1"
    )
    held = row(
        "SELECT created_at, id FROM comments WHERE status = 'held'"
        f" ORDER BY created_at, id OFFSET {nth(size.held, 25) - 1} LIMIT 1"
    )
    published = row(
        "SELECT created_at, id FROM comments WHERE status = 'published'"
        f" ORDER BY created_at DESC, id DESC OFFSET {nth(size.comments - size.held, 25) - 1} LIMIT 1"
    )
    decision = row(
        "SELECT at, id FROM moderation_decisions"
        f" ORDER BY at DESC, id DESC OFFSET {nth(size.comments, 50) - 1} LIMIT 1"
    )
    audit = row(
        "SELECT at, id FROM audit_entries ORDER BY at DESC, id DESC"
        f" OFFSET {nth(count('SELECT count(*) FROM audit_entries'), 50) - 1} LIMIT 1"
    )
    history = row(
        "SELECT published_at, id FROM publications WHERE post_id = 1"
        f" ORDER BY published_at, id OFFSET {nth(size.revisions, 50) - 1} LIMIT 1"
    )
    correction = row(
        f"SELECT published_at, id FROM publications WHERE post_id = 1 AND id > {size.posts}"
        f" ORDER BY published_at DESC, id DESC OFFSET {nth(size.revisions - 1, 20) - 1} LIMIT 1"
    )
    waiting_where = "WHERE status = 'published' AND needs_reply AND staff_user_id IS NULL"
    waiting = row(
        f"SELECT created_at, id FROM comments {waiting_where} ORDER BY created_at, id"
        f" OFFSET {nth(count(f'SELECT count(*) FROM comments {waiting_where}'), 50) - 1} LIMIT 1"
    )
    # The search pages' deep cursors, as the page before would have linked them: the app's own search,
    # asked for the first ~90 % of the hits at once, names the cursor after the last of them.
    sessions = app.extensions["candor.sessions"]
    with sessions() as session:
        moderator = session.scalar(select(User).where(User.email == "moderator@clinic.example"))
        _hits, search_deep = search.search(session, "ferritin", per_page=nth(FERRITIN, 10))
        _hits, staff_deep = search.staff_search(session, moderator, "ferritin", per_page=nth(FERRITIN, 20))
    assert search_deep and staff_deep
    late = row(
        "SELECT r.number FROM post_revisions r JOIN publications p ON p.revision_id = r.id"
        f" WHERE r.post_id = 1 ORDER BY r.number OFFSET {nth(size.revisions, 50) - 1} LIMIT 1"
    )[0]
    e = cursors.encode
    return [
        ("home", "/", False),
        ("home, deep", f"/?after={e('posts', tuple(home))}", False),
        ("hot post (comments)", "/posts/post-number-2", False),
        ("post with many revisions", "/posts/post-number-1", False),
        ("its history", "/posts/post-number-1/history", False),
        ("its history, deep", f"/posts/post-number-1/history?after={e('history:1', tuple(history))}", False),
        ("its changes", "/posts/post-number-1/changes", False),
        ("its changes, late versions", f"/posts/post-number-1/changes?from={late - 1}&to={late}", False),
        ("a late version of it", f"/posts/post-number-1/versions/{late}", False),
        ("search", "/search?q=ferritin", False),
        ("search, deep", f"/search?q=ferritin&after={search_deep}", False),
        ("API search", "/api/v1/search?q=ferritin", False),
        ("API search, deep", f"/api/v1/search?q=ferritin&after={search_deep}", False),
        ("staff search", "/staff/search?q=ferritin", True),
        ("staff search, deep", f"/staff/search?q=ferritin&after={staff_deep}", True),
        (
            "hot post, more comments",
            f"/posts/post-number-2/comments?after={e('threads:2:old', tuple(thread))}",
            False,
        ),
        ("corrections", "/corrections", False),
        (
            "corrections, deep",
            f"/corrections?after={e('corrections', (correction[0], 'correction', correction[1]))}",
            False,
        ),
        ("feed.atom", "/feed.atom", False),
        ("corrections.atom", "/corrections.atom", False),
        ("API posts", "/api/v1/posts", False),
        ("API posts, deep", f"/api/v1/posts?after={e('posts', tuple(home))}", False),
        ("API hot comments", "/api/v1/posts/2/comments", False),
        (
            "API hot comments, deep",
            f"/api/v1/posts/2/comments?after={e('comments:2', tuple(hot_comment))}",
            False,
        ),
        ("queue: held", "/staff/comments/", True),
        ("queue: held, deep", f"/staff/comments/?after={e('queue:held::', tuple(held))}", True),
        ("queue: published", "/staff/comments/?status=published", True),
        (
            "queue: published, deep",
            f"/staff/comments/?status=published&after={e('queue:published::', tuple(published))}",
            True,
        ),
        ("needs reply", "/staff/comments/needs-reply", True),
        (
            "needs reply, deep",
            f"/staff/comments/needs-reply?after={e('needs-reply', (waiting[0], 0, waiting[1]))}",
            True,
        ),
        ("moderation log", "/staff/comments/log", True),
        ("moderation log, deep", f"/staff/comments/log?after={e('decisions', tuple(decision))}", True),
        ("audit", "/staff/audit", True),
        ("audit, deep", f"/staff/audit?after={e('audit', tuple(audit))}", True),
        ("API held", "/api/v1/moderation/comments?status=held", True),
        (
            "API held, deep",
            f"/api/v1/moderation/comments?status=held&after={e('queue:held::', tuple(held))}",
            True,
        ),
        ("API audit", "/api/v1/audit", True),
        ("API audit, deep", f"/api/v1/audit?after={e('audit', tuple(audit))}", True),
    ]


class Target:
    """One database's app, signed-in client and token, ready to time a page."""

    def __init__(self, built: dict[str, Any]) -> None:
        from tests.support.web import log_in

        self.app = built["app"]
        self.reader, self.staff = self.app.test_client(), self.app.test_client()
        assert log_in(self.staff, "moderator@clinic.example", PASSWORD).status_code in (302, 303)
        self.bearer = {"Authorization": f"Bearer {built['token']}"}
        self.cache = self.app.extensions["candor.pagecache"]
        self.pages = pages(built)
        self.statements = 0
        event.listen(self.app.extensions["candor.engine"], "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1

    def count(self, index: int) -> int:
        """SQL statements one uncached view of the page runs: a figure the machine's load cannot blur."""
        before = self.statements
        self.time(index)
        return self.statements - before

    def time(self, index: int) -> float:
        name, path, is_staff = self.pages[index]
        api = path.startswith("/api/")
        client = self.staff if is_staff and not api else self.reader
        self.cache.clear()  # every figure is an uncached render
        started = time.perf_counter()
        response = client.get(path, headers=self.bearer if is_staff and api else {})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (name, path, response.status_code, response.data[:300])
        return elapsed


Result = tuple[str, float, float, int, int]


def measure(small: Target, big: Target, repeat: int) -> list[Result]:
    """Median latency of each page on both databases, requests alternating small / big so that a busy
    moment of a shared machine falls on both; and the statements each runs."""
    found = []
    for index, (name, _path, _staff) in enumerate(small.pages):
        small.time(index), big.time(index)  # warm-up: templates compiled, plans cached
        times: dict[str, list[float]] = {"small": [], "big": []}
        for _ in range(repeat):
            times["small"].append(small.time(index))
            times["big"].append(big.time(index))
        found.append(
            (
                name,
                statistics.median(times["small"]),
                statistics.median(times["big"]),
                small.count(index),
                big.count(index),
            )
        )
    return found


# --- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0: the full size (10,000 posts, 1M comments)"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "CANDOR_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="leave both databases behind")
    args = parser.parse_args()
    admin_url = make_url(args.url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = {kind: f"candor_bench_scale_{os.getpid()}_{kind}" for kind in ("small", "big")}
    targets: dict[str, Target] = {}
    try:
        for kind, size in (("small", Size.small()), ("big", Size(args.scale))):
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{names[kind]}"')
                conn.exec_driver_sql(f'CREATE DATABASE "{names[kind]}"')
            url = admin_url.set(database=names[kind]).render_as_string(hide_password=False)
            print(
                f"{kind}: {size.posts:,} posts, {size.comments:,} comments ({size.hot:,} on one post, "
                f"{size.held:,} held), {size.revisions:,} revisions of one post",
                flush=True,
            )
            targets[kind] = Target(build(url, size))
        results = measure(targets["small"], targets["big"], args.repeat)
    finally:
        for target in targets.values():
            target.app.extensions["candor.engine"].dispose()
        if not args.keep:
            with admin.connect() as conn:
                for name in names.values():
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print()
    print(f"{'page':<34} {'small ms':>9} {'big ms':>9} {'ratio':>7} {'SQL small':>9} {'SQL big':>8}")
    worst = 0.0
    for name, small, big, sql_small, sql_big in results:
        ratio = big / small
        worst = max(worst, ratio)
        flag = "" if ratio <= TARGET else "  over target"
        print(
            f"{name:<34} {small * 1000:9.1f} {big * 1000:9.1f} {ratio:7.2f} {sql_small:9d} {sql_big:8d}{flag}"
        )
    # Depth: each deep page against its own page 1, on the big database.
    by_name = {name: big for name, _small, big, _a, _b in results}
    print(f"\n{'deep page / its page 1, big database':<48} {'ratio':>7}")
    for name, big in by_name.items():
        if name.endswith(", deep") and name.removesuffix(", deep") in by_name:
            print(f"{name:<48} {big / by_name[name.removesuffix(', deep')]:7.2f}")
    print(f"\nworst ratio {worst:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
