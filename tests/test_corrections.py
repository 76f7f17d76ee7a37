"""Transparent corrections: notices, the changes view, history, the log, feeds, error reports, retraction."""

from __future__ import annotations

import json

import feedparser
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from app.corrections.models import RevisionDiff
from tests.support.diff_reading import read_side
from tests.support.web import form_csrf_token, log_in, parse, text_of


@pytest.fixture
def corrected(api, make_post, make_user):
    """A post published, then corrected once and clarified once, through review."""
    editor = make_user("editor", name="Erin Editor")
    post = make_post(
        "published",
        title="Dosing aspirin",
        body="Take **50 mg** daily.\n\n- with food\n- [guide](https://example.org/old)",
    )
    steps = [
        (
            "Take **5 mg** daily.\n\n- with food\n- [guide](https://example.org/old)",
            "correction",
            "The dose was wrong.",
        ),
        (
            "Take **5 mg** daily.\n\n- with water\n- [guide](https://example.org/new)",
            "clarification",
            "Water, not food.",
        ),
    ]
    for number, (body, kind, note) in enumerate(steps, start=1):
        api.post(
            f"/api/v1/posts/{post.id}/revisions",
            {"body": body, "base_revision": number, "kind": kind, "note": note},
            as_=post.author,
        )
        api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author)
        assert (
            api.post(f"/api/v1/posts/{post.id}/approve", {"revision": number + 1}, as_=editor).status_code
            == 200
        )
    return post


def _norm(node) -> str:
    return BeautifulSoup(node.decode_contents(), "html5lib").body.decode_contents().replace("\n", "")


def test_post_page_lists_each_correction_with_date_kind_note_and_link(client, corrected):
    page = parse(client.get(f"/posts/{corrected.slug}"))
    notices = page.select(".corrections-notices .notice")
    assert [n.find("strong").get_text() for n in notices] == ["Clarification", "Correction"]
    assert "The dose was wrong." in notices[1].get_text() and notices[1].find("time")["datetime"]
    assert notices[1].find("a")["href"] == f"/posts/{corrected.slug}/changes?from=1&to=2"


def test_post_page_carries_schema_org_correction_comments(client, corrected):
    page = parse(client.get(f"/posts/{corrected.slug}"))
    data = json.loads(page.find("script", type="application/ld+json").string)
    assert [c["@type"] for c in data["correction"]] == ["CorrectionComment", "CorrectionComment"]
    assert "The dose was wrong." in data["correction"][1]["text"]


@pytest.mark.parametrize(
    "query,old,new", [("", 1, 3), ("?from=1&to=2", 1, 2), ("?from=2&to=3", 2, 3), ("?from=3&to=1", 3, 1)]
)
def test_changes_view_reads_as_each_revision_when_the_other_side_is_removed(
    client, corrected, query, old, new
):
    diff = parse(client.get(f"/posts/{corrected.slug}/changes{query}")).select_one("#post-diff")
    before = parse(client.get(f"/posts/{corrected.slug}/revisions/{old}")).select_one("#post-body")
    after = parse(client.get(f"/posts/{corrected.slug}/revisions/{new}")).select_one("#post-body")
    # Read as tests/support/diff_reading.py says: one side's marks (and elements of its class) gone,
    # the other's unwrapped; _norm drops the newlines between blocks, items and rows.
    assert _norm(read_side(diff, "old")) == _norm(before)
    assert _norm(read_side(diff, "new")) == _norm(after)
    assert diff.find("del") is not None and diff.find("ins") is not None


def test_changes_are_marked_inside_the_structure_they_belong_to(client, corrected):
    diff = parse(client.get(f"/posts/{corrected.slug}/changes")).select_one("#post-diff")
    strong = diff.find("strong")
    assert strong.find("del").get_text().strip() == "50" and strong.find("ins").get_text().strip() == "5"
    items = diff.find_all("li")
    assert (
        items[0].find("del").get_text().strip() == "food"
        and items[0].find("ins").get_text().strip() == "water"
    )
    assert items[1].find("del").find("a")["href"] == "https://example.org/old"
    assert items[1].find("ins").find("a")["href"] == "https://example.org/new"


