"""Images: uploads cleaned of every byte of metadata, refused when hostile, served immutable and
responsive, held to alt text and patient consent by the publishing gates, and kept with the revisions
that show them. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.clock import utc_now
from app.editorial import services as editorial
from app.media.models import Media, MediaVariant
from app.posts import media_usage
from app.posts import services as posts
from app.posts.models import RevisionMedia
from tests.support.editorial import publish_change
from tests.support.images import animated_gif, assert_no_metadata, photo, png_header
from tests.support.web import log_in, parse

# --- helpers --------------------------------------------------------------------------------------------


@pytest.fixture
def author(make_user, make_disclosure):
    user = make_user("author")
    make_disclosure(user)
    return user


def staff_client(client, user):
    log_in(client, user.email)
    token = parse(client.get("/staff/media")).find("input", attrs={"name": "csrf_token"})["value"]
    return token


def multipart(fields: dict[str, str], file: tuple[str, str, bytes] | None) -> tuple[bytes, str]:
    """A multipart body written out here (Werkzeug's test client leaves its temporary file open for
    bodies over 500 KB)."""
    boundary = b"candormediaboundary"
    parts = [
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n\r\n'
        + value.encode()
        + b"\r\n"
        for name, value in fields.items()
    ]
    if file is not None:
        filename, mimetype, data = file
        parts.append(
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="file"; filename="'
            + filename.encode()
            + b'"\r\nContent-Type: '
            + mimetype.encode()
            + b"\r\n\r\n"
            + data
            + b"\r\n"
        )
    return b"".join(parts) + b"--" + boundary + b"--\r\n", "multipart/form-data; boundary=candormediaboundary"


def upload(
    client,
    token,
    data: bytes,
    *,
    name="photo.jpg",
    alt="",
    decorative=False,
    patient=False,
    mimetype="image/jpeg",
    json=True,
):
    fields = {"alt": alt, "csrf_token": token}
    if decorative:
        fields["decorative"] = "1"
    if patient:
        fields["shows_patient"] = "1"
    body, content_type = multipart(fields, (name, mimetype, data))
    headers = {"Accept": "application/json"} if json else {}
    return client.post("/staff/media", data=body, headers=headers, content_type=content_type)


def api_upload(client, make_token, user, data: bytes, **fields: str):
    body, content_type = multipart(fields, ("x.bin", "application/octet-stream", data))
    return client.post(
        "/api/v1/media",
        data=body,
        headers={"Authorization": f"Bearer {make_token(user)}"},
        content_type=content_type,
    )


def served_variants(client, session, media_id: int) -> list[bytes]:
    variants = session.scalars(select(MediaVariant).where(MediaVariant.media_id == media_id)).all()
    media = session.get(Media, media_id)
    out = []
    for v in variants:
        answer = client.get(f"/media/{v.sha256}.{media.ext}")
        assert answer.status_code == 200
        assert hashlib.sha256(answer.data).hexdigest() == v.sha256  # content-addressed
        out.append(answer.data)
    return out


# --- 1 and 2: upload, type from the bytes, no metadata ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "AVIF"])
def test_a_phone_photo_is_stored_upright_with_no_metadata_in_any_served_size(client, session, author, fmt):
    token = staff_client(client, author)
    answer = upload(
        client, token, photo(fmt), name="IMG_0001.HEIC", mimetype="text/plain", alt="A ward corridor"
    )
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["markdown"].startswith("![A ward corridor](/media/")
    stored = session.get(Media, body["id"])
    assert stored.format == fmt.lower()
    assert (stored.width, stored.height) == (1200, 2000)  # orientation 6 applied: portrait
    data = served_variants(client, session, stored.id)
    # 480 and 960 wide, and the full 1200 (1600 would be wider than the image: never upscaled)
    assert sorted(v.width for v in stored.variants) == [480, 960, 1200]
    assert len(data) == 3
    for blob in data:
        assert_no_metadata(blob)
        with Image.open(io.BytesIO(blob)) as image:
            assert image.format == fmt
            assert image.info.get("icc_profile")  # the colour profile is kept
            assert image.height > image.width


def test_the_type_comes_from_the_bytes_not_the_name_nor_the_content_type(client, session, author):
    token = staff_client(client, author)
    answer = upload(
        client, token, photo("PNG", (300, 200)), name="holiday.jpg", mimetype="image/jpeg", alt="x"
    )
    assert answer.status_code == 201
    assert answer.get_json()["url"].endswith(".png")
    assert session.get(Media, answer.get_json()["id"]).format == "png"


def test_an_animated_gif_keeps_its_first_frame_as_a_png(client, session, author):
    token = staff_client(client, author)
    answer = upload(client, token, animated_gif(), name="spin.gif", mimetype="image/gif", alt="A logo")
    assert answer.status_code == 201
    media = session.get(Media, answer.get_json()["id"])
    assert media.format == "png"
    (data,) = served_variants(client, session, media.id)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and getattr(image, "n_frames", 1) == 1
    assert_no_metadata(data)


HOSTILE = {
    "zero bytes": (b"", 422),
    "html named .jpg": (b"<html><script>alert(1)</script></html>", 422),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>',
        422,
    ),
    "svg with xml prolog": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', 422),
    "truncated jpeg": (None, 422),
    "bomb header 100000x100000": (png_header(100_000, 100_000), 413),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", 422),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_are_refused_with_a_clear_4xx(client, session, author, case):
    data, status = HOSTILE[case]
    if data is None:
        whole = photo("JPEG", (800, 600))
        data = whole[: len(whole) // 2]
    token = staff_client(client, author)
    answer = upload(client, token, data, name="photo.jpg", alt="x")
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.get_json()["error"] in ("invalid_input", "too_large")
    assert answer.get_json()["message"]
    assert session.scalar(select(Media.id)) is None


def test_a_decompression_bomb_under_the_byte_limit_is_refused_before_decoding(app, client, session, author):
    app.config["MEDIA_MAX_PIXELS"] = 1_000_000
    buffer = io.BytesIO()
    Image.new("L", (2000, 2000)).save(buffer, format="PNG")  # 4 MP of zeros: a few KB
    token = staff_client(client, author)
    answer = upload(client, token, buffer.getvalue(), name="bomb.png", alt="x")
    assert answer.status_code == 413
    assert "too many pixels" in answer.get_json()["message"]


def test_a_polyglot_keeps_only_its_pixels(client, session, author):
    payload = b"<script>alert('polyglot')</script>PK\x03\x04zipped-secret"
    token = staff_client(client, author)
    answer = upload(client, token, photo("JPEG", (400, 300)) + payload, alt="x")
    assert answer.status_code == 201
    for data in served_variants(client, session, answer.get_json()["id"]):
        assert b"script" not in data and b"zipped-secret" not in data


def test_a_file_over_the_size_limit_gets_413_and_nothing_is_stored(app, client, session, author):
    app.config["MEDIA_MAX_BYTES"] = 50_000
    token = staff_client(client, author)
    big = photo("PNG", (600, 600)) + b"\0" * 200_000
    answer = upload(client, token, big, name="big.png", alt="x")
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "too_large"
    assert session.scalar(select(Media.id)) is None


def test_an_upload_larger_than_other_requests_is_accepted(app, client, session, author):
    """The app-wide body limit (1 MB) does not apply to uploads, which have their own."""
    token = staff_client(client, author)
    data = photo("PNG", (900, 900)) + b"\0" * (2 * 1024 * 1024)
    assert len(data) > app.config["MAX_CONTENT_LENGTH"]
    assert upload(client, token, data, name="x.png", alt="x").status_code == 201


def test_huge_or_hostile_alt_text_is_refused(client, session, author):
    token = staff_client(client, author)
    assert upload(client, token, photo("PNG", (50, 50)), alt="a" * 5000).status_code == 422
    assert upload(client, token, photo("PNG", (50, 50)), alt="nul\x00byte").status_code == 422
    answer = upload(client, token, photo("PNG", (50, 50)), alt="x", decorative=True)
    assert answer.status_code == 422
    assert session.scalar(select(Media.id)) is None


def test_the_html_form_upload_redirects_to_the_image_page(client, session, author):
    token = staff_client(client, author)
    answer = upload(client, token, photo("JPEG", (300, 200)), alt="Hands", json=False)
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    refused = upload(client, token, b"", json=False)
    assert refused.status_code == 422
    assert parse(refused).select_one("#upload-error")


def test_the_api_upload_needs_a_staff_token(client, make_user, make_token, author, session):
    assert client.post("/api/v1/media", data={}).status_code == 401
    reader_ish = make_user("moderator")
    assert api_upload(client, make_token, reader_ish, photo("PNG", (40, 40))).status_code == 403
    answer = api_upload(client, make_token, author, photo("PNG", (40, 40)), alt="Chart", shows_patient="1")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["url"].startswith("http") and body["url"].endswith(".png")
    assert session.get(Media, body["id"]).shows_patient
    missing = client.post(
        "/api/v1/media", data={"alt": "x"}, headers={"Authorization": f"Bearer {make_token(author)}"}
    )
    assert missing.status_code == 422


def test_the_same_image_twice_is_one_entry(client, session, author):
    token = staff_client(client, author)
    data = photo("JPEG", (300, 200))
    first = upload(client, token, data)
    second = upload(client, token, data, alt="Now described", patient=True)
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"]
    session.expire_all()
    media = session.get(Media, first.get_json()["id"])
    assert media.alt == "Now described" and media.shows_patient


def test_two_uploads_of_the_same_bytes_at_once_give_one_entry_and_no_500(app, database_url, author):
    data = photo("JPEG", (1600, 1000))
    clients = [app.test_client() for _ in range(4)]
    tokens = [staff_client(c, author) for c in clients]
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def go(i: int) -> None:
        barrier.wait()
        answers[i] = upload(clients[i], tokens[i], data, alt="Same")

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code in (200, 201) for a in answers), [a.get_data(as_text=True) for a in answers]
    assert len({a.get_json()["id"] for a in answers}) == 1


# --- 5: serving -----------------------------------------------------------------------------------------


def test_images_are_served_immutable_with_an_etag(client, session, author):
    token = staff_client(client, author)
    url = upload(client, token, photo("WEBP", (300, 200)), alt="x").get_json()["url"]
    path = "/" + url.split("/", 3)[3]
    client.post("/logout")
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert answer.mimetype == "image/webp"
    assert answer.headers["ETag"].strip('"') == hashlib.sha256(answer.data).hexdigest()
    again = client.get(path, headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert client.get(path.replace(".webp", ".png")).status_code == 404
    assert client.get("/media/" + "0" * 64 + ".png").status_code == 404
    assert client.get("/media/../../etc/passwd.png").status_code == 404


def test_a_published_post_shows_responsive_lazy_images_with_their_size(client, session, author, make_post):
    token = staff_client(client, author)
    body = upload(client, token, photo("JPEG", (2400, 1600), exif=b""), alt="A corridor").get_json()
    post = make_post(
        author=author, body=f"Our new ward.\n\n{body['markdown']}\n\n![](https://example.org/x.png)"
    )
    page = parse(client.get(f"/posts/{post.slug}"))
    ours = page.select_one("#post-body img[srcset]")
    assert ours["alt"] == "A corridor"
    assert (ours["width"], ours["height"]) == ("2400", "1600")
    assert ours["loading"] == "lazy" and ours["sizes"]
    candidates = [c.strip().split(" ") for c in ours["srcset"].split(",")]
    assert [int(w[:-1]) for _, w in candidates] == [480, 960, 1600, 2400]
    for path, _ in candidates:
        assert client.get(path).status_code == 200
    other = [img for img in page.select("#post-body img") if "example.org" in img["src"]]
    assert other and not other[0].get("srcset")


def test_writers_cannot_smuggle_srcset_or_sizes():
    from app.posts.rendering import render_markdown

    html = render_markdown(
        '<img src="/x.png" srcset="https://evil.example/a.png 1w" sizes="1px" loading="eager">'
    )
    assert "evil" not in html and "sizes" not in html and "loading" not in html


# --- 3 and 4: the gates ---------------------------------------------------------------------------------


def gate(results, name):
    return next(r for r in results if r.gate.value == name)


def test_an_image_without_alt_text_blocks_submission_and_is_named(client, session, author, gate_settings):
    token = staff_client(client, author)
    body = upload(client, token, photo("PNG", (60, 60)), name="ward-photo.png").get_json()
    post = posts.create_draft(
        session, author, posts.RevisionInput("T", f"Look:\n\n{body['markdown']}", ["https://example.org/a"])
    )
    session.commit()
    from app.editorial.gates import evaluate

    results = evaluate(session, post, gate_settings)
    alt = gate(results, "media_alt")
    assert not alt.ok
    assert "ward-photo.png" in " ".join(alt.details) and f"image {body['id']}" in " ".join(alt.details)
    with pytest.raises(Exception) as refused:
        editorial.submit(session, author, post, gate_settings)
    assert "media_alt" in str(refused.value.details) or refused.value.code == "publish_blocked"
    session.rollback()

    # Described in the Markdown: passes.
    posts.revise(
        session,
        author,
        post,
        posts.RevisionInput("T", f"Look:\n\n![A chart]({body['markdown'][4:-1]})", ["https://example.org/a"]),
        1,
    )
    session.commit()
    assert gate(evaluate(session, post, gate_settings), "media_alt").ok


@pytest.mark.parametrize("suffix", ["", "?v=2", "#top"])
def test_the_alt_gate_reads_image_addresses_as_the_renderer_does(session, author, gate_settings, suffix):
    """An address of ours the library does not hold is named, however it is written: with a query or a
    fragment too (the gate once parsed addresses with a stricter pattern of its own and let those by)."""
    from app.editorial.gates import evaluate

    missing = f"/media/{'ab' * 32}.png{suffix}"
    post = posts.create_draft(
        session, author, posts.RevisionInput("T", f"Look:\n\n![]({missing})", ["https://example.org/a"])
    )
    session.commit()
    result = gate(evaluate(session, post, gate_settings), "media_alt")
    assert not result.ok
    assert result.details == [f"{missing}: not in the media library; upload the image again."]


def test_a_decorative_image_passes_and_the_library_alt_fills_an_empty_markdown_alt(
    client, session, author, gate_settings
):
    from app.editorial.gates import evaluate

    token = staff_client(client, author)
    deco = upload(client, token, photo("PNG", (60, 60)), decorative=True).get_json()
    described = upload(client, token, photo("PNG", (70, 70))).get_json()
    media = session.get(Media, described["id"])
    page = parse(client.get(f"/staff/media/{media.id}"))
    csrf = page.find("input", attrs={"name": "csrf_token"})["value"]
    assert (
        client.post(f"/staff/media/{media.id}", data={"alt": "Set later", "csrf_token": csrf}).status_code
        == 303
    )
    session.rollback()  # end the test's read transaction: see what the request committed
    post = posts.create_draft(
        session,
        author,
        posts.RevisionInput("T", f"{deco['markdown']}\n\n![]({media.path})", ["https://example.org/a"]),
    )
    session.commit()
    result = gate(evaluate(session, post, gate_settings), "media_alt")
    assert result.ok, result.details
    assert 'alt="Set later"' in post.current_revision.html


def test_a_patient_image_needs_consent_and_an_expired_one_flags_the_post(
    app, client, session, author, make_user, gate_settings
):
    from app.editorial.gates import evaluate

    token = staff_client(client, author)
    body = upload(
        client, token, photo("JPEG", (300, 200)), name="bed-3.jpg", alt="A patient smiling", patient=True
    ).get_json()
    media = session.get(Media, body["id"])
    post = posts.create_draft(
        session, author, posts.RevisionInput("T", body["markdown"], ["https://example.org/a"])
    )
    session.commit()
    consent = gate(evaluate(session, post, gate_settings), "media_consent")
    assert not consent.ok and "bed-3.jpg" in " ".join(consent.details)
    # Until a live post shows it with consent in force, only staff can fetch the patient's image.
    reader = app.test_client()
    path = urlsplit(body["url"]).path
    assert reader.get(path).status_code == 404
    staff_copy = client.get(path)
    assert staff_copy.status_code == 200 and staff_copy.headers["Cache-Control"] == "private, no-store"

    today = utc_now().date()
    page = parse(client.get(f"/staff/media/{media.id}"))
    csrf = page.find("input", attrs={"name": "csrf_token"})["value"]
    bad = client.post(
        f"/staff/media/{media.id}/consents",
        data={
            "csrf_token": csrf,
            "form_reference": "CF-1",
            "consented_on": "yesterday",
            "expires_on": "2030-01-01",
            "scopes": "web",
        },
    )
    assert bad.status_code == 422
    ok = client.post(
        f"/staff/media/{media.id}/consents",
        data={
            "csrf_token": csrf,
            "form_reference": "CF-2026-0042",
            "consented_on": (today - timedelta(days=400)).isoformat(),
            "expires_on": (today + timedelta(days=1)).isoformat(),
            "scopes": ["web", "print"],
        },
    )
    assert ok.status_code == 303
    session.expire_all()
    assert gate(evaluate(session, post, gate_settings), "media_consent").ok

    editorial.submit(session, author, post, gate_settings)
    editor = make_user("editor")
    editorial.approve(session, editor, post, post.current_revision.number, gate_settings)
    session.commit()
    assert media_usage.expired_consents(session, today) == []
    shown = reader.get(path)
    assert shown.status_code == 200 and "immutable" not in shown.headers["Cache-Control"]
    later = today + timedelta(days=2)
    flagged = media_usage.expired_consents(session, later)
    assert [(e.post.id, e.media.id) for e in flagged] == [(post.id, media.id)]

    # The consent record is history: the database refuses to change it.
    with pytest.raises(DBAPIError):
        session.execute(text("UPDATE media_consents SET expires_on = '2099-01-01'"))
    session.rollback()


def test_editors_see_posts_whose_consent_expired_on_the_library_page(
    client, session, author, make_user, gate_settings
):
    from app.media.models import MediaConsent

    token = staff_client(client, author)
    body = upload(client, token, photo("JPEG", (200, 100)), alt="Patient", patient=True).get_json()
    media = session.get(Media, body["id"])
    today = utc_now().date()
    session.add(
        MediaConsent(
            media_id=media.id,
            form_reference="CF-9",
            consented_on=today - timedelta(days=10),
            expires_on=today,
            scopes=["web"],
            recorded_by_id=author.id,
        )
    )
    post = posts.create_draft(
        session, author, posts.RevisionInput("Ward news", body["markdown"], ["https://example.org/a"])
    )
    editorial.submit(session, author, post, gate_settings)
    editor = make_user("editor")
    editorial.approve(session, editor, post, 1, gate_settings)
    session.commit()
    assert media_usage.expired_consents(session, today) == []
    assert [e.post.id for e in media_usage.expired_consents(session, today + timedelta(days=1))] == [post.id]


# --- 6: images are part of the revision -----------------------------------------------------------------


def test_a_correction_swapping_an_image_strikes_the_old_and_inserts_the_new(
    client, session, author, make_post, make_user, gate_settings, tmp_path
):
    from tests.support.html_checks import format_messages, validate, vnu_command

    token = staff_client(client, author)
    old = upload(client, token, photo("PNG", (600, 400)), alt="Old chart").get_json()
    new = upload(client, token, photo("JPEG", (600, 400)), alt="New chart").get_json()
    post = make_post(author=author, body=f"The results:\n\n{old['markdown']}\n\nEnd.")
    editor = make_user("editor", name="Second Editor")
    publish_change(session, post, editor, gate_settings, body=f"The results:\n\n{new['markdown']}\n\nEnd.")
    answer = client.get(f"/posts/{post.slug}/changes")
    assert answer.status_code == 200
    diff = parse(answer).select_one("#post-diff")
    struck = diff.select("del img")
    inserted = diff.select("ins img")
    assert [i["src"] for i in struck] == [old["markdown"].split("(")[1][:-1]]
    assert [i["src"] for i in inserted] == [new["markdown"].split("(")[1][:-1]]
    page = answer.get_data(as_text=True)
    problems = validate({"changes": page}, tmp_path / "vnu", command=vnu_command())
    assert not problems, format_messages(problems)


def test_an_image_used_by_a_revision_is_never_deleted_and_an_unused_one_can_be(
    client, session, author, make_post
):
    token = staff_client(client, author)
    used = upload(client, token, photo("PNG", (80, 80)), alt="Used").get_json()
    unused = upload(client, token, photo("PNG", (90, 90)), alt="Unused").get_json()
    make_post(author=author, body=used["markdown"])
    csrf = parse(client.get(f"/staff/media/{unused['id']}/delete")).find(
        "input", attrs={"name": "csrf_token"}
    )["value"]
    assert (
        client.post(f"/staff/media/{unused['id']}/delete", data={"csrf_token": csrf}).status_code == 303
    )  # asks first
    assert (
        client.post(
            f"/staff/media/{unused['id']}/delete", data={"csrf_token": csrf, "confirm": "yes"}
        ).status_code
        == 303
    )
    session.expire_all()
    assert session.get(Media, unused["id"]) is None
    refused = client.post(f"/staff/media/{used['id']}/delete", data={"csrf_token": csrf, "confirm": "yes"})
    assert refused.status_code == 409
    session.expire_all()
    assert session.get(Media, used["id"]) is not None
    assert session.scalar(select(RevisionMedia.media_id)) == used["id"]
    # The database itself refuses, whatever the code does.
    with pytest.raises(IntegrityError):
        session.execute(delete(Media).where(Media.id == used["id"]))
    session.rollback()
    # Nor can the link be removed first: it is history, like the revision.
    with pytest.raises(DBAPIError):
        session.execute(text("DELETE FROM revision_media"))
    session.rollback()


# --- storage in an S3-compatible bucket ---------------------------------------------------------------


def test_images_can_live_in_an_s3_compatible_bucket(app, client, session, author, monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps its buckets per process, and a worker may run this test for both databases: a bucket
        # of this run's own.
        bucket = f"clinic-media-{uuid.uuid4().hex[:12]}"
        for name, value in {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        app.config.update(
            MEDIA_STORAGE="s3",
            MEDIA_S3_BUCKET=bucket,
            MEDIA_S3_ENDPOINT_URL=endpoint,
            MEDIA_S3_REGION="us-east-1",
        )
        token = staff_client(client, author)
        body = upload(client, token, photo("JPEG", (1000, 700)), alt="In the bucket").get_json()
        assert session.execute(text("SELECT count(*) FROM media_blobs")).scalar() == 0
        for data in served_variants(client, session, body["id"]):
            assert_no_metadata(data)
        listed = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").list_objects_v2(
            Bucket=bucket
        )
        assert listed["KeyCount"] == 2  # 480 and the full 700 (turned upright: 700 × 1000)
    finally:
        server.stop()


# --- the pages ------------------------------------------------------------------------------------------


def test_the_library_is_in_the_staff_navigation(client, author):
    log_in(client, author.email)
    nav = parse(client.get("/staff/")).select_one('nav.staff-nav a[data-nav="media"]')
    assert nav is not None and nav["href"] == "/staff/media"
    assert client.get("/staff/media").status_code == 200


def test_signed_out_visitors_go_to_sign_in(client):
    assert client.get("/staff/media").status_code == 302
