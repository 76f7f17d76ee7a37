"""Stored off-topic vectors and the copies each process keeps (issue 14).

A redaction rewrites a moderator example's vector in place (migration 0026's one door). The process that
applied it drops its copy after the commit; every other process notices the stamp of
app.comments.vectors moved and reads its examples again, rather than scoring with the redacted words'
vector until it restarts. "Another process" is played here by putting back the copy this process held
before the redaction, which is exactly what another worker still holds.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.comments import learning, vectors
from app.comments.models import Comment
from app.editorial import services as editorial
from app.moderation.services import moderate
from app.posts.models import Post
from app.posts.passages import PostPassage
from app.spam import embedding

IDENT = "Jane Quigley"


def _encoded(text: str) -> np.ndarray:
    return embedding.encoder().encode(text, max_tokens=embedding.COMMENT_TOKENS)


def test_a_redacted_example_is_read_again_by_processes_that_kept_it(
    api: Any, session: Session, make_post: Any, make_user: Any
) -> None:
    learning.forget_all()
    post = make_post("published")
    said = f"My aunt {IDENT} slept badly on the ward."
    comment = Comment(
        post_id=post.id, author_name="Reader", author_email="r@example.org", body=said, html="<p>x</p>"
    )
    session.add(comment)
    session.flush()
    moderate(session, make_user("moderator"), comment, "approve")
    session.commit()
    assert vectors.examples_stamp(session) == ()  # no row until an example is rewritten

    kept = learning._blog(session)  # this process's copy, as every worker has one
    assert len(kept.examples) == 1 and np.array_equal(kept.examples[0].vector, _encoded(said))
    session.rollback()

    answer = api.post(
        "/api/v1/redactions",
        {"target": "comment", "id": comment.id, "text": IDENT, "reason": "Patient."},
        as_=make_user("editor", name="Erin Editor"),
    )
    assert answer.status_code == 201, answer.get_json()
    session.expire_all()
    redacted = session.get(Comment, comment.id).body
    assert IDENT not in redacted
    moved = vectors.examples_stamp(session)
    assert moved != ()

    key = str(session.get_bind().url)
    with learning._lock:
        learning._cache[key] = kept  # another worker: it still holds the copy from before the redaction
    fresh = learning._blog(session)
    assert fresh is not kept and fresh.stamp == moved
    assert len(fresh.examples) == 1
    assert np.array_equal(fresh.examples[0].vector, _encoded(redacted))
    assert not np.array_equal(fresh.examples[0].vector, _encoded(said))
    assert learning._blog(session) is fresh  # read again once, not at every scoring
    learning.forget_all()


def test_check_vectors_finds_a_stored_vector_the_current_graph_would_not_make(
    session: Session, make_post: Any, make_user: Any, runner: Any, gate_settings: Any
) -> None:
    from app.comments.learning import OffTopicExample
    from app.posts import passages
    from app.spam import meaning

    first = make_post(
        "published", title="Parking ramp", body="The ramp opens on Monday.\n\n## Height\n\n2.1 m."
    )
    passages.store(session, first, first.published_revision)  # as publication stores them
    moderator = make_user("moderator")
    comments = [
        Comment(
            post_id=first.id, author_name="R", author_email=f"r{n}@example.org", body=text, html="<p>x</p>"
        )
        for n, text in enumerate(["Will a van with a roof rack fit?", "Buy cheap watches here"])
    ]
    session.add_all(comments)
    session.flush()
    moderate(session, moderator, comments[0], "approve")  # an example, encoded now
    session.commit()

    answer = runner.invoke(args=["offtopic", "check-vectors", "--batch", "1"])
    assert answer.exit_code == 0, answer.output
    lines = answer.output.splitlines()
    assert lines[0].startswith("post passages: ") and "differ" not in answer.output
    checked = int(lines[0].split(": ")[1].split()[0])
    assert checked >= 2 and f"{checked} as the current graph encodes them" in lines[0]
    assert lines[1] == "moderator examples: 1 checked, 1 as the current graph encodes them"

    # Stored under another graph (here: another text's vector), as rows from before a model change are:
    # rows already there when the revision is published are kept by the publication.
    second = make_post("in_review", title="Library hours", body="Open until ten.")
    revision = second.current_revision
    pieces = meaning.passages_of(revision.title, revision.body, [t.name for t in revision.topics])
    wrong = embedding.to_bytes(_encoded("something else entirely"))
    session.add_all(
        passages.PostPassage(
            post_id=second.id,
            revision_id=revision.id,
            position=i,
            label=label[:300],
            vector=wrong if i == 0 else embedding.to_bytes(embedding.encoder().encode(text)),
        )
        for i, (label, text) in enumerate(pieces)
    )
    decision = moderate(session, moderator, comments[1], "spam")  # teaches nothing: no example of its own
    session.flush()
    session.add(
        OffTopicExample(
            decision_id=decision.id,
            comment_id=comments[1].id,
            post_id=first.id,
            on_topic=False,
            filter_on_topic=None,
            vector=wrong,
        )
    )
    session.commit()
    editorial.approve(
        session, make_user("editor", name="Erin Editor"), second, revision.number, gate_settings
    )
    session.commit()
    assert second.published_revision_id == revision.id

    answer = runner.invoke(args=["offtopic", "check-vectors"])
    assert answer.exit_code == 1, answer.output
    lines = answer.output.splitlines()
    total = checked + len(pieces)
    assert lines[0].startswith(
        f"post passages: {total} checked, {total - 1} as the current graph encodes them"
    )
    assert ", 1 differ (lowest cosine " in lines[0]
    assert lines[1].startswith("moderator examples: 2 checked, 1 as the current graph encodes them, 1 differ")


def _stale_rows(session: Session, make_post: Any, make_user: Any, gate_settings: Any) -> dict[str, Any]:
    """A blog whose stored vectors are partly another graph's: a post published with today's passages
    and an approved comment (today's example), then a post whose first passage and an example whose
    vector were stored by "another graph" (here: another text's vector), as rows from before a model
    change are. Rows can only be inserted so: the tables refuse an UPDATE that is not a re-encoding."""
    from app.comments.learning import OffTopicExample
    from app.posts import passages
    from app.spam import meaning

    first = make_post(
        "published", title="Parking ramp", body="The ramp opens on Monday.\n\n## Height\n\n2.1 m."
    )
    passages.store(session, first, first.published_revision)
    moderator = make_user("moderator")
    comments = [
        Comment(
            post_id=first.id, author_name="R", author_email=f"r{n}@example.org", body=text, html="<p>x</p>"
        )
        for n, text in enumerate(["Will a van with a roof rack fit?", "Buy cheap watches here"])
    ]
    session.add_all(comments)
    session.flush()
    moderate(session, moderator, comments[0], "approve")
    second = make_post("in_review", title="Library hours", body="Open until ten.")
    revision = second.current_revision
    pieces = meaning.passages_of(revision.title, revision.body, [t.name for t in revision.topics])
    wrong = embedding.to_bytes(_encoded("something else entirely"))
    session.add_all(
        passages.PostPassage(
            post_id=second.id,
            revision_id=revision.id,
            position=i,
            label=label[:300],
            vector=wrong if i == 0 else embedding.to_bytes(embedding.encoder().encode(text)),
        )
        for i, (label, text) in enumerate(pieces)
    )
    decision = moderate(session, moderator, comments[1], "spam")
    session.flush()
    session.add(
        OffTopicExample(
            decision_id=decision.id,
            comment_id=comments[1].id,
            post_id=first.id,
            on_topic=False,
            filter_on_topic=None,
            vector=wrong,
        )
    )
    session.commit()
    editorial.approve(
        session, make_user("editor", name="Erin Editor"), second, revision.number, gate_settings
    )
    session.commit()
    return {"first": first, "second": second, "revision": revision, "pieces": pieces, "comments": comments}


def _stored_vectors(session: Session) -> dict[tuple[str, int], tuple[bytes, int]]:
    from app.comments.learning import OffTopicExample
    from app.posts.passages import PostPassage

    session.expire_all()
    found = {("passage", row.id): (row.vector, row.encoding) for row in session.scalars(select(PostPassage))}
    found.update(
        {("example", row.id): (row.vector, row.encoding) for row in session.scalars(select(OffTopicExample))}
    )
    return found


def test_reencode_rewrites_the_stored_vectors_that_differ_and_nothing_the_second_time(
    session: Session, make_post: Any, make_user: Any, runner: Any, gate_settings: Any
) -> None:
    from app.posts.passages import OffTopicEncoding

    learning.forget_all()
    blog = _stale_rows(session, make_post, make_user, gate_settings)
    answer = runner.invoke(args=["offtopic", "check-vectors"])
    assert answer.exit_code == 1, answer.output
    before = _stored_vectors(session)
    passages_total = sum(1 for kind, _ in before if kind == "passage")
    assert vectors.examples_stamp(session) == ()

    answer = runner.invoke(args=["offtopic", "reencode", "--batch", "1"])
    assert answer.exit_code == 0, answer.output
    lines = answer.output.splitlines()
    assert lines[0].startswith(
        f"post passages: {passages_total} checked, {passages_total - 1} already as the current graph "
        "encodes them, 1 re-encoded (lowest cosine with the old vector "
    )
    assert lines[1].startswith(
        "moderator examples: 2 checked, 1 already as the current graph encodes them, 1 re-encoded ("
    )
    runs = list(session.scalars(select(OffTopicEncoding)))
    assert len(runs) == 1 and runs[0].model_sha256 == embedding.MODEL_SHA256
    after = _stored_vectors(session)
    changed = {key for key in before if before[key] != after[key]}
    assert len(changed) == 2 and {kind for kind, _ in changed} == {"passage", "example"}
    for key in changed:
        assert after[key][1] == runs[0].id
    for key in set(before) - changed:
        assert after[key][1] == 0
    first_passage = next(
        row
        for row in session.scalars(select(PostPassage).where(PostPassage.revision_id == blog["revision"].id))
        if row.position == 0
    )
    assert first_passage.vector == embedding.to_bytes(embedding.encoder().encode(blog["pieces"][0][1]))
    assert vectors.examples_stamp(session) != ()  # every process reads its posts and examples again

    answer = runner.invoke(args=["offtopic", "check-vectors"])
    assert answer.exit_code == 0, answer.output
    assert "differ" not in answer.output

    answer = runner.invoke(args=["offtopic", "reencode"])  # again: nothing left to do, no new run
    assert answer.exit_code == 0, answer.output
    assert ", 0 re-encoded" in answer.output.splitlines()[0]
    assert ", 0 re-encoded" in answer.output.splitlines()[1]
    assert len(list(session.scalars(select(OffTopicEncoding)))) == 1
    assert _stored_vectors(session) == after
    learning.forget_all()


def _refused(session: Session, statement: str, **params: Any) -> bool:
    """Whether the database refuses ``statement`` (tried in a savepoint, so the test goes on)."""
    savepoint = session.begin_nested()
    try:
        session.execute(text(statement), params)
    except DBAPIError as exc:
        savepoint.rollback()
        assert "append-only" in str(exc)
        return True
    savepoint.commit()
    return False


def test_the_stored_vectors_tables_let_only_a_reencoding_or_a_redaction_rewrite_a_row(
    session: Session, make_post: Any, make_user: Any, gate_settings: Any
) -> None:
    from app.comments.learning import OffTopicExample
    from app.posts.passages import OffTopicEncoding

    _stale_rows(session, make_post, make_user, gate_settings)
    passage = session.scalars(select(PostPassage).order_by(PostPassage.id)).first()
    example = session.scalars(select(OffTopicExample).order_by(OffTopicExample.id)).first()
    assert passage is not None and example is not None
    fresh = embedding.to_bytes(_encoded("a vector of today"))
    for table, row in (("post_passages", passage.id), ("offtopic_examples", example.id)):
        # No run recorded: no encoding to move to.
        assert _refused(
            session, f"UPDATE {table} SET vector = :v, encoding = 1 WHERE id = :id", v=fresh, id=row
        )
    run = OffTopicEncoding(model_sha256="a" * 64, tokenizer_sha256="b" * 64)
    session.add(run)
    session.flush()
    for table, row, other in (
        ("post_passages", passage.id, "label = 'the title, renamed'"),
        ("post_passages", passage.id, "position = 99"),
        ("post_passages", passage.id, "redaction_count = 1"),
        ("offtopic_examples", example.id, "on_topic = NOT on_topic"),
        ("offtopic_examples", example.id, "redaction_count = 1"),
    ):
        assert _refused(
            session,
            f"UPDATE {table} SET vector = :v, encoding = :e, {other} WHERE id = :id",
            v=fresh,
            e=run.id,
            id=row,
        )
    for table, row in (("post_passages", passage.id), ("offtopic_examples", example.id)):
        assert _refused(session, f"UPDATE {table} SET vector = :v WHERE id = :id", v=fresh, id=row)
        assert _refused(
            session,
            f"UPDATE {table} SET vector = :v, encoding = :e WHERE id = :id",
            v=fresh,
            e=run.id + 1,
            id=row,
        )
        assert not _refused(
            session,
            f"UPDATE {table} SET vector = :v, encoding = :e WHERE id = :id",
            v=fresh,
            e=run.id,
            id=row,
        )
        # Once at this run's encoding, the same run cannot rewrite it again; nothing deletes it.
        assert _refused(
            session,
            f"UPDATE {table} SET vector = :v, encoding = :e WHERE id = :id",
            v=fresh,
            e=run.id,
            id=row,
        )
        assert _refused(session, f"DELETE FROM {table} WHERE id = :id", id=row)
    assert _refused(session, "DELETE FROM offtopic_encodings")
    session.rollback()


class BetweenReadAndWrite:
    """Runs ``meanwhile`` once, in a thread of its own, at the moment ``reencode`` has read (and encoded) a
    batch of ``table``'s rows and ended that reading transaction, before its write begins: the end of the
    first transaction of this thread's sessions that read ``table``. SQLAlchemy's own session events
    (``do_orm_execute``, ``after_rollback``) are the hook; nothing of ours is replaced. The thread has its
    own session (or request) and connection, and commits before the reencode goes on."""

    def __init__(self, app: Any, table: str, meanwhile: Any) -> None:
        self.factory = app.extensions["candor.sessions"]
        self.table, self.meanwhile = table, meanwhile
        self.reader = threading.current_thread()
        self.read_by: Any = None
        self.ran = False
        self.failures: list[BaseException] = []

    def _read(self, state: Any) -> None:
        if threading.current_thread() is not self.reader or not state.is_select or self.ran:
            return
        if any(mapper.local_table.name == self.table for mapper in state.all_mappers):
            self.read_by = state.session

    def _ended(self, session: Session) -> None:
        if session is not self.read_by or self.ran:
            return
        self.ran = True

        def run() -> None:
            try:
                self.meanwhile()
            except BaseException as error:  # noqa: BLE001 - asserted on by the test
                self.failures.append(error)

        other = threading.Thread(target=run)
        other.start()
        other.join(timeout=60)
        assert not other.is_alive(), "the interleaved write did not finish"

    def __enter__(self) -> BetweenReadAndWrite:
        event.listen(self.factory, "do_orm_execute", self._read)
        event.listen(self.factory, "after_rollback", self._ended)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.factory, "do_orm_execute", self._read)
        event.remove(self.factory, "after_rollback", self._ended)


def test_reencode_never_undoes_a_redaction_committed_between_its_read_and_its_write(
    app: Any, client: Any, session: Session, make_post: Any, make_user: Any, make_token: Any, runner: Any
) -> None:
    """`flask offtopic reencode` reads a batch (here one example), encodes it, and only then writes. A
    redaction of that example's comment, through the API, commits in between: its example's vector is now
    the redacted text's. The rewrite must leave that row alone (its vector is no longer the one read), or
    the vector of the unredacted words, the identifier in them, would be back; the command says so and
    exits 1; a second run finds nothing to do, exits 0, and leaves the redaction's vector as it is."""
    from app.comments.learning import OffTopicExample
    from app.posts.passages import OffTopicEncoding

    learning.forget_all()
    post = make_post("published")
    moderator = make_user("moderator")
    said = [f"My aunt {IDENT} slept badly on the ward.", "Buy cheap watches here"]
    comments = [
        Comment(
            post_id=post.id, author_name="R", author_email=f"r{n}@example.org", body=body, html="<p>x</p>"
        )
        for n, body in enumerate(said)
    ]
    session.add_all(comments)
    session.flush()
    wrong = embedding.to_bytes(_encoded("something else entirely"))  # as stored by "another graph"
    for comment in comments:  # examples inserted so (the tables refuse an UPDATE that is not a re-encoding)
        decision = moderate(session, moderator, comment, "spam")  # teaches nothing: no example of its own
        session.flush()
        session.add(
            OffTopicExample(
                decision_id=decision.id,
                comment_id=comment.id,
                post_id=post.id,
                on_topic=False,
                filter_on_topic=None,
                vector=wrong,
            )
        )
        session.flush()
    session.commit()
    redacted_id, other_id = session.scalars(
        select(OffTopicExample.id).order_by(OffTopicExample.id)
    ).all()  # the redacted comment's example is read first, in a batch of its own
    headers = {"Authorization": f"Bearer {make_token(make_user('editor', name='Erin Editor'))}"}
    answers: list[Any] = []

    def redact() -> None:
        answers.append(
            client.post(
                "/api/v1/redactions",
                json={"target": "comment", "id": comments[0].id, "text": IDENT, "reason": "Patient."},
                headers=headers,
            )
        )

    with BetweenReadAndWrite(app, "offtopic_examples", redact) as meanwhile:
        answer = runner.invoke(args=["offtopic", "reencode", "--batch", "1"])
    assert meanwhile.ran and not meanwhile.failures, meanwhile.failures
    assert answers[0].status_code == 201, answers[0].get_json()
    assert answer.exit_code == 1, answer.output
    lines = answer.output.splitlines()
    assert lines[1].startswith(
        "moderator examples: 2 checked, 0 already as the current graph encodes them, 1 re-encoded ("
    ), lines
    assert lines[1].endswith("), 1 changed meanwhile (left for the next run)"), lines
    assert "changed meanwhile" not in lines[0], lines

    session.expire_all()
    redacted_body = session.get(Comment, comments[0].id).body
    assert IDENT not in redacted_body
    example = session.get(OffTopicExample, redacted_id)
    assert example.vector == embedding.to_bytes(_encoded(redacted_body))  # the redaction's, kept
    assert example.vector != embedding.to_bytes(_encoded(said[0]))  # never the unredacted words'
    assert (example.redaction_count, example.encoding) == (1, 0)  # written by the redaction alone
    run = session.scalars(select(OffTopicEncoding)).one()
    other = session.get(OffTopicExample, other_id)
    assert other.vector == embedding.to_bytes(_encoded(said[1])) and other.encoding == run.id
    after = _stored_vectors(session)

    answer = runner.invoke(args=["offtopic", "reencode", "--batch", "1"])  # run again, as it said
    assert answer.exit_code == 0, answer.output
    assert answer.output.splitlines()[1] == (
        "moderator examples: 2 checked, 2 already as the current graph encodes them, 0 re-encoded"
    ), answer.output
    assert _stored_vectors(session) == after  # nothing rewritten: the redaction's vector stays
    assert len(session.scalars(select(OffTopicEncoding)).all()) == 1  # and no new run recorded
    learning.forget_all()


def test_reencode_leaves_a_vector_another_run_rewrote_between_its_read_and_its_write(
    app: Any, session: Session, make_post: Any, make_user: Any, runner: Any, gate_settings: Any
) -> None:
    """Two `flask offtopic reencode` at once (two operators, or a cron job and a person): the other run
    rewrites a passage this one has read and encoded, and commits first. This run leaves that row alone
    (it keeps the other run's encoding, not this run's), says so and exits 1; run again, it finds nothing
    to do and exits 0."""
    from app.posts import passages
    from app.posts.passages import OffTopicEncoding
    from app.spam import meaning

    learning.forget_all()
    post = make_post(
        "in_review", title="Library hours", body="Open until ten.\n\n## Weekends\n\nNoon to six."
    )
    revision = post.current_revision
    pieces = meaning.passages_of(revision.title, revision.body, [t.name for t in revision.topics])
    wrong = embedding.to_bytes(_encoded("something else entirely"))  # as stored by "another graph"
    session.add_all(
        passages.PostPassage(
            post_id=post.id,
            revision_id=revision.id,
            position=i,
            label=label[:300],
            vector=wrong if i == 1 else embedding.to_bytes(embedding.encoder().encode(text)),
        )
        for i, (label, text) in enumerate(pieces)
    )
    session.commit()
    editorial.approve(session, make_user("editor", name="Erin Editor"), post, revision.number, gate_settings)
    session.commit()  # the first revision with stored passages: the first batch the reencode reads
    stale = session.scalars(
        select(PostPassage).where(PostPassage.revision_id == revision.id, PostPassage.position == 1)
    ).one()
    reports: list[list[vectors.Drift]] = []

    def another_run() -> None:
        own = app.extensions["candor.sessions"]()
        try:
            reports.append(vectors.reencode(own, batch=100))
        finally:
            own.close()

    with BetweenReadAndWrite(app, "post_passages", another_run) as meanwhile:
        answer = runner.invoke(args=["offtopic", "reencode", "--batch", "1"])
    assert meanwhile.ran and not meanwhile.failures, meanwhile.failures
    assert [(kind.differ, kind.skipped) for kind in reports[0]] == [(1, 0), (0, 0)]  # the other run's
    assert answer.exit_code == 1, answer.output
    lines = answer.output.splitlines()
    assert lines[0].endswith(", 0 re-encoded, 1 changed meanwhile (left for the next run)"), lines

    session.expire_all()
    other_run = session.scalars(select(OffTopicEncoding).order_by(OffTopicEncoding.id)).first()
    assert other_run is not None
    row = session.get(PostPassage, stale.id)
    assert row.vector == embedding.to_bytes(embedding.encoder().encode(pieces[1][1]))
    assert row.encoding == other_run.id  # the other run's write stands; this run wrote nothing over it
    after = _stored_vectors(session)

    answer = runner.invoke(args=["offtopic", "reencode", "--batch", "1"])  # run again, as it said
    assert answer.exit_code == 0, answer.output
    assert all(", 0 re-encoded" in line for line in answer.output.splitlines()), answer.output
    assert "changed meanwhile" not in answer.output
    assert _stored_vectors(session) == after
    learning.forget_all()


def test_a_redacted_revision_s_passages_keep_neither_the_identifier_nor_its_vector(
    api: Any, session: Session, make_post: Any, make_user: Any, runner: Any
) -> None:
    """A confirmed redaction of a published revision removes the identifier from the revision, its HTML,
    its diffs and the search index; the off-topic filter's passages of that revision are derived from the
    same words (a section's label is its heading, its vector the section's text) and must follow, as a
    redacted comment's example does (``learning.rewrite_redacted``). Otherwise the label comes back in the
    drivers of every comment scored on the post afterwards (stored in the comment, shown to moderators),
    and `offtopic reencode` cannot mend it: the passages are no longer cut the same way."""
    from app.comments.learning import post_context
    from app.spam import meaning

    post = make_post(
        "published",
        title="A recovery",
        body=f"## How {IDENT} recovered\n\n{IDENT} slept well after the operation.",
    )
    first, second = make_user("editor", name="Erin First"), make_user("editor", name="Femi Second")
    asked = api.post(
        "/api/v1/redactions",
        {"target": "revision", "post_id": post.id, "revision": 1, "text": IDENT, "reason": "Patient."},
        as_=first,
    )
    assert asked.status_code == 201, asked.get_json()
    done = api.post(f"/api/v1/redactions/{asked.get_json()['id']}/confirm", as_=second)
    assert done.status_code == 200 and done.get_json()["state"] == "applied", done.get_json()
    session.expire_all()
    learning.forget_all()

    knowledge = learning.knowledge(session, post)
    assert knowledge is not None
    revision = session.get(Post, post.id).published_revision
    assert IDENT not in revision.body
    scored = meaning.score("How did she sleep after the operation?", post_context(post, revision), knowledge)
    labels = [label for label, _ in scored.drivers]
    assert not any(IDENT in label for label in labels), labels  # what a new comment would store
    rows = session.scalars(select(PostPassage).where(PostPassage.revision_id == revision.id)).all()
    assert rows and not any(IDENT in row.label for row in rows), [row.label for row in rows]
    answer = runner.invoke(args=["offtopic", "check-vectors"])
    assert answer.exit_code == 0 and "no longer cut" not in answer.output, answer.output
    learning.forget_all()


def _redact_published(api: Any, make_user: Any, post: Any, needle: str) -> None:
    """A redaction of the post's first revision, asked by one editor and confirmed by another."""
    first, second = make_user("editor", name="Erin First"), make_user("editor", name="Femi Second")
    asked = api.post(
        "/api/v1/redactions",
        {"target": "revision", "post_id": post.id, "revision": 1, "text": needle, "reason": "Patient."},
        as_=first,
    )
    assert asked.status_code == 201, asked.get_json()
    done = api.post(f"/api/v1/redactions/{asked.get_json()['id']}/confirm", as_=second)
    assert done.status_code == 200 and done.get_json()["state"] == "applied", done.get_json()


def test_comments_scored_before_a_revision_s_redaction_no_longer_quote_its_identifier(
    app: Any, api: Any, session: Session, make_post: Any, make_user: Any
) -> None:
    """A comment scored before the redaction stored "closest to the section 'How <name> recovered'" in its
    drivers and its off_topic check's detail (both shown to moderators): the redaction rewrites them, and
    this process's own copy of the post's passages (kept per revision) is not used again."""
    from app.audit.models import AuditEntry
    from app.redaction.models import MARK
    from tests.support.comments import submit

    learning.forget_all()
    post = make_post(
        "published",
        title="A recovery",
        body=f"## How {IDENT} recovered\n\n{IDENT} slept well after the operation.",
    )
    comment = submit(
        app, session, post, author_email="n@example.net", body="How did she sleep after the operation?"
    )
    session.commit()
    detail = next(c["detail"] for c in comment.checks if c["check"] == "off_topic")
    assert any(IDENT in label for label, _ in comment.relevance_drivers), comment.relevance_drivers
    assert IDENT in detail, detail
    before = learning.knowledge(session, post)  # this process keeps the post's passages
    assert before is not None and any(IDENT in p.label for p in before.post.passages)
    session.rollback()

    _redact_published(api, make_user, post, IDENT)
    session.expire_all()
    comment = session.get(Comment, comment.id)
    assert not any(IDENT in label for label, _ in comment.relevance_drivers), comment.relevance_drivers
    assert any(f"How {MARK} recovered" in label for label, _ in comment.relevance_drivers)
    assert not any(IDENT in str(check) for check in comment.checks), comment.checks
    after = learning.knowledge(session, post)  # no forget_all: as another worker that kept its copy
    assert after is not None
    assert [p.label for p in after.post.passages] == [
        "the title",
        f"the section 'How {MARK} recovered'",
    ]
    assert np.array_equal(
        after.post.passages[1].vector,
        embedding.encoder().encode_many([f"How {MARK} recovered. {MARK} slept well after the operation."])[0],
    )
    applied = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "redaction.applied", AuditEntry.post_id == post.id)
    ).one()
    assert applied.data["post_passages_rewritten"] == 1
    assert applied.data["comment_drivers_rewritten"] == 1
    learning.forget_all()


