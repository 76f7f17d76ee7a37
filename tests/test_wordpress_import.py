"""Importing a WordPress export (issue 13): every kind of record, all or nothing, idempotent, old links.

Each test runs on SQLite and PostgreSQL (the ``app`` fixture). The exports are the project's own
(tests/data/wxr) or written here with app.wordpress.write.
"""

from __future__ import annotations

import io
import json
import threading
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select, text

from app.accounts.models import Role, User
from app.comments.models import Comment
from app.importer import import_wordpress
from app.importer.models import LegacyPath, PageParent, TopicParent, WordPressItem
from app.importer.people import IMPORTER_EMAIL
from app.media.models import Media, MediaBlob, MediaVariant
from app.models import Base
from app.posts.models import Approval, Post, Publication, Topic
from app.wordpress import records as wp
from app.wordpress.write import write_wxr
from tests.support.browser import live_server_fixture  # noqa: F401
from tests.support.databases import postgresql_only
from tests.support.images import assert_no_metadata, photo
from tests.support.web import log_in, parse, text_of

DATA = Path(__file__).parent / "data" / "wxr"
SITE = wp.Site(title="Small", link="https://small.example", base_blog_url="https://small.example")


def _import(session, path, **kw):
    report = import_wordpress(session, path, **kw)
    session.commit()
    return report


