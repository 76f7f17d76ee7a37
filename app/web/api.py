"""The JSON API blueprint and its small vocabulary: bodies, pages, schemas, and who is calling.

Each domain's views declare their JSON routes in a ``Routes`` table (``API = Routes()``, then
``@API.post(...)``); ``create_app`` builds the one ``/api/v1`` blueprint from the tables it names, so a
route exists because the factory listed its module, never because something imported it. Bearer tokens
authenticate, so CSRF does not apply here.

Each route also describes itself where it is declared: a summary, who may call it (``auth``), its JSON
body, query and answers as plain JSON Schema. ``GET /api/v1/openapi.json`` (app/web/openapi.py) is built
from those declarations, and ``json_body`` checks a body against the declared schema, so the document and
the code cannot drift apart; a route without a description fails tests/test_openapi.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, request
from jsonschema import Draft202012Validator

from app.cursors import MAX_CURSOR_CHARS, BadCursor
from app.editorial.gates import GateSettings
from app.errors import InvalidInput
from app.text import whole_number
from app.web.extensions import csrf
from app.web.urls import public_url

Schema = dict[str, Any]

BEARER = "bearer"  # the route needs a staff member's API token
PUBLIC = "none"  # anyone; a token changes nothing
OPTIONAL = "optional"  # anyone; a staff member's token changes what it does (e.g. a staff comment)


@dataclass(frozen=True)
class Doc:
    """What a route says about itself; app/web/openapi.py turns it into an OpenAPI operation.

    ``responses`` maps each success status to the schema of its JSON body; ``errors`` adds the error
    statuses the route's own logic answers (409, 429 ...) to those every route of its kind can answer
    (401/403 with a token, 404 with a path id, 413/422 with a body or a query). ``headers`` names the
    response headers a success always carries.
    """

    summary: str
    auth: str
    responses: Mapping[int, Schema]
    body: Schema | None = None
    body_required: bool = True
    body_type: str = (
        "application/json"  # "multipart/form-data" for an upload (then ``body`` describes the form)
    )
    query: Mapping[str, Schema] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if self.auth not in (BEARER, PUBLIC, OPTIONAL):
            raise ValueError(f"auth must be BEARER, PUBLIC or OPTIONAL, not {self.auth!r}")
        if self.body is not None:
            Draft202012Validator.check_schema(self.body)


class Routes:
    """A module's JSON routes, recorded by decorators and added to the API blueprint by ``blueprint``."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []

    def route(
        self,
        rule: str,
        *,
        summary: str | None = None,
        auth: str = BEARER,
        responses: Mapping[int, Schema] | None = None,
        **options: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Record ``rule``; with ``summary`` and ``responses``, also its description (see ``Doc``).

        The description's other fields (``body``, ``body_required``, ``body_type``, ``query``, ``errors``,
        ``headers``, ``description``) are keyword arguments too; the rest go to Flask's ``add_url_rule``.
        """
        doc_fields = {k: options.pop(k) for k in list(options) if k in _DOC_FIELDS}
        doc = None
        if summary is not None and responses is not None:
            doc = Doc(summary=summary, auth=auth, responses=responses, **doc_fields)
        elif summary is not None or responses is not None or doc_fields:
            raise ValueError(f"{rule}: a description needs both summary= and responses=")

        def record(view: Callable[..., Any]) -> Callable[..., Any]:
            if doc is not None:
                view.api_doc = doc  # type: ignore[attr-defined]
            self.rules.append((rule, view, options))
            return view

        return record

    def get(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, methods=["GET"], **options)

    def post(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, methods=["POST"], **options)

    def put(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, methods=["PUT"], **options)

    def patch(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, methods=["PATCH"], **options)

    def delete(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.route(rule, methods=["DELETE"], **options)


def blueprint(*tables: Routes) -> Blueprint:
    """The ``/api/v1`` blueprint (endpoints ``api.<view name>``) with every route of ``tables``."""
    bp = Blueprint("api", __name__, url_prefix="/api/v1")
    for table in tables:
        for rule, view, options in table.rules:
            bp.add_url_rule(rule, view_func=view, **options)
    csrf.exempt(bp)
    return bp


_DOC_FIELDS = {"body", "body_required", "body_type", "query", "errors", "headers", "description"}

MAX_PER_PAGE = 100


def route_doc() -> Doc | None:
    """The description of the route answering this request, if it has one."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "api_doc", None)


def json_body(*, schema: bool = True) -> dict[str, Any]:
    """The request's JSON object, or a 4xx that says what is wrong with it. ``schema=False``: not checked
    against the route's body schema (the caller checks it, or knows the object plainly conforms)."""
    if not request.is_json:
        raise InvalidInput("Send a JSON object with Content-Type: application/json.")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # "[[[[..." deeper than the stack: json raises this, not ValueError
        raise InvalidInput("The body is nested too deeply to read.") from None
    if data is None:
        raise InvalidInput("The body is not valid JSON (check quotes, commas and UTF-8 encoding).")
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.")
    if not schema:
        return data
    doc = route_doc()
    if doc is not None and doc.body is not None:
        check(doc.body, data)
    return data


