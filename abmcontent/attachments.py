"""Files attached to assets (e.g. a PDF whitepaper).

Stored outside any static path under a random name; served only as downloads
(Content-Disposition: attachment, nosniff), so an uploaded SVG or HTML file never
runs in our origin (SECURITY.md, uploads).
"""
from __future__ import annotations

import hashlib
import mimetypes
import secrets
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from flask_babel import gettext as _

from abmcontent import library
from abmcontent.errors import NotFound, ValidationError
from abmcontent.extensions import db
from abmcontent.models import AssetFile, User


def attach(asset_id: int, filename: str, stream: BinaryIO, user: User | None, now: datetime,
           folder: str, allowed_extensions: tuple[str, ...], max_bytes: int) -> AssetFile:
    library.require_editor(user)
    asset = library.get_asset(asset_id)
    original = Path(filename or "").name.replace("\x00", "").strip()[:255]
    extension = Path(original).suffix.lower()
    if not original:
        raise ValidationError({"file": [_("Choose a file to attach.")]})
    if extension not in allowed_extensions:
        raise ValidationError({"file": [_("Files of type “%(ext)s” cannot be attached. Allowed: %(allowed)s.",
                                          ext=extension or "?", allowed=", ".join(allowed_extensions))]})
    target_dir = Path(folder)
    target_dir.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16)
    target = target_dir / stored_name
    digest, size = hashlib.sha256(), 0
    try:
        with open(target, "xb") as out:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > max_bytes:
                    raise ValidationError({"file": [_("The file is larger than %(mb)d MB.",
                                                      mb=max_bytes // (1024 * 1024))]})
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError({"file": [_("The file is empty.")]})
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    record = AssetFile(
        asset=asset, original_name=original, stored_name=stored_name,
        content_type=mimetypes.guess_type(original)[0] or "application/octet-stream",
        size=size, sha256=digest.hexdigest(), uploaded_by_id=user.id if user else None,
        uploaded_at=now,
    )
    db.session.add(record)
    db.session.commit()
    return record


def get_file(asset_id: int, file_id: int, folder: str) -> tuple[AssetFile, Path]:
    record = db.session.get(AssetFile, file_id)
    if record is None or record.asset_id != asset_id:
        raise NotFound(_("That file does not exist."))
    path = Path(folder) / record.stored_name
    if not path.is_file():
        raise NotFound(_("That file is missing from storage."))
    return record, path


def remove(asset_id: int, file_id: int, user: User | None, folder: str) -> None:
    library.require_editor(user)
    record, path = get_file(asset_id, file_id, folder)
    db.session.delete(record)
    db.session.commit()
    path.unlink(missing_ok=True)
