"""Readers find and trust: pages, topics, search and closing comments (issue 11, part A).

Every test runs on SQLite and on PostgreSQL (the ``app`` fixture).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.etree import ElementTree

import feedparser
import pytest
from sqlalchemy import select

from app import clock
from app.audit.models import AuditEntry
from app.editorial import services as editorial
from app.posts.models import Post
from app.posts.pages import POLICY_PAGES
from app.search import services as search_services
from app.search.models import SearchDocument
from app.topics import services as topics
from tests.support.databases import postgresql_only
from tests.support.web import form_csrf_token, log_in, parse, text_of

REFS = ["https://example.org/source"]


@pytest.fixture
def cast(make_user, make_disclosure) -> dict[str, Any]:
    author = make_user("author", name="Dr Ada Okafor")
    editor = make_user("editor", name="Erin Editor")
    make_disclosure(author)
    make_disclosure(editor)
    return {"author": author, "editor": editor}


def _publish(api, cast, body: dict[str, Any]) -> dict[str, Any]:
    """Create as the author, submit, approve as the editor: the whole four-eyes path through the API."""
    created = api.post("/api/v1/posts", body, as_=cast["author"])
    assert created.status_code == 201, created.get_json()
    post_id = created.get_json()["id"]
    assert api.post(f"/api/v1/posts/{post_id}/submit", {}, as_=cast["author"]).status_code == 200
    approved = api.post(f"/api/v1/posts/{post_id}/approve", {"revision": 1}, as_=cast["editor"])
    assert approved.status_code == 200, approved.get_json()
    return api.get(f"/api/v1/posts/{post_id}").get_json()


# --- pages --------------------------------------------------------------------------------------------


def test_a_page_goes_through_four_eyes_and_lives_under_pages(api, client, cast):
    created = api.post(
        "/api/v1/posts", {"type": "page", "title": "About", "body": "Who we are."}, as_=cast["author"]
    )
    assert created.status_code == 201 and created.get_json()["type"] == "page"
    page_id = created.get_json()["id"]
    # A page needs no references and no topic, but the author still cannot approve it.
    assert api.post(f"/api/v1/posts/{page_id}/submit", {}, as_=cast["author"]).status_code == 200
    assert (
        api.post(f"/api/v1/posts/{page_id}/approve", {"revision": 1}, as_=cast["author"]).status_code == 403
    )
    assert client.get("/pages/about").status_code == 404  # not yet published
    assert (
        api.post(f"/api/v1/posts/{page_id}/approve", {"revision": 1}, as_=cast["editor"]).status_code == 200
    )

    page = client.get("/pages/about")
    assert page.status_code == 200
    assert text_of(parse(page), "#post-body") == "Who we are."
    assert parse(page).select_one("#comments") is None  # pages take no comments
    assert api.get(f"/api/v1/posts/{page_id}").get_json()["url"].endswith("/pages/about")
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    assert "/pages/about</loc>" in sitemap and "/posts/about</loc>" not in sitemap  # a page, at /pages/
    # The post prefix sends readers to the page; the page prefix never serves a post.
    moved = client.get("/posts/about")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/pages/about")
    assert client.get("/posts/about/history").headers["Location"].endswith("/pages/about/history")
    # Not on the home page, nor in the main feed.
    home = parse(client.get("/"))
    assert not home.select('.post-list a[href*="/pages/about"]')  # the footer links it; the list does not
    assert "pages/about" not in client.get("/feed.atom").get_data(as_text=True)
    assert client.get("/pages/about/history").status_code == 200
    assert client.get("/pages/about/revisions/1").status_code == 200


def test_the_footer_links_only_the_policy_pages_a_reader_can_open(api, client, cast):
    def footer_paths() -> list[str]:
        return [a["href"] for a in parse(client.get("/")).select('nav[aria-label="About this blog"] a')]

    fresh = footer_paths()
    assert not [p for p in fresh if p.startswith("/pages/")]  # a fresh blog has written none yet
    assert "/contact" in fresh and "/corrections" in fresh
    _publish(api, cast, {"type": "page", "title": "Comment policy", "body": "Be kind."})
    assert [p for p in footer_paths() if p.startswith("/pages/")] == ["/pages/comment-policy"]
    for path in footer_paths():
        assert client.get(path).status_code == 200, path


def test_a_page_is_corrected_like_a_post_and_its_old_slug_moves(api, client, cast):
    page = _publish(api, cast, {"type": "page", "title": "Comment policy", "body": "Be kind."})
    change = {
        "title": "Comment rules",
        "body": "Be kind and brief.",
        "base_revision": 1,
        "kind": "correction",
        "note": "We forgot brevity.",
    }
    assert api.post(f"/api/v1/posts/{page['id']}/revisions", change, as_=cast["author"]).status_code == 201
    assert api.post(f"/api/v1/posts/{page['id']}/submit", {}, as_=cast["author"]).status_code == 200
    assert (
        api.post(f"/api/v1/posts/{page['id']}/approve", {"revision": 2}, as_=cast["editor"]).status_code
        == 200
    )
    moved = client.get("/pages/comment-policy")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/pages/comment-rules")
    current = parse(client.get("/pages/comment-rules"))
    assert "We forgot brevity." in text_of(current, ".corrections-notices")
    changes = parse(client.get("/pages/comment-rules/changes"))
    assert "brief" in text_of(changes, "#post-diff ins")
    history = client.get("/pages/comment-rules/history").get_data(as_text=True)
    assert "/pages/comment-rules/versions/2" in history


def test_demo_seeds_the_policy_pages_at_their_well_known_slugs(runner, client):
    seeded = runner.invoke(args=["demo"])
    assert seeded.exit_code == 0, (seeded.output, seeded.exception)
    for slug, title in POLICY_PAGES.items():
        page = client.get(f"/pages/{slug}")
        assert page.status_code == 200, slug
        assert text_of(parse(page), "h1") == title
    assert "Code of Ethics" in text_of(parse(client.get("/pages/ethics-code")), "#post-body")
    home = parse(client.get("/"))
    assert home.select(".post-list .topics a[rel=tag]")  # the demo's posts carry topics


# --- topics -------------------------------------------------------------------------------------------


def test_topics_are_the_editors_list_and_a_post_needs_one(api, session, cast):
    editor = cast["editor"]
    topics.create_topic(session, editor, "Heart health")
    session.commit()
    unknown = api.post(
        "/api/v1/posts",
        {"title": "T", "body": "b", "references": REFS, "topics": ["Cardiology"]},
        as_=cast["author"],
    )
    assert unknown.status_code == 422 and unknown.get_json()["error"]["field"] == "topics"
    assert "Heart health" in unknown.get_json()["error"]["message"]
    created = api.post("/api/v1/posts", {"title": "T", "body": "b", "references": REFS}, as_=cast["author"])
    blocked = api.post(f"/api/v1/posts/{created.get_json()['id']}/submit", {}, as_=cast["author"])
    assert blocked.status_code == 422
    assert "topics" in {g["gate"] for g in blocked.get_json()["error"]["gates"]}
    # Names match whatever the case; an author cannot make a topic.
    ok = api.post(
        "/api/v1/posts",
        {"title": "T2", "body": "b", "references": REFS, "topics": ["heart HEALTH"]},
        as_=cast["author"],
    )
    assert ok.status_code == 201
    assert api.post(f"/api/v1/posts/{ok.get_json()['id']}/submit", {}, as_=cast["author"]).status_code == 200
    with pytest.raises(Exception, match="editors"):
        topics.create_topic(session, cast["author"], "Mine")


def test_readers_see_the_published_revisions_topics_only(api, client, session, cast):
    for name in ("Vaccines", "Children"):
        topics.create_topic(session, cast["editor"], name)
    session.commit()
    post = _publish(
        api, cast, {"title": "Flu jabs", "body": "Get one.", "references": REFS, "topics": ["Vaccines"]}
    )
    change = {"body": "Get one.", "base_revision": 1, "kind": "minor", "topics": ["Vaccines", "Children"]}
    assert api.post(f"/api/v1/posts/{post['id']}/revisions", change, as_=cast["author"]).status_code == 201
    # The draft's new topic does not leak: not on the post, not on the topic page, not in the API.
    assert [a.get_text() for a in parse(client.get("/posts/flu-jabs")).select(".topics a")] == ["Vaccines"]
    assert "flu-jabs" not in client.get("/topics/children").get_data(as_text=True)
    assert "flu-jabs" in client.get("/topics/vaccines").get_data(as_text=True)
    assert api.get(f"/api/v1/posts/{post['id']}").get_json()["topics"] == ["Vaccines"]
    assert api.get(f"/api/v1/posts/{post['id']}", as_=cast["author"]).get_json()["topics"] == [
        "Children",
        "Vaccines",
    ]


def test_topic_feed_parses_and_uses_the_public_url(api, client, session, cast, app):
    topics.create_topic(session, cast["editor"], "Sleep")
    session.commit()
    _publish(
        api, cast, {"title": "Sleep well", "body": "Seven hours.", "references": REFS, "topics": ["Sleep"]}
    )
    response = client.get("/topics/sleep/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert feed.bozo == 0
    assert [e.title for e in feed.entries] == ["Sleep well"]
    base = app.config["PUBLIC_URL"].rstrip("/")
    assert feed.entries[0].link == f"{base}/posts/sleep-well"
    assert client.get("/topics/no-such-topic/feed.atom").status_code == 404
    index = parse(client.get("/topics"))
    assert [a.get_text() for a in index.select(".topic-list a")] == ["Sleep"]
    # The sitemap lists the topics' pages and the post at its own address.
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    for url in (f"{base}/topics", f"{base}/topics/sleep", f"{base}/posts/sleep-well"):
        assert f"<loc>{url}</loc>" in sitemap.replace("ns0:", ""), url


def test_renaming_a_topic_keeps_its_address_is_audited_and_reaches_search(api, client, session, cast):
    topic = topics.create_topic(session, cast["editor"], "Nutrition")
    session.commit()
    _publish(
        api,
        cast,
        {"title": "Eat greens", "body": "Greens help.", "references": REFS, "topics": ["Nutrition"]},
    )
    assert client.get("/posts/eat-greens").status_code == 200  # cached now
    topics.rename_topic(session, cast["editor"], topic.id, "Diet and nutrition")
    session.commit()
    assert "Diet and nutrition" in text_of(parse(client.get("/topics/nutrition")), "h1")
    assert "Diet and nutrition" in text_of(parse(client.get("/posts/eat-greens")), ".topics")
    hits = client.get("/api/v1/search?q=diet").get_json()["items"]
    assert [h["slug"] for h in hits] == ["eat-greens"]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("topic.%"))).all()
    assert sorted(actions) == ["topic.created", "topic.renamed"]


def test_a_new_topic_is_in_the_sitemap_at_once(api, client, session, cast, app):
    """The sitemap is cached: a topic added after it was rendered must still be listed at once."""
    base = app.config["PUBLIC_URL"].rstrip("/")
    assert f"<loc>{base}/topics/vaccines</loc>" not in client.get("/sitemap.xml").get_data(as_text=True)
    topics.create_topic(session, cast["editor"], "Vaccines")
    session.commit()
    tree = ElementTree.fromstring(client.get("/sitemap.xml").get_data())
    locs = [loc.text for loc in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert f"{base}/topics/vaccines" in locs


def _search_slugs(client, query: str) -> list[str]:
    return [h["slug"] for h in client.get(f"/api/v1/search?q={query}").get_json()["items"]]


@pytest.mark.parametrize("how", ["api", "cli"])
def test_renaming_an_author_reaches_search(api, client, runner, session, cast, make_user, make_token, how):
    """Search finds a post by its author's new name, and no longer by the old one."""
    _publish(api, cast, {"title": "Sleep hygiene", "body": "Dim the lights.", "references": REFS})
    assert _search_slugs(client, "Okafor") == ["sleep-hygiene"]
    author = cast["author"]
    if how == "api":
        admin = make_user("admin")
        changed = client.patch(
            f"/api/v1/users/{author.id}",
            json={"name": "Dr Ada Mensah"},
            headers={"Authorization": f"Bearer {make_token(admin)}"},
        )
        assert changed.status_code == 200, changed.get_json()
    else:
        edited = runner.invoke(args=["users", "edit", author.email, "--name", "Dr Ada Mensah"])
        assert edited.exit_code == 0, edited.output
    assert _search_slugs(client, "Mensah") == ["sleep-hygiene"]
    assert _search_slugs(client, "Okafor") == []


