"""Lookalike accounts: suggestions alike the won accounts, proposed for the target list in bulk."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from abmcontent import lookalikes, taxonomy
from abmcontent.errors import ValidationError
from abmcontent.extensions import htmx
from abmcontent.web.rendering import page_or_fragment, roles_required

bp = Blueprint("lookalikes", __name__, url_prefix="/accounts/lookalikes")

MIN_CHOICES = (0, 50, 60, 70, 80, 90)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _filters(source) -> dict:
    industry = source.get("industry", "")
    minimum = source.get("min", "")
    return {"industry": industry if industry in taxonomy.INDUSTRIES else "",
            "country": source.get("country", "").strip()[:100],
            "min": min(int(minimum), 100) if minimum.isdigit() else 0}


def _deals_url() -> str | None:
    """The deals page, when this installation has one."""
    try:
        endpoint, args = current_app.url_map.bind("localhost").match("/deals", method="GET")
        return url_for(endpoint, **args)
    except HTTPException:
        return None


def _page(filters: dict, message: str = "", category: str = "success"):
    now = _now()
    won = lookalikes.won_accounts(now)
    suggestions = lookalikes.suggest(now, industry=filters["industry"], country=filters["country"],
                                     min_similarity=filters["min"]) if won else []
    return page_or_fragment(
        "lookalikes/index.html", "lookalikes/_results.html", 422 if category == "error" else 200,
        filters=filters, suggestions=suggestions, won_count=len(won), countries=lookalikes.countries(),
        min_choices=MIN_CHOICES, message=message, category=category,
        can_propose=lookalikes.can_propose(current_user), deals_url=None if won else _deals_url(),
        say=lookalikes.say, country_name=lookalikes.country_name, title=_("Lookalike accounts"))


@bp.get("")
@login_required
def index():
    return _page(_filters(request.args))


@bp.post("/propose")
@roles_required(*lookalikes.PROPOSERS)
def propose():
    form = request.form
    filters = _filters(form)
    ids = [int(i) for i in form.getlist("ids") if i.isdigit()]
    try:
        result = lookalikes.propose(ids, current_user, _now())
        message = ngettext("%(num)d account proposed for the target list.",
                           "%(num)d accounts proposed for the target list.", result.proposed)
        if result.skipped:
            message += " " + ngettext("%(num)d was no longer a suggestion and was left alone.",
                                      "%(num)d were no longer suggestions and were left alone.", result.skipped)
        category = "success"
    except ValidationError as error:
        message, category = str(error), "error"
    if htmx and not htmx.boosted:
        return _page(filters, message, category)
    flash(message, category)
    return redirect(url_for("lookalikes.index", **{k: v for k, v in filters.items() if v}), 303)
