"""`flask tokens`: personal API tokens from the shell, for setting up an integration on a server."""
from __future__ import annotations

from datetime import datetime, timezone

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from abmcontent import api_tokens
from abmcontent.errors import DomainError, ValidationError
from abmcontent.extensions import db
from abmcontent.models import TOKEN_SCOPES, User

tokens_cli = AppGroup("tokens", help="Personal API tokens for the JSON API.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user with the email {email}")
    return user


@tokens_cli.command("create")
@click.option("--user", "email", required=True, help="The email of the user the token acts as.")
@click.option("--name", default="command line", show_default=True, help="What the token is for.")
@click.option("--scope", type=click.Choice(TOKEN_SCOPES), default="read", show_default=True)
@click.option("--expires-in-days", type=int, default=None, help="Leave out for a token that does not expire.")
def create(email: str, name: str, scope: str, expires_in_days: int | None) -> None:
    """Create a token and print it once: it is stored only as a hash."""
    try:
        made = api_tokens.create(_user(email).id, name, scope, _now(), expires_in_days)
    except ValidationError as error:
        for field, messages in error.errors.items():
            for message in messages:
                click.echo(f"error: {field}: {message}", err=True)
        raise SystemExit(1)
    except DomainError as error:
        raise click.ClickException(str(error))
    click.echo(made.secret)
    click.echo(f"Created {scope} token {made.token.prefix}… for {made.token.user.email}. "
               "Copy it now: it is not shown again.", err=True)


@tokens_cli.command("list")
@click.option("--user", "email", required=True)
def list_tokens(email: str) -> None:
    """A user's tokens: id, prefix, scope, status, last used."""
    now = _now()
    for token in api_tokens.tokens_of(_user(email).id):
        used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
        click.echo(f"{token.id}\t{token.prefix}…\t{token.scope}\t{api_tokens.status(token, now)}\t{used}\t{token.name}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token by its id (from `flask tokens list`), as an administrator would."""
    try:
        token = api_tokens.revoke(token_id, None, _now())
    except DomainError as error:
        raise click.ClickException(str(error))
    click.echo(f"Revoked {token.prefix}… ({token.name}).")
