"""`flask export`: the whole record as JSON (validated against docs/export.schema.json), and WXR 1.2.

The blog is built through the real services and the comment pipeline (a local Akismet): a post with a
correction, a retracted post, a page, a draft, a disclosure with interests, topics, a gate override,
comments of every status with moderators' decisions, a setting changed; the export is run through the
command, as an operator runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree
from sqlalchemy import select

from app.accounts.models import ApiToken, User
from app.clock import freeze
from app.comments.models import Comment, CommentStatus
from app.db import snapshot
from app.editorial import services as editorial
from app.export import record
from app.export.tables import COLUMNS, EXCLUDED, TABLES
from app.media import services as media
from app.media.storage import DatabaseStore
from app.models import Base
from app.moderation.services import moderate
from app.posts import services as posts
from app.posts.models import Post
from app.settings import services as settings
from app.sites import services as sites
from app.topics import services as topics
from app.wordpress import records as wp
from app.wordpress import wxr
from tests.support.comments import submit
from tests.support.editorial import retract
from tests.support.images import photo

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "docs" / "export.schema.json").read_text())
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WP = "{http://wordpress.org/export/1.2/}"


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return {**comments_config, "TIMEZONE": "Europe/Paris"}


@pytest.fixture
def clock() -> Iterator[Any]:
    freeze(T0)
    yield freeze
    freeze(None)


@dataclass
class Blog:
    author: User
    editor: User
    corrected: Post
    retracted: Post
    page: Post
    draft: Post
    comments: dict[str, Comment]
    token: str


@pytest.fixture
def blog(
    app, session, make_user, make_post, make_disclosure, make_token, gate_settings, moderator, clock
) -> Blog:
    author = make_user("author", name="Ada Okafor", email="ada.okafor@clinic.example")
    editor = make_user("editor", "admin", name="Erin Shah", email="erin.shah@clinic.example")
    make_disclosure(
        author,
        interests=[{"entity": "Acme Pharma", "relationship": "speaking", "paid": True, "since": "2024"}],
    )
    topics.create_topic(session, editor, "Sleep")
    topics.create_topic(session, editor, "Heart health")
    session.commit()

    def draft(
        title: str, body: str, *, type: str = "post", filed: tuple[str, ...] = (), refs: bool = True
    ) -> Post:
        data = posts.RevisionInput(
            title, body, ["https://example.org/sleep-study"] if refs else [], topics=filed
        )
        return posts.create_draft(session, author, data, type=type)

    def publish(title: str, body: str, *, type: str = "post", filed: tuple[str, ...] = ()) -> Post:
        post = draft(title, body, type=type, filed=filed)
        editorial.submit(session, author, post, gate_settings, touches_interests=False)
        editorial.approve(session, editor, post, 1, gate_settings)
        session.commit()
        return post

    corrected = publish("Sleep and adults", "Adults need *five* hours.", filed=("Sleep",))
    freeze(T0 + timedelta(hours=1))
    change = posts.RevisionInput(
        "Sleep and adults",
        "Adults need *seven* hours.",
        ["https://example.org/sleep-study"],
        "correction",
        "Seven, not five.",
    )
    posts.revise(session, author, corrected, change, 1)
    editorial.submit(session, author, corrected, gate_settings, touches_interests=False)
    editorial.approve(session, editor, corrected, 2, gate_settings)
    session.commit()
    freeze(T0 + timedelta(hours=2))
    retracted = publish("A withdrawn study", "A claim.", filed=("Sleep", "Heart health"))
    retract(session, retracted, editor, "The study was withdrawn by its authors.")
    page = publish("About us", "We are a clinic.", type="page")
    unfinished = draft("Unfinished thoughts", "Not yet.")
    gated = draft("Without sources", "Sleep matters.", refs=False)
    editorial.override_gate(session, editor, gated, "references", "A personal account needs no source.", 1)
    editorial.submit(
        session,
        author,
        draft("Under review", "Sleep matters.", filed=("Sleep",)),
        gate_settings,
        touches_interests=False,
    )
    session.commit()
    freeze(T0 + timedelta(hours=3))
    published = submit(app, session, corrected, body="Thank you, seven hours of sleep is a helpful target.")
    if published.status != CommentStatus.PUBLISHED:
        moderate(session, moderator, published, "approve", reason="Fine.")
        session.commit()
    reply = submit(
        app,
        session,
        corrected,
        author_name="Ben Reader",
        author_email="ben@example.net",
        body="I agree with Ada, seven hours of sleep helps adults.",
        parent_id=published.id,
    )
    if reply.status != CommentStatus.PUBLISHED:
        moderate(session, moderator, reply, "approve")
        session.commit()
    held = submit(
        app,
        session,
        corrected,
        author_email="cy@example.net",
        body="My sleep doctor is at +1 212 555 0187, call.",
    )
    spam = submit(
        app, session, corrected, author_email="dee@example.net", body="Cheap sleeping pills online here."
    )
    moderate(session, moderator, spam, "spam", reason="Advertising.")
    deleted = submit(
        app, session, corrected, author_email="eve@example.net", body="Sleep is for the weak, adults."
    )
    moderate(session, moderator, deleted, "delete", reason="Rude.")
    settings.change(session, editor, {"site_name": "Candor Test Blog"}, app.config)
    site = sites.propose(
        session, editor, name="VideoHost", kind="video", hosts="video.example", note="Our channel."
    )
    sites.decide(session, editor, site.id, capacity="public_affairs", verdict="approve", note="Fine by PA.")
    session.commit()
    assert held.status == CommentStatus.HELD
    return Blog(
        author=author,
        editor=editor,
        corrected=corrected,
        retracted=retracted,
        page=page,
        draft=unfinished,
        comments={"published": published, "reply": reply, "held": held, "spam": spam, "deleted": deleted},
        token=make_token(author),
    )


def _export(runner: Any, path: Path, *args: str) -> bytes:
    result = runner.invoke(args=["export", str(path), *args])
    assert result.exit_code == 0, result.output
    return path.read_bytes()


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


# --- JSON ---------------------------------------------------------------------------------------------


def test_the_json_export_is_valid_and_holds_every_kind_of_record(runner, blog, tmp_path):
    data = json.loads(_export(runner, tmp_path / "candor.json"))
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(data)]
    assert errors == []
    assert (data["format"], data["version"]) == ("candor-export", 1)
    assert data["site"] == {
        "name": "Candor Test Blog",
        "public_url": "http://blog.example.org",
        "timezone": "Europe/Paris",
    }
    assert data["counts"] == {key: len(data[key]) for key in data["counts"]}

    staff = {u["email"]: u for u in data["staff"]}
    assert staff["erin.shah@clinic.example"]["roles"] == ["admin", "editor"]
    posts_by_id = {p["id"]: p for p in data["posts"]}

    corrected = posts_by_id[blog.corrected.id]
    assert [(r["number"], r["kind"], r["note"]) for r in corrected["revisions"]] == [
        (1, "original", ""),
        (2, "correction", "Seven, not five."),
    ]
    assert corrected["revisions"][1]["body"] == "Adults need *seven* hours."
    assert "<em>seven</em>" in corrected["revisions"][1]["html"]
    assert len(corrected["publications"]) == 2 and len(corrected["approvals"]) == 2
    assert corrected["published_revision_id"] == corrected["revisions"][1]["id"]
    publication = corrected["publications"][1]
    assert publication["approved_by_id"] == blog.editor.id and publication["disclosure_id"] is not None
    assert [a["slug"] for a in corrected["addresses"]] == [blog.corrected.slug]

    retracted = posts_by_id[blog.retracted.id]
    assert retracted["publication_state"] == "retracted"
    assert retracted["retraction"]["reason"] == "The study was withdrawn by its authors."
    assert retracted["retraction"]["editor_id"] == blog.editor.id
    assert posts_by_id[blog.draft.id]["publication_state"] == "never_published"
    assert posts_by_id[blog.draft.id]["slug"] is None

    overrides = [o for p in data["posts"] for o in p["gate_overrides"]]
    assert [(o["gate"], o["justification"]) for o in overrides] == [
        ("references", "A personal account needs no source.")
    ]
    (disclosure,) = [d for d in data["disclosures"] if d["user_id"] == blog.author.id]
    assert disclosure["interests"][0]["entity"] == "Acme Pharma"
    assert {t["name"] for t in data["topics"]} == {"Sleep", "Heart health"}

    comments = {c["id"]: c for c in data["comments"]}
    assert {name: comments[c.id]["status"] for name, c in blog.comments.items()} == {
        "published": "published",
        "reply": "published",
        "held": "held",
        "spam": "spam",
        "deleted": "deleted",
    }
    assert comments[blog.comments["reply"].id]["parent_id"] == blog.comments["published"].id
    assert comments[blog.comments["held"].id]["reasons"]
    spam_decisions = comments[blog.comments["spam"].id]["decisions"]
    assert spam_decisions[0]["action"] == "submit"
    assert (spam_decisions[-1]["action"], spam_decisions[-1]["reason"]) == ("spam", "Advertising.")
    assert spam_decisions[-1]["moderator_id"] is not None

    assert [c["key"] for c in data["setting_changes"]] == ["site_name"]
    (site,) = data["external_sites"]
    assert (site["name"], site["hosts"]) == ("VideoHost", "video.example")
    assert [(d["capacity"], d["verdict"], d["note"]) for d in site["decisions"]] == [
        ("public_affairs", "approve", "Fine by PA.")
    ]
    actions = {entry["action"] for entry in data["audit"]}
    assert {
        "post.created",
        "post.revised",
        "post.approve",
        "post.retract",
        "gate.override",
        "settings.change",
    } <= actions
    audited_posts = {entry["post_id"] for entry in data["audit"]}
    assert {blog.corrected.id, blog.retracted.id} <= audited_posts


def test_no_secret_leaves_in_either_export(app, runner, session, blog, tmp_path):
    secrets = list(session.scalars(select(User.password_hash)))
    secrets += list(session.scalars(select(ApiToken.token_hash)))
    secrets += [blog.token, app.config["SECRET_KEY"]]
    assert len(secrets) >= 5 and all(len(s) >= 16 for s in secrets)
    for name, args in (("all.json", ()), ("all.xml", ("--format", "wxr"))):
        text = _export(runner, tmp_path / name, *args).decode("utf-8")
        leaked = [s[:12] for s in secrets if s in text]
        assert leaked == [], name
        assert "password_hash" not in text and "token_hash" not in text and "session_generation" not in text


def test_every_column_of_every_table_is_exported_or_left_out_with_a_reason():
    accounted = {}
    for name, table in Base.metadata.tables.items():
        columns = set(table.c.keys())
        excluded = EXCLUDED.get(name, {})
        if "*" in excluded:
            assert name not in COLUMNS, name
            continue
        exported = set(COLUMNS.get(name, ()))
        assert not exported & set(excluded), name
        accounted[name] = columns - exported - set(excluded)
    assert {name: sorted(missing) for name, missing in accounted.items() if missing} == {}
    assert set(COLUMNS) | set(EXCLUDED) <= set(Base.metadata.tables)
    assert set(TABLES) == set(COLUMNS)


def test_the_schema_names_every_exported_column():
    """The schema says what each exported column holds, so a column added to the export without the
    schema fails here, even before any row of it is written."""
    definitions = SCHEMA["$defs"]
    nested = {"user_roles", "revision_topics", "revision_media", "topic_parents", "page_parents"}
    for table, columns in COLUMNS.items():
        if table in nested:
            continue
        properties = definitions[table]["properties"]
        assert set(columns) <= set(properties), table
        assert set(columns) <= set(definitions[table]["required"]), table
        assert definitions[table]["additionalProperties"] is False


def test_small_batches_write_the_same_document(app, session, blog):
    """Keyset batches of 2 and of 200 give the same bytes: nothing skipped or repeated at a boundary."""
    site = record.SiteInfo("Candor", "http://blog.example.org", "UTC")
    outputs = []
    for size in (2, 200):
        out = BytesIO()
        record.write_record(session, out, site, T0, batch=size)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert len(json.loads(outputs[0])["comments"]) == 5


def test_a_failed_export_leaves_no_file(runner, blog, tmp_path):
    target = tmp_path / "missing-directory" / "out.json"
    result = runner.invoke(args=["export", str(target)])
    assert result.exit_code != 0
    assert not target.exists() and list(tmp_path.glob("**/*.partial")) == []


# --- WXR ----------------------------------------------------------------------------------------------


def test_the_wxr_export_reads_back_with_our_reader(runner, blog, tmp_path):
    raw = _export(runner, tmp_path / "blog.wxr")
    found = list(wxr.read(BytesIO(raw)))
    site = found[0]
    assert isinstance(site, wp.Site)
    assert (site.title, site.wxr_version, site.base_site_url) == (
        "Candor Test Blog",
        "1.2",
        "http://blog.example.org",
    )
    authors = {a.email: a for a in found if isinstance(a, wp.Author)}
    assert authors["ada.okafor@clinic.example"].login == "ada.okafor"
    assert authors["ada.okafor@clinic.example"].display_name == "Ada Okafor"
    assert {c.name for c in found if isinstance(c, wp.Category)} == {"Sleep", "Heart health"}
    items = {i.post_id: i for i in found if isinstance(i, wp.Item)}

    corrected = items[blog.corrected.id]
    assert (corrected.status, corrected.post_type, corrected.creator) == ("publish", "post", "ada.okafor")
    assert corrected.link == f"http://blog.example.org/posts/{blog.corrected.slug}"
    assert corrected.guid == f"http://blog.example.org/?p={blog.corrected.id}"
    meta = {m.key: m.value for m in corrected.meta}
    assert meta["_candor_markdown"] == "Adults need *seven* hours."
    assert json.loads(meta["_candor_corrections"])[0]["note"] == "Seven, not five."
    assert "<em>seven</em>" in corrected.content and "Seven, not five." in corrected.content
    assert corrected.date_gmt == T0
    assert corrected.date == datetime(2026, 3, 2, 10, 0, tzinfo=UTC).replace(tzinfo=None)  # Paris, winter

    comments = {c.id: c for c in corrected.comments}
    assert {name: comments[c.id].approved for name, c in blog.comments.items()} == {
        "published": "1",
        "reply": "1",
        "held": "0",
        "spam": "spam",
        "deleted": "trash",
    }
    assert comments[blog.comments["reply"].id].parent == blog.comments["published"].id
    assert comments[blog.comments["reply"].id].author == "Ben Reader"

    retracted = items[blog.retracted.id]
    assert json.loads({m.key: m.value for m in retracted.meta}["_candor_retraction"])["reason"].startswith(
        "The study"
    )
    assert "Retracted on" in retracted.content
    draft = items[blog.draft.id]
    assert (draft.status, draft.post_name, draft.date_gmt) == ("draft", "", None)


def test_the_wxr_export_has_what_wordpress_importer_reads(runner, blog, tmp_path):
    """The elements WordPress's importer (wordpress-importer's WXR_Parser_SimpleXML) reads, in their
    namespaces, on every item and comment."""
    root = etree.fromstring(_export(runner, tmp_path / "blog.xml"))
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext(f"{WP}wxr_version") == "1.2"
    assert channel.findtext(f"{WP}base_site_url") == "http://blog.example.org"
    assert channel.findtext(f"{WP}base_blog_url") == "http://blog.example.org"
    logins = {a.findtext(f"{WP}author_login") for a in channel.findall(f"{WP}author")}
    items = channel.findall("item")
    assert len(items) == 6
    for item in items:
        for name in (
            "post_id",
            "post_date",
            "post_date_gmt",
            "status",
            "post_type",
            "post_name",
            "post_parent",
        ):
            assert item.find(f"{WP}{name}") is not None, name
        assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") in logins
        assert item.findtext("guid")
        assert item.find("{http://purl.org/rss/1.0/modules/content/}encoded") is not None
        for comment in item.findall(f"{WP}comment"):
            for name in (
                "comment_id",
                "comment_author",
                "comment_date_gmt",
                "comment_approved",
                "comment_parent",
            ):
                assert comment.find(f"{WP}{name}") is not None, name
    statuses = sorted(item.findtext(f"{WP}status") for item in items)
    assert statuses == ["draft", "draft", "pending", "publish", "publish", "publish"]


def test_the_export_reads_one_state_while_the_blog_keeps_writing(app, session, blog, gate_settings):
    """A post published after the export began is in none of its sections, though later batches are read
    after it committed: the snapshot holds across statements, on both databases."""
    reader = app.extensions["candor.sessions"]()
    try:
        snapshot(reader)
        first = reader.scalar(select(Post.id).order_by(Post.id.desc()).limit(1))
        data = posts.RevisionInput(
            "Published during the export", "Late.", ["https://example.org/a"], topics=("Sleep",)
        )
        late = posts.create_draft(session, blog.author, data)
        editorial.submit(session, blog.author, late, gate_settings, touches_interests=False)
        editorial.approve(session, blog.editor, late, 1, gate_settings)
        session.commit()
        submit(app, session, late, body="A comment on the late post, about sleep and adults.")
        out = BytesIO()
        record.write_record(reader, out, record.SiteInfo("C", "http://blog.example.org", "UTC"), T0, batch=2)
    finally:
        reader.rollback()
        reader.close()
    data = json.loads(out.getvalue())
    assert max(p["id"] for p in data["posts"]) == first
    assert {c["post_id"] for c in data["comments"]} <= {p["id"] for p in data["posts"]}
    assert late.id not in {entry["post_id"] for entry in data["audit"]}


def test_text_xml_cannot_carry_and_cdata_terminators_survive_the_wxr(
    runner, session, blog, tmp_path, moderator
):
    """A title and comment holding ``]]>`` and a control character: the file stays well-formed, the
    terminator comes back intact, the control character is dropped and counted."""
    comment = blog.comments["published"]
    session.execute(
        Comment.__table__.update()
        .where(Comment.__table__.c.id == comment.id)
        .values(body="Ends a section ]]> early \x01 and goes on; שלום 😴.")
    )
    session.commit()
    result = runner.invoke(args=["export", str(tmp_path / "x.xml")])
    assert result.exit_code == 0, result.output
    assert "1 characters XML cannot carry were dropped" in result.output
    items = [r for r in wxr.read(tmp_path / "x.xml") if isinstance(r, wp.Item)]
    (found,) = [c for i in items for c in i.comments if c.id == comment.id]
    assert found.content == "Ends a section ]]> early  and goes on; שלום 😴."


def test_media_files_and_a_scheduled_post_and_standard_output(
    app, runner, session, blog, gate_settings, tmp_path
):
    """``--media DIR`` writes every stored rendition under the name it is served at; a post scheduled for
    its first publication is ``future`` at its time in WXR; ``-`` writes the document to standard output."""
    image, _ = media.upload(
        session,
        blog.author,
        BytesIO(photo(size=(1600, 900))),
        name="ward.jpg",
        alt="An empty hospital ward at dawn",
        decorative=False,
        shows_patient=False,
        store=DatabaseStore(),
        limits=media.Limits(15 * 1024 * 1024, 40_000_000),
    )
    data = posts.RevisionInput("Coming soon", "Soon.", ["https://example.org/a"], topics=("Sleep",))
    soon = posts.create_draft(session, blog.author, data)
    editorial.submit(session, blog.author, soon, gate_settings, touches_interests=False)
    editorial.approve(session, blog.editor, soon, 1, gate_settings, publish_at=T0 + timedelta(days=7))
    session.commit()

    result = runner.invoke(args=["export", str(tmp_path / "all.json"), "--media", str(tmp_path / "media")])
    assert result.exit_code == 0, result.output
    (exported,) = json.loads((tmp_path / "all.json").read_text())["media"]
    assert (exported["name"], exported["alt"]) == ("ward.jpg", "An empty hospital ward at dawn")
    written = sorted(p.name for p in (tmp_path / "media").iterdir())
    assert written == sorted(f"{v['sha256']}.jpg" for v in exported["variants"]) and len(written) >= 2
    for variant in exported["variants"]:
        stored = DatabaseStore().get(session, variant["sha256"])
        assert (tmp_path / "media" / f"{variant['sha256']}.jpg").read_bytes() == stored
    assert image.path == f"/media/{exported['sha256']}.jpg"

    result = runner.invoke(args=["export", "--format", "wxr", "-"])
    assert result.exit_code == 0
    items = {r.post_id: r for r in wxr.read(BytesIO(result.stdout_bytes)) if isinstance(r, wp.Item)}
    assert (items[soon.id].status, items[soon.id].date_gmt) == ("future", T0 + timedelta(days=7))
    assert items[soon.id].link == f"http://blog.example.org/?p={soon.id}"


def test_the_json_is_strict_json_even_with_a_score_json_cannot_say(runner, session, blog, tmp_path):
    comment = blog.comments["held"]
    session.execute(
        Comment.__table__.update()
        .where(Comment.__table__.c.id == comment.id)
        .values(relevance_score=float("nan"))
    )
    session.commit()

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    data = json.loads(_export(runner, tmp_path / "strict.json"), parse_constant=refuse)
    assert {c["id"]: c["relevance_score"] for c in data["comments"]}[comment.id] is None
