"""Absolute URLs, always on CANDOR_PUBLIC_URL: never on the Host a request happened to carry.

A page, feed or e-mail built for one reader is cached or sent on to others, so an absolute URL taken from
the request (``url_for(..., _external=True)``, ``request.url_root``) would hand the first reader's Host,
a forged one included, to everyone after. ``public_url`` builds the path from the URL map bound to the
configured base URL alone, so it needs no request (the CLI and cron use it too) and ignores the request's
Host, ``X-Forwarded-*`` headers and script root. tests/test_public_urls.py fails on any other way of
building an absolute URL in ``app/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter


def _adapter() -> MapAdapter:
    base = urlsplit(current_app.config["PUBLIC_URL"])
    return current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)


def public_url(endpoint: str, *, _anchor: str | None = None, **values: Any) -> str:
    """The absolute URL of ``endpoint`` on the blog's public base URL; extra values become the query.

    Values that are None are left out, as ``url_for`` does.
    """
    values = {k: v for k, v in values.items() if v is not None}
    current_app.inject_url_defaults(endpoint, values)
    url = _adapter().build(endpoint, values, force_external=True)
    return url + "#" + quote(_anchor, safe="") if _anchor else url


def public_root() -> str:
    """The blog's home page on its public base URL (with the trailing slash): what feeds link as the site."""
    return public_url("posts.index")
