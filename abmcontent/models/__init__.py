"""All models, imported so Alembic and the app see every table."""
from abmcontent.models.accounts import Account, Contact
from abmcontent.models.library import Asset, AssetFile, AssetRevision, AssetTag, AssetTransition
from abmcontent.models.users import ROLES, User

__all__ = [
    "Account", "Contact", "Asset", "AssetFile", "AssetRevision", "AssetTag",
    "AssetTransition", "ROLES", "User",
]
