"""Configuration from the environment, production's fail-fast, and the security baseline on every response."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import config
from tests.support.web import parse

ROOT = Path(__file__).resolve().parent.parent


PRODUCTION = {
    "CANDOR_ENV": "production",
    "SECRET_KEY": "s",
    "DATABASE_URL": "sqlite://",
    "CANDOR_PUBLIC_URL": "https://blog.clinic.example",
}


def test_production_refuses_to_start_without_its_secrets(tmp_path):
    with pytest.raises(config.ConfigError, match="SECRET_KEY, DATABASE_URL and CANDOR_PUBLIC_URL"):
        config.load(tmp_path, {"CANDOR_ENV": "production"})
    with pytest.raises(config.ConfigError, match="needs DATABASE_URL and CANDOR_PUBLIC_URL set"):
        config.load(tmp_path, {"CANDOR_ENV": "production", "SECRET_KEY": "s"})
    for name in ("SECRET_KEY", "DATABASE_URL", "CANDOR_PUBLIC_URL"):
        with pytest.raises(config.ConfigError, match=f"needs {name} set"):
            config.load(tmp_path, {k: v for k, v in PRODUCTION.items() if k != name})


def test_production_cookies_are_secure(tmp_path):
    loaded = config.load(tmp_path, PRODUCTION)
    assert loaded["SESSION_COOKIE_SECURE"] and loaded["SESSION_COOKIE_HTTPONLY"]


def test_development_generates_a_secret_key_once(tmp_path):
    first = config.load(tmp_path, {})["SECRET_KEY"]
    second = config.load(tmp_path, {})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_plain_postgresql_urls_use_psycopg(tmp_path):
    loaded = config.load(tmp_path, {"DATABASE_URL": "postgresql://u@h/db"})
    assert loaded["DATABASE_URL"] == "postgresql+psycopg://u@h/db"


def test_bad_numbers_in_settings_are_explained(tmp_path):
    with pytest.raises(config.ConfigError, match="CANDOR_TRUSTED_PROXIES"):
        config.load(tmp_path, {"CANDOR_TRUSTED_PROXIES": "two"})


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in config.SETTINGS if f"`{name}`" not in readme]
    assert missing == []


def test_security_headers_on_every_kind_of_response(client):
    for path in ("/", "/login", "/no-such-page", "/api/v1/posts", "/static/candor.css"):
        response = client.get(path)
        h = response.headers
        response.close()
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], path
        assert "script-src 'self'" in h["Content-Security-Policy"], path
        assert "'unsafe-inline'" not in h["Content-Security-Policy"], path
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "strict-origin-when-cross-origin", path


def test_pages_carry_no_inline_script_or_style(client, make_post):
    post = make_post("published")
    for path in ("/", f"/posts/{post.slug}", "/login"):
        soup = parse(client.get(path))
        # JSON-LD is a data block (never run, and CSP leaves it be); every script that runs is a file.
        assert all(s.get("src") or s.get("type") == "application/ld+json" for s in soup.find_all("script")), (
            path
        )
        assert all(not s.get("src") for s in soup.find_all("script", type="application/ld+json")), path
        assert soup.find("style") is None and soup.find(attrs={"style": True}) is None, path
        assert not soup.find(attrs=lambda a: a and any(k.startswith("on") for k in a)), path


def test_oversized_requests_get_413(client, make_user, make_token):
    token = make_token(make_user("author"))
    r = client.post(
        "/api/v1/posts",
        data=b"x" * (1024 * 1024 + 1),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 413 and "too large" in r.get_json()["error"]["message"]


def _limited_ip(client, headers):
    """Exhaust the login limit from one apparent IP; return whether another apparent IP is still let in."""
    for _ in range(10):
        client.post("/login", data={}, headers=headers("198.51.100.7"))
    return client.post("/login", data={}, headers=headers("203.0.113.9")).status_code != 429


def test_x_forwarded_for_is_ignored_without_trusted_proxies(client):
    # Without a trusted proxy, a reader cannot dodge the rate limit by inventing X-Forwarded-For.
    assert not _limited_ip(client, lambda ip: {"X-Forwarded-For": ip})


@pytest.mark.parametrize("app_config", [{"CANDOR_TRUSTED_PROXIES": 1}])
def test_x_forwarded_for_is_honoured_through_one_trusted_proxy(app_config):
    from app import create_app

    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True, **app_config})
    client = app.test_client()
    assert _limited_ip(client, lambda ip: {"X-Forwarded-For": f"10.9.9.9, {ip}"})
    app.extensions["candor.engine"].dispose()


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    from tests.support.web import log_in

    user = make_user("author")
    cookie = log_in(client, user.email).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and re.search(r"SameSite=Lax", cookie)


def test_werkzeugs_own_slash_redirects_carry_no_host(client, make_user):
    """A missing trailing slash is redirected by Werkzeug with an absolute URL from the Host: made a path."""
    from tests.support.web import log_in

    log_in(client, make_user("moderator").email)
    moved = client.get("/staff/comments", headers={"Host": "localhost:9999"})
    assert moved.status_code == 308 and moved.headers["Location"] == "/staff/comments/"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CANDOR_TRUSTED_PROXIES", "-1"),
        ("MAIL_PORT", "0"),
        ("MAIL_PORT", "70000"),
        ("AKISMET_TIMEOUT", "-5"),
        ("AKISMET_TIMEOUT", "nan"),
        ("CANDOR_COMMENT_BURST", "-3"),
        ("CANDOR_COMMENT_NETWORK_RATE_LIMIT", "lots per minute"),
        ("CANDOR_COMMENT_MAX_LINKS", "-1"),
        ("CANDOR_COMMENT_MIN_SECONDS", "inf"),
        ("CANDOR_COMMENT_MIN_SECONDS", "-1"),
        ("CANDOR_OFFTOPIC_THRESHOLD", "500"),
        ("CANDOR_COI_MAX_AGE_DAYS", "0"),
        ("CANDOR_MAX_CONTENT_LENGTH", "-1"),
        ("REDIS_URL", "redis://127.0.0.1:6379/thirteen"),
        ("REDIS_URL", "redis://127.0.0.1:63x9/1"),
        ("CANDOR_RATELIMIT_STORAGE_URI", "garbage"),
        ("DATABASE_URL", "garbage"),
        ("DATABASE_URL", "mysql://u@h/db"),
        ("DATABASE_URL", "postgresql://u@h:port/db"),
        ("DATABASE_URL", "postgresql://u@h/"),
    ],
)
def test_a_value_out_of_range_or_of_the_wrong_kind_is_refused_naming_the_setting(tmp_path, name, value):
    with pytest.raises(config.ConfigError, match=name):
        config.load(tmp_path, {name: value})


def test_a_refused_url_never_repeats_its_password(tmp_path):
    for name, value in (
        ("DATABASE_URL", "mysql://candor:hunter2hunter2@db/candor"),
        ("DATABASE_URL", "postgresql://candor:hunter2hunter2@db:x/candor"),
        ("REDIS_URL", "redis://:hunter2hunter2@127.0.0.1:6379/x"),
        ("CANDOR_RATELIMIT_STORAGE_URI", "nosuch://:hunter2hunter2@127.0.0.1:6379"),
    ):
        with pytest.raises(config.ConfigError, match=name) as refused:
            config.load(tmp_path, {name: value})
        assert "hunter2" not in str(refused.value)


def test_the_edges_of_the_ranges_are_accepted(tmp_path):
    loaded = config.load(
        tmp_path,
        {
            "MAIL_PORT": "65535",
            "CANDOR_COMMENT_MIN_SECONDS": "0",
            "CANDOR_COMMENT_BURST": "100000",
            "CANDOR_OFFTOPIC_THRESHOLD": "0",
            "REDIS_URL": "redis://:pw@127.0.0.1:6379/13",
            "CANDOR_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
            "DATABASE_URL": "sqlite:///x.sqlite3",
        },
    )
    assert (loaded["MAIL_PORT"], loaded["COMMENT_BURST"], loaded["RATELIMIT_STORAGE_URI"]) == (
        65535,
        100000,
        "redis://127.0.0.1:6379",
    )
    assert (
        config.load(tmp_path, {"REDIS_URL": "unix:///run/redis.sock"})["REDIS_URL"]
        == "unix:///run/redis.sock"
    )


def test_a_metrics_directory_that_is_not_there_stops_the_start(tmp_path):
    with pytest.raises(config.ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        config.load(tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")})
    (tmp_path / "metrics").mkdir()
    assert config.load(tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")})["METRICS_DIR"]
