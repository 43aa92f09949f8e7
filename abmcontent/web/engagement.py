"""How engagement is scored: points per event type and the half-life, edited by marketers."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, has_request_context, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from abmcontent import alerts, engagement_scoring
from abmcontent.errors import ValidationError
from abmcontent.models import EVENT_TYPES
from abmcontent.web.rendering import roles_required

bp = Blueprint("engagement", __name__, url_prefix="/engagement")


def _form(values=None, errors=None, status: int = 200):
    config = engagement_scoring.settings()
    values = values or {**{f"weight_{k}": _number(v) for k, v in config.weights.items()},
                        "half_life_days": str(config.half_life_days),
                        **{name: _number(getattr(config, name)) for name in engagement_scoring.RULE_DEFAULTS}}
    return render_template("engagement/scoring.html", types=EVENT_TYPES, values=values, errors=errors or {},
                           defaults=engagement_scoring.DEFAULT_WEIGHTS, half_life=config.half_life_days,
                           can_edit=current_user.has_role(*engagement_scoring.EDITORS)), status


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@bp.get("/scoring")
@login_required
def scoring():
    return _form()


@bp.post("/scoring")
@roles_required(*engagement_scoring.EDITORS)
def save_scoring():
    form = request.form
    try:
        engagement_scoring.save_settings({k: form.get(f"weight_{k}", "") for k in EVENT_TYPES},
                                         form.get("half_life_days", ""), current_user, datetime.now(timezone.utc),
                                         {name: form.get(name, "") for name in engagement_scoring.RULE_DEFAULTS})
    except ValidationError as error:
        return _form(form, error.errors, 422)
    flash(_("Scoring saved: every score now uses these points."), "success")
    return redirect(url_for("engagement.scoring"), 303)


alerts_bp = Blueprint("alerts", __name__, url_prefix="/alerts")


@alerts_bp.get("")
@login_required
def index():
    items = alerts.for_user(current_user)
    return render_template("engagement/alerts.html", items=items, say=alerts.say)


@alerts_bp.post("/read")
@login_required
def read():
    alerts.mark_read(current_user, datetime.now(timezone.utc))
    return redirect(url_for("alerts.index"), 303)


def unread_alerts() -> dict:
    """For the navigation: how many alerts the signed-in user has not read."""
    # also rendered outside requests (email and print templates): no user there
    if not has_request_context() or not getattr(current_user, "is_authenticated", False):
        return {"unread_alerts": 0}
    return {"unread_alerts": alerts.unread_count(current_user)}


@bp.post("/handoffs/<int:account_id>")
@login_required
def handoff(account_id: int):
    """Sales accepts or rejects a marketing-qualified account (from the account page)."""
    try:
        decision = alerts.decide(account_id, request.form.get("status", ""), request.form.get("reason", ""),
                                 current_user, datetime.now(timezone.utc))
        flash(_("Accepted: the account is yours to work.") if decision.status == "accepted"
              else _("Rejected, with your reason for marketing."), "success")
    except ValidationError as error:
        flash(" ".join(m for messages in error.errors.values() for m in messages), "error")
    return redirect(url_for("accounts.show", account_id=account_id) + "#handoff", 303)


@bp.get("/handoffs")
@login_required
def handoffs():
    """Marketing's view of what sales did with its MQAs, and why."""
    from datetime import timedelta

    from abmcontent import deals

    since = datetime.now(timezone.utc) - timedelta(days=90)
    return render_template("engagement/handoffs.html", items=alerts.handoffs(), counts=alerts.acceptance(since),
                           closed_deals=deals.recent_closed(since, 50), deal_counts=deals.close_counts(since))
