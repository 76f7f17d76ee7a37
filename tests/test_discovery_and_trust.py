"""Readers and machines find the blog and can check it (issue 11, part B): sitemap and robots.txt, feed
autodiscovery, canonical and Open Graph tags, JSON-LD with the organisation's policies, corrections and
medical reviews, JSON feeds beside the Atom ones, and public version numbers. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import extruct
import feedparser
import jsonschema
import pytest
import xmlschema
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEntry
from app.errors import InvalidInput, NotAllowed
from app.medical import services as medical
from app.medical.models import HealthMark, MedicalReview
from app.posts.pages import POLICY_PAGES
from tests.support.databases import postgresql_only
from tests.support.editorial import publish_change, retract
from tests.support.trust import review_health_post
from tests.support.web import log_in, parse

DATA = Path(__file__).resolve().parent / "data"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
PUBLIC = "https://blog.clinic.example"
FEEDS = ["/feed.atom", "/corrections.atom"]
JSON_FEEDS = ["/feed.json", "/corrections.json"]


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"PUBLIC_URL": PUBLIC}


@pytest.fixture
def blog(session, make_post, make_user, gate_settings) -> dict[str, Any]:
    """A corrected post, a retracted one, a health post with a medical review, a draft and one in review."""
    editor = make_user("editor", name="Erin Editor", title="Public affairs editor")
    corrected = make_post("published", title="Dosing aspirin", body="Take 50 mg daily.")
    publish_change(session, corrected, editor, gate_settings, body="Take 5 mg daily.", note="It is 5 mg.")
    retracted = make_post("published", title="A withdrawn study", body="A claim.")
    retract(session, retracted, editor, "The study was withdrawn.")
    reviewer = make_user("author", name="Dr Rhea Reviewer", title="Consultant pharmacist")
    health = make_post("published", title="Ibuprofen and the kidneys", body="Drink water.")
    review = review_health_post(session, health, editor, reviewer, reviewed_on=date(2026, 11, 2))
    draft = make_post("draft", title="A secret draft", body="Not yet.")
    in_review = make_post("in_review", title="Awaiting review", body="Soon.")
    return {
        "editor": editor,
        "corrected": corrected,
        "retracted": retracted,
        "health": health,
        "review": review,
        "reviewer": reviewer,
        "draft": draft,
        "in_review": in_review,
    }


# --- sitemap and robots.txt ---------------------------------------------------------------------------


def _sitemap(client: Any) -> dict[str, str | None]:
    response = client.get("/sitemap.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    schema = xmlschema.XMLSchema(DATA / "sitemap-0.9.xsd")
    body = response.get_data()
    schema.validate(body)  # raises, naming the element, if it is not a valid sitemap
    tree = ElementTree.fromstring(body)
    return {
        url.findtext(f"{SITEMAP_NS}loc"): url.findtext(f"{SITEMAP_NS}lastmod")
        for url in tree.findall(f"{SITEMAP_NS}url")
    }


def test_sitemap_validates_and_lists_exactly_the_public_urls(client, blog, session):
    found = _sitemap(client)
    posts = ("corrected", "retracted", "health")
    expected = {f"{PUBLIC}/", f"{PUBLIC}/corrections", f"{PUBLIC}/contact", f"{PUBLIC}/topics"} | {
        f"{PUBLIC}/posts/{blog[name].slug}" for name in posts
    }
    assert set(found) == expected
    assert not any("staff" in url or "api" in url or "secret" in url or "awaiting" in url for url in found)
    # lastmod is the latest published revision's time: the correction, not the first publication.
    from app.posts.models import Publication

    latest = session.scalar(
        select(Publication.published_at)
        .where(Publication.post_id == blog["corrected"].id)
        .order_by(Publication.published_at.desc())
    )
    assert found[f"{PUBLIC}/posts/{blog['corrected'].slug}"] == latest.isoformat(timespec="seconds")
    assert found[f"{PUBLIC}/contact"] is None


def test_sitemap_follows_a_new_publication_and_a_retitle(client, blog, make_post):
    before = _sitemap(client)
    post = make_post("published", title="Brand new post", body="New.")
    after = _sitemap(client)
    assert set(after) - set(before) == {f"{PUBLIC}/posts/{post.slug}"}


def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_off_staff_and_api(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert f"Sitemap: {PUBLIC}/sitemap.xml" in lines
    assert "Disallow: /staff/" in lines and "Disallow: /api/" in lines


def test_favicon_answers_and_every_page_links_it(client, blog):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.get_data()
    page = parse(client.get("/"))
    link = page.select_one('link[rel="icon"]')
    assert link is not None and link["href"] == "/static/favicon.svg" and link["type"] == "image/svg+xml"
    assert (Path(client.application.static_folder) / "favicon.svg").read_bytes() == icon.get_data()


# --- head links, navigation and footer ---------------------------------------------------------------


@pytest.mark.parametrize("which", ["home", "post", "history", "corrections"])
def test_every_reader_page_links_every_feed_and_its_canonical_url(client, blog, which):
    slug = blog["corrected"].slug
    path = {"home": "/", "post": f"/posts/{slug}", "history": f"/posts/{slug}/history"}.get(
        which, "/corrections"
    )
    page = parse(client.get(path))
    alternates = {(link["type"], link["href"]) for link in page.select('link[rel="alternate"]')}
    assert alternates == {
        ("application/atom+xml", f"{PUBLIC}/feed.atom"),
        ("application/feed+json", f"{PUBLIC}/feed.json"),
        ("application/atom+xml", f"{PUBLIC}/corrections.atom"),
        ("application/feed+json", f"{PUBLIC}/corrections.json"),
    }
    canonical = page.select('link[rel="canonical"]')
    assert [c["href"] for c in canonical] == [PUBLIC + path]


def test_header_and_footer_lead_to_sections_policies_contact_and_feeds(client, blog, make_post):
    for title in POLICY_PAGES.values():  # the footer links a policy page once it is published
        make_post("published", title=title, body=f"{title}, in short.", type="page")
    page = parse(client.get("/"))
    header = [a.get_text(strip=True) for a in page.select("header.site-header nav a")]
    assert header[:4] == ["Posts", "Topics", "Search", "Corrections"]
    footer = {a.get_text(strip=True): a["href"] for a in page.select("footer a")}
    assert footer["About"] == "/pages/about"
    assert footer["Comment policy"] == "/pages/comment-policy"
    assert footer["Corrections policy"] == "/pages/corrections-policy"
    assert footer["Ethics code"] == "/pages/ethics-code"
    assert footer["Contact"] == "/contact" and footer["Posts (JSON Feed)"] == "/feed.json"


def test_open_graph_and_twitter_cards_on_posts_and_home(client, blog):
    post = parse(client.get(f"/posts/{blog['corrected'].slug}"))
    meta = {m.get("property") or m.get("name"): m["content"] for m in post.select("meta[content]")}
    assert meta["og:type"] == "article" and meta["og:title"] == "Dosing aspirin"
    assert meta["og:url"] == f"{PUBLIC}/posts/{blog['corrected'].slug}"
    assert meta["og:description"] == "Take 5 mg daily." == meta["twitter:description"]
    assert meta["twitter:card"] == "summary" and "article:published_time" in meta
    home = parse(client.get("/"))
    meta = {m.get("property") or m.get("name"): m["content"] for m in home.select("meta[content]")}
    assert meta["og:type"] == "website" and meta["og:url"] == f"{PUBLIC}/"


# --- JSON-LD ------------------------------------------------------------------------------------------


def _jsonld(client: Any, path: str) -> list[dict[str, Any]]:
    html = client.get(path).get_data(as_text=True)
    return extruct.extract(html, base_url=PUBLIC + path, syntaxes=["json-ld"], uniform=True)["json-ld"]


POLICIES = {
    "correctionsPolicy": f"{PUBLIC}/pages/corrections-policy",
    "ethicsPolicy": f"{PUBLIC}/pages/ethics-code",
    "actionableFeedbackPolicy": f"{PUBLIC}/pages/comment-policy",
    "publishingPrinciples": f"{PUBLIC}/pages/ethics-code",
}


def test_home_page_carries_the_organization_and_its_policies(client, blog):
    (org,) = _jsonld(client, "/")
    assert org["@type"] == "Organization" and org["url"] == f"{PUBLIC}/"
    assert {key: org[key] for key in POLICIES} == POLICIES


def test_a_corrected_post_is_a_blog_posting_with_its_corrections_author_and_publisher(client, blog):
    (data,) = _jsonld(client, f"/posts/{blog['corrected'].slug}")
    assert data["@type"] == "BlogPosting" and data["headline"] == "Dosing aspirin"
    author = data["author"]
    assert author["@type"] == "Person" and author["jobTitle"] == "Physician"
    assert author["worksFor"]["@type"] == "Organization"
    assert data["datePublished"] and data["dateModified"] and data["dateModified"] >= data["datePublished"]
    (correction,) = data["correction"]
    assert correction["@type"] == "CorrectionComment" and correction["text"] == "Correction: It is 5 mg."
    assert correction["datePublished"] == data["dateModified"]
    assert {key: data["publisher"][key] for key in POLICIES} == POLICIES
    assert "reviewedBy" not in data


def test_a_health_post_is_a_medical_web_page_with_its_reviewer(client, blog):
    slug = blog["health"].slug
    (data,) = _jsonld(client, f"/posts/{slug}")
    assert data["@type"] == "MedicalWebPage"
    assert data["reviewedBy"]["@type"] == "Person" and data["reviewedBy"]["name"] == "Dr Rhea Reviewer"
    assert data["reviewedBy"]["jobTitle"] == "Consultant pharmacist"
    assert data["lastReviewed"] == "2026-11-02"
    shown = parse(client.get(f"/posts/{slug}")).select_one("#medical-review")
    assert "Medically reviewed by Dr Rhea Reviewer" in shown.get_text(" ", strip=True)
    assert shown.find("time")["datetime"] == "2026-11-02"


def test_no_text_can_close_the_json_ld_script(client, session, make_post, make_user, gate_settings):
    hostile = "</script><script>alert(1)</script><!-- \u2028 & -->"
    post = make_post("published", title="Hostile " + hostile[:40], body="Body.")
    publish_change(session, post, make_user("editor"), gate_settings, body="Body two.", note=hostile)
    html = client.get(f"/posts/{post.slug}").get_data(as_text=True)
    script = html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in script and ">" not in script and "&" not in script
    data = json.loads(script)
    assert data["correction"][0]["text"] == f"Correction: {hostile}"
    assert parse(client.get(f"/posts/{post.slug}")).find_all("script", src=False)[0]["type"] == (
        "application/ld+json"
    )


# --- feeds --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FEEDS)
def test_every_atom_feed_parses_cleanly(client, blog, path):
    feed = feedparser.parse(client.get(path).get_data())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.entries


def test_a_corrected_posts_feed_entry_says_so_with_the_note_and_the_changes_link(client, blog):
    slug = blog["corrected"].slug
    changes = f"{PUBLIC}/posts/{slug}/changes?from=1&to=2"
    feed = feedparser.parse(client.get("/feed.atom").get_data())
    entry = next(e for e in feed.entries if e.link == f"{PUBLIC}/posts/{slug}")
    assert "Correction on" in entry.summary and "It is 5 mg." in entry.summary and changes in entry.summary
    assert changes.replace("&", "&amp;") in entry.content[0].value or changes in entry.content[0].value
    plain = next(e for e in feed.entries if e.link == f"{PUBLIC}/posts/{blog['health'].slug}")
    assert "summary" not in plain or "Correction" not in plain.summary
    items = {i["url"]: i for i in client.get("/feed.json").get_json()["items"]}
    assert changes in items[f"{PUBLIC}/posts/{slug}"]["summary"]


@pytest.fixture(scope="module")
def json_feed_schema() -> jsonschema.protocols.Validator:
    schema = json.loads((DATA / "jsonfeed-1.1.schema.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


@pytest.mark.parametrize("path", JSON_FEEDS)
def test_json_feeds_validate_against_json_feed_1_1(client, blog, path, json_feed_schema):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/feed+json"
    data = response.get_json()
    errors = [e.message for e in json_feed_schema.iter_errors(data)]
    assert errors == []
    assert data["feed_url"] == PUBLIC + path and data["items"]
    atom = feedparser.parse(client.get(path.replace(".json", ".atom")).get_data())
    assert [i["id"] for i in data["items"]] == [e.id for e in atom.entries]


def test_the_json_feed_schema_refuses_what_the_spec_refuses(json_feed_schema):
    good = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [{"id": "1", "content_text": "x"}],
    }
    assert not list(json_feed_schema.iter_errors(good))
    for bad in (
        {**good, "version": "1.1"},
        {**good, "items": [{"id": "1"}]},  # no content
        {**good, "items": [{"id": "1", "content_text": "x", "date_published": "yesterday"}]},
        {**good, "home_page_url": "javascript:alert(1)"},
    ):
        assert list(json_feed_schema.iter_errors(bad)), bad


# --- public version numbers ---------------------------------------------------------------------------


def test_readers_count_published_versions_only(
    client, session, make_post, make_user, make_disclosure, gate_settings
):
    """Two drafts before the first publication: readers' version 1 is internal revision 3."""
    from app.editorial import services as editorial
    from app.posts import services as posts

    post = make_post("draft", title="Counted by readers", body="Draft one.")
    author = post.author
    make_disclosure(author)
    for n, body in ((1, "Draft two."), (2, "Published text.")):
        rev = post.current_revision
        posts.revise(session, author, post, posts.RevisionInput(rev.title, body, list(rev.references)), n)
    editorial.submit(session, author, post, gate_settings)
    editor = make_user("editor")
    editorial.approve(session, editor, post, 3, gate_settings)
    session.commit()
    publish_change(session, post, editor, gate_settings, body="Corrected text.")
    slug = post.slug
    assert client.get(f"/posts/{slug}/versions/1").status_code == 200
    one = parse(client.get(f"/posts/{slug}/versions/1"))
    assert one.select_one("#post-body").get_text(strip=True) == "Published text."
    assert "version 1" in one.select_one(".banner").get_text()
    two = parse(client.get(f"/posts/{slug}/versions/2"))
    assert two.select_one("#post-body").get_text(strip=True) == "Corrected text."
    assert client.get(f"/posts/{slug}/versions/3").status_code == 404
    assert client.get(f"/posts/{slug}/versions/0").status_code == 404
    # Internal numbers keep working (links made before, and the API's numbers), canonical on the version.
    old = parse(client.get(f"/posts/{slug}/revisions/3"))
    assert old.select_one("#post-body").get_text(strip=True) == "Published text."
    assert old.select_one('link[rel="canonical"]')["href"] == f"{PUBLIC}/posts/{slug}/versions/1"
    assert client.get(f"/posts/{slug}/revisions/1").status_code == 404  # a draft: never public
    history = parse(client.get(f"/posts/{slug}/history"))
    assert [a.get_text() for a in history.select('td[data-label="Version"] a')] == ["1", "2"]
    assert [a["href"] for a in history.select('td[data-label="Version"] a')] == [
        f"/posts/{slug}/versions/1",
        f"/posts/{slug}/versions/2",
    ]
    compare = history.select_one('td[data-label="Compare"] a')
    assert compare.get_text() == "Compare with version 1"
    assert compare["href"] == f"/posts/{slug}/changes?from=3&to=4"