def test_staff_topic_page_adds_and_refuses_duplicates(app, client, cast):
    log_in(client, cast["editor"].email)
    token = form_csrf_token(client, "/staff/topics")
    added = client.post("/staff/topics", data={"csrf_token": token, "new-name": "Mental health"})
    assert added.status_code == 303
    again = client.post("/staff/topics", data={"csrf_token": token, "new-name": "mental  HEALTH"})
    assert again.status_code == 409
    assert "already a topic" in again.get_data(as_text=True)
    # An author may not manage topics.
    author = app.test_client()
    log_in(author, cast["author"].email)
    assert author.post("/staff/topics", data={"csrf_token": token, "new-name": "X"}).status_code in (400, 403)


# --- search -------------------------------------------------------------------------------------------


def test_search_finds_published_words_and_never_a_draft_or_pending_text(api, client, session, cast):
    post = _publish(
        api, cast, {"title": "Kidney stones", "body": "Drink water against oxalate.", "references": REFS}
    )
    api.post(
        "/api/v1/posts",
        {"title": "Secret draft", "body": "Zanzibar plans.", "references": REFS},
        as_=cast["author"],
    )
    # A newer revision, still unpublished, with a new word.
    change = {
        "body": "Drink water against oxalate and quokka.",
        "base_revision": 1,
        "kind": "update",
        "note": "More.",
    }
    assert api.post(f"/api/v1/posts/{post['id']}/revisions", change, as_=cast["author"]).status_code == 201
    assert api.post(f"/api/v1/posts/{post['id']}/submit", {}, as_=cast["author"]).status_code == 200

    found = client.get("/api/v1/search?q=oxalate").get_json()
    assert [(i["type"], i["slug"]) for i in found["items"]] == [("post", "kidney-stones")]
    item = found["items"][0]
    assert set(item) >= {"type", "id", "slug", "title", "url", "snippet"}
    assert "oxalate" in item["snippet"] and "<mark>oxalate</mark>" in item["snippet_html"]
    for hidden in ("zanzibar", "quokka", "secret"):
        assert client.get(f"/api/v1/search?q={hidden}").get_json()["items"] == [], hidden
        assert parse(client.get(f"/search?q={hidden}")).select(".search-hit") == []
    # By the author's name too, and stemmed ("drinking" finds "drink").
    assert client.get("/api/v1/search?q=okafor").get_json()["items"][0]["slug"] == "kidney-stones"
    assert client.get("/api/v1/search?q=drinking").get_json()["items"][0]["slug"] == "kidney-stones"
    page = parse(client.get("/search?q=oxalate"))
    assert [a.get_text() for a in page.select(".search-hit h2 a")] == ["Kidney stones"]
    assert [m.get_text().lower() for m in page.select(".search-snippet mark")] == ["oxalate"]
    # Once published, the new word is found.
    assert (
        api.post(f"/api/v1/posts/{post['id']}/approve", {"revision": 2}, as_=cast["editor"]).status_code
        == 200
    )
    assert [i["slug"] for i in client.get("/api/v1/search?q=quokka").get_json()["items"]] == ["kidney-stones"]


