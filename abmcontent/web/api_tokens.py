"""Integrations → API tokens: each user makes, sees and revokes their own personal API tokens;
an admin also sees everyone's and can revoke them (someone left, a laptop was lost)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from abmcontent import api_tokens
from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.models import ApiToken

bp = Blueprint("tokens", __name__, url_prefix="/integrations")

EXPIRY_CHOICES = ("30", "90", "365", "never")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _everyone_else() -> list[ApiToken]:
    if current_user.role != "admin":
        return []
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id != current_user.id,
                                                          ApiToken.revoked_at.is_(None))
                                   .options(selectinload(ApiToken.user)).order_by(ApiToken.created_at.desc())))


def _page(status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", {"name": "", "scope": "read", "expires": "90"})
    response = make_response(render_template(
        "integrations/tokens.html", tokens=api_tokens.tokens_of(current_user.id), others=_everyone_else(),
        now=_now(), status_of=api_tokens.status, expiry_choices=EXPIRY_CHOICES, **context), status)
    response.headers["Cache-Control"] = "no-store"  # the new token is on this page once
    return response


@bp.get("")
@login_required
def index():
    return redirect(url_for("tokens.index_tokens"))


@bp.get("/tokens")
@login_required
def index_tokens():
    return _page()


@bp.post("/tokens")
@login_required
def create():
    values = {"name": request.form.get("name", ""), "scope": request.form.get("scope", "read"),
              "expires": request.form.get("expires", "90")}
    days = None if values["expires"] == "never" else int(values["expires"]) if values["expires"] in EXPIRY_CHOICES \
        else -1
    try:
        made = api_tokens.create(current_user.id, values["name"], values["scope"], _now(), days)
    except ValidationError as error:
        errors = dict(error.errors)
        if "expires_in_days" in errors:
            errors["expires"] = errors.pop("expires_in_days")
        return _page(422, errors=errors, values=values)
    # Shown here, once, instead of redirecting: the secret is never stored, so no later page can show it.
    return _page(201, created=made)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):
    token = api_tokens.revoke(token_id, current_user, _now())
    flash(_("Revoked the token %(name)s. Anything using it can no longer call the API.", name=token.name),
          "success")
    return redirect(url_for("tokens.index_tokens"), 303)
