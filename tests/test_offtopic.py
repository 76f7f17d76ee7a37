"""The off-topic filter by meaning (app.spam.meaning, app.comments.learning): log-only mode, the model
file's checksum, and a worker that is ready at once however many decisions are stored.

Learning from a decision is in tests/test_comments_moderation.py (a comment like one a moderator
approved is then not held). Quality is measured in bench/bench_offtopic.py, not asserted here.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from app import create_app
from app.accounts.models import User
from app.clock import utc_now
from app.comments import learning, services
from app.comments.learning import OffTopicExample
from app.comments.models import Comment, ModerationDecision
from app.comments.views import pipeline_settings
from app.editorial import services as editorial
from app.errors import PublishBlocked
from app.moderation.services import moderate
from app.posts.models import Post
from app.posts.passages import PostPassage
from app.spam import embedding, meaning
from app.web.outside import WithinBudget, akismet_checker
from tests.support.comments import submit
from tests.support.web import log_in, parse, text_of

OFF_TOPIC = "Can anyone recommend a good plumber in the north end? Our boiler is leaking again."


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


def _off_topic_check(comment: Comment) -> dict[str, Any]:
    return next(c for c in comment.checks if c["check"] == "off_topic")


def test_publication_stores_the_posts_passages_once(session: Session, make_post: Callable[..., Post]) -> None:
    post = make_post(
        title="The new parking ramp opens", body="# Rates and payment\n\nThe first hour is free."
    )
    rows = session.scalars(
        select(PostPassage).where(PostPassage.revision_id == post.published_revision_id)
    ).all()
    assert [r.label for r in rows] == ["the title", "the section 'Rates and payment'"]
    assert all(len(r.vector) == embedding.DIMENSION * 4 for r in rows)


def test_hold_mode_holds_and_log_mode_only_records(
    app: Flask, session: Session, make_post: Callable[..., Post]
) -> None:
    post = make_post()
    app.config["OFFTOPIC_THRESHOLD"] = 95  # the mode is under test here, not the scorer's quality
    app.config["OFFTOPIC_SMALL_BLOG"] = "hold"  # a blog of one post, held as a larger one
    held = submit(app, session, post, author_email="a@example.net", body=OFF_TOPIC)
    assert held.status == "held" and "off_topic" in held.reasons
    assert _off_topic_check(held)["verdict"] == "hold"

    app.config["OFFTOPIC_MODE"] = "log"
    logged = submit(app, session, post, author_email="a@example.net", body=OFF_TOPIC)
    check = _off_topic_check(logged)
    assert "off_topic" not in logged.reasons and check["verdict"] == "publish"
    assert check["detail"].startswith("log only") and "would hold" in check["detail"]
    assert logged.relevance_score is not None and logged.relevance_score < 0.95  # the verdict is still kept
    assert session.get(Comment, logged.id) is not None  # never deleted


def test_an_advertisement_on_the_posts_own_subject_is_held_as_one(
    app: Flask, session: Session, make_post: Callable[..., Post]
) -> None:
    post = make_post(
        title="The new parking ramp opens on Monday",
        body="## Height and access\n\nThe barrier clearance is 2.1 metres.\n\n"
        "## Rates and payment\n\nStaff pay by the month, visitors by the hour at the machines.",
    )
    advert = submit(
        app,
        session,
        post,
        author_email="seller@example.net",
        body="Cheap airport parking from $5 a day, book now at www.parkfast-deals.biz and save 20%!",
    )
    check = _off_topic_check(advert)  # a blog of one post: an advertisement is held all the same
    assert "off_topic" in advert.reasons and check["verdict"] == "hold"
    assert "reads as an advertisement" in check["detail"]  # the driver the moderator sees
    assert not check["detail"].startswith("log only")
    question = submit(
        app, session, post, author_email="van@example.net", body="Will a van with a roof rack fit under it?"
    )
    assert question.relevance_score is not None and advert.relevance_score is not None
    assert advert.relevance_score < question.relevance_score


def test_the_moderation_desk_shows_how_often_the_filter_was_overruled(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    post = make_post(title="Visiting hours on the wards")
    app.config["OFFTOPIC_THRESHOLD"] = 99  # everything is held as off-topic: a moderator overrules it
    app.config["OFFTOPIC_SMALL_BLOG"] = "hold"  # on this blog of one post
    held = submit(app, session, post, author_email="a@example.net", body="Can I bring flowers for my dad?")
    assert "off_topic" in held.reasons
    app.config["OFFTOPIC_THRESHOLD"] = 1  # nothing is held as off-topic: a moderator removes one
    passed = submit(app, session, post, author_email="b@example.net", body="Who won the match last night?")
    assert "off_topic" not in passed.reasons
    moderate(session, moderator, held, "approve")
    moderate(session, moderator, passed, "off_topic")
    session.commit()
    log_in(client, moderator.email)
    page = parse(client.get("/staff/comments/filter"))
    assert "Overruled 2 of 2 decisions" in text_of(page, "#filter-overall")
    row = page.select_one(f'#filter-per-post tr[data-post="{post.id}"]')
    assert row is not None
    assert [td.get_text(strip=True) for td in row.select("td")] == ["2", "1", "1", "100\xa0%"]
    nav = parse(client.get("/staff/comments/"))
    assert nav.select_one('nav.mod-nav a[href="/staff/comments/filter"]') is not None


def test_a_model_file_with_the_wrong_checksum_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_config: dict[str, Any]
) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(embedding.model_path(), copy)
    with copy.open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv(embedding.MODEL_ENV, str(copy))
    embedding.reset()
    with pytest.raises(embedding.ModelRefused, match="sha256") as refused:
        create_app(app_config)
    assert str(copy) in str(refused.value) and embedding.MODEL_ENV in str(refused.value)
    with pytest.raises(embedding.ModelRefused):
        embedding.encoder()
    monkeypatch.setenv(embedding.MODEL_ENV, str(tmp_path / "missing.onnx"))
    with pytest.raises(embedding.ModelRefused, match="cannot be read"):
        create_app(app_config)
    monkeypatch.delenv(embedding.MODEL_ENV)
    embedding.reset()
    assert embedding.encoder().encode("hello").shape == (embedding.DIMENSION,)


def test_the_weights_stay_int8_and_the_vectors_stay_those_of_the_model_as_shipped(tmp_path: Path) -> None:
    import numpy as np
    import onnxruntime as ort

    shipped = embedding.model_path().read_bytes()
    rows_only = embedding.rows_dequantised_after_lookup(shipped)
    rewired = embedding.weights_kept_int8(shipped)
    assert b"word_embeddings.weight.gather_q" in rows_only and rewired.count(b"DynamicQuantizeMatMul") == 36
    assert embedding.weights_kept_int8(b"") == b""  # nothing to rewire: unchanged
    texts = ["Will a van with a roof rack fit under the barrier?", "", "word " * 400, "Ünïcödé, 😀 émojis"]
    encoder = embedding.encoder()

    def vectors(model: bytes | None) -> np.ndarray:
        path = embedding.model_path()
        if model is not None:
            path = tmp_path / "model.onnx"
            path.write_bytes(model)
        other = embedding.Encoder.__new__(embedding.Encoder)
        other.tokenizer, other.inputs = encoder.tokenizer, encoder.inputs
        other.session = ort.InferenceSession(
            str(path), sess_options=embedding.session_options(ort), providers=["CPUExecutionProvider"]
        )
        return other.encode_many(texts)

    original = vectors(None)
    # The word table looked up before de-quantisation: the same numbers, bit for bit.
    assert np.array_equal(vectors(rows_only), original)
    # The products on int8: activations quantised per call, the vectors close to the float graph's.
    ours = encoder.encode_many(texts)
    assert np.array_equal(ours, vectors(rewired))
    assert float(np.min(np.sum(ours * original, axis=1))) > 0.95


def test_the_vectors_are_the_same_on_every_processor() -> None:
    """The rewired graph's vectors of three sentences equal those written in tests/data (cosine at least
    0.99999; float arithmetic may differ in its last bits between instruction sets). With int8 weights,
    onnxruntime's kernel on x86 without VNNI (AVX2 only) saturated its 16-bit sums: there the same
    sentences came out at cosine 0.988-0.995 with these, a comment's score moved by up to 0.06, and the
    garage-doors remark below passed on such a machine while held on another."""
    import numpy as np

    golden = json.loads((Path(__file__).parent / "data" / "offtopic_golden_vectors.json").read_text())
    for sentence in golden["sentences"]:
        made = embedding.encoder().encode(sentence["text"])
        expected = np.array(sentence["vector"], dtype=np.float32)
        assert float(made @ expected) >= 0.99999, sentence["text"]


# sha256 of the shipped model as rewired (word table, then the products): every stored vector came from
# this exact graph. A change to the rewrites that alters one byte must be a decision (new vectors, and
# `flask offtopic check-vectors` to see the stored ones that differ), never a side effect of tidying.
# Changed (session 26) on purpose: the weights given to the operator as uint8 with a zero point, so x86
# processors without VNNI no longer saturate (test_the_vectors_are_the_same_on_every_processor). On a
# processor with VNNI the vectors are those of before; elsewhere the stored ones differ (check-vectors).
REWIRED_SHA256 = "781a7f3eeb5d79012190eb846337e96e8f95709014e5bf1ed74eafdbaa7765d7"
ROWS_ONLY_SHA256 = "6ecfaba0effdccfb8d72249539c9e2be67bbe8ebfe084f714362a607a9798f57"


def test_the_rewired_graph_is_byte_for_byte_the_one_the_stored_vectors_came_from() -> None:
    import hashlib

    shipped = embedding.model_path().read_bytes()
    assert hashlib.sha256(embedding.rows_dequantised_after_lookup(shipped)).hexdigest() == ROWS_ONLY_SHA256
    assert hashlib.sha256(embedding.weights_kept_int8(shipped)).hexdigest() == REWIRED_SHA256
    rewired = embedding.weights_kept_int8(shipped)
    assert embedding.weights_kept_int8(rewired) == rewired  # nothing left to rewire: unchanged


def test_a_worker_without_a_writable_temporary_directory_still_loads_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    import numpy as np

    before = embedding.encoder().encode("Will a van with a roof rack fit?")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing" / "dir"))
    embedding.reset()
    try:
        assert np.array_equal(embedding.encoder().encode("Will a van with a roof rack fit?"), before)
    finally:
        monkeypatch.undo()
        embedding.reset()


def _store_decisions(session: Session, comment: Comment, moderator: User, n: int) -> None:
    """``n`` moderators' decisions on ``comment``'s post, each with its stored example, in bulk."""
    now = utc_now()
    ids = session.scalars(
        insert(ModerationDecision).returning(ModerationDecision.id, sort_by_parameter_order=True),
        [
            {
                "comment_id": comment.id,
                "moderator_id": moderator.id,
                "action": "approve",
                "from_status": "held",
                "to_status": "published",
                "reason": "",
                "reasons": [],
                "at": now,
            }
            for _ in range(n)
        ],
    ).all()
    vector = embedding.to_bytes(embedding.encoder().encode(comment.body))
    session.execute(
        insert(OffTopicExample),
        [
            {
                "decision_id": ids[i],
                "comment_id": comment.id,
                "post_id": comment.post_id,
                "on_topic": i % 2 == 0,
                "filter_on_topic": True,
                "vector": vector,
                "at": now,
            }
            for i in range(n)
        ],
    )
    session.commit()


def test_a_worker_with_100000_stored_decisions_reads_a_bounded_number_of_rows(
    app: Flask, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    post = make_post()
    comment = submit(app, session, post, author_email="a@example.net", body="Is a nap in the afternoon bad?")
    n = 100_000
    _store_decisions(session, comment, moderator, n)
    learning.forget_all()  # a worker that has just started
    knowledge = learning.knowledge(session, post)
    assert knowledge is not None
    blog_rows = len(knowledge.blog.matrix) if knowledge.blog is not None else 0
    assert len(knowledge.examples) <= learning.PER_POST and blog_rows <= learning.BLOG_EXAMPLES
    passages = session.query(PostPassage).count()
    assert learning.rows_read(session) <= learning.BLOG_EXAMPLES + passages
    later = submit(app, session, post, author_email="b@example.net", body="Does a short nap help?")
    assert later.relevance_score is not None
    assert learning.rows_read(session) <= learning.BLOG_EXAMPLES + passages  # nothing new to read
    total, per_post = learning.overruled(session)
    assert total.decided == n and total.passed_but_removed == n // 2
    assert per_post[0][0] == post.id


def test_a_new_job_worker_judges_its_first_comment_from_stored_examples_never_replaying_100000(
    app: Flask, session: Session, make_post: Callable[..., Post], moderator: User
) -> None:
    """Issue 15: after a restart the first comment was judged only once the worker had replayed every
    decision (170 s at 100,000; gunicorn killed it at 30 s). The job that judges a comment answered
    "checking" reads what was stored, bounded: the post's latest PER_POST examples, the blog's latest
    BLOG_EXAMPLES, the posts' passages; a fixed number of statements, whatever the history's size."""
    post = make_post()
    first = submit(app, session, post, author_email="a@example.net", body="Is a nap in the afternoon bad?")
    _store_decisions(session, first, moderator, 100_000)
    with app.test_request_context("/"):
        checking = services.submit_comment(
            session,
            post,
            services.CommentInput(
                author_name="Nora Reader",
                author_email="nora@example.net",
                body="Does a short nap after lunch help adults sleep at night?",
                ip="203.0.113.77",
                permalink=f"http://blog.example.org/posts/{post.slug}",
            ),
            actor=None,
            checker=WithinBudget(akismet_checker(), 0),  # Akismet "too slow": the job judges it
            settings=pipeline_settings(),
        )
    session.commit()
    assert services.is_checking(checking)
    learning.forget_all()  # a job worker that has just started
    statements: list[str] = []
    engine = app.extensions["candor.engine"]
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        app.extensions["candor.tasks"].check_comment.call_local(checking.id)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    session.expire_all()
    judged = session.get(Comment, checking.id)
    assert judged is not None and not services.is_checking(judged)
    assert judged.relevance_score is not None  # scored by the model, from the stored examples
    passages = session.query(PostPassage).count()
    assert learning.rows_read(session) <= learning.BLOG_EXAMPLES + passages
    assert len(statements) < 60, statements  # a fixed number of statements, no loop over the history


def test_a_post_retracted_since_stops_counting_as_another_post_in_a_process_that_had_read_it(
    app: Flask, session: Session, make_post: Callable[..., Post], make_user: Callable[..., User]
) -> None:
    """The number of other posts chooses the weights (meaning.weights_for). A process that had read a
    post's passages kept counting it after its retraction, which nothing in that process saw: the
    retraction is done here without a word to app.comments.learning, as in another worker, and this
    process's next scoring reads the move of the ``corrections`` stamp and counts one post fewer."""
    first, second, third = (
        make_post(title=title, body=body)
        for title, body in (
            ("A post about sleep", "Adults need *seven hours* of sleep."),
            ("Hand washing on the wards", "Wash for twenty seconds, before and after every patient."),
            ("The flu shot this autumn", "Book your flu shot at the staff clinic from October."),
        )
    )
    learning.forget_all()
    knowledge = learning.knowledge(session, first)
    assert knowledge is not None and knowledge.posts.others(str(first.id)) == 2
    editorial.retract(session, make_user("editor"), second, "The advice was withdrawn.")
    session.commit()
    knowledge = learning.knowledge(session, first)
    assert knowledge is not None and knowledge.posts.others(str(first.id)) == 1
    assert str(second.id) not in knowledge.posts.keys and str(third.id) in knowledge.posts.keys
    comment = submit(app, session, first, author_email="n@example.net", body="Is a nap after lunch bad?")
    labels = [label for label, _ in comment.relevance_drivers]
    assert labels[0] == "baseline of a blog with 1 other post(s) (the score starts here)", labels
    learning.forget_all()  # a process that starts after the retraction does not count it either
    knowledge = learning.knowledge(session, first)
    assert knowledge is not None and knowledge.posts.others(str(first.id)) == 1


