"""Stored off-topic vectors and the copies each process keeps (issue 14).

A redaction rewrites a moderator example's vector in place (migration 0026's one door). The process that
applied it drops its copy after the commit; every other process notices the stamp of
app.comments.vectors moved and reads its examples again, rather than scoring with the redacted words'
vector until it restarts. "Another process" is played here by putting back the copy this process held
before the redaction, which is exactly what another worker still holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from app.comments import learning, vectors
from app.comments.models import Comment
from app.moderation.services import moderate
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
