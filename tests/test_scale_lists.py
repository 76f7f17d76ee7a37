"""Bounded lists (issue 15, items 1 and 2): keyset cursors, comment threads a page at a time, counts kept
with every status change (exact under races), and the list queries' plans use indexes, never a Seq Scan."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import cursors
from app.accounts.models import User
from app.comments import queries, states
from app.comments.models import Comment, CommentStatus
from app.errors import InvalidTransition
from app.moderation import queries as moderation_queries
from app.moderation.services import moderate
from app.posts.models import Post
from app.topics import services as topics
from tests.support.comments import recounted, submit
from tests.support.databases import postgresql_only
from tests.support.web import log_in, parse


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- cursors ------------------------------------------------------------------------------------------


def test_a_cursor_round_trips_and_anything_else_is_refused() -> None:
    moment = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    token = cursors.encode("posts", (moment, 42))
    assert cursors.decode(token, "posts", (datetime, int)) == (moment, 42)
    assert cursors.decode(None, "posts", (datetime, int)) is None
    bad = [
        "%%%",  # not base64
        "A" * 301,  # too long
        _b64(["audit", moment.isoformat(), 42]),  # another list's
        _b64(["posts", moment.isoformat()]),  # too few values
        _b64(["posts", 42, moment.isoformat()]),  # wrong types
        _b64(["posts", "2026-12-03T10:00:00", 42]),  # a time without a zone
        _b64(["posts", moment.isoformat(), 2**64]),  # out of range
        _b64(["posts", moment.isoformat(), True]),  # a boolean is not an id
        _b64({"posts": 1}),  # not a list
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        _b64(["posts", "0001-01-01T00:00:00+14:00", 42]),  # before year 1 in UTC (was a 500)
        _b64(["posts", "9999-12-31T23:59:59-23:59", 42]),  # after year 9999 in UTC (was a 500)
    ]
    for token in bad:
        with pytest.raises(cursors.BadCursor):
            cursors.decode(token, "posts", (datetime, int))
    lone_surrogate = base64.urlsafe_b64encode(b'["users","\\ud800",1]').decode()  # valid JSON, not UTF-8
    with pytest.raises(cursors.BadCursor):
        cursors.decode(lone_surrogate, "users", (str, int))


def test_a_rank_cursor_round_trips_exactly_and_refuses_what_is_not_a_finite_number() -> None:
    for rank in (-2.0047337278106513e-06, 0.10000000149011612, 5e-324, -0.0, 1e300):
        token = cursors.encode("search:q", (rank, 7))
        assert cursors.decode(token, "search:q", (float, int)) == (rank, 7)
    assert cursors.decode(_b64(["search:q", 3, 7]), "search:q", (float, int)) == (3.0, 7)
    for value in ("NaN", "Infinity", "-Infinity", "1e999", str(10**400), '"1.5"', "true", "null", "[1]"):
        token = base64.urlsafe_b64encode(f'["search:q",{value},7]'.encode()).decode().rstrip("=")
        with pytest.raises(cursors.BadCursor):
            cursors.decode(token, "search:q", (float, int))


def test_bad_cursors_answer_400_with_a_message_on_every_list(
    client: Any, api: Any, make_post: Callable[..., Post], make_user: Callable[..., User]
) -> None:
    post = make_post("published")
    moderator = make_user("moderator")
    editor = make_user("editor")
    other_list = cursors.encode("audit", (datetime(2026, 1, 1, tzinfo=UTC), 1))
    reader_paths = [
        "/",
        "/corrections",
        f"/posts/{post.slug}/history",
        f"/posts/{post.slug}/comments",
        "/api/v1/posts",
        f"/api/v1/posts/{post.id}/comments",
    ]
    for path in reader_paths:
        for after in ("garbled!!", "A" * 5000, other_list, _b64(["posts", 1, 2])):
            response = client.get(path, query_string={"after": after})
            assert response.status_code == 400, (path, after[:20])
            if path.startswith("/api/"):
                assert response.get_json()["error"]["code"] == "invalid_cursor"
    for path in ("/api/v1/moderation/comments", "/api/v1/audit", f"/api/v1/posts/{post.id}/audit"):
        as_ = moderator if "moderation" in path else editor
        response = api.get(f"{path}?after={_b64(['posts', 1, 2])}", as_=as_)
        assert response.status_code == 400, path
        assert "after" in response.get_json()["error"]["message"]
    # A cursor of the held queue is not one of the spam queue's (another list, another order).
    held_cursor = cursors.encode("queue:held::", (datetime(2026, 1, 1, tzinfo=UTC), 1))
    response = api.get(f"/api/v1/moderation/comments?status=spam&after={held_cursor}", as_=moderator)
    assert response.status_code == 400


def test_bad_cursors_on_the_staff_pages_and_a_topic_answer_400_never_500(
    client: Any, session: Session, make_post: Callable[..., Post], make_user: Callable[..., User]
) -> None:
    """Every HTML list a moderator, editor or admin pages through, fed garbage, huge, negative, another
    list's and out-of-range cursors by hand: a 400 page, never a 500."""
    post = make_post("published")
    staff = make_user("admin", "moderator", "editor")
    topic = topics.create_topic(session, staff, "Sleep")
    session.commit()
    log_in(client, staff.email)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    hostile = [
        "garbage",
        "A" * 5000,
        "-1",
        "9" * 40,
        cursors.encode("audit", (moment, 1)),  # another list's
        cursors.encode("posts", (moment, -5)),  # a negative id, of the home page
        _b64(["needs-reply", moment.isoformat(), 2**63 - 1, -1]),
        _b64(["decisions", "0001-01-01T00:00:00+14:00", 1]),
        _b64(["queue:held::", "9999-12-31T23:59:59-23:59", 1]),
        base64.urlsafe_b64encode(b'["users","\\ud800",1]').decode(),  # a lone surrogate (was a 500)
    ]
    paths = [
        f"/topics/{topic.slug}",
        f"/topics/{topic.slug}/feed.atom",
        "/staff/comments/",
        "/staff/comments/?status=spam",
        "/staff/comments/?status=published",
        "/staff/comments/needs-reply",
        "/staff/comments/log",
        "/staff/audit",
        f"/staff/posts/{post.id}/audit",
        "/staff/users",
    ]
    for path in paths:
        for after in hostile:
            joiner = "&" if "?" in path else "?"
            response = client.get(f"{path}{joiner}after={quote(after, safe='')}")
            assert response.status_code < 500, (path, after[:30])
            assert response.status_code in (200, 400), (path, after[:30], response.status_code)


