"""Touchpoint plans: the list and templates, one plan with its steps, calendar and accounts, applying a
plan to accounts from the account list, and touchpoints on the account page."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_htmx import make_response as htmx_response
from flask_login import current_user, login_required

from abmcontent import accounts, plans, taxonomy
from abmcontent.errors import ValidationError
from abmcontent.extensions import db, htmx
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
    edit = request.args.get("edit", "")
    return _page(plans.get_plan(plan_id), editing=int(edit) if edit.isdigit() else None)


def _page(plan, status: int = 200, **extra):
    days = plans.calendar(plan.id, _now())
    extra.update(days=days, peak=max((sum(counts.values()) for _day, counts in days), default=0))
    enrollments = plans.enrollments(plan.id)
    return render_template("plans/show.html", plan=plan, enrollments=enrollments, outcomes=plans.step_outcomes(plan.id),
                           enrollments_count=len(enrollments), can_edit=current_user.has_role(*plans.EDITORS),
                           problems=plans.plan_problems(plan), **_choices(), **extra), status


def _choices() -> dict:
    """What a step can point at: published assets and events still to come."""
    from sqlalchemy import select

    from abmcontent.models import Asset, Event

    assets = db.session.execute(select(Asset.id, Asset.title, Asset.type, Asset.language)
                                .where(Asset.status == "published").order_by(Asset.title).limit(1000)).all()
    events = db.session.execute(select(Event.id, Event.title, Event.starts_at).where(
        Event.status == "scheduled", Event.starts_at > _now()).order_by(Event.starts_at).limit(200)).all()
    return {"assets": assets, "events": events, "channels": plans.CHANNELS, "values": _values,
            "personas": taxonomy.personas(), "stop_events": plans.STOP_EVENTS, "step_input": plans.step_input,
            "new_step": plans.StepInput}


def _step_input(form) -> plans.StepInput:
    """The step form as the domain's input. Numbers that do not parse become -1 (out of range: a
    clear message from validate_step, with the typed form kept)."""
    def number(name: str) -> int:
        raw = (form.get(name) or "0").strip()
        return int(raw) if raw.isdigit() else -1

    def optional_id(name: str) -> int | None:
        raw = (form.get(name) or "").strip()
        return int(raw) if raw.isdigit() else None

    return plans.StepInput(
        channel=form.get("channel", ""), offset_days=number("offset_days"), offset_hours=number("offset_hours"),
        window_start=form.get("window_start", ""), window_end=form.get("window_end", ""),
        asset_id=optional_id("asset_id"), personas=form.getlist("personas"), subject=form.get("subject", ""),
        skip_if_engaged=form.get("skip_if_engaged") == "1", stop_on=form.getlist("stop_on"),
        event_id=optional_id("event_id"), mail_format=form.get("mail_format", "letter"))


def _values(source) -> dict:
    """The step form's values: from a StepInput (a stored step, or the defaults for a new one) or
    from a submitted form (kept as typed after an error)."""
    if isinstance(source, plans.StepInput):
        from dataclasses import asdict

        values = asdict(source)
        values["asset_id"] = values["asset_id"] or ""
        values["event_id"] = values["event_id"] or ""
        return values
    values = {name: source.get(name, "") for name in ("channel", "offset_days", "offset_hours", "window_start",
                                                     "window_end", "asset_id", "subject", "event_id", "mail_format")}
    values.update(personas=source.getlist("personas"), stop_on=source.getlist("stop_on"),
                  skip_if_engaged=source.get("skip_if_engaged") == "1")
    return values


def _steps(plan, status: int = 200, **extra):
    """The step list: the fragment for htmx, the whole plan page otherwise."""
    if htmx and not htmx.boosted:
        db.session.refresh(plan)
        if extra.get("change") is not None:
            extra["change_message"] = _change_message(extra["change"], extra.get("action", "saved"))
        html = render_template("plans/_steps.html", plan=plan, can_edit=True, problems=plans.plan_problems(plan),
                               outcomes=plans.step_outcomes(plan.id), enrollments_count=len(plans.enrollments(plan.id)), **_choices(), **extra)
        # a form inside one step targets that step; the whole list replaces the list
        return htmx_response(html, status, retarget="#steps", reswap="innerHTML")
    if status == 200 and extra.get("change") is not None:
        flash(_change_message(extra["change"], extra.get("action", "saved")), "success")
        return redirect(url_for("plans.show", plan_id=plan.id) + "#steps", 303)
    return _page(plan, status, **extra)


def _change_message(change, action: str) -> str:
    parts = [{"added": _("Step added."), "saved": _("Step saved."), "removed": _("Step removed.")}[action]]
    if change.scheduled:
        parts.append(_("%(num)s touchpoints scheduled for accounts already in the plan.", num=change.scheduled))
    if change.past:
        parts.append(_("%(num)s not scheduled: that day has passed for them.", num=change.past))
    if change.updated:
        parts.append(_("%(num)s planned touchpoints updated to match.", num=change.updated))
    if change.cancelled:
        parts.append(_("%(num)s planned touchpoints cancelled.", num=change.cancelled))
    return " ".join(parts)


@bp.get("/new")
@roles_required(*plans.EDITORS)
def new():
    return render_template("plans/new.html", data={}, errors={})


@bp.post("")
@roles_required(*plans.EDITORS)
def create():
    name, description = request.form.get("name", ""), request.form.get("description", "")
    try:
        plan = plans.create_plan(name, description, [], current_user, _now())
    except ValidationError as error:
        return render_template("plans/new.html", data=request.form, errors=error.errors), 422
    flash(_("Plan created. Add its steps below."), "success")
    return redirect(url_for("plans.show", plan_id=plan.id) + "#steps", 303)


@bp.post("/<int:plan_id>")
@roles_required(*plans.EDITORS)
def update(plan_id: int):
    try:
        plans.update_plan(plan_id, request.form.get("name", ""), request.form.get("description", ""), current_user,
                          _now())
    except ValidationError as error:
        return _page(plans.get_plan(plan_id), 422, settings_errors=error.errors, settings_form=request.form)
    flash(_("Plan saved."), "success")
    return redirect(url_for("plans.show", plan_id=plan_id), 303)


@bp.post("/<int:plan_id>/duplicate")
@roles_required(*plans.EDITORS)
def duplicate(plan_id: int):
    copy = plans.duplicate_plan(plan_id, current_user, _now())
    flash(_("This is a copy: change it without touching the accounts in the original."), "success")
    return redirect(url_for("plans.show", plan_id=copy.id), 303)


@bp.post("/<int:plan_id>/steps")
@roles_required(*plans.EDITORS)
def add_step(plan_id: int):
    plan = plans.get_plan(plan_id)
    try:
        change = plans.add_step(plan_id, _step_input(request.form), current_user, _now())
    except ValidationError as error:
        return _steps(plan, 422, add_errors=error.errors, add_form=request.form)
    return _steps(plan, change=change, action="added", saved=change.step.id)


@bp.get("/<int:plan_id>/steps/<int:step_id>")
@login_required
def step(plan_id: int, step_id: int):
    """One step, read-only or (edit=1) as its form: the fragment the editor swaps in place."""
    plan = plans.get_plan(plan_id)
    item = next((s for s in plan.steps if s.id == step_id), None)
    if item is None:
        from abmcontent.errors import NotFound

        raise NotFound(_("That step is not in this plan."))
    editing = request.args.get("edit") == "1" and current_user.has_role(*plans.EDITORS)
    if not (htmx and not htmx.boosted):
        return redirect(url_for("plans.show", plan_id=plan_id, edit=step_id if editing else None)
                        + f"#step-{step_id}", 303)
    return render_template("plans/_step.html", plan=plan, step=item, number=plan.steps.index(item) + 1,
                           editing=editing, can_edit=current_user.has_role(*plans.EDITORS), first=item is plan.steps[0],
                           last=item is plan.steps[-1], **_choices())


@bp.post("/<int:plan_id>/steps/<int:step_id>")
@roles_required(*plans.EDITORS)
def update_step(plan_id: int, step_id: int):
    try:
        change = plans.update_step(plan_id, step_id, _step_input(request.form), current_user, _now())
    except ValidationError as error:
        plan = plans.get_plan(plan_id)
        item = next(s for s in plan.steps if s.id == step_id)
        if htmx and not htmx.boosted:
            return render_template("plans/_step.html", plan=plan, step=item, number=plan.steps.index(item) + 1,
                                   editing=True, can_edit=True, errors=error.errors, form=request.form,
                                   first=False, last=False, **_choices()), 422
        return _page(plan, 422, editing=step_id, step_errors=error.errors, step_form_data=request.form)
    return _steps(plans.get_plan(plan_id), change=change, action="saved", saved=step_id)


@bp.post("/<int:plan_id>/steps/<int:step_id>/move")
@roles_required(*plans.EDITORS)
def move_step(plan_id: int, step_id: int):
    plan = plans.move_step(plan_id, step_id, request.form.get("direction", "down"), current_user, _now())
    if htmx and not htmx.boosted:
        return _steps(plan)
    return redirect(url_for("plans.show", plan_id=plan_id) + "#steps", 303)


@bp.post("/<int:plan_id>/steps/<int:step_id>/delete")
@roles_required(*plans.EDITORS)
def delete_step(plan_id: int, step_id: int):
    change = plans.remove_step(plan_id, step_id, current_user, _now())
    return _steps(plans.get_plan(plan_id), change=change, action="removed")


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
    try:
        report = plans.apply(int(plan_id), ids, max(start, _now()), current_user, _now())
    except ValidationError as error:
        flash(" ".join(m for messages in error.errors.values() for m in messages), "error")
        return redirect(url_for("plans.show", plan_id=int(plan_id)), 303)
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


@bp.post("/<int:plan_id>/all")
@roles_required(*plans.EDITORS)
def whole_plan(plan_id: int):
    """Pause, resume or cancel the plan for every account in it."""
    action = request.form.get("action", "")
    changed = plans.set_plan(plan_id, action, current_user, _now())
    messages = {"pause": _("Paused for %(num)s accounts."), "resume": _("Resumed for %(num)s accounts."),
                "cancel": _("Cancelled for %(num)s accounts: what they still had planned will not be sent.")}
    flash(messages[action] % {"num": changed}, "success")
    return redirect(url_for("plans.show", plan_id=plan_id), 303)


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
