"""CRM import pages: upload, column mapping for unknown layouts, progress that polls itself, report."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from abmcontent import accounts, crm_import, crm_layouts
from abmcontent.errors import ValidationError
from abmcontent.extensions import db, htmx
from abmcontent.models import ImportJob
from abmcontent.web.rendering import roles_required

bp = Blueprint("imports", __name__, url_prefix="/imports")
STOP_POLLING = 286  # htmx stops a polling element on this status


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*accounts.EDITOR_ROLES)
def new():
    recent = db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(10)).all()
    if request.method == "GET":
        return render_template("imports/new.html", errors={}, recent=recent, kind=request.args.get("kind", "accounts"))
    upload = request.files.get("file")
    kind = request.form.get("kind", "accounts")
    try:
        if upload is None or not upload.filename:
            raise ValidationError({"file": [_("Choose a CSV file to import.")]})
        job = crm_import.create_job(kind, upload.filename, upload.read(), current_user,
                                    datetime.now(timezone.utc), current_app.config["UPLOAD_FOLDER"],
                                    dry_run=request.form.get("dry_run") == "on",
                                    locale=str(get_locale() or "en"))
    except ValidationError as error:
        return render_template("imports/new.html", errors=error.errors, recent=recent, kind=kind), 422
    if job.status == "needs_mapping":
        return redirect(url_for("imports.mapping", job_id=job.id), 303)
    return redirect(url_for("imports.show", job_id=job.id), 303)


@bp.route("/<int:job_id>/mapping", methods=["GET", "POST"])
@roles_required(*accounts.EDITOR_ROLES)
def mapping(job_id: int):
    job = crm_import.get_job(job_id)
    fields = crm_layouts.ACCOUNT_FIELDS if job.kind == "accounts" else crm_layouts.CONTACT_FIELDS
    headers = job.report.get("headers", [])
    errors: list[str] = []
    chosen = {h: request.form.get(f"map-{i}", "") for i, h in enumerate(headers)} if request.method == "POST" else {}
    if request.method == "POST":
        try:
            crm_import.set_mapping(job_id, chosen, current_user, datetime.now(timezone.utc))
            return redirect(url_for("imports.show", job_id=job_id), 303)
        except ValidationError as error:
            errors = [m for ms in error.errors.values() for m in ms]
    return render_template("imports/mapping.html", job=job, headers=headers, fields=fields, chosen=chosen,
                           errors=errors), 422 if errors else 200


@bp.get("/<int:job_id>")
@roles_required(*accounts.EDITOR_ROLES)
def show(job_id: int):
    job = crm_import.get_job(job_id)
    if htmx and not htmx.boosted:
        finished = job.status in ("done", "failed")
        # 286 stops the poll; the finished fragment replaces the progress bar with the report.
        return render_template("imports/_progress.html", job=job), STOP_POLLING if finished else 200
    return render_template("imports/show.html", job=job)
