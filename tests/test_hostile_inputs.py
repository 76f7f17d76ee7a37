"""No input yields a 5xx: every API field, form field, path, query and header against a hostile corpus.

The corpus lives in tests/support/hostile.py. Two shapes of test use it:

* tables of JSON calls (``ENDPOINTS``) and HTML forms (``HTML_FORMS``), each with its fields and the
  corpus that fits each field. One test per call or form runs every (field, value) as a subtest named
  "call: field = value", so a failure names both. A new call, form or field is one new row.
* walkers over ``app.url_map``, which send hostile path segments, query strings, raw bodies, JSON to
  forms and oversized bodies to every route that exists, including routes added after this file.

Every answer must be under 500; a 4xx must say what went wrong (JSON ``error.message`` under /api/,
an HTML page with an ``<h1>`` elsewhere). Nothing is lost: refused requests write nothing, and a valid
request still works afterwards. Script payloads that are accepted must come out without anything
that can run, in the stored HTML and on every reader page.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from app.accounts import services as accounts_services
from app.accounts.models import ApiToken, User
from app.comments.models import Comment
from app.disclosures.models import Disclosure
from app.posts import rendering
from app.posts.models import Post, Revision
from app.redaction.models import Redaction
from tests.support import hostile
from tests.support.web import PASSWORD, form_csrf_token, log_in, parse

READ_METHODS = {"GET"}
FORM = "application/x-www-form-urlencoded"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Values every text, URL-list and number field must refuse with 422: what no database column can hold.
MUST_REFUSE = {
    "nul",
    "only-nul",
    "lone-high-surrogate",
    "lone-low-surrogate",
    "reversed-surrogate-pair",
    "escaped-nul",
    "escaped-lone-surrogate",
    "escaped-reversed-pair",
    "over-limit",
}


@pytest.fixture(autouse=True)
def quick_render_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runaway Markdown is cut off by a wall-clock budget; 0.5 s here instead of 3 keeps this file quick.

    The code path is the same: the forked render overruns, is killed, and the writer gets a 422.
    """
    monkeypatch.setattr(rendering, "RENDER_BUDGET_SECONDS", 0.5)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 is slow on purpose (a quarter second a login); these tests check input handling, not hashing."""
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts_services, "_hasher", fast)
    monkeypatch.setattr(accounts_services, "_DUMMY_HASH", fast.hash("candor-timing-equaliser"))


# --- the world every test drives ---------------------------------------------------------------------


@dataclass(frozen=True)
class PostRef:
    """A post by id and slug: plain values, so no ORM refresh happens behind a request's back."""

    id: int
    slug: str


