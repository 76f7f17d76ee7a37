"""An item changed on WordPress since it was imported (issue 13, the "updated" outcome).

The rule (README, "Importing from WordPress"): a draft nobody has worked on in Candor takes the change as
a new revision ("updated"); anything else is left as it is and reported ("skipped", with why): a post
readers have seen changes by a correction an editor decides on, never by a re-import. History is only
ever appended to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from app.importer import import_wordpress
from app.importer.models import WordPressItem
from app.models import Base
from app.posts import services as posts
from app.posts.models import Post, Revision
from app.wordpress import records as wp
from app.wordpress.write import write_wxr

SITE = wp.Site(title="Changes", link="https://changes.example", base_blog_url="https://changes.example")


def _export(tmp_path: Path, items: list[wp.Item], name: str) -> Path:
    path = tmp_path / name
    with path.open("wb") as out:
        write_wxr(out, SITE, [wp.Author(login="ann", email="ann@changes.example"), *items])
    return path


def _item(post_id: int, content: str, status: str = "draft", **kw) -> wp.Item:
    defaults = dict(
        post_type="post",
        title=f"Post {post_id}",
        creator="ann",
        date_gmt=datetime(2017, 1, 1, 9, 0, tzinfo=UTC),
        modified_gmt=datetime(2017, 1, 2, 9, 0, tzinfo=UTC),
        link=f"https://changes.example/{post_id}/",
    )
    return wp.Item(post_id=post_id, content=content, status=status, **{**defaults, **kw})


def _import(session, path):
    report = import_wordpress(session, path)
    session.commit()
    return report


def _post(session, wp_id: int) -> Post:
    target = session.scalar(
        select(WordPressItem.target_id).where(
            WordPressItem.kind == "post", WordPressItem.wp_key == str(wp_id)
        )
    )
    return session.get(Post, target)


def _revisions(session, post: Post) -> list[Revision]:
    return list(
        session.scalars(select(Revision).where(Revision.post_id == post.id).order_by(Revision.number))
    )


def _rows(session) -> dict[str, int]:
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def _outcomes(report, wp_id: int) -> list[tuple[str, str]]:
    return [(e["outcome"], e["why"]) for e in report.entries if e.get("wp_post_id") == wp_id]


def test_an_untouched_draft_changed_on_wordpress_gets_a_new_revision_and_keeps_the_first(session, tmp_path):
    _import(session, _export(tmp_path, [_item(1, "<p>First words.</p>")], "first.xml"))
    changed = _item(
        1, "<p>Second words.</p>", status="pending", modified_gmt=datetime(2017, 6, 1, tzinfo=UTC)
    )
    path = _export(tmp_path, [changed], "second.xml")
    report = _import(session, path)
    assert report.as_dict()["counts"]["post"] == {**report.as_dict()["counts"]["post"], "updated": 1}
    post = _post(session, 1)
    first, second = _revisions(session, post)
    assert (first.number, first.body.strip()) == (1, "First words.")
    assert (second.number, second.body.strip()) == (2, "Second words.")
    assert post.current_revision_id == second.id and not post.is_public
    assert second.note.startswith("Updated from WordPress on") and "changed there 2017-06-01" in second.note
    assert second.author_id == first.author_id and second.created_at >= first.created_at
    before = _rows(session)
    again = _import(session, path)  # the same export again: nothing more
    assert again.as_dict()["counts"]["post"]["unchanged"] == 1 and _rows(session) == before


def test_a_draft_edited_in_candor_since_is_left_as_it_is_and_reported(session, tmp_path, make_user):
    _import(session, _export(tmp_path, [_item(1, "<p>First words.</p>")], "first.xml"))
    post = _post(session, 1)
    editor = make_user("editor")
    posts.revise(session, editor, post, posts.RevisionInput("Edited here", "Our words.", []), 1)
    session.commit()
    before = _rows(session)
    report = _import(session, _export(tmp_path, [_item(1, "<p>Their words.</p>")], "second.xml"))
    assert _rows(session) == before
    assert report.as_dict()["counts"]["post"]["skipped"] == 1
    assert _outcomes(report, 1) == [
        ("skipped", "changed on WordPress since the import; not applied: it was edited in Candor since")
    ]
    assert session.get(Post, post.id).current_revision.body == "Our words."


def test_a_published_post_changed_on_wordpress_is_never_rewritten(session, tmp_path):
    _import(session, _export(tmp_path, [_item(1, "<p>As published.</p>", status="publish")], "first.xml"))
    before = _rows(session)
    changed = _item(1, "<p>Quietly changed.</p>", status="publish", title="New title")
    report = _import(session, _export(tmp_path, [changed], "second.xml"))
    assert _rows(session) == before
    [(outcome, why)] = _outcomes(report, 1)
    assert outcome == "skipped" and why.endswith(
        "it is published in Candor, where a change is a correction an editor decides on"
    )
    post = _post(session, 1)
    assert [r.body.strip() for r in _revisions(session, post)] == ["As published."]


def test_a_draft_published_on_wordpress_since_is_not_published_by_the_import(session, tmp_path):
    _import(session, _export(tmp_path, [_item(1, "<p>Draft.</p>")], "first.xml"))
    before = _rows(session)
    report = _import(session, _export(tmp_path, [_item(1, "<p>Draft.</p>", status="publish")], "second.xml"))
    assert _rows(session) == before
    [(outcome, why)] = _outcomes(report, 1)
    assert outcome == "skipped" and "'publish' on WordPress now" in why
    assert not _post(session, 1).is_public


def test_a_draft_whose_status_alone_changed_among_drafts_is_unchanged(session, tmp_path):
    _import(session, _export(tmp_path, [_item(1, "<p>Same.</p>")], "first.xml"))
    before = _rows(session)
    report = _import(session, _export(tmp_path, [_item(1, "<p>Same.</p>", status="pending")], "second.xml"))
    assert report.as_dict()["counts"]["post"]["unchanged"] == 1
    assert {k: v for k, v in _rows(session).items()} == before