def test_the_posts_api_walks_every_post_once_by_its_next_links(
    api: Any, make_post: Callable[..., Post]
) -> None:
    made = {make_post("published", title=f"Post {i}").id for i in range(7)}
    seen: list[int] = []
    url: str | None = "/api/v1/posts?per_page=3"
    public = api.client.application.config["PUBLIC_URL"]
    while url:
        page = api.get(url.removeprefix(public)).get_json()
        seen += [p["id"] for p in page["items"]]
        url = page["next"]
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


# --- a post's comments, a page at a time ---------------------------------------------------------------


def test_a_post_page_shows_fifty_threads_and_links_to_the_rest(
    api: Any, client: Any, session: Session, make_post: Callable[..., Post], make_user: Callable[..., User]
) -> None:
    post = make_post("published")
    staff = make_user("moderator", name="Malik Reyes")
    for n in range(queries.THREADS_PER_PAGE + 7):
        made = api.post(f"/api/v1/posts/{post.id}/comments", {"body": f"Top-level comment {n}."}, as_=staff)
        assert made.status_code == 201, made.get_json()
    session.expire_all()
    total = queries.THREADS_PER_PAGE + 7
    assert session.get(Post, post.id).comment_count == total
    page = parse(client.get(f"/posts/{post.slug}"))
    bodies = page.select("#comments div.comment-body")
    assert len(bodies) == queries.THREADS_PER_PAGE
    assert f"({total})" in page.select_one("#comments-heading").get_text()
    more = page.select_one("#comments p.more-comments a")
    rest = parse(client.get(more["href"]))
    rest_bodies = rest.select("div.comment-body")
    assert len(rest_bodies) == 7
    ids = [b["id"] for b in bodies + rest_bodies]
    assert len(set(ids)) == total
    assert rest.select_one('p.more-comments a[rel="next"]') is None
    # ... and back, by Earlier comments, to the first fifty threads: the post's own, at its comments.
    back = client.get(rest.select_one('p.more-comments a[rel="prev"]')["href"])
    assert back.status_code == 303 and back.headers["Location"] == f"/posts/{post.slug}#comments"


