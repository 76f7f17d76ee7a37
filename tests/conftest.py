"""The fixture vocabulary: app, client, runner, session, and factories that return callables.

Every test that takes ``app`` (directly or through another fixture) runs once on SQLite and once on
PostgreSQL; the PostgreSQL run is skipped, saying why, unless CANDOR_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy.orm import Session

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.pop("CANDOR_ENV", None)

from app import create_app  # noqa: E402
from app.accounts import services as accounts  # noqa: E402
from app.accounts.models import Role, User  # noqa: E402
from app.disclosures import services as disclosures  # noqa: E402
from app.editorial import services as editorial  # noqa: E402
from app.editorial.gates import GateSettings  # noqa: E402
from app.posts import services as posts  # noqa: E402
from app.posts.models import Post  # noqa: E402
from tests.support import compiled  # noqa: E402
from tests.support.databases import PostgresTemplate, SqliteTemplate, postgres_admin_url  # noqa: E402
from tests.support.require_all import missing  # noqa: E402
from tests.support.web import PASSWORD  # noqa: E402

# Shared fixtures live in plugins under tests/support, never in a test module another one imports.
pytest_plugins = ["tests.support.comments"]

# Each test's app compiles the same URL rules and templates: once per process is enough.
compiled.install()

# Argon2 at full strength costs ~0.3 s a hash; the suite hashes hundreds. Verified hashes stay real.
accounts.use_hash_profile("CHEAPEST")

settings.register_profile("candor", deadline=None, print_blob=True)
settings.load_profile("candor")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgresql_template() -> Iterator[PostgresTemplate]:
    url = postgres_admin_url()
    if url is None:
        missing("PostgreSQL run skipped: CANDOR_TEST_POSTGRES_URL is not set")
    template = PostgresTemplate(url)
    yield template
    template.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    template = request.getfixturevalue(f"{request.param}_template")
    url = template.fresh(tmp_path)
    yield url
    template.drop(url)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test overrides; a test module can override this fixture."""
    return {}


@pytest.fixture
def app(database_url: str, app_config: dict[str, Any], tmp_path: Any) -> Iterator[Flask]:
    application = create_app(
        {"DATABASE_URL": database_url, "TESTING": True, "DEMO_ACCOUNTS_DIR": str(tmp_path), **app_config}
    )
    compiled.share_templates(application)
    yield application
    application.extensions["candor.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    s = app.extensions["candor.sessions"]()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def make_user(session: Session) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def _make(*roles: str, name: str | None = None, email: str | None = None, **kw: Any) -> User:
        n = next(counter)
        user = accounts.create_user(
            session,
            email=email or f"staff{n}@clinic.example",
            name=name or f"Staff Member {n}",
            password=PASSWORD,
            roles={Role(r) for r in (roles or ("author",))},
            title=kw.get("title", "Physician"),
            department=kw.get("department", "Internal Medicine"),
        )
        session.commit()
        return user

    return _make


@pytest.fixture
def make_token(session: Session) -> Callable[[User], str]:
    def _make(user: User) -> str:
        token = accounts.create_token(session, user)
        session.commit()
        return token

    return _make


@pytest.fixture
def make_disclosure(session: Session) -> Callable[..., Any]:
    """make_disclosure(user) records "no relevant relationships"; pass interests=[...] for a list."""

    def _make(user: User, interests: list[dict[str, Any]] | None = None, statement: str = "") -> Any:
        disclosure = disclosures.record_disclosure(
            session, user, no_conflicts=not interests, interests=interests or [], statement=statement
        )
        session.commit()
        return disclosure

    return _make


@pytest.fixture
def gate_settings(app: Flask) -> GateSettings:
    return GateSettings.from_config(app.config)


@pytest.fixture
def make_post(
    session: Session,
    make_user: Callable[..., User],
    make_disclosure: Callable[..., Any],
    gate_settings: GateSettings,
) -> Callable[..., Post]:
    """make_post(status="published"|"draft"|"in_review", author=, title=, body=, references=[...],
    type="post"|"page")."""
    editors: list[User] = []

    def _make(
        status: str = "published",
        *,
        author: User | None = None,
        title: str = "A post about sleep",
        body: str = "Adults need *seven hours* of sleep.",
        references: list[str] | None = None,
        type: str = "post",
    ) -> Post:
        author = author or make_user("author")
        refs = references if references is not None else ["https://example.org/sleep-study"]
        post = posts.create_draft(session, author, posts.RevisionInput(title, body, refs), type=type)
        if status in ("in_review", "published"):
            if disclosures.latest(session, author) is None:
                make_disclosure(author)
            editorial.submit(session, author, post, gate_settings)
        if status == "published":
            if not editors:
                editors.append(make_user("editor", name="Edith Editor"))
            assert post.current_revision is not None
            editorial.approve(session, editors[0], post, post.current_revision.number, gate_settings)
        session.commit()
        return post

    return _make


@dataclass
class Api:
    """JSON calls with an optional bearer token: ``api.post('/api/v1/posts', {...}, as_=user)``."""

    client: FlaskClient
    make_token: Callable[[User], str]

    def _headers(self, as_: User | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.make_token(as_)}"} if as_ is not None else {}

    def get(self, path: str, as_: User | None = None) -> Any:
        return self.client.get(path, headers=self._headers(as_))

    def post(self, path: str, body: Any = None, as_: User | None = None) -> Any:
        return self.client.post(path, json=body if body is not None else {}, headers=self._headers(as_))

    def put(self, path: str, body: Any = None, as_: User | None = None) -> Any:
        return self.client.put(path, json=body if body is not None else {}, headers=self._headers(as_))


@pytest.fixture
def api(client: FlaskClient, make_token: Callable[[User], str]) -> Api:
    return Api(client, make_token)
