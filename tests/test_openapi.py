"""The OpenAPI document: valid OpenAPI 3.1, exactly the app's /api/v1 routes, and true to what they answer.

The last test runs Schemathesis against the real app (in-process WSGI, the real database, SQLite and
PostgreSQL), stateless, positive and negative data, every response check, as one staff member holding
every role, with a published post, a draft, a post in review, comments, another account, tokens and
redactions seeded so calls reach their real code. Each operation gets ``SCHEMATHESIS_MAX_EXAMPLES``
examples per mode (default 25: about 75 s of CPU for both databases together, 3-5 minutes of wall time
on a busy two-core machine; 120 took 12.5 minutes there and found nothing more);
``SCHEMATHESIS_ONLY=REGEX`` narrows it to matching paths. The seed is fixed (``derandomize``), so a run
is repeatable.
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import ApiToken, Role, User
from app.administration import services as admin
from app.posts.models import Post
from app.redaction import services as redaction
from app.redaction.models import Target
from app.web import api as api_module
from app.web.openapi import PREFIX, document, undescribed
from tests.support.comments import submit

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))

# A valid ``after`` is only a cursor this list made (app/cursors.py), which no generator can guess:
# schema-valid data gets the one every list takes, the first page's (empty). Made-up cursors, which must
# answer 400, are tried by tests/test_scale_lists.py and the hostile-input tests.
schemathesis.openapi.format("cursor", st.just(""))


@pytest.fixture
def app_config(comments_config: dict[str, Any], database_url: str) -> dict[str, Any]:
    # The reader rate limit is relaxed, as for every comment test: Schemathesis sends hundreds of comments
    # from one address. The limit itself is tested in tests/test_comments_pipeline.py.
    config = dict(comments_config)
    if database_url.startswith("postgresql"):
        # Thousands of one-request transactions: PostgreSQL need not wait for the disk on each commit
        # (a crash could lose the last few, which a throwaway test database does not mind).
        separator = "&" if "?" in database_url else "?"
        config["DATABASE_URL"] = f"{database_url}{separator}options=-c%20synchronous_commit%3Doff"
    return config


def _operations(app: Flask) -> set[tuple[str, str]]:
    """(path, METHOD) of every /api/v1 rule in the app's URL map."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                found.add((rule.rule, method))
    return found


def test_the_document_is_served_and_is_valid_openapi_31(client: FlaskClient) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    spec = answer.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # the OpenAPI 3.1 meta-schema, and every schema in it as JSON Schema 2020-12


def test_the_document_lists_exactly_the_apps_api_routes(app: Flask) -> None:
    """Every /api/v1 route is described and nothing else is: a new route without a description fails."""
    spec = document(app)
    documented = set()
    for path, methods in spec["paths"].items():
        for method in methods:
            documented.add((path, method.upper()))
    registered = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = rule.rule.removeprefix(PREFIX)
        for part in rule.arguments:
            path = path.replace(f"<int:{part}>", f"{{{part}}}").replace(f"<{part}>", f"{{{part}}}")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            registered.add((path, method))
    missing = undescribed(app)
    assert not missing, (
        f"describe these routes where they are declared (summary=, responses=, ...): {missing}"
    )
    assert registered - documented == set(), "routes missing from the document"
    assert documented - registered == set(), "document describes routes the app does not have"
    assert len(registered) == len(_operations(app))


def test_a_route_without_a_description_is_caught() -> None:
    table = api_module.Routes()

    @table.get("/described", summary="Described", auth=api_module.PUBLIC, responses={200: {}})
    def described_view() -> Any:
        return {}

    @table.get("/bare")
    def bare_view() -> Any:
        return {}

    bare = Flask(__name__)
    bare.register_blueprint(api_module.blueprint(table))
    assert undescribed(bare) == ["/api/v1/bare"]
    assert list(document(bare)["paths"]) == ["/described"]


def test_a_half_description_is_refused_where_it_is_written() -> None:
    table = api_module.Routes()
    with pytest.raises(ValueError, match="summary= and responses="):
        table.post("/things", summary="Make a thing")
    with pytest.raises(ValueError, match="auth must be"):
        table.post("/things", summary="Make a thing", responses={201: {}}, auth="cookie")


