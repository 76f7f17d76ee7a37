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
from app.db import commit, rollback, writing
from app.editorial import linkcheck
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.errors import CandorError
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
    help="author, editor, moderator or admin; repeat or comma-separate for several.",
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


tokens_cli = AppGroup("tokens", help="API tokens.")


@tokens_cli.command("create")
@click.argument("email")
def tokens_create(email: str) -> None:
    """Print a new API token for EMAIL (shown once; only its hash is stored)."""
    with unit_of_work() as session:
        user = accounts.get_user_by_email(session, email)
        token = accounts.create_token(session, user)
    click.echo(f"API token for {user.email} (shown once, store it now):")
    click.echo(token)


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


def register(app: Flask) -> None:
    for command in (
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