@pytest.mark.parametrize(
    "body",
    [
        "word " * 999,  # far past the model's 256 tokens: truncated, still scored
        "\u202eCan I park here?\u202c \U0001f697\U0001f17f\ufe0f " * 20,  # direction marks, emoji
        "Сan I раrk hеrе оvеrnіght?",  # Cyrillic look-alikes
        "?",
    ],
)
def test_hostile_comments_are_scored_never_a_500(
    app: Flask, session: Session, make_post: Callable[..., Post], body: str
) -> None:
    post = make_post(
        title="The new parking ramp opens", body="# Rates and payment\n\nThe first hour is free."
    )
    comment = submit(app, session, post, author_email="h@example.net", body=body)
    assert comment.relevance_score is not None and 0.0 <= comment.relevance_score <= 1.0
    assert _off_topic_check(comment)["detail"].startswith("relevance")


LABELLED = Path(__file__).parent / "data" / "offtopic_labelled.json"
SLEEP = 5  # "Sleep is not a luxury: building better nights" (health advice)
HEALTH = (1, 2, 3)  # the flu shot, blood pressure and kidney stone posts: the same subject group
WITHOUT_THE_POSTS_WORDS = (  # on-topic comments of the labelled set on the sleep post
    "I've had trouble dozing off for years and nothing seems to work.",
    "Putting my phone in the kitchen overnight changed everything for me.",
    "Does a weighted blanket actually help with restlessness?",
    "The 20 minute rule is hard, I always just lie there hoping.",
)


