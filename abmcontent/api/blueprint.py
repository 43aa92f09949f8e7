"""One API resource's blueprint: token-authenticated, rate-limited, documented under its tag."""
from __future__ import annotations

from flask_smorest import Blueprint

from abmcontent.api import auth


def resource(tag: str, url_prefix: str, description: str) -> Blueprint:
    blp = Blueprint(tag, __name__, url_prefix="/api/v1" + url_prefix, description=description)
    blp.before_request(auth.authenticate)
    return blp
