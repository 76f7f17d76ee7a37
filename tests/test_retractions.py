"""A retraction is shown completely: listed in /corrections and /corrections.atom, labelled on /, and
carried by the retracted post's /feed.atom entry; and each of those pages changes the moment it happens."""

from __future__ import annotations

from calendar import timegm
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from bs4 import BeautifulSoup

from app.clock import freeze
from app.corrections import services as corrections
from app.posts.models import Retraction
from tests.support.editorial import publish_change, retract
from tests.support.web import parse, text_of

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REASON = "The study it relied on was withdrawn by its authors."


@pytest.fixture
def clock() -> Iterator[Callable[[datetime], None]]:
    yield freeze
    freeze(None)


@pytest.fixture
def blog(session, make_post, make_user, gate_settings, clock) -> dict[str, Any]:
    """Interleaved by date: a correction (day 1), a retraction (day 2), another correction (day 3)."""
    editor = make_user("editor", name="Erin Editor")
    clock(T0)
    first = make_post("published", title="Dosing aspirin", body="Take 50 mg daily.")
    withdrawn = make_post("published", title="A withdrawn study", body="A claim.")
    last = make_post("published", title="Sleep hygiene", body="Sleep 5 hours.")
    plain = make_post("published", title="Never corrected", body="Nothing to see.")
    clock(T0 + timedelta(days=1))
    publish_change(session, first, editor, gate_settings, body="Take 5 mg daily.", note="The dose was wrong.")
    clock(T0 + timedelta(days=2))
    retraction = retract(session, withdrawn, editor, REASON)
    clock(T0 + timedelta(days=3))
    publish_change(session, last, editor, gate_settings, body="Sleep 7 hours.", note="Seven, not five.")
    clock(T0 + timedelta(days=4))
    return {"first": first, "withdrawn": withdrawn, "last": last, "plain": plain, "retraction": retraction}