# --- counts kept with every status change ----------------------------------------------------------------


def _assert_counts_exact(session: Session) -> None:
    session.expire_all()
    kept = {k: n for k, n in states.tally(session).items() if n}
    assert kept == recounted(session)
    for post in session.scalars(select(Post)):
        real = session.scalar(
            select(func.count()).where(Comment.post_id == post.id, Comment.status == CommentStatus.PUBLISHED)
        )
        assert post.comment_count == real, post.id


def test_counts_stay_exact_through_arrivals_and_every_kind_of_decision(
    app: Flask, session: Session, make_post: Callable[..., Post], make_user: Callable[..., User]
) -> None:
    moderator = make_user("moderator")
    posts = [make_post("published"), make_post("published")]
    made = [
        submit(
            app, session, posts[n % 2], author_email=f"reader{n}@example.net", body=f"A question {n}: why?"
        )
        for n in range(8)
    ]
    _assert_counts_exact(session)
    for comment, action in zip(
        made, ["approve", "spam", "delete", "approve", "off_topic", "approve", "ham", "spam"], strict=True
    ):
        moderate(session, moderator, session.get(Comment, comment.id), action)
        session.commit()
        _assert_counts_exact(session)
    # Back and forth: published -> spam -> published -> deleted.
    for action in ("spam", "approve", "delete"):
        moderate(session, moderator, session.get(Comment, made[0].id), action)
        session.commit()
    _assert_counts_exact(session)
    real = recounted(session)
    assert moderation_queries.status_counts(session) == {
        s.value: real.get((s.value, ""), 0) for s in CommentStatus
    }
    assert moderation_queries.held_reason_counts(session) == {
        r: n for (s, r), n in real.items() if s == "held" and r
    }


