"""Thin click wrappers over services: ``flask --app wsgi db|users|tokens|demo``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.orm import Session

from app import demo
from app.accounts import services as accounts
from app.administration import services as admin
from app.clock import utc_now
from app.db import commit, rollback, snapshot, writing
from app.editorial import linkcheck
from app.editorial import services as editorial
from app.editorial.gates import GateSettings
from app.errors import CandorError
from app.search import services as search
from app.spam import embedding
from app.web import runtime
from app.web.database import session_factory

if TYPE_CHECKING:  # the export and import modules load with their commands, not with every worker
    from app.export.record import SiteInfo


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
    from app import migrate  # Alembic is about 11 MB: only the commands that migrate import it

    migrate.upgrade(_url(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ('base' empties it)."""
    from app import migrate

    migrate.downgrade(_url(), revision)


@db_cli.command("current")
def db_current() -> None:
    """Show the database's current migration."""
    from app import migrate

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


_CANNOT_CONNECT = ("connection failed", "connection to server", "unable to open database file")


def _one_line_when_the_database_is_down(command: click.Command) -> click.Command:
    """An operator's command run while the database refuses connections (down, wrong DATABASE_URL, no
    such database) stops with one line saying so, not SQLAlchemy's traceback; other errors are untouched.
    Wraps the command object once, however many apps register it."""
    if getattr(command, "_candor_database_down", False):
        return command
    invoke = command.invoke

    def guarded(ctx: click.Context) -> Any:
        from sqlalchemy.exc import OperationalError

        try:
            return invoke(ctx)
        except OperationalError as error:
            reason = (str(error.orig or error).strip().splitlines() or [""])[0]
            if not any(marker in reason for marker in _CANNOT_CONNECT):
                raise
            raise click.ClickException(
                f"the database cannot be reached: {reason}. Check DATABASE_URL and that it is up."
            ) from None

    command.invoke = guarded  # type: ignore[method-assign]
    command._candor_database_down = True  # type: ignore[attr-defined]
    return command


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
        export_command,
        import_cli,
        offtopic_cli,
    ):
        app.cli.add_command(_one_line_when_the_database_is_down(command))


# --- the off-topic filter's stored vectors (issue 14) --------------------------------------------------

offtopic_cli = AppGroup("offtopic", help="The off-topic filter's model and stored vectors.")


@offtopic_cli.command("check-vectors")
@click.option("--batch", default=100, show_default=True, help="Rows read at a time.")
def offtopic_check_vectors(batch: int) -> None:
    """Compare every stored vector the filter reads (revisions' passages, moderators' examples) with what
    the current model makes of the same text. Reads only; exits 1 if any differ."""
    from app.comments import vectors

    with unit_of_work(write_lock=False) as session:
        found = vectors.drift(session, batch=max(1, batch))
    for kind in found:
        click.echo(kind.line())
    if any(kind.differ for kind in found):
        raise SystemExit(1)


@offtopic_cli.command("reencode")
@click.option("--batch", default=100, show_default=True, help="Rows read, encoded and rewritten at a time.")
def offtopic_reencode(batch: int) -> None:
    """Rewrite every stored vector that differs from what the current model makes of its text (as
    check-vectors finds them), a batch per transaction. Safe to stop and run again: a second run rewrites
    nothing. Exits 1 if some could not be rewritten (changed meanwhile: run it again)."""
    from app.comments import vectors

    with unit_of_work(write_lock=False) as session:
        found = vectors.reencode(session, batch=max(1, batch))
    for kind in found:
        click.echo(kind.rewritten())
    if any(kind.skipped for kind in found):
        raise SystemExit(1)


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


def _why_the_worker_cannot_start() -> str | None:
    """One line saying why jobs cannot run yet (the database unreachable or not migrated, Redis down), or
    None: what /healthz asks (app.web.ops.readiness), checked once at start, so a worker started too early
    stops saying so (its supervisor starts it again) instead of logging a traceback for every job and queue
    read."""
    from app.web.database import engine
    from app.web.ops import readiness

    url = engine().url
    where = (
        f"{url.host or 'localhost'}/{url.database}"
        if url.drivername.startswith("postgresql")
        else url.database
    )
    ready = readiness()
    if ready.database is not None:
        reason = str(getattr(ready.database, "orig", None) or ready.database).strip().splitlines()[0]
        return f"the database ({where}) cannot be reached: {reason}. Check DATABASE_URL and that it is up."
    if not ready.migrated:
        return (
            f"the database ({where}) is at {', '.join(sorted(ready.applied)) or 'no migration'}, not at "
            f"{', '.join(sorted(ready.heads))}: run `flask --app wsgi db upgrade` first."
        )
    if ready.queue is not None:
        return f"Redis (REDIS_URL) cannot be reached: {str(ready.queue).strip().splitlines()[0]}"
    return None


@click.command("worker")
@click.option(
    "--workers",
    default=16,
    show_default=True,
    help="Threads running jobs at once. Comment checks run in batches (CANDOR_COMMENT_CHECK_BATCH), each "
    "holding one thread while Akismet answers; a few threads serve any rate of comments.",
)
@with_appcontext
def worker_command(workers: int) -> None:
    """Run the jobs queued in Redis (REDIS_URL) and the periodic ones, until stopped (SIGINT or SIGTERM)."""
    tasks = current_app.extensions["candor.tasks"]
    if tasks.mode != "redis":
        raise click.ClickException(
            "REDIS_URL is not set: without it, jobs run inside the web process and need no worker."
        )
    refused = _why_the_worker_cannot_start()
    if refused:
        raise click.ClickException(refused)
    # The off-topic model is loaded before the first job, not by the first comment's check.
    embedding.encoder().encode("warm up")
    consumer = tasks.huey.create_consumer(workers=max(1, workers), worker_type="thread", periodic=True)
    consumer.run()