def test_post_passages_let_a_redaction_rewrite_a_row_once_per_application_of_its_revision(
    api: Any, session: Session, make_post: Any, make_user: Any
) -> None:
    """Migration 0032's door: ``label``, ``vector`` and ``redaction_count`` change, the count up to the
    sequence of the revision's latest redaction application; nothing else, once; DELETE stays refused."""
    from app.posts import passages

    post = make_post("published", title="A recovery", body=f"{IDENT} slept well.\n\nShe went home on Friday.")
    rows = passages.store(session, post, post.published_revision)
    session.commit()
    title = rows[0].id  # "the title": its words never held the name
    fresh = embedding.to_bytes(_encoded("a vector of today"))
    rewrite = "UPDATE post_passages SET label = 'x', vector = :v, redaction_count = :n WHERE id = :id"
    assert _refused(session, rewrite, v=fresh, n=1, id=title)  # no redaction applied yet
    session.rollback()

    _redact_published(api, make_user, post, IDENT)
    session.expire_all()
    stored = {
        row.id: row for row in session.scalars(select(PostPassage).where(PostPassage.post_id == post.id))
    }
    assert {row.redaction_count for row in stored.values()} == {1}  # each row closed by the application
    assert _refused(session, rewrite, v=fresh, n=1, id=title)  # the title too, left as it was
    # A row stored before the application and left open (as one was, before every row took its count).
    opened = PostPassage(
        post_id=post.id, revision_id=rows[0].revision_id, position=len(rows), label="y", vector=fresh
    )
    session.add(opened)
    session.flush()
    title = opened.id
    assert _refused(session, rewrite, v=fresh, n=2, id=title)  # no second application
    assert _refused(session, rewrite, v=fresh, n=0, id=title)  # the count must move
    for other in ("position = 9", "revision_id = revision_id + 1", "encoding = 1", "created_at = NULL"):
        assert _refused(
            session,
            f"UPDATE post_passages SET vector = :v, redaction_count = 1, {other} WHERE id = :id",
            v=fresh,
            id=title,
        )
    assert not _refused(session, rewrite, v=fresh, n=1, id=title)
    assert _refused(session, rewrite, v=fresh, n=1, id=title)  # once per application
    assert _refused(session, "DELETE FROM post_passages WHERE id = :id", id=title)
    session.rollback()