def _rows(session) -> dict[str, int]:
    """How many rows every table holds."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def _post(session, wp_id: int, site: str = "https://blog.clinic.example") -> Post:
    target = session.scalar(
        select(WordPressItem.target_id).where(
            WordPressItem.site == site, WordPressItem.kind == "post", WordPressItem.wp_key == str(wp_id)
        )
    )
    assert target is not None, f"WordPress post {wp_id} was not imported"
    return session.get(Post, target)


def _export(tmp_path: Path, items: list[wp.Item], name: str = "small.xml", authors=()) -> Path:
    path = tmp_path / name
    with path.open("wb") as out:
        write_wxr(out, SITE, [*authors, *items])
    return path


def _item(post_id: int, title: str, content: str = "<p>Text.</p>", **kw) -> wp.Item:
    defaults = dict(
        post_type="post",
        status="publish",
        creator="ann",
        date_gmt=datetime(2015, 3, 1, 9, 0, tzinfo=UTC),
        link=f"https://small.example/{post_id}/",
    )
    return wp.Item(post_id=post_id, title=title, content=content, **{**defaults, **kw})


# --- WXR 1.2: every kind of record ---------------------------------------------------------------------


def test_wxr_1_2_every_status_becomes_what_the_issue_says(session):
    report = _import(session, DATA / "wxr-1.2.xml")
    counts = report.as_dict()["counts"]
    assert counts["post"]["imported"] == 6 and counts["post"]["skipped"] == 1  # trash
    assert counts["page"]["imported"] == 2
    published = _post(session, 10)
    assert published.status == "published" and published.slug
    assert published.first_published_at == datetime(2020, 1, 5, 9, 30, tzinfo=UTC)
    revision = published.published_revision
    assert revision.number == 1 and revision.title.startswith("Published: café, naïve, 🫀 and שלום")
    assert revision.note.startswith("Imported from WordPress on ")
    assert revision.note.endswith("first published 2020-01-05")
    # The CDATA terminator split across two sections in the export, joined back, reads as written.
    assert "a[b[0]]> 1" in BeautifulSoup(revision.html, "html.parser").get_text()
    publication = session.scalar(select(Publication).where(Publication.post_id == published.id))
    approval = session.get(Approval, publication.approval_id)
    importer = session.scalar(select(User).where(User.email == IMPORTER_EMAIL))
    assert publication.via == "import" and approval.approved_by_id == importer.id != revision.author_id
    assert not importer.is_active and not importer.roles
    scheduled = _post(session, 11)
    assert scheduled.status == "scheduled" and scheduled.slug is None
    for wp_id in (12, 13, 14, 50):  # draft, pending, private, and a status-less item
        post = _post(session, wp_id)
        assert post.status == "draft" and post.slug is None and post.published_revision_id is None
    assert {e["why"] for e in report.entries if e.get("wp_post_id") == 15} >= {
        "status 'trash' is not imported"
    }
    assert counts["nav_menu_item"]["skipped"] == 1
    assert counts["element"]["skipped"] >= 1  # the unknown jetpack namespace, counted, not fatal


def test_authors_are_inactive_staff_with_the_author_role_and_their_names(session):
    _import(session, DATA / "wxr-1.2.xml")
    amina = session.scalar(select(User).where(User.email == "amina@clinic.example"))
    assert amina is not None and not amina.is_active and amina.roles == {Role.AUTHOR}
    assert amina.name == "Dr Amina al-Rashid 🩺"  # a display name over two lines, kept on one
    kept = session.scalar(
        select(WordPressItem.data).where(WordPressItem.kind == "author", WordPressItem.wp_key == "amina")
    )
    assert kept["first_name"] == "أمينة" and kept["last_name"] == "al-Rashid"
    assert _post(session, 10).author_id == amina.id


def test_existing_staff_are_matched_by_email_whatever_the_case(session, make_user):
    zoe = make_user("editor", email="Zoe@Clinic.Example".lower(), name="Zoe Staff")
    session.execute(text("UPDATE users SET email = 'ZOE@clinic.example' WHERE id = :id"), {"id": zoe.id})
    session.commit()
    report = _import(session, DATA / "wxr-1.2.xml")
    assert report.as_dict()["counts"]["author"]["matched"] == 1
    assert (
        session.scalar(
            select(func.count()).select_from(User).where(func.lower(User.email) == "zoe@clinic.example")
        )
        == 1
    )


def test_nested_categories_and_tags_become_topics_with_their_parents(session):
    _import(session, DATA / "wxr-1.2.xml")
    by_name = {unicodedata.normalize("NFC", t.name): t for t in session.scalars(select(Topic))}
    names = {"Health & Care", "Cardiology", "קצב לב", "Wellbeing ✨ Ç̧à", "قلب"}
    assert {unicodedata.normalize("NFC", n) for n in names} <= set(by_name)
    parents = {p.topic_id: p.parent_id for p in session.scalars(select(TopicParent))}
    assert parents[by_name["Cardiology"].id] == by_name["Health & Care"].id
    assert parents[by_name["קצב לב"].id] == by_name["Cardiology"].id
    topics = {unicodedata.normalize("NFC", t.name) for t in _post(session, 10).published_revision.topics}
    assert topics == {"קצב לב", unicodedata.normalize("NFC", "Wellbeing ✨ Ç̧à")}


def test_pages_keep_their_parent(session):
    _import(session, DATA / "wxr-1.2.xml")
    about, team = _post(session, 30), _post(session, 31)
    assert about.type == team.type == "page"
    assert session.get(PageParent, team.id).parent_id == about.id


def test_threaded_comments_of_every_status(session):
    _import(session, DATA / "wxr-1.2.xml")
    post = _post(session, 10)
    found = {c.author_email: c for c in session.scalars(select(Comment).where(Comment.post_id == post.id))}
    by_wp = {
        int(k): session.get(Comment, t)
        for k, t in session.execute(
            select(WordPressItem.wp_key, WordPressItem.target_id).where(WordPressItem.kind == "comment")
        )
    }
    assert len(found) >= 1
    assert by_wp[100].status == "published"
    assert by_wp[101].status == "held" and by_wp[101].parent_id == by_wp[100].id
    assert by_wp[102].status == "spam" and by_wp[102].parent_id == by_wp[101].id
    assert by_wp[102].thread_id == by_wp[100].id
    assert by_wp[103].status == "deleted"
    assert by_wp[100].akismet_verdict == ""  # imports never ask Akismet


def test_wxr_1_0_imports_with_its_own_shapes(session):
    report = _import(session, DATA / "wxr-1.0.xml")
    counts = report.as_dict()["counts"]
    assert report.wxr_version == "1.0"
    assert counts["post"]["imported"] == 1 and counts["page"]["imported"] == 1
    post = _post(session, 7, site="http://wardnotes.clinic.example")
    assert post.status == "published"
    assert {t.name for t in post.published_revision.topics} >= {"Night shift 🌙", "Rota"}
    author = session.get(User, post.author_id)  # WXR 1.0 names authors only by login
    assert author.email.endswith("@wordpress.invalid") and not author.is_active


# --- all or nothing, and idempotent --------------------------------------------------------------------


def test_running_the_same_import_twice_changes_nothing(session):
    _import(session, DATA / "wxr-1.2.xml")
    before = _rows(session)
    report = _import(session, DATA / "wxr-1.2.xml")
    assert _rows(session) == before
    counts = report.as_dict()["counts"]
    assert all(c["imported"] == 0 and c["matched"] == 0 for c in counts.values())
    assert counts["post"]["unchanged"] == 6 and counts["comment"]["unchanged"] == 4


def test_a_later_export_of_the_same_site_imports_only_what_is_new(session, tmp_path):
    ann = wp.Author(login="ann", email="ann@small.example", display_name="Ann")
    first = [
        _item(1, "One", comments=(wp.Comment(id=1, author="R", author_email="r@x.example", content="Hi"),))
    ]
    _import(session, _export(tmp_path, first, authors=[ann]))
    before = _rows(session)
    later = [
        _item(
            1,
            "One",
            comments=(
                wp.Comment(id=1, author="R", author_email="r@x.example", content="Hi"),
                wp.Comment(id=2, author="S", author_email="s@x.example", content="Thanks", parent=1),
            ),
        ),
        _item(2, "Two"),
    ]
    report = _import(session, _export(tmp_path, later, "later.xml", authors=[ann]))
    counts = report.as_dict()["counts"]
    assert counts["post"] == {**counts["post"], "imported": 1, "unchanged": 1}
    assert counts["comment"] == {**counts["comment"], "imported": 1, "unchanged": 1}
    after = _rows(session)
    assert after["posts"] == before["posts"] + 1 and after["comments"] == before["comments"] + 1
    assert after["users"] == before["users"]


def test_a_dry_run_reports_the_same_and_keeps_nothing(session):
    before = _rows(session)
    dry = import_wordpress(session, DATA / "wxr-1.2.xml", dry_run=True)
    session.commit()
    assert _rows(session) == before
    real = _import(session, DATA / "wxr-1.2.xml")
    assert dry.as_dict()["counts"] == real.as_dict()["counts"] and dry.dry_run


@pytest.mark.parametrize("name", ["malformed.xml", "xxe.xml", "billion-laughs.xml"])
def test_broken_and_hostile_files_stop_with_where_and_import_nothing(runner, session, name, tmp_path):
    before = _rows(session)
    report_path = tmp_path / "report.json"
    result = runner.invoke(args=["import", "wordpress", str(DATA / name), "--report", str(report_path)])
    assert result.exit_code != 0
    assert "nothing was imported" in result.output and "line" in result.output
    session.rollback()
    assert _rows(session) == before
    report = json.loads(report_path.read_text())
    assert report["failed"] and report["entries"][-1]["line"]


def test_a_failure_half_way_leaves_the_database_unchanged(session, tmp_path):
    """A file that breaks after some items were written: the savepoint takes them all back."""
    good = _export(tmp_path, [_item(1, "One"), _item(2, "Two")]).read_bytes()
    broken = good.replace(b"</channel>", b"<item><title>Cut").rsplit(b"</rss>", 1)[0]
    before = _rows(session)
    with pytest.raises(Exception) as raised:
        import_wordpress(session, io.BytesIO(broken))
    session.commit()
    assert "line" in str(raised.value)
    assert _rows(session) == before


# --- privacy, images, the command ----------------------------------------------------------------------


def test_a_comment_with_a_patient_identifier_is_held_not_published(session, tmp_path):
    comment = wp.Comment(
        id=9, author="R", author_email="r@x.example", content="My SSN is 123-45-6789, call me"
    )
    _import(session, _export(tmp_path, [_item(1, "One", comments=(comment,))]))
    stored = session.scalar(select(Comment))
    assert stored.status == "held" and any(r.startswith("privacy:") for r in stored.reasons)


def test_images_come_from_the_uploads_directory_without_metadata(session, tmp_path, app):
    uploads = tmp_path / "uploads"
    (uploads / "2015" / "03").mkdir(parents=True)
    (uploads / "2015" / "03" / "ward.jpg").write_bytes(photo())
    content = (
        '<p><img src="https://small.example/wp-content/uploads/2015/03/ward-300x200.jpg" alt="The ward"></p>'
        '<p><img src="https://small.example/wp-content/uploads/2015/03/gone.jpg" alt="Gone"></p>'
    )
    from app.importer.services import ImportSettings
    from app.media.storage import DatabaseStore

    settings = ImportSettings(store=DatabaseStore())
    report = _import(
        session, _export(tmp_path, [_item(1, "Pictures", content)]), uploads=uploads, settings=settings
    )
    media = session.scalar(select(Media))
    assert media is not None, [e for e in report.entries if e["kind"] == "image"]
    body = _post(session, 1, site="https://small.example").published_revision.body
    assert f"]({media.path}" in body and "gone.jpg" in body
    assert [e["url"] for e in report.entries if e["outcome"] == "missing"] == [
        "https://small.example/wp-content/uploads/2015/03/gone.jpg"
    ]
    variant = session.scalar(select(MediaVariant).where(MediaVariant.media_id == media.id))
    assert_no_metadata(session.get(MediaBlob, variant.sha256).data)


def test_the_command_prints_counts_and_writes_the_json_report(runner, tmp_path):
    report_path = tmp_path / "report.json"
    result = runner.invoke(
        args=["import", "wordpress", str(DATA / "wxr-1.2.xml"), "--report", str(report_path)]
    )
    assert result.exit_code == 0, result.output
    assert "post" in result.output and "imported" in result.output and "Akismet" in result.output
    report = json.loads(report_path.read_text())
    assert report["counts"]["post"]["imported"] == 6
    assert {"kind", "outcome", "why"} <= set(report["entries"][0])
    again = runner.invoke(args=["import", "wordpress", str(DATA / "wxr-1.2.xml"), "--dry-run"])
    assert again.exit_code == 0 and "Dry run" in again.output


# --- what readers see ----------------------------------------------------------------------------------


def test_old_wordpress_addresses_answer_301_over_real_http(session, live_server):
    _import(session, DATA / "wxr-1.2.xml")
    post, about, draft = _post(session, 10), _post(session, 30), _post(session, 12)
    with httpx.Client(base_url=live_server, follow_redirects=False) as http:
        for old, new in (
            ("/2020/01/05/published/", f"/posts/{post.slug}"),
            ("/2020/01/05/published", f"/posts/{post.slug}"),
            ("/?p=10", f"/posts/{post.slug}"),
            ("/?page_id=30", f"/pages/{about.slug}"),
            ("/about/", f"/pages/{about.slug}"),
        ):
            answer = http.get(old)
            assert answer.status_code == 301, old
            assert answer.headers["location"].endswith(new), old
        assert http.get(f"/?p={12}").status_code == 200  # a draft has no address: the home page
        assert draft.slug is None
        assert http.get("/2099/01/01/never-was/").status_code == 404
        assert http.get("/?p=99999").status_code == 200


def test_an_imported_posts_page_and_history_parse(client, session):
    _import(session, DATA / "wxr-1.2.xml")
    post = _post(session, 10)
    page = client.get(f"/posts/{post.slug}")
    assert page.status_code == 200
    soup = parse(page)
    body = unicodedata.normalize("NFC", text_of(soup, "#post-body"))
    assert unicodedata.normalize("NFC", "First paragraph with é and é.") in body
    assert "Dr Amina al-Rashid" in soup.get_text()
    history = client.get(f"/posts/{post.slug}/history")
    assert history.status_code == 200
    words = parse(history).get_text(" ")
    assert "Imported from WordPress on" in words and "first published 2020-01-05" in words
    assert "published on WordPress before the move; not reviewed in Candor" in words
    comments = parse(page).select("div.comment-body")
    assert len(comments) == 1  # only the approved one; held, spam and trash never show
    assert comments[0].get_text(" ", strip=True) == "Approved 👍 with ]]> inside"


def test_block_editor_content_and_shortcodes_become_markdown_and_what_stays_is_reported(session):
    report = _import(session, DATA / "wxr-1.2.xml")
    blocks = _post(session, 11).current_revision.body
    assert "<!-- wp:" not in blocks and "**paragraph**" in blocks and "### A heading" in blocks
    captioned = _post(session, 12).current_revision.body
    assert "![The ward](" in captioned and "The new ward" in captioned and "[caption" not in captioned
    kept = [e for e in report.entries if e["outcome"] == "kept_html" and e["wp_post_id"] == 12]
    assert any("gallery" in e["why"] for e in kept)  # the gallery shortcode is kept as written, and listed


def test_a_scheduled_import_goes_to_an_editor_at_its_time_never_out_by_itself(session, gate_settings):
    """The import's account approves nothing by itself: at the scheduled time the approval it recorded is
    withdrawn and the post waits in the editors' review queue."""
    from app import clock
    from app.editorial import services as editorial

    _import(session, DATA / "wxr-1.2.xml")
    scheduled = _post(session, 11)
    assert scheduled.publish_at == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    editorial.publish_due(session, gate_settings, now=datetime(2027, 1, 1, 8, 1, tzinfo=UTC))
    session.commit()
    session.refresh(scheduled)
    assert scheduled.status == "in_review" and scheduled.slug is None
    assert clock  # the clock module is the one place time is read; publish_due took ``now`` explicitly


