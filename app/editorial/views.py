"""Editorial JSON API: submit, approve, request changes, withdraw, overrides, retraction, gates, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.accounts.permissions import require
from app.audit import services as audit
from app.editorial import services as editorial
from app.errors import InvalidInput
from app.posts import services as posts
from app.text import clean_text
from app.web import api
from app.web.api import (
    BOOL,
    DATETIME,
    ID,
    PAGE_QUERY,
    TEXT,
    URL,
    answer,
    gate_settings,
    int_field,
    json_body,
    listing,
    listing_of,
    nullable,
    obj,
    optional_bool,
    page_args,
)
from app.web.auth import current_user
from app.web.database import db
from app.web.urls import public_url

API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app

NUMBER: dict[str, Any] = {"type": "integer", "minimum": 1}
STATUS = answer(
    {
        "id": ID,
        "status": TEXT,
        "slug": nullable(TEXT),
        "publication_state": TEXT,
        "review_state": TEXT,
        "revision": nullable(NUMBER),
        "published_revision": nullable(NUMBER),
        "publish_at": nullable(DATETIME),
    }
)
APPROVED = {
    **STATUS,
    "properties": {**STATUS["properties"], "published_at": DATETIME, "url": URL},
    "description": "`published_at` and `url` are there when the approval published at once.",
}
GATE = obj(
    {
        "gate": TEXT,
        "ok": BOOL,
        "message": TEXT,
        "details": {"type": "array", "items": TEXT},
        "overridden": answer({"by": TEXT, "justification": TEXT, "at": DATETIME}),
    },
    "gate",
    "ok",
    "message",
    "details",
)
AUDIT_ENTRY = answer(
    {
        "at": DATETIME,
        "actor": TEXT,
        "action": TEXT,
        "post_id": nullable(ID),
        "revision": nullable(NUMBER),
        "note": TEXT,
        "data": {"type": "object"},
    }
)
SUBMIT = obj(
    {
        "touches_interests": {
            **nullable(BOOL),
            "description": "Whether the post touches an interest you disclosed.",
        },
        "interest_statement": nullable(TEXT),
    }
)


def _optional_body() -> dict[str, Any]:
    from flask import request

    return json_body() if request.content_length else {}


def _datetime(data: dict[str, Any], name: str) -> datetime | None:
    raw = data.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time, like 2026-12-01T09:00:00Z.", field=name)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 date-time, like 2026-12-01T09:00:00Z.", field=name
        ) from None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone (end it with Z for UTC).", field=name)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-14:00 is past the last representable UTC instant
        raise InvalidInput(f"{name} is out of range.", field=name) from None


def _status(post_id: int) -> dict[str, Any]:
    post = posts.get_post(db(), post_id)
    return {
        "id": post.id,
        "status": post.status,
        "slug": post.slug,
        "publication_state": post.publication_state,
        "review_state": post.review_state,
        "revision": post.current_revision.number if post.current_revision else None,
        "published_revision": post.published_revision.number if post.published_revision else None,
        "publish_at": post.publish_at.isoformat() if post.publish_at else None,
    }


@API.post(
    "/posts/<int:post_id>/submit",
    summary="Submit the current revision for review (its author, or an editor)",
    description="422 `publish_blocked` lists in `gates` every publishing gate that fails.",
    body=SUBMIT,
    body_required=False,
    responses={200: STATUS},
    errors=(409,),
)
def api_submit(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    data = _optional_body()
    post = posts.get_post(db(), post_id)
    editorial.submit(
        db(),
        actor,
        post,
        gate_settings(),
        touches_interests=optional_bool(data, "touches_interests"),
        interest_statement=clean_text(
            data.get("interest_statement"),
            "interest_statement",
            max_chars=2000,
            required=False,
            multiline=True,
        ),
    )
    return _status(post_id)


@API.get(
    "/posts/<int:post_id>/gates",
    summary="Every publishing gate, passing or not, for the current revision (staff)",
    responses={200: listing_of(GATE, ok=BOOL)},
)
def api_gates(post_id: int) -> Any:
    require(current_user(), "post.view_unpublished")
    post = posts.get_post(db(), post_id)
    results = editorial.check_gates(db(), post, gate_settings())
    return {"items": [r.to_json() for r in results], "ok": all(r.passes for r in results), "next": None}


@API.post(
    "/posts/<int:post_id>/approve",
    summary="Approve that exact revision and publish it, or schedule it (an editor who did not write it)",
    body=obj(
        {"revision": ID, "publish_at": {**nullable(DATETIME), "description": "With a time zone."}}, "revision"
    ),
    responses={200: APPROVED},
    errors=(409,),
)
def api_approve(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    data = json_body()
    number = int_field(data, "revision")
    assert number is not None
    post = posts.get_post(db(), post_id)
    publication = editorial.approve(
        db(), actor, post, number, gate_settings(), publish_at=_datetime(data, "publish_at")
    )
    body = _status(post_id)
    if publication is not None:
        body |= {
            "published_at": publication.published_at.isoformat(),
            "url": public_url("posts.show", slug=post.slug),
        }
    return body


@API.post(
    "/posts/<int:post_id>/request-changes",
    summary="Send the post back to its author with a note (editors)",
    body=obj({"note": TEXT}, "note"),
    responses={200: STATUS},
    errors=(409,),
)
def api_request_changes(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    data = json_body()
    note = clean_text(data.get("note"), "note", max_chars=2000, multiline=True)
    editorial.request_changes(db(), actor, posts.get_post(db(), post_id), note)
    return _status(post_id)


@API.post(
    "/posts/<int:post_id>/withdraw",
    summary="Take the post back out of review (its author)",
    responses={200: STATUS},
    errors=(409,),
)
def api_withdraw(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    editorial.withdraw(db(), actor, posts.get_post(db(), post_id))
    return _status(post_id)


@API.post(
    "/posts/<int:post_id>/overrides",
    summary="Override one failing gate for one revision, with a justification (an editor, not the author)",
    body=obj({"gate": TEXT, "justification": TEXT, "revision": ID}, "gate", "justification", "revision"),
    responses={
        201: answer({"gate": TEXT, "revision": NUMBER, "justification": TEXT, "by": TEXT, "at": DATETIME})
    },
    errors=(409,),
)
def api_override(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    data = json_body()
    gate = clean_text(data.get("gate"), "gate", max_chars=32)
    justification = clean_text(data.get("justification"), "justification", max_chars=2000, multiline=True)
    number = int_field(data, "revision")
    assert number is not None
    override = editorial.override_gate(
        db(), actor, posts.get_post(db(), post_id), gate, justification, number
    )
    return {
        "gate": override.gate,
        "revision": override.revision_number,
        "justification": override.justification,
        "by": actor.name,
        "at": override.at.isoformat(),
    }, 201


@API.post(
    "/posts/<int:post_id>/retract",
    summary="Retract a published post, saying why (editors)",
    body=obj({"reason": TEXT}, "reason"),
    responses={200: STATUS},
    errors=(409,),
)
def api_retract(post_id: int) -> Any:
    actor = require(current_user(), "post.view_unpublished")
    data = json_body()
    reason = clean_text(data.get("reason"), "reason", max_chars=2000, multiline=True)
    editorial.retract(db(), actor, posts.get_post(db(), post_id), reason)
    return _status(post_id)


def _audit_json(entry: Any) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor.name if entry.actor else "system",
        "action": entry.action,
        "post_id": entry.post_id,
        "revision": entry.revision_number,
        "note": entry.note,
        "data": entry.data,
    }


@API.get(
    "/posts/<int:post_id>/audit",
    summary="The audit entries of one post, newest first (staff)",
    query=PAGE_QUERY,
    responses={200: listing_of(AUDIT_ENTRY)},
)
def api_post_audit(post_id: int) -> Any:
    require(current_user(), "audit.view")
    posts.get_post(db(), post_id)
    after, per_page = page_args(50)
    rows, nxt = audit.entries(db(), post_id=post_id, after=after, per_page=per_page)
    return listing([_audit_json(e) for e in rows], nxt, "api.api_post_audit", per_page, post_id=post_id)


@API.get(
    "/audit",
    summary="The whole audit log, newest first (staff)",
    query=PAGE_QUERY,
    responses={200: listing_of(AUDIT_ENTRY)},
)
def api_audit() -> Any:
    require(current_user(), "audit.view")
    after, per_page = page_args(50)
    rows, nxt = audit.entries(db(), after=after, per_page=per_page)
    return listing([_audit_json(e) for e in rows], nxt, "api.api_audit", per_page)