def test_search_escapes_stored_text_and_labels_a_retraction(api, client, session, cast):
    body = "Never type `<script>alert(1)</script>` or <b>bold</b> into forms about ferritin."
    post = _publish(api, cast, {"title": "Ferritin <i>levels</i>", "body": body, "references": REFS})
    page = client.get("/search?q=ferritin")
    html = page.get_data(as_text=True)
    assert "<script>alert" not in html and "<i>levels</i>" not in html
    hit = parse(page).select_one(".search-hit")
    assert {t.name for t in hit.select(".search-snippet *")} <= {"mark"}
    editorial.retract(session, cast["editor"], session.get(Post, post["id"]), "Wrong lab values.")
    session.commit()
    hit = parse(client.get("/search?q=ferritin")).select_one(".search-hit")
    assert "Retracted" in text_of(hit, ".search-meta")
    assert client.get("/api/v1/search?q=ferritin").get_json()["items"][0]["status"] == "retracted"


HOSTILE = [
    '"',
    '"unbalanced',
    "NEAR(a b",
    "a NEAR b",
    "*",
    "oxal*",
    "-oxalate",
    "((((",
    ")",
    "AND OR NOT",
    "title:oxalate",
    "^oxalate",
    "a\x00b",
    "\x00",
    "x" * 10_000,
    "oxalate " * 2000,
    "ÖxaLäte 🫘 漢字 \u202e",
    "\ue000oxalate\ue001",
    "' OR 1=1 --",
    "%_%",
    "\\",
    "!@#$%^&*()",
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_never_fail(api, client, cast, query):
    _publish(api, cast, {"title": "Oxalate", "body": "Oxalate stones.", "references": REFS})
    for path, extra in (
        ("/search", {}),
        ("/api/v1/search", {}),
        ("/api/v1/search", {"scope": "public", "page": 1}),
    ):
        response = client.get(path, query_string={"q": query, **extra})
        # A NUL byte anywhere in a request is refused (422) before any view: a clear 4xx, never a 5xx.
        # The API refuses a q longer than its document allows (10,000); the reader's form reads a part.
        too_long = path.startswith("/api/") and len(query) > 10_000
        expected = 422 if "\x00" in query or too_long else 200
        assert response.status_code == expected, (path, response.status_code)


def _follow(client, url: str) -> list[list[int]]:
    """The ids of every page of an API list, following ``next`` from ``url``."""
    pages: list[list[int]] = []
    while url:
        response = client.get(url[url.index("/api/") :] if "://" in url else url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append([i["id"] for i in body["items"]])
        url = body["next"]
        assert "page=" not in (url or "").replace("per_page=", ""), url  # keyset: no page numbers
    return pages


def test_search_pages_by_cursor_each_hit_once_in_rank_order_with_ties(api, client, cast):
    # Three groups of identical documents, so ranks tie within a group and across page boundaries:
    # the word in the title ranks first, then twice in the text, then once.
    titled = [
        _publish(api, cast, {"title": "Gout", "body": "Urate crystals.", "references": REFS})["id"]
        for _ in range(4)
    ]
    twice = [
        _publish(api, cast, {"title": "Joint note", "body": "Gout, gout and urate.", "references": REFS})[
            "id"
        ]
        for _ in range(4)
    ]
    once = [
        _publish(api, cast, {"title": "Joint note", "body": "Gout and urate.", "references": REFS})["id"]
        for _ in range(4)
    ]
    _publish(api, cast, {"title": "Other", "body": "Nothing to find here.", "references": REFS})
    whole = _follow(client, "/api/v1/search?q=gout&per_page=100")
    assert len(whole) == 1
    # Best first, and ties on rank in id order.
    assert whole[0] == sorted(titled) + sorted(twice) + sorted(once)
    for per_page in (1, 3, 5):
        pages = _follow(client, f"/api/v1/search?q=gout&per_page={per_page}")
        assert [i for p in pages for i in p] == whole[0], per_page  # each hit exactly once, in order
        assert all(len(p) == per_page for p in pages[:-1]) and pages[-1]
    # The reader's page follows the same cursors through its More results link.
    seen: list[str] = []
    url = "/search?q=gout"
    while url:
        page = parse(client.get(url))
        seen += [a["href"] for a in page.select(".search-hit h2 a")]
        more = page.select_one('.pager a[rel="next"]')
        url = more["href"] if more else None
        if url:
            assert "after=" in url and "page=" not in url
    assert len(seen) == 12 == len(set(seen))


def _round_trip(fetch: Any) -> list[list[Any]]:
    """Walk a list forward by its next cursors, then back by its previous ones from the last page: the
    same pages, each in the list's order, and the first page has no previous."""
    forward = [fetch(after=None, before=None)]
    while forward[-1].next:
        forward.append(fetch(after=forward[-1].next, before=None))
    assert forward[0].previous is None
    back = [forward[-1]]
    while back[-1].previous:
        back.append(fetch(after=None, before=back[-1].previous))
        assert back[-1].next is not None  # the page we came from follows
    assert [p.rows for p in back] == [p.rows for p in reversed(forward)]
    return [p.rows for p in forward]


def test_search_pages_back_by_previous_cursors_each_page_as_it_was(api, client, session, cast, make_user):
    for title, body in [("Gout", "Urate crystals."), ("Joint note", "Gout, gout and urate.")] * 4 + [
        ("Joint note", "Gout and urate.")
    ] * 3:
        _publish(api, cast, {"title": title, "body": body, "references": REFS})
    for per_page in (1, 3, 5, 11):
        pages = _round_trip(
            lambda n=per_page, **at: search_services.search(session, "gout", per_page=n, **at)
        )
        assert len({h.post.id for p in pages for h in p}) == 11
        staff_pages = _round_trip(
            lambda n=per_page, **at: search_services.staff_search(
                session, cast["editor"], "urate", per_page=n, **at
            )
        )
        assert len({h.post.id for p in staff_pages for h in p}) == 11
    # The reader's page: More results, then Previous results, by links only, numbered as before.
    first = parse(client.get("/search?q=gout"))
    second = parse(client.get(first.select_one('.pager a[rel="next"]')["href"]))
    assert second.select_one("ol.search-results")["start"] == "11"
    back = parse(client.get(second.select_one('.pager a[rel="prev"]')["href"]))
    assert [a["href"] for a in back.select(".search-hit h2 a")] == [
        a["href"] for a in first.select(".search-hit h2 a")
    ]
    assert back.select_one('.pager a[rel="prev"]') is None
    assert back.select_one("ol.search-results").get("start") is None
    assert back.select_one('.pager a[rel="next"]')["href"] == first.select_one('.pager a[rel="next"]')["href"]
    # One search box on the search page (its own, with the words in it); the header's elsewhere.
    assert [i.get("value") for i in back.select('input[type="search"]')] == ["gout"]
    assert len(parse(client.get("/")).select('input[type="search"]')) == 1
    # after and before at once name no page; a bad before is refused like a bad after.
    cursor = parse_qs(urlsplit(first.select_one('.pager a[rel="next"]')["href"]).query)["after"][0]
    for query in ({"after": cursor, "before": cursor}, {"before": "garbage"}):
        assert client.get("/search", query_string={"q": "gout", **query}).status_code == 400


def test_staff_search_pages_by_cursor(api, client, cast, make_user):
    ids = [
        api.post(
            "/api/v1/posts",
            {"title": f"Draft {n}", "body": "Lupus flares.", "references": REFS},
            as_=cast["author"],
        ).get_json()["id"]
        for n in range(5)
    ]
    token = api.make_token(make_user("moderator"))
    headers = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/search?q=lupus&scope=staff&per_page=2"
    got: list[int] = []
    while url:
        body = client.get(url[url.index("/api/") :], headers=headers).get_json()
        got += [i["id"] for i in body["items"]]
        url = body["next"]
    assert got == sorted(ids, reverse=True)  # newest revision first, each once
    log_in(client, cast["editor"].email)
    page = parse(client.get("/staff/search?q=flares"))
    assert len(page.select(".search-hit")) == 5 and page.select_one('.pager a[rel="next"]') is None


def _raw_cursor(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def test_search_cursors_are_refused_cleanly_when_tampered(api, client, cast):
    for n in range(3):
        _publish(api, cast, {"title": f"Gout {n}", "body": "Gout and urate.", "references": REFS})
        _publish(api, cast, {"title": f"Lupus {n}", "body": "Lupus and urate.", "references": REFS})
    first = client.get("/api/v1/search?q=gout&per_page=1").get_json()
    good = parse_qs(urlsplit(first["next"]).query)["after"][0]
    other = parse_qs(urlsplit(client.get("/api/v1/search?q=lupus&per_page=1").get_json()["next"]).query)[
        "after"
    ][0]
    kind = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))[0]
    bad = [
        "garbage",
        "!!!",
        good[:-3],  # truncated
        good + "x" * 2000,  # too long
        other,  # a cursor of another query
        _raw_cursor(json.dumps(["home", 1.0, 1])),  # of another list
        _raw_cursor(f'["{kind}", NaN, 1]'),
        _raw_cursor(f'["{kind}", Infinity, 1]'),
        _raw_cursor(f'["{kind}", -Infinity, 1]'),
        _raw_cursor(f'["{kind}", 1e999, 1]'),
        _raw_cursor(f'["{kind}", {10**400}, 1]'),
        _raw_cursor(f'["{kind}", 1.5, {2**70}]'),
        _raw_cursor(f'["{kind}", "1.5", 1]'),
        _raw_cursor(f'["{kind}", true, 1]'),
        _raw_cursor(f'["{kind}", 1.5, 1.5]'),
        _raw_cursor(f'["{kind}", 1.5, null]'),
        _raw_cursor(f'["{kind}", 1.5]'),
        _raw_cursor(f'["{kind}", 1.5, 1, 1]'),
        _raw_cursor(f'{{"{kind}": 1}}'),
    ]
    for cursor in bad:
        for path in ("/api/v1/search", "/search"):
            response = client.get(path, query_string={"q": "gout", "after": cursor})
            assert response.status_code == 400, (path, cursor, response.status_code)
        assert (
            client.get("/api/v1/search", query_string={"q": "gout", "after": cursor}).get_json()["error"][
                "code"
            ]
            == "invalid_cursor"
        )
    # A forged but well-formed cursor is only a position: far past the end, or before the start.
    for rank in (-1e300, 1e300, 0, -0.0, 5e-324):
        cursor = _raw_cursor(json.dumps([kind, rank, 2**62]))
        assert client.get("/api/v1/search", query_string={"q": "gout", "after": cursor}).status_code == 200
    # The reader's cursor is not the staff list's, nor the other way round.
    log_in(client, cast["editor"].email)
    assert client.get("/staff/search", query_string={"q": "gout", "after": good}).status_code == 400
    # Pages are no longer numbered: page=1 is the first page, any other is refused, saying so.
    assert client.get("/search?q=gout&page=1").status_code == 200
    for path in ("/search", "/api/v1/search", "/staff/search"):
        for page in ("2", "nope", "0"):
            refused = client.get(path, query_string={"q": "gout", "page": page})
            assert refused.status_code == 400, (path, page)
    # Without words, a bad cursor is still refused; a good one of the empty query gives nothing.
    assert client.get("/api/v1/search", query_string={"q": "", "after": "garbage"}).status_code == 400


def test_staff_search_covers_drafts_for_staff_only(api, client, cast, make_user):
    api.post(
        "/api/v1/posts",
        {"title": "Draft on lupus", "body": "Lupus flares.", "references": REFS},
        as_=cast["author"],
    )
    assert client.get("/api/v1/search?q=lupus").get_json()["items"] == []
    assert client.get("/api/v1/search?q=lupus&scope=staff").status_code == 401
    staff = client.get(
        "/api/v1/search?q=LUPUS&scope=staff",
        headers={"Authorization": f"Bearer {api.make_token(make_user('moderator'))}"},
    )
    assert staff.status_code == 200
    assert [(i["title"], i["status"]) for i in staff.get_json()["items"]] == [("Draft on lupus", "draft")]
    log_in(client, cast["editor"].email)
    page = parse(client.get("/staff/search?q=flares"))
    assert [a.get_text() for a in page.select(".search-hit h2 a")] == ["Draft on lupus"]
    assert client.get("/api/v1/search?q=x&scope=everything").status_code == 422


def test_staff_search_finds_terms_too_short_for_trigrams_and_matches_literally(api, client, cast):
    """Under three letters no trigram index can help (PostgreSQL then scans, as SQLite always does),
    yet a two-letter abbreviation, a single letter and punctuation-only needles still find exactly the
    posts whose newest text holds them, case-insensitively, ``%`` and ``_`` taken literally."""
    titles = {
        "iv": "Draft: IV fluids",
        "100%": "Draft: 100% sure",
        "snake": "Draft: snake_case",
        "plain": "Draft: oral rehydration",
        "slash": "Draft: and/or",
    }
    for title in titles.values():
        api.post(
            "/api/v1/posts", {"title": title, "body": "Body text.", "references": REFS}, as_=cast["author"]
        )
    log_in(client, cast["editor"].email)

    def found(q: str) -> list[str]:
        response = client.get("/staff/search", query_string={"q": q})
        assert response.status_code == 200, (q, response.status_code)
        return sorted(a.get_text() for a in parse(response).select(".search-hit h2 a"))

    assert found("iv") == [titles["iv"]] == found("IV")
    assert found("%") == [titles["100%"]] == found("0%")
    assert found("_") == [titles["snake"]] == found("e_c")
    assert found("/") == [titles["slash"]] == found("D/O")  # the LIKE escape character, literal too
    assert found("z") == []
    assert found(":") == sorted(titles.values())
    assert found("al re") == [titles["plain"]]
    assert found("%_/" * 300) == [] == found("rehydration " * 50)  # long needles: cut to 500, no error


def test_search_documents_hold_published_text_only(api, session, cast):
    post = _publish(api, cast, {"title": "Asthma", "body": "Inhalers help.", "references": REFS})
    change = {"body": "Inhalers help a lot.", "base_revision": 1, "kind": "minor"}
    api.post(f"/api/v1/posts/{post['id']}/revisions", change, as_=cast["author"])
    document = session.get(SearchDocument, post["id"])
    assert document is not None and document.body == "Inhalers help." and document.authors == "Dr Ada Okafor"


# --- closing comments -----------------------------------------------------------------------------------


def _comment(client, post_id: int, body: str = "Thanks, does this apply to children?") -> Any:
    return client.post(
        f"/api/v1/posts/{post_id}/comments",
        json={"author_name": "Reader", "author_email": "reader@example.org", "body": body},
    )


def test_an_editor_closes_comments_and_the_form_and_api_refuse(api, app, client, session, cast, make_user):
    post = _publish(api, cast, {"title": "Knee pain", "body": "Ice it.", "references": REFS})
    assert _comment(client, post["id"]).status_code in (201, 202)
    editor_client = app.test_client()
    log_in(editor_client, cast["editor"].email)
    token = form_csrf_token(editor_client, f"/staff/posts/{post['id']}/edit")
    closed = editor_client.post(
        f"/staff/posts/{post['id']}/comments/close", data={"csrf_token": token, "reason": "Off-topic flood."}
    )
    assert closed.status_code == 303
    again = editor_client.post(f"/staff/posts/{post['id']}/comments/close", data={"csrf_token": token})
    assert again.status_code == 409
    page = parse(client.get("/posts/knee-pain"))
    assert text_of(page, "#comments-closed") == "Comments are closed on this post."
    assert page.select_one("#comment-form-heading") is None
    refused = _comment(client, post["id"])
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "comments_closed"
    form = client.post(
        "/posts/knee-pain/comments", data={"author_name": "R", "author_email": "r@example.org", "body": "Hi"}
    )
    assert form.status_code == 409
    # An author cannot close or reopen.
    author_client = app.test_client()
    log_in(author_client, cast["author"].email)
    assert author_client.post(
        f"/staff/posts/{post['id']}/comments/reopen", data={"csrf_token": token}
    ).status_code in (400, 403)
    assert (
        editor_client.post(
            f"/staff/posts/{post['id']}/comments/reopen", data={"csrf_token": token}
        ).status_code
        == 303
    )
    assert parse(client.get("/posts/knee-pain")).select_one("#comment-form-heading") is not None
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("comments.%"))).all()
    assert sorted(actions) == ["comments.closed", "comments.reopened"]


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"COMMENTS_CLOSE_AFTER_DAYS": 30}


