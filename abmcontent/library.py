"""The content library: create, edit, tag, find, review and publish assets.

Plain arguments in, models or dataclasses out; errors are domain errors.
"""
from __future__ import annotations

import difflib
import re
import secrets
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Integer, and_, case, func, select, text
from sqlalchemy.orm import aliased, defer

from abmcontent import merge_fields, taxonomy
from abmcontent.paging import Page, clamp
from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Asset, AssetRevision, AssetTag, AssetTransition, User

# The workflow: (from, to) → the roles that may make that move. admin may make every move.
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("draft", "review"): ("marketer",),
    ("review", "draft"): ("marketer",),
    ("review", "published"): ("marketer",),
    ("published", "draft"): ("marketer",),
    ("published", "archived"): ("marketer",),
    ("archived", "draft"): ("marketer",),
}
EDITOR_ROLES = ("marketer",)
FIELD_OF_TAG = {"stage": "stages", "persona": "personas", "industry": "industries"}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_BODY = 200_000
SORTS = {  # allow-list: request values never reach ORDER BY
    "updated": (Asset.updated_at.desc(), Asset.id.desc()),
    "title": (Asset.title.asc(), Asset.id.asc()),
    "type": (Asset.type.asc(), Asset.title.asc()),
}


class EditConflict(ValidationError):
    """Someone saved the asset after the revision an edit started from."""


@dataclass
class AssetInput:
    """What an author edits: everything but the workflow status."""

    title: str = ""
    slug: str = ""
    type: str = "article"
    language: str = "en"
    summary: str = ""
    body: str = ""
    gated: bool = False
    cta_label: str = ""
    cta_url: str = ""
    stages: list[str] = field(default_factory=list)
    personas: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, asset: Asset) -> "AssetInput":
        return cls(
            title=asset.title, slug=asset.slug, type=asset.type, language=asset.language,
            summary=asset.summary, body=asset.body, gated=asset.gated,
            cta_label=asset.cta_label, cta_url=asset.cta_url,
            stages=asset.stages, personas=asset.personas, industries=asset.industries,
        )

    def snapshot(self) -> dict:
        data = asdict(self)
        for kind in ("stages", "personas", "industries"):
            data[kind] = sorted(set(data[kind]))
        return data


@dataclass
class LibraryFilters:
    stage: str = ""
    persona: str = ""
    industry: str = ""
    type: str = ""
    status: str = ""  # "" = everything but archived; "any" = everything
    language: str = ""
    q: str = ""
    sort: str = "updated"
    page: int = 1

    def active(self) -> bool:
        return any([self.stage, self.persona, self.industry, self.type, self.status,
                    self.language, self.q.strip()])


@dataclass
class Coverage:
    stages: tuple[str, ...]
    personas: tuple[str, ...]
    counts: dict[tuple[str, str], int]

    def count(self, stage: str, persona: str) -> int:
        return self.counts.get((stage, persona), 0)

    @property
    def gaps(self) -> int:
        return sum(1 for s in self.stages for p in self.personas if not self.count(s, p))


@dataclass
class DiffRow:
    kind: str  # equal, insert, delete, gap
    old_no: int | None
    new_no: int | None
    text: str


@dataclass
class FieldChange:
    field: str
    old: str
    new: str


@dataclass
class RevisionDiff:
    revision: AssetRevision
    previous: AssetRevision | None
    changes: list[FieldChange]
    body: list[DiffRow]


