"""Approved external sites: the registry's two keys, its append-only history, embeds and the gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.errors import Conflict, InvalidInput, NotAllowed
from app.posts.models import Post
from app.sites import services as sites
from tests.support.web import form_csrf_token, log_in, parse, text_of

VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


class Desk:
    """One signed-in member of staff's browser."""

    def __init__(self, app: Flask, user: User) -> None:
        self.client = app.test_client()
        assert log_in(self.client, user.email).status_code == 302
        self.token = form_csrf_token(self.client, "/staff/")

    def post(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **data})


@pytest.fixture
def keyholders(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "author": make_user("author", name="Ada Author"),
        "editor": make_user("editor", name="Pat Public-Affairs"),
        "compliance": make_user("compliance", name="Cory Compliance"),
        "both": make_user("editor", "compliance", name="Bo Both"),
    }


def _youtube(session: Session, by: User) -> int:
    site = sites.propose(
        session, by, name="YouTube", kind="video", hosts="youtube.com\nyoutu.be", note="Clinic videos."
    )
    session.commit()
    return site.id


def _approve(session: Session, site_id: int, pa: User, co: User) -> None:
    sites.decide(session, pa, site_id, capacity="public_affairs", verdict="approve", note="On brand.")
    sites.decide(session, co, site_id, capacity="compliance", verdict="approve", note="Terms reviewed.")
    session.commit()


def _gate(session: Session, post: Post, settings: GateSettings) -> Any:
    return next(r for r in editorial.check_gates(session, post, settings) if r.gate.value == "external_sites")


def test_an_embed_of_an_approved_site_renders_and_revoking_takes_it_down(
    client: Any, session: Session, make_post: Callable[..., Post], keyholders: dict[str, User]
) -> None:
    site_id = _youtube(session, keyholders["author"])
    _approve(session, site_id, keyholders["editor"], keyholders["compliance"])
    post = make_post(body=f"Our new video:\n\n{VIDEO}\n\nThanks for watching.")
    page = parse(client.get(f"/posts/{post.slug}"))
    figure = page.select_one("figure.embed.embed-video")
    assert figure is not None and figure["data-site"] == "YouTube"
    link = figure.select_one("a.embed-link")
    assert link["href"] == VIDEO and link["referrerpolicy"] == "no-referrer"
    assert "noreferrer" in link["rel"]
    assert page.select("iframe, script[src*=youtube]") == []  # nothing loads from the site by itself
    assert "Watch the video on YouTube" in text_of(page, "figure.embed")

    sites.decide(
        session, keyholders["compliance"], site_id, capacity="compliance", verdict="revoke", note="Ads."
    )
    session.commit()
    page = parse(client.get(f"/posts/{post.slug}"))  # the page cache key moved with the decision
    assert page.select("figure.embed") == []
    assert page.select_one(f'.post-body a[href="{VIDEO}"]') is not None  # a plain link again


def test_the_embed_template_says_where_the_click_goes(
    client: Any, session: Session, make_post: Callable[..., Post], keyholders: dict[str, User]
) -> None:
    site = sites.propose(
        session,
        keyholders["author"],
        name="Vimeo",
        kind="video",
        hosts="vimeo.com",
        embed_template="https://player.vimeo.example/open?u={url}",
        note="Lectures.",
    )
    session.commit()
    _approve(session, site.id, keyholders["editor"], keyholders["compliance"])
    post = make_post(body="Lecture:\n\nhttps://vimeo.com/123?a=1&b=2\n")
    link = parse(client.get(f"/posts/{post.slug}")).select_one("figure.embed a.embed-link")
    assert link["href"] == "https://player.vimeo.example/open?u=https%3A%2F%2Fvimeo.com%2F123%3Fa%3D1%26b%3D2"