def test_report_an_error_is_a_closed_disclosure_widget_on_the_post(client, blog):
    page = parse(client.get(f"/posts/{blog['corrected'].slug}"))
    widget = page.select_one("details#report-error")
    assert widget is not None and not widget.has_attr("open")
    assert widget.find("summary").get_text(strip=True) == "Report an error"
    assert widget.find("form")["action"] == f"/posts/{blog['corrected'].slug}/report"
    standalone = parse(client.get(f"/posts/{blog['corrected'].slug}/report"))
    assert standalone.select_one("details#report-error").has_attr("open")


# --- health information and medical reviews -----------------------------------------------------------


def test_who_may_mark_and_review(session, make_user, make_post):
    author = make_user("author")
    post = make_post("published", author=author, title="Who may", body="Text.")
    other_author, moderator, editor = make_user("author"), make_user("moderator"), make_user("editor")
    reviewer = make_user("author", name="Reviewer")
    for outsider in (other_author, moderator):
        with pytest.raises(NotAllowed):
            medical.mark_health(session, outsider, post, True)
    assert medical.mark_health(session, author, post, True) is not None
    assert medical.mark_health(session, author, post, True) is None  # already marked: nothing recorded
    review = medical.ReviewInput(reviewer.id, date(2026, 1, 1), date(2027, 1, 1))
    for not_editor in (author, other_author, moderator):
        with pytest.raises(NotAllowed):
            medical.record_review(session, not_editor, post, review, today=date(2026, 6, 1))
    _, created = medical.record_review(session, editor, post, review, today=date(2026, 6, 1))
    _, again = medical.record_review(session, editor, post, review, today=date(2026, 6, 1))
    assert (created, again) == (True, False)
    session.commit()
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.post_id == post.id)).all()
    assert actions.count("post.health_information") == 1 and actions.count("post.medical_review") == 1


