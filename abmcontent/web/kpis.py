"""The ABM KPI dashboard (charts with their numbers, CSV export) and the spend it divides by."""
from __future__ import annotations

from datetime import datetime, timezone

from babel.dates import format_skeleton
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_currency, format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from abmcontent import charts, crm_csv, kpis, plans, spend
from abmcontent.errors import ValidationError
from abmcontent.web.rendering import roles_required

bp = Blueprint("kpis", __name__, url_prefix="/kpis")

EXPORT_HEADERS = ["section", "measure", "from", "to", "value"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _today():
    from zoneinfo import ZoneInfo

    return _now().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def money(value: float) -> str:
    return format_currency(round(value), "USD", "¤#,##0", currency_digits=False)


def show(value: float | None, unit: str) -> str:
    """A KPI as the reader's language writes it; unknown (nothing to divide by) is a dash."""
    if value is None:
        return "—"
    if unit == "count":
        return format_decimal(round(value))
    if unit == "money":
        return money(value)
    if unit == "percent":
        return format_percent(value, "#,##0.0%")
    if unit == "seconds":
        return _("%(n)s s", n=format_decimal(round(value, 1)))
    if unit == "days":
        return _("%(n)s days", n=format_decimal(round(value, 1)))
    if unit == "money_per_day":
        return _("%(money)s a day", money=money(value))
    return format_decimal(round(value, 2))


def _bucket_label(bucket: kpis.Bucket, weekly: bool) -> str:
    return format_skeleton("MMMd" if weekly else "yMMM", bucket.start, locale=get_locale())


def _charts(board: kpis.Dashboard, programs: dict[str, kpis.Program]) -> dict:
    weekly = board.scope.days <= kpis.WEEKLY_UP_TO_DAYS
    labels = [_bucket_label(b, weekly) for b in board.buckets]
    count = lambda v: format_decimal(round(v))  # noqa: E731
    rate = lambda v: format_percent(v, "#,##0%")  # noqa: E731
    series = board.series
    rates_top = charts.nice_max(max([v for key in ("open_rate", "click_rate") for v in series[key].values
                                     if v is not None], default=0))
    return {
        "labels": labels,
        "points": charts.bar_chart(labels, series["points"].values, count, integer=True),
        "mqas": charts.bar_chart(labels, series["mqas"].values, count, integer=True),
        "rates": charts.line_chart(labels, {"open_rate": series["open_rate"].values,
                                            "click_rate": series["click_rate"].values}, rate,
                                   top=min(rates_top, 1.0)),
        "revenue": charts.bar_chart(labels, series["revenue"].values, lambda v: format_currency(
            round(v), "USD", "¤#,##0", currency_digits=False)),
        "funnel": charts.funnel([(stage.label, stage.count,
                                  format_decimal(stage.count) if stage.conversion is None else
                                  _("%(n)s (%(rate)s of the stage before)", n=format_decimal(stage.count),
                                    rate=format_percent(stage.conversion, "#,##0%")))
                                 for stage in board.funnel]),
        "programs": charts.bar_chart(
            [_("Spend") + " · " + _("ABM"), _("Spend") + " · " + _("General"),
             _("Revenue") + " · " + _("ABM"), _("Revenue") + " · " + _("General")],
            [programs["abm"].total_spend, programs["general"].total_spend, programs["abm"].revenue,
             programs["general"].revenue], money, width=640, height=220),
    }


def _scope(args) -> tuple[kpis.Scope, dict[str, list[str]]]:
    today, tz = _today(), current_app.config["BABEL_DEFAULT_TIMEZONE"]
    try:
        return kpis.parse_scope(args.get("period", ""), args.get("start", ""), args.get("end", ""),
                                args.get("tier", ""), args.get("plan", ""), today, tz), {}
    except ValidationError as error:
        return kpis.parse_scope("90d", "", "", "", "", today, tz), error.errors


@bp.get("")
@login_required
def index():
    scope, errors = _scope(request.args)
    board = kpis.dashboard(scope)
    programs = kpis.comparison(scope)
    html = render_template("kpis/index.html", board=board, programs=programs, errors=errors,
                           charts=_charts(board, programs), show=show, money=money, args=request.args,
                           periods=kpis.PERIODS, plan_options=[plan for plan, _n, _p in plans.list_plans()],
                           program_labels=spend.PROGRAM_LABELS, category_labels=spend.CATEGORY_LABELS,
                           can_spend=current_user.has_role(*spend.EDITORS))
    return html, 422 if errors else 200


@bp.get("/export.csv")
@login_required
def export():
    scope, errors = _scope(request.args)
    if errors:
        return index()
    board = kpis.dashboard(scope)
    rows = crm_csv.export_csv(EXPORT_HEADERS, kpis.export_rows(board, kpis.comparison(scope)))
    name = f"kpis-{scope.start.isoformat()}-{scope.end.isoformat()}.csv"
    return Response(rows, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                         "X-Content-Type-Options": "nosniff"})


def _spend_page(values: spend.SpendInput | None = None, errors=None, status: int = 200):
    year_arg = request.args.get("year", "")
    year = int(year_arg) if year_arg.isdigit() and 2000 <= int(year_arg) <= 2100 else _today().year
    rows = spend.entries(year)
    values = values or spend.SpendInput(month=_today().strftime("%Y-%m"))
    return render_template("kpis/spend.html", rows=rows, totals=spend.totals(rows), year=year, values=values,
                           errors=errors or {}, money=money, program_labels=spend.PROGRAM_LABELS,
                           category_labels=spend.CATEGORY_LABELS,
                           plan_options=[plan for plan, _n, _p in plans.list_plans()],
                           can_edit=current_user.has_role(*spend.EDITORS)), status


@bp.get("/spend")
@login_required
def spend_index():
    return _spend_page()


@bp.post("/spend")
@roles_required(*spend.EDITORS)
def add_spend():
    form = request.form
    data = spend.SpendInput(**{name: form.get(name, "") for name in spend.SpendInput.__dataclass_fields__})
    try:
        row = spend.add(data, current_user, _now())
    except ValidationError as error:
        return _spend_page(data, error.errors, 422)
    flash(_("Spend recorded: %(amount)s.", amount=money(row.amount)), "success")
    return redirect(url_for("kpis.spend_index", year=row.month.year), 303)


@bp.post("/spend/<int:spend_id>/delete")
@roles_required(*spend.EDITORS)
def delete_spend(spend_id: int):
    spend.remove(spend_id, current_user)
    flash(_("Spend entry removed."), "success")
    return redirect(url_for("kpis.spend_index", year=request.form.get("year", "")), 303)
