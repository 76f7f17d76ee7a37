"""A redaction scrubs the words a comment's checks and off-topic drivers quote, never their fixed vocabulary.

Broke. Both of a comment's paths (its own redaction, and a redaction of its post's text rewriting the drivers
of the post's comments) replaced the removed text in every string of ``Comment.checks`` and
``Comment.relevance_drivers``: keys, check names, verdicts and reason codes too. A redacted "detail" renamed
every check's ``detail`` key, a redacted "honey" renamed the ``honeypot`` check, a redacted "hold" made a
verdict that is no ``CheckVerdict``: what the desk, the jobs and /metrics read back. And a comment whose only
"match" was such a key was rewritten and counted as changed in the redaction's audit entry.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.comments.models import Comment
from app.redaction.models import MARK
from app.spam import pipeline
from tests.support.comments import READER, submit
from tests.support.web import form_csrf_token, log_in, parse

REASON = "Names a patient."  # repeats none of the words redacted here


@pytest.fixture
def app_config(comments_config: dict[str, Any]) -> dict[str, Any]:
    return comments_config


def _fixed(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each check as stored but its detail: the keys, the check's name, its verdict and its reason codes."""
    return [{key: value for key, value in check.items() if key != "detail"} for check in checks]


def _vocabulary(checks: list[dict[str, Any]]) -> list[str]:
    return [
        word
        for check in checks
        for word in (*check, check["check"], check["verdict"], *check.get("reasons", ()))
    ]


def _assert_only_details_scrubbed(
    before: list[dict[str, Any]], after: list[dict[str, Any]], needle: str
) -> None:
    assert _fixed(after) == _fixed(before)
    assert [check.get("detail") for check in after] == [
        check["detail"].replace(needle, MARK) for check in before
    ]


