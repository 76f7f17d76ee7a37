"""The editor's helpers behind the page: live preview (with the checklist on the working copy) and
autosave to a draft buffer. JSON in and out, for static/editor.js; the page itself works without them.

They sit under ``/staff/writing/`` and answer errors as JSON (app/web/errors.py). They take the signed-in
session and its CSRF token in the ``X-CSRFToken`` header, like every staff form: they are part of the staff
page, not of the JSON API (which takes bearer tokens only). Preview renders through the same sandboxed
renderer a Save uses and judges the working copy with the same gate code, read-only: nothing is stored.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, url_for

from app.accounts.permissions import require
from app.drafts import services as drafts
from app.editorial import services as editorial
from app.errors import InvalidInput, RenderError
from app.posts import services as posts
from app.posts.models import Revision
from app.posts.rendering import render_markdown
from app.staff.views import GATE_LABELS
from app.text import clean_text, clean_url_list
from app.web.api import gate_settings, json_body
from app.web.auth import current_user
from app.web.database import db
from app.web.extensions import limiter

bp = Blueprint("writing", __name__, url_prefix="/staff")

MAX_TITLE = 300


def _user_key() -> str:
    user = current_user()
    return f"writer:{user.id}" if user is not None else "anonymous"


@bp.before_request
def _staff_only() -> Any:
    require(current_user(), "post.view_unpublished")
    return None


def _payload() -> dict[str, Any]:
    return json_body()  # the API's reader: a JSON object, or a 4xx saying what is wrong (deep nesting too)


def _working_copy(data: dict[str, Any]) -> Revision:
    """The editor's fields as an unsaved Revision (never added to the session): what a Save would store."""
    title = clean_text(data.get("title", ""), "title", max_chars=MAX_TITLE, required=False)
    body = clean_text(data.get("body", ""), "body", max_chars=drafts.MAX_BODY, required=False, multiline=True)
    references = data.get("references", "")
    try:
        refs = clean_url_list(references, "References")
    except InvalidInput:
        refs = []  # half-typed references: the checklist judges the ones that are already links
        if isinstance(references, str):
            refs = [r for r in references.split() if r.startswith(("http://", "https://"))][:50]
    personal = data.get("personal_view", False)
    if not isinstance(personal, bool):
        raise InvalidInput("personal_view must be true or false.", field="personal_view")
    return Revision(
        title=title, body=body, references=refs, html=render_markdown(body), personal_view=personal
    )


@bp.post("/writing/preview")
@limiter.limit("60 per minute", key_func=_user_key)
def preview() -> Any:
    """``{title, body, references, personal_view, post_id?}`` → ``{html, checklist?}``, both HTML to show."""
    data = _payload()
    try:
        working = _working_copy(data)
    except RenderError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), 422
    answer = {"html": render_template("staff/_preview.html", html=working.html)}
    post_id = data.get("post_id")
    if post_id is not None:
        if isinstance(post_id, bool) or not isinstance(post_id, int):
            raise InvalidInput("post_id must be a number.", field="post_id")
        post = posts.get_post(db(), post_id)
        require(current_user(), "post.revise", post)
        gates = editorial.check_gates(db(), post, gate_settings(), True, working_copy=working)
        answer["checklist"] = render_template("staff/_checklist.html", gates=gates, gate_labels=GATE_LABELS)
    return jsonify(answer)


@bp.post("/writing/<int:post_id>/autosave")
@limiter.limit("30 per minute", key_func=_user_key)
def autosave(post_id: int) -> Any:
    """``{title, body, references, base_revision}`` → ``{saved_at}``; the buffer, not a revision."""
    data = _payload()
    post = posts.get_post(db(), post_id)
    buffer = drafts.save(
        db(),
        current_user(),
        post,
        title=data.get("title", ""),
        body=data.get("body", ""),
        references=data.get("references", ""),
        base=drafts.base_number(data.get("base_revision")),
    )
    return jsonify({"saved_at": buffer.saved_at.isoformat()})


@bp.post("/writing/new/autosave")
@limiter.limit("30 per minute", key_func=_user_key)
def autosave_new() -> Any:
    """``{title, body, references}`` → ``{saved_at}``: the working copy of a post not saved yet."""
    data = _payload()
    buffer = drafts.save_new(
        db(),
        current_user(),
        title=data.get("title", ""),
        body=data.get("body", ""),
        references=data.get("references", ""),
    )
    return jsonify({"saved_at": buffer.saved_at.isoformat()})


@bp.post("/posts/new/autosave/discard")
def discard_new() -> Any:
    user = require(current_user(), "post.create")
    drafts.drop_new(db(), user)
    flash("The autosaved text was discarded.")
    return redirect(url_for("staff.new_post"), 303)


@bp.post("/posts/<int:post_id>/autosave/discard")
def discard(post_id: int) -> Any:
    post = posts.get_post(db(), post_id)
    user = require(current_user(), "post.revise", post)
    drafts.drop(db(), user, post)
    flash("The autosaved text was discarded.")
    return redirect(url_for("staff.edit_post", post_id=post.id), 303)