def test_a_list_item_and_a_table_row_are_marked_where_html_allows(client, api, make_post, make_user):
    """A removed item keeps its <li> (only <li> may stand in a list) and a new row its <tr>, marked by
    class, their content in <del>/<ins>; the page still reads exactly as either revision."""
    post = make_post("published", title="Doses", body="- one\n- two\n- three\n\n| a |\n|---|\n| 1 |")
    revision = {
        "body": "- one\n- three\n\n| a |\n|---|\n| 1 |\n| 2 |",
        "base_revision": 1,
        "kind": "correction",
        "note": "Fixed.",
    }
    api.post(f"/api/v1/posts/{post.id}/revisions", revision, as_=post.author)
    api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author)
    approved = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=make_user("editor"))
    assert approved.status_code == 200
    diff = parse(client.get(f"/posts/{post.slug}/changes")).select_one("#post-diff")
    assert [(li.get("class"), li.get_text()) for li in diff.select("ul > li")] == [
        (None, "one"),
        (["diff-del"], "two"),
        (None, "three"),
    ]
    assert [(tr.get("class"), tr.get_text(strip=True)) for tr in diff.select("tbody > tr")] == [
        (None, "1"),
        (["diff-ins"], "2"),
    ]
    assert [el.get_text() for el in diff.select("li.diff-del > del, tr.diff-ins > td > ins")] == ["two", "2"]
    for side, number in (("old", 1), ("new", 2)):
        body = parse(client.get(f"/posts/{post.slug}/revisions/{number}")).select_one("#post-body")
        assert _norm(read_side(diff, side)) == _norm(body)


def test_diffs_are_computed_at_publication_and_kept(session, corrected):
    assert session.scalar(select(func.count(RevisionDiff.id))) >= 2


@pytest.mark.parametrize(
    "query,status", [("?from=9", 404), ("?from=abc", 422), ("?to=-1", 422), ("?from=0", 422)]
)
def test_bad_revision_numbers_in_the_changes_view_are_explained(client, corrected, query, status):
    assert client.get(f"/posts/{corrected.slug}/changes{query}").status_code == status


def test_an_unpublished_revision_cannot_be_compared_publicly(client, api, corrected):
    api.post(
        f"/api/v1/posts/{corrected.id}/revisions",
        {"body": "Secret draft", "base_revision": 3, "kind": "update", "note": "Pending."},
        as_=corrected.author,
    )
    assert client.get(f"/posts/{corrected.slug}/changes?from=1&to=4").status_code == 404


def test_history_lists_every_published_revision_with_author_and_approver(client, corrected):
    rows = parse(client.get(f"/posts/{corrected.slug}/history")).select("table.history tbody tr")
    cells = [[td.get_text(" ", strip=True) for td in row.find_all("td")] for row in rows]
    assert [c[0] for c in cells] == ["1", "2", "3"]
    assert [c[2] for c in cells] == ["Original", "Correction", "Clarification"]
    assert all(c[5].startswith("Erin Editor") or c[5] == "Edith Editor" for c in cells)


def test_corrections_log_lists_corrections_newest_first(client, corrected, make_post):
    make_post("published", title="Never corrected")
    items = parse(client.get("/corrections")).select(".corrections-log li")
    assert [li.find("strong").get_text() for li in items] == ["Clarification", "Correction"]
    assert items[1].find_all("a")[-1]["href"] == f"/posts/{corrected.slug}/changes?from=1&to=2"


@pytest.mark.parametrize("path", ["/feed.atom", "/corrections.atom"])
def test_atom_feeds_parse_cleanly(client, corrected, path):
    r = client.get(path)
    assert r.mimetype == "application/atom+xml"
    feed = feedparser.parse(r.get_data())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.entries


def test_corrections_feed_has_one_entry_per_correction(client, corrected):
    feed = feedparser.parse(client.get("/corrections.atom").get_data())
    assert [e.title.split(":")[0] for e in feed.entries] == ["Clarification", "Correction"]
    assert "The dose was wrong." in feed.entries[1].summary


def test_a_reader_reports_an_error_and_an_author_accepts_it_with_the_correction(client, api, make_post):
    post = make_post("published", body="Take 50 mg.")
    r = client.post(
        f"/posts/{post.slug}/report",
        data={
            "what": "The dose should be 5 mg.",
            "source": "https://example.org/label",
            "email": "reader@example.com",
        },
    )
    assert r.status_code == 201 and "Thank you" in text_of(parse(r), "h1")
    staff = client.application.test_client()
    log_in(staff, post.author.email)
    queue = parse(staff.get("/staff/error-reports"))
    assert "The dose should be 5 mg." in text_of(queue, ".report blockquote")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {
            "body": "Take 5 mg.",
            "base_revision": 1,
            "kind": "correction",
            "note": "Dose fixed after a reader's report.",
        },
        as_=post.author,
    )
    token = form_csrf_token(staff, "/staff/error-reports")
    report_id = int(queue.select_one(".report h2")["id"].split("-")[1])
    r = staff.post(
        f"/staff/error-reports/{report_id}/accept",
        data={"correction_revision": "2", "csrf_token": token, "confirm": "yes"},
    )
    assert r.status_code == 303
    accepted = parse(staff.get("/staff/error-reports?state=accepted"))
    assert "corrected in revision 2" in text_of(accepted, ".report")
    assert parse(staff.get("/staff/error-reports")).select_one(".report") is None


