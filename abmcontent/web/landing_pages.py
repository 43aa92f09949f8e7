"""Landing-page builder: pages, their sections (edited in place with htmx), publishing, the
preview as any account and contact with its identification trace, and the holdout report."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_htmx import make_response as htmx_response
from flask_login import current_user, login_required
from sqlalchemy import select

from abmcontent import accounts, identification, landing, taxonomy
from abmcontent.errors import ValidationError
from abmcontent.extensions import db, htmx
from abmcontent.models import Asset, Contact
from abmcontent.web.rendering import page_or_fragment, roles_required

bp = Blueprint("landing", __name__, url_prefix="/landing")
EDITORS = ("marketer", "campaign")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _page_input() -> landing.PageInput:
    form = request.form
    return landing.PageInput(title=form.get("title", ""), slug=form.get("slug", ""),
                             language=form.get("language", "en"),
                             holdout_percent=form.get("holdout_percent", "10"))


def public_url(page, token: str | None = None) -> str:
    """The address to give out: BASE_URL when set (behind a proxy), else this request's host."""
    base = current_app.config.get("BASE_URL", "").rstrip("/")
    path = url_for("public.page", slug=page.slug, t=token)
    return f"{base}{path}" if base else url_for("public.page", slug=page.slug, t=token, _external=True)


def _gated_assets() -> list[Asset]:
    return list(db.session.scalars(select(Asset).where(Asset.status == "published", Asset.gated.is_(True))
                                   .order_by(Asset.title)))


def _builder(page, status: int = 200, **extra):
    report, anonymous_views = landing.conversion(page.id)
    return render_template("landing/builder.html", page=page, report=report, anonymous_views=anonymous_views,
                           can_edit=landing.can_edit(current_user), gated_assets=_gated_assets(),
                           public_url=public_url(page), kinds=landing.SECTION_KINDS,
                           problems=landing.publish_problems(page), **extra), status


@bp.get("")
@login_required
def index():
    return render_template("landing/index.html", pages=landing.list_pages(), can_edit=landing.can_edit(current_user),
                           data={}, errors={})


@bp.post("")
@roles_required(*EDITORS)
def create():
    try:
        page = landing.create_page(_page_input(), current_user, _now())
    except ValidationError as error:
        return render_template("landing/index.html", pages=landing.list_pages(), can_edit=True,
                               data=request.form, errors=error.errors), 422
    flash(_("Landing page created. Edit its sections, preview it, then publish."), "success")
    return redirect(url_for("landing.show", page_id=page.id), 303)


@bp.get("/<int:page_id>")
@login_required
def show(page_id: int):
    return _builder(landing.get_page(page_id))


@bp.post("/<int:page_id>")
@roles_required(*EDITORS)
def update(page_id: int):
    try:
        landing.update_page(page_id, _page_input(), current_user, _now())
    except ValidationError as error:
        return _builder(landing.get_page(page_id), 422, settings_errors=error.errors, settings_form=request.form)
    flash(_("Page settings saved."), "success")
    return redirect(url_for("landing.show", page_id=page_id), 303)


@bp.post("/<int:page_id>/status")
@roles_required(*EDITORS)
def status(page_id: int):
    wanted = request.form.get("status", "")
    try:
        page = landing.set_status(page_id, wanted, current_user, _now())
    except ValidationError as error:
        flash(_("Not published: %(why)s", why=" ".join(m for ms in error.errors.values() for m in ms)), "error")
        return redirect(url_for("landing.show", page_id=page_id), 303)
    messages = {"published": _("Published: the page is live at its address."),
                "draft": _("The page is a draft again; its address shows “not found” until you publish."),
                "archived": _("Archived.")}
    flash(messages.get(page.status, _("Saved.")), "success")
    return redirect(url_for("landing.show", page_id=page_id), 303)


