"""Absolute URLs come from CANDOR_PUBLIC_URL, never from the request; other hosts are refused with 400.

A page or feed is cached and served to everyone, so the first reader must not be able to put their Host
(or X-Forwarded-Host, -Proto, -Prefix) into what later readers get. Each test sends the forged requests
first, while the caches are empty, then reads as an ordinary reader and parses what it got.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import feedparser
import pytest
from bs4 import BeautifulSoup

import config
from app.web.urls import public_url
from tests.support.editorial import publish_change, retract

PUBLIC = "https://blog.clinic.example"
ALIAS = "www.clinic.example"
EVIL = "evil.example"
ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "https://example.org/evidence"  # the one link leaving the blog: each post's reference

# Host headers a production blog at PUBLIC (with the alias ALIAS) must refuse.
FORGED_HOSTS = [
    EVIL,
    f"{EVIL}:443",
    f"blog.clinic.example.{EVIL}",
    "evilblog.clinic.example",
    f"blog.clinic.example@{EVIL}",
    f"{EVIL}/blog.clinic.example",
    f"blog.clinic.example, {EVIL}",
    "blog.clinic.example:99999",
    "blog.clinic.example.",
    "",
    "localhost",  # trusted in development only
    "127.0.0.1",
]
# Host headers it answers, each still giving PUBLIC in every URL.
GOOD_HOSTS = ["blog.clinic.example", "blog.clinic.example:8443", "BLOG.Clinic.Example", ALIAS]
# With one trusted proxy: none of these may reach a URL.
FORWARDED = {
    "X-Forwarded-Host": EVIL,
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Port": "666",
    "X-Forwarded-Prefix": "/evil",
    "Forwarded": f"host={EVIL};proto=http",
    "X-Original-Host": EVIL,
    "X-Host": EVIL,
}


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {
        "CANDOR_ENV": "production",
        "PUBLIC_URL": PUBLIC,
        "CANDOR_TRUSTED_HOSTS": [ALIAS],
        "CANDOR_TRUSTED_PROXIES": 1,
    }


def _get(client: Any, path: str, host: str = "blog.clinic.example", **headers: str) -> Any:
    return client.get(path, headers={"Host": host, **headers})


@pytest.fixture
def blog(session, make_post, make_user, gate_settings) -> dict[str, Any]:
    """A corrected post (its page carries JSON-LD), a retracted post and a plain one; no links in bodies."""
    editor = make_user("editor", name="Erin Editor")
    corrected = make_post(
        "published", title="Dosing aspirin", body="Take 50 mg daily.", references=[REFERENCE]
    )
    publish_change(session, corrected, editor, gate_settings, body="Take 5 mg daily.")
    retracted = make_post("published", title="A withdrawn study", body="A claim.", references=[REFERENCE])
    retract(session, retracted, editor, "The study was withdrawn.")
    plain = make_post("published", title="Sleep", body="Sleep well.", references=[REFERENCE])
    return {"corrected": corrected, "retracted": retracted, "plain": plain}


def _paths(blog: dict[str, Any]) -> list[str]:
    slug = blog["corrected"].slug
    return [
        "/",
        "/feed.atom",
        "/corrections.atom",
        "/corrections",
        f"/posts/{slug}",
        f"/posts/{slug}/changes",
        f"/posts/{slug}/history",
        f"/posts/{blog['retracted'].slug}",
        "/api/v1/posts?per_page=1",
    ]


def _absolute_urls_in_feed(xml: bytes) -> Iterator[str]:
    """Every absolute URL in an Atom document: in attributes, in texts, and in the HTML it carries."""
    for element in ElementTree.fromstring(xml).iter():
        values = [*element.attrib.values(), element.text or ""]
        if element.get("type") == "html":
            values += _absolute_urls_in_html(element.text or "")
        yield from (v.strip() for v in values if re.match(r"\s*https?:", v))


def _absolute_urls_in_html(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html5lib")
    found = [
        value
        for tag in soup.find_all(True)
        for value in tag.attrs.values()
        if isinstance(value, str) and re.match(r"\s*(https?:)?//", value)
    ]
    for script in soup.select('script[type="application/ld+json"]'):
        found += list(_strings(json.loads(script.string or "")))
    return found


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "@context":  # the vocabulary, not a link
                yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str) and re.match(r"https?:", node):
        yield node


def _assert_only_public_urls(response: Any, path: str) -> None:
    body = response.get_data()
    assert EVIL.encode() not in body and b"/evil" not in body, path
    if path.endswith(".atom"):
        feed = feedparser.parse(body)
        assert feed.bozo == 0, feed.get("bozo_exception")
        urls = list(_absolute_urls_in_feed(body))
        assert feed.entries and all(
            e.link.startswith(PUBLIC + "/") and e.id.startswith(PUBLIC + "/") for e in feed.entries
        ), path
    elif path.startswith("/api/"):
        data = response.get_json()
        urls = [data["next"], *(item["url"] for item in data["items"])]
        assert data["next"] is not None
    else:
        urls = _absolute_urls_in_html(response.get_data(as_text=True))
    assert urls or not path.startswith(("/feed", "/api", "/corrections.atom")), path
    assert [u for u in urls if not u.startswith(PUBLIC + "/") and u != REFERENCE] == [], path


def _refusal(response: Any) -> str:
    """The message of a 400 for a foreign host: JSON under /api/, the error page's heading elsewhere."""
    if urlsplit(response.request.url).path.startswith("/api/"):
        error = response.get_json()["error"]
        assert error["code"] == "bad_host"
        return error["message"]
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.get_data(as_text=True), "html5lib").find("h1").get_text(strip=True)


