"""Scale-out (issue 15, items 1, 4 and 7): staff lists with keyset cursors, blog-wide stamps that read one
row, a read replica for anonymous readers with read-your-writes for everyone who just wrote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from app import create_app
from app.accounts.models import User
from app.administration import views as admin_views
from app.contact import services as contact
from app.contact import views as contact_views
from app.corrections import services as corrections
from app.corrections import views as correction_views
from app.corrections.services import corrections_stamp
from app.editorial import services as editorial
from app.posts import services as posts
from app.posts.models import Post
from app.staff import views as staff_views
from app.topics import services as topics
from app.topics import views as topic_views
from app.web.database import PRIMARY_COOKIE
from tests.support.databases import PostgresTemplate, postgresql_only
from tests.support.web import log_in, parse


def _walk(client: Any, path: str, rows: str) -> list[str]:
    """Follow a staff list's rel=next links from ``path``: the text of every row, in order."""
    seen: list[str] = []
    pages = 0
    while path:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        page = parse(response)
        seen += [row.get_text(" ", strip=True) for row in page.select(rows)]
        link = page.select_one("a[rel=next]")
        path = link["href"] if link is not None else ""
        assert "page=" not in path and "offset" not in path
        pages += 1
        assert pages < 50
    return seen


def test_the_staff_post_list_pages_with_cursors_through_every_post(
    client: Any, make_post: Callable[..., Post], make_user: Callable[..., User], monkeypatch: Any
) -> None:
    monkeypatch.setattr(staff_views, "POSTS_PER_PAGE", 3)
    author = make_user("author")
    made = [make_post("draft", author=author, title=f"Numbered post {n:02d}") for n in range(8)]
    editor = make_user("editor")
    log_in(client, editor.email)
    titles = _walk(client, "/staff/posts", "table tbody tr th")
    assert len(titles) == len(made) == len(set(titles))
    assert titles == [f"Numbered post {n:02d}" for n in reversed(range(8))]  # most recently revised first
    narrowed = _walk(client, "/staff/posts?q=post+0&state=draft", "table tbody tr th")
    assert len(narrowed) == 8  # the filters ride along the next links
    assert client.get("/staff/posts?after=nonsense").status_code == 400


def test_the_staff_user_list_pages_with_cursors(
    client: Any, make_user: Callable[..., User], monkeypatch: Any
) -> None:
    monkeypatch.setattr(admin_views, "USERS_PER_PAGE", 2)
    admin = make_user("admin", name="Ada Admin")
    for n in range(5):
        make_user("author", name=f"Author {n}")
    log_in(client, admin.email)
    rows = _walk(client, "/staff/users", "#users tbody tr")
    assert len(rows) == 6 and len(set(rows)) == 6
    assert len(_walk(client, "/staff/users?role=author", "#users tbody tr")) == 5
    assert client.get("/staff/users?after=%25%25").status_code == 400


def test_contact_messages_page_with_cursors_oldest_open_first(
    app: Flask, client: Any, session: Session, make_user: Callable[..., User], monkeypatch: Any
) -> None:
    monkeypatch.setattr(contact_views, "MESSAGES_PER_PAGE", 2)
    for n in range(5):
        contact.submit(
            session,
            contact.ContactInput(name=f"Reader {n}", email=f"r{n}@example.net", subject=f"Q{n}", body="Hi"),
            min_seconds=0,
        )
    session.commit()
    moderator = make_user("moderator")
    log_in(client, moderator.email)
    rows = _walk(client, "/staff/contact/", "#contact-messages tbody th")
    assert rows == [f"Reader {n}" for n in range(5)]
    assert client.get("/staff/contact/?after=x").status_code == 400


