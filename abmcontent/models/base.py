"""Column helpers shared by the models."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware UTC datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def render_item(type_, obj, autogen_context):
    """Alembic autogenerate: write UTCDateTime as a plain DateTime so migrations never import models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


# Database objects that migrations manage by hand (search indexes, the library version), outside the models.
UNMODELLED_PREFIXES = ("asset_search", "ix_assets_search_trgm", "library_version")


def include_object(obj, name, type_, reflected, compare_to):
    """Alembic autogenerate: leave the hand-made search index alone."""
    return not (reflected and compare_to is None and name and name.startswith(UNMODELLED_PREFIXES))
