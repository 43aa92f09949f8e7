"""Events: the staff pages under /events (list, create, edit, cancel, registrations and check-in),
and the public registration page /e/<slug> that invitations link to.

The public routes follow abmcontent.web.public: no session, Referrer-Policy: same-origin, an
Origin check instead of a CSRF token on the form, a honeypot, and a personal link (a signed
registration id) that, when changed or unknown, gets exactly the page no link gets.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request, url_for)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from abmcontent import events, gating, landing, markup
from abmcontent.errors import InvalidTransition, ValidationError
from abmcontent.extensions import csrf, db, htmx
from abmcontent.web import public
from abmcontent.web.rendering import page_or_fragment, roles_required

bp = Blueprint("events", __name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _event_input() -> events.EventInput:
    form = request.form
    return events.EventInput(title=form.get("title", ""), description=form.get("description", ""),
                             starts_at=form.get("starts_at", ""), ends_at=form.get("ends_at", ""),
                             timezone=form.get("timezone", "UTC"), location=form.get("location", ""),
                             online_url=form.get("online_url", ""), capacity=form.get("capacity", ""),
                             language=form.get("language", "en"))


def _public_base() -> str:
    return (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")


# --- staff pages ---------------------------------------------------------------------------

@bp.get("/events")
@login_required
def index():
    upcoming, past = events.list_events(_now())
    return render_template("events/index.html", upcoming=upcoming, past=past,
                           can_edit=events.can_edit(current_user), when=_staff_when)


def _staff_when(event) -> str:
    """The event's own local time, in the staff member's language."""
    from flask_babel import get_locale

    return events.when(event, language=str(get_locale() or "en"))


def _form(event=None, data=None, errors=None, status: int = 200):
    return render_template("events/edit.html", event=event, data=data or events.EventInput(),
                           errors=errors or {}, zones=events.zone_names()), status


@bp.route("/events/new", methods=["GET", "POST"])
@roles_required(*events.EDITORS)
def new():
    if request.method == "GET":
        return _form()
    data = _event_input()
    try:
        event = events.create_event(data, current_user, _now(), current_app.config["MAIL_FROM"])
    except ValidationError as error:
        db.session.rollback()
        return _form(data=data, errors=error.errors, status=422)
    flash(_("Event created. Add it to a plan step to invite stakeholders, or share its page."), "success")
    return redirect(url_for("events.show", event_id=event.id), 303)


@bp.get("/events/<int:event_id>")
@login_required
def show(event_id: int):
    event = events.get_event(event_id)
    return render_template("events/show.html", event=event, row=events.summary(event),
                           registrations=events.registrations(event.id), can_edit=events.can_edit(current_user),
                           public_url=events.page_url(_public_base(), event), now=_now(),
                           reg_label=events.registration_label, when=_staff_when(event), report=None)


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@roles_required(*events.EDITORS)
def edit(event_id: int):
    event = events.get_event(event_id)
    if request.method == "GET":
        return _form(event, events.input_for(event))
    data = _event_input()
    before = event.sequence
    try:
        event = events.update_event(event.id, data, current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        return _form(event, data, error.errors, 422)
    if event.sequence != before:
        flash(_("Saved. Everyone invited will get the updated invitation."), "success")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for("events.show", event_id=event.id), 303)


@bp.route("/events/<int:event_id>/cancel", methods=["GET", "POST"])
@roles_required(*events.EDITORS)
def cancel(event_id: int):
    event = events.get_event(event_id)
    if request.method == "GET":
        return render_template("events/cancel.html", event=event, row=events.summary(event),
                               when=_staff_when(event))
    try:
        events.cancel_event(event.id, current_user, _now())
        flash(_("Event cancelled. Everyone invited will get a cancellation."), "success")
    except InvalidTransition as error:
        flash(str(error), "error")
    return redirect(url_for("events.show", event_id=event.id), 303)


def _registration_row(event, registration, status: int = 200, error: str = ""):
    return page_or_fragment("events/_registration.html", "events/_registration.html", status, event=event,
                            r=registration, can_edit=True, reg_label=events.registration_label, now=_now(),
                            error=error)


@bp.post("/events/<int:event_id>/registrations/<int:registration_id>/attendance")
@roles_required(*events.EDITORS)
def attendance(event_id: int, registration_id: int):
    """Check one person in or out; htmx swaps the row, a plain form comes back to the page."""
    event = events.get_event(event_id)
    attended = request.form.get("attended") == "yes"
    try:
        [registration] = events.set_attendance(event.id, [registration_id], attended, current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        if htmx:
            return str(error), 422, {"Content-Type": "text/plain; charset=utf-8"}
        flash(str(error), "error")
        return redirect(url_for("events.show", event_id=event.id), 303)
    if htmx:
        return _registration_row(event, registration)
    return redirect(url_for("events.show", event_id=event.id) + "#registrations", 303)


@bp.post("/events/<int:event_id>/attendance")
@roles_required(*events.EDITORS)
def bulk_attendance(event_id: int):
    event = events.get_event(event_id)
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit() and len(i) < 10]
    if not ids:
        flash(_("Tick the people to mark."), "error")
        return redirect(url_for("events.show", event_id=event.id), 303)
    attended = request.form.get("attended") == "yes"
    try:
        rows = events.set_attendance(event.id, ids, attended, current_user, _now())
        flash((_("%(num)s marked as attended.", num=len(rows)) if attended
               else _("%(num)s marked as not attended.", num=len(rows))), "success")
    except ValidationError as error:
        db.session.rollback()
        flash(str(error), "error")
    return redirect(url_for("events.show", event_id=event.id) + "#registrations", 303)


@bp.post("/events/<int:event_id>/attendance/import")
@roles_required(*events.EDITORS)
def import_attendance(event_id: int):
    event = events.get_event(event_id)
    upload = request.files.get("file")
    errors = {}
    report = None
    try:
        data = upload.read(events.MAX_IMPORT_BYTES + 1) if upload is not None else b""
        report = events.import_attendance(event.id, data, current_user, _now())
    except ValidationError as error:
        db.session.rollback()
        errors = error.errors
    return render_template("events/show.html", event=event, row=events.summary(event),
                           registrations=events.registrations(event.id), can_edit=True,
                           public_url=events.page_url(_public_base(), event), now=_now(),
                           reg_label=events.registration_label, when=_staff_when(event), report=report,
                           import_errors=errors), 422 if errors else 200


@bp.post("/events/<int:event_id>/registrations/<int:registration_id>/cancel")
@roles_required(*events.EDITORS)
def cancel_registration(event_id: int, registration_id: int):
    event = events.get_event(event_id)
    registration = db.session.get(events.EventRegistration, registration_id)
    if registration is None or registration.event_id != event.id:
        return redirect(url_for("events.show", event_id=event.id), 303)
    events.cancel_registration(registration.id, current_user, _now())
    flash(_("Registration cancelled."), "success")
    return redirect(url_for("events.show", event_id=event.id) + "#registrations", 303)


# --- the public registration page ------------------------------------------------------------

def _language(event, registration=None) -> str:
    if registration is not None and registration.contact.language in events.LANGUAGES:
        return registration.contact.language
    wanted = request.args.get("lang")
    if wanted in events.LANGUAGES:
        return wanted
    return event.language if event.language in events.LANGUAGES else "en"


def _not_found() -> Response:
    return public._finish(Response(render_template("public/error.html", status=404, page=None), 404))


def _personal(event, token: str | None):
    """The registration a personal link names; an unknown or changed link counts as a miss (and
    gets the page without one)."""
    if not token:
        return None
    registration = events.registration_for_token(current_app.config["SECRET_KEY"], token, event)
    if registration is None:
        public.token_missed(request.remote_addr or "")
    return registration


def _too_many() -> bool:
    return public.too_many_token_misses(request.remote_addr or "") is not None


def _event_page(event, registration, status: int = 200, errors=None, form=None):
    now = _now()
    token = events.registration_token(current_app.config["SECRET_KEY"], registration.id) if registration else ""
    language = _language(event, registration)
    with force_locale(language):
        html = render_template(
            "public/event.html", event=event, registration=registration, token=token,
            page={"language": language}, when=events.when(event, language=language),
            seats=events.seats_left(event), over=event.ends_at <= now, errors=errors or {}, form=form or {},
            answer=request.args.get("answer", ""), done=request.args.get("done") == "1",
            consent_text=landing.default_settings("gated_form", language)["consent_text"],
            description=markup.render(event.description) if event.description else "")
    return public._finish(Response(html, status))


@bp.get("/e/<slug>")
def page(slug: str):
    event = events.event_by_slug(slug)
    if event is None:
        return _not_found()
    token = request.args.get("r")
    if token and _too_many():
        with force_locale(_language(event)):
            return public._finish(Response(render_template("public/error.html", status=429, page=None), 429,
                                           {"Retry-After": "600"}))
    return _event_page(event, _personal(event, token))


@bp.post("/e/<slug>")
@csrf.exempt  # public: no session to protect; the Origin check below stops cross-site posts
def answer(slug: str):
    event = events.event_by_slug(slug)
    if event is None:
        return _not_found()
    if not public._same_origin():
        return public._finish(Response(status=403))
    form = request.form
    secret = current_app.config["SECRET_KEY"]
    if form.get("r"):
        if _too_many():
            return public._finish(Response(status=429, headers={"Retry-After": "600"}))
        registration = _personal(event, form.get("r"))
        if registration is None:
            return _event_page(event, None)  # a changed link: the page anyone gets, nothing done
        try:
            events.respond(registration.id, form.get("answer", ""), _now())
        except (ValidationError, InvalidTransition):
            db.session.rollback()
            return _event_page(event, registration, 422)
        return public._finish(redirect(url_for("events.page", slug=event.slug, r=form["r"], done=1), 303))
    data = gating.GateInput(email=form.get("email", ""), first_name=form.get("first_name", ""),
                            last_name=form.get("last_name", ""), company=form.get("company", ""),
                            title=form.get("title", ""), consent=form.get("consent") == "yes",
                            website=form.get("website", ""))
    if data.website:  # the honeypot was filled: a bot; answer like a success, keep nothing
        return public._finish(redirect(url_for("events.page", slug=event.slug, done=1), 303))
    language = _language(event)
    try:
        with force_locale(language):
            registration, new_contact = events.register_visitor(
                event.id, data, landing.default_settings("gated_form", language)["consent_text"], _now())
    except (ValidationError, InvalidTransition) as error:
        db.session.rollback()
        errors = error.errors if isinstance(error, ValidationError) else {"__all__": [str(error)]}
        return _event_page(event, None, 422, errors=errors, form=form)
    if not new_contact:  # someone we knew: their personal link goes only to them, by email
        return public._finish(redirect(url_for("events.page", slug=event.slug, done=1), 303))
    token = events.registration_token(secret, registration.id)
    return public._finish(redirect(url_for("events.page", slug=event.slug, r=token, done=1), 303))


@bp.get("/e/<slug>/invite.ics")
def invite(slug: str):
    """"Add to calendar": the event as a file (PUBLISH), the online link in it only for someone
    registered."""
    event = events.event_by_slug(slug)
    if event is None:
        return _not_found()
    registration = _personal(event, request.args.get("r"))
    token = request.args.get("r") if registration is not None else None
    ics = events.calendar_bytes(event, registration, "PUBLISH", organizer=current_app.config["MAIL_FROM"],
                                now=_now(), page=events.page_url(_public_base(), event, token))
    response = Response(ics, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="invite.ics"'
    return public._finish(response)


def init_app(app) -> None:
    app.register_blueprint(bp)