def _feed(client: Any, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def _when(struct: Any) -> datetime:
    return datetime.fromtimestamp(timegm(struct), UTC)


def test_the_corrections_log_interleaves_retractions_by_date(client, blog):
    items = parse(client.get("/corrections")).select("ol.corrections-log > li")
    assert [li.find("strong").get_text() for li in items] == ["Correction", "Retraction", "Correction"]
    retraction = items[1]
    assert "log-retraction" in retraction["class"]
    assert text_of(retraction, ".reason") == REASON
    assert retraction.find("a")["href"] == f"/posts/{blog['withdrawn'].slug}"
    assert retraction.find("a").get_text() == "A withdrawn study"
    assert retraction.find("time")["datetime"] == (T0 + timedelta(days=2)).isoformat(timespec="seconds")
    assert [a["href"] for a in items[2].find_all("a")][
        -1
    ] == f"/posts/{blog['first'].slug}/changes?from=1&to=2"


def test_the_corrections_log_pages_through_both_kinds(session, blog):
    pages, after = [], None
    for _ in range(3):
        entries, after = corrections.corrections_log(session, after=after, per_page=1)
        pages.append((entries, after))
    assert [[e.kind for e in entries] for entries, _ in pages] == [
        ["correction"],
        ["retraction"],
        ["correction"],
    ]
    assert [bool(nxt) for _, nxt in pages] == [True, True, False]
    retraction = pages[1][0][0]
    assert retraction.retraction.reason == REASON and retraction.post.id == blog["withdrawn"].id
    assert retraction.revision.title == "A withdrawn study" and retraction.previous_number is None
    assert pages[2][0][0].previous_number == 1 and pages[2][0][0].revision.number == 2


def test_the_corrections_feed_has_an_entry_per_retraction(client, blog):
    feed = _feed(client, "/corrections.atom")
    assert [e.title for e in feed.entries] == [
        "Correction: Sleep hygiene",
        "Retraction: A withdrawn study",
        "Correction: Dosing aspirin",
    ]
    entry = feed.entries[1]
    assert REASON in entry.summary and "2 March 2026" not in entry.summary and "4 March 2026" in entry.summary
    assert entry.link.endswith(f"/posts/{blog['withdrawn'].slug}")
    assert _when(entry.updated_parsed) == T0 + timedelta(days=2)
    assert len({e.id for e in feed.entries}) == 3
    assert _when(feed.feed.updated_parsed) == T0 + timedelta(days=3)


def test_the_home_page_labels_retracted_posts(client, blog):
    articles = {
        a.find("h2").get_text(strip=True): a for a in parse(client.get("/")).select(".post-list article")
    }
    label = articles["A withdrawn study"].select_one(".retraction-label")
    assert label is not None and label.find("strong").get_text() == "Retracted"
    assert REASON in label.get_text() and "retracted" in articles["A withdrawn study"]["class"]
    assert all(
        a.select_one(".retraction-label") is None
        for title, a in articles.items()
        if title != "A withdrawn study"
    )


def test_the_posts_feed_entry_of_a_retracted_post_carries_the_notice(client, blog):
    entries = {e.link.rsplit("/", 1)[-1]: e for e in _feed(client, "/feed.atom").entries}
    entry = entries[blog["withdrawn"].slug]
    assert entry.title == "Retracted: A withdrawn study"
    assert REASON in entry.summary and "4 March 2026" in entry.summary
    content = BeautifulSoup(entry.content[0].value, "html5lib")
    assert content.find("strong").get_text() == "Retracted" and REASON in content.get_text()
    assert content.find("time")["datetime"] == (T0 + timedelta(days=2)).isoformat(timespec="seconds")
    assert content.find("del").get_text(strip=True) == "A claim."
    assert _when(entry.updated_parsed) == T0 + timedelta(days=2)
    others = [e for slug, e in entries.items() if slug != blog["withdrawn"].slug]
    assert not any(e.title.startswith("Retracted") for e in others)


def test_feed_entries_are_updated_by_publications_not_by_comments(client, api, blog, make_user, clock):
    def updated() -> dict[str, datetime]:
        return {
            e.link.rsplit("/", 1)[-1]: _when(e.updated_parsed) for e in _feed(client, "/feed.atom").entries
        }

    before = updated()
    assert before[blog["first"].slug] == T0 + timedelta(days=1)
    assert before[blog["plain"].slug] == T0
    clock(T0 + timedelta(days=5))
    moderator = make_user("moderator")
    held = api.post(
        f"/api/v1/posts/{blog['plain'].id}/comments",
        {"author_name": "Ann Reader", "author_email": "ann@example.org", "body": "Thank you."},
    )
    assert held.status_code in (201, 202)
    if held.status_code == 202:
        decided = api.post(
            f"/api/v1/comments/{held.get_json()['id']}/moderate", {"action": "approve"}, as_=moderator
        )
        assert decided.status_code == 200
    assert parse(client.get(f"/posts/{blog['plain'].slug}")).select_one(
        f"#comment-body-{held.get_json()['id']}"
    )
    assert updated() == before


def test_every_page_that_shows_a_retraction_changes_when_one_is_recorded(client, session, blog, make_user):
    """Warm every cache, record a retraction without touching the post: each page must show it at once."""
    post = blog["plain"]
    for path in ("/", "/corrections", "/corrections.atom", "/feed.atom"):
        assert client.get(path).status_code == 200
    editor = make_user("editor")
    session.add(
        Retraction(
            post_id=post.id,
            reason="Retracted behind the cache's back.",
            editor_id=editor.id,
            at=T0 + timedelta(days=4),
        )
    )
    session.commit()
    home = parse(client.get("/"))
    labelled = [
        a.find("h2").get_text(strip=True)
        for a in home.select(".post-list article")
        if a.select_one(".retraction-label")
    ]
    assert sorted(labelled) == ["A withdrawn study", "Never corrected"]
    assert [
        li.find("strong").get_text()
        for li in parse(client.get("/corrections")).select("ol.corrections-log > li")
    ][0] == "Retraction"
    assert _feed(client, "/corrections.atom").entries[0].title == "Retraction: Never corrected"
    titles = [e.title for e in _feed(client, "/feed.atom").entries]
    assert "Retracted: Never corrected" in titles
