"""The JSON API blueprint and its small vocabulary: bodies, pages, and who is calling.

Each domain's views declare their JSON routes in a ``Routes`` table (``API = Routes()``, then
``@API.post(...)``); ``create_app`` builds the one ``/api/v1`` blueprint from the tables it names, so a
route exists because the factory listed its module, never because something imported it. Bearer tokens
authenticate, so CSRF does not apply here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, request

from app.editorial.gates import GateSettings
from app.errors import InvalidInput
from app.text import whole_number
from app.web.extensions import csrf
from app.web.urls import public_url


class Routes:
    """A module's JSON routes, recorded by decorators and added to the API blueprint by ``blueprint``."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []

    def route(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def record(view: Callable[..., Any]) -> Callable[..., Any]:
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


MAX_PER_PAGE = 100


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 4xx that says what is wrong with it."""
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
    return data


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


def page_args(default_per_page: int = 20) -> tuple[int, int]:
    def _arg(name: str, default: int, upper: int) -> int:
        value = whole_number(request.args.get(name, str(default)), upper=upper)
        if value is None:
            raise InvalidInput(f"{name} must be a whole number from 1 to {upper}.", field=name)
        return value

    return _arg("page", 1, 100_000), _arg("per_page", default_per_page, MAX_PER_PAGE)


def listing(
    items: list[Any], has_more: bool, endpoint: str, page: int, per_page: int, **values: Any
) -> dict[str, Any]:
    nxt = public_url(endpoint, page=page + 1, per_page=per_page, **values) if has_more else None
    return {"items": items, "next": nxt}
