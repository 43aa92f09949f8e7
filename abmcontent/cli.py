"""flask commands: the operator's surface."""
from __future__ import annotations

from datetime import datetime, timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from abmcontent import content_sync, demo, users
from abmcontent.errors import ValidationError
from abmcontent.models import ROLES

users_cli = AppGroup("users", help="Manage the people who use abmcontent.")
content_cli = AppGroup("content", help="The content library on disk.")
demo_cli = AppGroup("demo", help="Demo data for trying abmcontent.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default="", help="Display name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for at a prompt when not given.")
def create_user(email: str, role: str, name: str, password: str) -> None:
    """Create a user with a role (admin, marketer, campaign or sales)."""
    try:
        user = users.create_user(email, role, password, _now(), name=name)
    except ValidationError as error:
        for field, messages in error.errors.items():
            for message in messages:
                click.echo(f"error: {field}: {message}", err=True)
        raise SystemExit(1)
    click.echo(f"Created {user.email} ({user.role}).")


@content_cli.command("sync")
@click.option("--folder", type=click.Path(file_okay=False), default=None,
              help="Defaults to the project's content/ folder.")
@click.option("--dry-run", is_flag=True, help="Report what would change without saving.")
def sync(folder: str | None, dry_run: bool) -> None:
    """Load content/*.md into the library: added, updated, unchanged, invalid (with why)."""
    report = content_sync.sync(folder or current_app.config["CONTENT_FOLDER"], _now(), dry_run=dry_run)
    _print_sync(report, dry_run)
    if report.invalid:
        raise SystemExit(1)


def _print_sync(report: content_sync.SyncReport, dry_run: bool = False) -> None:
    prefix = "would be " if dry_run else ""
    for name in report.added:
        click.echo(f"  {prefix}added      {name}")
    for name in report.updated:
        click.echo(f"  {prefix}updated    {name}")
    for name, reason in report.invalid:
        click.echo(f"  invalid    {name}: {reason}", err=True)
    click.echo(f"{len(report.added)} {prefix}added, {len(report.updated)} {prefix}updated, "
               f"{len(report.unchanged)} unchanged, {len(report.invalid)} invalid")


@demo_cli.command("load")
def load_demo() -> None:
    """Load demo users, accounts and the starter library (safe to run again)."""
    report = demo.load(current_app.config["CONTENT_FOLDER"], _now())
    click.echo(f"Demo: {report.users_created} users, {report.accounts_created} accounts, "
               f"{report.contacts_created} contacts created.")
    _print_sync(report.content)


@demo_cli.command("logins")
def logins() -> None:
    """Print the demo sign-ins."""
    for email, role, _name, _phone in demo.DEMO_USERS:
        click.echo(f"  {role:<9} {email}  /  {demo.DEMO_PASSWORD}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Defaults to PORT (5000).")
def serve(host: str, port: int | None) -> None:
    """The single-process demo server (`make run`). Production uses gunicorn: see the README."""
    port = port or current_app.config["PORT"]
    click.echo(f"\n  abmcontent is running at http://{host}:{port}/\n")
    click.echo("  Demo sign-ins (email / password):")
    for email, role, _name, _phone in demo.DEMO_USERS:
        click.echo(f"    {role:<9} {email}  /  {demo.DEMO_PASSWORD}")
    click.echo("\n  Press Ctrl+C to stop.\n")
    # app.run() refuses to start inside a flask command; run_simple is what it would call.
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


def init_app(app: Flask) -> None:
    for group in (users_cli, content_cli, demo_cli):
        app.cli.add_command(group)
    app.cli.add_command(serve)