def normalise(text: str) -> str:
    """What search compares: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return slug or f"asset-{secrets.token_hex(4)}"


def _safe_url(url: str) -> bool:
    if url.startswith("/") and not url.startswith("//"):
        return True
    return bool(re.match(r"^(https?://[^\s]+|mailto:[^\s]+)$", url, re.I))


def validate(data: AssetInput, asset_id: int | None = None) -> dict[str, list[str]]:
    """Field errors for data, in the author's words; an empty dict means it can be saved."""
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not data.title.strip():
        add("title", _("Give the asset a title."))
    elif len(data.title) > 300:
        add("title", _("Keep the title under 300 characters."))
    if not SLUG_RE.match(data.slug) or len(data.slug) > 120:
        add("slug", _("Use lowercase letters, digits and hyphens only, e.g. “cloud-migration-guide”."))
    else:
        clash = db.session.scalar(select(Asset.id).where(Asset.slug == data.slug))
        if clash is not None and clash != asset_id:
            add("slug", _("Another asset already uses this slug."))
    if data.type not in taxonomy.ASSET_TYPES:
        add("type", _("Choose a content type."))
    if data.language not in taxonomy.CONTENT_LANGUAGES:
        add("language", _("Choose the content language."))
    if len(data.summary) > 1000:
        add("summary", _("Keep the summary under 1,000 characters."))
    if len(data.body) > MAX_BODY:
        add("body", _("The body is too long (at most 200,000 characters)."))
    if not data.stages:
        add("stages", _("Tag at least one journey stage."))
    if not data.personas:
        add("personas", _("Tag at least one persona."))
    for kind, values in (("stage", data.stages), ("persona", data.personas),
                         ("industry", data.industries)):
        unknown = sorted(set(values) - set(taxonomy.tag_values(kind)))
        if unknown:
            add(FIELD_OF_TAG[kind], _("Unknown value: %(values)s.", values=", ".join(unknown)))
    if data.cta_url and not _safe_url(data.cta_url.strip()):
        add("cta_url", _("The call-to-action link must start with https://, http://, mailto: or /."))
    if data.cta_url and not data.cta_label.strip():
        add("cta_label", _("Give the call to action a label."))
    for name in ("title", "summary", "body", "cta_label"):
        for problem in merge_fields.validate(getattr(data, name)):
            add(name, str(problem))
    return errors


def get_asset(asset_id: int) -> Asset:
    asset = db.session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(_("That asset does not exist."))
    return asset


def require_editor(user: User | None) -> None:
    if user is not None and not user.has_role(*EDITOR_ROLES):
        raise PermissionDenied(_("Only content marketers can change the library."))


def clean(data: AssetInput) -> AssetInput:
    data.title = data.title.strip()
    data.slug = (data.slug.strip().lower() or slugify(data.title))
    data.summary = data.summary.strip()
    data.body = data.body.replace("\r\n", "\n")
    data.cta_label = data.cta_label.strip()
    data.cta_url = data.cta_url.strip()
    return data


def _apply(asset: Asset, data: AssetInput) -> None:
    for name in ("title", "slug", "type", "language", "summary", "body", "gated",
                 "cta_label", "cta_url"):
        setattr(asset, name, getattr(data, name))
    wanted = {("stage", v) for v in data.stages} | {("persona", v) for v in data.personas} \
        | {("industry", v) for v in data.industries}
    asset.tags = [t for t in asset.tags if (t.kind, t.value) in wanted] + [
        AssetTag(kind=k, value=v) for k, v in sorted(wanted)
        if (k, v) not in {(t.kind, t.value) for t in asset.tags}
    ]
    asset.search_text = normalise(" ".join([data.title, data.summary, data.body]))


def _revise(asset: Asset, user_id: int | None, now: datetime, note: str) -> AssetRevision:
    number = (db.session.scalar(
        select(func.max(AssetRevision.number)).where(AssetRevision.asset_id == asset.id)) or 0) + 1
    revision = AssetRevision(asset=asset, number=number, snapshot=AssetInput.of(asset).snapshot(),
                             note=note[:300], author_id=user_id, created_at=now)
    db.session.add(revision)
    return revision


def current_revision(asset: Asset) -> int:
    return db.session.scalar(
        select(func.max(AssetRevision.number)).where(AssetRevision.asset_id == asset.id)) or 0


def create_asset(data: AssetInput, user: User | None, now: datetime, status: str = "draft",
                 note: str = "") -> Asset:
    require_editor(user)
    data = clean(data)
    errors = validate(data)
    if errors:
        raise ValidationError(errors)
    user_id = user.id if user else None
    asset = Asset(status="draft", created_at=now, updated_at=now, created_by_id=user_id,
                  updated_by_id=user_id)
    _apply(asset, data)
    db.session.add(asset)
    db.session.flush()
    _revise(asset, user_id, now, note or _("Created"))
    if status != "draft":  # e.g. a published file from content/: the history says how it got there
        record_transition(asset, status, user_id, now, note)
    db.session.commit()
    return asset


