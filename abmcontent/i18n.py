"""Which language a page speaks: the user's choice, else the browser's Accept-Language."""
from __future__ import annotations

from babel.numbers import format_compact_decimal
from flask import current_app, has_request_context, request, session
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from flask_login import current_user

from abmcontent import taxonomy


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, scheduler, tests of the domain: the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def init_app(app) -> None:
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": format_datetime(value, fmt) if value else ""
    app.jinja_env.filters["date"] = lambda value, fmt="medium": format_date(value, fmt) if value else ""
    app.jinja_env.filters["number"] = format_decimal
    app.jinja_env.globals["label"] = taxonomy.label
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["taxonomy"] = taxonomy
    app.jinja_env.globals["role_label"] = lambda role: taxonomy.label("role", role)
    app.jinja_env.filters["compact_money"] = lambda value: format_compact_decimal(
        value, locale=get_locale(), fraction_digits=1) if value is not None else ""
    app.jinja_env.globals["target_label"] = lambda status: taxonomy.label("target", status)
    app.jinja_env.globals["region_options"] = taxonomy.region_options
    app.jinja_env.policies["ext.i18n.trimmed"] = True