def test_the_gate_names_an_unapproved_site_and_an_unregistered_embed(
    session: Session,
    make_post: Callable[..., Post],
    keyholders: dict[str, User],
    gate_settings: GateSettings,
) -> None:
    site_id = _youtube(session, keyholders["author"])
    linked = make_post("draft", body=f"See [our video]({VIDEO}) for details.")
    result = _gate(session, linked, gate_settings)
    assert not result.ok and not result.passes
    assert any("YouTube" in d and "not approved" in d for d in result.details)

    embedded = make_post("draft", body="Watch:\n\nhttps://www.tiktok.com/@clinic/video/1\n")
    result = _gate(session, embedded, gate_settings)
    assert not result.ok and any(
        "tiktok.com" in d and "not in the external sites registry" in d for d in result.details
    )

    # Citations to any other site are what the code asks for: never external-site use.
    cited = make_post(
        "draft", body="A study:\n\nhttps://pubmed.ncbi.nlm.nih.gov/123/\n\nAnd [NIH](https://nih.gov)."
    )
    assert _gate(session, cited, gate_settings).ok

    sites.decide(
        session, keyholders["editor"], site_id, capacity="public_affairs", verdict="approve", note="Ok"
    )
    session.commit()
    result = _gate(session, linked, gate_settings)
    assert not result.ok and "awaiting compliance" in " ".join(
        result.details
    )  # half-approved is not approved
    sites.decide(
        session, keyholders["compliance"], site_id, capacity="compliance", verdict="approve", note="Ok"
    )
    session.commit()
    assert _gate(session, linked, gate_settings).ok


def test_submit_is_refused_with_the_site_named(
    api: Any,
    session: Session,
    make_user: Callable[..., User],
    make_disclosure: Callable[..., Any],
    keyholders: dict[str, User],
) -> None:
    _youtube(session, keyholders["author"])
    author = make_user("author")
    make_disclosure(author)
    created = api.post(
        "/api/v1/posts",
        {"title": "Video", "body": f"Watch:\n\n{VIDEO}\n", "references": ["https://example.org/a"]},
        as_=author,
    )
    post_id = created.get_json()["id"]
    refused = api.post(f"/api/v1/posts/{post_id}/submit", as_=author)
    assert refused.status_code == 422
    failing = {g["gate"]: g["message"] for g in refused.get_json()["error"]["gates"]}
    assert set(failing) == {"external_sites"} and "YouTube" in failing["external_sites"]


def test_a_personal_view_is_not_held_by_the_gate_but_shows_no_unapproved_embed(
    session: Session, make_user: Callable[..., User], keyholders: dict[str, User], gate_settings: GateSettings
) -> None:
    from app.posts import services as posts

    _youtube(session, keyholders["author"])
    post = posts.create_draft(
        session,
        keyholders["author"],
        posts.RevisionInput("Mine", f"{VIDEO}\n", ["https://example.org/a"], personal_view=True),
    )
    session.commit()
    assert _gate(session, post, gate_settings).ok


def test_one_person_never_gives_both_approvals(
    app: Flask, session: Session, keyholders: dict[str, User]
) -> None:
    site_id = _youtube(session, keyholders["author"])
    both = keyholders["both"]
    sites.decide(session, both, site_id, capacity="compliance", verdict="approve", note="Fine by me.")
    session.commit()
    with pytest.raises(NotAllowed, match="someone else"):
        sites.decide(session, both, site_id, capacity="public_affairs", verdict="approve", note="Me again.")
    session.rollback()
    # Through the desk too: a clear refusal, nothing recorded.
    desk = Desk(app, both)
    refused = desk.post(
        f"/staff/external-sites/{site_id}/decide",
        {"capacity": "public_affairs", "verdict": "approve", "note": "Me again."},
    )
    assert refused.status_code == 403 and "someone else" in parse(refused).get_text()
    assert not sites.get_site(session, site_id).approved
    # Neither role alone can act in the other capacity.
    with pytest.raises(NotAllowed):
        sites.decide(
            session, keyholders["editor"], site_id, capacity="compliance", verdict="approve", note="x"
        )
    session.rollback()
    with pytest.raises(NotAllowed):
        sites.decide(
            session, keyholders["author"], site_id, capacity="public_affairs", verdict="approve", note="x"
        )
    session.rollback()
    sites.decide(
        session, keyholders["editor"], site_id, capacity="public_affairs", verdict="approve", note="Ok"
    )
    session.commit()
    assert sites.get_site(session, site_id).approved


