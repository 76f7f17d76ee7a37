"""The services outside the app as views, after-commit jobs and the CLI reach them: the Akismet client,
and the blog as e-mails link to it (``site``).

Both are built here, at the edge, from the app's config; domain services receive them as arguments and
never read config themselves, so tests can hand them their own.
"""

from __future__ import annotations

from flask import Flask, current_app

from app.mail.compose import Site
from app.spam.akismet_adapter import AkismetChecker, AkismetSettings
from app.sso.provider import OidcProvider, OidcSettings


def init_app(app: Flask) -> None:
    """One Akismet client (and connection pool) per app, built at start-up so bad settings fail early."""
    app.extensions["candor.akismet"] = AkismetChecker(AkismetSettings.from_config(app.config))
    # Single sign-on, when configured: its discovery document is fetched at the first sign-in, not here.
    oidc = OidcSettings.from_config(app.config)
    app.extensions["candor.oidc"] = OidcProvider(oidc) if oidc else None


def oidc_provider() -> OidcProvider | None:
    """The configured OpenID provider, or None when single sign-on is off."""
    return current_app.extensions["candor.oidc"]


def akismet_checker() -> AkismetChecker:
    return current_app.extensions["candor.akismet"]


def akismet_enabled() -> bool:
    return bool(akismet_checker().settings.api_key)


def site() -> Site:
    """The blog as e-mails link to it: absolute URLs on CANDOR_PUBLIC_URL, built without a request (cron)."""
    config = current_app.config
    paths = current_app.url_map.bind("localhost", script_name=config.get("APPLICATION_ROOT") or "/")
    return Site(
        name=config["SITE_NAME"],
        base_url=config["PUBLIC_URL"],
        secret=config["SECRET_KEY"],
        sender=config["MAIL_FROM"],
        post_path=lambda slug: paths.build("posts.show", {"slug": slug}),
        unsubscribe_path=lambda token: paths.build("comments.unsubscribe", {"token": token}),
        queue_path=paths.build("moderation.queue"),
        needs_reply_path=paths.build("moderation.needs_reply"),
        comment_admin_path=lambda comment_id: paths.build("moderation.comment", {"comment_id": comment_id}),
    )
