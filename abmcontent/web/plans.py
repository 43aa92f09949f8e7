"""Touchpoint plans: the list and templates, one plan with its steps, calendar and accounts, applying a
plan to accounts from the account list, and touchpoints on the account page."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from abmcontent import accounts, plans
from abmcontent.errors import ValidationError
from abmcontent.web.accounts import _filters
from abmcontent.web.rendering import roles_required

bp = Blueprint("plans", __name__, url_prefix="/plans")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@bp.get("")
@login_required
def index():
    return render_template("plans/index.html", rows=plans.list_plans(),
                           can_edit=current_user.has_role(*plans.EDITORS))


@bp.post("/templates")
@roles_required(*plans.EDITORS)
def install_templates():
    added = plans.install_templates(current_user, _now())
    flash(_("%(num)s plan templates added.", num=added), "success")
    return redirect(url_for("plans.index"), 303)


@bp.get("/<int:plan_id>")
@login_required
def show(plan_id: int):
    plan = plans.get_plan(plan_id)
    now = _now()
    days = plans.calendar(plan.id, now)
    peak = max((sum(counts.values()) for _day, counts in days), default=0)
    return render_template("plans/show.html", plan=plan, days=days, peak=peak,
                           enrollments=plans.enrollments(plan.id), can_edit=current_user.has_role(*plans.EDITORS))


@bp.post("/apply")
@roles_required(*plans.EDITORS)
def apply():
    """From the account list's bulk form: the ticked accounts, or all matching the filters."""
    form = request.form
    plan_id = form.get("plan_id", "")
    if not plan_id.isdigit():
        flash(_("Choose a plan to add the accounts to."), "error")
        return redirect(url_for("accounts.index"), 303)
    ids = accounts.matching_ids(_filters(form)) if form.get("scope") == "all" else \
        [int(i) for i in form.getlist("ids") if i.isdigit()]
    start = _now()
    raw = form.get("start", "").strip()
    if raw:
        try:
            start = datetime.fromisoformat(raw).replace(tzinfo=timezone.utc) if "T" in raw else \
                datetime.fromisoformat(raw + "T00:00").replace(tzinfo=timezone.utc)
        except ValueError:
            flash(_("Enter the start as a date, e.g. 2026-12-01."), "error")
            return redirect(url_for("accounts.index"), 303)
    if not ids:
        flash(_("Tick the accounts to add, or choose all matching accounts."), "error")
        return redirect(url_for("accounts.index"), 303)
    report = plans.apply(int(plan_id), ids, max(start, _now()), current_user, _now())
    flash(_("%(enrolled)s accounts added to the plan (%(already)s were already in it): %(touchpoints)s touchpoints "
            "scheduled.", enrolled=report.enrolled, already=report.already, touchpoints=report.touchpoints),
          "success")
    return redirect(url_for("plans.show", plan_id=int(plan_id)), 303)


@bp.post("/enrollments/<int:enrollment_id>")
@roles_required(*plans.EDITORS)
def enrollment(enrollment_id: int):
    try:
        item = plans.set_enrollment(enrollment_id, request.form.get("action", ""), current_user, _now())
        flash(_("%(account)s: %(status)s.", account=item.account.name,
                status=plans.taxonomy.label("enrollment", item.status)), "success")
        target = url_for("plans.show", plan_id=item.plan_id)
    except ValidationError as error:
        flash(str(error), "error")
        target = url_for("plans.index")
    return redirect(request.form.get("next") if (request.form.get("next") or "").startswith("/") else target, 303)


@bp.post("/touchpoints/<int:touchpoint_id>/reschedule")
@roles_required(*plans.EDITORS)
def reschedule(touchpoint_id: int):
    raw = request.form.get("due_at", "")
    account_id = request.form.get("account_id", "")
    try:
        due = datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)
        plans.reschedule(touchpoint_id, due, current_user, _now())
        flash(_("Touchpoint moved."), "success")
    except ValueError:
        flash(_("Enter a date and time, e.g. 2026-12-01 09:00."), "error")
    except ValidationError as error:
        flash(str(error), "error")
    if account_id.isdigit():
        return redirect(url_for("accounts.show", account_id=int(account_id)) + "#touchpoints", 303)
    return redirect(url_for("plans.index"), 303)


@bp.get("/<int:plan_id>/audience.csv")
@login_required
def audience(plan_id: int):
    """The plan's ad audience as a company list for an ad platform (formula-safe CSV)."""
    from flask import Response

    from abmcontent import crm_csv
    from abmcontent.channels.ad_audience import HEADERS, audience_rows

    plan = plans.get_plan(plan_id)
    return Response(crm_csv.export_csv(HEADERS, audience_rows(plan.id)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="audience-plan-{plan.id}.csv"',
        "X-Content-Type-Options": "nosniff"})


tasks_bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@tasks_bp.get("")
@login_required
def my_tasks():
    show_all = request.args.get("all") == "1"
    return render_template("plans/tasks.html", tasks=plans.my_tasks(current_user, include_closed=show_all),
                           show_all=show_all)


@tasks_bp.post("/<int:task_id>")
@login_required
def close_task(task_id: int):
    try:
        task = plans.close_task(task_id, request.form.get("status", ""), request.form.get("note", ""),
                                current_user, _now())
        flash(_("“%(title)s” marked %(status)s.", title=task.title,
                status=plans.taxonomy.label("task", task.status)), "success")
    except ValidationError as error:
        flash(str(error), "error")
    return redirect(url_for("tasks.my_tasks"), 303)


outbox_bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@outbox_bp.get("")
@login_required
def outbox_index():
    from flask import current_app

    from abmcontent import outbox

    return render_template("plans/outbox.html", letters=outbox.letters(current_app.config["MAIL_URL"]),
                           enabled=outbox.folder(current_app.config["MAIL_URL"]) is not None)


@outbox_bp.get("/<name>")
@login_required
def outbox_show(name: str):
    from flask import current_app

    from abmcontent import outbox

    message, text, html = outbox.letter(current_app.config["MAIL_URL"], name)
    return render_template("plans/letter.html", message=message, text=text, html=html, name=name)


@outbox_bp.get("/<name>/html")
@login_required
def outbox_html(name: str):
    """The HTML part alone, for a sandboxed frame: no scripts, no forms, nothing of ours."""
    from flask import Response, current_app

    from abmcontent import outbox

    _message, _text, html = outbox.letter(current_app.config["MAIL_URL"], name)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
