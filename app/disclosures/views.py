"""Disclosures over the JSON API: ``PUT /api/v1/me/disclosure`` records a new one; GET shows the latest."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.accounts.permissions import require
from app.disclosures import services as disclosures
from app.disclosures.models import Relationship
from app.editorial import services as editorial
from app.errors import NotFound
from app.web import api
from app.web.api import BOOL, DATETIME, TEXT, answer, json_body, nullable, obj
from app.web.auth import current_user
from app.web.database import db

API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app

RELATIONSHIPS = [r.value for r in Relationship]
INTEREST = obj(
    {
        "entity": {**TEXT, "description": "Who: a company, a foundation ... (at most 200 characters)."},
        "relationship": {"type": "string", "enum": RELATIONSHIPS},
        "paid": BOOL,
        "since": {**nullable(TEXT), "description": "2024, 2024-05 or 2024-05-01."},
        "description": nullable(TEXT),
    },
    "entity",
    "relationship",
)
NEW_DISCLOSURE = obj(
    {
        "no_conflicts": {**BOOL, "description": "true: no relevant relationships (then list none)."},
        "interests": {
            **nullable({"type": "array", "items": INTEREST}),
            "maxItems": disclosures.MAX_INTERESTS,
        },
        "statement": nullable(TEXT),
    },
    "no_conflicts",
)
DISCLOSURE = answer(
    {
        "id": {"type": "integer"},
        "created_at": DATETIME,
        "expires_at": DATETIME,
        "current": {**BOOL, "description": "Younger than CANDOR_COI_MAX_AGE_DAYS."},
        "no_conflicts": BOOL,
        "interests": {
            "type": "array",
            "items": answer(
                {
                    "entity": TEXT,
                    "relationship": TEXT,
                    "paid": BOOL,
                    "since": TEXT,
                    "description": TEXT,
                }
            ),
        },
        "statement": TEXT,
        "summary": TEXT,
    }
)


@API.put(
    "/me/disclosure",
    summary="Record a new disclosure of interests (staff; earlier ones are kept)",
    body=NEW_DISCLOSURE,
    responses={201: DISCLOSURE},
)
def api_put_disclosure() -> Any:
    actor = require(current_user(), "disclosure.record")
    data = json_body()
    disclosure = disclosures.record_disclosure(
        db(),
        actor,
        no_conflicts=data.get("no_conflicts"),
        interests=data.get("interests"),
        statement=data.get("statement", ""),
    )
    editorial.disclosure_changed(db(), actor)
    return disclosures.to_json(disclosure, current_app.config["CANDOR_COI_MAX_AGE_DAYS"]), 201


@API.get("/me/disclosure", summary="Your latest disclosure (staff)", responses={200: DISCLOSURE})
def api_get_disclosure() -> Any:
    actor = require(current_user(), "disclosure.record")
    latest = disclosures.latest(db(), actor)
    if latest is None:
        raise NotFound("You have not recorded a disclosure yet.")
    return disclosures.to_json(latest, current_app.config["CANDOR_COI_MAX_AGE_DAYS"])