def test_every_error_answer_is_in_the_error_shape(
    client: FlaskClient, make_user: Callable[..., User], make_token: Callable[[User], str]
) -> None:
    spec = document(client.application)
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status == "204":
                    assert "content" not in response, (method, path)
                    continue
                schema = response["content"]["application/json"]["schema"]
                if int(status) >= 400:
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 5, "body": "x"}, "title"),
        ({"title": "T", "body": ["x"]}, "body"),
        ({"title": "T"}, "body"),
        ({"title": "T", "body": "x", "references": {"a": 1}}, "references"),
        ({"title": "T", "body": "x", "personal_view": "yes"}, "personal_view"),
    ],
)
def test_a_body_of_the_wrong_shape_answers_422_naming_the_field(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_token: Callable[[User], str],
    body: dict[str, Any],
    field: str,
) -> None:
    token = make_token(make_user("author"))
    answer = client.post("/api/v1/posts", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert field in error["message"]


def test_a_wrong_type_deep_inside_names_the_path(
    client: FlaskClient, make_user: Callable[..., User], make_token: Callable[[User], str]
) -> None:
    token = make_token(make_user("author"))
    body = {"no_conflicts": False, "interests": [{"entity": "Acme", "relationship": "consulting", "paid": 1}]}
    answer = client.put("/api/v1/me/disclosure", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["field"] == "interests"
    assert error["message"] == "interests[0].paid must be true or false."


def test_every_error_the_api_gives_has_the_documented_shape(
    app: Flask,
    client: FlaskClient,
    make_user: Callable[..., User],
    make_token: Callable[[User], str],
    make_post: Callable[..., Post],
) -> None:
    """401, 403, 404, 405, 409 stale_revision, 413, 422 invalid_input and publish_blocked, 429: each is
    in the Error schema, and the operation that gave it lists its status."""
    spec = document(app)
    error_schema = spec["components"]["schemas"]["Error"]
    author = make_user("author")
    bearer = {"Authorization": f"Bearer {make_token(author)}"}
    moderator = {"Authorization": f"Bearer {make_token(make_user('moderator'))}"}
    draft = make_post("draft", author=author)
    published = make_post("published")
    limit = app.config["MAX_CONTENT_LENGTH"]

    def call(method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        answer = client.open(f"/api/v1{path}", method=method, **kw)
        assert answer.mimetype == "application/json", (method, path)
        Draft202012Validator(error_schema).validate(answer.get_json())
        return answer.status_code, answer.get_json()["error"]

    def documented(method: str, path: str, status: int) -> None:
        assert str(status) in spec["paths"][path][method]["responses"], (method, path, status)

    status, error = call("POST", "/posts", json={"title": "T", "body": "B"})
    assert (status, error["code"]) == (401, "not_authenticated")
    documented("post", "/posts", 401)
    status, error = call("POST", "/posts", json={"title": "T", "body": "B"}, headers=moderator)
    assert (status, error["code"]) == (403, "forbidden")
    documented("post", "/posts", 403)
    status, error = call("GET", "/posts/999999", headers=bearer)
    assert (status, error["code"]) == (404, "not_found")
    documented("get", "/posts/{post_id}", 404)
    status, error = call("DELETE", "/posts", headers=bearer)
    assert (status, error["code"]) == (405, "method_not_allowed")
    status, error = call(
        "POST", f"/posts/{draft.id}/revisions", json={"body": "New", "base_revision": 7}, headers=bearer
    )
    assert (status, error["code"], error["current_revision"]) == (409, "stale_revision", 1)
    documented("post", "/posts/{post_id}/revisions", 409)
    status, error = call(
        "POST", "/posts", data="x" * (limit + 1), content_type="application/json", headers=bearer
    )
    assert (status, error["code"]) == (413, "too_large")
    documented("post", "/posts", 413)
    status, error = call("POST", "/posts", json={"title": ["T"], "body": "B"}, headers=bearer)
    assert (status, error["code"], error["field"]) == (422, "invalid_input", "title")
    status, error = call("POST", f"/posts/{draft.id}/submit", headers=bearer)  # no disclosure on record
    assert (status, error["code"]) == (422, "publish_blocked")
    assert "disclosure" in {gate["gate"] for gate in error["gates"]}
    documented("post", "/posts/{post_id}/submit", 422)

    app.config["COMMENT_RATE_LIMIT"] = "2 per minute"
    comment = {"author_name": "Ada", "author_email": "ada@example.net", "body": "Thanks for this."}
    statuses = [
        client.post(f"/api/v1/posts/{published.id}/comments", json=comment).status_code for _ in range(3)
    ]
    assert statuses[-1] == 429
    status, error = call("POST", f"/posts/{published.id}/comments", json=comment)
    assert (status, error["code"]) == (429, "too_many_requests")
    documented("post", "/posts/{post_id}/comments", 429)


# --- Schemathesis -------------------------------------------------------------------------------------


@pytest.fixture
def everyone(make_user: Callable[..., User]) -> User:
    """One staff member holding every role, so that every call can reach its real code."""
    return make_user("admin", "editor", "author", "moderator", name="Alex Allrounder")


@pytest.fixture
def seeded(
    app: Flask,
    session: Any,
    everyone: User,
    make_user: Callable[..., User],
    make_post: Callable[..., Post],
    make_disclosure: Callable[..., Any],
) -> dict[str, Any]:
    """A published post with comments (published and held), the caller's draft, another's post in review."""
    published = make_post("published")
    make_disclosure(everyone)
    draft = make_post("draft", author=everyone, title="A draft about naps")
    in_review = make_post("in_review", title="A post about coffee")
    first = submit(app, session, published, body="Thanks, seven hours is a useful target for adults.")
    held = submit(
        app, session, published, body="Buy cheap pills at https://spam.example/ now", ip="198.51.100.7"
    )
    # Accounts and tokens: another member of staff, a spare token of the caller's and one of theirs (the
    # caller's own token stays out of reach: see ``_keep_the_caller``).
    other = make_user("author", name="Olu Other")
    spare = accounts.issue_token(session, everyone, name="spare").row
    theirs = accounts.issue_token(session, other, name="theirs").row
    # Redactions: two of published text waiting for a second editor (the caller confirms one, then the
    # other meets moved offsets: 409), one the caller asked for (403 to confirm), one carried out (409).
    editor = make_user("editor", name="Eda Editor")
    revision = published.published_revision_id
    waiting = [
        redaction.request(session, editor, Target.REVISION, revision, text=word, reason="Names a patient.")
        for word in ("seven", "sleep")
    ]
    own = redaction.request(session, everyone, Target.REVISION, revision, text="Adults", reason="Identifies.")
    done = redaction.request(session, editor, Target.COMMENT, first.id, text="useful", reason="Spam.")
    session.commit()
    return {
        "post_id": [published.id, draft.id, in_review.id],
        "comment_id": [first.id, held.id],
        "user_id": [everyone.id, other.id],
        "token_id": [spare.id, theirs.id],
        "redaction_id": [*(r.id for r in waiting), own.id, done.id],
        # Whole bodies that reach the code past validation (random e-mail addresses and exact text
        # rarely do): each works once, then meets the state it left (409, 422).
        "bodies": {
            "POST /users": [
                {"email": "new.person@clinic.example", "name": "New Person", "roles": ["author"]},
                {
                    "email": "second.admin@clinic.example",
                    "name": "Second Admin",
                    "roles": [" Admin ", "editor"],
                    "password": "seven blue herons fly",
                },
            ],
            "POST /redactions": [
                {"target": "comment", "id": held.id, "text": "cheap", "reason": "Spam."},
                {"target": "revision", "post_id": draft.id, "revision": 1, "text": "naps", "reason": "Why."},
                {"target": "revision", "id": revision, "text": "hours", "reason": "Names a patient."},
            ],
        },
    }


@pytest.fixture
def api_schema(app: Flask, seeded: dict[str, Any], everyone: User, make_token: Callable[[User], str]) -> Any:
    token = make_token(everyone)
    config = SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
            "checks": {
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "response_headers_conformance": {"enabled": True},
                # Valid data may still be refused for the state it meets (a post already approved: 409,
                # a gate that fails or a link that is not http(s): 422, an id that names nothing: 404,
                # the author approving their own post: 403); anything else (400, 401, 413, 415, 429,
                # 5xx) for data the document calls valid is a failure.
                "positive_data_acceptance": {"expected-statuses": ["2XX", "403", "404", "409", "422"]},
                "negative_data_rejection": {"enabled": True},
            },
        }
    )
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    loaded.seeded = seeded
    loaded.caller = (everyone.id, token)
    return loaded


def _keep_the_caller(session: Any, user_id: int, _token: str) -> None:
    """Undo what a call may rightly do to the caller (lose a role, be deactivated, lose their token):
    every later call is made as them, and would otherwise answer 401 or 403 for data that is valid."""
    session.expire_all()
    user = session.get(User, user_id)
    if not user.is_active:
        admin.reactivate(session, admin.OPERATOR, user)
    admin.set_roles(session, admin.OPERATOR, user, set(Role))
    for row in session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)):
        row.revoked_at = None  # the caller's token among them
    session.commit()