@pytest.mark.parametrize(
    "change,field",
    [
        ({"reviewer": "author"}, "reviewer_id"),
        ({"reviewer": "missing"}, "reviewer_id"),
        ({"reviewed_on": date(2026, 6, 2)}, "reviewed_on"),
        ({"due_on": date(2026, 1, 1)}, "due_on"),
        ({"due_on": date(2040, 1, 1)}, "due_on"),
        ({"unmarked": True}, "post"),
    ],
)
def test_a_review_that_cannot_be_is_refused(session, make_user, make_post, change, field):
    post = make_post("published", title="Refused reviews", body="Text.")
    editor, reviewer = make_user("editor"), make_user("author")
    if not change.get("unmarked"):
        medical.mark_health(session, editor, post, True)
    reviewer_id = {"author": post.author_id, "missing": 999_999}.get(change.get("reviewer", ""), reviewer.id)
    data = medical.ReviewInput(
        reviewer_id, change.get("reviewed_on", date(2026, 1, 1)), change.get("due_on", date(2027, 1, 1))
    )
    with pytest.raises(InvalidInput) as refused:
        medical.record_review(session, editor, post, data, today=date(2026, 6, 1))
    assert refused.value.details["field"] == field


def test_marks_and_reviews_are_append_only_in_the_database(session, blog):
    session.commit()
    for table in ("post_health_marks", "medical_reviews"):
        for statement in (f"UPDATE {table} SET post_id = post_id", f"DELETE FROM {table}"):
            with pytest.raises(DBAPIError):
                session.execute(text(statement))
            session.rollback()
    assert session.scalar(select(MedicalReview.id)) is not None and session.scalar(select(HealthMark.id))