def _small_blog(make_post: Callable[..., Post], blog: str) -> Post:
    """The sleep post of the labelled set published, alone or after a few posts on the same subject."""
    labelled = {p["id"]: p for p in json.loads(LABELLED.read_text(encoding="utf-8"))["posts"]}
    for key in HEALTH if blog == "health posts" else ():
        make_post(
            title=labelled[key]["title"], body=labelled[key]["body"], references=labelled[key]["references"]
        )
    sleep = labelled[SLEEP]
    return make_post(title=sleep["title"], body=sleep["body"], references=sleep["references"])


@pytest.mark.parametrize("blog", ["one post", "health posts"])
def test_on_a_small_blog_on_topic_comments_without_the_posts_words_are_published(
    app: Flask, session: Session, make_post: Callable[..., Post], blog: str
) -> None:
    post = _small_blog(make_post, blog)
    for n, body in enumerate(WITHOUT_THE_POSTS_WORDS):
        comment = submit(app, session, post, author_email=f"on{n}@example.net", body=body)
        assert "off_topic" not in comment.reasons, (body, _off_topic_check(comment)["detail"])


SMALL_TALK = (  # belong on no post; written for this test, none taken from the labelled set
    "who fixes garage doors around the north end?",  # seen in Chromium under the sleep post (0.78)
    "Is anyone else's wifi dropping out every evening this week?",
    "Who won the darts at the Red Lion on Friday?",
)


