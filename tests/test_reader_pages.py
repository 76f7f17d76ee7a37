"""Reader pages: the index, a post, a past revision; drafts never public; anonymous pages cached safely."""

from __future__ import annotations

from datetime import UTC, datetime

from app import cursors
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.posts import services
from tests.support.web import parse, text_of


def test_index_lists_published_posts_newest_first_and_hides_drafts(client, make_post):
    make_post("published", title="Older post")
    make_post("published", title="Newer post")
    make_post("draft", title="Secret draft")
    make_post("in_review", title="Under review")
    soup = parse(client.get("/"))
    titles = [a.get_text(strip=True) for a in soup.select(".post-list h2 a")]
    assert titles == ["Newer post", "Older post"]


def test_index_paginates(client, make_post):
    for i in range(12):
        make_post("published", title=f"Post number {i}")
    first = parse(client.get("/"))
    assert len(first.select(".post-list > li")) == 10
    older = first.select_one('a[rel="next"]')
    second = parse(client.get(older["href"]))
    assert [a.get_text(strip=True) for a in second.select(".post-list h2 a")] == [
        "Post number 1",
        "Post number 0",
    ]
    # A cursor that is not one is a 400 with a message; a well-formed one past the end is a 404.
    assert client.get("/?after=zero").status_code == 400
    assert (
        client.get("/?after=" + cursors.encode("posts", (datetime(1990, 1, 1, tzinfo=UTC), 1))).status_code
        == 404
    )


def test_post_page_shows_rendered_body_byline_and_references(client, make_post, make_user):
    author = make_user("author", name="Dr Ada Okafor", title="Cardiologist", department="Cardiology")
    post = make_post(
        "published",
        author=author,
        title="Heart facts",
        body="Your heart *beats*.",
        references=["https://example.org/heart"],
    )
    soup = parse(client.get(f"/posts/{post.slug}"))
    assert text_of(soup, "h1") == "Heart facts"
    body = soup.select_one("#post-body")
    assert body.find("em").get_text() == "beats"
    assert text_of(soup, ".byline .author") == "Dr Ada Okafor"
    assert text_of(soup, ".byline .author-title") == "Cardiologist"
    assert text_of(soup, ".byline .author-department") == "Cardiology"
    assert [a["href"] for a in soup.select(".references a")] == ["https://example.org/heart"]


def test_drafts_and_unknown_slugs_are_404(client, make_post):
    draft = make_post("draft")
    assert client.get(f"/posts/{draft.slug}").status_code == 404
    assert client.get(f"/posts/{draft.slug}/revisions/1").status_code == 404
    assert client.get("/posts/no-such-post").status_code == 404


def _correct(session, post, body, editor):
    settings = GateSettings()
    current = post.current_revision
    rev, _ = services.revise(
        session,
        post.author,
        post,
        services.RevisionInput(
            current.title, body, list(current.references), "correction", "Fixed the dose."
        ),
        current.number,
    )
    editorial.submit(session, post.author, post, settings)
    editorial.approve(session, editor, post, rev.number, settings)
    session.commit()
    return rev


def test_an_old_revision_shows_as_readers_saw_it_with_a_banner(client, session, make_post, make_user):
    post = make_post("published", body="Take 50 mg.")
    _correct(session, post, "Take 5 mg.", make_user("editor"))
    old = parse(client.get(f"/posts/{post.slug}/revisions/1"))
    assert text_of(old, "#post-body") == "Take 50 mg."
    banner = old.select_one(".banner")
    assert banner is not None and banner.find("a")["href"] == f"/posts/{post.slug}"
    current = parse(client.get(f"/posts/{post.slug}/revisions/2"))
    assert text_of(current, "#post-body") == "Take 5 mg." and current.select_one(".banner") is None


def test_an_unpublished_revision_is_never_public(client, api, make_post):
    post = make_post("published", body="Public words.")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Pending words.", "base_revision": 1, "kind": "update", "note": "More detail."},
        as_=post.author,
    )
    assert client.get(f"/posts/{post.slug}/revisions/2").status_code == 404
    assert text_of(parse(client.get(f"/posts/{post.slug}")), "#post-body") == "Public words."


def test_cached_post_page_changes_as_soon_as_a_correction_is_published(client, session, make_post, make_user):
    post = make_post("published", body="Take 50 mg.")
    first = client.get(f"/posts/{post.slug}")
    again = client.get(f"/posts/{post.slug}")
    assert first.headers["X-Candor-Cache"] == "miss" and again.headers["X-Candor-Cache"] == "hit"
    _correct(session, post, "Take 5 mg.", make_user("editor"))
    after = client.get(f"/posts/{post.slug}")
    assert after.headers["X-Candor-Cache"] == "miss"
    assert text_of(parse(after), "#post-body") == "Take 5 mg."


def test_a_second_app_sharing_the_database_never_serves_a_stale_page(
    app, client, session, make_post, make_user
):
    """Two workers (two apps, two caches) over one database: both see a correction at once."""
    from app import create_app

    other_app = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "TESTING": True})
    other = other_app.test_client()
    post = make_post("published", body="Take 50 mg.")
    assert text_of(parse(client.get(f"/posts/{post.slug}")), "#post-body") == "Take 50 mg."
    assert text_of(parse(other.get(f"/posts/{post.slug}")), "#post-body") == "Take 50 mg."
    _correct(session, post, "Take 5 mg.", make_user("editor"))
    assert text_of(parse(client.get(f"/posts/{post.slug}")), "#post-body") == "Take 5 mg."
    assert text_of(parse(other.get(f"/posts/{post.slug}")), "#post-body") == "Take 5 mg."
    other_app.extensions["candor.engine"].dispose()


def test_rendered_html_is_stored_at_save_time(session, make_post):
    post = make_post("published", body="Some **bold** claim.")
    assert post.published_revision.html == "<p>Some <strong>bold</strong> claim.</p>"