def test_comments_close_by_age_and_the_needs_reply_duty_ends(api, client, session, cast, make_user):
    from app.moderation.queries import waiting_for_reply

    moderator = make_user("moderator")
    now = datetime.now(UTC)
    clock.freeze(now - timedelta(days=29))
    try:
        post = _publish(api, cast, {"title": "Old news", "body": "Once.", "references": REFS})
        question = _comment(client, post["id"], "Can staff tell me when the clinic opens on Sunday?")
        comment_id = question.get_json()["id"]
        if question.status_code == 202:
            approved = api.post(
                f"/api/v1/comments/{comment_id}/moderate", {"action": "approve"}, as_=moderator
            )
            assert approved.status_code == 200
    finally:
        clock.freeze(None)
    assert parse(client.get("/posts/old-news")).select_one("#comment-form-heading") is not None
    assert comment_id in [c.id for c in waiting_for_reply(session, close_after_days=30)]
    clock.freeze(now + timedelta(days=2))
    try:
        page = parse(client.get("/posts/old-news"))  # the cached page is not served past the moment
        assert "close 30 days after publication" in text_of(page, "#comments-closed")
        assert page.select_one(f"#comment-body-{comment_id}") is not None  # published comments stay
        assert _comment(client, post["id"]).status_code == 409
        assert comment_id not in [c.id for c in waiting_for_reply(session, close_after_days=30)]
        assert comment_id in [
            c.id for c in waiting_for_reply(session, close_after_days=0)
        ]  # the setting off: still due
    finally:
        clock.freeze(None)