def test_promptness_is_the_median_from_report_to_published_correction(client, api, make_post, make_user):
    editor = make_user("editor")
    post = make_post("published", body="Take 50 mg.")
    client.post(f"/posts/{post.slug}/report", data={"what": "Wrong dose."})
    staff = client.application.test_client()
    log_in(staff, editor.email)
    queue = parse(staff.get("/staff/error-reports"))
    report_id = int(queue.select_one(".report h2")["id"].split("-")[1])
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Take 5 mg.", "base_revision": 1, "kind": "correction", "note": "Dose."},
        as_=post.author,
    )
    staff.post(
        f"/staff/error-reports/{report_id}/accept",
        data={
            "correction_revision": "2",
            "csrf_token": form_csrf_token(staff, "/staff/error-reports"),
            "confirm": "yes",
        },
    )
    assert parse(client.get("/corrections")).select_one(".promptness") is None
    api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author)
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=editor)
    assert "minute" in text_of(parse(client.get("/corrections")), ".promptness")


def test_a_report_can_be_declined_with_a_reason(client, make_post, make_user):
    editor = make_user("editor")
    post = make_post("published")
    client.post(f"/posts/{post.slug}/report", data={"what": "I disagree."})
    staff = client.application.test_client()
    log_in(staff, editor.email)
    report_id = int(parse(staff.get("/staff/error-reports")).select_one(".report h2")["id"].split("-")[1])
    token = form_csrf_token(staff, "/staff/error-reports")
    assert (
        staff.post(
            f"/staff/error-reports/{report_id}/decline", data={"reason": "", "csrf_token": token}
        ).status_code
        == 422
    )
    staff.post(
        f"/staff/error-reports/{report_id}/decline",
        data={"reason": "The post is accurate.", "csrf_token": token, "confirm": "yes"},
    )
    declined = parse(staff.get("/staff/error-reports?state=declined"))
    assert "The post is accurate." in text_of(declined, ".report")


@pytest.mark.parametrize(
    "data",
    [
        {"what": ""},
        {"what": "x", "source": "not a url"},
        {"what": "x", "email": "nope"},
        {"what": "x" * 5000},
    ],
)
def test_bad_error_reports_are_explained_and_the_text_kept(client, make_post, data):
    post = make_post("published")
    r = client.post(f"/posts/{post.slug}/report", data=data)
    assert r.status_code == 422
    page = parse(r)
    assert page.select_one(".error") is not None
    if data["what"]:
        assert page.find("textarea", id="report-what").get_text() == data["what"][:5000]


def test_the_honeypot_report_is_thanked_but_not_stored(client, make_post, make_user):
    post = make_post("published")
    assert (
        client.post(f"/posts/{post.slug}/report", data={"what": "spam", "website": "http://x"}).status_code
        == 200
    )
    staff = client.application.test_client()
    log_in(staff, make_user("editor").email)
    assert parse(staff.get("/staff/error-reports")).select_one(".report") is None


def test_a_retracted_post_stays_with_a_notice_and_its_text_struck_through(client, api, make_post, make_user):
    post = make_post("published", body="A claim.")
    api.post(
        f"/api/v1/posts/{post.id}/retract", {"reason": "The study was withdrawn."}, as_=make_user("editor")
    )
    page = parse(client.get(f"/posts/{post.slug}"))
    assert "The study was withdrawn." in text_of(page, ".retraction-notice")
    assert "retracted" in page.select_one("article")["class"]
    assert text_of(page, "#post-body") == "A claim."
    assert len(parse(client.get(f"/posts/{post.slug}/history")).select("table.history tbody tr")) == 1


def test_staff_can_diff_any_two_revisions_including_drafts(client, api, make_post):
    post = make_post("draft", body="First draft words.")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "Second draft words.", "base_revision": 1},
        as_=post.author,
    )
    staff = client.application.test_client()
    log_in(staff, post.author.email)
    diff = parse(staff.get(f"/staff/posts/{post.id}/diff?from=1&to=2")).select_one("#post-diff")
    assert diff.find("del").get_text().strip() == "First" and diff.find("ins").get_text().strip() == "Second"
    assert client.get(f"/staff/posts/{post.id}/diff?from=1&to=2").status_code == 401


