"""Full-text index for library search: FTS5 trigram on SQLite, pg_trgm GIN on PostgreSQL.

Both answer "contains this text" (Korean included) from an index instead of reading
every body. On SQLite the index is an external-content FTS5 table kept in step by
triggers: a later batch migration that rebuilds `assets` must re-create them
(tests/test_library_search.py fails if it does not).

Revision ID: 0002_search_index
Revises: 0001_foundation
"""
from alembic import op

revision = "0002_search_index"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE asset_search USING fts5(search_text, content='assets', content_rowid='id', tokenize='trigram')",
    "INSERT INTO asset_search(rowid, search_text) SELECT id, search_text FROM assets",
    """CREATE TRIGGER asset_search_insert AFTER INSERT ON assets BEGIN
         INSERT INTO asset_search(rowid, search_text) VALUES (new.id, new.search_text);
       END""",
    """CREATE TRIGGER asset_search_delete AFTER DELETE ON assets BEGIN
         INSERT INTO asset_search(asset_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
       END""",
    """CREATE TRIGGER asset_search_update AFTER UPDATE OF search_text ON assets BEGIN
         INSERT INTO asset_search(asset_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
         INSERT INTO asset_search(rowid, search_text) VALUES (new.id, new.search_text);
       END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS asset_search_update",
    "DROP TRIGGER IF EXISTS asset_search_delete",
    "DROP TRIGGER IF EXISTS asset_search_insert",
    "DROP TABLE IF EXISTS asset_search",
]


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_assets_search_trgm ON assets USING gin (search_text gin_trgm_ops)")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_assets_search_trgm")