# --- races (PostgreSQL: two transactions at once) --------------------------------------------------------


def _race(app, *calls) -> list[str]:
    """Run each call in its own session and thread at the same moment; 'ok' or the error's code each."""
    import threading

    from app.errors import CandorError

    barrier = threading.Barrier(len(calls))
    results = [""] * len(calls)

    def run(i: int, call) -> None:
        s = app.extensions["candor.sessions"]()
        try:
            barrier.wait()
            call(s)
            s.commit()
            results[i] = "ok"
        except CandorError as exc:
            s.rollback()
            results[i] = exc.code
        finally:
            s.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@postgresql_only
def test_two_editors_closing_at_once_close_once(app, api, database_url, cast, make_user):
    second = make_user("editor", name="Second Editor")
    for _ in range(5):
        post = _publish(api, cast, {"title": "Race", "body": "Run.", "references": REFS})

        def close(editor_id: int, post_id: int = post["id"]):
            def call(s):
                from app.accounts.models import User
                from app.comments import closing

                closing.close(s, s.get(User, editor_id), s.get(Post, post_id), "race")

            return call

        results = _race(app, close(cast["editor"].id), close(second.id))
        assert sorted(results) == ["invalid_transition", "ok"], results


@postgresql_only
def test_two_editors_adding_the_same_topic_at_once_add_it_once(app, database_url, cast, make_user):
    second = make_user("editor", name="Second Editor")
    for n in range(5):

        def add(editor_id: int, n: int = n):
            def call(s):
                from app.accounts.models import User

                topics.create_topic(s, s.get(User, editor_id), f"Topic {n}")

            return call

        results = _race(app, add(cast["editor"].id), add(second.id))
        assert sorted(results) == ["conflict", "ok"], results