def test_a_redaction_that_cuts_the_revision_into_fewer_passages_leaves_no_old_words_in_a_vector(
    api: Any, session: Session, make_post: Any, make_user: Any, runner: Any
) -> None:
    """An editor redacts a whole paragraph with the blank line after it: the redacted body has one paragraph
    fewer, so one passage fewer. The stored rows cannot go: the ones the new text still gives take its
    labels and vectors; the one left over keeps its label and the vector of that label alone, never of
    words that held the name (``check-vectors`` then says the passages are no longer cut the same way)."""
    from app.posts import passages

    paragraph = f"{IDENT} slept well after the operation."
    post = make_post(
        "published",
        title="A recovery",
        body=f"Surgery went well.\n\n{paragraph}\n\nShe ate soup.\n\nShe walked.\n\nShe went home.",
    )
    stored = passages.store(session, post, post.published_revision)
    session.commit()
    assert [row.label for row in stored] == [
        "the title",
        "the introduction",
        "paragraphs 3-4",
        "paragraphs 5-6",
    ]
    old_vectors = {row.position: row.vector for row in stored}

    _redact_published(api, make_user, post, f"{paragraph}\n\n")
    session.expire_all()
    revision = session.get(Post, post.id).published_revision
    assert IDENT not in revision.body
    rows = session.scalars(
        select(PostPassage).where(PostPassage.revision_id == revision.id).order_by(PostPassage.position)
    ).all()
    cut = meaning_passages(revision)
    assert [label for label, _ in cut] == ["the title", "the introduction", "paragraphs 3-4"]
    assert [row.label for row in rows] == [*(label for label, _ in cut), "paragraphs 5-6"]
    vectors = embedding.encoder().encode_many([text for _, text in cut] + ["paragraphs 5-6"])
    assert [row.vector for row in rows] == [embedding.to_bytes(v) for v in vectors]
    assert rows[0].vector == old_vectors[0]  # the title: untouched, but closed to a rewrite as the others
    assert all(row.redaction_count == 1 for row in rows)
    answer = runner.invoke(args=["offtopic", "check-vectors"])
    assert "4 passages no longer cut the same way" in answer.output, answer.output