def test_a_repeated_decision_is_a_conflict_and_a_note_is_required(
    session: Session, keyholders: dict[str, User]
) -> None:
    site_id = _youtube(session, keyholders["author"])
    sites.decide(
        session, keyholders["editor"], site_id, capacity="public_affairs", verdict="approve", note="Ok"
    )
    session.commit()
    with pytest.raises(Conflict):
        sites.decide(
            session, keyholders["editor"], site_id, capacity="public_affairs", verdict="approve", note="Ok"
        )
    session.rollback()
    with pytest.raises(InvalidInput):
        sites.decide(
            session, keyholders["compliance"], site_id, capacity="compliance", verdict="approve", note=" "
        )
    session.rollback()


@pytest.mark.parametrize(
    "hosts",
    ["", "not a host", "http://", "exa mple.com", "-bad-.com", "x" * 300 + ".com", "localhost", "a\x00b.com"],
)
def test_hostile_host_names_are_refused(session: Session, keyholders: dict[str, User], hosts: str) -> None:
    with pytest.raises(InvalidInput):
        sites.propose(session, keyholders["author"], name="Odd", kind="video", hosts=hosts, note="Why")
    session.rollback()


def test_look_alike_hosts_do_not_match_and_overlaps_are_refused(
    session: Session, keyholders: dict[str, User]
) -> None:
    site_id = _youtube(session, keyholders["author"])
    _approve(session, site_id, keyholders["editor"], keyholders["compliance"])
    reg = sites.registry(session)
    assert reg.embed("https://m.youtube.com/watch?v=1") is not None  # a subdomain is covered
    assert reg.embed("https://\u0443outube.com/watch?v=1") is None  # Cyrillic у: another site
    assert reg.embed("https://youtube.com.evil.example/x") is None
    assert reg.embed("https://notyoutube.com/x") is None
    with pytest.raises(Conflict):
        sites.propose(
            session, keyholders["author"], name="YT Music", kind="video", hosts="music.youtube.com", note="x"
        )
    session.rollback()
    with pytest.raises(Conflict):
        sites.propose(
            session, keyholders["author"], name="youtube", kind="social", hosts="yt.example", note="x"
        )
    session.rollback()