def test_cli_reindex_rebuilds_the_documents(api, runner, session, cast):
    post = _publish(api, cast, {"title": "Gallstones", "body": "Bile and stones.", "references": REFS})
    session.execute(SearchDocument.__table__.delete())
    session.commit()
    assert api.get("/api/v1/search?q=bile").get_json()["items"] == []
    assert runner.invoke(args=["search", "reindex"]).output.startswith("Indexed 1 ")
    assert api.get("/api/v1/search?q=bile").get_json()["items"][0]["id"] == post["id"]


def test_topic_names_match_beyond_ascii_and_hostile_names_are_refused(api, session, cast):
    topics.create_topic(session, cast["editor"], "Ärzte und Straße")
    session.commit()
    created = api.post(
        "/api/v1/posts",
        {"title": "T", "body": "b", "references": REFS, "topics": ["ärzte  und STRASSE"]},
        as_=cast["author"],
    )
    assert created.status_code == 201, created.get_json()
    for bad in (["x"] * 11, "Ärzte", [1], [None], ["a\x00b"], [{"name": "x"}]):
        response = api.post("/api/v1/posts", {"title": "T", "body": "b", "topics": bad}, as_=cast["author"])
        assert response.status_code == 422, bad
    for name in ("!!!", "", "   ", "x" * 81):
        with pytest.raises(Exception, match="name"):
            topics.create_topic(session, cast["editor"], name)
        session.rollback()