@postgresql_only
def test_two_moderators_racing_on_the_same_comments_leave_the_counts_exact(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    database_url: str,
) -> None:
    first, second = make_user("moderator"), make_user("moderator")
    post = make_post("published")
    held = [
        submit(app, session, post, author_email=f"racer{n}@example.net", body=f"Comment {n} in the race.").id
        for n in range(12)
    ]
    sessions = app.extensions["candor.sessions"]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def decide(user_id: int, action: str) -> None:
        own = sessions()
        try:
            user = own.get(User, user_id)
            barrier.wait()
            for comment_id in held:
                try:
                    moderate(own, user, own.get(Comment, comment_id), action)
                    own.commit()
                except InvalidTransition:
                    own.rollback()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            own.close()

    workers = [
        threading.Thread(target=decide, args=(first.id, "approve")),
        threading.Thread(target=decide, args=(second.id, "spam")),
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert errors == []
    _assert_counts_exact(session)


@postgresql_only
def test_a_burst_of_concurrent_arrivals_keeps_the_counts_exact(
    app: Flask, session: Session, make_post: Callable[..., Post], database_url: str
) -> None:
    post = make_post("published")
    sessions = app.extensions["candor.sessions"]
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def arrive(n: int) -> None:
        own = sessions()
        try:
            barrier.wait()
            for k in range(4):
                submit(
                    app,
                    own,
                    own.get(Post, post.id),
                    author_email=f"b{n}{k}@example.net",
                    body=f"Burst {n}/{k}.",
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            own.close()

    workers = [threading.Thread(target=arrive, args=(n,)) for n in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert errors == []
    assert session.scalar(select(func.count()).select_from(Comment)) == 24
    _assert_counts_exact(session)


# --- plans: no Seq Scan for any list ---------------------------------------------------------------------

WATCHED = (
    "comments",
    "posts",
    "post_revisions",
    "audit_entries",
    "publications",
    "moderation_decisions",
    "search_documents",
)


def _pages(slug: str, post_id: int) -> tuple[list[str], list[str], list[str]]:
    """Reader pages, API lists (anonymous), staff pages and API lists: each at page 1 (the deep pages
    follow the next links)."""
    reader = [
        "/",
        f"/posts/{slug}",
        f"/posts/{slug}/history",
        f"/posts/{slug}/changes",
        f"/posts/{slug}/versions/1",
        f"/posts/{slug}/comments",
        "/search?q=sleep",
        "/corrections",
        "/feed.atom",
        "/corrections.atom",
        "/api/v1/posts?per_page=2",
        f"/api/v1/posts/{post_id}/comments?per_page=2",
        "/api/v1/search?q=sleep&per_page=1",
    ]
    staff_api = [
        "/api/v1/moderation/comments?status=held&per_page=2",
        "/api/v1/moderation/comments?status=published&per_page=2",
        "/api/v1/audit?per_page=2",
        f"/api/v1/posts/{post_id}/audit?per_page=2",
        "/api/v1/search?q=sleep&scope=staff&per_page=1",  # staff search and its next page
    ]
    staff = [
        "/staff/comments/",
        "/staff/comments/?status=spam",
        "/staff/comments/?status=",
        "/staff/comments/needs-reply",
        "/staff/comments/log",
        "/staff/audit",
        f"/staff/posts/{post_id}/audit",
        "/staff/search?q=sleep",  # newest revisions' text through the trigram indexes (migration 0029)
    ]
    return reader, staff_api, staff


@postgresql_only
def test_every_list_page_runs_only_index_plans(
    app: Flask,
    client: Any,
    api: Any,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    database_url: str,
) -> None:
    """Every statement the list pages run (recorded as they serve, then EXPLAINed with sequential scans
    priced out) reads comments, posts, revisions, publications, audit and decisions through an index."""
    from sqlalchemy import event

    from tests.support.web import log_in

    moderator = make_user("moderator", "editor")
    post = make_post("published")
    make_post("published", title="Another post about sleep")  # search has a next page
    for n in range(5):
        comment = submit(app, session, post, author_email=f"plan{n}@example.net", body=f"Why {n}, though?")
        if n % 2:
            moderate(session, moderator, session.get(Comment, comment.id), "approve")
            session.commit()
    reader, staff_api, staff = _pages(post.slug, post.id)
    engine = app.extensions["candor.engine"]
    recorded: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            recorded.append((statement, parameters))

    def visit(get: Callable[[str], Any], path: str) -> None:
        response = get(path)
        assert response.status_code == 200, (path, response.status_code)
        body = response.get_json(silent=True)
        if isinstance(body, dict) and body.get("next"):  # and the next page, with its cursor
            nxt = body["next"].removeprefix(app.config["PUBLIC_URL"])
            assert get(nxt).status_code == 200

    event.listen(engine, "before_cursor_execute", record)
    try:
        for path in reader:
            visit(client.get, path)
        for path in staff_api:
            visit(lambda p: api.get(p, as_=moderator), path)
        log_in(client, moderator.email)
        for path in staff:
            visit(client.get, path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert recorded
    problems = []
    staff_plans = 0
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in dict.fromkeys((s, repr(p)) for s, p in recorded):
            params = next(p for s, p in recorded if s == statement and repr(p) == parameters)
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params))
            problems += [
                f"{table}: {statement}\n{plan}" for table in WATCHED if f"Seq Scan on {table} " in plan + " "
            ]
            if "lower(post_revisions.body) LIKE" in statement:  # staff search: matches first, posts by key
                staff_plans += 1
                problems += _staff_search_plan_problems(conn, statement, params)
    assert problems == [], "\n\n".join(problems)
    assert staff_plans >= 2  # its page 1 and its next page


def _plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _plan_nodes(child))]