def test_the_due_list_shows_unreviewed_and_overdue_health_posts(session, blog, make_post, make_user):
    editor, reviewer = blog["editor"], blog["reviewer"]
    never = make_post("published", title="Never reviewed", body="Text.")
    medical.mark_health(session, editor, never, True)
    overdue = make_post("published", title="Overdue", body="Text.")
    review_health_post(
        session, overdue, editor, reviewer, reviewed_on=date(2024, 1, 1), due_in=timedelta(days=30)
    )
    unmarked = make_post("published", title="Unmarked again", body="Text.")
    medical.mark_health(session, editor, unmarked, True)
    medical.mark_health(session, editor, unmarked, False)
    session.commit()
    due = medical.due_for_review(session, date(2026, 11, 3))
    assert [item.post.id for item in due] == [never.id, overdue.id]  # the health post is current till 2027


def test_staff_record_a_review_through_the_form_and_editors_see_the_due_list(client, blog, make_user):
    editor = make_user("editor", name="Desk Editor")
    assert log_in(client, editor.email).status_code == 302
    post = blog["corrected"]
    page = parse(client.get(f"/staff/posts/{post.id}/health"))
    token = page.select_one('input[name="csrf_token"]')["value"]
    assert page.select_one("#health-status")["data-health"] == "no"
    assert (
        client.post(f"/staff/posts/{post.id}/health", data={"csrf_token": token, "health": "yes"}).status_code
        == 303
    )
    refused = client.post(
        f"/staff/posts/{post.id}/medical-reviews",
        data={
            "csrf_token": token,
            "reviewer_id": str(blog["reviewer"].id),
            "reviewed_on": "2999-01-01",
            "due_on": "3000-01-01",
        },
    )
    assert refused.status_code == 422 and "future" in parse(refused).select_one(".error").get_text()
    for junk in ({"reviewer_id": "abc"}, {"reviewed_on": "yesterday"}, {"reviewer_id": "-1"}):
        data = {
            "reviewer_id": str(blog["reviewer"].id),
            "reviewed_on": "2026-01-01",
            "due_on": "2027-01-01",
            **junk,
        }
        assert (
            client.post(
                f"/staff/posts/{post.id}/medical-reviews", data={"csrf_token": token, **data}
            ).status_code
            == 422
        )
    ok = client.post(
        f"/staff/posts/{post.id}/medical-reviews",
        data={
            "csrf_token": token,
            "reviewer_id": str(blog["reviewer"].id),
            "reviewed_on": "2026-01-01",
            "due_on": "2026-12-01",
        },
    )
    assert ok.status_code == 303
    due = parse(client.get("/staff/medical-reviews/due"))
    assert [int(row["data-post"]) for row in due.select("#due-reviews tbody tr")] == [post.id]
    nav = parse(client.get("/staff/")).select_one('nav.staff-nav a[data-nav="due"]')
    assert nav["href"] == "/staff/medical-reviews/due"
    # A reader sees the review at once: the cached page moved with the post's version.
    assert (
        "Medically reviewed by"
        in parse(client.application.test_client().get(f"/posts/{post.slug}")).get_text()
    )


