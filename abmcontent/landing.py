"""Landing pages: built from sections by content marketers, composed per visitor.

A page is an ordered list of sections (SECTION_KINDS). ``compose(page, visit, now)`` decides,
for one visitor, what each section shows and why — the same call serves the public page and the
admin preview, so the preview's "why" is the truth about the public page.

Holdout: identified visitors are split by a keyed hash of (page, contact or account) into
"personalized" and "control" (``holdout_percent`` of them); the control group gets the generic
page. The split is sticky: one person always lands in the same group, on every worker.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from abmcontent import matching, merge_fields, taxonomy
from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.identification import Identification
from abmcontent.models import (Account, Asset, Contact, EngagementEvent, LandingPage, LandingSection,
                               User)
from abmcontent.models.engagement import CONSUMED_TYPES
from abmcontent.users import EMAIL_RE

SECTION_KINDS = ("hero", "recommended", "case_study", "owner_card", "cta", "gated_form")
STATUSES = ("draft", "published", "archived")
TRANSITIONS = {("draft", "published"), ("published", "draft"), ("draft", "archived"),
               ("published", "archived"), ("archived", "draft")}
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$")
MAX_SECTIONS = 20

# What a new section holds, per page language. Authors edit all of it.
_DEFAULTS = {
    "en": {
        "hero": {"headline": 'Data infrastructure for {{ account.name | "growing teams" }}',
                 "text": 'Hi {{ contact.first_name | "there" }} — we picked these for '
                         '{{ account.name | "teams like yours" }}.'},
        "recommended": {"heading": "Picked for you", "count": 3, "stage": ""},
        "case_study": {"heading": "How a team like yours did it"},
        "owner_card": {"heading": "Your contact at Cobalt Data", "fallback_name": "",
                       "fallback_email": ""},
        "cta": {"heading": "Next step", "default_label": "Talk to us",
                "default_url": "https://cobaltdata.example/contact", "stages": {}},
        "gated_form": {"heading": "Get the full report", "asset_id": None, "button": "Send me the report",
                       "consent_text": "I agree that Cobalt Data may email me about its products and "
                                       "events. I can unsubscribe at any time."},
    },
    "ko": {
        "hero": {"headline": '{{ account.name | "성장하는 팀" }}을 위한 데이터 인프라',
                 "text": '{{ contact.first_name | "고객" }}님, {{ account.name | "귀사" }}에 맞는 자료를 골랐습니다.'},
        "recommended": {"heading": "추천 자료", "count": 3, "stage": ""},
        "case_study": {"heading": "비슷한 기업의 사례"},
        "owner_card": {"heading": "Cobalt Data 담당자", "fallback_name": "", "fallback_email": ""},
        "cta": {"heading": "다음 단계", "default_label": "상담 신청",
                "default_url": "https://cobaltdata.example/contact", "stages": {}},
        "gated_form": {"heading": "보고서 전문 받기", "asset_id": None, "button": "보고서 받기",
                       "consent_text": "Cobalt Data가 제품 및 행사 소식을 이메일로 보내는 데 동의합니다. "
                                       "언제든지 수신을 거부할 수 있습니다."},
    },
}


def default_settings(kind: str, language: str) -> dict:
    import copy

    return copy.deepcopy(_DEFAULTS.get(language, _DEFAULTS["en"])[kind])


# --- editing -----------------------------------------------------------------------------------

def can_edit(user: User | None) -> bool:
    return user is not None and user.has_role("marketer", "campaign")


def _require_editor(user: User | None) -> None:
    if not can_edit(user):
        raise PermissionDenied(_("Only content marketers and campaign managers can edit landing pages."))


@dataclass
class PageInput:
    title: str = ""
    slug: str = ""
    language: str = "en"
    holdout_percent: str = "10"


def _one_line(value: str) -> bool:
    return not any(ch in value for ch in "\r\n\x00")


def validate_page(data: PageInput, page_id: int | None = None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    title = data.title.strip()
    if not title:
        errors["title"] = [_("Give the page a name.")]
    elif len(title) > 200 or not _one_line(title):
        errors["title"] = [_("Keep the name on one line, under 200 characters.")]
    slug = data.slug.strip().lower()
    if not SLUG_RE.match(slug):
        errors["slug"] = [_("Use lower-case letters, digits and hyphens, e.g. “data-platform-2026”.")]
    else:
        taken = db.session.scalar(select(LandingPage.id).where(LandingPage.slug == slug))
        if taken is not None and taken != page_id:
            errors["slug"] = [_("Another landing page already uses this address.")]
    if data.language not in taxonomy.CONTENT_LANGUAGES:
        errors["language"] = [_("Choose the page's language.")]
    try:
        holdout = int(str(data.holdout_percent).strip() or "0")
    except ValueError:
        holdout = -1
    if not 0 <= holdout <= 50:
        errors["holdout_percent"] = [_("The control group is a whole percentage from 0 to 50.")]
    return errors


def list_pages() -> list[LandingPage]:
    return list(db.session.scalars(select(LandingPage).order_by(LandingPage.status != "published",
                                                                LandingPage.updated_at.desc())))


def get_page(page_id: int) -> LandingPage:
    page = db.session.get(LandingPage, page_id)
    if page is None:
        raise NotFound(_("That landing page does not exist."))
    return page


def published_pages() -> list[LandingPage]:
    return list(db.session.scalars(select(LandingPage).where(LandingPage.status == "published")
                                   .order_by(LandingPage.title)))


def published_page(slug: str) -> LandingPage | None:
    return db.session.scalar(select(LandingPage).where(LandingPage.slug == slug,
                                                       LandingPage.status == "published"))


@dataclass(frozen=True)
class PublishedSection:
    id: int
    kind: str
    position: int
    settings: dict


@dataclass(frozen=True)
class PublishedPage:
    """A published page as the public views read it: plain values, so it can be kept between
    requests and shared by threads (an ORM object can be neither). compose() takes it as it
    takes a LandingPage."""

    id: int
    slug: str
    title: str
    language: str
    holdout_percent: int
    updated_at: datetime
    sections: tuple[PublishedSection, ...]


@lru_cache(maxsize=1)
def _published_query():
    """The page and its sections in one read; built once (building costs more than running it)."""
    from sqlalchemy import bindparam

    return (select(LandingPage.id, LandingPage.slug, LandingPage.title, LandingPage.language,
                   LandingPage.holdout_percent, LandingPage.updated_at, LandingSection.id.label("section_id"),
                   LandingSection.kind, LandingSection.position, LandingSection.settings)
            .outerjoin(LandingSection, LandingSection.page_id == LandingPage.id)
            .where(LandingPage.slug == bindparam("slug"), LandingPage.status == "published")
            .order_by(LandingSection.position, LandingSection.id))


def published_snapshot(slug: str) -> PublishedPage | None:
    """The published page at this address with its sections, as plain values; None if there is none."""
    rows = db.session.execute(_published_query(), {"slug": slug}).all()
    if not rows:
        return None
    first = rows[0]
    sections = tuple(PublishedSection(row.section_id, row.kind, row.position, row.settings or {})
                     for row in rows if row.section_id is not None)
    return PublishedPage(first.id, first.slug, first.title, first.language, first.holdout_percent,
                         first.updated_at, sections)


def create_page(data: PageInput, user: User, now: datetime) -> LandingPage:
    _require_editor(user)
    errors = validate_page(data)
    if errors:
        raise ValidationError(errors)
    page = LandingPage(title=data.title.strip(), slug=data.slug.strip().lower(), language=data.language,
                       holdout_percent=int(str(data.holdout_percent).strip() or "0"), status="draft",
                       created_at=now, updated_at=now, created_by_id=user.id, updated_by_id=user.id)
    for position, kind in enumerate(("hero", "recommended", "case_study", "owner_card", "cta")):
        page.sections.append(LandingSection(position=position, kind=kind,
                                            settings=default_settings(kind, data.language)))
    db.session.add(page)
    db.session.commit()
    return page


def update_page(page_id: int, data: PageInput, user: User, now: datetime) -> LandingPage:
    _require_editor(user)
    page = get_page(page_id)
    errors = validate_page(data, page_id)
    if errors:
        raise ValidationError(errors)
    page.title, page.slug, page.language = data.title.strip(), data.slug.strip().lower(), data.language
    page.holdout_percent = int(str(data.holdout_percent).strip() or "0")
    _touch(page, user, now)
    db.session.commit()
    return page


def _touch(page: LandingPage, user: User, now: datetime) -> None:
    page.updated_at = now
    page.updated_by_id = user.id


def set_status(page_id: int, status: str, user: User, now: datetime) -> LandingPage:
    _require_editor(user)
    page = get_page(page_id)
    if (page.status, status) not in TRANSITIONS:
        raise InvalidTransition(_("A %(from)s page cannot become %(to)s.",
                                  **{"from": taxonomy.label("status", page.status),
                                     "to": taxonomy.label("status", status)}))
    if status == "published":
        problems = publish_problems(page)
        if problems:
            raise ValidationError({"status": problems})
        page.published_at = now
    page.status = status
    _touch(page, user, now)
    db.session.commit()
    return page


def publish_problems(page: LandingPage) -> list[str]:
    """What stops a page from going live, in words (an empty list: it can be published)."""
    problems = []
    if not page.sections:
        problems.append(_("Add at least one section."))
    for section in page.sections:
        errors = validate_section(section.kind, _as_form(section.kind, section.settings))
        if errors:
            problems.append(_("The “%(section)s” section: %(problem)s",
                              section=taxonomy.label("section", section.kind),
                              problem=next(iter(errors.values()))[0]))
    return problems


def _section(page: LandingPage, section_id: int) -> LandingSection:
    for section in page.sections:
        if section.id == section_id:
            return section
    raise NotFound(_("That section is not on this page."))


def add_section(page_id: int, kind: str, user: User, now: datetime) -> LandingSection:
    _require_editor(user)
    page = get_page(page_id)
    if kind not in SECTION_KINDS:
        raise ValidationError({"kind": [_("Choose a kind of section from the list.")]})
    if len(page.sections) >= MAX_SECTIONS:
        raise ValidationError({"kind": [_("A page holds at most %(count)d sections.", count=MAX_SECTIONS)]})
    section = LandingSection(kind=kind, position=len(page.sections),
                             settings=default_settings(kind, page.language))
    page.sections.append(section)
    _touch(page, user, now)
    db.session.commit()
    return section


def move_section(page_id: int, section_id: int, direction: str, user: User, now: datetime) -> None:
    _require_editor(user)
    page = get_page(page_id)
    ordered = list(page.sections)
    section = _section(page, section_id)
    at = ordered.index(section)
    to = at - 1 if direction == "up" else at + 1
    if 0 <= to < len(ordered):
        ordered[at], ordered[to] = ordered[to], ordered[at]
    for position, item in enumerate(ordered):
        item.position = position
    _touch(page, user, now)
    db.session.commit()
    db.session.refresh(page, ["sections"])


def delete_section(page_id: int, section_id: int, user: User, now: datetime) -> None:
    _require_editor(user)
    page = get_page(page_id)
    section = _section(page, section_id)
    page.sections.remove(section)
    for position, item in enumerate(page.sections):
        item.position = position
    _touch(page, user, now)
    db.session.commit()


def _as_form(kind: str, settings: dict) -> dict[str, str]:
    """Stored settings as the strings a form posts (to re-validate before publishing)."""
    form = {k: "" if v is None else str(v) for k, v in settings.items() if k != "stages"}
    for stage, choice in (settings.get("stages") or {}).items():
        form[f"label_{stage}"] = choice.get("label", "")
        form[f"url_{stage}"] = choice.get("url", "")
    return form


def safe_url(value: str) -> bool:
    """An absolute http(s) URL or a path on this site; never javascript:, data: or //host."""
    value = value.strip()
    if not value or len(value) > 2000 or not _one_line(value) or any(ch.isspace() for ch in value):
        return False
    if value.startswith("/"):
        return not value.startswith("//") and "\\" not in value
    return bool(re.match(r"^https?://[^/\s?#@]+[^\s]*$", value, re.I))


