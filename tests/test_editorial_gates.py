"""Publishing gates: each passes, fails and (where allowed) is overridden; submit lists every failure."""

from __future__ import annotations

import pytest

from app.editorial import services as editorial
from app.posts import services as posts


def _draft(api, author, **fields):
    body = {
        "title": "Managing blood pressure",
        "body": "Measure it daily.",
        "references": ["https://www.heart.org/bp"],
    } | fields
    r = api.post("/api/v1/posts", body, as_=author)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _gates(response):
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "publish_blocked"
    return {g["gate"]: g["message"] for g in error["gates"]}


def test_a_clean_post_with_a_current_disclosure_passes_every_gate(api, make_user, make_disclosure):
    author = make_user("author")
    make_disclosure(author)
    post_id = _draft(api, author)
    gates = api.get(f"/api/v1/posts/{post_id}/gates", as_=author).get_json()
    assert gates["ok"] is True
    assert {g["gate"] for g in gates["items"]} == {
        "identity",
        "disclosure",
        "references",
        "direct_links",
        "privacy",
        "media_alt",
        "media_consent",
        "topics",
        "external_sites",
    }
    assert api.post(f"/api/v1/posts/{post_id}/submit", as_=author).get_json()["status"] == "in_review"


def test_submit_lists_every_failing_gate_at_once(api, make_user):
    author = make_user("author", title="", department="")
    post_id = _draft(
        api,
        author,
        references=["https://bit.ly/3xYz"],
        body="Call the patient at 507-284-2511. See [this](https://t.co/abc).",
    )
    api.post(
        f"/api/v1/posts/{post_id}/revisions",
        {
            "references": [],
            "base_revision": 1,
            "body": "Call the patient at 507-284-2511. See [this](https://t.co/abc).",
        },
        as_=author,
    )
    gates = _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))
    assert set(gates) == {"identity", "disclosure", "references", "direct_links", "privacy"}
    assert "t.co" in gates["direct_links"]
    assert "phone number" in gates["privacy"]


def test_disclosure_gate_fails_without_one_and_when_expired(api, session, make_user, make_disclosure):
    from datetime import timedelta

    from app import clock

    author = make_user("author")
    post_id = _draft(api, author)
    assert (
        "no conflict-of-interest disclosure"
        in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["disclosure"]
    )
    clock.freeze(clock.utc_now() - timedelta(days=400))
    try:
        make_disclosure(author)
    finally:
        clock.freeze(None)
    assert (
        "older than 365 days" in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["disclosure"]
    )
    make_disclosure(author)
    assert api.post(f"/api/v1/posts/{post_id}/submit", as_=author).status_code == 200


def test_an_author_with_interests_must_say_whether_the_post_touches_them(api, make_user, make_disclosure):
    author = make_user("author")
    make_disclosure(author, interests=[{"entity": "HeartCo", "relationship": "consulting", "paid": True}])
    post_id = _draft(api, author)
    assert (
        "touches any interest"
        in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["disclosure"]
    )
    r = api.post(
        f"/api/v1/posts/{post_id}/submit",
        {"touches_interests": True, "interest_statement": "HeartCo makes a monitor I mention."},
        as_=author,
    )
    assert r.status_code == 200


def test_references_gate_fails_without_a_source_and_an_editor_can_waive_it(api, make_user, make_disclosure):
    author, editor = make_user("author"), make_user("editor")
    make_disclosure(author)
    post_id = _draft(api, author, references=[])
    assert (
        "Cite at least one source"
        in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["references"]
    )
    assert (
        api.post(
            f"/api/v1/posts/{post_id}/overrides",
            {"gate": "references", "justification": "", "revision": 1},
            as_=editor,
        ).status_code
        == 422
    )
    assert (
        api.post(
            f"/api/v1/posts/{post_id}/overrides",
            {"gate": "references", "justification": "A personal reflection; nothing to cite.", "revision": 1},
            as_=author,
        ).status_code
        == 403
    )
    r = api.post(
        f"/api/v1/posts/{post_id}/overrides",
        {"gate": "references", "justification": "A personal reflection; nothing to cite.", "revision": 1},
        as_=editor,
    )
    assert r.status_code == 201
    gates = api.get(f"/api/v1/posts/{post_id}/gates", as_=author).get_json()["items"]
    references = next(g for g in gates if g["gate"] == "references")
    assert references["ok"] and references["overridden"]["justification"].startswith("A personal")
    assert api.post(f"/api/v1/posts/{post_id}/submit", as_=author).status_code == 200


@pytest.mark.parametrize(
    "url", ["https://bit.ly/abc", "https://www.google.com/url?q=https://x.org", "http://tinyurl.com/y"]
)
def test_direct_links_gate_names_the_offending_link_and_cannot_be_overridden(
    api, make_user, make_disclosure, url
):
    author, editor = make_user("author"), make_user("editor")
    make_disclosure(author)
    post_id = _draft(api, author, body=f"See [the study]({url}).")
    assert url in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["direct_links"]
    r = api.post(
        f"/api/v1/posts/{post_id}/overrides",
        {"gate": "direct_links", "justification": "trust me", "revision": 1},
        as_=editor,
    )
    assert r.status_code == 422 and "no exceptions" in r.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("where", "url"),
    [
        ("references", "http://169.254.169.254/latest/meta-data/"),
        ("body", "http://localhost:8080/admin"),
        ("body", "http://0x7f.1/"),
        ("references", "http://[fd00:ec2::254]/"),
        ("body", "http://records.internal/patient/1"),
    ],
)
def test_direct_links_gate_refuses_links_into_private_networks_with_a_clear_message(
    app, api, make_user, make_disclosure, where, url
):
    author = make_user("author")
    make_disclosure(author)
    fields = {"references": [url]} if where == "references" else {"body": f"See [this]({url})."}
    post_id = _draft(api, author, **fields)
    response = api.post(f"/api/v1/posts/{post_id}/submit", as_=author)
    message = _gates(response)["direct_links"]
    assert "not to private, local or internal addresses" in message
    assert f"{url}: " in message and "readers cannot reach it" in message
    app.config["OUTBOUND_ALLOW"] = ["169.254.169.254", "localhost", "fd00::/8", "records.internal"]
    still = api.post(f"/api/v1/posts/{post_id}/submit", as_=author)
    if url == "http://0x7f.1/":  # an odd spelling of an address stays refused
        assert "direct_links" in _gates(still)
    else:
        assert still.status_code == 200, still.get_json()


