"""Thin click wrappers over services: ``flask --app wsgi db|users|tokens|demo``."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app import demo, migrate
from app.accounts import services as accounts
from app.errors import CandorError
from app.web.database import session_factory


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
@click.option("--role", "roles", required=True, multiple=True,
              help="author, editor, moderator or admin; repeat or comma-separate for several.")
@click.option("--title", default="", help="Job title shown on the byline, e.g. 'Cardiologist'.")
@click.option("--department", default="", help="Department shown on the byline.")
def users_create(email: str, name: str, roles: tuple[str, ...], title: str, department: str) -> None:
    """Create a staff user; the password comes from the first line of stdin, or a prompt."""
    names = [part for value in roles for part in value.split(",") if part.strip()]
    session = session_factory()()
    try:
        user = accounts.create_user(session, email=email, name=name, password=_read_password(),
                                    roles=accounts.parse_roles(names), title=title, department=department)
        session.commit()
    except CandorError as exc:
        session.rollback()
        raise click.ClickException(exc.message) from None
    finally:
        session.close()
    click.echo(f"Created {user.email} ({', '.join(sorted(r.value for r in user.roles))}).")


tokens_cli = AppGroup("tokens", help="API tokens.")


@tokens_cli.command("create")
@click.argument("email")
def tokens_create(email: str) -> None:
    """Print a new API token for EMAIL (shown once; only its hash is stored)."""
    session = session_factory()()
    try:
        user = accounts.get_user_by_email(session, email)
        token = accounts.create_token(session, user)
        session.commit()
    except CandorError as exc:
        session.rollback()
        raise click.ClickException(exc.message) from None
    finally:
        session.close()
    click.echo(f"API token for {user.email} (shown once, store it now):")
    click.echo(token)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed the demo blog (idempotent) and print the demo accounts."""
    if current_app.config["CANDOR_ENV"] == "production":
        raise click.ClickException("The demo content is for development; refusing to seed production.")
    session = session_factory()()
    try:
        accounts_info, created = demo.seed(session, current_app.config.get("DEMO_ACCOUNTS_DIR") or current_app.instance_path)
        session.commit()
    finally:
        session.close()
    click.echo("Seeded the demo blog." if created else "Demo content already present; left as it is.")
    click.echo("Demo accounts (e-mail / password / roles):")
    for email, password, roles in accounts_info:
        click.echo(f"  {email:<32} {password:<24} {roles}")


def register(app: Flask) -> None:
    for command in (db_cli, users_cli, tokens_cli, demo_command):
        app.cli.add_command(command)