def update_asset(asset_id: int, data: AssetInput, user: User | None, now: datetime,
                 note: str = "", base_revision: int | None = None) -> Asset:
    """Save an edit as a new revision; an edit identical to the current state saves nothing.

    base_revision is the revision the author started from: if someone saved since,
    the edit is refused (the author's text stays in their form) rather than overwriting theirs.
    """
    require_editor(user)
    asset = get_asset(asset_id)
    data = clean(data)
    errors = validate(data, asset_id=asset.id)
    if errors:
        raise ValidationError(errors)
    if base_revision is not None and base_revision != current_revision(asset):
        raise EditConflict(_(
            "Someone else saved this asset while you were editing. Your text is still here: "
            "copy it, reload the asset, and apply your changes again."))
    if data.snapshot() == AssetInput.of(asset).snapshot():
        return asset
    _apply(asset, data)
    asset.updated_at = now
    asset.updated_by_id = user.id if user else None
    _revise(asset, asset.updated_by_id, now, note)
    db.session.commit()
    return asset


def set_tag(asset_id: int, kind: str, value: str, present: bool, user: User | None,
            now: datetime) -> Asset:
    """Add or remove one tag in place: a save like any other, with its revision."""
    asset = get_asset(asset_id)
    if kind not in taxonomy.TAG_KINDS:
        raise ValidationError({"tags": [_("Unknown tag kind.")]})
    data = AssetInput.of(asset)
    field_name = FIELD_OF_TAG[kind]
    values = set(getattr(data, field_name))
    values = values | {value} if present else values - {value}
    setattr(data, field_name, sorted(values))
    label = taxonomy.label(kind, value)
    note = _("Tagged %(tag)s", tag=label) if present else _("Untagged %(tag)s", tag=label)
    return update_asset(asset_id, data, user, now, note=note)


def allowed_transitions(asset: Asset, user: User | None) -> list[str]:
    return [to for (frm, to), roles in TRANSITIONS.items()
            if frm == asset.status and (user is None or user.has_role(*roles))]


def transition(asset_id: int, to_status: str, user: User | None, now: datetime,
               comment: str = "") -> Asset:
    """Move an asset through the workflow, recording who moved it and when."""
    asset = get_asset(asset_id)
    roles = TRANSITIONS.get((asset.status, to_status))
    if roles is None:
        raise InvalidTransition(_(
            "An asset that is %(current)s cannot be moved to %(target)s.",
            current=taxonomy.label("status", asset.status),
            target=taxonomy.label("status", to_status)))
    if user is not None and not user.has_role(*roles):
        raise PermissionDenied(_("Only content marketers can change the library."))
    if to_status == "published":
        errors = validate(AssetInput.of(asset), asset_id=asset.id)
        if errors:
            raise ValidationError(errors)
    record_transition(asset, to_status, user.id if user else None, now, comment)
    db.session.commit()
    return asset


def record_transition(asset: Asset, to_status: str, user_id: int | None, now: datetime,
                       comment: str) -> None:
    db.session.add(AssetTransition(asset=asset, from_status=asset.status, to_status=to_status,
                                   comment=comment[:500], user_id=user_id, at=now))
    asset.status = to_status
    if to_status == "published":
        asset.published_at = now


def _tag_filter(kind: str, value: str):
    return Asset.id.in_(select(AssetTag.asset_id).where(AssetTag.kind == kind, AssetTag.value == value))


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_conditions(terms: list[str], patterns: list[str]) -> list:
    """Every term must appear. On SQLite, terms of 3+ characters go through the FTS5 trigram
    index (migration 0002); shorter ones, and PostgreSQL (pg_trgm serves LIKE), use LIKE."""
    likes = [Asset.search_text.like(p, escape="\\") for p in patterns]
    if db.session.get_bind().dialect.name != "sqlite":
        return likes
    indexed = [t for t in terms if len(t) >= 3]
    if not indexed:
        return likes
    match = " AND ".join('"' + t.replace('"', '""') + '"' for t in indexed)
    fts = Asset.id.in_(text("SELECT rowid FROM asset_search WHERE asset_search MATCH :match")
                       .bindparams(match=match).columns(rowid=Integer))
    return [fts] + [like for term, like in zip(terms, likes) if len(term) < 3]