def test_error_reports_page_with_cursors_and_the_dashboard_counts_them(
    client: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(correction_views, "REPORTS_PER_PAGE", 2)
    post = make_post("published")
    for n in range(5):
        corrections.report_error(session, post, what=f"Mistake {n}", source="", email="", ip="203.0.113.4")
    session.commit()
    editor = make_user("editor")
    log_in(client, editor.email)
    rows = _walk(client, "/staff/error-reports", "section blockquote")
    assert rows == [f"Mistake {n}" for n in range(5)]  # open reports: the longest waiting first
    assert corrections.open_report_count(session, editor) == 5
    assert client.get("/staff/error-reports?after=zz").status_code == 400


def test_topic_pages_page_with_cursors(
    client: Any,
    session: Session,
    make_user: Callable[..., User],
    make_disclosure: Callable[..., Any],
    gate_settings: Any,
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(topic_views, "PER_PAGE", 2)
    editor, author = make_user("editor"), make_user("author")
    make_disclosure(author)
    topics.create_topic(session, editor, "Sleep")
    for n in range(5):
        draft = posts.create_draft(
            session,
            author,
            posts.RevisionInput(f"Sleep note {n}", "Rest.", ["https://example.org/s"], topics=("Sleep",)),
        )
        editorial.submit(session, author, draft, gate_settings)
        editorial.approve(session, editor, draft, 1, gate_settings)
        session.commit()
    titles = _walk(client, "/topics/sleep", "ol.post-list > li h2")
    assert titles == [f"Sleep note {n}" for n in reversed(range(5))]
    assert client.get("/topics/sleep?after=abc").status_code == 400
    assert client.get("/topics/sleep?page=7").status_code == 200  # an old ?page= link: the first page


def test_blog_wide_stamps_move_with_what_they_key(
    session: Session, make_post: Callable[..., Post], make_user: Callable[..., User]
) -> None:
    before_posts, before_log = posts.public_stamp(session), corrections_stamp(session)
    post = make_post("published")
    after_posts, after_log = posts.public_stamp(session), corrections_stamp(session)
    assert after_posts != before_posts and after_log != before_log
    assert after_posts[0] == before_posts[0]  # same generation, a higher count
    # A change readers see on one post only (its comments closed) moves the post stamp, not the log's.
    from app.comments import closing

    editor = make_user("editor")
    closing.close(session, editor, session.get(Post, post.id))
    session.commit()
    assert posts.public_stamp(session) != after_posts
    assert corrections_stamp(session) == after_log


@postgresql_only
def test_a_cached_home_page_reads_one_stamp_row_not_the_posts(
    app: Flask, client: Any, make_post: Callable[..., Post]
) -> None:
    """The proof by plan: every statement a cached hit of the home page, the corrections log and the
    feeds runs is EXPLAINed; none reads posts, publications or retractions."""
    for n in range(3):
        make_post("published", title=f"Stamp post {n}")
    paths = ["/", "/corrections", "/feed.atom", "/corrections.atom"]
    for path in paths:
        assert client.get(path).status_code == 200  # rendered and stored
    engine = app.extensions["candor.engine"]
    recorded: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            recorded.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200 and response.headers["X-Candor-Cache"] == "hit"
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert recorded
    with engine.connect() as conn:
        for statement, parameters in recorded:
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            for table in ("posts", "publications", "retractions", "post_revisions"):
                assert f" on {table} " not in plan + " ", f"{statement}\n{plan}"


# --- read replicas ------------------------------------------------------------------------------------


def _app(tmp_path: Path, **config: Any) -> Flask:
    return create_app({"TESTING": True, "DEMO_ACCOUNTS_DIR": str(tmp_path), **config})


@pytest.fixture
def replica_url(postgresql_template: PostgresTemplate, tmp_path: Path) -> Any:
    """A second database from the same template: a "replica" that does not follow the primary, so
    every answer shows which one it was read from."""
    url = postgresql_template.fresh(tmp_path)
    yield url
    postgresql_template.drop(url)


@postgresql_only
def test_anonymous_reads_go_to_the_replica_staff_and_recent_writers_to_the_primary(
    database_url: str,
    replica_url: str,
    tmp_path: Path,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
) -> None:
    post = make_post("published", title="Only on the primary")  # the replica never hears of it
    editor = make_user("editor")
    routed = _app(
        tmp_path,
        DATABASE_URL=database_url,
        DATABASE_REPLICA_URL=replica_url,
        STATEMENT_TIMEOUT_MS=5000,
        COMMENT_MIN_SECONDS=0,
    )
    try:
        reader = routed.test_client()
        assert reader.get(f"/posts/{post.slug}").status_code == 404  # read from the replica
        assert reader.get(f"/posts/{post.slug}").status_code == 404  # and again, past the fast path
        assert reader.get("/api/v1/posts").get_json()["items"] == []
        assert reader.head(f"/posts/{post.slug}").status_code == 404

        staff = routed.test_client()
        log_in(staff, editor.email)
        assert staff.get(f"/posts/{post.slug}").status_code == 200  # staff read the primary

        # A reader who writes (here: the contact form, which needs no session) reads the primary next.
        writer = routed.test_client()
        sent = writer.post(
            "/contact", data={"name": "Rita Reader", "email": "rita@example.net", "subject": "", "body": "Hi"}
        )
        assert sent.status_code == 201
        cookie = writer.get_cookie(PRIMARY_COOKIE)
        assert cookie is not None and cookie.max_age == routed.config["REPLICA_STICKY_SECONDS"]
        assert writer.get_cookie(routed.config.get("SESSION_COOKIE_NAME", "session")) is None
        assert writer.get(f"/posts/{post.slug}").status_code == 200
        assert [p["id"] for p in writer.get("/api/v1/posts").get_json()["items"]] == [post.id]
        writer.delete_cookie(PRIMARY_COOKIE)
        assert writer.get(f"/posts/{post.slug}").status_code == 404  # the mark expired: the replica again

        # The replica's connections carry the same options (statement timeout) as the primary's.
        with routed.extensions["candor.replica_engine"].connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "5s"
            assert connection.execute(text("SELECT current_database()")).scalar_one() in replica_url
    finally:
        routed.extensions["candor.engine"].dispose()
        routed.extensions["candor.replica_engine"].dispose()


@postgresql_only
def test_a_dead_replica_sends_readers_to_the_primary_without_an_error(
    database_url: str, tmp_path: Path, make_post: Callable[..., Post]
) -> None:
    """Nothing answers at the replica's address: the reader's GET comes back as a 307 to the same
    address with the primary's cookie, the retry reads the primary, and that worker leaves the replica
    alone for CANDOR_REPLICA_RETRY_SECONDS (the next reader without a cookie reads the primary at once)."""
    post = make_post("published", title="Served while the replica is down")
    routed = _app(
        tmp_path,
        DATABASE_URL=database_url,
        DATABASE_REPLICA_URL="postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=2",
        REPLICA_RETRY_SECONDS=600,
    )
    try:
        reader = routed.test_client()
        first = reader.get(f"/posts/{post.slug}?comments=oldest")
        assert first.status_code == 307, first.status_code
        assert first.headers["Location"] == f"/posts/{post.slug}?comments=oldest"
        assert "no-store" in first.headers["Cache-Control"]
        cookie = reader.get_cookie(PRIMARY_COOKIE)
        assert cookie is not None and cookie.max_age == 600
        followed = reader.get(first.headers["Location"])
        assert followed.status_code == 200
        assert parse(followed).select_one("h1").get_text(strip=True) == "Served while the replica is down"

        # Another reader, no cookie: this worker rests the replica, so the primary answers at once.
        other = routed.test_client()
        assert other.get(f"/posts/{post.slug}").status_code == 200
        assert other.get("/api/v1/posts").get_json()["items"][0]["id"] == post.id
        assert other.get_cookie(PRIMARY_COOKIE) is None

        # The pause over, the replica is tried again (and, still dead, sends the reader round again).
        routed.extensions["candor.replica_down_until"] = 0.0
        assert other.get("/api/v1/posts").status_code == 307
    finally:
        routed.extensions["candor.engine"].dispose()
        routed.extensions["candor.replica_engine"].dispose()


def test_a_replica_must_be_postgresql(tmp_path: Path) -> None:
    from config import ConfigError, load

    with pytest.raises(ConfigError, match="CANDOR_DATABASE_REPLICA_URL"):
        load(tmp_path, {"CANDOR_DATABASE_REPLICA_URL": "sqlite:///x.db"})
    assert load(tmp_path, {})["DATABASE_REPLICA_URL"] is None


@postgresql_only
def test_stamps_count_every_commit_when_writers_race(
    app: Flask, session: Session, make_post: Callable[..., Post]
) -> None:
    """Eight writers publish comments on four posts at once, each in its own transaction: the stamp moves
    exactly once per commit (no lost update), and no writer deadlocks on it."""
    import threading

    from app.comments.models import Comment, CommentStatus
    from app.db import commit

    posts_ = [make_post("published", title=f"Race {n}") for n in range(4)]
    generation, before = posts.public_stamp(session)
    session.rollback()
    factory = app.extensions["candor.sessions"]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(n: int) -> None:
        s = factory()
        try:
            start.wait()
            post_id = s.scalar(select(Post.id).where(Post.id == posts_[n % 4].id).with_for_update())
            s.add(
                Comment(
                    post_id=post_id,
                    author_name=f"Racer {n}",
                    author_email=f"racer{n}@example.org",
                    body="Fast.",
                    html="<p>Fast.</p>",
                    status=CommentStatus.PUBLISHED.value,
                )
            )
            commit(s)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert posts.public_stamp(session) == (generation, before + 8)