def test_image_paths_never_leave_the_uploads_directory(session, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (tmp_path / "secret.jpg").write_bytes(photo())
    content = '<p><img src="https://small.example/wp-content/uploads/../secret.jpg" alt="x"></p>'
    from app.importer.services import ImportSettings
    from app.media.storage import DatabaseStore

    report = _import(
        session,
        _export(tmp_path, [_item(1, "Escape", content)]),
        uploads=uploads,
        settings=ImportSettings(store=DatabaseStore()),
    )
    assert session.scalar(select(func.count()).select_from(Media)) == 0
    assert [e["why"] for e in report.entries if e["kind"] == "image"] == ["not in the uploads directory"]


def test_a_post_that_cannot_be_rendered_fails_alone(session, tmp_path):
    huge = "<p>" + "x" * 3_000_000 + "</p>"
    report = _import(session, _export(tmp_path, [_item(1, "Too big", huge), _item(2, "Fine")]))
    counts = report.as_dict()["counts"]["post"]
    assert counts["failed"] == 1 and counts["imported"] == 1
    assert [e["wp_post_id"] for e in report.entries if e["outcome"] == "failed"] == [1]
    assert session.scalar(select(func.count()).select_from(Post)) == 1


@postgresql_only
def test_two_imports_of_one_export_at_once_import_it_once(app, session):
    """Two operators run the same import at the same moment: the second waits for the first, then finds
    everything there (no unique-key error, nothing twice)."""
    factory = app.extensions["candor.sessions"]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        s = factory()
        try:
            barrier.wait()
            import_wordpress(s, DATA / "wxr-1.2.xml")
            s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            s.rollback()
        finally:
            s.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session.rollback()
    assert (
        session.scalar(select(func.count()).select_from(WordPressItem).where(WordPressItem.kind == "post"))
        == 8
    )
    assert session.scalar(select(func.count()).select_from(Post)) == 8


@pytest.mark.parametrize("role", ["editor", "author", "moderator", "admin"])
def test_staff_pages_of_imported_posts_answer_for_every_role(client, session, make_user, role):
    """The desk's lists, an imported post's editor and its audit trail: no role meets a 500 on imports."""
    user = make_user(role)
    _import(session, DATA / "wxr-1.2.xml")
    published, draft = _post(session, 10), _post(session, 12)
    log_in(client, user.email)
    for path in (
        "/staff/posts",
        f"/staff/posts/{published.id}/edit",
        f"/staff/posts/{draft.id}/edit",
        f"/staff/posts/{published.id}/audit",
        "/staff/moderation" if role == "moderator" else "/staff/posts",
    ):
        answer = client.get(path)
        assert answer.status_code < 500, (path, answer.status_code)
        if answer.status_code == 200:
            parse(answer)  # parses as HTML
    if role == "editor":
        audit = parse(client.get(f"/staff/posts/{published.id}/audit")).get_text(" ")
        assert "import" in audit.lower()


def test_a_percent_encoded_old_address_answers_301_as_browsers_send_it(session, tmp_path, client):
    """WordPress writes a non-ASCII slug percent-encoded in <link>; a browser sends it encoded, in either
    case, and the app sees the path decoded: every form leads to the post (it was a 404)."""
    hebrew = "/2019/07/01/%d7%a9%d7%99%d7%a0%d7%94/"
    item = _item(7, "שינה", link=f"https://small.example{hebrew}")
    _import(session, _export(tmp_path, [item]))
    post = _post(session, 7, site="https://small.example")
    for old in (hebrew, hebrew.upper(), "/2019/07/01/שינה"):
        answer = client.get(old)
        assert answer.status_code == 301, old
        assert answer.headers["location"].endswith(f"/posts/{quote(post.slug)}"), old


def test_an_old_address_no_database_could_hold_is_reported_not_fatal(session, tmp_path):
    """A link holding an encoded NUL, or longer than the column, is left out with a warning; the post and
    its other old addresses are imported (on PostgreSQL either one failed the whole import)."""
    items = [
        _item(8, "Nul", link="https://small.example/a%00b/"),
        _item(9, "Long", link="https://small.example/" + "x" * 2100 + "/"),
    ]
    report = _import(session, _export(tmp_path, items))
    assert report.as_dict()["counts"]["post"]["imported"] == 2
    warned = {e["wp_post_id"] for e in report.entries if "old address not kept" in e["why"]}
    assert warned == {8, 9}
    paths = set(session.scalars(select(LegacyPath.path)))
    assert {"?p=8", "?p=9"} <= paths and all(len(p) <= 2000 and "\x00" not in p for p in paths)


def test_old_category_and_tag_archives_answer_301_to_their_topics(session, tmp_path, client):
    heart = "%d7%9c%d7%91"  # a Hebrew nicename, percent-encoded in lower case as WordPress writes it
    records = [
        wp.Category(nicename="health", name="Health", term_id=1),
        wp.Category(nicename="sleep", name="Sleep", parent="health", term_id=2),
        wp.Category(nicename=heart, name="לב", term_id=3),
        wp.Tag(slug="night-shift", name="Night shift", term_id=4),
        _item(
            1,
            "Filed",
            terms=(
                wp.ItemTerm("category", "sleep", "Sleep"),
                wp.ItemTerm("category", heart, "לב"),
                wp.ItemTerm("post_tag", "night-shift", "Night shift"),
            ),
        ),
    ]
    _import(session, _export(tmp_path, records))
    slugs = {t.name: t.slug for t in session.scalars(select(Topic))}
    for old, name in (
        ("/category/health/sleep/", "Sleep"),
        ("/category/sleep", "Sleep"),
        ("/category/health/", "Health"),
        ("/category/health/sleep/page/2/", "Sleep"),
        ("/tag/night-shift/", "Night shift"),
        (f"/category/{heart}/", "לב"),
        (f"/category/{heart.upper()}/", "לב"),
        ("/category/לב/", "לב"),
    ):
        answer = client.get(old)
        assert answer.status_code == 301, old
        assert answer.headers["location"].endswith(f"/topics/{quote(slugs[name])}"), old
        assert client.get(answer.headers["location"]).status_code == 200, old
    for unknown in ("/category/nothing/", "/tag/", "/category/", "/tag/sleep/", "/category/a%00b/"):
        assert client.get(unknown).status_code == 404, unknown


# --- the command on a terminal --------------------------------------------------------------------------


def _run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as its stdout and stderr (what `isatty()` sees at a shell)."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=Path(__file__).parent.parent,
    )
    os.close(follower)
    output = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=120), output.decode("utf-8", "replace")


def test_the_command_shows_a_progress_bar_on_a_terminal_and_none_in_a_pipe(
    database_url: str, runner, tmp_path: Path
) -> None:
    import os

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CANDOR_", "REDIS_", "MAIL_", "AKISMET_"))
    }
    env |= {"DATABASE_URL": database_url, "CANDOR_PUBLIC_URL": "http://blog.example.org", "COLUMNS": "100"}
    status, shown = _run_on_terminal(["import", "wordpress", str(DATA / "wxr-1.2.xml"), "--dry-run"], env)
    assert status == 0, shown
    assert "Importing" in shown and "100%" in shown, shown
    assert "Dry run (nothing was kept)" in shown
    piped = runner.invoke(args=["import", "wordpress", str(DATA / "wxr-1.2.xml"), "--dry-run"])
    assert piped.exit_code == 0, piped.output
    assert "Importing" not in piped.output and "%" not in piped.output
