"""``/staff/settings``: what an admin changes at run time, and the history of every change.

The form shows each setting's value in force (stored, else the environment's default). Saving validates
every field (422 with each field's message), stores what changed, and the next request of every worker
sees it (app/web/runtime.py). ``GET/PUT /api/v1/settings`` does the same in JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from wtforms import RadioField, SelectChoice, StringField, TextAreaField

from app.accounts.permissions import can, require
from app.errors import InvalidInput
from app.settings import services as settings
from app.web import api
from app.web.api import json_body
from app.web.auth import current_user
from app.web.database import db
from app.web.forms import Form

bp = Blueprint("settings", __name__, url_prefix="/staff/settings")
API = api.Routes()


class SettingsForm(Form):
    site_name = StringField("Site name")
    organisation = StringField("Organisation")
    privacy_terms = TextAreaField("Privacy terms")
    privacy_allow = TextAreaField("Privacy allow-list")
    blocked_link_hosts = TextAreaField("Blocked link hosts")
    comment_rate_limit = StringField("Comment rate limit")
    comment_burst = StringField("Comment burst")
    comment_max_links = StringField("Links per comment")
    offtopic_threshold = StringField("Off-topic threshold")
    offtopic_mode = RadioField(
        "Off-topic mode",
        choices=[
            SelectChoice("hold", "Hold suspected off-topic comments"),
            SelectChoice("log", "Log only: hold nothing for it"),
        ],
        validate_choice=False,  # settings.change refuses anything else, in the setting's own words
    )
    offtopic_small_blog = RadioField(
        "Off-topic on a small blog",
        choices=[
            SelectChoice("flag", "Flag only while the blog has fewer than 10 other posts"),
            SelectChoice("hold", "Hold as on a larger blog"),
        ],
        validate_choice=False,
    )


def _as_field(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


@bp.before_request
def _admins_only() -> Any:
    if current_user() is None:
        return redirect(url_for("accounts.login", next=request.path if request.method == "GET" else None))
    require(current_user(), "settings.manage")
    return None


@bp.context_processor
def _staff_nav() -> dict[str, Any]:
    user = current_user()
    return {
        "is_editor": can(user, "post.request_changes"),
        "can_write": can(user, "post.create"),
        "can_manage_settings": True,
    }


def _page(form: SettingsForm, *, status: int = 200, saved: int | None = None) -> Any:
    return (
        render_template(
            "settings/settings.html",
            form=form,
            specs=settings.SPECS,
            history=settings.history(db()),
            labels={spec.key: spec.label for spec in settings.SPECS},
            saved=saved,
        ),
        status,
    )


@bp.route("", methods=["GET", "POST"])
def edit() -> Any:
    form = SettingsForm()
    if request.method == "GET":
        for key, value in settings.current(db(), current_app.config).items():
            getattr(form, key).data = _as_field(value)
        return _page(form, saved=request.args.get("saved", type=int))
    if not form.validate():
        return _page(form, status=422)
    raw = {spec.key: getattr(form, spec.key).data or "" for spec in settings.SPECS}
    try:
        changes = settings.change(db(), current_user(), raw, current_app.config)
    except InvalidInput as exc:
        name = exc.details.get("field")
        field = getattr(form, name) if name in settings.BY_KEY else form.site_name
        field.errors = [*field.errors, exc.message]
        return _page(form, status=422)
    return redirect(url_for(".edit", saved=len(changes)), 303)


LINES: dict[str, Any] = {
    "type": ["array", "string"],
    "items": {"type": ["string", "null"]},
    "description": "A list, or text one entry a line; each entry at most 100 characters, at most 500.",
}
WHOLE: dict[str, Any] = {"type": ["integer", "string"], "description": "A whole number (or its digits)."}
SETTINGS_BODY = api.obj(
    {
        "site_name": {**api.TEXT, "description": "One line, at most 100 characters."},
        "organisation": {**api.TEXT, "description": "One line, at most 100 characters."},
        "privacy_terms": {**LINES, "description": LINES["description"] + " Three characters at least."},
        "privacy_allow": LINES,
        "blocked_link_hosts": {
            **LINES,
            "description": "Host names (bit.ly) or host/path: a list, or one a line.",
        },
        "comment_rate_limit": {**api.TEXT, "description": "Such as `10 per minute; 100 per day`."},
        "comment_burst": {**WHOLE, "minimum": 1, "maximum": 1000, "description": "1 to 1000."},
        "comment_max_links": {**WHOLE, "minimum": 0, "maximum": 100, "description": "0 to 100."},
        "offtopic_threshold": {**WHOLE, "minimum": 1, "maximum": 99, "description": "1 to 99 (percent)."},
        "offtopic_mode": {"type": "string", "enum": ["hold", "log"], "description": "hold or log."},
        "offtopic_small_blog": {
            "type": "string",
            "enum": ["flag", "hold"],
            "description": "flag (below 10 other published posts the verdict is only recorded) or hold.",
        },
    },
    closed=True,
)
ENTRIES: dict[str, Any] = {"type": "array", "items": api.TEXT}
SETTINGS = api.answer(
    {
        "settings": api.answer(
            {
                "site_name": api.TEXT,
                "organisation": api.TEXT,
                "privacy_terms": ENTRIES,
                "privacy_allow": ENTRIES,
                "blocked_link_hosts": ENTRIES,
                "comment_rate_limit": api.TEXT,
                "comment_burst": {"type": "integer"},
                "comment_max_links": {"type": "integer"},
                "offtopic_threshold": {"type": "integer"},
                "offtopic_mode": {"type": "string", "enum": ["hold", "log"]},
                "offtopic_small_blog": {"type": "string", "enum": ["flag", "hold"]},
            }
        )
    }
)


@API.get("/settings", summary="The run-time settings in force (admins)", responses={200: SETTINGS})
def settings_json() -> Any:
    require(current_user(), "settings.manage")
    return {"settings": settings.current(db(), current_app.config)}


@API.put(
    "/settings",
    summary="Change run-time settings (admins)",
    description="Only the settings sent change; each is validated, and nothing is stored unless all are. "
    "Every change is kept in the settings' history and the audit log.",
    body=SETTINGS_BODY,
    responses={200: SETTINGS},
)
def put_settings_json() -> Any:
    require(current_user(), "settings.manage")
    settings.change(db(), current_user(), json_body(), current_app.config)
    db().flush()
    return {"settings": settings.current(db(), current_app.config)}