def meaning_passages(revision: Any) -> list[tuple[str, str]]:
    from app.spam import meaning

    return meaning.passages_of(revision.title, revision.body, [t.name for t in revision.topics])


def test_after_a_redaction_no_passage_of_its_revision_can_be_rewritten_until_the_next_one(
    api: Any, session: Session, make_post: Any, make_user: Any
) -> None:
    """Migration 0032's door is for the redaction's application alone. A passage whose words never held
    the name (the title) is not rewritten by it, but must not be left open either: afterwards a plain
    UPDATE giving it the application's count rewrote its label and vector with no redaction at all. Nor a
    passage stored after the redaction (another post's scorer needed it later): it is stored with the
    revision's redaction count, so no one rewrites it until a further redaction of the revision."""
    from app.posts import passages

    fresh = embedding.to_bytes(_encoded("a vector of today"))
    rewrite = "UPDATE post_passages SET label = 'x', vector = :v, redaction_count = :n WHERE id = :id"
    post = make_post("published", title="A recovery", body=f"{IDENT} slept well.\n\nShe went home on Friday.")
    rows = passages.store(session, post, post.published_revision)
    session.commit()
    title = rows[0].id
    _redact_published(api, make_user, post, IDENT)
    session.expire_all()
    stored = session.scalars(select(PostPassage).where(PostPassage.post_id == post.id)).all()
    assert [row.redaction_count for row in stored] == [1] * len(stored)
    assert _refused(session, rewrite, v=fresh, n=1, id=title)
    session.rollback()

    later = make_post("published", title="A second recovery", body=f"{IDENT} slept.\n\nShe went home.")
    session.commit()
    _redact_published(api, make_user, later, IDENT)  # its passages were never stored
    session.expire_all()
    kept = passages.store(session, later, session.get(Post, later.id).published_revision)
    session.commit()
    assert kept and [row.redaction_count for row in kept] == [1] * len(kept)
    assert all(_refused(session, rewrite, v=fresh, n=1, id=row.id) for row in kept)
    session.rollback()