@dataclass
class World:
    """Staff with tokens and a post in each state, plus helpers that keep those states usable."""

    app: Flask
    client: FlaskClient
    session: Session
    users: dict[str, User]
    tokens: dict[str, str]
    draft: PostRef
    in_review: PostRef
    published: PostRef
    created: int = 0  # 201/202 answers seen: each must have written exactly one row
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _states: dict[int, dict[str, Any]] = field(default_factory=dict)  # post id -> GET answer, until a write

    def unique_text(self) -> str:
        return f"Revision text number {next(self._n)}, written to be *accepted*."

    def call(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = None,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Any:
        all_headers = dict(headers or {})
        if as_ is not None:
            all_headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        response = self.client.open(path, method=method, data=body, headers=all_headers, **kw)
        response.get_data()
        response.close()  # a streamed file (a static asset) is closed here, its bytes kept
        if response.status_code in (201, 202):
            self.created += 1
        if method != "GET" and (response.status_code < 400 or response.status_code == 409):
            self._states.clear()  # something may have changed (a 409 says another write got there first)
        return response

    def post_json(self, path: str, data: dict[str, Any], *, as_: str) -> Any:
        return self.call("POST", path, as_=as_, body=json.dumps(data).encode())

    def state(self, post: PostRef) -> dict[str, Any]:
        """The post as staff see it (status, current revision); fetched again only after a write."""
        if post.id not in self._states:
            response = self.call("GET", f"/api/v1/posts/{post.id}", as_="editor")
            assert response.status_code == 200, response.get_data(as_text=True)
            self._states[post.id] = response.get_json()
        return self._states[post.id]

    def revision_of(self, post: PostRef) -> int:
        return self.state(post)["revision"]

    def ensure_in_review(self, post: PostRef) -> None:
        status = self.state(post)["status"]
        if status == "published":
            r = self.post_json(
                f"/api/v1/posts/{post.id}/revisions",
                {"body": self.unique_text(), "base_revision": self.revision_of(post), "kind": "minor"},
                as_="author",
            )
            assert r.status_code == 201, r.get_data(as_text=True)
        if status != "in_review":
            r = self.post_json(f"/api/v1/posts/{post.id}/submit", {}, as_="author")
            assert r.status_code == 200, r.get_data(as_text=True)

    def count(self, model: type) -> int:
        self.session.rollback()  # a fresh snapshot: the app commits on its own connection
        return self.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def world(
    app: Flask,
    client: FlaskClient,
    session: Session,
    make_user: Callable[..., User],
    make_post: Callable[..., Post],
    make_token: Callable[[User], str],
) -> World:
    users = {
        "author": make_user("author", name="Ada Author"),
        "editor": make_user("editor", name="Eve Editor"),
        "chief": make_user("author", "editor", "moderator", "admin", name="Chief of Everything"),
    }
    tokens = {role: make_token(user) for role, user in users.items()}
    author = users["author"]
    posts = {
        status: make_post(status, author=author, title=f"A {status} post")
        for status in ("draft", "in_review", "published")
    }
    refs = {status: PostRef(post.id, post.slug) for status, post in posts.items()}
    return World(
        app=app,
        client=client,
        session=session,
        users=users,
        tokens=tokens,
        draft=refs["draft"],
        in_review=refs["in_review"],
        published=refs["published"],
    )


# --- the table: JSON calls, their fields, and the corpus each field gets ---------------------------


def _over(limit: int, *, multiline: bool = False) -> dict[str, str]:
    return {"over-limit": "a\n" * (limit // 2 + 1) if multiline else "x" * (limit + 1)}


MARKDOWN_FIELD = {
    **hostile.TEXT,
    **hostile.SCRIPTS,
    **hostile.MARKDOWN,
    **hostile.JSON_TYPES,
    **_over(200_000, multiline=True),
}
# Plain-text fields are escaped wherever they are shown (the reader-page test checks that); a sample of
# script payloads is enough to see them validated. Rendered fields (post and comment bodies) get all.
SCRIPT_SAMPLE = {k: hostile.SCRIPTS[k] for k in hostile.SCRIPT_SAMPLE}
NOTE_FIELD = {**hostile.TEXT, **SCRIPT_SAMPLE, **hostile.JSON_TYPES, **_over(2000, multiline=True)}
URL_FIELD = {
    **hostile.URLS,
    **hostile.JSON_TYPES,
    **{
        k: hostile.TEXT[k] for k in ("nul", "lone-high-surrogate", "rtl-override", "long-word", "digits-5000")
    },
}
NUMBER_FIELD = {
    **hostile.NUMBERS,
    **hostile.JSON_TYPES,
    **{k: hostile.TEXT[k] for k in ("nul", "lone-high-surrogate", "unicode-digits", "digits-5000", "empty")},
}


def line_field(limit: int, *, scripts: bool = True) -> dict[str, Any]:
    return {**hostile.TEXT, **(SCRIPT_SAMPLE if scripts else {}), **hostile.JSON_TYPES, **_over(limit)}


BOOL_FIELD = {**hostile.JSON_TYPES, **{k: hostile.TEXT[k] for k in ("nul", "empty", "sql-quote")}}
KIND_FIELD = line_field(32, scripts=False)  # one of a few fixed words: validated, never rendered as HTML
COMMENT_FIELD = {
    **hostile.TEXT,
    **hostile.SCRIPTS,
    **hostile.JSON_TYPES,
    **_over(5000, multiline=True),
    **{
        k: hostile.MARKDOWN[k]
        for k in (
            "nested-blockquotes-1000",
            "nested-emphasis-1000",
            "nested-html-1000",
            "unclosed-tags",
            "code-fences",
        )
    },
}


@dataclass(frozen=True)
class Endpoint:
    """A JSON call: where it goes, who may make it, a body it accepts, and its fields' corpora."""

    name: str
    path: Callable[[World], str]
    actor: str | None
    valid: Callable[[World], dict[str, Any]]
    fields: dict[str, dict[str, Any]]
    prepare: Callable[[World], None] = lambda w: None
    stores_html: bool = False  # accepted bodies are rendered: check the stored HTML for active content
    writes: type = Revision  # what each 201/202 answer adds one row of
    method: str = "POST"
    one_ip_each: bool = False  # reader calls are rate-limited per IP: spread them so each value is tried


ENDPOINTS = [
    Endpoint(
        "create",
        lambda w: "/api/v1/posts",
        "author",
        lambda w: {
            "title": "A sound title",
            "body": w.unique_text(),
            "references": ["https://example.org/s"],
        },
        {"title": line_field(300), "body": MARKDOWN_FIELD, "references": URL_FIELD},
        stores_html=True,
    ),
    Endpoint(
        "revise-draft",
        lambda w: f"/api/v1/posts/{w.draft.id}/revisions",
        "author",
        lambda w: {"body": w.unique_text(), "base_revision": w.revision_of(w.draft)},
        {
            "body": MARKDOWN_FIELD,
            "title": line_field(300),
            "references": URL_FIELD,
            "base_revision": NUMBER_FIELD,
            "kind": KIND_FIELD,
            "note": NOTE_FIELD,
        },
        stores_html=True,
    ),
    Endpoint(
        "revise-published",
        lambda w: f"/api/v1/posts/{w.published.id}/revisions",
        "author",
        lambda w: {
            "body": w.unique_text(),
            "base_revision": w.revision_of(w.published),
            "kind": "correction",
            "note": "We corrected the dose.",
        },
        {"kind": KIND_FIELD, "note": NOTE_FIELD},
        stores_html=True,
    ),
    Endpoint(
        "approve",
        lambda w: f"/api/v1/posts/{w.in_review.id}/approve",
        "editor",
        lambda w: {"revision": w.revision_of(w.in_review)},
        {"revision": NUMBER_FIELD},
        prepare=lambda w: w.ensure_in_review(w.in_review),
    ),
    Endpoint(
        "request-changes",
        lambda w: f"/api/v1/posts/{w.in_review.id}/request-changes",
        "editor",
        lambda w: {"note": "Please cite the trial you mention."},
        {"note": NOTE_FIELD},
        prepare=lambda w: w.ensure_in_review(w.in_review),
    ),
    Endpoint(
        "disclosure",
        lambda w: "/api/v1/me/disclosure",
        "author",
        lambda w: {
            "no_conflicts": False,
            "interests": [{"entity": "Acme Pharma", "relationship": "consulting"}],
            "statement": "I advise Acme on trial design.",
        },
        {
            "no_conflicts": BOOL_FIELD,
            "interests": {**hostile.INTERESTS, **hostile.JSON_TYPES},
            "statement": NOTE_FIELD,
        },
        method="PUT",
        writes=Disclosure,
    ),
    Endpoint(
        "comment",
        lambda w: f"/api/v1/posts/{w.published.id}/comments",
        None,
        lambda w: {
            "author_name": "Rita Reader",
            "author_email": "rita@example.org",
            "body": f"Thank you, this helped. ({w.unique_text()})",
        },
        {
            "author_name": line_field(200),
            "author_email": line_field(320),
            "body": COMMENT_FIELD,
            "parent_id": NUMBER_FIELD,
            "notify": BOOL_FIELD,
        },
        one_ip_each=True,
        writes=Comment,
    ),
    Endpoint(
        "redact",  # of published text: each accepted request waits for a second editor, the text stays
        lambda w: "/api/v1/redactions",
        "editor",
        lambda w: {
            "target": "revision",
            "post_id": w.published.id,
            "revision": 1,
            "text": "seven hours",
            "reason": "Names a patient.",
        },
        {
            "target": line_field(40, scripts=False),
            "text": line_field(1000),
            "reason": NOTE_FIELD,
            "post_id": NUMBER_FIELD,
            "revision": NUMBER_FIELD,
        },
        writes=Redaction,
    ),
    Endpoint(
        "users-create",
        lambda w: "/api/v1/users",
        "chief",
        lambda w: {
            "email": f"new{next(w._n)}@clinic.example",
            "name": "New Person",
            "roles": ["author"],
            "password": "seven blue herons fly",
        },
        {
            "email": line_field(320),
            "name": line_field(200),
            "title": line_field(200),
            "department": line_field(200),
            "bio": NOTE_FIELD | _over(5000, multiline=True),
            "photo_alt": line_field(300),
            "roles": {**hostile.JSON_TYPES},
            "password": line_field(1000, scripts=False),
        },
        writes=User,
    ),
    Endpoint(
        "users-patch",
        lambda w: f"/api/v1/users/{w.users['author'].id}",
        "chief",
        lambda w: {"title": "Nurse"},
        {
            "email": line_field(320),
            "name": line_field(200),
            "title": line_field(200),
            "department": line_field(200),
            "bio": NOTE_FIELD | _over(5000, multiline=True),
            "photo_alt": line_field(300),
            "roles": {**hostile.JSON_TYPES},
            "active": BOOL_FIELD,
        },
        method="PATCH",
        writes=User,
    ),
    Endpoint(
        "tokens-create",
        lambda w: "/api/v1/me/tokens",
        "editor",
        lambda w: {"name": "Publisher", "days": 30},
        {"name": line_field(100), "days": NUMBER_FIELD},
        writes=ApiToken,
    ),
]
# Calls without fields of their own (submit, withdraw, retract ...) are covered by the walkers below.


def _stored_html(world: World, response: Any) -> str:
    post_id = response.get_json()["id"]
    r = world.call("GET", f"/api/v1/posts/{post_id}", as_="editor")
    return r.get_json()["html"]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("endpoint", [pytest.param(e, id=e.name) for e in ENDPOINTS])
def test_every_api_field_survives_the_corpus(world: World, subtests: Any, endpoint: Endpoint) -> None:
    """Each field of the call, each value of its corpus: one subtest, named "call: field = value"."""
    rows_before = world.count(endpoint.writes)
    ips = itertools.count(1)
    cases = [(f, name, value) for f, corpus in endpoint.fields.items() for name, value in corpus.items()]
    for field_name, name, value in cases:
        with subtests.test(msg=f"{endpoint.name}: {field_name} = {name}"):
            endpoint.prepare(world)
            body = hostile.json_body(endpoint.valid(world), field_name, value)
            response = world.call(
                endpoint.method,
                endpoint.path(world),
                as_=endpoint.actor,
                body=body,
                **(_ip(next(ips)) if endpoint.one_ip_each else {}),
            )
            problem = hostile.problem_with_error(response)
            assert problem is None, problem
            if name in MUST_REFUSE:
                assert response.status_code == 422, response.get_data(as_text=True)[:300]
            if endpoint.stores_html and response.status_code in (200, 201):
                found = hostile.active_content(_stored_html(world, response), fragment=True)
                assert found == [], f"stored HTML can run script: {found}"

    # Nothing lost, nothing half-written: every 201/202 wrote one row, and refusals wrote none.
    assert world.count(endpoint.writes) - rows_before == world.created
    endpoint.prepare(world)
    response = world.call(
        endpoint.method,
        endpoint.path(world),
        as_=endpoint.actor,
        body=json.dumps(endpoint.valid(world)).encode(),
        **_ip(0),
    )
    assert response.status_code in (200, 201, 202), response.get_data(as_text=True)


def test_accepted_script_payloads_never_reach_readers_as_script(world: World) -> None:
    title = "<script>alert(1)</script> Sleep <img src=x onerror=alert(1)>"
    # Every payload the body accepts (control characters are refused outright; CDATA goes to its own test).
    body = "\n\n".join(
        v for k, v in hostile.SCRIPTS.items() if "cdata" not in k and not re.search("[\x00-\x09\x0b-\x1f]", v)
    )
    r = world.post_json(
        "/api/v1/posts",
        {"title": title, "body": body, "references": ["https://example.org/study"]},
        as_="author",
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    post_id = r.get_json()["id"]
    assert world.post_json(f"/api/v1/posts/{post_id}/submit", {}, as_="author").status_code == 200
    approved = world.post_json(f"/api/v1/posts/{post_id}/approve", {"revision": 1}, as_="editor")
    assert approved.status_code == 200, approved.get_data(as_text=True)
    slug = approved.get_json()["slug"]  # given at publication

    stored = world.call("GET", f"/api/v1/posts/{post_id}").get_json()
    assert stored["title"] == title  # kept as written: it is text, escaped wherever it is shown
    assert hostile.active_content(stored["html"], fragment=True) == []

    # Every reader page that can show this post, including pages added after this test was written.
    pages = [url for url in _read_urls(world.app, slug=slug, post_id=post_id) if not url.startswith("/api/")]
    assert f"/posts/{slug}" in pages
    for url in pages:
        response = world.call("GET", url, content_type=None)
        assert response.status_code < 500, url
        if response.status_code == 200 and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            assert hostile.active_content(page, fragment=False) == [], url
            assert title not in page, f"{url} shows the title unescaped"


# --- walkers over every route ------------------------------------------------------------------------

_ARG = re.compile(r"<(?:(?P<converter>[a-zA-Z_]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _converter(rule: Rule, name: str) -> str:
    """The converter of argument ``name`` in ``rule``: "int", "path", "string" ..."""
    for match in _ARG.finditer(rule.rule):
        if match.group("name") == name:
            return match.group("converter") or "string"
    raise KeyError(name)


def _valid_arg(rule: Rule, name: str, *, slug: str, post_id: int) -> str:
    converter = _converter(rule, name)
    if converter == "path":
        return "candor.css"
    if converter == "int":
        return str(post_id) if name == "post_id" else "1"
    return slug


def _fill(rule: Rule, *, slug: str, post_id: int, override: tuple[str, str] | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        if override is not None and override[0] == name:
            return override[1]
        return _valid_arg(rule, name, slug=slug, post_id=post_id)

    return _ARG.sub(value, rule.rule)


def _rules(app: Flask, methods: set[str]) -> list[tuple[Rule, str]]:
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) & methods)
    ]


def _read_urls(app: Flask, *, slug: str, post_id: int) -> list[str]:
    return [_fill(rule, slug=slug, post_id=post_id) for rule, _ in _rules(app, READ_METHODS)]


# A body that gets a write route past its own validation, so hostile path values reach the database.
PLAUSIBLE_BODY = {
    "title": "A title",
    "body": "A body.",
    "references": ["https://example.org/"],
    "base_revision": 1,
    "revision": 1,
    "kind": "minor",
    "note": "A note.",
    "author_name": "Reader",
    "author_email": "r@example.org",
    "action": "approve",
    "reason": "A reason.",
    "no_conflicts": True,
    "interests": [],
}


_walker_ips = itertools.count(100_000)


def _send(world: World, method: str, url: str, **kw: Any) -> Any:
    """Staff token under /api/ (so permission checks pass and the path reaches the database).

    Each request comes from its own address, so per-IP rate limits never stand in for the answer.
    """
    as_ = "chief" if url.startswith("/api/") else None
    if method in WRITE_METHODS and "body" not in kw:
        kw["body"] = json.dumps(PLAUSIBLE_BODY).encode()
    return world.call(method, url, as_=as_, **kw, **_ip(next(_walker_ips)))


def _staff_passes(world: World) -> Iterator[tuple[str, dict[str, str]]]:
    """Anonymous first, then signed in as staff (for /staff/ pages), with a CSRF header for their forms."""
    yield "anonymous", {}
    assert log_in(world.client, world.users["chief"].email, PASSWORD).status_code == 302
    yield "staff", {"X-CSRFToken": form_csrf_token(world.client, "/login")}


@pytest.mark.timeout(240)
def test_hostile_path_segments_are_answered_not_crashed(world: World, subtests: Any) -> None:
    slug, post_id = world.published.slug, world.published.id
    for who, headers in _staff_passes(world):
        for rule, method in _rules(world.app, READ_METHODS | WRITE_METHODS):
            if who == "staff" and not rule.rule.startswith("/staff/"):
                continue
            for arg in rule.arguments:
                corpus = hostile.PATH_INTS if _converter(rule, arg) == "int" else hostile.PATH_SEGMENTS
                for name, segment in corpus.items():
                    url = _fill(rule, slug=slug, post_id=post_id, override=(arg, segment))
                    with subtests.test(msg=f"{who}: {method} {rule.rule} with {arg} = {name}"):
                        problem = hostile.problem_with_error(_send(world, method, url, headers=headers))
                        assert problem is None, problem
    assert world.client.get(f"/posts/{slug}").status_code == 200


@pytest.mark.timeout(240)
def test_hostile_query_strings_are_answered_not_crashed(world: World, subtests: Any) -> None:
    urls = _read_urls(world.app, slug=world.published.slug, post_id=world.published.id)
    for who, _ in _staff_passes(world):
        for url in urls:
            if who == "staff" and not url.startswith("/staff/"):
                continue
            for name, query in hostile.QUERIES.items():
                with subtests.test(msg=f"{who}: GET {url}?{name}"):
                    response = world.call("GET", f"{url}?{query}", content_type=None)
                    problem = hostile.problem_with_error(response)
                    assert problem is None, problem
    for name, query, status in [
        ("page-negative", "page=-1", 400),  # pages are cursors now: a page number is refused, saying so
        ("page-text", "page=abc", 400),
        ("after-garbage", "after=abc", 400),
        ("per-page-billion", "per_page=1000000000", 422),
    ]:
        response = world.call("GET", f"/api/v1/posts?{query}", content_type=None)
        assert response.status_code == status, name
    assert world.call("GET", "/?after=-1", content_type=None).status_code == 400
    assert world.call("GET", "/", content_type=None).status_code == 200


@pytest.mark.timeout(240)
def test_write_routes_survive_raw_bodies_content_types_and_oversize(world: World, subtests: Any) -> None:
    slug, post_id = world.published.slug, world.published.id
    for rule, method in _rules(world.app, WRITE_METHODS):
        url = _fill(rule, slug=slug, post_id=post_id)
        if not url.startswith("/api/"):
            continue
        for name, raw in hostile.RAW_BODIES.items():
            with subtests.test(msg=f"{method} {rule.rule} body {name}"):
                problem = hostile.problem_with_error(_send(world, method, url, body=raw))
                assert problem is None, problem
        valid = json.dumps(PLAUSIBLE_BODY).encode()
        for name, content_type in hostile.CONTENT_TYPES.items():
            with subtests.test(msg=f"{method} {rule.rule} Content-Type {name}"):
                response = _send(world, method, url, body=valid, content_type=content_type)
                problem = hostile.problem_with_error(response)
                assert problem is None, problem

    # Over MAX_CONTENT_LENGTH, every route that reads its body answers 413 with a message; a route
    # that never reads it (``/withdraw``, say) just answers as it would anyway.
    too_big = b"x" * (world.app.config["MAX_CONTENT_LENGTH"] + 1)
    adapter = world.app.url_map.bind("localhost")
    must_refuse = {adapter.match(e.path(world), method=e.method)[0] for e in ENDPOINTS} | {"accounts.login"}
    routes = _rules(world.app, WRITE_METHODS)
    assert routes, "no write routes found"
    for rule, method in routes:
        url = _fill(rule, slug=world.published.slug, post_id=world.published.id)
        content_type = "application/json" if url.startswith("/api/") else FORM
        with subtests.test(msg=f"{method} {rule.rule} over the size limit"):
            response = _send(world, method, url, body=too_big, content_type=content_type)
            problem = hostile.problem_with_error(response)
            assert problem is None, problem
            if rule.endpoint in must_refuse:
                assert response.status_code == 413
    r = world.post_json("/api/v1/posts", {"title": "Still works", "body": "Yes."}, as_="author")
    assert r.status_code == 201


# --- headers -----------------------------------------------------------------------------------------


def _header_targets(world: World) -> list[tuple[str, str, bytes | None]]:
    create = json.dumps({"title": "Header test", "body": "Text."}).encode()
    comment = json.dumps(
        {"author_name": "Rita Reader", "author_email": "rita@example.org", "body": "Thank you for this."}
    ).encode()
    return [
        ("GET", "/", None),
        ("GET", f"/posts/{world.published.slug}", None),
        ("GET", "/api/v1/posts", None),
        ("GET", f"/api/v1/posts/{world.draft.id}", None),
        ("POST", "/api/v1/posts", create),
        ("POST", f"/api/v1/posts/{world.published.id}/comments", comment),
        ("POST", "/login", b"email=a%40example.org&password=xxxxxxxxxxxx"),
    ]


def test_hostile_headers_are_answered_not_crashed(world: World, subtests: Any) -> None:
    n = itertools.count(1)
    cases = [(f"Authorization {k}", "Authorization", v) for k, v in hostile.AUTHORIZATION.items()]
    cases += [(k, header, v) for k, (header, v) in hostile.HEADERS.items()]
    cases += [(f"X-Forwarded-For {k}", "X-Forwarded-For", v) for k, v in hostile.FORWARDED_FOR.items()]
    for name, header, value in cases:
        for method, url, body in _header_targets(world):
            with subtests.test(msg=f"{method} {url} {name}"):
                content_type = "application/json" if url.startswith("/api/") else FORM
                response = world.call(
                    method,
                    url,
                    body=body,
                    content_type=content_type if body else None,
                    headers={header: value},
                    **_ip(next(n)),
                )
                problem = hostile.problem_with_error(response)
                assert problem is None, problem
                if (
                    header == "Authorization"
                    and "comments" not in url
                    and (url.startswith("/api/v1/posts/") or (method == "POST" and url.startswith("/api/")))
                ):
                    assert response.status_code in (401, 404), "a junk token must not authenticate"
    # The real token still works.
    assert world.call("GET", f"/api/v1/posts/{world.draft.id}", as_="author").status_code == 200


@pytest.mark.parametrize("app_config", [{"CANDOR_TRUSTED_PROXIES": 1}], ids=["one-trusted-proxy"])
def test_bogus_forwarded_for_headers_behind_a_proxy(world: World, subtests: Any) -> None:
    """With a trusted proxy, X-Forwarded-For becomes the reader's IP (rate limits, Akismet): junk too."""
    for name, value in hostile.FORWARDED_FOR.items():
        for method, url, body in _header_targets(world):
            with subtests.test(msg=f"{method} {url} X-Forwarded-For {name}"):
                content_type = "application/json" if url.startswith("/api/") else FORM
                response = world.call(
                    method,
                    url,
                    body=body,
                    content_type=content_type if body else None,
                    as_="author" if url.startswith("/api/") else None,
                    headers={"X-Forwarded-For": value, "X-Forwarded-Proto": value},
                )
                problem = hostile.problem_with_error(response)
                assert problem is None, problem
    assert world.client.get("/").status_code == 200


# --- HTML forms --------------------------------------------------------------------------------------


def _ip(n: int) -> dict[str, Any]:
    """A distinct client address per request: a per-IP rate limit must not mask what a form does."""
    return {"environ_base": {"REMOTE_ADDR": f"10.{n // 62500 % 256}.{n // 250 % 250}.{n % 250 + 1}"}}


@dataclass(frozen=True)
class HtmlForm:
    """A form as a browser posts it: where, a set of values it accepts, and the fields to drive.

    ``staff_pages`` show what the form stored to staff: they are checked for active content afterwards.
    ``rendered`` fields become HTML (the whole script corpus); the rest are escaped text (a sample).
    """

    name: str
    path: Callable[[World], str]
    valid: dict[str, bytes]
    fields: tuple[str, ...]
    limits: dict[str, int] = field(default_factory=dict)
    staff_pages: tuple[str, ...] = ()
    rendered: tuple[str, ...] = ()


HTML_FORMS = [
    HtmlForm(
        "login",
        lambda w: "/login",
        {"email": b"nobody@clinic.example", "password": b"not the password", "csrf_token": b""},
        ("email", "password", "csrf_token"),
        {"email": 320, "password": 1000},
    ),
    HtmlForm(
        "comment",
        lambda w: f"/posts/{w.published.slug}/comments",
        {
            "author_name": b"Rita Reader",
            "author_email": b"rita@example.org",
            "body": b"Thanks, this helped.",
            "parent_id": b"",
            "website": b"",
            "form_token": b"",
        },
        ("author_name", "author_email", "body", "parent_id", "form_token"),
        {"body": 5000},
        staff_pages=("/staff/comments/",),
        rendered=("body",),
    ),
    HtmlForm(
        "error-report",
        lambda w: f"/posts/{w.published.slug}/report",
        {
            "what": b"The dose in the second paragraph is wrong.",
            "source": b"https://example.org/label",
            "email": b"",
            "website": b"",
        },
        ("what", "source", "email", "website"),
        {"what": 4000},
        staff_pages=("/staff/error-reports",),
        rendered=("what",),
    ),
    HtmlForm(
        "contact",
        lambda w: "/contact",
        {
            "name": b"Rita Reader",
            "email": b"rita@example.org",
            "subject": b"A question",
            "body": b"Do you take walk-ins?",
            "website": b"",
            "form_token": b"",
        },
        ("name", "email", "subject", "body"),
        staff_pages=("/staff/contact/",),
        rendered=("body",),
    ),
]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("form", [pytest.param(f, id=f.name) for f in HTML_FORMS])
def test_html_form_fields_survive_the_corpus(world: World, subtests: Any, form: HtmlForm) -> None:
    client = world.client
    # Every value must reach the form, not the per-account sign-in limit (tested in test_accounts.py).
    world.app.config["LOGIN_ACCOUNT_LIMIT"] = "100000 per minute"
    valid = dict(form.valid)
    if "csrf_token" in valid:
        valid["csrf_token"] = form_csrf_token(client, form.path(world)).encode()
    n = itertools.count(1)
    for field_name in form.fields:
        values = hostile.form_values(all_scripts=field_name in form.rendered)
        if field_name in form.limits:
            values["over-limit"] = b"x" * (form.limits[field_name] + 1)
        for i, (name, value) in enumerate(values.items()):
            # Alternate the two encodings browsers use, so both parsers see the whole corpus.
            encoding = "urlencoded" if i % 2 == 0 else "multipart"
            with subtests.test(msg=f"{form.name}: {field_name} = {name} ({encoding})"):
                fields = {**valid, field_name: value}
                if encoding == "urlencoded":
                    body, content_type = hostile.urlencoded(fields), FORM
                else:
                    body, content_type = hostile.multipart(fields)
                response = world.call(
                    "POST", form.path(world), body=body, content_type=content_type, **_ip(next(n))
                )
                problem = hostile.problem_with_error(response)
                assert problem is None, problem
                if form.name == "login":
                    assert response.status_code in (400, 422), "a hostile value signed somebody in"
                if name == "over-limit":
                    assert response.status_code == 422

    # What the form stored is shown to staff without anything that runs.
    if form.staff_pages:
        assert log_in(client, world.users["chief"].email, PASSWORD).status_code == 302
        for url in form.staff_pages:
            page = world.call("GET", url, content_type=None)
            assert page.status_code == 200, url
            assert hostile.active_content(page.get_data(as_text=True), fragment=False) == [], url
        token = form_csrf_token(client, "/login").encode()
        world.call("POST", "/logout", body=hostile.urlencoded({"csrf_token": token}), content_type=FORM)

    # Nothing lost: the form still takes a valid submission.
    if form.name == "login":
        # The rate limit itself answers with a page.
        for _ in range(12):
            response = world.call(
                "POST",
                "/login",
                body=hostile.urlencoded({**valid, "password": b"\x00"}),
                content_type=FORM,
                environ_base={"REMOTE_ADDR": "192.0.2.77"},
            )
            assert hostile.problem_with_error(response) is None
        assert response.status_code == 429
        response = log_in(client, world.users["author"].email, PASSWORD)
        assert response.status_code == 302
        assert parse(client.get("/")).select_one(".signed-in") is not None
    else:
        response = world.call(
            "POST", form.path(world), body=hostile.urlencoded(valid), content_type=FORM, **_ip(0)
        )
        assert response.status_code < 400, response.get_data(as_text=True)[:500]


def test_forms_read_form_fields_never_json(world: World, subtests: Any) -> None:
    """A JSON body to an HTML form route (with a valid CSRF header) must not reach WTForms as data.

    Flask-WTF would feed it to the fields, and WTForms expects a list of pairs: a list, a number or a
    lone surrogate used to crash it. Every form route is tried, including ones added later.
    """
    client = world.client
    token = form_csrf_token(client, "/login")
    bodies = {
        k: hostile.RAW_BODIES[k]
        for k in (
            "not-json",
            "top-level-array",
            "top-level-string",
            "top-level-number",
            "top-level-nan",
            "deep-array",
            "invalid-utf8",
        )
    }
    bodies["pairs-as-json"] = b'[["email", "a@b.example"], ["password", "xxxxxxxxxxxx"]]'
    bodies["object-values"] = b'{"email": {"x": 1}, "password": 5, "csrf_token": [1], "body": [1]}'
    bodies["lone-surrogate"] = b'{"email": "a\\ud800@b.example", "password": "\\ud800", "body": "\\ud800"}'
    n = itertools.count(1)
    for who in ("anonymous", "staff"):
        if who == "staff":  # staff forms sit behind sign-in; signing out would end the pass
            assert log_in(client, world.users["chief"].email, PASSWORD).status_code == 302
            token = form_csrf_token(client, "/login")
        for rule, method in _rules(world.app, WRITE_METHODS):
            path = _fill(rule, slug=world.published.slug, post_id=world.published.id)
            if path.startswith("/api/") or (who == "staff" and path in ("/logout", "/login")):
                continue
            for name, raw in bodies.items():
                with subtests.test(msg=f"{who}: {method} {rule.rule} JSON {name}"):
                    response = world.call(
                        method, path, body=raw, headers={"X-CSRFToken": token}, **_ip(next(n))
                    )
                    problem = hostile.problem_with_error(response)
                    assert problem is None, problem


def test_logout_survives_hostile_csrf_tokens_and_still_works(world: World, subtests: Any) -> None:
    client = world.client
    assert log_in(client, world.users["author"].email, PASSWORD).status_code == 302
    for name, value in hostile.form_values(all_scripts=False).items():
        with subtests.test(msg=f"logout csrf_token = {name}"):
            response = world.call(
                "POST", "/logout", body=hostile.urlencoded({"csrf_token": value}), content_type=FORM
            )
            problem = hostile.problem_with_error(response)
            assert problem is None, problem
            assert response.status_code in (302, 400)
    home = parse(client.get("/"))
    assert home.select_one(".signed-in") is not None, "a forged sign-out signed the user out"
    token = home.select_one('form[action="/logout"] input[name="csrf_token"]')["value"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert parse(client.get("/")).select_one(".signed-in") is None
