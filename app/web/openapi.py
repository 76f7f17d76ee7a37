"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 description of the JSON API, built from the routes.

Nothing here lists a route. The document walks the app's own URL map and reads each ``/api/v1`` route's
declaration (``app.web.api.Doc``, given where the route is declared), so a route and its description
cannot drift apart; a route declared without one is left out, and tests/test_openapi.py fails on it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app
from flask.typing import ResponseReturnValue
from werkzeug.routing import Rule

from app.web import api
from app.web.api import OPTIONAL, PUBLIC, Doc, Schema, answer, obj
from app.web.errors import PLAIN

API = api.Routes()  # this module's JSON routes, added to /api/v1 by create_app

PREFIX = "/api/v1"

ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "A stable word a program can test."},
                "message": {"type": "string", "description": "A sentence for a person."},
                "field": {
                    "type": "string",
                    "description": "The input at fault (422), e.g. `title` or `interests.0.entity`.",
                },
                "gates": {
                    "type": "array",
                    "description": "`publish_blocked` (422): every publishing gate that fails.",
                    "items": obj(
                        {"gate": {"type": "string"}, "message": {"type": "string"}}, "gate", "message"
                    ),
                },
                "current_revision": {
                    "type": "integer",
                    "description": "`stale_revision` (409): the revision that is current now.",
                },
            },
            "additionalProperties": True,
        }
    },
}

# Why each error status can answer; which of them an operation lists follows from its declaration.
ERRORS: dict[int, str] = {
    400: "The request could not be understood (for example, a Host this blog does not answer for).",
    401: "No API token, or one that is unknown, revoked or expired (`not_authenticated`).",
    403: "The token's owner may not do this (`forbidden`).",
    404: "There is no such thing, or it is not visible to the caller (`not_found`).",
    409: "It conflicts with the current state: `invalid_transition`, `conflict`, or `stale_revision` "
    "with `current_revision`.",
    413: "The body is larger than the limit (`too_large`).",
    422: "The input cannot be accepted: `invalid_input` with `field`, `unrenderable`, or `publish_blocked` "
    "with `gates`.",
    429: "Too many requests from this address; wait and try again (`too_many_requests`).",
    503: "Too many comments are waiting for their checks: nothing was stored; send it again after the "
    "`Retry-After` seconds (`busy`).",
}


def _path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """``/api/v1/posts/<int:post_id>`` as ``/posts/{post_id}`` and its path parameters."""
    params = []
    for match in re.finditer(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule):
        converter, name = match.group(1) or "default", match.group(2)
        schema: Schema = {"type": "integer", "minimum": 0} if converter == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
    return path.removeprefix(PREFIX) or "/", params


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(doc: Doc, endpoint: str, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": endpoint.removeprefix("api."), "summary": doc.summary}
    if doc.description:
        op["description"] = doc.description
    parameters = list(path_params)
    for name, schema in doc.query.items():
        parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    if parameters:
        op["parameters"] = parameters
    if doc.body is not None:
        op["requestBody"] = {"required": doc.body_required, "content": {doc.body_type: {"schema": doc.body}}}
    if doc.auth == PUBLIC:
        op["security"] = []
    elif doc.auth == OPTIONAL:
        op["security"] = [{}, {"bearer": []}]
    else:
        op["security"] = [{"bearer": []}]

    responses: dict[str, Any] = {}
    for status, schema in sorted(doc.responses.items()):
        response: dict[str, Any] = {"description": _SUCCESS.get(status, "Success.")}
        if status != 204:  # No Content: nothing to describe
            response["content"] = _json(schema)
        if doc.headers.get(status):
            response["headers"] = {
                name: {"description": text, "required": True, "schema": {"type": "string"}}
                for name, text in doc.headers[status].items()
            }
        responses[str(status)] = response
    errors = {400, *doc.errors}
    if doc.auth not in (PUBLIC, OPTIONAL):
        errors |= {401, 403}
    if path_params:
        errors.add(404)
    if doc.body is not None:
        errors |= {413, 422}
    if doc.query:
        errors.add(422)
    for status in sorted(errors):
        responses[str(status)] = {
            "description": ERRORS.get(status, PLAIN.get(status, "Error.")),
            "content": _json({"$ref": "#/components/schemas/Error"}),
        }
    op["responses"] = responses
    return op


_SUCCESS = {
    200: "OK.",
    201: "Created.",
    202: "Accepted, not yet public (held for a moderator).",
    204: "Done; no content.",
}


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every described ``/api/v1`` route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        doc = described(app, rule)
        if doc is None:
            continue
        path, params = _path(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(doc, rule.endpoint, params)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Candor JSON API",
            "version": "1",
            "description": (
                "The staff blog's JSON API. Staff calls carry `Authorization: Bearer <token>` "
                "(`flask --app wsgi tokens create EMAIL`). Errors are JSON "
                '`{"error": {"code", "message", ...}}` with a 4xx status; lists are '
                '`{"items": [...], "next": URL or null}`.'
            ),
        },
        "servers": [{"url": PREFIX}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A staff member's API token."}
            },
        },
    }


def described(app: Flask, rule: Rule) -> Doc | None:
    return getattr(app.view_functions.get(rule.endpoint), "api_doc", None)


def undescribed(app: Flask) -> list[str]:
    """The /api/v1 rules declared without a description: each is missing from the document."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX + "/") and described(app, rule) is None
    )


@API.get(
    "/openapi.json",
    summary="This description of the API (OpenAPI 3.1)",
    auth=PUBLIC,
    responses={200: answer({"openapi": {"const": "3.1.0"}, "info": {"type": "object"}, "paths": obj({})})},
)
def api_openapi() -> ResponseReturnValue:
    cached = current_app.extensions.get("candor.openapi")
    if cached is None:
        cached = current_app.extensions["candor.openapi"] = document(current_app)
    return cached
