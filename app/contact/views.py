"""The contact form readers write from (``/contact``) and the desk where moderators answer or close
what arrived (``/staff/contact/``). Parse, call one service, return: the request edge commits and then
sends the e-mail a reply queued.

Two blueprints, because they face two audiences: the desk's guard (sign in, then the moderator's
permission) covers every desk page by construction, and none of the reader's.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.accounts.permissions import require
from app.contact import services as contact
from app.contact.models import ContactStatus
from app.errors import InvalidInput
from app.web import desk, paging
from app.web.auth import current_user
from app.web.database import db
from app.web.errors import SHARED_READER_LIMIT, http_error_response
from app.web.extensions import client_ip, csrf, retry_message
from app.web.outside import site
from app.web.reader_forms import form_age, form_token, reader_limit

bp = Blueprint("contact", __name__)
desk_bp = Blueprint("contact_desk", __name__, url_prefix="/staff/contact")
desk_bp.before_request(desk.moderators_only)


@desk_bp.context_processor
def _vocabulary() -> dict[str, Any]:
    return desk.vocabulary()


# --- the reader's form --------------------------------------------------------------------------------


@bp.route("/contact", methods=["GET", "POST"])
@csrf.exempt
@reader_limit
def form() -> ResponseReturnValue:
    """Write to the blog's staff privately; answered by e-mail. Not cached, so the time token is baked in."""
    if request.method == "GET":
        return render_template("contact/form.html", errors={}, values={}, token=form_token())
    data = contact.ContactInput(
        name=request.form.get("name", ""),
        email=request.form.get("email", ""),
        subject=request.form.get("subject", ""),
        body=request.form.get("body", ""),
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
        honeypot=request.form.get("website", ""),
        form_age=form_age(request.form.get("form_token")),
    )
    errors = contact.field_errors(data)
    if errors:
        page = render_template("contact/form.html", errors=errors, values=request.form, token=form_token())
        return page, 422
    message = contact.submit(db(), data, min_seconds=float(current_app.config["COMMENT_MIN_SECONDS"]))
    return render_template("contact/sent.html", message=message), 201


@bp.errorhandler(429)
def _too_many(exc: HTTPException) -> ResponseReturnValue:
    """Over the readers' rate limit: the form again, with what the reader wrote and when to try again
    (the plain 429 page lost their message). Nothing is stored."""
    if request.endpoint != "contact.form":
        return http_error_response(exc)
    page = render_template(
        "contact/form.html",
        errors={"body": f"{retry_message()} {SHARED_READER_LIMIT}"},
        values=request.form,
        token=form_token(),
    )
    return page, 429


# --- the moderators' desk -----------------------------------------------------------------------------


MESSAGES_PER_PAGE = 50


@desk_bp.get("/")
def messages() -> ResponseReturnValue:
    actor = require(current_user(), desk.PERMISSION)
    state = request.args.get("status", "open")
    after, before = paging.cursors()
    listed = contact.listing(db(), actor, state, after=after, before=before, per_page=MESSAGES_PER_PAGE)
    found = listed.rows
    return render_template(
        "contact/messages.html",
        messages=found,
        **paging.pager(listed, after, before),
        state=state,
        states=[s.value for s in ContactStatus],
    )


@desk_bp.get("/<int:message_id>")
def message(message_id: int) -> ResponseReturnValue:
    actor = require(current_user(), desk.PERMISSION)
    item = contact.get_message(db(), actor, message_id)
    replies = contact.replies(db(), item)
    return render_template("contact/message.html", message=item, replies=replies, errors={})


@desk_bp.post("/<int:message_id>/reply")
def reply(message_id: int) -> ResponseReturnValue:
    actor = require(current_user(), desk.PERMISSION)
    item = contact.get_message(db(), actor, message_id)
    try:
        contact.reply(db(), actor, item, request.form.get("body", ""), site())
    except InvalidInput as exc:
        return render_template(
            "contact/message.html",
            message=item,
            replies=contact.replies(db(), item),
            errors={"body": exc.message},
            body=request.form.get("body", ""),
        ), 422
    flash(f"Reply e-mailed to {item.name} and kept with the message.")
    return redirect(url_for(".message", message_id=item.id), 303)


@desk_bp.post("/<int:message_id>/status")
def status(message_id: int) -> ResponseReturnValue:
    actor = require(current_user(), desk.PERMISSION)
    item = contact.get_message(db(), actor, message_id)
    contact.close(db(), actor, item, request.form.get("status", ""))
    flash(f"Message from {item.name} marked {item.status}.")
    return desk.back(url_for(".messages"))
