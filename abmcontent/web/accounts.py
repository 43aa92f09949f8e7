"""Target accounts pages: list, account page, qualification in place, target list, CSV export."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import (Blueprint, Response, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from abmcontent import (accounts, alerts, contacts, crm_csv, engagement, engagement_scoring, identification, landing, plans,
                        scoring)
from abmcontent import news
from abmcontent import deals
from abmcontent.errors import ValidationError
from abmcontent.extensions import htmx
from abmcontent.web.rendering import page_or_fragment, roles_required

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _filters(source=None) -> accounts.AccountFilters:
    args = source if source is not None else request.args
    page = args.get("page", "1")
    return accounts.AccountFilters(
        q=args.get("q", "")[:200], tier=args.get("tier", ""), industry=args.get("industry", ""),
        owner=args.get("owner", ""), stage=args.get("stage", ""), region=args.get("region", "")[:40],
        lost=args.get("lost", ""), target=args.get("target", ""),
        sort=args.get("sort", "score"), direction=args.get("direction", "desc"),
        page=int(page) if page.isdigit() else 1,
    )


@bp.get("")
@login_required
def index():
    filters = _filters()
    page = accounts.search(filters)
    return page_or_fragment("accounts/index.html", "accounts/_results.html", filters=filters,
                            page=page, owners=accounts.owners(), title=_("Target accounts"),
                            can_edit=accounts.can_edit(current_user), plan_choices=_plan_choices())


@bp.get("/win-back")
@login_required
def win_back():
    filters = _filters()
    filters.lost = "1"
    page = accounts.search(filters)
    return page_or_fragment("accounts/index.html", "accounts/_results.html", filters=filters,
                            page=page, owners=accounts.owners(), title=_("Win-back: lost accounts"),
                            win_back=True, can_edit=accounts.can_edit(current_user), plan_choices=_plan_choices())


@bp.get("/export.csv")
@login_required
def export():
    filters = _filters()
    stamp = _now().strftime("%Y%m%d-%H%M")
    rows = crm_csv.export_csv(accounts.EXPORT_HEADERS, accounts.export_rows(filters))
    return Response(rows, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="accounts-{stamp}.csv"',
        "X-Content-Type-Options": "nosniff"})


@bp.post("/bulk")
@roles_required(*accounts.EDITOR_ROLES)
def bulk():
    form = request.form
    if form.get("scope") == "all":
        ids = accounts.matching_ids(_filters(form))
    else:
        ids = [int(i) for i in form.getlist("ids") if i.isdigit()]
    try:
        # set_* are the changes; the other fields repeat the list's filters (for "all matching")
        changed = accounts.bulk_update(ids, current_user, _now(), tier=form.get("set_tier") or None,
                                       owner_id=form.get("set_owner") or None,
                                       stage=form.get("set_stage") or None)
        flash(_("%(num)s accounts updated.", num=changed), "success")
    except ValidationError as error:
        flash(str(error), "error")
    return redirect(form.get("next") if (form.get("next") or "").startswith("/accounts") else url_for("accounts.index"), 303)


def _plan_choices():
    return [plan for plan, _enrolled, _planned in plans.list_plans()] if current_user.has_role(*plans.EDITORS) else []


def _engagement(account) -> dict:
    config = engagement_scoring.settings()
    score = engagement_scoring.account_scores([account.id], _now(), config)[account.id]
    return {"score": score, "mqa": engagement_scoring.is_mqa(account.tier, score, config),
            "surge": engagement_scoring.surges([account.id], _now(), config)[account.id]}


def _page_context(account):
    return dict(account=account, stakeholders=accounts.stakeholder_map(account),
                links=identification.links_for(account.id), published_pages=landing.published_pages(),
                activity=engagement.timeline(account.id), touchpoints=plans.account_touchpoints(account.id),
                engagement=_engagement(account), handoffs=alerts.handoffs(account.id, 10),
                can_plan=current_user.has_role(*plans.EDITORS),
                can_link=identification.can_link(current_user),
                explanation=scoring.explain(account),
                recommendations=accounts.recommendations(account, _now()),
                can_edit=accounts.can_edit(current_user),
                can_qualify=accounts.can_qualify(current_user, account),
                can_decide=current_user.has_role(*accounts.QUALIFIER_ROLES),
                feeds=news.feeds_for(account.id, _now()), can_manage_feeds=news.can_manage(current_user, account),
                account_deals=deals.deals_for_account(account.id), can_add_deal=deals.can_create(current_user, account))


@bp.get("/<int:account_id>")
@login_required
def show(account_id: int):
    account = accounts.get_account(account_id)
    return render_template("accounts/show.html", **_page_context(account))


@bp.post("/<int:account_id>/qualification")
@login_required
def qualification(account_id: int):
    form = request.form
    bant = {key: {"status": form.get(f"bant-{key}-status", "unknown"), "note": form.get(f"bant-{key}-note", "")}
            for key in accounts.BANT_KEYS}
    context = {key: form.get(key, "") for key in accounts.CONTEXT_KEYS}
    errors, saved = {}, False
    try:
        account = accounts.update_qualification(account_id, bant, context, current_user, _now())
        saved = True
    except ValidationError as error:
        account, errors = accounts.get_account(account_id), error.errors
    if htmx:
        return render_template("accounts/_qualification.html", errors=errors, saved=saved,
                               **_page_context(account)), 200 if saved else 422
    if saved:
        flash(_("Qualification saved."), "success")
    else:
        flash(_("Qualification not saved: %(why)s", why="; ".join(m for ms in errors.values() for m in ms)), "error")
    return redirect(url_for("accounts.show", account_id=account_id), 303)


@bp.post("/<int:account_id>/stakeholders")
@login_required
def add_stakeholder(account_id: int):
    form = request.form
    data = contacts.StakeholderInput(
        first_name=form.get("first_name", ""), last_name=form.get("last_name", ""),
        email=form.get("email", ""), title=form.get("title", ""), persona=form.get("persona", ""),
        seniority=form.get("seniority", ""), buying_authority=form.get("buying_authority", ""),
        language=form.get("language", "en"), timezone=form.get("timezone", "").strip(),
        email_consent=form.get("email_consent") == "on", consent_source=form.get("consent_source", ""))
    try:
        contact = contacts.add_stakeholder(account_id, data, current_user, _now())
    except ValidationError as error:
        account = accounts.get_account(account_id)
        return render_template("accounts/show.html", stakeholder_errors=error.errors, stakeholder_form=form,
                               **_page_context(account)), 422
    flash(_("%(name)s was added to the stakeholder map.", name=contact.full_name), "success")
    return redirect(url_for("accounts.show", account_id=account_id) + "#stakeholders", 303)


@bp.post("/<int:account_id>/target")
@login_required
def target(account_id: int):
    try:
        accounts.decide_target(account_id, request.form.get("status", ""), request.form.get("comment", ""),
                               current_user, _now())
        flash(_("Target list decision recorded."), "success")
    except ValidationError as error:
        flash(str(error), "error")
    return redirect(url_for("accounts.show", account_id=account_id) + "#target", 303)


def _firmographics_from_form() -> accounts.Firmographics:
    form = request.form

    def number(name):
        raw = form.get(name, "").replace(",", "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise ValidationError({name: [_("Enter a whole number, e.g. 250000000.")]})
        return int(raw)

    def items(name):
        return [x.strip() for x in form.get(name, "").replace("\n", ",").split(",") if x.strip()]

    tier = form.get("tier", "")
    owner = form.get("owner_id", "")
    return accounts.Firmographics(
        name=form.get("name", ""), domains=items("domains"), industry=form.get("industry", ""),
        sub_industry=form.get("sub_industry", "").strip(), revenue=number("revenue"),
        employees=number("employees"), country=form.get("country", "").strip(),
        region=form.get("region", "").strip(), city=form.get("city", "").strip(),
        technologies=items("technologies"), competitor_products=items("competitor_products"),
        customer_base=form.get("customer_base", "").strip(),
        owner_id=int(owner) if owner.isdigit() else None, tier=int(tier) if tier in ("1", "2", "3") else None,
        journey_stage=form.get("journey_stage", "awareness"), lost=form.get("lost") == "on",
        deal_size=number("deal_size"), ip_ranges=items("ip_ranges"),
    )


def _edit(account_id: int | None):
    account = accounts.get_account(account_id) if account_id else None
    if request.method == "POST":
        data = request.form
        try:
            saved = accounts.save_firmographics(account_id, _firmographics_from_form(), current_user, _now())
            flash(_("Account saved."), "success")
            return redirect(url_for("accounts.show", account_id=saved.id), 303)
        except ValidationError as error:
            return render_template("accounts/edit.html", account=account, data=data, errors=error.errors,
                                   owners=accounts.owners()), 422
    data = {}
    if account:
        data = {"name": account.name, "domains": ", ".join(d.domain for d in account.domains) or account.domain,
                "industry": account.industry, "sub_industry": account.sub_industry,
                "revenue": account.revenue or "", "employees": account.employees or "",
                "country": account.country, "region": account.region, "city": account.city,
                "technologies": ", ".join(account.technologies or []),
                "competitor_products": ", ".join(account.competitor_products or []),
                "customer_base": account.customer_base, "owner_id": str(account.owner_id or ""),
                "tier": str(account.tier) if account.tier_locked and account.tier else "",
                "journey_stage": account.journey_stage, "lost": "on" if account.lost else "",
                "deal_size": account.deal_size or "", "ip_ranges": ", ".join(account.ip_ranges or [])}
    return render_template("accounts/edit.html", account=account, data=data, errors={}, owners=accounts.owners())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*accounts.EDITOR_ROLES)
def new():
    return _edit(None)


@bp.route("/<int:account_id>/edit", methods=["GET", "POST"])
@roles_required(*accounts.EDITOR_ROLES)
def edit(account_id: int):
    return _edit(account_id)


@bp.post("/<int:account_id>/links")
@login_required
def create_link(account_id: int):
    """A personalized link; its address is shown on this response only (only its hash is kept)."""
    form = request.form
    contact_id, page_id = form.get("contact_id", ""), form.get("page_id", "")
    link, token = identification.create_personal_url(
        account_id, int(contact_id) if contact_id.isdigit() else None, current_user, _now(),
        landing_page_id=int(page_id) if page_id.isdigit() else None)
    from abmcontent.web.landing_pages import public_url

    account = accounts.get_account(account_id)
    return render_template("accounts/show.html", new_link=public_url(link.landing_page, token),
                           **_page_context(account))


@bp.post("/<int:account_id>/links/<int:link_id>/revoke")
@login_required
def revoke_link(account_id: int, link_id: int):
    identification.revoke(link_id, account_id, current_user, _now())
    flash(_("Link revoked: it now opens the generic page."), "success")
    return redirect(url_for("accounts.show", account_id=account_id) + "#links", 303)
