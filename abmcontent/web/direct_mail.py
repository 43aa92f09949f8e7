"""Direct mail: the print queue with a PDF preview per piece, print batches started here and
built by the scheduler (the row polls itself until ready), and their downloads."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from abmcontent import direct_mail
from abmcontent.extensions import htmx
from abmcontent.web.rendering import roles_required

bp = Blueprint("direct_mail", __name__, url_prefix="/direct-mail")
ROLES = ("marketer", "campaign")  # admin always passes
SHOWN = 200


@bp.get("")
@roles_required(*ROLES)
def index():
    counts = direct_mail.queued_counts()
    return render_template("direct_mail/index.html", pieces=direct_mail.queued_pieces(SHOWN), counts=counts,
                           queued=sum(counts.values()), batches=direct_mail.recent_batches(),
                           failures=direct_mail.address_failures(), shown=SHOWN)


@bp.post("/batches")
@roles_required(*ROLES)
def start():
    batch = direct_mail.start_batch(current_user, datetime.now(timezone.utc))
    if batch is None:
        flash(_("Nothing to print: no pieces are queued."), "error")
    else:
        flash(_("Print batch %(id)s started with %(num)s pieces. The PDF is being laid out; this page shows "
                "when it is ready.", id=batch.id, num=batch.pieces_count), "success")
    return redirect(url_for("direct_mail.index"), 303)


@bp.get("/batches/<int:batch_id>")
@roles_required(*ROLES)
def batch_row(batch_id: int):
    """The batch's row: what the building row polls (a full page otherwise)."""
    batch = direct_mail.get_batch(batch_id)
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        response = current_app.make_response(render_template("direct_mail/_batch.html", batch=batch))
    else:
        response = current_app.make_response(render_template("direct_mail/batch.html", batch=batch))
    response.vary.add("HX-Request")
    return response


def _download(batch_id: int, kind: str):
    batch = direct_mail.get_batch(batch_id)
    path = direct_mail.batch_file(batch, kind, current_app.config["PRINT_FOLDER"])
    mimetype, name = ("application/pdf", f"direct-mail-batch-{batch.id}.pdf") if kind == "pdf" else \
        ("text/csv", f"direct-mail-batch-{batch.id}-manifest.csv")
    response = send_file(path, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/batches/<int:batch_id>/batch.pdf")
@roles_required(*ROLES)
def download_pdf(batch_id: int):
    return _download(batch_id, "pdf")


@bp.get("/batches/<int:batch_id>/manifest.csv")
@roles_required(*ROLES)
def download_manifest(batch_id: int):
    return _download(batch_id, "manifest")


@bp.get("/pieces/<int:piece_id>/preview.pdf")
@roles_required(*ROLES)
def preview(piece_id: int):
    pdf = direct_mail.piece_pdf(piece_id, datetime.now(timezone.utc))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="direct-mail-piece-{piece_id}.pdf"',
        "X-Content-Type-Options": "nosniff"})
