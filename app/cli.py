"""Thin click wrappers over services: ``flask --app wsgi db|users|tokens|demo``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.orm import Session

from app import demo, migrate
from app.accounts import services as accounts
from app.administration import services as admin
from app.db import commit, rollback, writing
from app.editorial import linkcheck
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.errors import CandorError
from app.search import services as search
from app.web import runtime
from app.web.database import session_factory


@contextmanager
def unit_of_work(*, write_lock: bool = True) -> Iterator[Session]:
    """One command's transaction, as the web edge runs a request's: one commit (then its on-commit
    work), a rollback on any error, and a domain error shown as the command's own message.

    ``write_lock`` takes SQLite's write lock at BEGIN, for commands that read to decide a write; those
    that wait on the network meanwhile (link checks, Akismet) leave it off so the blog's writers are
    not queued behind them.
    """
    session = session_factory()()
    if write_lock:
        writing(session)
    try:
        yield session
        commit(session)
    except CandorError as exc:
        rollback(session)
        raise click.ClickException(exc.message) from None
    except BaseException:
        rollback(session)
        raise
    finally:
        session.close()


def _url() -> str:
    return current_app.config["DATABASE_URL"]


db_cli = AppGroup("db", help="Database migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    migrate.upgrade(_url(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ('base' empties it)."""
    migrate.downgrade(_url(), revision)


@db_cli.command("current")
def db_current() -> None:
    """Show the database's current migration."""
    migrate.current(_url())


users_cli = AppGroup("users", help="Staff accounts.")


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The real name shown on bylines and comments.")
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    help="author, editor, moderator, compliance or admin; repeat or comma-separate for several.",
)
@click.option("--title", default="", help="Job title shown on the byline, e.g. 'Cardiologist'.")
@click.option("--department", default="", help="Department shown on the byline.")
def users_create(email: str, name: str, roles: tuple[str, ...], title: str, department: str) -> None:
    """Create a staff user; the password comes from the first line of stdin, or a prompt."""
    names = [part for value in roles for part in value.split(",") if part.strip()]
    with unit_of_work() as session:
        user = accounts.create_user(
            session,
            email=email,
            name=name,
            password=_read_password(),
            roles=accounts.parse_roles(names),
            title=title,
            department=department,
        )
    click.echo(f"Created {user.email} ({', '.join(sorted(r.value for r in user.roles))}).")


@users_cli.command("list")
@click.option("--search", "query", default="", help="Text to find in the name, e-mail, title or department.")
@click.option("--role", default="", help="Only users with this role.")
@click.option("--inactive/--active", "inactive", default=None, help="Only deactivated (or active) users.")
def users_list(query: str, role: str, inactive: bool | None) -> None:
    """List staff accounts: id, e-mail, name, roles, status."""
    with unit_of_work(write_lock=False) as session:
        active = None if inactive is None else not inactive
        found, _ = admin.search_users(
            session, admin.OPERATOR, query=query, role=role, active=active, per_page=100_000
        )
        for user in found:
            roles = ",".join(sorted(r.value for r in user.roles))
            status = "active" if user.is_active else "deactivated"
            click.echo(f"{user.id:>5}  {user.email:<32} {user.name:<28} {roles:<28} {status}")
    click.echo(f"{len(found)} user(s).")


