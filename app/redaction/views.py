"""Redaction pages for editors (ask, see what will happen, confirm) and the JSON API.

- ``GET /staff/redactions/``: pending requests and recent redactions.
- ``GET|POST /staff/redactions/new/<target>/<id>``: the form (exact text, reason, the privacy scan's
  suggestions); a POST shows what will happen, and with ``confirmed=1`` makes the request.
- ``GET /staff/redactions/<id>``, ``POST /staff/redactions/<id>/confirm``: a second editor confirms.
- ``POST /api/v1/redactions`` with ``{"target", "id"`` (or ``"post_id", "revision"``), ``"text", "reason"}``
  → 201; ``GET /api/v1/redactions/<id>``; ``POST /api/v1/redactions/<id>/confirm`` → 200, or 409 when
  already carried out, 403 for the requester.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from app.accounts.permissions import require
from app.errors import InvalidInput, NotFound
from app.posts.models import Revision
from app.redaction import services
from app.redaction.models import MARK, Redaction, Target
from app.web import api, desk
from app.web.auth import current_user
from app.web.database import db
from app.web.forms import Form
from app.web.urls import public_url

bp = Blueprint("redaction", __name__, url_prefix="/staff/redactions")
API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app

# URL and API names of the targets.
TARGETS = {
    "revision": Target.REVISION,
    "comment": Target.COMMENT,
    "error_report": Target.ERROR_REPORT,
    "contact_message": Target.CONTACT_MESSAGE,
}
NAMES = {table: name for name, table in TARGETS.items()}


@bp.context_processor
def _vocabulary() -> dict[str, Any]:
    return desk.vocabulary()


class ConfirmForm(Form):
    """Only the CSRF token: the redaction is named by the URL."""


def _target(name: str) -> str:
    table = TARGETS.get(name)
    if table is None:
        raise NotFound("No such kind of record.")
    return table


def _context(table: str, record: Any) -> dict[str, Any]:
    """Where the record lives, for the pages: a link back and a title."""
    if table == Target.REVISION:
        return {
            "label": f"revision {record.number} of “{record.title}”",
            "back": url_for("corrections.staff_diff", post_id=record.post_id, to=record.number),
        }
    if table == Target.COMMENT:
        return {"label": f"comment {record.id}", "back": url_for("moderation.comment", comment_id=record.id)}
    if table == Target.ERROR_REPORT:
        return {"label": f"error report {record.id}", "back": url_for("corrections.report_queue")}
    return {
        "label": f"contact message {record.id}",
        "back": url_for("contact_desk.message", message_id=record.id),
    }


@bp.get("/")
def index() -> Any:
    actor = require(current_user(), "history.redact")
    return render_template(
        "redaction/index.html",
        pending=services.pending(db()),
        recent=services.recent(db()),
        actor=actor,
        names=NAMES,
        form=ConfirmForm(),
    )


@bp.route("/new/<target>/<int:target_id>", methods=["GET", "POST"])
def new(target: str, target_id: int) -> Any:
    actor = require(current_user(), "history.redact")
    table = _target(target)
    record = services.target_of(db(), table, target_id)
    form = ConfirmForm()
    text = request.form.get("text", "") if request.method == "POST" else ""
    reason = request.form.get("reason", "") if request.method == "POST" else ""
    values = {"text": text, "reason": reason}
    settings = api.gate_settings()
    common = {
        "target": target,
        "target_id": target_id,
        "record": record,
        "fields": services.fields_of(table, record),
        "suggestions": services.suggestions(table, record, settings.privacy_terms, settings.privacy_allow),
        "published": services.is_published_text(db(), table, record),
        "form": form,
        "values": values,
        "mark": MARK,
        **_context(table, record),
    }
    if request.method == "GET":
        return render_template("redaction/new.html", **common)
    form.validate_on_submit()  # the CSRF token is checked before the view; nothing else to validate here
    if request.form.get("confirmed") != "1":
        # The page that says what will happen, before anything does.
        try:
            spans = services.preview(table, record, text=text, reason=reason)
        except InvalidInput as exc:
            return render_template("redaction/new.html", error=exc.message, **common), 422
        return render_template("redaction/preview.html", spans=spans, **common)
    redaction = services.request(db(), actor, table, target_id, text=text, reason=reason)
    return redirect(url_for("redaction.show", redaction_id=redaction.id), 303)


@bp.get("/<int:redaction_id>")
def show(redaction_id: int) -> Any:
    actor = require(current_user(), "history.redact")
    redaction = services.get(db(), redaction_id)
    application = services.application_of(db(), redaction)
    record = services.target_of(db(), redaction.target_table, redaction.target_id)
    fields = services.fields_of(redaction.target_table, record)
    excerpts = []
    if application is None:  # the text is still there: show the second editor what will go
        for field, start, end in redaction.spans:
            value = fields.get(field, "")
            excerpts.append(
                (field, value[max(0, start - 40) : start], value[start:end], value[end : end + 40])
            )
    return render_template(
        "redaction/show.html",
        redaction=redaction,
        application=application,
        excerpts=excerpts,
        actor=actor,
        name=NAMES[redaction.target_table],
        form=ConfirmForm(),
        **_context(redaction.target_table, record),
    )


@bp.post("/<int:redaction_id>/confirm")
def confirm(redaction_id: int) -> Any:
    actor = require(current_user(), "history.redact")
    services.confirm(db(), actor, redaction_id)
    return redirect(url_for("redaction.show", redaction_id=redaction_id), 303)


# --- JSON ---------------------------------------------------------------------------------------------


def redaction_json(redaction: Redaction) -> dict[str, Any]:
    application = services.application_of(db(), redaction)
    return {
        "id": redaction.id,
        "target": NAMES[redaction.target_table],
        "target_id": redaction.target_id,
        "post_id": redaction.post_id,
        "revision": redaction.revision_number,
        "reason": redaction.reason,
        "requested_by": redaction.requested_by_id,
        "requested_at": redaction.requested_at.isoformat(),
        "span_count": redaction.span_count,
        "span_length": redaction.span_length,
        "needs_confirmation": redaction.needs_confirmation,
        "state": "applied" if application is not None else "pending",
        "applied_by": application.applied_by_id if application else None,
        "applied_at": application.applied_at.isoformat() if application else None,
        "url": public_url("api.api_get_redaction", redaction_id=redaction.id),
    }


NEW_REDACTION = api.obj(
    {
        "target": {"type": "string", "enum": list(TARGETS)},
        "id": {
            **api.nullable(api.ID),
            "description": "The record's id; for a revision, or `post_id` and `revision`.",
        },
        "post_id": {**api.ID, "description": "With `revision`, names a revision (when `id` is not given)."},
        "revision": {**api.ID, "description": "The revision's number in its post."},
        "text": {
            **api.TEXT,
            "description": f"The exact text to redact, at most {services.MAX_TEXT_CHARS} characters; "
            "every occurrence in the record is replaced.",
        },
        "reason": {
            **api.TEXT,
            "description": f"Why, at most {services.MAX_REASON_CHARS} characters; it must not repeat the "
            "text.",
        },
    },
    "target",
    "text",
    "reason",
)
REDACTION = api.answer(
    {
        "id": api.ID,
        "target": {"type": "string", "enum": list(TARGETS)},
        "target_id": api.ID,
        "post_id": api.nullable(api.ID),
        "revision": api.nullable(api.ID),
        "reason": api.TEXT,
        "requested_by": {**api.ID, "description": "The requesting editor's user id."},
        "requested_at": api.DATETIME,
        "span_count": {"type": "integer", "minimum": 1},
        "span_length": {"type": "integer", "minimum": 1},
        "needs_confirmation": {
            **api.BOOL,
            "description": "true for published text: a second editor confirms it.",
        },
        "state": {"type": "string", "enum": ["pending", "applied"]},
        "applied_by": api.nullable(api.ID),
        "applied_at": api.nullable(api.DATETIME),
        "url": api.URL,
    }
)


@API.post(
    "/redactions",
    summary="Ask to redact exact text from a record (editors)",
    description="Carried out at once (`state: applied`) unless it is a published revision's text, which "
    "waits for a second editor (`state: pending`). 404 when the record does not exist; 422 when the text is "
    "not in it.",
    body=NEW_REDACTION,
    responses={201: REDACTION},
    headers={201: {"Location": "The redaction's address in this API."}},
    errors=(404,),
)
def api_create_redaction() -> Any:
    actor = require(current_user(), "history.redact")
    data = api.json_body()
    name = data.get("target")
    if not isinstance(name, str) or name not in TARGETS:
        raise InvalidInput(
            "target must be revision, comment, error_report or contact_message.", field="target"
        )
    table = TARGETS[name]
    if table == Target.REVISION and data.get("id") is None:
        post_id = api.int_field(data, "post_id")
        number = api.int_field(data, "revision")
        target_id = db().scalar(
            select(Revision.id).where(Revision.post_id == post_id, Revision.number == number)
        )
        if target_id is None:
            raise NotFound("No such revision.")
    else:
        target_id = api.int_field(data, "id")
    assert target_id is not None
    redaction = services.request(
        db(), actor, table, target_id, text=data.get("text"), reason=data.get("reason")
    )
    return (
        redaction_json(redaction),
        201,
        {"Location": public_url("api.api_get_redaction", redaction_id=redaction.id)},
    )


@API.get(
    "/redactions/<int:redaction_id>",
    summary="A redaction: what was asked, and whether it was carried out (editors)",
    responses={200: REDACTION},
)
def api_get_redaction(redaction_id: int) -> Any:
    require(current_user(), "history.redact")
    return redaction_json(services.get(db(), redaction_id))


@API.post(
    "/redactions/<int:redaction_id>/confirm",
    summary="Confirm a pending redaction of published text, which carries it out (a second editor)",
    description="403 for the editor who asked for it; 409 when it was already carried out, or the text "
    "was redacted again since it was asked for.",
    responses={200: REDACTION},
    errors=(409,),
)
def api_confirm_redaction(redaction_id: int) -> Any:
    actor = require(current_user(), "history.redact")
    return redaction_json(services.confirm(db(), actor, redaction_id))
