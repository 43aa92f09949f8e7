"""Deal pages: the pipeline list, a deal's page (edit, close won or lost, churn, delete), the CSV
import with its report and template, and the CSV export."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from abmcontent import accounts, crm_csv, deal_import, deals
from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.web.rendering import page_or_fragment, roles_required

bp = Blueprint("deals", __name__, url_prefix="/deals")
FORM_FIELDS = ("name", "stage", "amount", "created_on", "proposal_sent_on", "meetings", "closed_on",
               "close_reason", "churned_on", "owner_id", "crm_id")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _filters() -> deals.DealFilters:
    args = request.args
    page = args.get("page", "1")
    return deals.DealFilters(q=args.get("q", "")[:200], stage=args.get("stage", ""), owner=args.get("owner", ""),
                             closed_from=args.get("closed_from", "")[:10], closed_to=args.get("closed_to", "")[:10],
                             sort=args.get("sort", "created"), direction=args.get("direction", "desc"),
                             page=int(page) if page.isdigit() else 1)


def _deal_input() -> deals.DealInput:
    form = request.form
    return deals.DealInput(**{name: form.get(name, "") for name in FORM_FIELDS})


@bp.get("")
@login_required
def index():
    filters = _filters()
    return page_or_fragment("deals/index.html", "deals/_results.html", filters=filters,
                            page=deals.search(filters), totals=deals.totals(filters, _now()),
                            owners=accounts.owners(), can_import=deal_import.can_import(current_user),
                            stages=deals.DEAL_STAGES)


@bp.get("/export.csv")
@login_required
def export():
    stamp = _now().strftime("%Y%m%d-%H%M")
    rows = crm_csv.export_csv(deals.EXPORT_HEADERS, deals.export_rows(_filters()))
    return Response(rows, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="deals-{stamp}.csv"', "X-Content-Type-Options": "nosniff"})


def _new_form(account, data: deals.DealInput, errors: dict | None = None, status: int = 200, account_text: str = ""):
    return render_template("deals/new.html", account=account, data=data, errors=errors or {},
                           owners=accounts.owners(), stages=deals.DEAL_STAGES, account_text=account_text), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required("sales", "campaign")
def new():
    source = request.form if request.method == "POST" else request.args
    raw_id = source.get("account_id", "")
    account = accounts.get_account(int(raw_id)) if raw_id.isdigit() else None
    if account is not None and not deals.can_create(current_user, account):
        abort(403)
    if request.method == "GET":
        owner = current_user.id if current_user.role == "sales" else (account.owner_id if account else None)
        return _new_form(account, deals.DealInput(created_on=_now().date().isoformat(), owner_id=str(owner or "")))
    data = _deal_input()
    account_text = request.form.get("account", "")
    try:
        target = account or deals.account_for(account_text)
        deal = deals.create_deal(target.id, data, current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        return _new_form(account, data, error.errors, 422, account_text)
    flash(_("Deal “%(name)s” added.", name=deal.name), "success")
    return redirect(url_for("accounts.show", account_id=deal.account_id) + "#deals", 303)


def _show(deal, data=None, errors=None, close_errors=None, close_data=None, status: int = 200):
    editable = deals.can_edit(current_user, deal)
    return render_template("deals/show.html", deal=deal, data=data or deals.input_for(deal), errors=errors or {},
                           close_errors=close_errors or {}, close_data=close_data or {}, can_edit=editable,
                           can_delete=deals.can_manage(current_user), owners=accounts.owners(),
                           stages=deals.DEAL_STAGES, today=_now().date().isoformat()), status


@bp.route("/<int:deal_id>", methods=["GET", "POST"])
@login_required
def show(deal_id: int):
    deal = deals.get_deal(deal_id)
    if request.method == "GET":
        return _show(deal)
    data = _deal_input()
    try:
        deals.update_deal(deal.id, data, current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        return _show(deals.get_deal(deal_id), data, error.errors, status=422)
    flash(_("Deal saved."), "success")
    return redirect(url_for("deals.show", deal_id=deal_id), 303)


@bp.post("/<int:deal_id>/close")
@login_required
def close(deal_id: int):
    form = request.form
    outcome = form.get("outcome", "")
    if outcome not in ("won", "lost"):
        abort(400)
    try:
        deal = deals.close_deal(deal_id, outcome == "won", form.get("close_reason", ""), form.get("amount", ""),
                                form.get("closed_on", ""), current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        return _show(deals.get_deal(deal_id), close_errors=error.errors, close_data=form, status=422)
    flash(_("Marked as won.") if deal.stage == "closed_won" else _("Marked as lost, with your reason for marketing."),
          "success")
    return redirect(url_for("deals.show", deal_id=deal_id), 303)


@bp.post("/<int:deal_id>/churn")
@login_required
def churn(deal_id: int):
    try:
        deals.mark_churned(deal_id, request.form.get("churned_on", ""), current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        return _show(deals.get_deal(deal_id), close_errors=error.errors, close_data=request.form, status=422)
    flash(_("Recorded: the customer left."), "success")
    return redirect(url_for("deals.show", deal_id=deal_id), 303)


@bp.post("/<int:deal_id>/delete")
@login_required
def delete(deal_id: int):
    account_id = deals.delete_deal(deal_id, current_user)
    flash(_("Deal deleted."), "success")
    return redirect(url_for("accounts.show", account_id=account_id) + "#deals", 303)


def _import_page(errors=None, report=None, status: int = 200):
    return render_template("deals/import.html", errors=errors or {}, report=report,
                           columns=deal_import.COLUMN_LABELS, headers=deals.EXPORT_HEADERS), status


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*deals.MANAGERS)
def import_file():
    if request.method == "GET":
        return _import_page()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationError({"file": [_("Choose a CSV file to import.")]})
        report = deal_import.import_deals(upload.read(), current_user, _now())
    except ValidationError as error:
        return _import_page(errors=error.errors, status=422)
    if not report.saved:
        return _import_page(report=report, status=422)
    flash(_("Import finished: %(added)s deals added, %(updated)s updated, %(unchanged)s unchanged.",
            added=report.added, updated=report.updated, unchanged=report.unchanged), "success")
    for warning in report.warnings:
        flash(warning, "info")
    return redirect(url_for("deals.index"), 303)


@bp.get("/import/sample.csv")
@login_required
def sample():
    rows = crm_csv.export_csv(deals.EXPORT_HEADERS, deal_import.sample_rows())
    return Response(rows, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="deals-template.csv"', "X-Content-Type-Options": "nosniff"})
