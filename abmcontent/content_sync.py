"""Load the markdown library in content/ into the database, idempotently.

Each file is checked and saved on its own: one bad file is reported with its
reason and never stops the others. A file whose bytes have not changed since the
last sync is left alone, so edits made in the UI survive until the file changes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import frontmatter
import yaml
from sqlalchemy import select

from abmcontent import library, taxonomy
from abmcontent.errors import DomainError, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Asset

KEYS = {"title", "slug", "type", "stages", "personas", "industries", "language", "status",
        "summary", "gate", "cta"}
REQUIRED = {"title", "type", "stages", "personas", "language", "status"}
MAX_FILE_BYTES = 1_000_000


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.invalid


class InvalidFile(Exception):
    pass


def _as_list(meta: dict, key: str) -> list[str]:
    value = meta.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidFile(f"'{key}' must be a list of names")
    return [v.strip() for v in value]


def parse(text: str, stem: str) -> tuple[library.AssetInput, str]:
    """Front matter and body → (what the author wrote, its status); InvalidFile says why not."""
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        raise InvalidFile(f"front matter is not valid YAML{where}: {getattr(error, 'problem', error)}")
    meta = post.metadata
    if not meta:
        raise InvalidFile("no front matter: the file must start with a '---' block")
    unknown = set(meta) - KEYS
    if unknown:
        raise InvalidFile(f"unknown key(s): {', '.join(sorted(unknown))}")
    missing = REQUIRED - set(meta)
    if missing:
        raise InvalidFile(f"missing key(s): {', '.join(sorted(missing))}")
    status = str(meta["status"])
    if status not in taxonomy.STATUSES:
        raise InvalidFile(f"status '{status}' is not one of {', '.join(taxonomy.STATUSES)}")
    cta = meta.get("cta") or {}
    if not isinstance(cta, dict):
        raise InvalidFile("'cta' must have a label and a url")
    gate = meta.get("gate", False)
    if not isinstance(gate, bool):
        raise InvalidFile("'gate' must be true or false")
    data = library.AssetInput(
        title=str(meta["title"]), slug=str(meta.get("slug") or stem), type=str(meta["type"]),
        language=str(meta["language"]), summary=str(meta.get("summary") or ""),
        body=post.content, gated=gate,
        cta_label=str(cta.get("label") or ""), cta_url=str(cta.get("url") or ""),
        stages=_as_list(meta, "stages"), personas=_as_list(meta, "personas"),
        industries=_as_list(meta, "industries"),
    )
    return data, status


def _describe(error: ValidationError) -> str:
    return "; ".join(f"{name}: {message}" for name, messages in error.errors.items()
                     for message in messages)


def sync(folder: str | Path, now: datetime, dry_run: bool = False) -> SyncReport:
    folder = Path(folder)
    report = SyncReport()
    if not folder.is_dir():
        report.invalid.append((str(folder), "folder not found"))
        return report
    seen: dict[str, str] = {}
    for path in sorted(folder.rglob("*.md")):
        name = str(path.relative_to(folder))
        try:
            raw = path.read_bytes()
            if len(raw) > MAX_FILE_BYTES:
                raise InvalidFile("file is larger than 1 MB")
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InvalidFile("not UTF-8 text")
            data, status = parse(text, path.stem)
            slug = data.slug.strip().lower()
            if slug in seen:
                raise InvalidFile(f"slug '{slug}' is already used by {seen[slug]}")
            seen[slug] = name
            _sync_one(name, data, status, hashlib.sha256(raw).hexdigest(), now, report, dry_run)
        except InvalidFile as error:
            db.session.rollback()
            report.invalid.append((name, str(error)))
        except ValidationError as error:
            db.session.rollback()
            report.invalid.append((name, _describe(error)))
        except (DomainError, OSError) as error:
            db.session.rollback()
            report.invalid.append((name, str(error)))
    return report


def _sync_one(name: str, data: library.AssetInput, status: str, digest: str, now: datetime,
              report: SyncReport, dry_run: bool) -> None:
    asset = db.session.scalar(select(Asset).where(Asset.slug == data.slug.strip().lower()))
    if asset is not None and asset.source_hash == digest:
        report.unchanged.append(name)
        return
    if dry_run:
        errors = library.validate(library.clean(data), asset_id=asset.id if asset else None)
        if errors:
            raise ValidationError(errors)
        (report.updated if asset else report.added).append(name)
        return
    if asset is None:
        asset = library.create_asset(data, None, now, status=status, note=f"content sync: {name}")
        report.added.append(name)
    else:
        library.update_asset(asset.id, data, None, now, note=f"content sync: {name}")
        if asset.status != status:
            library.record_transition(asset, status, None, now, f"content sync: {name}")
        report.updated.append(name)
    asset.source_path = name
    asset.source_hash = digest
    db.session.commit()
