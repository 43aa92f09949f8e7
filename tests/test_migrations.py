"""The schema is only ever created by migrations, and they agree with the models."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from abmcontent.extensions import db
from abmcontent.models.base import include_object, render_item


def _differences():
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "render_item": render_item, "include_object": include_object})
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(any_db_app):
    assert _differences() == []


def test_migrations_downgrade_to_nothing_and_back(any_db_app):
    downgrade(revision="base")
    tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    assert _differences() == []