def _correct_page(api, cast, page: dict[str, Any], base: int, title: str, body: str, note: str) -> None:
    change = {"title": title, "body": body, "base_revision": base, "kind": "correction", "note": note}
    assert api.post(f"/api/v1/posts/{page['id']}/revisions", change, as_=cast["author"]).status_code == 201
    assert api.post(f"/api/v1/posts/{page['id']}/submit", {}, as_=cast["author"]).status_code == 200
    approved = api.post(f"/api/v1/posts/{page['id']}/approve", {"revision": base + 1}, as_=cast["editor"])
    assert approved.status_code == 200, approved.get_json()


def _links(response: Any, base: str) -> list[str]:
    """Every address on our site a page links to or submits a GET form to, as a path and query."""
    soup = parse(response)
    found = [a["href"] for a in soup.select("a[href]")]
    for form in soup.select("form"):
        if (form.get("method") or "get").lower() != "get":
            continue
        fields = [(f["name"], f.get("value", "")) for f in form.select("input[name]")]
        for select_ in form.select("select[name]"):
            option = select_.select_one("option[selected]") or select_.select_one("option")
            fields.append((select_["name"], option.get("value", option.get_text()) if option else ""))
        found.append(form.get("action", "") + ("?" + urlencode(fields) if fields else ""))
    paths = []
    for href in found:
        if href.startswith(base):
            href = href[len(base) :] or "/"
        if href.startswith("/") and not href.startswith("//"):
            paths.append(href.split("#", 1)[0])
    return paths