def _sections(page, status: int = 200, **extra):
    """The section list: the fragment for htmx, the whole builder otherwise."""
    if htmx and not htmx.boosted:
        html = render_template("landing/_sections.html", page=page, can_edit=True, gated_assets=_gated_assets(),
                               kinds=landing.SECTION_KINDS, **extra)
        # a form inside one section targets that section; the whole list replaces the list
        return htmx_response(html, status, retarget="#sections", reswap="innerHTML")
    return _builder(page, status, **extra)


@bp.post("/<int:page_id>/sections")
@roles_required(*EDITORS)
def add_section(page_id: int):
    try:
        section = landing.add_section(page_id, request.form.get("kind", ""), current_user, _now())
    except ValidationError as error:
        return _sections(landing.get_page(page_id), 422, add_errors=error.errors)
    return _sections(landing.get_page(page_id), opened=section.id)


@bp.post("/<int:page_id>/sections/<int:section_id>")
@roles_required(*EDITORS)
def update_section(page_id: int, section_id: int):
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        section = landing.update_section(page_id, section_id, form, current_user, _now())
    except ValidationError as error:
        page = landing.get_page(page_id)
        section = next(s for s in page.sections if s.id == section_id)
        if htmx and not htmx.boosted:
            return render_template("landing/_section.html", page=page, section=section, errors=error.errors,
                                   form=form, can_edit=True, gated_assets=_gated_assets(), opened=section.id,
                                   first=False, last=False), 422
        return _builder(page, 422, section_errors={section_id: error.errors}, section_form=form)
    if htmx and not htmx.boosted:
        return _sections(section.page, saved=section.id)
    flash(_("Section saved."), "success")
    return redirect(url_for("landing.show", page_id=page_id) + f"#section-{section_id}", 303)


@bp.post("/<int:page_id>/sections/<int:section_id>/move")
@roles_required(*EDITORS)
def move_section(page_id: int, section_id: int):
    landing.move_section(page_id, section_id, request.form.get("direction", "down"), current_user, _now())
    return _sections(landing.get_page(page_id))


@bp.post("/<int:page_id>/sections/<int:section_id>/delete")
@roles_required(*EDITORS)
def delete_section(page_id: int, section_id: int):
    landing.delete_section(page_id, section_id, current_user, _now())
    return _sections(landing.get_page(page_id))


@bp.get("/<int:page_id>/preview")
@login_required
def preview(page_id: int):
    """The page as one visitor would see it, beside why: the identification trace and each
    section's reasons. Nothing is recorded and no link is created."""
    page = landing.get_page(page_id)
    args = request.args
    mode = args.get("mode", "link")
    dnt = args.get("dnt") == "1"
    account = None
    query = args.get("account", "").strip()[:200]
    if query:
        account = accounts.find_account(query)
    contact_id = args.get("contact", "")
    contact = db.session.get(Contact, int(contact_id)) if contact_id.isdigit() else None
    if contact is not None and (account is None or contact.account_id != account.id):
        contact = None
    secret = current_app.config["SECRET_KEY"]
    if mode == "link" and account is not None:
        ident = identification.simulated_link(account.id, contact.id if contact else None, dnt)
    else:
        ident = identification.identify(token=None, cookie=None, ip=args.get("ip", "").strip()[:45] or None,
                                        email=args.get("email", "").strip()[:254] or None,
                                        utm_industry=args.get("utm_industry") or None, do_not_track=dnt,
                                        secret_key=secret)
    variant = args.get("variant") if args.get("variant") in ("personalized", "control") else None
    visit = landing.visit_for(page, ident, secret, variant=variant)
    blocks = landing.compose(page, visit, _now())
    people = account.contacts if account is not None else []
    return page_or_fragment("landing/preview.html", "landing/_preview.html", page=page, visit=visit,
                            blocks=blocks, account=account, contact=contact, people=people, mode=mode, dnt=dnt,
                            query=query, args=args, not_found=bool(query) and account is None,
                            industries=taxonomy.INDUSTRIES, values=landing.merge_values(visit))