def search(filters: LibraryFilters, page_size: int = 25) -> Page:
    """Assets matching every filter; free text matches all words anywhere, title hits first."""
    conditions = []
    if filters.status == "any":
        pass
    elif filters.status in taxonomy.STATUSES:
        conditions.append(Asset.status == filters.status)
    else:
        conditions.append(Asset.status != "archived")
    if filters.type in taxonomy.ASSET_TYPES:
        conditions.append(Asset.type == filters.type)
    if filters.language in taxonomy.CONTENT_LANGUAGES:
        conditions.append(Asset.language == filters.language)
    for kind in taxonomy.TAG_KINDS:
        value = getattr(filters, kind)
        if value:
            conditions.append(_tag_filter(kind, value))
    terms = normalise(filters.q).split()[:8]
    order = list(SORTS.get(filters.sort, SORTS["updated"]))
    if terms:
        patterns = [f"%{_like_escape(t)}%" for t in terms]
        conditions += _text_conditions(terms, patterns)
        title_hit = case((func.lower(Asset.title).like(patterns[0], escape="\\"), 0), else_=1)
        if filters.sort not in ("title", "type"):
            order.insert(0, title_hit)
    where = and_(*conditions) if conditions else True
    # One scan yields the ordered ids (total included); matching free text is the costly part,
    # so the text is read once and only the page's rows are loaded whole.
    ids = db.session.scalars(select(Asset.id).where(where).order_by(*order)).all()
    total = len(ids)
    page = clamp(filters.page, total, page_size)
    page_ids = ids[(page - 1) * page_size: page * page_size]
    loaded = {a.id: a for a in db.session.scalars(select(Asset).where(Asset.id.in_(page_ids)))} if page_ids else {}
    return Page(items=[loaded[i] for i in page_ids], total=total, page=page, page_size=page_size)


def coverage(language: str = "") -> Coverage:
    """Published assets per journey stage × persona: where the library has gaps."""
    stage, persona = aliased(AssetTag), aliased(AssetTag)
    query = (
        select(stage.value, persona.value, func.count(func.distinct(Asset.id)))
        .join(stage, and_(stage.asset_id == Asset.id, stage.kind == "stage"))
        .join(persona, and_(persona.asset_id == Asset.id, persona.kind == "persona"))
        .where(Asset.status == "published")
        .group_by(stage.value, persona.value)
    )
    if language:
        query = query.where(Asset.language == language)
    counts = {(s, p): n for s, p, n in db.session.execute(query)}
    return Coverage(stages=taxonomy.stages(), personas=taxonomy.personas(), counts=counts)


def revisions(asset_id: int):
    """The asset's revisions, newest first, without their snapshots: a select() to page through."""
    get_asset(asset_id)
    return (select(AssetRevision).where(AssetRevision.asset_id == asset_id)
            .order_by(AssetRevision.number.desc()).options(defer(AssetRevision.snapshot)))


def get_revision(asset_id: int, number: int) -> AssetRevision:
    revision = db.session.scalar(select(AssetRevision).where(
        AssetRevision.asset_id == asset_id, AssetRevision.number == number))
    if revision is None:
        raise NotFound(_("That revision does not exist."))
    return revision


def _as_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def diff(asset_id: int, number: int, context: int = 3) -> RevisionDiff:
    """What revision `number` changed against the one before it, line by line for the body."""
    revision = get_revision(asset_id, number)
    previous = None
    if number > 1:
        previous = db.session.scalar(select(AssetRevision).where(
            AssetRevision.asset_id == asset_id, AssetRevision.number < number
        ).order_by(AssetRevision.number.desc()).limit(1))
    old = previous.snapshot if previous else {}
    new = revision.snapshot
    changes = [FieldChange(name, _as_text(old.get(name, "")), _as_text(new.get(name, "")))
               for name in AssetInput().snapshot() if name != "body"
               and _as_text(old.get(name, "")) != _as_text(new.get(name, ""))]
    old_lines = (old.get("body") or "").split("\n") if old else []
    new_lines = (new.get("body") or "").split("\n")
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        if index:
            rows.append(DiffRow("gap", None, None, "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [DiffRow("equal", i1 + k + 1, j1 + k + 1, old_lines[i1 + k]) for k in range(i2 - i1)]
                continue
            if tag in ("replace", "delete"):
                rows += [DiffRow("delete", i + 1, None, old_lines[i]) for i in range(i1, i2)]
            if tag in ("replace", "insert"):
                rows += [DiffRow("insert", None, j + 1, new_lines[j]) for j in range(j1, j2)]
    return RevisionDiff(revision=revision, previous=previous, changes=changes, body=rows)


def restore(asset_id: int, number: int, user: User | None, now: datetime) -> Asset:
    """Make an old revision current again, as a new revision: history is never rewritten."""
    revision = get_revision(asset_id, number)
    snapshot = dict(revision.snapshot)
    data = AssetInput(**{k: snapshot.get(k, getattr(AssetInput(), k)) for k in AssetInput().snapshot()})
    return update_asset(asset_id, data, user, now, note=_("Restored revision %(number)d", number=number))
