"""The import's speed-ups keep every guarantee (issue 13): texts rendered in batches, one sandboxed child
for many, each within its own budget; an item's comments written together; keys looked up per batch.

What each test checks is what the import wrote, compared with what writing each thing alone gives.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from app.comments.models import Comment, ModerationDecision
from app.comments.states import tally
from app.errors import RenderError
from app.importer import import_wordpress
from app.importer.models import WordPressItem
from app.importer.services import BATCH_ITEMS
from app.posts import sandbox
from app.posts.models import Post
from app.posts.rendering import render_many, render_markdown
from app.wordpress import records as wp
from app.wordpress.write import write_wxr

SITE = wp.Site(title="Batches", link="https://batches.example", base_blog_url="https://batches.example")


def _export(tmp_path: Path, items: list[wp.Item], name: str = "batches.xml") -> Path:
    path = tmp_path / name
    with path.open("wb") as out:
        write_wxr(out, SITE, [wp.Author(login="ann", email="ann@batches.example"), *items])
    return path


def _item(post_id: int, markdown: str | None = None, **kw) -> wp.Item:
    meta = (wp.Meta("_candor_markdown", markdown),) if markdown is not None else ()
    defaults = dict(
        post_type="post",
        status="publish",
        creator="ann",
        title=f"Post {post_id}",
        content=f"<p>Text of post {post_id}, <em>with</em> a <a href='https://x.example/'>link</a>.</p>",
        date_gmt=datetime(2016, 5, 1, 9, 0, tzinfo=UTC),
        link=f"https://batches.example/{post_id}/",
        meta=meta,
    )
    return wp.Item(post_id=post_id, **{**defaults, **kw})


def _post(session, wp_id: int) -> Post | None:
    target = session.scalar(
        select(WordPressItem.target_id).where(
            WordPressItem.kind == "post", WordPressItem.wp_key == str(wp_id)
        )
    )
    return session.get(Post, target) if target is not None else None


# --- the sandbox: many texts, one child, each its own budget ---------------------------------------------


def _shout(source: str) -> str:
    if source == "stuck":
        time.sleep(30)
    if source == "refused":
        raise RenderError("refused on purpose")
    if source == "greedy":
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
    if source == "broken":
        raise ValueError("broken on purpose")
    return source.upper()


def test_run_many_answers_each_text_in_order_and_a_failing_one_fails_alone():
    sources = ["a", "stuck", "b", "refused", "c", "greedy", "d", "broken", "e"]
    answers = sandbox.run_many(
        _shout, sources, seconds=1.0, memory_bytes=256 * 1024 * 1024, max_output_bytes=1000
    )
    assert len(answers) == len(sources)
    assert [answers[i] for i in (0, 2, 4, 6, 8)] == ["A", "B", "C", "D", "E"]
    assert isinstance(answers[1], sandbox.Refused) and answers[1].failure == sandbox.Failure.TIME
    assert isinstance(answers[3], RenderError) and answers[3].message == "refused on purpose"
    assert isinstance(answers[5], sandbox.Refused) and answers[5].failure == sandbox.Failure.MEMORY
    assert isinstance(answers[7], sandbox.Refused) and answers[7].detail == "ValueError"


def test_run_many_carries_answers_larger_than_the_pipe_and_refuses_one_too_large():
    big = "x" * 300_000  # several pipe buffers' worth, twice in a row: the messages must not run together
    answers = sandbox.run_many(
        str.lower,
        [big, "Y" * 2_000_000, big, "Z"],
        seconds=3.0,
        memory_bytes=1 << 28,
        max_output_bytes=1 << 20,
    )
    assert answers[0] == big and answers[2] == big and answers[3] == "z"
    assert isinstance(answers[1], sandbox.Refused) and answers[1].failure == sandbox.Failure.SIZE


def test_render_many_gives_what_render_markdown_gives_each_text():
    texts = ["# Title\n\nSome *text* and https://example.org/ too.", "", "> quote\n\n- a\n- b", "x" * 300_000]
    answers = render_many(texts)
    assert answers[:3] == [render_markdown(t) for t in texts[:3]]
    assert isinstance(answers[3], RenderError) and "too long" in answers[3].message


# --- the import -----------------------------------------------------------------------------------------


def test_a_post_that_takes_too_long_to_render_fails_alone_in_its_batch(session, tmp_path):
    slow = "[" * 15_900  # Python-Markdown needs far longer than the budget for this
    items = [_item(n) for n in range(1, 6)] + [_item(6, slow)] + [_item(n) for n in range(7, 12)]
    report = import_wordpress(session, _export(tmp_path, items))
    session.commit()
    counts = report.as_dict()["counts"]["post"]
    assert counts["imported"] == 10 and counts["failed"] == 1
    failed = [e for e in report.entries if e["outcome"] == "failed"]
    assert [e["wp_post_id"] for e in failed] == [6] and "took too long" in failed[0]["why"]
    assert _post(session, 6) is None
    for n in (*range(1, 6), *range(7, 12)):
        revision = _post(session, n).current_revision
        assert revision.html == render_markdown(revision.body)  # as if rendered alone


def test_more_items_than_a_batch_are_all_imported_once_and_a_second_run_finds_them(session, tmp_path):
    items = [_item(n) for n in range(1, 2 * BATCH_ITEMS + 6)]
    reply = wp.Comment(id=900, author="R", author_email="r@x.example", content="Only here.")
    items.insert(BATCH_ITEMS // 2, _item(3, comments=(reply,)))  # again (with a comment), within one batch
    items.insert(BATCH_ITEMS // 2 + 1, _item(4, title="Changed"))  # again changed, within one batch
    items.append(_item(1))  # again, in a later batch
    path = _export(tmp_path, items)
    report = import_wordpress(session, path)
    session.commit()
    counts = report.as_dict()["counts"]["post"]
    assert counts["imported"] == 2 * BATCH_ITEMS + 5 and counts["unchanged"] == 2 and counts["skipped"] == 1
    [skipped] = [e for e in report.entries if e["outcome"] == "skipped"]
    assert skipped["wp_post_id"] == 4 and "twice" in skipped["why"]
    assert [
        c.body for c in session.scalars(select(Comment).where(Comment.post_id == _post(session, 3).id))
    ] == ["Only here."]
    assert session.scalar(select(func.count()).select_from(Post)) == 2 * BATCH_ITEMS + 5
    assert _post(session, 3).current_revision.title == "Post 3"
    again = import_wordpress(session, path)
    session.commit()
    assert again.as_dict()["counts"]["post"]["unchanged"] == len(items) - 1  # all but the changed one


def _comment(cid: int, parent: int = 0, approved: str = "1", text: str = "") -> wp.Comment:
    return wp.Comment(
        id=cid,
        author=f"Reader {cid}",
        author_email=f"r{cid}@readers.example",
        content=text or f"Comment {cid}.",
        approved=approved,
        parent=parent,
        date_gmt=datetime(2016, 5, 2, 9, 0, cid % 60, tzinfo=UTC),
    )


def test_an_items_comments_keep_their_threads_order_counts_and_decisions(session, tmp_path):
    thread = (
        _comment(10),
        _comment(11, parent=10),
        _comment(12, parent=11, approved="0"),
        _comment(13, parent=12),
        _comment(14),
        _comment(15, parent=14, approved="spam"),
        _comment(16, parent=10, text="Call me on 07700 900123, my NHS number is 943 476 5919."),
        _comment(17, parent=99),  # its parent is not in the export
    )
    import_wordpress(session, _export(tmp_path, [_item(1, comments=thread)]))
    session.commit()
    by_wp = {
        int(k): session.get(Comment, t)
        for k, t in session.execute(
            select(WordPressItem.wp_key, WordPressItem.target_id).where(WordPressItem.kind == "comment")
        )
    }
    assert sorted(by_wp) == list(range(10, 18))
    assert [by_wp[n].id for n in range(10, 18)] == sorted(c.id for c in by_wp.values())  # export order
    assert by_wp[11].parent_id == by_wp[10].id and by_wp[13].parent_id == by_wp[12].id
    assert {by_wp[n].thread_id for n in (11, 12, 13, 16)} == {by_wp[10].id}
    assert by_wp[15].thread_id == by_wp[14].id
    assert by_wp[17].parent_id is None and by_wp[17].thread_id is None
    assert by_wp[12].status == "held" and by_wp[15].status == "spam"
    assert by_wp[16].status == "held" and any(r.startswith("privacy:") for r in by_wp[16].reasons)
    decisions = session.scalars(select(ModerationDecision).order_by(ModerationDecision.id)).all()
    assert [d.comment_id for d in decisions] == [by_wp[n].id for n in range(10, 18)]
    assert all(d.action == "submit" and d.moderator_id is None for d in decisions)
    post = _post(session, 1)
    session.refresh(post)
    published = [c for c in by_wp.values() if c.status == "published"]
    assert post.comment_count == len(published) == 5
    counts = tally(session)
    assert counts[("published", "")] == 5 and counts[("held", "")] == 2 and counts[("spam", "")] == 1


def test_a_later_export_adds_replies_to_comments_already_imported(session, tmp_path):
    import_wordpress(session, _export(tmp_path, [_item(1, comments=(_comment(10), _comment(11, 10)))]))
    session.commit()
    later = (_comment(10), _comment(11, 10), _comment(12, 11), _comment(13, 12), _comment(14, 10))
    report = import_wordpress(session, _export(tmp_path, [_item(1, comments=later)], "later.xml"))
    session.commit()
    assert report.as_dict()["counts"]["comment"] == {
        **report.as_dict()["counts"]["comment"],
        "imported": 3,
        "unchanged": 2,
    }
    by_wp = {
        int(k): session.get(Comment, t)
        for k, t in session.execute(
            select(WordPressItem.wp_key, WordPressItem.target_id).where(WordPressItem.kind == "comment")
        )
    }
    assert by_wp[12].parent_id == by_wp[11].id and by_wp[13].parent_id == by_wp[12].id
    assert {by_wp[n].thread_id for n in (11, 12, 13, 14)} == {by_wp[10].id}
    assert session.get(Post, by_wp[10].post_id).comment_count == 5