def test_authors_and_moderators_cannot_record_reviews_or_open_the_due_list(client, blog, make_user):
    moderator = make_user("moderator")
    assert log_in(client, moderator.email).status_code == 302
    assert client.get("/staff/medical-reviews/due").status_code == 403
    token = parse(client.get(f"/staff/posts/{blog['health'].id}/health")).select_one(
        'input[name="csrf_token"]'
    )["value"]
    answer = client.post(
        f"/staff/posts/{blog['health'].id}/medical-reviews",
        data={
            "csrf_token": token,
            "reviewer_id": str(blog["reviewer"].id),
            "reviewed_on": "2026-01-01",
            "due_on": "2027-01-01",
        },
    )
    assert answer.status_code == 403


@postgresql_only
def test_two_editors_recording_the_same_review_at_once_record_it_once(app, blog, make_user, database_url):
    """On PostgreSQL the post's row lock makes the second wait and then see the first's review."""
    sessions = app.extensions["candor.sessions"]
    editors = [make_user("editor"), make_user("editor")]
    post_id = blog["corrected"].id
    with sessions() as s:
        medical.mark_health(s, editors[0], medical.get_review_post(s, post_id), True)
        s.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def record(editor_id: int) -> None:
        with sessions() as s:
            try:
                from app.accounts.models import User

                editor = s.get(User, editor_id)
                post = medical.get_review_post(s, post_id)
                barrier.wait()
                data = medical.ReviewInput(blog["reviewer"].id, date(2026, 1, 1), date(2027, 1, 1))
                medical.record_review(s, editor, post, data, today=date(2026, 6, 1))
                s.commit()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=record, args=(e.id,)) for e in editors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with sessions() as s:
        assert len(s.scalars(select(MedicalReview).where(MedicalReview.post_id == post_id)).all()) == 1


def test_the_canonical_url_keeps_only_a_real_cursor(client, make_post):
    for n in range(25):
        make_post("published", title=f"Post number {n}", body="Text.")
    first = parse(client.get("/"))
    assert first.select_one('link[rel="canonical"]')["href"] == PUBLIC + "/"
    later = first.select_one('a[rel="next"]')["href"]
    cursor = later.split("after=", 1)[1]
    for query in (
        f"?after={cursor}",
        f"?after={cursor}&utm_source=x&page=3",
        f"?utm_source=x&after={cursor}",
    ):
        page = parse(client.get("/" + query))
        assert page.select_one('link[rel="canonical"]')["href"] == PUBLIC + "/?after=" + cursor, query
    for query in ("?page=2", "?utm_source=x", "?page=%D9%A2"):
        page = parse(client.get("/" + query))
        assert page.select_one('link[rel="canonical"]')["href"] == PUBLIC + "/", query