SMALL_BLOG_DETAIL = "would hold; the blog has fewer than 10 other posts to compare with; relevance "


@pytest.mark.parametrize("blog", ["one post", "health posts"])
def test_on_a_small_blog_small_talk_is_flagged_not_held_and_the_moderator_sees_why(
    app: Flask, session: Session, make_post: Callable[..., Post], blog: str
) -> None:
    """With no other post to measure a margin against (or a few on the same subject), small talk is still
    scored off-topic: the weights of a small blog lean on the closeness to the post and to talk that
    belongs elsewhere, and the detail a moderator reads names the baseline and that signal. Below FULL_BLOG
    other posts the filter flags it (recorded as log mode records it, published); with the admin setting
    ``offtopic_small_blog`` = hold it is held."""
    post = _small_blog(make_post, blog)
    others = "no other post" if blog == "one post" else "3 other post(s)"
    for setting in ("flag", "hold"):
        app.config["OFFTOPIC_SMALL_BLOG"] = setting
        for n, body in enumerate(SMALL_TALK):
            comment = submit(app, session, post, author_email=f"off{n}-{setting}@example.net", body=body)
            check = _off_topic_check(comment)
            detail = check["detail"]
            if setting == "flag":
                assert "off_topic" not in comment.reasons and check["verdict"] == "publish", (body, detail)
                assert detail.startswith("log only, not held (CANDOR_OFFTOPIC_SMALL_BLOG=flag): "), detail
                assert SMALL_BLOG_DETAIL in detail, detail
            else:
                assert comment.status == "held" and "off_topic" in comment.reasons, (body, detail)
                assert check["verdict"] == "hold" and detail.startswith("relevance "), detail
            labels = [label for label, _ in comment.relevance_drivers]
            assert labels[0] == f"baseline of a blog with {others} (the score starts here)", labels
            assert any(label.startswith("reads like talk for somewhere else (") for label in labels), labels
            assert f"baseline of a blog with {others}" in detail, detail
            assert "reads like talk for somewhere else" in detail, detail