def test_forged_hosts_are_refused_and_never_reach_a_page_or_feed(client, blog):
    paths = _paths(blog)
    for host in FORGED_HOSTS:  # first, while every cache is empty
        for path in paths:
            response = _get(client, path, host)
            assert response.status_code == 400, (host, path)
            assert _refusal(response).endswith(f"Its address is {PUBLIC}/"), (host, path)
            assert "X-Candor-Cache" not in response.headers and "Location" not in response.headers
        for refused in (
            client.post("/api/v1/posts", json={}, headers={"Host": host}),
            client.post("/login", data={}, headers={"Host": host}),
        ):  # before the CSRF check
            assert refused.status_code == 400 and _refusal(refused).startswith("This blog does not answer")
        assert client.head(paths[1], headers={"Host": host}).status_code == 400
    # An absolute-form request target names its host itself (RFC 9112 3.2.2): refused the same way.
    assert client.get(f"http://{EVIL}/feed.atom").status_code == 400
    for host in GOOD_HOSTS:  # then the hosts the blog answers, forwarded headers and all, as the first reader
        for path in paths:
            response = _get(client, path, host, **FORWARDED)
            assert response.status_code == 200, (host, path)
            _assert_only_public_urls(response, path)
    for path in paths:  # and what an ordinary reader then gets, cached or not
        response = _get(client, path)
        assert response.status_code == 200, path
        _assert_only_public_urls(response, path)


def test_the_fast_path_never_answers_a_forged_host_from_the_cache(client, blog):
    path = f"/posts/{blog['plain'].slug}"
    assert _get(client, path).headers["X-Candor-Cache"] == "miss"
    assert _get(client, path).headers["X-Candor-Cache"] == "hit"
    refused = _get(client, path, EVIL)
    assert refused.status_code == 400 and "X-Candor-Cache" not in refused.headers
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert _get(client, path).headers["X-Candor-Cache"] == "hit"


def test_the_json_ld_url_is_the_public_one(client, blog):
    soup = BeautifulSoup(
        _get(client, f"/posts/{blog['corrected'].slug}", ALIAS, **FORWARDED).get_data(as_text=True),
        "html5lib",
    )
    data = json.loads(soup.select_one('script[type="application/ld+json"]').string or "")
    assert data["url"] == f"{PUBLIC}/posts/{blog['corrected'].slug}"


def test_api_urls_and_locations_are_public(client, api, make_user, make_token, make_disclosure):
    author, editor = make_user("author"), make_user("editor")
    make_disclosure(author)
    headers = {"Host": ALIAS, **FORWARDED}
    created = client.post(
        "/api/v1/posts",
        json={"title": "On naps", "body": "Naps help.", "references": [REFERENCE]},
        headers={**headers, "Authorization": f"Bearer {make_token(author)}"},
    )
    assert created.status_code == 201
    post_id = created.get_json()["id"]
    assert created.headers["Location"] == f"{PUBLIC}/api/v1/posts/{post_id}"
    assert (
        client.post(
            f"/api/v1/posts/{post_id}/submit",
            headers={**headers, "Authorization": f"Bearer {make_token(author)}"},
        ).status_code
        == 200
    )
    approved = client.post(
        f"/api/v1/posts/{post_id}/approve",
        json={"revision": 1},
        headers={**headers, "Authorization": f"Bearer {make_token(editor)}"},
    ).get_json()
    assert approved["url"].startswith(f"{PUBLIC}/posts/")
    held = client.post(
        f"/api/v1/posts/{post_id}/comments",
        headers=headers,
        json={"author_name": "Ann Reader", "author_email": "ann@example.org", "body": "Thanks!"},
    )
    assert held.status_code == 202 and held.get_json()["status_url"].startswith(f"{PUBLIC}/")


def test_in_development_localhost_is_trusted_and_urls_still_public(tmp_path, database_url):
    from app import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "CANDOR_ENV": "development",
            "PUBLIC_URL": PUBLIC,
            "CANDOR_TRUSTED_HOSTS": [],
        }
    )
    try:
        client = app.test_client()
        feed = client.get("/feed.atom")  # the test client's Host is localhost
        assert feed.status_code == 200
        assert feedparser.parse(feed.get_data()).feed.links[0].href == f"{PUBLIC}/feed.atom"
        assert client.get("/", headers={"Host": "127.0.0.1:5000"}).status_code == 200
        assert client.get("/", headers={"Host": EVIL}).status_code == 400
    finally:
        app.extensions["candor.engine"].dispose()


