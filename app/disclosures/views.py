"""Disclosures over the JSON API: ``PUT /api/v1/me/disclosure`` records a new one; GET shows the latest."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.accounts.permissions import require
from app.disclosures import services as disclosures
from app.editorial import services as editorial
from app.errors import NotFound
from app.web import api
from app.web.api import json_body
from app.web.auth import current_user
from app.web.database import db

API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app


@API.put("/me/disclosure")
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


@API.get("/me/disclosure")
def api_get_disclosure() -> Any:
    actor = require(current_user(), "disclosure.record")
    latest = disclosures.latest(db(), actor)
    if latest is None:
        raise NotFound("You have not recorded a disclosure yet.")
    return disclosures.to_json(latest, current_app.config["CANDOR_COI_MAX_AGE_DAYS"])