def _returning_reader(session: Session, post: Post, email: str) -> None:
    """A reader with a comment published before (on ``post``), so that the first-comment hold is not among
    the reasons and the off-topic filter alone decides the status. Stored as an imported comment is, with
    no moderator's decision: an approval would be an example the filter learns from, and this blog has
    no moderation history."""
    session.add(
        Comment(
            post_id=post.id,
            author_name="Returning Reader",
            author_email=email,
            body="Thank you for this.",
            html="<p>Thank you for this.</p>",
            status="published",
        )
    )
    session.commit()


def _stored(session: Session, comment: Comment) -> Comment:
    """``comment`` as the database has it now (read again, nothing kept from the submission)."""
    session.expire_all()
    stored = session.get(Comment, comment.id)
    assert stored is not None
    return stored


def test_at_full_blog_other_posts_the_same_small_talk_is_held(
    app: Flask, session: Session, make_post: Callable[..., Post]
) -> None:
    """From meaning.FULL_BLOG other published posts on, the filter compares with enough of the blog: the
    default setting (flag) holds what it scores off-topic; one post fewer, the same comment from a reader
    in the same standing is only flagged (published, recorded as would-hold). Both comments come from
    returning readers, so no other check holds them: the status, the stored reasons and the checks record
    are the off-topic filter's doing alone.

    Only the darts question is asserted: on this blog of health posts without any moderation history the
    full-blog weights (meaning.MANY) score the garage doors remark on-topic (0.83) and put the wifi one on
    the threshold (0.519 here, 0.52 elsewhere: which side depends on the processor's last bits). MANY
    finds small talk by the margin against other subjects and by the moderators' decisions; ten posts on
    one subject with no decisions give it neither, and MANY does not use the ELSEWHERE phrases that LONE
    leans on (README "Session 27, small blogs")."""
    labelled = [p for p in json.loads(LABELLED.read_text(encoding="utf-8"))["posts"] if p["id"] != SLEEP]
    candidates = iter(labelled)
    others: list[Post] = []

    def publish_another() -> None:
        for other in candidates:  # those the publication gates let through (some name people)
            try:
                others.append(
                    make_post(title=other["title"], body=other["body"], references=other["references"])
                )
            except PublishBlocked:
                session.rollback()
                continue
            return
        raise AssertionError("too few labelled posts pass the gates")

    assert app.config.get("OFFTOPIC_SMALL_BLOG", "flag") == "flag"  # the default setting is under test
    for _ in range(meaning.FULL_BLOG - 1):
        publish_another()
    post = _small_blog(make_post, "one post")
    for email in ("dara@example.net", "eli@example.net"):
        _returning_reader(session, others[0], email)
    darts = SMALL_TALK[2]
    threshold = app.config.get("OFFTOPIC_THRESHOLD", 52) / 100

    def judged(email: str, n: int) -> tuple[Comment, dict[str, Any]]:
        comment = _stored(session, submit(app, session, post, author_email=email, body=darts))
        assert comment.body == darts and comment.relevance_score is not None
        assert comment.relevance_score < threshold, comment.relevance_score  # scored off-topic at either size
        assert comment.relevance_drivers[0][0] == (
            f"baseline of a blog with {n} other post(s) (the score starts here)"
        )
        names = [c["check"] for c in comment.checks]
        assert names.count("off_topic") == 1 and "first_comment" in names, names
        for c in comment.checks:  # every check but the off-topic filter's let the comment through
            if c["check"] != "off_topic":
                assert c["verdict"] == "publish" and not c.get("reasons"), c
        return comment, _off_topic_check(comment)

    # FULL_BLOG - 1 other posts: flagged, published; the moderator is told it would have been held.
    flagged, check = judged("dara@example.net", meaning.FULL_BLOG - 1)
    assert flagged.status == "published" and flagged.reasons == [], (flagged.status, flagged.reasons)
    assert check["verdict"] == "publish" and not check.get("reasons"), check
    assert check["detail"].startswith(
        f"log only, not held (CANDOR_OFFTOPIC_SMALL_BLOG=flag): would hold; the blog has fewer than "
        f"{meaning.FULL_BLOG} other posts to compare with; relevance {flagged.relevance_score:.2f} "
        f"(threshold {threshold:.2f}): "
    ), check

    # One post more, FULL_BLOG other posts: the same words from a reader in the same standing are held.
    publish_another()
    held, check = judged("eli@example.net", meaning.FULL_BLOG)
    assert held.status == "held" and held.reasons == ["off_topic"], (held.status, held.reasons)
    assert check["verdict"] == "hold" and check["reasons"] == ["off_topic"], check
    assert check["detail"].startswith(
        f"relevance {held.relevance_score:.2f} (threshold {threshold:.2f}): "
    ), check  # never "log only", never "fewer than 10 other posts"
    assert _stored(session, flagged).status == "published"  # the earlier one is left as it was