@users_cli.command("edit")
@click.argument("email")
@click.option("--email", "new_email", default=None, help="A new e-mail address.")
@click.option("--name", default=None)
@click.option("--title", default=None)
@click.option("--department", default=None)
@click.option("--bio", default=None)
@click.option("--photo-alt", default=None, help="Text alternative of the profile photo.")
@click.option(
    "--role", "roles", multiple=True, help="Replace the roles with these (repeat or comma-separate)."
)
def users_edit(email: str, new_email: str | None, roles: tuple[str, ...], **fields: str | None) -> None:
    """Change a staff member's profile or roles (only the options given change)."""
    with unit_of_work() as session:
        user = admin.find_user(session, email)
        changed = admin.update_profile(
            session, admin.OPERATOR, user, admin.Profile(email=new_email, **fields)
        )
        if "name" in changed:
            search.reindex_author(session, user)  # bylines are searchable words
        names = [part for value in roles for part in value.split(",") if part.strip()]
        if names and admin.set_roles(session, admin.OPERATOR, user, accounts.parse_roles(names)):
            changed.append("roles")
    click.echo(f"Updated {user.email}: {', '.join(changed)}." if changed else "Nothing changed.")


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Deactivate an account: its sessions end and its tokens are revoked at once; its work stays."""
    with unit_of_work() as session:
        user = admin.find_user(session, email)
        was_active = user.is_active
        revoked = admin.deactivate(session, admin.OPERATOR, user)
    if was_active:
        click.echo(f"Deactivated {user.email}: signed out everywhere, {revoked} token(s) revoked.")
    else:
        click.echo(f"{user.email} was already deactivated.")


@users_cli.command("reactivate")
@click.argument("email")
def users_reactivate(email: str) -> None:
    """Let a deactivated account sign in again (its old tokens stay revoked)."""
    with unit_of_work() as session:
        user = admin.find_user(session, email)
        changed = admin.reactivate(session, admin.OPERATOR, user)
    click.echo(f"Reactivated {user.email}." if changed else f"{user.email} was already active.")


@users_cli.command("set-password")
@click.argument("email")
def users_set_password(email: str) -> None:
    """Set a password (first line of stdin, or prompted twice); every session of that user ends."""
    password = _read_password()
    with unit_of_work() as session:
        user = admin.find_user(session, email)
        admin.set_password(session, admin.OPERATOR, user, password)
    click.echo(f"Password set for {user.email}; their sessions have ended.")


tokens_cli = AppGroup("tokens", help="API tokens.")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@click.option("--days", type=int, default=None, help="Days until it expires (default CANDOR_TOKEN_DAYS).")
def tokens_create(email: str, name: str, days: int | None) -> None:
    """Print a new API token for EMAIL (shown once; only its hash is stored)."""
    lifetime = days if days is not None else int(current_app.config["CANDOR_TOKEN_DAYS"])
    with unit_of_work() as session:
        user = accounts.get_user_by_email(session, email)
        issued = admin.issue_token(session, admin.OPERATOR, user, name=name, lifetime_days=lifetime)
    click.echo(
        f"API token {issued.row.id} for {user.email}, expires {issued.row.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    click.echo("(shown once, store it now):")
    click.echo(issued.secret)


@tokens_cli.command("list")
@click.argument("email", required=False)
def tokens_list(email: str | None) -> None:
    """List API tokens (of EMAIL, or everyone's): id, owner, name, prefix, dates, status. Never secrets."""
    from app.clock import utc_now

    now = utc_now()
    with unit_of_work(write_lock=False) as session:
        user = accounts.get_user_by_email(session, email) if email else None
        rows = accounts.all_tokens(session, user=user)
        for row in rows:
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            click.echo(
                f"{row.id:>5}  {row.user.email:<32} {row.name or '(unnamed)':<24} {row.prefix}…  "
                f"created {row.created_at:%Y-%m-%d}  expires {row.expires_at:%Y-%m-%d}  last used {used}  "
                f"{accounts.token_status(row, now)}"
            )
    click.echo(f"{len(rows)} token(s).")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID at once (see `tokens list`)."""
    with unit_of_work() as session:
        row = admin.revoke_token(session, admin.OPERATOR, token_id)
    click.echo(f"Revoked token {row.id} ({row.prefix}…) of {row.user.email}.")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed the demo blog (idempotent) and print the demo accounts."""
    if current_app.config["CANDOR_ENV"] == "production":
        raise click.ClickException("The demo content is for development; refusing to seed production.")
    with unit_of_work() as session:
        accounts_info, created = demo.seed(
            session, current_app.config.get("DEMO_ACCOUNTS_DIR") or current_app.instance_path
        )
    click.echo("Seeded the demo blog." if created else "Demo content already present; left as it is.")
    click.echo("Demo accounts (e-mail / password / roles):")
    for email, password, roles in accounts_info:
        click.echo(f"  {email:<32} {password:<24} {roles}")


@click.command("publish-due")
@with_appcontext
def publish_due_command() -> None:
    """Publish every scheduled post whose time has come (safe to run from cron)."""
    with unit_of_work() as session:
        published = editorial.publish_due(session, GateSettings.from_config(runtime.config_from(session)))
    for post in published:
        click.echo(f"Published {post.slug}")
    click.echo(f"{len(published)} scheduled post(s) published.")


links_cli = AppGroup("links", help="Links in published posts.")


@links_cli.command("check")
@click.option(
    "--delay", default=1.0, show_default=True, help="Seconds between two requests to the same host."
)
@click.option(
    "--timeout", default=10.0, show_default=True, help="Seconds before a link counts as unreachable."
)
def links_check(delay: float, timeout: float) -> None:
    """Check every link in published posts and list the dead ones by author (status, since when)."""
    from app.web.outside import link_fetcher

    with unit_of_work(write_lock=False) as session:
        report = linkcheck.check_published_links(
            session, link_fetcher(), per_host_delay=delay, timeout=timeout
        )
    click.echo(
        f"Checked {report.checked} link(s) in {report.posts} published post(s); {len(report.dead)} dead."
    )
    for author, rows in report.by_author().items():
        click.echo(f"\n{author}:")
        for row in rows:
            status = row.status if row.status is not None else row.error
            click.echo(
                f"  {row.url}  [{status}] dead since {row.failing_since:%Y-%m-%d %H:%M} UTC"
                f"  in /posts/{row.slug}"
            )


search_cli = AppGroup("search", help="The full-text index of published posts and pages.")


@search_cli.command("reindex")
@with_appcontext
def search_reindex_command() -> None:
    """Rewrite every public post's search document from its published revision (safe at any time)."""
    with unit_of_work() as session:
        count = search.reindex_all(session)
    click.echo(f"Indexed {count} published post(s) and page(s).")


def register(app: Flask) -> None:
    for command in (
        search_cli,
        db_cli,
        users_cli,
        tokens_cli,
        demo_command,
        publish_due_command,
        links_cli,
        comments_cli,
        mail_cli,
        worker_command,
    ):
        app.cli.add_command(command)


# --- comments and mail (issue 5) ----------------------------------------------------------------------

comments_cli = AppGroup("comments", help="Reader comments: Akismet rechecks and the moderators' digest.")


@comments_cli.command("recheck")
@click.option("--limit", default=500, show_default=True, help="Most held comments to re-check in one run.")
def comments_recheck(limit: int) -> None:
    """Re-check comments held because Akismet was unavailable, and resend moderators' corrections to
    Akismet that failed. Safe to run from cron: what still fails waits for the next run."""
    from app.moderation import jobs
    from app.web.outside import akismet_checker

    checker = akismet_checker()
    if not checker.settings.api_key:
        click.echo("No AKISMET_API_KEY is set: held comments stay held for a moderator; nothing to re-check.")
        return
    with unit_of_work(write_lock=False) as session:
        report = jobs.recheck_held(session, checker, limit=limit)
        jobs.send_feedback(session, checker, report=report)
    click.echo(
        f"Re-checked {report.checked} held comment(s): {report.published} published, "
        f"{report.spam} spam, {report.still_held} still held for other reasons, "
        f"{report.unavailable} still unanswered."
    )
    click.echo(f"Akismet corrections: {report.feedback_sent} sent, {report.feedback_failed} to retry.")
    for error in report.errors:
        click.echo(f"  {error}", err=True)


@comments_cli.command("digest")
def comments_digest() -> None:
    """E-mail each moderator the list of held comments, oldest first (nothing is sent when none are held)."""
    from app.mail.services import MailSettings, deliver_due
    from app.moderation import jobs
    from app.web.outside import site

    blog = site()
    with unit_of_work() as session:
        messages = jobs.digest(session, blog)
    ids = [m.id for m in messages]
    if not ids:
        click.echo("No comments are held; no digest sent.")
        return
    report = deliver_due(session_factory(), MailSettings.from_config(current_app.config), ids=ids)
    click.echo(
        f"Digest queued for {len(ids)} moderator(s): {report.sent} sent, {report.logged} logged "
        f"(MAIL_SERVER unset), {report.failed} to retry with `flask mail send`."
    )


mail_cli = AppGroup("mail", help="The e-mail outbox.")


@mail_cli.command("send")
def mail_send() -> None:
    """Send every queued e-mail that is due, retrying earlier failures (safe to run from cron)."""
    from app.mail.services import MailSettings, deliver_due

    report = deliver_due(session_factory(), MailSettings.from_config(current_app.config))
    click.echo(
        f"{report.sent} sent, {report.logged} logged (MAIL_SERVER unset), {report.failed} failed "
        "and will be retried."
    )
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    if report.failed:
        sys.exit(1)


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Threads running jobs at once.")
@with_appcontext
def worker_command(workers: int) -> None:
    """Run the jobs queued in Redis (REDIS_URL) and the periodic ones, until stopped (SIGINT or SIGTERM)."""
    tasks = current_app.extensions["candor.tasks"]
    if tasks.mode != "redis":
        raise click.ClickException(
            "REDIS_URL is not set: without it, jobs run inside the web process and need no worker."
        )
    consumer = tasks.huey.create_consumer(workers=max(1, workers), worker_type="thread", periodic=True)
    consumer.run()
