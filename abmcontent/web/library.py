"""The content library pages: thin views over abmcontent.library."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import (Blueprint, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from abmcontent import attachments, library, markup, merge_fields, taxonomy
from abmcontent.errors import ValidationError
from abmcontent.extensions import db, htmx
from abmcontent.models import Contact
from abmcontent.web.rendering import page_or_fragment, roles_required

bp = Blueprint("library", __name__, url_prefix="/library")
EDITORS = library.EDITOR_ROLES


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _filters() -> library.LibraryFilters:
    args = request.args
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    return library.LibraryFilters(
        stage=args.get("stage", ""), persona=args.get("persona", ""),
        industry=args.get("industry", ""), type=args.get("type", ""),
        status=args.get("status", ""), language=args.get("language", ""),
        q=args.get("q", "")[:200], sort=args.get("sort", "updated"), page=page,
    )


def _asset_input() -> library.AssetInput:
    form = request.form
    return library.AssetInput(
        title=form.get("title", ""), slug=form.get("slug", ""), type=form.get("type", ""),
        language=form.get("language", ""), summary=form.get("summary", ""),
        body=form.get("body", ""), gated=form.get("gated") == "on",
        cta_label=form.get("cta_label", ""), cta_url=form.get("cta_url", ""),
        stages=form.getlist("stages"), personas=form.getlist("personas"),
        industries=form.getlist("industries"),
    )


def _samples() -> list[Contact]:
    """Contacts to preview merge fields with: the demo's until real accounts arrive."""
    return list(db.session.scalars(select(Contact).order_by(Contact.id).limit(50)))


@bp.get("")
@login_required
def index():
    filters = _filters()
    page = library.search(filters, page_size=current_app.config["LIBRARY_PAGE_SIZE"])
    return page_or_fragment("library/index.html", "library/_results.html",
                            filters=filters, page=page)


@bp.get("/coverage")
@login_required
def coverage():
    language = request.args.get("language", "")
    language = language if language in taxonomy.CONTENT_LANGUAGES else ""
    return page_or_fragment("library/coverage.html", "library/_coverage.html",
                            coverage=library.coverage(language), language=language)


def _edit_page(asset, data, errors, status=200, base_revision=None):
    return render_template("library/edit.html", asset=asset, data=data, errors=errors,
                           samples=_samples(), base_revision=base_revision), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new():
    if request.method == "GET":
        return _edit_page(None, library.AssetInput(), {})
    data = _asset_input()
    try:
        asset = library.create_asset(data, current_user, _now())
    except ValidationError as error:
        return _edit_page(None, data, error.errors, 422)
    flash(_("“%(title)s” was created as a draft.", title=asset.title), "success")
    return redirect(url_for("library.show", asset_id=asset.id), 303)


@bp.get("/<int:asset_id>")
@login_required
def show(asset_id: int):
    asset = library.get_asset(asset_id)
    sample = _sample(request.args.get("sample"))
    values = merge_fields.values_for(sample.account, sample) if sample else {}
    return render_template(
        "library/show.html", asset=asset, values=values, sample=sample, samples=_samples(),
        transitions=library.allowed_transitions(asset, current_user),
        can_edit=current_user.has_role(*EDITORS),
    )