def _text_errors(value: str, limit: int, merge: bool, required: bool, single_line: bool = True) -> list[str]:
    if required and not value.strip():
        return [_("This cannot be empty.")]
    if len(value) > limit:
        return [_("Keep this under %(count)d characters.", count=limit)]
    if single_line and not _one_line(value):
        return [_("Keep this on one line.")]
    problems = merge_fields.validate(value)
    if problems and merge:
        return [str(problems[0])]
    if problems or (not merge and "{{" in value):
        return [_("Merge fields are not available here; write plain text.")]
    return []


def validate_section(kind: str, form: dict[str, str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def check(name: str, limit: int = 200, *, merge: bool = False, required: bool = False,
              single_line: bool = True) -> None:
        problems = _text_errors(form.get(name, ""), limit, merge, required, single_line)
        if problems:
            errors[name] = problems

    if kind == "hero":
        check("headline", merge=True, required=True)
        check("text", 5000, merge=True, single_line=False)
    else:
        check("heading")
    if kind == "recommended":
        count = form.get("count", "").strip()
        if not count.isdigit() or not 1 <= int(count) <= 6:
            errors["count"] = [_("Show between 1 and 6 assets.")]
        if form.get("stage") and form["stage"] not in taxonomy.stages():
            errors["stage"] = [_("Choose a stage from the list.")]
    elif kind == "owner_card":
        check("fallback_name", 100)
        email = form.get("fallback_email", "").strip()
        if email and not EMAIL_RE.match(email.lower()):
            errors["fallback_email"] = [_("Enter a valid email address.")]
    elif kind == "cta":
        check("default_label", 80, required=True)
        if not safe_url(form.get("default_url", "")):
            errors["default_url"] = [_("Use a web address starting with https:// or a path on this site "
                                       "starting with /.")]
        for stage in taxonomy.stages():
            label, url = form.get(f"label_{stage}", "").strip(), form.get(f"url_{stage}", "").strip()
            if not label and not url:
                continue
            if not label:
                errors[f"label_{stage}"] = [_("Give this stage's button a label, or clear its address.")]
            else:
                check(f"label_{stage}", 80)
            if not safe_url(url):
                errors[f"url_{stage}"] = [_("Use a web address starting with https:// or a path on this site "
                                            "starting with /.")]
    elif kind == "gated_form":
        check("button", 80, required=True)
        check("consent_text", 1000, required=True, single_line=False)
        raw = str(form.get("asset_id", "")).strip()
        asset = db.session.get(Asset, int(raw)) if raw.isdigit() else None
        if asset is None:
            errors["asset_id"] = [_("Choose the asset the form unlocks.")]
        elif asset.status != "published":
            errors["asset_id"] = [_("Publish “%(title)s” first: visitors can only get published assets.",
                                    title=asset.title)]
    return errors


def update_section(page_id: int, section_id: int, form: dict[str, str], user: User,
                   now: datetime) -> LandingSection:
    _require_editor(user)
    page = get_page(page_id)
    section = _section(page, section_id)
    errors = validate_section(section.kind, form)
    if errors:
        raise ValidationError(errors)
    section.settings = _settings_from(section.kind, form)
    _touch(page, user, now)
    db.session.commit()
    return section


def _settings_from(kind: str, form: dict[str, str]) -> dict:
    get = lambda name: form.get(name, "").strip()  # noqa: E731
    if kind == "hero":
        return {"headline": get("headline"), "text": form.get("text", "").strip().replace("\r\n", "\n")}
    settings: dict = {"heading": get("heading")}
    if kind == "recommended":
        settings.update(count=int(get("count")), stage=get("stage"))
    elif kind == "owner_card":
        settings.update(fallback_name=get("fallback_name"), fallback_email=get("fallback_email").lower())
    elif kind == "cta":
        settings.update(default_label=get("default_label"), default_url=get("default_url"), stages={
            stage: {"label": get(f"label_{stage}"), "url": get(f"url_{stage}")}
            for stage in taxonomy.stages() if get(f"label_{stage}")})
    elif kind == "gated_form":
        settings.update(asset_id=int(get("asset_id")), button=get("button"),
                        consent_text=form.get("consent_text", "").strip().replace("\r\n", "\n"))
    return settings


# --- who sees what -----------------------------------------------------------------------------

IDENTIFIED = ("token", "cookie", "ip", "email_domain", "visit")  # visit: a signed id from an earlier page


def bucket(secret_key: str, page_id: int, account_id: int, contact_id: int | None) -> int:
    """0–99, stable per page and person (the contact, else the account), unguessable without the key."""
    subject = f"{page_id}:{account_id}:{contact_id or 0}".encode()
    digest = hmac.new(secret_key.encode(), subject, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % 100


@dataclass
class Visit:
    """One visitor as a page sees them."""

    identification: Identification
    variant: str                       # personalized, control, or "" (anonymous: not in the test)
    account: Account | None = None     # None unless personalized
    contact: Contact | None = None
    stage: str = ""
    language: str = "en"
    industry: str = ""                 # the account's, or a utm_ industry for an anonymous visitor
    trace: list[str] = field(default_factory=list)

    @property
    def personalized(self) -> bool:
        return self.variant == "personalized"


def visit_for(page: LandingPage, ident: Identification, secret_key: str,
              variant: str | None = None) -> Visit:
    """Load who the identification points at and put them in the personalized or control group
    (``variant`` forces one, for the preview)."""
    trace = list(ident.trace)
    account = db.session.get(Account, ident.account_id) if ident.account_id else None
    contact = db.session.get(Contact, ident.contact_id) if ident.contact_id else None
    if contact is not None and (account is None or contact.account_id != account.id):
        contact = None
    stages = taxonomy.stages()
    if account is None or ident.rule not in IDENTIFIED:
        return Visit(ident, "", stage=stages[0], language=page.language, industry=ident.industry,
                     trace=trace)
    if ident.rule == "visit" and variant in ("personalized", "control"):
        pass  # a follow-on request of a visit: it stays in the group its page view was in
    elif variant not in ("personalized", "control"):
        share = bucket(secret_key, page.id, account.id, contact.id if contact else None)
        variant = "control" if share < page.holdout_percent else "personalized"
        trace.append(_("holdout: bucket %(bucket)d against a %(percent)d%% control group → %(variant)s",
                       bucket=share, percent=page.holdout_percent, variant=taxonomy.label("variant", variant)))
    else:
        trace.append(_("preview forced the %(variant)s group", variant=taxonomy.label("variant", variant)))
    if variant == "control":
        return Visit(ident, "control", account=account, contact=contact, stage=stages[0],
                     language=page.language, trace=trace)
    stage = account.journey_stage if account.journey_stage in stages else stages[0]
    language = contact.language if contact is not None and contact.language else page.language
    return Visit(ident, "personalized", account=account, contact=contact, stage=stage, language=language,
                 industry=account.industry or "", trace=trace)


@dataclass
class Block:
    """What one section shows a visitor, and why (the preview lists the why)."""

    section: LandingSection
    data: dict
    why: list[str]
    shown: bool = True

    @property
    def kind(self) -> str:
        return self.section.kind


def consumed(visit: Visit) -> frozenset[int]:
    """Assets this contact (else this account) already opened, downloaded or got through a form."""
    from abmcontent import engagement

    return engagement.consumed_assets(visit.contact.id if visit.contact is not None else None,
                                      visit.account.id if visit.account is not None else None)


@lru_cache(maxsize=2)
def _stamp_query(with_contact: bool):
    """Built once per shape: constructing a statement costs more than SQLite takes to run it."""
    from sqlalchemy import bindparam, func, literal

    if with_contact:
        contact_changed = (select(Contact.updated_at)
                           .where(Contact.id == bindparam("contact"), Contact.account_id == Account.id)
                           .scalar_subquery())
        who = EngagementEvent.contact_id == bindparam("contact")
    else:
        contact_changed = literal(None)
        who = EngagementEvent.account_id == bindparam("account")
    newest = select(func.max(EngagementEvent.id)).where(who, EngagementEvent.type.in_(CONSUMED_TYPES)).scalar_subquery()
    return select(Account.updated_at, Account.owner_id, contact_changed, newest).where(Account.id == bindparam("account"))


def visitor_stamp(account_id: int, contact_id: int | None) -> tuple | None:
    """What a personalized page depends on for one visitor, in one query: the account's and the
    contact's last change, the owner, and the newest asset they consumed. None when the account
    is gone. A cached page for this visitor is good while the stamp is unchanged."""
    row = db.session.connection().execute(_stamp_query(contact_id is not None),
                                          {"account": account_id, "contact": contact_id}).first()
    return tuple(row) if row is not None else None


def merge_values(visit: Visit) -> dict[str, str]:
    """Merge-field values for what this visitor sees: none for the generic page (fallbacks show)."""
    if not visit.personalized:
        return {}
    return merge_fields.values_for(visit.account, visit.contact, visit.account.owner)


class _Context:
    """What every section of one page view shares, each part fetched once and only if needed."""

    def __init__(self, page: LandingPage, visit: Visit, now: datetime) -> None:
        self.page, self.visit, self.now = page, visit, now
        self.values = merge_values(visit)
        self.shown: set[int] = set()  # assets earlier sections show: a later one picks others

    @cached_property
    def seen(self) -> frozenset[int]:
        return consumed(self.visit) if self.visit.personalized else frozenset()

    @cached_property
    def index(self) -> matching.Index:
        return matching.index_for_app()


def compose(page: LandingPage, visit: Visit, now: datetime) -> list[Block]:
    """Each section's block, in page order. Case studies choose first (theirs is the narrower
    choice: one type, one industry); recommendations then leave out what is already shown."""
    ctx = _Context(page, visit, now)
    sections = list(page.sections)
    order = sorted(range(len(sections)), key=lambda i: (sections[i].kind != "case_study", i))
    blocks: list[Block | None] = [None] * len(sections)
    for i in order:
        blocks[i] = _COMPOSERS[sections[i].kind](sections[i], ctx)
    return blocks


def _hero(section, ctx: _Context) -> Block:
    visit = ctx.visit
    settings = section.settings
    data = {"headline": merge_fields.render(settings.get("headline", ""), ctx.values),
            "text": settings.get("text", ""), "values": ctx.values}
    if visit.personalized:
        filled = sorted({f.name for f in merge_fields.fields_in(settings.get("headline", "") + settings.get("text", ""))
                         if ctx.values.get(f.name)})
        why = [_("merge fields filled for %(account)s: %(fields)s", account=visit.account.name,
                 fields=", ".join(filled) or "—")]
    else:
        why = [_("generic: every merge field shows its fallback")]
    return Block(section, data, why)


def _request(visit: Visit, settings: dict, limit: int, exclude=frozenset(), types=frozenset()) -> matching.Request:
    stage = settings.get("stage") or visit.stage
    if visit.personalized:
        request = matching.request_for(visit.account, visit.contact, stage=stage, exclude=exclude, limit=limit)
        return replace(request, language=visit.language, types=types)
    return matching.Request(stage=stage, industry=visit.industry or None, language=visit.language,
                            limit=limit, types=types)


def _recommended(section, ctx: _Context) -> Block:
    visit = ctx.visit
    settings = section.settings
    request = _request(visit, settings, int(settings.get("count") or 3), exclude=ctx.seen | ctx.shown)
    picks = ctx.index.recommend(request, ctx.now)
    ctx.shown.update(p.asset_id for p in picks)
    why = [_("asked for stage %(stage)s, persona %(persona)s, industry %(industry)s, language %(language)s",
             stage=taxonomy.label("stage", request.stage) if request.stage else "—",
             persona=taxonomy.label("persona", request.persona) if request.persona else "—",
             industry=taxonomy.label("industry", request.industry) if request.industry else "—",
             language=taxonomy.label("language", request.language) if request.language else "—")]
    if ctx.seen:
        why.append(_("left out %(count)d assets already read", count=len(ctx.seen)))
    if not picks:
        why.append(_("nothing published fits yet"))
    return Block(section, {"heading": settings.get("heading", ""), "picks": picks}, why, shown=bool(picks))


def _case_study(section, ctx: _Context) -> Block:
    visit = ctx.visit
    settings = section.settings
    # a case study is picked by industry and context alone: any stage, any persona
    request = replace(_request(visit, {}, 1, exclude=ctx.seen | ctx.shown, types=frozenset({"case_study"})),
                      stage=None, persona=None)
    picks = ctx.index.recommend(request, ctx.now)
    pick = picks[0] if picks else None
    if pick is not None:
        ctx.shown.add(pick.asset_id)
    if pick is None:
        why = [_("no published case study")]
    elif request.industry and any(r.key == "industry" for r in pick.reasons):
        why = [_("case study from the same industry: %(industry)s",
                 industry=taxonomy.label("industry", request.industry))]
    elif request.industry:
        why = [_("no case study for %(industry)s yet; showing the closest",
                 industry=taxonomy.label("industry", request.industry))]
    else:
        why = [_("no industry known: the best general case study")]
    return Block(section, {"heading": settings.get("heading", ""), "pick": pick}, why, shown=pick is not None)


def _owner_card(section, ctx: _Context) -> Block:
    visit = ctx.visit
    settings = section.settings
    owner = visit.account.owner if visit.personalized and visit.account is not None else None
    if owner is not None and owner.active:
        data = {"name": owner.display_name, "email": owner.email, "phone": owner.phone, "title": ""}
        why = [_("the account owner, %(name)s", name=owner.display_name)]
    elif settings.get("fallback_name") or settings.get("fallback_email"):
        data = {"name": settings.get("fallback_name", ""), "email": settings.get("fallback_email", ""),
                "phone": "", "title": ""}
        why = [_("no account owner for this visitor: the section's fallback contact")]
    else:
        return Block(section, {}, [_("hidden: no account owner and no fallback contact")], shown=False)
    data["heading"] = settings.get("heading", "")
    return Block(section, data, why)


def cta_choice(settings: dict, stage: str) -> tuple[str, str, str]:
    """(label, url, which) for a stage: its own button if set, else the default."""
    own = (settings.get("stages") or {}).get(stage)
    if own and own.get("label") and own.get("url"):
        return own["label"], own["url"], stage
    return settings.get("default_label", ""), settings.get("default_url", ""), ""


def _cta(section, ctx: _Context) -> Block:
    visit = ctx.visit
    settings = section.settings
    label, url, which = cta_choice(settings, visit.stage)
    if which:
        why = [_("stage %(stage)s → “%(label)s”", stage=taxonomy.label("stage", visit.stage), label=label)]
    else:
        why = [_("no button for stage %(stage)s: the default “%(label)s”",
                 stage=taxonomy.label("stage", visit.stage), label=label)]
    return Block(section, {"heading": settings.get("heading", ""), "label": label, "stage": which or "default"},
                 why)


def _gated_form(section, ctx: _Context) -> Block:
    settings = section.settings
    asset = db.session.get(Asset, settings["asset_id"]) if settings.get("asset_id") else None
    if asset is None or asset.status != "published":
        return Block(section, {}, [_("hidden: the asset it unlocks is not published")], shown=False)
    why = [_("unlocks “%(title)s”", title=asset.title)]
    if asset.id in ctx.seen:
        why.append(_("this visitor already has it"))
    return Block(section, {"heading": settings.get("heading", ""), "asset": asset,
                           "button": settings.get("button", ""), "consent_text": settings.get("consent_text", "")},
                 why)


_COMPOSERS = {"hero": _hero, "recommended": _recommended, "case_study": _case_study,
              "owner_card": _owner_card, "cta": _cta, "gated_form": _gated_form}


# --- does personalization pay? ------------------------------------------------------------------

def conversion(page_id: int):
    """Visitors and converted visitors (a call-to-action click or a form fill in a visit of
    theirs) per group, and the significance test between them (abmcontent.stats).

    A visitor is the person a page view was attributed to: the contact, else the account.
    Anonymous visitors take no part in the test; their views are counted apart."""
    from sqlalchemy import and_, case, func
    from sqlalchemy.orm import aliased

    from abmcontent import stats

    view, conv = aliased(EngagementEvent), aliased(EngagementEvent)
    converted = func.max(case((conv.id.is_not(None), 1), else_=0))
    rows = db.session.execute(
        select(view.variant, view.account_id, view.contact_id, converted)
        .outerjoin(conv, and_(conv.visit == view.visit, conv.type.in_(("cta_click", "form_fill"))))
        .where(view.landing_page_id == page_id, view.type == "page_view")
        .group_by(view.variant, view.account_id, view.contact_id)).all()
    counts = {"personalized": [0, 0], "control": [0, 0], "": [0, 0]}
    for variant, _account, _contact, flag in rows:
        bucket_ = counts.get(variant)
        if bucket_ is not None:
            bucket_[0] += 1
            bucket_[1] += int(flag or 0)
    anonymous_views = db.session.scalar(select(func.count(EngagementEvent.id)).where(
        EngagementEvent.landing_page_id == page_id, EngagementEvent.type == "page_view",
        EngagementEvent.variant == "")) or 0
    (pv, pc), (cv, cc) = counts["personalized"], counts["control"]
    return stats.compare(pv, pc, cv, cc), anonymous_views