def test_operators_can_extend_the_blocked_link_hosts(app, api, make_user, make_disclosure):
    app.config["BLOCKED_LINK_HOSTS"] = ["go.clinic-tracker.example"]
    author = make_user("author")
    make_disclosure(author)
    post_id = _draft(api, author, references=["https://go.clinic-tracker.example/x"])
    assert (
        "go.clinic-tracker.example"
        in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["direct_links"]
    )


@pytest.mark.parametrize(
    "text,kind",
    [
        ("Patient SSN 123-45-6789 was admitted.", "social security"),
        ("Her MRN: 00482913 is on file.", "medical record"),
        ("Email jane.doe@example.com for details.", "email"),
        ("DOB 03/14/1962, seen in clinic.", "date of birth"),
        ("She lives at 1216 Second Street SW.", "address"),
    ],
)
def test_privacy_gate_finds_patient_identifiers_with_their_place(api, make_user, make_disclosure, text, kind):
    author = make_user("author")
    make_disclosure(author)
    post_id = _draft(api, author, body=f"Intro.\n\n{text}")
    message = _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["privacy"]
    assert kind in message.lower() and "line 3" in message


def test_privacy_findings_can_be_overridden_with_a_recorded_justification(api, make_user, make_disclosure):
    author, editor = make_user("author"), make_user("editor")
    make_disclosure(author)
    post_id = _draft(api, author, body="Call our clinic at 507-284-2511.")
    _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))
    api.post(
        f"/api/v1/posts/{post_id}/overrides",
        {"gate": "privacy", "justification": "The clinic's own public number.", "revision": 1},
        as_=editor,
    )
    assert api.post(f"/api/v1/posts/{post_id}/submit", as_=author).status_code == 200
    audit = api.get(f"/api/v1/posts/{post_id}/audit", as_=editor).get_json()["items"]
    assert any(
        e["action"] == "gate.override" and e["note"] == "The clinic's own public number." for e in audit
    )


def test_an_override_covers_only_the_revision_it_was_made_for(api, make_user, make_disclosure):
    author, editor = make_user("author"), make_user("editor")
    make_disclosure(author)
    post_id = _draft(api, author, body="Call 507-284-2511.")
    api.post(
        f"/api/v1/posts/{post_id}/overrides",
        {"gate": "privacy", "justification": "Public clinic number.", "revision": 1},
        as_=editor,
    )
    api.post(
        f"/api/v1/posts/{post_id}/revisions",
        {"body": "Call 507-284-2511 or 507-555-0199.", "base_revision": 1},
        as_=author,
    )
    assert "privacy" in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))


def test_privacy_terms_from_the_operator_are_flagged(app, api, make_user, make_disclosure):
    app.config["PRIVACY_TERMS"] = ["Room 412"]
    author = make_user("author")
    make_disclosure(author)
    post_id = _draft(api, author, body="The patient in room 412 recovered.")
    assert "privacy" in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))


def test_identity_gate_requires_a_title_and_department(api, make_user, make_disclosure):
    author = make_user("author", department="")
    make_disclosure(author)
    post_id = _draft(api, author)
    assert "department" in _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))["identity"]


def test_approval_rechecks_the_gates(api, session, make_user, make_disclosure, app):
    """A disclosure that expired while the post waited in review blocks approval."""
    from datetime import timedelta

    from app import clock

    author, editor = make_user("author"), make_user("editor")
    make_disclosure(author)
    post_id = _draft(api, author)
    api.post(f"/api/v1/posts/{post_id}/submit", as_=author)
    clock.freeze(clock.utc_now() + timedelta(days=400))
    try:
        r = api.post(f"/api/v1/posts/{post_id}/approve", {"revision": 1}, as_=editor)
    finally:
        clock.freeze(None)
    assert "disclosure" in _gates(r)


def test_the_gates_are_the_same_through_the_services(session, make_user, make_disclosure, gate_settings):
    author = make_user("author")
    post = posts.create_draft(session, author, posts.RevisionInput("T", "Body", []))
    results = editorial.check_gates(session, post, gate_settings)
    assert {r.gate.value for r in results if not r.passes} == {"disclosure", "references"}


@pytest.mark.parametrize("body", ["Details at https://bit.ly/abc.", "Details (https://t.co/xyz) here."])
def test_a_bare_shortened_address_in_the_text_fails_the_direct_links_gate(
    api, make_user, make_disclosure, body
):
    """Bare addresses are rendered as links, so they answer to the same gate as any link."""
    author = make_user("author")
    make_disclosure(author)
    post_id = _draft(api, author, body=body)
    failing = _gates(api.post(f"/api/v1/posts/{post_id}/submit", as_=author))
    assert set(failing) == {"direct_links"}
    assert ("bit.ly/abc" if "bit.ly" in body else "t.co/xyz") in failing["direct_links"]
