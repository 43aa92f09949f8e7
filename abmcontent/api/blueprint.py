"""One API resource's blueprint: token-authenticated, rate-limited, documented under its tag."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import ValidationError

from abmcontent.api import auth


def resource(tag: str, url_prefix: str, description: str) -> Blueprint:
    blp = Blueprint(tag, __name__, url_prefix="/api/v1" + url_prefix, description=description)
    blp.before_request(auth.authenticate)
    blp.after_request(auth.rate_headers)
    return blp


# Path ids: a werkzeug int bounded to what the database stores, so a huge id is a 404, never an overflow.
ID = "int(min=1, max=2147483647)"


def no_nul(value: str) -> None:
    """A string validator: PostgreSQL text cannot hold NUL, so "\\x00" is a 422, never a 500."""
    if "\x00" in value:
        raise ValidationError(_("Remove the NUL character (\\u0000)."))
