"""Time zones (issue 10): readers see the organisation's zone, staff their own; ``<time datetime>``,
feeds and the JSON API stay UTC; "publish at" is read on the editor's wall clock, DST gaps refused and
overlaps resolved to the earlier instant, said out loud.

The organisation here is in London; the DST dates are 2030's (clocks go forward 31 March 01:00 GMT,
back 27 October 02:00 BST; in New York forward 10 March 02:00 EST).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

import config
from app import clock
from app.accounts.models import User
from app.posts.models import Post
from tests.support.web import form_csrf_token, log_in, parse, text_of


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"TIMEZONE": "Europe/London"}


@pytest.fixture
def editor(make_user: Callable[..., User]) -> User:
    return make_user("editor", name="Edith Editor", title="Reviewer", department="Public Affairs")


def _signed_in(app: Flask, user: User) -> Any:
    client = app.test_client()
    assert log_in(client, user.email).status_code == 302
    return client


def _token(client: Any) -> str:
    return form_csrf_token(client, "/staff/me")


# --- the setting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["Mars/Olympus", "../../etc/passwd", "europe/london", "UTC+1", "\x00"])
def test_a_bad_organisation_zone_stops_startup_with_a_clear_error(tmp_path: Any, raw: str) -> None:
    with pytest.raises(config.ConfigError, match="CANDOR_TIMEZONE must be an IANA time zone name"):
        config.load(tmp_path, {"CANDOR_TIMEZONE": raw})


def test_the_organisation_zone_defaults_to_utc(tmp_path: Any) -> None:
    assert config.load(tmp_path, {})["TIMEZONE"] == "UTC"
    assert config.load(tmp_path, {"CANDOR_TIMEZONE": " America/New_York "})["TIMEZONE"] == "America/New_York"


# --- what readers and staff see -------------------------------------------------------------------------


def _published_at(session: Session, make_post: Callable[..., Post], instant: datetime) -> Post:
    clock.freeze(instant)
    try:
        return make_post("published", title=f"Published {instant:%B}")
    finally:
        clock.freeze(None)


def test_readers_see_the_organisation_zone_and_utc_stays_machine_readable(
    app: Flask, session: Session, make_post: Callable[..., Post]
) -> None:
    summer = _published_at(session, make_post, datetime(2030, 7, 1, 23, 30, tzinfo=UTC))
    winter = _published_at(session, make_post, datetime(2030, 12, 1, 23, 30, tzinfo=UTC))
    reader = app.test_client()
    history = parse(reader.get(f"/posts/{summer.slug}/history"))
    time = history.select_one("td[data-label=Published] time")
    assert time["datetime"] == "2030-07-01T23:30:00+00:00"
    assert time.get_text() == "2 July 2030, 00:30 BST"  # the London date is already the next day
    byline = parse(reader.get(f"/posts/{summer.slug}")).select_one(".byline time, header time")
    assert byline is not None and byline.get_text() == "2 July 2030"
    winter_time = parse(reader.get(f"/posts/{winter.slug}/history")).select_one(
        "td[data-label=Published] time"
    )
    assert winter_time.get_text() == "1 December 2030, 23:30 GMT"
    # The JSON API stays UTC ISO 8601.
    api = reader.get(f"/api/v1/posts/{summer.id}").get_json()
    assert api["first_published_at"].startswith("2030-07-01T23:30:00")


def test_staff_see_their_own_zone_and_readers_are_not_affected(
    app: Flask, session: Session, make_post: Callable[..., Post], editor: User
) -> None:
    post = _published_at(session, make_post, datetime(2030, 7, 1, 23, 30, tzinfo=UTC))
    ed = _signed_in(app, editor)
    token = _token(ed)
    page = parse(ed.get("/staff/me"))
    assert page.select_one("#timezone option[selected]")["value"] == ""  # the organisation's, until chosen
    saved = ed.post("/staff/me", data={"timezone": "America/New_York", "csrf_token": token})
    assert saved.status_code == 303 and saved.headers["Location"] == "/staff/me"
    session.expire_all()
    assert editor.timezone == "America/New_York"
    mine = parse(ed.get(f"/posts/{post.slug}/history")).select_one("td[data-label=Published] time")
    assert mine.get_text() == "1 July 2030, 19:30 EDT" and mine["datetime"] == "2030-07-01T23:30:00+00:00"
    audit = parse(ed.get(f"/staff/posts/{post.id}/audit"))
    assert all(t.get_text().endswith(("EDT", "EST")) for t in audit.select("main time"))
    reader = parse(app.test_client().get(f"/posts/{post.slug}/history"))
    assert reader.select_one("td[data-label=Published] time").get_text() == "2 July 2030, 00:30 BST"
    # Back to the organisation's zone.
    assert ed.post("/staff/me", data={"timezone": "", "csrf_token": token}).status_code == 303
    session.expire_all()
    assert editor.timezone is None


@pytest.mark.parametrize(
    "value", ["Mars/Olympus", "../../etc/passwd", "Europe/London\x00", "x" * 5000, "Europe/Lοndon"]
)
def test_a_zone_not_in_the_list_is_refused_on_the_field(app: Flask, editor: User, value: str) -> None:
    ed = _signed_in(app, editor)
    refused = ed.post("/staff/me", data={"timezone": value, "csrf_token": _token(ed)})
    assert refused.status_code == 422
    assert parse(refused).select_one("#timezone")["aria-invalid"] == "true"


# --- publish at, on the editor's clock -------------------------------------------------------------------


def _approve(ed: Any, post: Post, publish_at: str, confirm: bool = True) -> Any:
    data = {"revision": "1", "publish_at": publish_at, "csrf_token": _token(ed)}
    if confirm:
        data["confirm"] = "yes"
    return ed.post(f"/staff/reviews/{post.id}/approve", data=data)


def test_publish_at_is_read_in_the_editors_zone(
    app: Flask, session: Session, make_post: Callable[..., Post], editor: User
) -> None:
    post = make_post("in_review")
    ed = _signed_in(app, editor)
    confirm = parse(ed.get(f"/staff/reviews/{post.id}/approve?revision=1&publish_at=2030-07-01T09:30"))
    assert "scheduled for 1 July 2030, 09:30 BST" in text_of(confirm, "#confirm")
    assert _approve(ed, post, "2030-07-01T09:30").status_code == 303
    session.expire_all()
    assert post.publish_at == datetime(2030, 7, 1, 8, 30, tzinfo=UTC)
    assert "1 July 2030, 09:30 BST" in text_of(parse(ed.get("/staff/")), ".flashes")


@pytest.mark.parametrize(
    ("zone", "wall"),
    [("Europe/London", "2030-03-31T01:30"), ("America/New_York", "2030-03-10T02:30")],
)
def test_a_time_the_clocks_skip_is_refused_clearly(
    app: Flask, session: Session, make_post: Callable[..., Post], editor: User, zone: str, wall: str
) -> None:
    editor.timezone = zone
    session.commit()
    post = make_post("in_review")
    ed = _signed_in(app, editor)
    for response in (
        ed.get(f"/staff/reviews/{post.id}/approve?revision=1&publish_at={wall}"),
        _approve(ed, post, wall),
    ):
        assert response.status_code == 422
        error = text_of(parse(response), "#publish_at-error")
        assert f"does not exist in {zone}" in error and "clocks go forward" in error
    session.expire_all()
    assert post.status == "in_review"


def test_a_time_the_clocks_show_twice_takes_the_first_and_says_so(
    app: Flask, session: Session, make_post: Callable[..., Post], editor: User
) -> None:
    post = make_post("in_review")
    ed = _signed_in(app, editor)
    confirm = parse(ed.get(f"/staff/reviews/{post.id}/approve?revision=1&publish_at=2030-10-27T01:30"))
    said = text_of(confirm, "#confirm")
    assert (
        "happens twice in Europe/London" in said
        and "the first one is used: 27 October 2030, 01:30 BST" in said
    )
    assert _approve(ed, post, "2030-10-27T01:30").status_code == 303
    session.expire_all()
    assert post.publish_at == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)
    assert "happens twice" in text_of(parse(ed.get("/staff/")), ".flashes")


def test_the_review_page_shows_the_editors_zone_on_the_publish_at_field(
    app: Flask, make_post: Callable[..., Post], editor: User
) -> None:
    post = make_post("in_review")
    page = parse(_signed_in(app, editor).get(f"/staff/reviews/{post.id}"))
    assert "Your time zone: Europe/London" in text_of(page, "#publish_at-hint")


def _wall(*parts: int) -> datetime:
    """A naive wall-clock time, as a datetime-local field gives it."""
    return datetime(*parts)  # noqa: DTZ001


def test_clock_conversions_at_the_edges() -> None:
    london = clock.zone("Europe/London")
    assert clock.from_local(_wall(2030, 3, 31, 0, 59), london).utc == datetime(2030, 3, 31, 0, 59, tzinfo=UTC)
    assert clock.from_local(_wall(2030, 3, 31, 2, 0), london).utc == datetime(2030, 3, 31, 1, 0, tzinfo=UTC)
    with pytest.raises(clock.LocalTimeError):
        clock.from_local(_wall(2030, 3, 31, 1, 0), london)
    first = clock.from_local(_wall(2030, 10, 27, 1, 0), london)
    assert first.ambiguous and first.utc == datetime(2030, 10, 27, 0, 0, tzinfo=UTC)
    assert not clock.from_local(_wall(2030, 10, 27, 2, 0), london).ambiguous
    for bad in ("", "Nowhere/City", "../UTC", 5):
        with pytest.raises(ValueError):
            clock.zone(bad)  # type: ignore[arg-type]