_VALIDATORS: dict[int, Draft202012Validator] = {}


def check(schema: Schema, data: Any) -> None:
    """Raise InvalidInput naming the first input of ``data`` that ``schema`` refuses.

    The message names the field and the rule, never the value (which may be a megabyte of text).
    """
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    error = next(validator.iter_errors(data), None)
    if error is None:
        return
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = next((name for name in error.validator_value if name not in error.instance), "")
        path.append(str(missing))
    # The message names the exact place (interests[0].paid); ``field`` the top-level input, as the
    # services' own checks do.
    name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "body"
    field = str(path[0]) if path else "body"
    if error.validator == "type":
        allowed = (
            error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        )
        rule = "must be " + " or ".join(_TYPES.get(t, t) for t in allowed)
    else:
        rule = _RULES.get(str(error.validator), "is not acceptable here")
    raise InvalidInput(f"{name} {rule}.", field=field)


_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
_RULES = {
    "required": "is required",
    "enum": "is not one of the allowed values",
    "const": "is not the allowed value",
    "maxLength": "is too long",
    "minLength": "is too short",
    "maxItems": "has too many items",
    "minItems": "has too few items",
    "minimum": "is out of range",
    "maximum": "is out of range",
    "exclusiveMinimum": "is out of range",
    "exclusiveMaximum": "is out of range",
    "additionalProperties": "has a field that is not allowed",
    "pattern": "is not in the expected form",
    "format": "is not in the expected form",
}


def int_field(data: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number.", field=name)
    if not 0 < value < 2**31:
        raise InvalidInput(f"{name} is out of range.", field=name)
    return value


def bool_field(data: dict[str, Any], name: str, *, default: bool | None = None) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false.", field=name)
    return value


def optional_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false.", field=name)
    return value


def gate_settings() -> GateSettings:
    from app.web.runtime import effective

    return GateSettings.from_config(effective())


def page_args(default_per_page: int = 20) -> tuple[str | None, int]:
    """``?after=`` (an opaque cursor, checked by the list's own query) and ``?per_page=``.

    ``?page=`` is gone with OFFSET (see app/cursors.py): a client still sending it beyond 1 is told so
    rather than silently given the first page again.
    """
    per_page = whole_number(request.args.get("per_page", str(default_per_page)), upper=MAX_PER_PAGE)
    if per_page is None:
        raise InvalidInput(f"per_page must be a whole number from 1 to {MAX_PER_PAGE}.", field="per_page")
    if request.args.get("page", "1") != "1":
        raise BadCursor("page is no longer accepted: follow the list's next link, which carries after.")
    return request.args.get("after") or None, per_page


def listing(
    items: list[Any], next_cursor: str | None, endpoint: str, per_page: int, **values: Any
) -> dict[str, Any]:
    """``{"items", "next"}``; ``next`` is the public URL of the following page (its cursor), or null."""
    nxt = public_url(endpoint, after=next_cursor, per_page=per_page, **values) if next_cursor else None
    return {"items": items, "next": nxt}


# --- schema vocabulary for the route descriptions (plain JSON Schema, 2020-12) ---------------------------

TEXT: Schema = {"type": "string"}
DATETIME: Schema = {"type": "string", "format": "date-time"}
URL: Schema = {"type": "string", "format": "uri"}
ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
BOOL: Schema = {"type": "boolean"}
PAGE_QUERY: dict[str, Schema] = {
    "after": {
        "type": "string",
        "format": "cursor",
        "maxLength": MAX_CURSOR_CHARS,
        "description": "Opaque: the cursor in this list's `next` URL (empty or absent: the first page). "
        "Any other value, or another list's cursor, is refused with 400 `invalid_cursor`.",
    },
    "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null."""
    if "type" in schema and "enum" not in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*kinds, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], *required: str, closed: bool = False) -> Schema:
    """An object with ``properties``; ``required`` names those always present.

    Answers are open (``closed=False``): a client must ignore fields it does not know, so adding one is
    not a breaking change.
    """
    schema: Schema = {"type": "object", "properties": properties, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def answer(properties: dict[str, Schema]) -> Schema:
    """An answer's object: every field listed is always present."""
    return obj(properties, *properties)


def listing_of(item: Schema, **extra: Schema) -> Schema:
    """``{"items": [...], "next": URL or null}``, the shape of every list."""
    return answer({"items": {"type": "array", "items": item}, "next": nullable(URL), **extra})
