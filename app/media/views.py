"""The media library's pages, the public image addresses, and the upload API.

- ``GET /media/<sha256>.<ext>``: a stored rendition, immutable (its address is the hash of its bytes).
- ``GET /staff/media``: the library (newest first), with an upload form that needs no script.
- ``POST /staff/media``: upload (multipart ``file``, ``alt``, ``decorative``, ``shows_patient``, CSRF in
  ``csrf_token`` or ``X-CSRFToken``). With ``Accept: application/json``: 201 ``{id, url, markdown}`` or a
  4xx ``{error, message}`` (the editor's paste and drop); otherwise a redirect to the image's page.
- ``GET|POST /staff/media/<id>``: alt text, decorative, shows a patient; ``POST /staff/media/<id>/consents``
  records a consent; ``GET|POST /staff/media/<id>/delete`` deletes an image no revision uses.
- ``POST /api/v1/media``: the same upload for API tokens.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for

from app.accounts.permissions import can, require
from app.clock import utc_now
from app.errors import CandorError, InvalidInput, NotFound
from app.media import services
from app.media.models import MAX_ALT_CHARS, MIME_TYPES, SCOPES, Media
from app.media.storage import DatabaseStore, S3Store, Store
from app.posts import media_usage as usage
from app.text import clean_text
from app.web import api, desk
from app.web.auth import current_user
from app.web.database import db
from app.web.urls import public_url

bp = Blueprint("media", __name__)
API = api.Routes()
UPLOAD_ENDPOINTS = frozenset({"media.library", "api.upload_media"})
IMMUTABLE = "public, max-age=31536000, immutable"


@bp.context_processor
def _vocabulary() -> dict[str, Any]:
    return desk.vocabulary()


def store() -> Store:
    """The configured storage, made once per app (boto3 clients are thread-safe)."""
    config = current_app.config
    if config["MEDIA_STORAGE"] != "s3":
        return DatabaseStore()
    cached = current_app.extensions.get("candor.media_store")
    if cached is None:
        cached = current_app.extensions["candor.media_store"] = S3Store.from_settings(
            config["MEDIA_S3_BUCKET"], config["MEDIA_S3_ENDPOINT_URL"], config["MEDIA_S3_REGION"]
        )
    return cached


def limits() -> services.Limits:
    return services.Limits(current_app.config["MEDIA_MAX_BYTES"], current_app.config["MEDIA_MAX_PIXELS"])


def raise_upload_limit() -> None:
    """A ``before_request`` that runs before CSRF protection reads the form: an upload may be larger than
    other requests (``CANDOR_MEDIA_MAX_BYTES``, plus room for the form's other fields). Werkzeug spools
    a file part past 500 KB to a temporary file and stops reading at the limit, so no more than that is
    ever read, nor held in memory."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = current_app.config["MEDIA_MAX_BYTES"] + 64 * 1024


# --- serving ---------------------------------------------------------------------------------------------


@bp.get("/media/<string:sha256>.<string:ext>")
def serve(sha256: str, ext: str) -> Any:
    """A stored rendition by the hash of its bytes: the same address always means the same bytes."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound("No such image.")
    variant = services.variant_by_path(db(), sha256, ext)
    if variant is None:
        raise NotFound("No such image.")
    etag = f'"{sha256}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    media = db().get(Media, variant.media_id)
    if media is not None and media.shows_patient:
        # An image of a patient reaches readers only through a live post, and only while the patient's
        # consent for the web is in force; before that (or after) only staff see it, and nothing keeps it.
        public = usage.shown_to_readers(db(), media) and services.has_consent(db(), media, utc_now().date())
        if not public and current_user() is None:
            raise NotFound("No such image.")
        headers["Cache-Control"] = "public, max-age=3600" if public else "private, no-store"
    if etag in request.headers.get("If-None-Match", "") or request.headers.get("If-None-Match") == "*":
        return Response(status=304, headers=headers)
    data = store().get(db(), sha256)
    if data is None:
        raise NotFound("No such image.")
    fmt = services.FORMAT_OF_EXT[ext]
    return Response(data, mimetype=MIME_TYPES[fmt], headers=headers)


# --- upload ----------------------------------------------------------------------------------------------


def _flag(name: str) -> bool:
    return request.form.get(name, "") in ("1", "true", "on", "yes")


def _upload() -> tuple[Media, bool]:
    actor = require(current_user(), "media.upload")
    file = request.files.get("file")
    if file is None or not file.filename and file.stream is None:
        raise InvalidInput("Choose an image file to upload.", field="file")
    alt = clean_text(request.form.get("alt", ""), "alt", max_chars=MAX_ALT_CHARS, required=False)
    return services.upload(
        db(),
        actor,
        file.stream,
        name=file.filename or "",
        alt=alt,
        decorative=_flag("decorative"),
        shows_patient=_flag("shows_patient"),
        store=store(),
        limits=limits(),
    )


def _answer(media: Media) -> dict[str, Any]:
    return {
        "id": media.id,
        "url": public_url("media.serve", sha256=media.sha256, ext=media.ext),
        "markdown": markdown(media),
    }


def markdown(media: Media) -> str:
    alt = media.alt.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"![{alt}]({media.path})"


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/staff/media", methods=["GET", "POST"])
def library() -> Any:
    if current_user() is None and request.method == "GET":
        return redirect(url_for("accounts.login", next=request.path))
    require(current_user(), "media.upload")
    if request.method == "GET":
        return _library_page()
    if wants_json():
        try:
            media, created = _upload()
        except CandorError as exc:
            return jsonify({"error": exc.code, "message": exc.message}), exc.status
        return jsonify(_answer(media)), 201 if created else 200
    try:
        media, _ = _upload()
    except CandorError as exc:
        if exc.status >= 500:
            raise
        return _library_page(error=exc.message, status=exc.status)
    return redirect(url_for("media.item", media_id=media.id, uploaded=1), 303)


def _library_page(*, error: str = "", status: int = 200) -> Any:
    user = current_user()
    return (
        render_template(
            "media/library.html",
            items=services.library(db()),
            expired=usage.expired_consents(db(), utc_now().date())
            if can(user, "post.request_changes")
            else [],
            error=error,
            max_bytes=current_app.config["MEDIA_MAX_BYTES"],
            max_alt=MAX_ALT_CHARS,
        ),
        status,
    )


@API.post(
    "/media",
    summary="Upload an image (staff)",
    description="Multipart form: `file` (JPEG, PNG, WebP, GIF or AVIF, decided from the bytes), `alt`, "
    "`decorative` and `shows_patient` (`1` for yes). The stored image is re-encoded from its pixels and "
    "carries no metadata. The same image again answers 200 with the existing entry.",
    body=api.obj(
        {
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
            "alt": {"type": "string", "maxLength": MAX_ALT_CHARS},
            "decorative": {"type": "string", "enum": ["1", "0", "true", "false"]},
            "shows_patient": {"type": "string", "enum": ["1", "0", "true", "false"]},
        },
        "file",
    ),
    body_type="multipart/form-data",
    responses={
        201: api.answer({"id": api.ID, "url": api.URL, "markdown": api.TEXT}),
        200: api.answer({"id": api.ID, "url": api.URL, "markdown": api.TEXT}),
    },
)
def upload_media() -> Any:
    media, created = _upload()
    return _answer(media), 201 if created else 200


# --- one image -------------------------------------------------------------------------------------------


def _date(name: str, label: str) -> date:
    raw = request.form.get(name, "").strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{label} must be a date (YYYY-MM-DD).", field=name) from None


def _item_page(media: Media, *, error: str = "", status: int = 200) -> Any:
    return (
        render_template(
            "media/item.html",
            media=media,
            consents=services.consents(db(), media),
            current=services.has_consent(db(), media, utc_now().date()),
            used=usage.used_by(db(), media),
            markdown=markdown(media),
            scopes=SCOPES,
            error=error,
            uploaded=request.args.get("uploaded") == "1",
            max_alt=MAX_ALT_CHARS,
            today=utc_now().date(),
        ),
        status,
    )


@bp.route("/staff/media/<int:media_id>", methods=["GET", "POST"])
def item(media_id: int) -> Any:
    if current_user() is None and request.method == "GET":
        return redirect(url_for("accounts.login", next=request.path))
    actor = require(current_user(), "media.upload")
    media = services.get(db(), media_id)
    if request.method == "GET":
        return _item_page(media)
    try:
        alt = clean_text(request.form.get("alt", ""), "alt", max_chars=MAX_ALT_CHARS, required=False)
        services.describe(
            db(), actor, media, alt=alt, decorative=_flag("decorative"), shows_patient=_flag("shows_patient")
        )
    except InvalidInput as exc:  # refused before anything changed
        return _item_page(media, error=exc.message, status=422)
    return redirect(url_for("media.item", media_id=media.id), 303)


@bp.post("/staff/media/<int:media_id>/consents")
def consent(media_id: int) -> Any:
    actor = require(current_user(), "media.upload")
    media = services.get(db(), media_id)
    try:
        services.record_consent(
            db(),
            actor,
            media,
            form_reference=clean_text(
                request.form.get("form_reference", ""), "form_reference", max_chars=200, required=False
            ),
            consented_on=_date("consented_on", "The date of consent"),
            expires_on=_date("expires_on", "The expiry date"),
            scopes=request.form.getlist("scopes"),
            note=clean_text(
                request.form.get("note", ""), "note", max_chars=2000, required=False, multiline=True
            ),
        )
    except InvalidInput as exc:
        return _item_page(media, error=exc.message, status=422)
    return redirect(url_for("media.item", media_id=media.id), 303)


@bp.route("/staff/media/<int:media_id>/delete", methods=["GET", "POST"])
def delete(media_id: int) -> Any:
    if current_user() is None and request.method == "GET":
        return redirect(url_for("accounts.login", next=request.path))
    actor = require(current_user(), "media.upload")
    media = services.get(db(), media_id)
    if request.method == "GET" or not desk.confirmed():
        if request.method == "POST":
            return redirect(url_for("media.delete", media_id=media_id), 303)
        return render_template("media/delete.html", media=media, used=usage.used_by(db(), media))
    services.delete(db(), actor, media, store())
    return redirect(url_for("media.library"), 303)
