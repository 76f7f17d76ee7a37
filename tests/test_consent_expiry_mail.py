"""The daily consent notice: editors are mailed, once a day, the live posts that show a patient whose
consent for the web is no longer in force. Real SMTP (aiosmtpd on loopback), both databases."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest

from app import clock
from app.editorial import services as editorial
from app.media import services as media
from app.media.models import MediaConsent
from app.media.storage import DatabaseStore
from app.posts import services as posts
from tests.support.images import photo
from tests.support.smtp import Inbox, serving


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with serving(inbox) as port:
        yield inbox, port


@pytest.fixture
def app_config(smtp: tuple[Inbox, int]) -> dict[str, Any]:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp[1],
        "MAIL_FROM": "Clinic Blog <blog@clinic.example>",
        "PUBLIC_URL": "https://blog.clinic.example",
    }


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def _image(session: Any, user: Any, name: str, size: tuple[int, int]) -> Any:
    image, _ = media.upload(
        session,
        user,
        io.BytesIO(photo("JPEG", size)),
        name=name,
        alt="A patient at the window",
        decorative=False,
        shows_patient=True,
        store=DatabaseStore(),
        limits=media.Limits(max_bytes=10_000_000, max_pixels=10_000_000),
    )
    return image


def test_editors_are_mailed_once_a_day_the_posts_whose_patient_consent_expired(
    app, session, make_user, make_disclosure, gate_settings, smtp
):
    inbox = smtp[0]
    author = make_user("author", name="Ada Author")
    make_disclosure(author)
    editors = [make_user("editor", name="Erin Editor"), make_user("editor", name="Femi Editor")]
    gone = make_user("editor", name="Gone Editor")
    gone.is_active = False
    make_user("moderator")  # not an editor: not mailed
    today = clock.utc_now().date()
    lapsing = _image(session, author, "bed-3.jpg", (120, 80))
    lasting = _image(session, author, "garden.jpg", (100, 80))
    for image, expires in ((lapsing, today), (lasting, today + timedelta(days=365))):
        session.add(
            MediaConsent(
                media_id=image.id,
                form_reference="CF-1",
                consented_on=today - timedelta(days=30),
                expires_on=expires,
                scopes=["web"],
                recorded_by_id=author.id,
            )
        )
    published = []
    for title, image in (("Ward news", lapsing), ("Garden party", lasting)):
        post = posts.create_draft(
            session, author, posts.RevisionInput(title, f"![]({image.path})", ["https://example.org/a"])
        )
        editorial.submit(session, author, post, gate_settings)
        editorial.approve(session, editors[0], post, 1, gate_settings)
        published.append(post)
    session.commit()
    job = app.extensions["candor.tasks"].consent_expiry

    job.call_local()  # today every consent is in force: no mail
    assert inbox.messages == []

    clock.freeze(clock.utc_now() + timedelta(days=2))
    try:
        job.call_local()
        job.call_local()  # the same day again: claimed already, nothing more
    finally:
        clock.freeze(None)
    assert sorted(m["To"] for m in inbox.messages) == sorted(e.email for e in editors)
    message = inbox.messages[0]
    assert message["Subject"] == "1 post(s) show a patient without consent on " + app.config["SITE_NAME"]
    assert {m["Auto-Submitted"] for m in inbox.messages} == {"auto-generated"}
    body = _text(message)
    ward = published[0]
    assert '"Ward news"' in body and "Garden party" not in body
    assert f"https://blog.clinic.example/posts/{ward.slug}" in body
    assert f"https://blog.clinic.example/staff/posts/{ward.id}/edit" in body
    assert f"https://blog.clinic.example/staff/media/{lapsing.id}" in body
    assert "bed-3.jpg" in body and "garden.jpg" not in body