def test_the_registry_and_its_decisions_are_append_only(
    session: Session, keyholders: dict[str, User]
) -> None:
    site_id = _youtube(session, keyholders["author"])
    sites.decide(
        session, keyholders["editor"], site_id, capacity="public_affairs", verdict="approve", note="Ok"
    )
    session.commit()
    for statement in (
        "UPDATE external_sites SET hosts = 'evil.example'",
        "DELETE FROM external_sites",
        "UPDATE external_site_decisions SET verdict = 'approve', capacity = 'compliance'",
        "DELETE FROM external_site_decisions",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    site = sites.get_site(session, site_id).site
    site.hosts = "evil.example"
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()


def test_the_public_register_shows_every_site_status_and_decision(
    client: Any, session: Session, keyholders: dict[str, User]
) -> None:
    site_id = _youtube(session, keyholders["author"])
    _approve(session, site_id, keyholders["editor"], keyholders["compliance"])
    sites.propose(
        session, keyholders["author"], name="Flickr", kind="photo", hosts="flickr.com", note="Photos."
    )
    session.commit()
    home = parse(client.get("/"))
    assert home.select_one('footer a[href="/policies/external-sites"]') is not None
    page = parse(client.get("/policies/external-sites"))
    statuses = {
        s.select_one("h2").get_text(): s.select_one("[data-status]")["data-status"]
        for s in page.select("section.external-site")
    }
    assert statuses == {"YouTube": "approved", "Flickr": "proposed"}
    rows = page.select(f"#site-{site_id} tr.decision")
    assert [r.select("td")[1].get_text() for r in rows] == ["Public Affairs", "Compliance"]
    assert "Pat Public-Affairs" in rows[0].get_text() and "Terms reviewed." in rows[1].get_text()


def test_the_desk_proposes_and_decides_and_every_step_is_audited(
    app: Flask, session: Session, keyholders: dict[str, User]
) -> None:
    author = Desk(app, keyholders["author"])
    nav = parse(author.client.get("/staff/")).select_one('nav[aria-label="Staff"] a[data-nav="sites"]')
    assert nav is not None and nav["href"] == "/staff/external-sites/"
    bad = author.post(
        "/staff/external-sites/new",
        {"name": "Maps", "kind": "maps", "hosts": "not a host", "note": "Directions."},
    )
    assert bad.status_code == 422 and parse(bad).select_one("#hosts-error") is not None
    made = author.post(
        "/staff/external-sites/new",
        {"name": "OpenStreetMap", "kind": "maps", "hosts": "openstreetmap.org", "note": "Directions."},
    )
    assert made.status_code == 303
    again = author.post(
        "/staff/external-sites/new",
        {"name": "OSM", "kind": "maps", "hosts": "www.openstreetmap.org", "note": "Directions."},
    )
    assert again.status_code == 409
    site_id = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    # An author holds no key: the page offers no decision, and a forged one is refused.
    assert parse(author.client.get(f"/staff/external-sites/{site_id}")).select("form.decide-form") == []
    forged = author.post(
        f"/staff/external-sites/{site_id}/decide",
        {"capacity": "compliance", "verdict": "approve", "note": "x"},
    )
    assert forged.status_code == 403
    compliance = Desk(app, keyholders["compliance"])
    page = parse(compliance.client.get(f"/staff/external-sites/{site_id}"))
    assert [i["value"] for i in page.select("input[name=capacity]")] == ["compliance"]
    ok = compliance.post(
        f"/staff/external-sites/{site_id}/decide",
        {"capacity": "compliance", "verdict": "approve", "note": "Fine."},
    )
    assert ok.status_code == 303
    twice = compliance.post(
        f"/staff/external-sites/{site_id}/decide",
        {"capacity": "compliance", "verdict": "approve", "note": "Fine."},
    )
    assert twice.status_code == 409
    actions = session.execute(text("SELECT action FROM audit_entries ORDER BY id")).scalars().all()
    assert [a for a in actions if a.startswith("site.")] == ["site.proposed", "site.approve"]


def test_the_compliance_role_is_given_like_any_other(
    api: Any, make_user: Callable[..., User], keyholders: dict[str, User]
) -> None:
    admin = make_user("admin")
    target = keyholders["author"]
    changed = api.client.patch(
        f"/api/v1/users/{target.id}",
        json={"roles": ["author", "compliance"]},
        headers={"Authorization": f"Bearer {api.make_token(admin)}"},
    )
    assert changed.status_code == 200 and sorted(changed.get_json()["roles"]) == ["author", "compliance"]


def test_one_person_turning_both_keys_at_once_turns_only_one(
    app: Flask, session: Session, keyholders: dict[str, User]
) -> None:
    """Both approvals sent at the same moment by one person holding both roles: they take turns on the
    site's row, and the second sees the first and is refused. Never both, never a 500."""
    import threading

    from app.db import writing

    site_id = _youtube(session, keyholders["author"])
    both_id = keyholders["both"].id
    factory = app.extensions["candor.sessions"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def turn(capacity: str) -> None:
        s = factory()
        try:
            barrier.wait()
            writing(s)
            actor = s.get(User, both_id)
            sites.decide(s, actor, site_id, capacity=capacity, verdict="approve", note="Both?")
            s.commit()
            outcomes.append("ok")
        except NotAllowed:
            s.rollback()
            outcomes.append("refused")
        finally:
            s.close()

    threads = [threading.Thread(target=turn, args=(c,)) for c in ("public_affairs", "compliance")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    session.expire_all()
    assert not sites.get_site(session, site_id).approved