def test_the_moderator_finds_small_talk_flagged_on_a_blog_of_one_post_by_links(
    app: Flask, client: Any, session: Session, make_post: Callable[..., Post], moderator: User, api: Any
) -> None:
    """From the published comments, a link lists only those the filter flagged; each opens to why."""
    post = _small_blog(make_post, "one post")
    returning = submit(app, session, post, author_email="g@example.net", body=WITHOUT_THE_POSTS_WORDS[1])
    moderate(session, moderator, returning, "approve")  # so that no first-comment hold is in the way
    flagged = submit(app, session, post, author_email="g@example.net", body=SMALL_TALK[0])
    assert flagged.status == "published" and not flagged.reasons, flagged.reasons
    on_topic = submit(app, session, post, author_email="g@example.net", body=WITHOUT_THE_POSTS_WORDS[2])
    assert on_topic.status == "published"
    session.commit()
    log_in(client, moderator.email)
    desk = parse(client.get("/staff/comments/"))
    published = next(a["href"] for a in desk.select("nav.mod-tabs a") if a.get_text().startswith("Published"))
    page = parse(client.get(published))
    assert {f"mod-comment-{flagged.id}", f"mod-comment-{on_topic.id}"} <= {
        a["id"] for a in page.select("article")
    }
    link = next(
        a["href"] for a in page.select("p.flag-filter a") if a.get_text() == "Flagged off-topic, not held"
    )
    page = parse(client.get(link))
    assert [a["id"] for a in page.select("article.mod-item")] == [f"mod-comment-{flagged.id}"]
    assert "fewer than 10 other posts" in text_of(page, "p.flag-filter")
    opened = next(
        a["href"] for a in page.select("article.mod-item a") if a.get_text().startswith("Open in context")
    )
    page = parse(client.get(opened))
    drivers = [re.sub(r"\s+", " ", li.get_text(" ")).strip() for li in page.select("ul.drivers li")]
    assert drivers[0].startswith("baseline of a blog with no other post (the score starts here) (+"), drivers
    against = [re.sub(r"\s+", " ", li.get_text(" ")).strip() for li in page.select("ul.drivers li.against")]
    elsewhere = "reads like talk for somewhere else (local services), "
    assert any(d.startswith(elsewhere) for d in against), against
    assert SMALL_BLOG_DETAIL in page.get_text(" ")
    listing = api.get("/api/v1/moderation/comments?status=published&reason=off_topic:flagged", as_=moderator)
    assert [c["id"] for c in listing.get_json()["items"]] == [flagged.id], listing.get_json()