def _staff_search_plan_problems(conn: Any, statement: str, params: Any) -> list[str]:
    """Staff search reads the revisions that match through the trigram indexes (migration 0029) and each
    one's post by its key: no scan of every post, even through an index (as walking ``posts`` in
    ``current_revision_id`` order would be)."""
    (plan,) = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).one()
    nodes = _plan_nodes(plan[0]["Plan"])
    trigram = {n.get("Index Name", "") for n in nodes if n.get("Relation Name") != "posts"}
    unkeyed = [n["Node Type"] for n in nodes if n.get("Relation Name") == "posts" and "Index Cond" not in n]
    problems = [] if {f"ix_post_revisions_trgm_{c}" for c in ("title", "body")} <= trigram else ["no trigram"]
    return [f"staff search: {p}: {statement}\n{json.dumps(plan)}" for p in problems + unkeyed]


def test_a_page_of_further_comments_is_cached_yet_never_stale(
    api: Any, client: Any, make_post: Callable[..., Post], make_user: Callable[..., User]
) -> None:
    post = make_post("published")
    staff = make_user("moderator", name="Malik Reyes")
    root = api.post(f"/api/v1/posts/{post.id}/comments", {"body": "The thread starts."}, as_=staff).get_json()
    path = f"/posts/{post.slug}/comments?thread={root['id']}"
    assert parse(client.get(path)).select("li.comment") == []
    again = client.get(path)
    assert again.headers["X-Candor-Cache"] == "hit"
    reply = {"body": "A reply.", "parent_id": root["id"]}
    made = api.post(f"/api/v1/posts/{post.id}/comments", reply, as_=staff).get_json()
    fresh = client.get(path)
    assert fresh.headers["X-Candor-Cache"] == "miss"
    assert parse(fresh).select_one(f"#comment-body-{made['id']}") is not None
    # A thread that is not one of this post's top-level comments is a 404; a bad thread number a 4xx.
    assert client.get(f"/posts/{post.slug}/comments?thread={made['id']}").status_code == 404
    assert client.get(f"/posts/{post.slug}/comments?thread=abc").status_code == 422