def _redact(api: Any, editor: Any, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/api/v1/redactions", {**body, "reason": REASON}, as_=editor)
    assert answer.status_code == 201, answer.get_json()
    return dict(answer.get_json())


@pytest.mark.parametrize(
    "needle",
    [
        "detail",  # every check's key
        "honey",  # inside the check name "honeypot"
        "hold",  # the verdict of the checks that held the comment
        "phone",  # inside the reason code "privacy:phone"
    ],
)
def test_a_comment_s_redaction_scrubs_its_checks_details_and_keeps_their_vocabulary(
    app: Any, api: Any, session: Session, make_post: Any, make_user: Any, moderator: Any, needle: str
) -> None:
    post = make_post()
    # The phone number holds the comment; the privacy check's detail quotes the words around it.
    held = submit(
        app, session, post, body=f"Thanks. Call me on 020 7946 0958, {needle} or not, about the nights."
    )
    assert held.status == "held" and "privacy:phone" in held.reasons, held.reasons
    before = [dict(check) for check in held.checks]
    privacy = next(check for check in before if check["check"] == "privacy")
    assert privacy["reasons"] == ["privacy:phone"] and needle in privacy["detail"], privacy
    assert any(needle in word for word in _vocabulary(before))  # what the redaction must leave alone
    comment_id = held.id
    session.rollback()

    done = _redact(api, make_user("editor"), {"target": "comment", "id": comment_id, "text": needle})
    assert done["state"] == "applied", done

    session.expire_all()
    after = session.get(Comment, comment_id)
    assert after is not None and needle not in after.body
    _assert_only_details_scrubbed(before, after.checks, needle)
    assert not any(needle in check["detail"] for check in after.checks)
    session.rollback()

    desk = app.test_client()
    assert log_in(desk, moderator.email).status_code == 302
    page = desk.get(f"/staff/comments/{comment_id}")
    assert page.status_code == 200
    rows = parse(page).select("details.checks tbody tr")
    assert [row.th.get_text(strip=True) for row in rows] == [
        check["check"].replace("_", " ").capitalize() for check in before
    ]
    assert [row.find_all("td")[0].get_text(strip=True) for row in rows] == [
        check["verdict"].capitalize() for check in before
    ]
    assert not any(needle in row.find_all("td")[1].get_text() for row in rows)

    token = form_csrf_token(desk, f"/staff/comments/{comment_id}")
    approved = desk.post(
        f"/staff/comments/{comment_id}/moderate",
        data={"csrf_token": token, "action": "approve", "seen": "held"},
    )
    assert approved.status_code == 303
    session.expire_all()
    assert session.get(Comment, comment_id).status == "published"


@pytest.mark.parametrize(
    ("needle", "heading"),
    [
        ("detail", "Her recovery in detail"),  # every check's key
        ("publish", "Why we publish her recovery"),  # the verdict of every check a staff comment has
    ],
)
def test_a_post_s_redaction_scrubs_its_comments_quotes_and_counts_only_comments_that_changed(
    app: Any, api: Any, session: Session, make_post: Any, make_user: Any, needle: str, heading: str
) -> None:
    post = make_post(
        "published", title="A recovery", body=f"## {heading}\n\nShe slept well after the operation."
    )
    reader = submit(app, session, post, body="How did she sleep after the operation?")
    staff = make_user("moderator", name="Malik Reyes")
    answer = api.post(
        f"/api/v1/posts/{post.id}/comments", {**READER, "body": "Thank you for asking."}, as_=staff
    )
    assert answer.status_code == 201, answer.get_json()
    ids = {"reader": reader.id, "staff": int(answer.get_json()["id"])}
    stored = {name: session.get(Comment, id_) for name, id_ in ids.items()}
    assert stored["staff"] is not None and stored["staff"].staff_user_id == staff.id
    before = {
        name: ([dict(c) for c in s.checks], [list(d) for d in s.relevance_drivers])
        for name, s in stored.items()
    }
    reader_checks, reader_drivers = before["reader"]
    assert any(f"the section '{heading}'" in label for label, _ in reader_drivers), reader_drivers
    staff_checks, staff_drivers = before["staff"]
    # The staff comment holds the removed text only in its fixed vocabulary: nothing of it to scrub.
    assert any(needle in word for word in _vocabulary(staff_checks))
    assert not any(needle in check["detail"] for check in staff_checks) and staff_drivers == []
    session.rollback()

    first, second = make_user("editor"), make_user("editor")
    asked = _redact(api, first, {"target": "revision", "post_id": post.id, "revision": 1, "text": needle})
    done = api.post(f"/api/v1/redactions/{asked['id']}/confirm", as_=second)
    assert done.status_code == 200 and done.get_json()["state"] == "applied", done.get_json()

    session.expire_all()
    reader_after = session.get(Comment, ids["reader"])
    assert [weight for _, weight in reader_after.relevance_drivers] == [
        weight for _, weight in reader_drivers
    ]
    assert [label for label, _ in reader_after.relevance_drivers] == [
        label.replace(needle, MARK) for label, _ in reader_drivers
    ]
    assert any(
        f"the section '{heading.replace(needle, MARK)}'" in label
        for label, _ in reader_after.relevance_drivers
    )
    _assert_only_details_scrubbed(reader_checks, reader_after.checks, needle)
    staff_after = session.get(Comment, ids["staff"])
    assert (staff_after.checks, staff_after.relevance_drivers) == (staff_checks, staff_drivers)

    applied = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "redaction.applied", AuditEntry.post_id == post.id)
    ).one()
    assert applied.data["comment_drivers_rewritten"] == 1  # the reader's comment, not the staff one


def test_a_comment_s_redaction_keeps_the_log_mode_prefix_the_desk_filters_on(
    app: Any, api: Any, session: Session, make_post: Any, make_user: Any, moderator: Any
) -> None:
    """The off-topic check's detail begins with ``pipeline.LOGGED`` ("log only, not held") when the filter
    only recorded its verdict: the desk's "flagged" filter and the learning read that prefix back."""
    app.config.update(OFFTOPIC_MODE="log", OFFTOPIC_THRESHOLD=95, OFFTOPIC_SMALL_BLOG="hold")
    post = make_post()
    logged = submit(app, session, post, body="Any plumber nearby? Our boiler held out a week, then leaked.")
    before = next(check for check in logged.checks if check["check"] == "off_topic")
    assert before["detail"].startswith(pipeline.LOGGED) and "off_topic" not in logged.reasons, before
    comment_id = logged.id
    session.rollback()

    done = _redact(api, make_user("editor"), {"target": "comment", "id": comment_id, "text": "held"})
    assert done["state"] == "applied", done

    session.expire_all()
    after = session.get(Comment, comment_id)
    assert after is not None and "held" not in after.body
    assert next(c for c in after.checks if c["check"] == "off_topic")["detail"].startswith(pipeline.LOGGED)
    session.rollback()
    desk = app.test_client()
    assert log_in(desk, moderator.email).status_code == 302
    page = desk.get(f"/staff/comments/?status=&reason={pipeline.FLAGGED}")
    assert page.status_code == 200
    listed = [int(item["data-comment-id"]) for item in parse(page).select("article.mod-item")]
    assert listed == [comment_id]