def test_public_url_keeps_the_base_path_and_ignores_the_request(app):
    app.config["PUBLIC_URL"] = "https://clinic.example/blog"
    with app.test_request_context(
        "/x", headers={"Host": "localhost"}, environ_base={"SCRIPT_NAME": "/mounted"}
    ):
        assert public_url("posts.show", slug="a") == "https://clinic.example/blog/posts/a"
        assert public_url("corrections.changes", slug="a", **{"from": None, "to": 2}) == (
            "https://clinic.example/blog/posts/a/changes?to=2"
        )
        assert public_url("posts.show", slug="a", _anchor="retraction-heading").endswith(
            "/a#retraction-heading"
        )
    with app.app_context():  # and without a request at all (the CLI, cron, e-mails)
        assert public_url("posts.index") == "https://clinic.example/blog/"


# --- settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("https://Blog.Clinic.Example/", "https://blog.clinic.example"),
        ("https://clinic.example:443/blog/", "https://clinic.example/blog"),
        ("http://clinic.example:8080", "http://clinic.example:8080"),
    ],
)
def test_the_public_url_is_normalised(tmp_path, raw, stored):
    assert config.load(tmp_path, {"CANDOR_PUBLIC_URL": raw})["PUBLIC_URL"] == stored


@pytest.mark.parametrize(
    "raw",
    [
        "blog.clinic.example",
        "ftp://clinic.example",
        "https://",
        "https://x/?a=1",
        "https://x/#top",
        "https://user:pw@x",
        "https://x:port",
    ],
)
def test_a_bad_public_url_is_explained(tmp_path, raw):
    with pytest.raises(config.ConfigError, match="CANDOR_PUBLIC_URL"):
        config.load(tmp_path, {"CANDOR_PUBLIC_URL": raw})


def test_trusted_hosts_come_from_the_public_url_the_setting_and_development(tmp_path):
    env = {
        "CANDOR_PUBLIC_URL": "https://blog.clinic.example/x",
        "CANDOR_TRUSTED_HOSTS": "WWW.clinic.example, .cdn.example",
    }
    production = config.load(
        tmp_path, {**env, "CANDOR_ENV": "production", "SECRET_KEY": "s", "DATABASE_URL": "sqlite://"}
    )
    assert config.trusted_hosts(production) == ["blog.clinic.example", "www.clinic.example", ".cdn.example"]
    development = config.load(tmp_path, env)
    assert config.trusted_hosts(development)[-2:] == ["localhost", "127.0.0.1"]


@pytest.mark.parametrize(
    "raw", ["https://www.clinic.example", "www.clinic.example:443", "*.clinic.example", "a b"]
)
def test_bad_trusted_hosts_are_explained(tmp_path, raw):
    with pytest.raises(config.ConfigError, match="CANDOR_TRUSTED_HOSTS"):
        config.load(tmp_path, {"CANDOR_TRUSTED_HOSTS": raw})


# --- by construction -----------------------------------------------------------------------------------

# Attributes of Flask's request that carry the Host (or a URL built on it).
HOST_ATTRIBUTES = {"host", "host_url", "url_root", "root_url", "base_url", "url"}


def _request_host_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    imports_flask_request = any(
        isinstance(n, ast.ImportFrom) and n.module == "flask" and any(a.name == "request" for a in n.names)
        for n in ast.walk(tree)
    )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "_external":
            found.append(f"{path.name}:{node.value.lineno}: _external=")
        elif (
            imports_flask_request
            and isinstance(node, ast.Attribute)
            and node.attr in HOST_ATTRIBUTES
            and isinstance(node.value, ast.Name)
            and node.value.id == "request"
        ):
            found.append(f"{path.name}:{node.lineno}: request.{node.attr}")
    return found


def test_no_absolute_url_is_built_from_the_request():
    """Everything absolute goes through app/web/urls.py; templates build paths only."""
    offenders = [hit for path in sorted((ROOT / "app").rglob("*.py")) for hit in _request_host_uses(path)]
    assert offenders == []
    templates = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for m in re.finditer(
            r"_external|request\.(host|host_url|url_root|root_url|base_url|url)\b", path.read_text()
        )
    ]
    assert templates == []


def test_the_construction_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "views.py"
    bad.write_text("from flask import request, url_for\nurl_for('x', _external=True)\nrequest.url_root\n")
    assert len(_request_host_uses(bad)) == 2
    assert urlsplit(PUBLIC).hostname in config.trusted_hosts(
        {"PUBLIC_URL": PUBLIC, "CANDOR_TRUSTED_HOSTS": [], "CANDOR_ENV": "production"}
    )
