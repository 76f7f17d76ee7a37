"""Export → import: a blog exported as WXR and imported into an empty Candor reads the same to its readers.

The first blog is built through the real services and comment pipeline; `flask export` writes the WXR,
and `flask import wordpress` reads it into a second, empty database (same backend, its own app), twice. Then
the public pages of both are fetched over the app's HTTP and compared as parsed HTML: the home page,
each post, each page, each topic page: titles, bylines, bodies and the published comments' texts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask

from app import create_app
from app.clock import freeze
from app.comments.models import CommentStatus
from app.editorial import services as editorial
from app.importer.services import import_wordpress
from app.moderation.services import moderate
from app.posts import services as posts
from app.posts.models import Post
from app.topics import services as topics
from app.wordpress import records as wp
from app.wordpress import wxr
from app.wordpress.write import write_wxr
from tests.support.comments import submit

T0 = datetime(2025, 11, 3, 8, 30, tzinfo=UTC)

BODY = """Adults need **seven hours** of sleep; see [the study](https://example.org/sleep-study).

## What helps

- a dark room
- no screens after 22:00
- the same hour every day

> Sleep is the best meditation. — a patient, with permission

Ünïcödé, emoji 😴, right-to-left: שינה טובה, combining: e\u0301.

1. first
2. second

`code` and *emphasis*.
"""


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


@pytest.fixture
def empty_app(
    request: pytest.FixtureRequest, database_url: str, app_config: dict[str, Any], tmp_path
) -> Iterator[Flask]:
    """A second Candor, on an empty (migrated) database of the same backend, configured alike."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    template = request.getfixturevalue(f"{backend}_template")
    directory = tmp_path / "second"
    directory.mkdir()
    url = template.fresh(directory)
    second = create_app(
        {"DATABASE_URL": url, "TESTING": True, "DEMO_ACCOUNTS_DIR": str(directory), **app_config}
    )
    yield second
    second.extensions["candor.engine"].dispose()
    template.drop(url)


@pytest.fixture
def blog(app, session, make_user, make_disclosure, gate_settings, moderator) -> list[Post]:
    author = make_user("author", name="Ada Okafor", email="ada.okafor@clinic.example")
    other = make_user("author", name="Ben Lindqvist, RN", email="ben@clinic.example")
    editor = make_user("editor", name="Erin Shah", email="erin.shah@clinic.example")
    for writer in (author, other):
        make_disclosure(writer)
    for name in ("Sleep", "Heart health", "Vaccines"):
        topics.create_topic(session, editor, name)
    session.commit()
    made = []

    def publish(writer, title: str, body: str, *, type: str = "post", filed: tuple[str, ...] = ()) -> Post:
        data = posts.RevisionInput(title, body, ["https://example.org/sleep-study"], topics=filed)
        post = posts.create_draft(session, writer, data, type=type)
        editorial.submit(session, writer, post, gate_settings)
        editorial.approve(session, editor, post, 1, gate_settings)
        session.commit()
        made.append(post)
        return post

    try:
        freeze(T0)
        sleep = publish(author, "Sleep and adults", BODY, filed=("Sleep",))
        freeze(T0 + timedelta(days=1))
        publish(
            other, "Flu shots this winter", "Book your **flu shot** before December.", filed=("Vaccines",)
        )
        freeze(T0 + timedelta(days=2))
        heart = publish(
            author, "Blood pressure at home", "Measure twice, *sitting*.", filed=("Heart health", "Sleep")
        )
        publish(author, "About us", "We are a clinic that blogs.\n\nWrite to us any time.", type="page")
        freeze(T0 + timedelta(days=3))
        current = heart.current_revision
        change = posts.RevisionInput(
            current.title,
            "Measure twice, *seated*, arm at heart level.",
            list(current.references),
            "correction",
            "The posture was incomplete.",
            topics=("Heart health", "Sleep"),
        )
        posts.revise(session, author, heart, change, current.number)
        editorial.submit(session, author, heart, gate_settings)
        editorial.approve(session, editor, heart, 2, gate_settings)
        session.commit()
        posts.create_draft(session, author, posts.RevisionInput("Not for readers", "Secret draft.", []))
        session.commit()
        freeze(T0 + timedelta(days=3, hours=2))
        withdrawn = publish(other, "A withdrawn study", "The study said *so*.", filed=("Vaccines",))
        freeze(T0 + timedelta(days=3, hours=5))
        editorial.retract(session, editor, withdrawn, "The study was withdrawn by its authors.")
        session.commit()
        freeze(T0 + timedelta(days=4))
        first = submit(
            app, session, sleep, body="Thank you, seven hours of sleep is a helpful target for me."
        )
        if first.status != CommentStatus.PUBLISHED:
            moderate(session, moderator, first, "approve")
        reply = submit(
            app,
            session,
            sleep,
            author_name="Chloé Lecteur",
            author_email="chloe@example.net",
            body="Same here, sleep 😴 matters; the dark room helped me most.",
            parent_id=first.id,
        )
        if reply.status != CommentStatus.PUBLISHED:
            moderate(session, moderator, reply, "approve")
        held = submit(
            app,
            session,
            sleep,
            author_email="cy@example.net",
            body="Call my sleep doctor on +1 212 555 0187.",
        )
        assert held.status == CommentStatus.HELD
        spam = submit(app, session, sleep, author_email="dee@example.net", body="Cheap sleep pills here.")
        moderate(session, moderator, spam, "spam")
        on_heart = submit(
            app, session, heart, author_email="fay@example.net", body="Is blood pressure at home reliable?"
        )
        if on_heart.status != CommentStatus.PUBLISHED:
            moderate(session, moderator, on_heart, "approve")
        session.commit()
    finally:
        freeze(None)
    return made


def _import(target: Flask, path: Any) -> None:
    """The agreed entry point of the import, in one transaction of the second app's database."""
    session = target.extensions["candor.sessions"]()
    try:
        report = import_wordpress(session, path)
        session.commit()
    finally:
        session.close()
    assert not report.failed


def _page(client: Any, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200, path
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _text(node: Any) -> str:
    return " ".join(node.get_text(" ").split()) if node is not None else ""


def _reading(client: Any, post_paths: list[str], topic_slugs: list[str]) -> dict[str, Any]:
    """What a reader sees, page by page, with nothing that names a database id."""
    seen: dict[str, Any] = {}
    home = _page(client, "/")
    seen["/"] = [
        (
            _text(article.select_one("h2 a")),
            article.select_one("h2 a")["href"],
            _text(article.select_one(".retraction-label")),
        )
        for article in home.select("article.post-summary")
    ]
    for path in post_paths:
        page = _page(client, path)
        seen[path] = {
            "title": _text(page.find("h1")),
            "byline": _text(page.select_one(".byline .author")),
            "body": str(page.select_one("#post-body")).strip(),
            "retraction": _text(page.select_one(".retraction-notice")),
            "comments": [_text(c) for c in page.select(".comment-body")],
        }
    for slug in topic_slugs:
        page = _page(client, f"/topics/{slug}")
        seen[f"/topics/{slug}"] = [_text(a) for a in page.select("article.post-summary h2 a")]
    return seen


def test_an_exported_blog_imported_into_an_empty_candor_reads_the_same(app, empty_app, blog, tmp_path):
    export = tmp_path / "blog.xml"
    result = app.test_cli_runner().invoke(args=["export", str(export)])
    assert result.exit_code == 0, result.output

    imported = empty_app.test_cli_runner().invoke(args=["import", "wordpress", str(export)])
    assert imported.exit_code == 0, imported.output

    paths = [f"/{'pages' if p.is_page else 'posts'}/{p.slug}" for p in blog]
    topic_slugs = ["sleep", "heart-health", "vaccines"]
    before = _reading(app.test_client(), paths, topic_slugs)
    after = _reading(empty_app.test_client(), paths, topic_slugs)
    assert [title for title, _, _ in before["/"]] == [
        "A withdrawn study",
        "Blood pressure at home",
        "Flu shots this winter",
        "Sleep and adults",
    ]
    assert before["/"][0][2].startswith("Retracted on")
    assert "The study was withdrawn by its authors." in before["/posts/a-withdrawn-study"]["retraction"]
    assert before["/posts/sleep-and-adults"]["comments"][1].startswith("Same here, sleep 😴")
    assert len(before["/posts/sleep-and-adults"]["comments"]) == 2
    assert before["/posts/sleep-and-adults"]["byline"] == "Ada Okafor"
    assert (
        "שינה טובה" in before["/posts/sleep-and-adults"]["body"]
        and "<h2" in before["/posts/sleep-and-adults"]["body"]
    )
    assert "seated" in before["/posts/blood-pressure-at-home"]["body"]
    assert before["/topics/sleep"] == ["Blood pressure at home", "Sleep and adults"]
    for page in before:
        assert after[page] == before[page], page

    again = empty_app.test_cli_runner().invoke(args=["import", "wordpress", str(export)])
    assert again.exit_code == 0, again.output
    rows = {line.split()[0]: line.split()[1:] for line in again.output.splitlines() if line[:1].isalpha()}
    assert rows["post"][:1] == ["0"] and rows["comment"][:1] == ["0"], again.output  # nothing imported again
    assert _reading(empty_app.test_client(), paths, topic_slugs) == before


def _wordpress_export(path: Any) -> None:
    """A small WordPress export: nested categories, a page under a page, threaded comments of every state."""
    when = datetime(2009, 5, 1, 12, 0, tzinfo=UTC)
    comments = (
        wp.Comment(1, "Ann", "ann@example.net", content="First, about sleep.", date_gmt=when, approved="1"),
        wp.Comment(
            2, "Bo", "bo@example.net", content="A reply on sleep.", date_gmt=when, approved="1", parent=1
        ),
        wp.Comment(
            3, "Cy", "cy@example.net", content="Waiting for a moderator.", date_gmt=when, approved="0"
        ),
        wp.Comment(4, "Dee", "dee@example.net", content="Buy pills.", date_gmt=when, approved="spam"),
        wp.Comment(5, "Eve", "eve@example.net", content="Binned.", date_gmt=when, approved="trash"),
    )
    records = [
        wp.Author("jdoe", 1, "jdoe@wp.example", "Jane Doe", "Jane", "Doe"),
        wp.Category("health", "Health"),
        wp.Category("sleep", "Sleep", parent="health"),
        wp.Item(
            10,
            "post",
            "publish",
            "Sleep in 2009",
            link="https://old.example/2009/05/sleep/",
            guid="https://old.example/?p=10",
            creator="jdoe",
            content="<p>Sleep <strong>seven</strong> hours.</p>",
            date_gmt=when,
            post_name="sleep-in-2009",
            terms=(wp.ItemTerm("category", "sleep", "Sleep"),),
            comments=comments,
        ),
        wp.Item(20, "page", "publish", "About", creator="jdoe", content="<p>About us.</p>", date_gmt=when),
        wp.Item(
            21,
            "page",
            "publish",
            "Team",
            creator="jdoe",
            content="<p>Our team.</p>",
            date_gmt=when,
            post_parent=20,
        ),
    ]
    with open(path, "wb") as out:
        write_wxr(
            out, wp.Site("Old blog", "https://old.example", base_site_url="https://old.example"), records
        )


def test_wordpress_to_candor_to_wordpress_keeps_threads_states_and_hierarchy(app, tmp_path):
    _wordpress_export(tmp_path / "wordpress.xml")
    _import(app, tmp_path / "wordpress.xml")
    result = app.test_cli_runner().invoke(args=["export", str(tmp_path / "back.xml")])
    assert result.exit_code == 0, result.output
    back = list(wxr.read(tmp_path / "back.xml"))

    (author,) = [r for r in back if isinstance(r, wp.Author)]
    assert (author.login, author.email, author.display_name) == ("jdoe", "jdoe@wp.example", "Jane Doe")
    categories = {c.name: c for c in back if isinstance(c, wp.Category)}
    assert categories["Sleep"].parent == categories["Health"].nicename
    items = {i.title: i for i in back if isinstance(i, wp.Item)}
    assert items["Team"].post_parent == items["About"].post_id and items["About"].post_parent == 0
    post = items["Sleep in 2009"]
    assert post.status == "publish" and post.date_gmt == datetime(2009, 5, 1, 12, 0, tzinfo=UTC)
    assert [t.name for t in post.terms] == ["Sleep"]
    assert {m.key: m.value for m in post.meta}["_candor_markdown"].strip() == "Sleep **seven** hours."
    by_text = {c.content: c for c in post.comments}
    assert {text: c.approved for text, c in by_text.items()} == {
        "First, about sleep.": "1",
        "A reply on sleep.": "1",
        "Waiting for a moderator.": "0",
        "Buy pills.": "spam",
        "Binned.": "trash",
    }
    assert by_text["A reply on sleep."].parent == by_text["First, about sleep."].id
    assert by_text["First, about sleep."].author == "Ann"


def test_candor_fields_in_a_hostile_file_are_held_to_the_usual_rules(app, client, tmp_path):
    """``_candor_references`` that are not http(s) links are dropped (never drawn as links); Markdown with
    raw HTML goes through the renderer's sanitiser like any author's; a damaged retraction is ignored."""
    item = wp.Item(
        7,
        "post",
        "publish",
        "Hostile",
        creator="mallory",
        content="<p>ignored</p>",
        date_gmt=datetime(2020, 1, 1, tzinfo=UTC),
        meta=(
            wp.Meta(
                "_candor_markdown", 'Hello <script>alert(1)</script> <a href="javascript:alert(2)">x</a>'
            ),
            wp.Meta(
                "_candor_references", '["javascript:alert(3)", "https://ok.example/a", 5, "data:text/html,x"]'
            ),
            wp.Meta("_candor_retraction", '{"reason": "", "at": "yesterday"}'),
        ),
    )
    with open(tmp_path / "hostile.xml", "wb") as out:
        write_wxr(
            out, wp.Site("Evil", "https://evil.example"), [wp.Author("mallory", 1, "m@evil.example"), item]
        )
    _import(app, tmp_path / "hostile.xml")
    page = _page(client, "/posts/hostile")
    hrefs = [a.get("href", "") for a in page.select("a")]
    assert not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:"))]
    assert [a["href"] for a in page.select(".references a")] == ["https://ok.example/a"]
    assert page.select("#post-body script") == [] and page.select_one(".retraction-notice") is None
