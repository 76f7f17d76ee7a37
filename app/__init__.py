"""Candor: a blog engine for staff who blog under an ethics code, and must be seen to keep it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

import config as candor_config


def _configured(overrides: dict[str, Any] | None) -> Flask:
    root = Path(__file__).resolve().parent.parent
    app = Flask(
        __name__,
        instance_path=str(root / "instance"),
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
    )
    try:
        app.config.from_mapping(candor_config.load(app.instance_path))
    except candor_config.ConfigError as error:
        # A process starting (gunicorn, the worker, any flask command) stops with one line naming the
        # setting, not a traceback through Flask's CLI; config.load itself still raises ConfigError.
        raise SystemExit(f"candor: {error}") from None
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    if overrides:
        app.config.from_mapping(overrides)
    if app.config.get("TESTING") and "COMMENT_CHECK_BUDGET_MS" not in (overrides or {}):
        # Tests expect a comment's verdict in its answer (201/202 as decided) however loaded the machine
        # running them is; the tests of the 202 "checking" path set a budget of their own.
        app.config["COMMENT_CHECK_BUDGET_MS"] = 60_000
    return app


def _serving_jobs(app: Flask) -> None:
    """What the web app and the job worker's app both have: the model file checked (a wrong or missing
    one refuses to start; the model itself loads lazily), the database, runtime settings, the queue,
    logs and metrics, the jobs and the outside senders (e-mail, Akismet)."""
    from app.spam import embedding
    from app.web import database, jobs, ops, outside, runtime, tasks

    embedding.check_files()
    database.init_app(app)
    runtime.init_app(app)
    tasks.init_app(app)
    ops.init_app(app)
    jobs.init_app(app)
    outside.init_app(app)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, database, security, auth, blueprints, error pages, CLI. Never migrates."""
    app = _configured(overrides)

    from app.web import (
        auth,
        cdn,
        desk,
        discovery,
        errors,
        extensions,
        fragments,
        intake,
        ops,
        pagecache,
        reader_forms,
        readers,
        security,
        timezones,
    )

    _serving_jobs(app)
    intake.init_app(app)  # inside the host guard and ProxyFix (security), which wrap it next
    security.init_app(app)
    from app.media.views import raise_upload_limit

    app.before_request(raise_upload_limit)  # before CSRF protection reads an upload's form
    extensions.init_app(app)
    reader_forms.init_app(app)  # after extensions: its headers before the failure pages' Retry-After
    pagecache.init_app(app)
    cdn.init_app(app)
    fragments.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    timezones.init_app(app)
    desk.init_app(app)
    readers.init_app(app)
    discovery.init_app(app)

    from app.accounts.views import bp as accounts_bp
    from app.administration import views as administration
    from app.comments import views as comments
    from app.comments.api import views as comments_api
    from app.contact.views import bp as contact_bp
    from app.contact.views import desk_bp as contact_desk_bp
    from app.corrections.views import bp as corrections_bp
    from app.disclosures import views as disclosures
    from app.drafts import views as drafts
    from app.editorial import views as editorial
    from app.media import views as media
    from app.medical import views as medical
    from app.moderation import views as moderation
    from app.posts import views as posts
    from app.redaction import views as redaction
    from app.search import views as search
    from app.settings.views import API as settings_api
    from app.settings.views import bp as settings_bp
    from app.sites import views as sites
    from app.sso.views import bp as sso_bp
    from app.staff.views import bp as staff_bp
    from app.topics import views as topics
    from app.web import api, openapi

    app.register_blueprint(accounts_bp)
    app.register_blueprint(sso_bp)
    app.register_blueprint(posts.bp)
    app.register_blueprint(corrections_bp)
    app.register_blueprint(discovery.bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(administration.bp)
    app.register_blueprint(administration.public_bp)
    app.register_blueprint(comments.bp)
    app.register_blueprint(contact_bp)
    app.register_blueprint(contact_desk_bp)
    app.register_blueprint(moderation.bp)
    app.register_blueprint(medical.bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(redaction.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(topics.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(sites.public_bp)
    app.register_blueprint(sites.desk_bp)
    app.register_blueprint(drafts.bp)
    app.register_blueprint(
        api.blueprint(
            posts.API,
            editorial.API,
            disclosures.API,
            comments_api.API,
            moderation.API,
            settings_api,
            redaction.API,
            media.API,
            topics.API,
            search.API,
            administration.API,
            openapi.API,
        )
    )

    from app.importer import views as importer

    importer.register(app)

    from app.cli import register

    register(app)
    extensions.skip_empty_limit_check(app)  # every rate limit is a view's decorator (checked there)
    ops.wrap(app)  # outermost: request ids and metrics for every answer, the page cache's fast path too
    return app


def create_jobs_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The job worker's app: ``flask --app app:create_jobs_app worker``. Never migrates, serves no request.

    What the jobs use and nothing else: config, database, settings, the queue, logging, the e-mail and
    Akismet senders, the CDN purge, the CLI. No views, forms, page cache, rate limits, compression or CSRF,
    and none of the libraries they import: the worker is the process that loads the off-topic model, and
    issue 14 wants it under 200 MB (bench/bench_worker_memory.py; tests/test_worker_memory.py checks what
    it imports). Jobs still build the full app's URLs (e-mail links, CDN purges): its URL map is copied
    from the full app, built in a forked child that exits (app/web/urls.py ``copy_url_map``).
    """
    app = _configured(overrides)

    from app.web import cdn, urls

    _serving_jobs(app)
    cdn.init_app(app)
    urls.copy_url_map(app, lambda: create_app(overrides))

    from app.cli import register

    register(app)
    app.extensions["candor.jobs_only"] = True
    return app
