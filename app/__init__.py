"""Candor: a blog engine for staff who blog under an ethics code, and must be seen to keep it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

import config as candor_config


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, database, security, auth, blueprints, error pages, CLI. Never migrates."""
    root = Path(__file__).resolve().parent.parent
    app = Flask(
        __name__,
        instance_path=str(root / "instance"),
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
    )
    app.config.from_mapping(candor_config.load(app.instance_path))
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    if overrides:
        app.config.from_mapping(overrides)

    from app.web import (
        auth,
        database,
        desk,
        discovery,
        errors,
        extensions,
        jobs,
        outside,
        pagecache,
        runtime,
        security,
        tasks,
        timezones,
    )

    database.init_app(app)
    runtime.init_app(app)
    tasks.init_app(app)
    jobs.init_app(app)
    outside.init_app(app)
    security.init_app(app)
    extensions.init_app(app)
    pagecache.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    timezones.init_app(app)
    desk.init_app(app)
    discovery.init_app(app)

    from app.accounts.views import bp as accounts_bp
    from app.administration import views as administration
    from app.comments import views as comments
    from app.contact.views import bp as contact_bp
    from app.contact.views import desk_bp as contact_desk_bp
    from app.corrections.views import bp as corrections_bp
    from app.disclosures import views as disclosures
    from app.editorial import views as editorial
    from app.medical import views as medical
    from app.moderation import views as moderation
    from app.posts import views as posts
    from app.redaction import views as redaction
    from app.settings.views import API as settings_api
    from app.settings.views import bp as settings_bp
    from app.sso.views import bp as sso_bp
    from app.staff.views import bp as staff_bp
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
    app.register_blueprint(
        api.blueprint(
            posts.API,
            editorial.API,
            disclosures.API,
            comments.API,
            moderation.API,
            settings_api,
            redaction.API,
            administration.API,
            openapi.API,
        )
    )

    from app.cli import register

    register(app)
    return app