def _steered(operation: Any, mode: GenerationMode, seeded: dict[str, Any]) -> Any:
    """Cases whose ids name seeded things half of the time (else a random id mostly finds nothing), and
    for a few operations, positive cases with a seeded body half of the time."""
    plain = operation.as_strategy(generation_mode=mode)
    bodies = seeded["bodies"].get(operation.label) if mode == GenerationMode.POSITIVE else None
    if bodies:
        with_body = st.sampled_from(bodies).flatmap(
            lambda body: operation.as_strategy(generation_mode=mode, body=body)
        )
        plain = st.one_of(with_body, plain)
    names = [p.name for p in operation.path_parameters]
    if not names:
        return plain
    choices = st.fixed_dictionaries({name: st.sampled_from(seeded[name]) for name in names})
    steered = choices.flatmap(lambda ids: operation.as_strategy(generation_mode=mode, path_parameters=ids))
    return st.one_of(steered, plain)


_AFFECT_THE_CALLER = {"PATCH /users/{user_id}", "DELETE /me/tokens/{token_id}"}


@pytest.mark.timeout(1800)
def test_the_api_keeps_to_its_document(api_schema: Any, session: Any) -> None:
    """Each operation, positive then negative data; every failure is collected, then reported together.

    Driven through Schemathesis' Python API (``APIOperation.as_strategy`` under Hypothesis' ``given``)
    rather than its pytest plugin, whose lazy fixture loader does not run on pytest 9.
    """
    failures = []
    seen: dict[str, Counter[int]] = {}
    only = os.environ.get("SCHEMATHESIS_ONLY", "")  # a path regex, to chase one operation
    for result in (
        api_schema.include(path_regex=only).get_all_operations() if only else api_schema.get_all_operations()
    ):
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_steered(operation, mode, api_schema.seeded))
            def run(case: Any) -> None:
                try:
                    # Schemathesis' WSGI transport sends requests' Accept-Encoding but never decodes:
                    # ask for the body as is (compression has its own tests: test_page_delivery.py).
                    response = case.call_and_validate(headers={"Accept-Encoding": "identity"})
                finally:
                    if case.operation.label in _AFFECT_THE_CALLER:
                        _keep_the_caller(session, *api_schema.caller)
                seen.setdefault(case.operation.label, Counter())[response.status_code] += 1

            try:
                run()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.label  # nothing to get wrong: no input
            except (Exception, BaseExceptionGroup) as exc:  # every operation is tried; all failures shown
                detail = "".join(traceback.format_exception(exc))[-4000:]
                failures.append(f"{operation.label} ({mode.value}):\n{detail}")
    for label, statuses in sorted(seen.items()):
        print(label, dict(sorted(statuses.items())))
    assert not failures, "\n\n".join(failures)