def _jsonld(response: Any) -> list[dict[str, Any]]:
    return [json.loads(s.string or "") for s in parse(response).select('script[type="application/ld+json"]')]


def test_a_page_is_a_webpage_and_its_history_links_resolve_under_pages(api, client, cast, app):
    base = app.config["PUBLIC_URL"].rstrip("/")
    page = _publish(api, cast, {"type": "page", "title": "About", "body": "Who we are."})
    _correct_page(api, cast, page, 1, "About", "Who we are, and where.", "Added where.")
    _correct_page(api, cast, page, 2, "About", "Who we are, and where, and why.", "Added why.")
    for slug, title in POLICY_PAGES.items():  # the footer links every policy page: all are published
        if slug != "about":
            _publish(api, cast, {"type": "page", "title": title, "body": f"{title}, in short."})

    shown = client.get("/pages/about")
    (data,) = [d for d in _jsonld(shown) if d.get("@type") != "Organization"]
    assert data["@type"] == "WebPage" and data["url"] == f"{base}/pages/about"
    assert [c["@type"] for c in data["correction"]] == ["CorrectionComment", "CorrectionComment"]
    assert all(c["url"].startswith(f"{base}/pages/about/changes") for c in data["correction"])

    # Every link of the page's own views (history, changes, each revision) and of the corrections log
    # answers 200 as it is (no redirect), and every link to this page's views stays under /pages/.
    to_visit = ["/pages/about", "/pages/about/history", "/pages/about/changes", "/corrections"]
    seen: set[str] = set()
    checked: set[str] = set()
    while to_visit:
        start = to_visit.pop()
        if start in seen:
            continue
        seen.add(start)
        links = _links(client.get(start), base)
        own = [link for link in links if "/about" in link.split("?")[0]]
        assert own and all(link.startswith("/pages/about") for link in own), (start, own)
        for link in set(links) - checked:
            checked.add(link)
            answer = client.get(link)
            assert answer.status_code == 200, (
                start,
                link,
                answer.status_code,
                answer.headers.get("Location"),
            )
            if link.startswith("/pages/about/"):
                to_visit.append(link)
    # Its versions are numbered for readers, as a post's are, under /pages/.
    assert {
        "/pages/about/versions/1",
        "/pages/about/versions/3",
        "/pages/about/changes?from=1&to=2",
    } <= checked
    assert client.get("/pages/about/versions/4").status_code == 404
    assert client.get("/posts/about/versions/2").headers["Location"].endswith("/pages/about/versions/2")
    assert client.get("/pages/about/revisions/1").status_code == 200  # old links keep working
    # The corrections feeds send readers to the page's changes view too.
    atom = feedparser.parse(client.get("/corrections.atom").get_data())
    assert atom.bozo == 0
    assert {e.link for e in atom.entries} == {
        f"{base}/pages/about/changes?from=1&to=2",
        f"{base}/pages/about/changes?from=2&to=3",
    }
    items = client.get("/corrections.json").get_json()["items"]
    assert all(item["url"].startswith(f"{base}/pages/about/changes") for item in items)


def test_the_search_api_refuses_a_query_longer_than_its_document_allows(client):
    too_long = client.get("/api/v1/search", query_string={"q": "a" * 10_001})
    assert too_long.status_code == 422 and too_long.get_json()["error"]["field"] == "q"
    assert client.get("/api/v1/search", query_string={"q": "a" * 10_000}).status_code == 200
    assert client.get("/search", query_string={"q": "a" * 20_000}).status_code == 200  # the form reads a part


def test_later_pages_of_results_number_on_from_the_earlier_ones(api, client, cast, make_user):
    """Every page's list began again at 1: on the third page of results a reader saw 1 to 10 and could
    not tell it from the first. The next link carries how many came before, and the list numbers on."""
    for n in range(23):
        _publish(api, cast, {"title": f"Asthma note {n}", "body": "Asthma inhalers.", "references": REFS})
    starts, summaries, titles = [], [], []
    url = "/search?q=asthma"
    while url:
        page = parse(client.get(url))
        listed = page.select_one("ol.search-results")
        starts.append(int(listed.get("start", "1")))
        summaries.append(text_of(page, "#search-summary"))
        titles += [a.get_text() for a in listed.select(".search-hit h2 a")]
        more = page.select_one('.pager a[rel="next"]')
        url = more["href"] if more else None
    assert starts == [1, 11, 21] and len(titles) == 23 == len(set(titles))
    assert summaries[1].startswith("Results 11 to 20 for") and summaries[2].startswith("Results 21 to 23 for")
    staff = client.application.test_client()
    log_in(staff, cast["author"].email)
    starts, url = [], "/staff/search?q=asthma"
    while url:
        page = parse(staff.get(url))
        starts.append(int(page.select_one("ol.search-results").get("start", "1")))
        more = page.select_one('.pager a[rel="next"]')
        url = more["href"] if more else None
    assert starts == [1, 21]