def test_the_reporter_is_told_the_decision_by_email(client, make_post, make_user, session):
    from app.mail.models import OutboxMessage

    editor = make_user("editor")
    post = make_post("published")
    client.post(f"/posts/{post.slug}/report", data={"what": "I disagree.", "email": "reader@example.com"})
    staff = client.application.test_client()
    log_in(staff, editor.email)
    report_id = int(parse(staff.get("/staff/error-reports")).select_one(".report h2")["id"].split("-")[1])
    staff.post(
        f"/staff/error-reports/{report_id}/decline",
        data={
            "reason": "The post is accurate.",
            "csrf_token": form_csrf_token(staff, "/staff/error-reports"),
            "confirm": "yes",
        },
    )
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.to_addr == "reader@example.com")
    ).all()
    assert len(messages) == 1 and "The post is accurate." in messages[0].body


def test_a_change_of_references_shows_in_the_changes_view(api, client, make_post, make_user):
    editor = make_user("editor")
    post = make_post("published", references=["https://example.org/a", "https://example.org/b"])
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {
            "body": post.current_revision.body,
            "base_revision": 1,
            "references": ["https://example.org/a", "https://example.org/c"],
            "kind": "correction",
            "note": "Cited the right trial.",
        },
        as_=post.author,
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author)
    assert api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=editor).status_code == 200
    section = parse(client.get(f"/posts/{post.slug}/changes")).select_one("#references-diff")
    assert [a.get_text() for a in section.select("li > del > a")] == ["https://example.org/b"]
    assert [a.get_text() for a in section.select("li > ins > a")] == ["https://example.org/c"]
    assert [li.get_text() for li in section.select("li.reference-kept")] == ["https://example.org/a"]
    unchanged = parse(client.get(f"/posts/{post.slug}/changes?from=2&to=2")).select_one("#references-diff")
    assert unchanged.select("del, ins") == []


def test_a_diff_stored_by_an_older_engine_is_not_served(client, session, make_post, make_user, api):
    """Diffs are cached by the engine that wrote them: markup an older engine stored is never shown again."""
    from app.posts.models import Revision

    editor = make_user("editor")
    post = make_post("published", body="- one\n- two")
    api.post(
        f"/api/v1/posts/{post.id}/revisions",
        {"body": "- one", "base_revision": 1, "kind": "correction", "note": "Two was wrong."},
        as_=post.author,
    )
    api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author)
    api.post(f"/api/v1/posts/{post.id}/approve", {"revision": 2}, as_=editor)
    first, second = session.scalars(
        select(Revision).where(Revision.post_id == post.id).order_by(Revision.number)
    )
    session.add(
        RevisionDiff(
            from_revision_id=first.id,
            to_revision_id=second.id,
            engine=1,
            html="<ul><del><li>two</li></del></ul>",
        )
    )
    session.commit()
    diff = parse(client.get(f"/posts/{post.slug}/changes")).select_one("#post-diff")
    assert diff.select("ul > del") == [] and [d.get_text() for d in diff.select("li > del")] == ["two"]


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(10, "1 minute"), (200, "3 minutes"), (3600, "1 hour"), (7200, "2 hours"), (86400 * 2, "2 days")],
)
def test_promptness_is_said_in_plain_english(seconds, said):
    from datetime import timedelta

    from app.corrections.services import describe_duration

    assert describe_duration(timedelta(seconds=seconds)) == said