# --- export (issue 13) ------------------------------------------------------------------------------


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "wxr"]),
    default=None,
    help="json: the whole record (docs/export.schema.json); wxr: WordPress's format, posts, pages and "
    "comments. Default: wxr for a FILE ending in .xml or .wxr, json otherwise.",
)
@click.option(
    "--media",
    "media_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write every stored image file into this directory, by the name it is served at.",
)
@with_appcontext
def export_command(file: str, fmt: str | None, media_dir: Path | None) -> None:
    """Export everything to FILE ('-' for standard output), for leaving or archiving.

    Read in one consistent snapshot while the blog keeps running; FILE appears only when complete.
    """
    from app.export import files as export_files
    from app.export import record as export_record

    if fmt is None:
        fmt = "wxr" if file.lower().endswith((".xml", ".wxr")) else "json"
    session = session_factory()()
    try:
        snapshot(session)
        config = runtime.config_from(session)
        site = export_record.SiteInfo(config["SITE_NAME"], config["PUBLIC_URL"], config["TIMEZONE"])
        summary = _export_to(file, lambda out: _write_export(session, out, fmt, site))
        if media_dir is not None:
            from app.media.views import store as media_store  # not with every worker: views load forms

            missing = export_files.write_media_files(session, media_store(), media_dir)
            summary += f"; image files in {media_dir}"
            if missing:
                summary += f" ({len(missing)} missing from storage: {', '.join(missing[:5])})"
    finally:
        rollback(session)
        session.close()
    click.echo(summary, err=file == "-")


def _write_export(session: Session, out: BinaryIO, fmt: str, site: SiteInfo) -> str:
    from app.export import record as export_record
    from app.export import wxr as export_wxr

    if fmt == "json":
        counts = export_record.write_record(session, out, site, utc_now())
        return "Exported " + ", ".join(f"{n} {key}" for key, n in counts.sections.items())
    records = export_wxr.records(session, site)
    dropped = export_wxr.write(out, site, records)
    summary = "Exported WXR 1.2"
    return summary + (f" ({dropped} characters XML cannot carry were dropped)" if dropped else "")


def _export_to(file: str, write: Callable[[BinaryIO], str]) -> str:
    """Run ``write`` on FILE's bytes: beside it first, renamed into place once complete, so an export
    that fails leaves no half file where a whole one is expected."""
    if file == "-":
        return write(sys.stdout.buffer)
    target = Path(file)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as out:
            summary = write(out)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return summary + f" to {target}"


# --- WordPress import (issue 13) ----------------------------------------------------------------------

import_cli = AppGroup("import", help="Bring a blog in from elsewhere.")


class _Progress:
    """Bytes of the export read so far, shown as a bar on a terminal (nothing when piped)."""

    def __init__(self, stream: Any, bar: Any) -> None:
        self.stream, self.bar, self.name = stream, bar, stream.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if self.bar is not None:
            self.bar.update(len(data))
        return data


@import_cli.command("wordpress")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--uploads",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A copy of wp-content/uploads: images shown by imported posts are taken from it.",
)
@click.option("--dry-run", is_flag=True, help="Do everything, print the report, then roll it all back.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON report (every skip, failure and warning, and why) to this file.",
)
@with_appcontext
def import_wordpress_command(
    file: Path, uploads: Path | None, dry_run: bool, report_path: Path | None
) -> None:
    """Import a WordPress export (WXR 1.0-1.2) in one transaction: all of it, or nothing."""
    from app.importer.services import ImportFailed, ImportSettings, import_wordpress
    from app.media import views as media_views

    settings = ImportSettings(
        gates=GateSettings.from_config(current_app.config),
        store=media_views.store(),
        limits=media_views.limits(),
    )
    tty = sys.stdout.isatty()
    failed: ImportFailed | None = None
    with file.open("rb") as raw:
        bar_context = (
            click.progressbar(length=file.stat().st_size, label="Importing", file=sys.stdout)
            if tty
            else nullcontext(None)
        )
        with bar_context as bar:
            stream = _Progress(raw, bar)
            try:
                with unit_of_work() as session:
                    report = import_wordpress(session, stream, uploads, dry_run, settings=settings)
            except ImportFailed as error:
                failed, report = error, error.report
    report.source = str(file)
    if report_path is not None:
        with report_path.open("w", encoding="utf-8") as out:
            report.write_json(out)
    if failed is not None:
        report.close()
        raise click.ClickException(f"{file}: {failed.error} (nothing was imported)")
    click.echo(("Dry run (nothing was kept): " if dry_run else "Imported: ") + (report.site or str(file)))
    from app.importer.report import OUTCOMES

    click.echo(f"{'kind':<12}" + "".join(f"{o:>10}" for o in OUTCOMES))
    for kind, counts in sorted(report.counts.items()):
        click.echo(f"{kind:<12}" + "".join(f"{counts[o]:>10}" for o in OUTCOMES))
    warnings = report.noted
    if warnings:
        click.echo("Noted in the report: " + ", ".join(f"{n} {what}" for what, n in sorted(warnings.items())))
    click.echo("Comments were not sent to Akismet: they were decided on WordPress; the privacy scan ran.")
    report.close()
