"""Blueprints, authentication wiring and the one place domain errors become HTTP."""
from __future__ import annotations

from flask import Flask, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_htmx import make_response as htmx_response
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db, htmx, login_manager

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask) -> None:
    from abmcontent.web import (accounts, auth, deals, direct_mail, engagement, events, icp, imports, kpis,
                                landing_pages, library, lookalikes, news, pages, plans, public, webhooks)
    from abmcontent.web import api_tokens

    for blueprint in (auth.bp, pages.bp, library.bp, accounts.bp, icp.bp, imports.bp, landing_pages.bp, plans.bp,
                      plans.tasks_bp, plans.outbox_bp, public.bp, events.bp, direct_mail.bp, engagement.bp,
                      engagement.alerts_bp, news.bp, lookalikes.bp, deals.bp, kpis.bp, webhooks.bp,
                      api_tokens.bp):
        app.register_blueprint(blueprint)

    from abmcontent import markup, merge_fields
    from abmcontent.api import problems
    from abmcontent.web import reasons

    reasons.init_app(app)
    app.context_processor(engagement.unread_alerts)

    app.jinja_env.globals.update(
        render_markdown=markup.render, render_text=markup.render_text,
        merge_field_names=", ".join("{{ %s }}" % name for name in merge_fields.FIELDS),
    )

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(user_id: str):
        from abmcontent.models import User

        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    @login_manager.unauthorized_handler
    def unauthorized():
        target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        if htmx:
            return htmx_response(redirect=target)  # a fragment must not swap in the login page
        return redirect(target)

    @app.template_global()
    def url_with(**changes) -> str:
        """This page's URL with some query arguments changed (paging keeps the filters)."""
        args = request.args.to_dict()
        args.update(changes)
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CSP)
        if request.blueprint != "public" and current_user and getattr(current_user, "is_authenticated", False):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response

    def error_page(status: int, title: str, message: str, errors: dict | None = None, headers=None):
        if problems.is_api_request():  # the JSON API answers every error as problem details
            return problems.problem(status, message, errors=errors, headers=headers)
        if htmx and not htmx.boosted:
            return message, status, {"Content-Type": "text/plain; charset=utf-8"}
        try:
            return render_template("errors/error.html", status=status, title=title, message=message), status
        except Exception:  # the error page itself failed: still answer in words, never a traceback
            app.logger.exception("error page failed")
            return f"{title}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(NotFound)
    def not_found(error):
        return error_page(404, _("Not found"), str(error))

    @app.errorhandler(PermissionDenied)
    def forbidden(error):
        return error_page(403, _("Not allowed"), str(error))

    @app.errorhandler(InvalidTransition)
    def conflict(error):
        return error_page(409, _("That change is not possible"), str(error))

    @app.errorhandler(ValidationError)
    def invalid(error):
        return error_page(422, _("Please check what you entered"), str(error), errors=error.errors)

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return error_page(400, _("Your session has expired"),
                          _("This form was open too long or came from another site. "
                            "Reload the page and try again; nothing was changed."))

    @app.errorhandler(HTTPException)
    def http_error(error):
        if problems.is_api_request():
            return api_http_error(error)
        messages = {
            403: _("You do not have permission to do that."),
            404: _("We could not find that page."),
            405: _("That action is not available here."),
            413: _("The file is too large to upload."),
        }
        return error_page(error.code or 500, error.name,
                          messages.get(error.code, _("Something about that request was not right.")))

    def api_http_error(error: HTTPException):
        """webargs' 422 carries field messages in error.data; abort(403, "…") a sentence."""
        messages = {
            400: _("The request could not be read. Send a JSON object with Content-Type: application/json."),
            401: _("Send a valid API token in the Authorization header."),
            403: _("You do not have permission to do that."),
            404: _("There is nothing at this address."),
            405: _("That method is not available here."),
            413: _("The request is too large."),
            415: _("Send JSON with Content-Type: application/json."),
            422: _("Some fields are not valid. Nothing was changed."),
        }
        code = error.code or 500
        data = getattr(error, "data", None) or {}
        custom = error.description if error.description and error.description != type(error).description else ""
        headers = dict(error.get_headers()) if code in (405, 429) else {}
        headers.pop("Content-Type", None)
        return problems.problem(code, custom or messages.get(code, error.name), errors=data.get("messages"),
                                headers=headers)

    @app.errorhandler(Exception)
    def server_error(error):
        app.logger.exception("unhandled error")
        db.session.rollback()
        return error_page(500, _("Something went wrong"),
                          _("An unexpected error happened on our side. Nothing you entered was "
                            "saved twice; try again, and tell your administrator if it persists."))
