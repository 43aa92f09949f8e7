"""A library version number that triggers bump on every change to assets or their tags.

matching.index_for_app() rebuilds its in-memory index when the published library changed.
Asking "did it change?" with aggregates over the assets costs ~1 ms at 2,000 assets, on every
recommendation; reading one number kept current by the database itself costs microseconds and
cannot miss a change, whichever code path (or plain SQL) made it.

Like the FTS5 triggers of 0002: a later batch migration that rebuilds `assets` or `asset_tags`
on SQLite drops these triggers and must re-create them (tests/test_matching.py fails if not).

Revision ID: 0006_library_version
Revises: 0005_landing
"""
from alembic import op

revision = "0006_library_version"
down_revision = "0005_landing"
branch_labels = None
depends_on = None

# Only changes that touch a published asset count: editing a draft must not make the next
# recommendation rebuild the whole index.
SQLITE_TRIGGERS = {
    "assets_version_insert": "AFTER INSERT ON assets WHEN new.status = 'published'",
    "assets_version_update": "AFTER UPDATE ON assets WHEN old.status = 'published' OR new.status = 'published'",
    "assets_version_delete": "AFTER DELETE ON assets WHEN old.status = 'published'",
    "asset_tags_version_insert": "AFTER INSERT ON asset_tags WHEN "
                                 "(SELECT status FROM assets WHERE id = new.asset_id) = 'published'",
    "asset_tags_version_delete": "AFTER DELETE ON asset_tags WHEN "
                                 "(SELECT status FROM assets WHERE id = old.asset_id) = 'published'",
}
PG_FUNCTIONS = {
    "bump_library_version_assets": """
        BEGIN
          IF (TG_OP <> 'INSERT' AND OLD.status = 'published') OR (TG_OP <> 'DELETE' AND NEW.status = 'published') THEN
            UPDATE library_version SET n = n + 1 WHERE id = 1;
          END IF;
          RETURN NULL;
        END""",
    "bump_library_version_tags": """
        DECLARE changed_asset integer;
        BEGIN
          IF TG_OP = 'DELETE' THEN changed_asset := OLD.asset_id; ELSE changed_asset := NEW.asset_id; END IF;
          IF (SELECT status FROM assets WHERE id = changed_asset) = 'published' THEN
            UPDATE library_version SET n = n + 1 WHERE id = 1;
          END IF;
          RETURN NULL;
        END""",
}
PG_TRIGGERS = {"assets_version": ("assets", "bump_library_version_assets"),
               "asset_tags_version": ("asset_tags", "bump_library_version_tags")}


def upgrade():
    op.execute("CREATE TABLE library_version (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
    op.execute("INSERT INTO library_version (id, n) VALUES (1, 0)")
    if op.get_bind().dialect.name == "sqlite":
        for name, when in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN UPDATE library_version SET n = n + 1 WHERE id = 1; END")
    else:
        for name, body in PG_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger AS $$ {body} $$ LANGUAGE plpgsql")
        for name, (table, function) in PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {function}()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, (table, _function) in PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute("DROP TABLE library_version")
