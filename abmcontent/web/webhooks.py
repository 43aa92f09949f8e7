"""Integrations → Webhooks (administrators): endpoints with their status and last delivery, the
secret shown once, a test event, enable/disable, secret rotation, and each endpoint's delivery
log with every attempt and a redeliver button."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from abmcontent import webhooks
from abmcontent.errors import ValidationError
from abmcontent.extensions import db, htmx
from abmcontent.models import WEBHOOK_EVENTS
from abmcontent.web.rendering import page_or_fragment, roles_required

bp = Blueprint("webhooks", __name__, url_prefix="/integrations/webhooks")
STATUSES = ("pending", "delivered", "failed")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _input() -> webhooks.EndpointInput:
    form = request.form
    return webhooks.EndpointInput(url=form.get("url", ""), description=form.get("description", ""),
                                  events=tuple(form.getlist("events")))


def _common() -> dict:
    return {"event_names": WEBHOOK_EVENTS, "event_label": webhooks.event_label, "say": webhooks.say,
            "statuses": STATUSES, "test_event": webhooks.TEST_EVENT, "by_admin": webhooks.by_admin}


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"  # a new secret is on this page, once
    return response


def _index(status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", webhooks.EndpointInput(events=WEBHOOK_EVENTS))
    rows = webhooks.endpoints_overview()
    return _no_store(make_response(render_template(
        "webhooks/index.html", rows=rows, stopped=[row for row in rows if row.auto_disabled], **_common(), **context),
        status))


@bp.get("")
@roles_required()
def index():
    return _index()


@bp.post("")
@roles_required()
def create():
    data = _input()
    try:
        made = webhooks.create_endpoint(data, current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        return _index(422, errors=error.errors, values=data)
    # shown here, once, instead of redirecting: the page after a redirect could be cached or shared
    return _index(201, created=made)


def _filters() -> dict:
    args = request.args
    page = args.get("page", "1")
    return {"status": args.get("status", "") if args.get("status", "") in STATUSES else "",
            "event": args.get("event", "") if args.get("event", "") in WEBHOOK_EVENTS + (webhooks.TEST_EVENT,) else "",
            "page": int(page) if page.isdigit() and len(page) < 7 else 1}


def _show(endpoint_id: int, status: int = 200, **context):
    endpoint = webhooks.get_endpoint(endpoint_id)
    filters = _filters()
    context.setdefault("errors", {})
    context.setdefault("values", webhooks.EndpointInput(url=endpoint.url, description=endpoint.description,
                                                        events=tuple(endpoint.events or ())))
    page = webhooks.deliveries(endpoint.id, filters["status"], filters["event"], filters["page"])
    response = page_or_fragment("webhooks/show.html", "webhooks/_deliveries.html", status, endpoint=endpoint,
                                filters=filters, page=page, **_common(), **context)
    return _no_store(response)


@bp.get("/<int:endpoint_id>")
@roles_required()
def show(endpoint_id: int):
    return _show(endpoint_id)


@bp.post("/<int:endpoint_id>")
@roles_required()
def update(endpoint_id: int):
    data = _input()
    try:
        webhooks.update_endpoint(endpoint_id, data, current_user)
    except ValidationError as error:
        db.session.rollback()
        return _show(endpoint_id, 422, errors=error.errors, values=data)
    flash(_("Endpoint saved."), "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id), 303)


def _said(delivery) -> str:
    """How the newest attempt went, in a sentence for the flash message."""
    attempt = delivery.attempt_log[-1] if delivery.attempt_log else None
    if delivery.status == "delivered":
        return _("Delivered: the endpoint answered %(code)s.", code=attempt.status_code if attempt else "")
    if attempt is None:
        return _("Not sent yet.")
    return _("Not delivered: %(why)s", why=webhooks.say(attempt.error))


@bp.post("/<int:endpoint_id>/test")
@roles_required()
def send_test(endpoint_id: int):
    delivery = webhooks.send_test(endpoint_id, current_user, _now())
    flash(_("Test event sent. %(result)s", result=_said(delivery)),
          "success" if delivery.status == "delivered" else "error")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id), 303)


@bp.post("/<int:endpoint_id>/enable")
@roles_required()
def enable(endpoint_id: int):
    webhooks.set_active(endpoint_id, True, current_user, _now())
    flash(_("Endpoint enabled. Deliveries that waited go out now."), "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id), 303)


@bp.post("/<int:endpoint_id>/disable")
@roles_required()
def disable(endpoint_id: int):
    webhooks.set_active(endpoint_id, False, current_user, _now())
    flash(_("Endpoint disabled. New events are not queued for it; deliveries already queued wait until you "
            "enable it again."), "success")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id), 303)


@bp.post("/<int:endpoint_id>/rotate")
@roles_required()
def rotate(endpoint_id: int):
    made = webhooks.rotate_secret(endpoint_id, current_user)
    return _show(made.endpoint.id, created=made)


@bp.post("/<int:endpoint_id>/delete")
@roles_required()
def delete(endpoint_id: int):
    webhooks.delete_endpoint(endpoint_id, current_user)
    flash(_("Endpoint deleted, with its delivery log."), "success")
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@roles_required()
def redeliver(endpoint_id: int, delivery_id: int):
    delivery = webhooks.redeliver(endpoint_id, delivery_id, current_user, _now())
    if htmx and not htmx.boosted:
        response = make_response(render_template("webhooks/_delivery.html", delivery=delivery,
                                                 endpoint=webhooks.get_endpoint(endpoint_id), filters=_form_filters(),
                                                 **_common()))
        response.vary.add("HX-Request")
        return response
    flash(_("Sent again. %(result)s", result=_said(delivery)),
          "success" if delivery.status == "delivered" else "error")
    return redirect(url_for("webhooks.show", endpoint_id=endpoint_id, **_form_filters()), 303)


def _form_filters() -> dict:
    """The log's filters, carried by the redeliver form, so the log comes back as it was."""
    form = request.form
    kept = {"status": form.get("status", ""), "event": form.get("event", ""), "page": form.get("page", "")}
    kept["status"] = kept["status"] if kept["status"] in STATUSES else ""
    kept["event"] = kept["event"] if kept["event"] in WEBHOOK_EVENTS + (webhooks.TEST_EVENT,) else ""
    kept["page"] = kept["page"] if kept["page"].isdigit() and len(kept["page"]) < 7 else ""
    return {k: v for k, v in kept.items() if v}
