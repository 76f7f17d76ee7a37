"""Absolute URLs, always on CANDOR_PUBLIC_URL: never on the Host a request happened to carry.

A page, feed or e-mail built for one reader is cached or sent on to others, so an absolute URL taken from
the request (``url_for(..., _external=True)``, ``request.url_root``) would hand the first reader's Host,
a forged one included, to everyone after. ``public_url`` builds the path from the URL map bound to the
configured base URL alone, so it needs no request (the CLI and cron use it too) and ignores the request's
Host, ``X-Forwarded-*`` headers and script root. tests/test_public_urls.py fails on any other way of
building an absolute URL in ``app/``.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask, current_app
from werkzeug.routing import MapAdapter, Rule


def _adapter() -> MapAdapter:
    """The URL map bound to CANDOR_PUBLIC_URL, bound once per base URL (it builds, never matches)."""
    public = current_app.config["PUBLIC_URL"]
    bound = current_app.extensions.get("candor.public_adapter")
    if bound is None or bound[0] != public or bound[1].map is not current_app.url_map:
        base = urlsplit(public)
        adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
        bound = current_app.extensions["candor.public_adapter"] = (public, adapter)
    return bound[1]


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


def copy_url_map(app: Flask, build_full_app: Callable[[], Flask]) -> None:
    """Give ``app`` (the job worker's, app.create_jobs_app) every URL rule of the full app, build-only.

    The full app is built in a forked child, which sends its rules back through a pipe and exits: the
    views, forms and the libraries they import are loaded in the child alone, and their memory leaves
    with it. The rules copied can build URLs (``public_url``) but match no request: the worker serves none.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: build, send, exit without running the parent's exit handlers
        status = 1
        try:
            os.close(read_end)
            rules = [(r.rule, dict(r.get_empty_kwargs())) for r in build_full_app().url_map.iter_rules()]
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(rules, out)
            status = 0
        except BaseException:
            traceback.print_exc()  # os._exit below would drop it: the parent's error points here
        finally:
            sys.stderr.flush()
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        raise RuntimeError("the full app could not be built to copy its URL map (see the error above)")
    known = {rule.endpoint for rule in app.url_map.iter_rules()}
    for string, options in pickle.loads(data):  # our own child's answer, through our pipe
        if options["endpoint"] not in known:
            app.url_map.add(Rule(string, **{**options, "build_only": True}))