@bp.route("/<int:asset_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(asset_id: int):
    asset = library.get_asset(asset_id)
    if request.method == "GET":
        return _edit_page(asset, library.AssetInput.of(asset), {},
                          base_revision=library.current_revision(asset))
    data = _asset_input()
    base = request.form.get("base_revision", "")
    try:
        library.update_asset(asset_id, data, current_user, _now(),
                             note=request.form.get("note", ""),
                             base_revision=int(base) if base.isdigit() else None)
    except ValidationError as error:
        return _edit_page(asset, data, error.errors, 422, base_revision=base)
    flash(_("Saved."), "success")
    return redirect(url_for("library.show", asset_id=asset_id), 303)


def _sample(raw: str | None) -> Contact | None:
    if raw and raw.isdigit():
        return db.session.get(Contact, int(raw))
    return None


@bp.post("/preview")
@login_required
def preview():
    """Live preview while editing: merge fields rendered for the chosen sample contact."""
    data = _asset_input()
    sample = _sample(request.form.get("sample"))
    values = merge_fields.values_for(sample.account, sample) if sample else {}
    problems = {name: merge_fields.validate(getattr(data, name))
                for name in ("title", "summary", "body", "cta_label")}
    return render_template(
        "library/_preview.html", data=data, sample=sample,
        title=markup.render_text(data.title, values), summary=markup.render_text(data.summary, values),
        body=markup.render(data.body, values), problems={k: v for k, v in problems.items() if v},
    )


@bp.post("/<int:asset_id>/tags")
@roles_required(*EDITORS)
def tags(asset_id: int):
    kind, value = request.form.get("kind", ""), request.form.get("value", "")
    present = request.form.get("present") == "1"
    error = None
    try:
        asset = library.set_tag(asset_id, kind, value, present, current_user, _now())
    except ValidationError as problem:
        asset, error = library.get_asset(asset_id), str(problem)
    if htmx:
        return render_template("library/_tags.html", asset=asset, tag_error=error, can_edit=True)
    if error:
        flash(error, "error")
    return redirect(url_for("library.show", asset_id=asset_id), 303)


@bp.post("/<int:asset_id>/status")
@roles_required(*EDITORS)
def status(asset_id: int):
    asset = library.transition(asset_id, request.form.get("to", ""), current_user, _now(),
                               comment=request.form.get("comment", ""))
    flash(_("“%(title)s” is now %(status)s.", title=asset.title,
            status=taxonomy.label("status", asset.status)), "success")
    return redirect(url_for("library.show", asset_id=asset_id), 303)


@bp.get("/<int:asset_id>/history")
@login_required
def history(asset_id: int):
    asset = library.get_asset(asset_id)
    return render_template("library/history.html", asset=asset,
                           can_edit=current_user.has_role(*EDITORS))


@bp.get("/<int:asset_id>/revisions/<int:number>")
@login_required
def revision(asset_id: int, number: int):
    asset = library.get_asset(asset_id)
    return render_template("library/revision.html", asset=asset, diff=library.diff(asset_id, number),
                           can_edit=current_user.has_role(*EDITORS))


@bp.post("/<int:asset_id>/revisions/<int:number>/restore")
@roles_required(*EDITORS)
def restore(asset_id: int, number: int):
    library.restore(asset_id, number, current_user, _now())
    flash(_("Revision %(number)d is current again; the history keeps every version.", number=number),
          "success")
    return redirect(url_for("library.history", asset_id=asset_id), 303)


@bp.post("/<int:asset_id>/files")
@roles_required(*EDITORS)
def upload(asset_id: int):
    upload = request.files.get("file")
    try:
        record = attachments.attach(
            asset_id, upload.filename if upload else "", upload.stream if upload else None,
            current_user, _now(), current_app.config["UPLOAD_FOLDER"],
            tuple(current_app.config["UPLOAD_EXTENSIONS"]), current_app.config["MAX_CONTENT_LENGTH"])
        flash(_("Attached %(name)s.", name=record.original_name), "success")
    except ValidationError as error:
        flash(str(error), "error")
    return redirect(url_for("library.show", asset_id=asset_id) + "#files", 303)


@bp.get("/<int:asset_id>/files/<int:file_id>")
@login_required
def download(asset_id: int, file_id: int):
    record, path = attachments.get_file(asset_id, file_id, current_app.config["UPLOAD_FOLDER"])
    response = send_file(path, mimetype=record.content_type, as_attachment=True,
                         download_name=record.original_name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/<int:asset_id>/files/<int:file_id>/delete")
@roles_required(*EDITORS)
def delete_file(asset_id: int, file_id: int):
    attachments.remove(asset_id, file_id, current_user, current_app.config["UPLOAD_FOLDER"])
    flash(_("The file was removed."), "success")
    return redirect(url_for("library.show", asset_id=asset_id) + "#files", 303)
