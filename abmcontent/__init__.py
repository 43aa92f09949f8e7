"""abmcontent: an account-based marketing server."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from abmcontent.config import PROJECT_ROOT, Defaults, from_environment


def create_app(config: dict | None = None) -> Flask:
    """Build the app. Never starts the scheduler and never touches the schema."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(Defaults)
    app.config.from_pyfile("settings.py", silent=True)
    if config and "instance_path" in config:
        app.instance_path = config["instance_path"]
    app.config.update(from_environment(app.instance_path))
    app.config.update(config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from abmcontent import extensions, i18n, models  # noqa: F401  (models register tables)

    from abmcontent.models.base import include_object, render_item

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # a server database may drop idle connections: test each on checkout. An embedded SQLite
        # file cannot, and that extra SELECT 1 would be a tenth of a landing page's time.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(PROJECT_ROOT / "migrations"),
                                render_as_batch=True, compare_type=True,
                                render_item=render_item, include_object=include_object)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from sqlalchemy import event

        with app.app_context():
            event.listen(extensions.db.engine, "connect", extensions.sqlite_pragmas)
    extensions.htmx.init_app(app)
    extensions.csrf.init_app(app)
    extensions.babel.init_app(app, locale_selector=i18n.select_locale,
                              timezone_selector=i18n.select_timezone)
    i18n.init_app(app)

    from abmcontent import tracking

    tracking.init_app(app)

    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from abmcontent import web

    web.init_app(app)

    from abmcontent import api

    api.init_app(app)

    from abmcontent import cli

    cli.init_app(app)
    return app