def test_a_long_history_numbers_every_version_and_the_chooser_stays_bounded(
    client, api, make_post, make_user
):
    """60 publications (with unpublished drafts between some, so internal numbers and readers' versions
    differ): each page numbers its rows from the whole history, yet none loads the whole list."""
    editor = make_user("editor", name="Erin Editor")
    post = make_post("published", title="Iron doses", body="Take 1 mg.")
    number, published, drafts = 1, [1], []

    def revise(body: str) -> int:
        response = api.post(
            f"/api/v1/posts/{post.id}/revisions",
            {"body": body, "base_revision": number, "kind": "correction", "note": f"Now: {body}"},
            as_=post.author,
        )
        assert response.status_code in (200, 201), response.get_json()
        return number + 1

    for k in range(2, 61):
        if k % 7 == 0:  # a draft never published, then the revision that is
            number = revise(f"Draft {k}.")
            drafts.append(number)
        number = revise(f"Take {k} mg.")
        assert api.post(f"/api/v1/posts/{post.id}/submit", as_=post.author).status_code == 200
        approved = api.post(f"/api/v1/posts/{post.id}/approve", {"revision": number}, as_=editor)
        assert approved.status_code == 200, approved.get_json()
        published.append(number)
    version = {n: k for k, n in enumerate(published, start=1)}
    slug = post.slug

    # History: page 1 is versions 1..50, page 2 continues at 51 (not from 1), its first row comparing
    # with version 50.
    first = parse(client.get(f"/posts/{slug}/history"))
    rows = first.select("table.history tbody tr")
    assert [r.select_one('td[data-label="Version"]').get_text() for r in rows] == [
        str(k) for k in range(1, 51)
    ]
    second = parse(client.get(first.select_one('.pager a[rel="next"]')["href"]))
    rows = second.select("table.history tbody tr")
    assert [r.select_one('td[data-label="Version"]').get_text() for r in rows] == [
        str(k) for k in range(51, 61)
    ]
    compare = rows[0].select_one('td[data-label="Compare"] a')
    assert compare.get_text() == "Compare with version 50"
    assert compare["href"] == f"/posts/{slug}/changes?from={published[49]}&to={published[50]}"

    # A version page looks its number up: the 60th, by version or by internal number.
    assert text_of(parse(client.get(f"/posts/{slug}/versions/60")), "#post-body") == "Take 60 mg."
    canonical = parse(client.get(f"/posts/{slug}/revisions/{published[30]}")).select_one(
        'link[rel="canonical"]'
    )
    assert canonical["href"].endswith(f"/posts/{slug}/versions/31")
    for missing in ("versions/61", "versions/0", f"versions/{10**30}", f"revisions/{drafts[0]}"):
        assert client.get(f"/posts/{slug}/{missing}").status_code == 404, missing

    # The chooser: a bounded window (the first, the latest, five either side of each compared version),
    # the compared ones selected, and the history named for the rest.
    for old, new in (
        (published[0], published[-1]),
        (published[30], published[40]),
        (published[59], published[2]),
    ):
        page = parse(client.get(f"/posts/{slug}/changes?from={old}&to={new}"))
        options = page.select("#compare-from option")
        assert len(options) <= 24 and len(options) == len(page.select("#compare-to option"))
        values = [int(o["value"]) for o in options]
        assert values == sorted(values) and {published[0], published[-1], old, new} <= set(values)
        assert all(o.get_text().startswith(f"Version {version[int(o['value'])]},") for o in options)
        assert int(page.select_one("#compare-from option[selected]")["value"]) == old
        assert int(page.select_one("#compare-to option[selected]")["value"]) == new
        assert f"version {version[old]} " in text_of(page, "#changes-summary").lower()
        assert page.select_one("#compare-more a")["href"] == f"/posts/{slug}/history"
    for bad in (f"from={drafts[0]}", "from=1000000", f"to={10**30}"):
        assert client.get(f"/posts/{slug}/changes?{bad}").status_code in (404, 422), bad


def test_a_short_history_offers_every_version_and_no_note(client, corrected):
    page = parse(client.get(f"/posts/{corrected.slug}/changes"))
    assert [o.get_text().split(",")[0] for o in page.select("#compare-from option")] == [
        "Version 1",
        "Version 2",
        "Version 3",
    ]
    assert page.select_one("#compare-more") is None


def test_a_long_list_of_notices_says_it_is_the_latest_only_and_links_the_history(
    client, session, make_post, make_user, gate_settings
):
    """Notices are bounded (the latest NOTICES_SHOWN publications). A post corrected more often listed
    20 corrections with no word of the rest: the reader took them for all. Now, and only then, the
    list says so and links the history; a post whose every change fits says nothing of the kind."""
    from app.corrections.services import NOTICES_SHOWN
    from tests.support.editorial import publish_change

    editor = make_user("editor", name="Erin Editor")
    fits = make_post("published", title="Corrected often enough", body="Version 0.")
    over = make_post("published", title="Corrected too often", body="Version 0.")
    for n in range(1, NOTICES_SHOWN + 2):
        publish_change(session, over, editor, gate_settings, body=f"Version {n}.", note=f"Change {n}.")
        if n <= NOTICES_SHOWN:
            publish_change(session, fits, editor, gate_settings, body=f"Version {n}.", note=f"Change {n}.")
    for post, cut in ((fits, False), (over, True)):
        for path in (f"/posts/{post.slug}", f"/posts/{post.slug}/changes"):
            page = parse(client.get(path))
            assert len(page.select(".corrections-notices li.notice")) == NOTICES_SHOWN, path
            earlier = page.select_one(".corrections-notices #notices-earlier")
            assert (earlier is not None) == cut, path
            if cut:
                assert earlier.select_one("a")["href"] == f"/posts/{post.slug}/history"
                history = parse(client.get(earlier.select_one("a")["href"]))
                assert "Change 1." in text_of(history, "#history-table")