def test_the_users_api_walks_every_account_once_whatever_the_names(
    api: Any, make_user: Callable[..., User]
) -> None:
    """Keyed on the database's lower-cased name (SQLite folds only ASCII): accented names, capitals and
    a 200-character name each come exactly once."""
    admin = make_user("admin", name="Ada Admin")
    for name in ("Émile Zola", "émile Zola", "Zoë Ball", "ZOË Ball", "Åsa Berg", "a" * 200):
        make_user("author", name=name)
    seen: list[int] = []
    url: str | None = "/api/v1/users?per_page=1"
    public = api.client.application.config["PUBLIC_URL"]
    while url:
        response = api.get(url.removeprefix(public), as_=admin)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        seen += [u["id"] for u in page["items"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7


def test_the_staff_list_pages_back_to_its_first_page_by_previous_links(
    client: Any, session: Session, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The staff accounts page (by lower-cased name, accented names among them), forward by its Next
    page links and back by Previous page, three accounts a page: the same pages, the first without one."""
    from app.administration import views as people

    admin = make_user("admin", name="Ada Admin")
    for name in ("Émile Zola", "émile Zola", "Zoë Ball", "ZOË Ball", "Åsa Berg", "a" * 200, "Bo", "Cy"):
        make_user("author", name=name)
    log_in(client, admin.email)
    monkeypatch.setattr(people, "USERS_PER_PAGE", 3)  # a page size, not behaviour: 9 accounts, 3 pages

    def names(url: str) -> tuple[list[str], Any]:
        page = parse(client.get(url))
        return [td.get_text(strip=True) for td in page.select("table tbody tr > td:nth-of-type(1)")], page

    forward, page = [], None
    url: str | None = "/staff/users"
    while url:
        shown, page = names(url)
        forward.append(shown)
        link = page.select_one('.pager a[rel="next"]')
        url = link["href"] if link else None
    assert len(forward) == 3 and sum(len(p) for p in forward) == 9
    back = [forward[-1]]
    link = page.select_one('.pager a[rel="prev"]')
    while link:
        shown, page = names(link["href"])
        back.append(shown)
        link = page.select_one('.pager a[rel="prev"]')
    assert back == forward[::-1]


def test_the_review_queue_walks_every_waiting_post_once_oldest_first(
    client: Any,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.editorial import services as editorial
    from tests.support.web import log_in

    monkeypatch.setattr(editorial, "REVIEW_QUEUE_PAGE", 2)
    waiting = [make_post("in_review", title=f"Waiting {i}").id for i in range(5)]
    make_post("draft", title="Not submitted")
    make_post("published", title="Already out")
    log_in(client, make_user("editor").email)
    seen: list[int] = []
    url: str | None = "/staff/reviews"
    pages = 0
    while url:
        page = parse(client.get(url))
        pages += 1
        assert page.select_one("#review-count").get_text(" ", strip=True).startswith("5 posts waiting")
        seen += [int(row["data-post-id"]) for row in page.select("#review-queue tbody tr")]
        link = page.select_one("a[rel=next]")
        url = link["href"] if link else None
    assert pages == 3
    assert seen == waiting  # oldest first, each once
    assert client.get("/staff/reviews?after=garbled!!").status_code == 400


@postgresql_only
def test_previous_pages_read_the_same_indexes_as_next_pages(
    app: Flask,
    session: Session,
    make_post: Callable[..., Post],
    make_user: Callable[..., User],
) -> None:
    """``?before=`` turns the order round; it must seek the same index from the other end, never scan:
    each list's previous page, its statements recorded and EXPLAINed with sequential scans priced out."""
    from sqlalchemy import event

    from app.audit import services as audit
    from app.corrections import services as corrections
    from app.posts import services as post_services
    from app.search import services as search

    moderator = make_user("moderator", "editor")
    made = [make_post("published", title=f"Sleep note {n}") for n in range(3)]
    for n in range(5):
        comment = submit(app, session, made[0], author_email=f"plan{n}@example.net", body=f"Why {n}, though?")
        if n % 2:
            moderate(session, moderator, session.get(Comment, comment.id), "approve")
            session.commit()
    # Each list read forward a row at a time, then back from its second page.
    lists: dict[str, Callable[..., Any]] = {
        "home": lambda **at: post_services.published_posts(session, per_page=1, **at),
        "staff posts": lambda **at: post_services.find_posts(session, moderator, per_page=1, **at),
        "queue": lambda **at: moderation_queries.moderation_queue(
            session, moderator, status="published", per_page=1, **at
        ),
        "queue, every status": lambda **at: moderation_queries.moderation_queue(
            session, moderator, status=None, per_page=1, **at
        ),
        "needs reply": lambda **at: moderation_queries.needs_reply_page(session, per_page=1, **at),
        "moderation log": lambda **at: moderation_queries.moderation_log(
            session, moderator, per_page=1, **at
        ),
        "audit": lambda **at: audit.entries(session, per_page=1, **at),
        "search": lambda **at: search.search(session, "sleep", per_page=1, **at),
        "staff search": lambda **at: search.staff_search(session, moderator, "sleep", per_page=1, **at),
        "history": lambda **at: corrections.history_page(session, made[0], per_page=1, **at),
    }
    engine = app.extensions["candor.engine"]
    recorded: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            recorded.append((statement, parameters))

    went_back = []
    for name, fetch in lists.items():
        first = fetch()
        if first.next is None:
            continue
        second = fetch(after=first.next)
        assert second.previous is not None, name
        event.listen(engine, "before_cursor_execute", record)
        try:
            back = fetch(before=second.previous)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert back.rows == first.rows and back.previous is None, name
        went_back.append(name)
    assert {"home", "queue", "queue, every status", "search", "staff search", "audit"} <= set(went_back)
    problems = []
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, params in recorded:
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params))
            problems += [
                f"{table}: {statement}\n{plan}" for table in WATCHED if f"Seq Scan on {table} " in plan + " "
            ]
    assert problems == [], "\n\n".join(problems)
