"""Stakeholders at target accounts: add them by hand, with their role and consent."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from zoneinfo import available_timezones

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from abmcontent import accounts, taxonomy
from abmcontent.paging import Page
from abmcontent.users import EMAIL_RE
from abmcontent.errors import NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Consent, Contact, User

SENIORITIES = ("c_level", "vp", "director", "manager", "staff")
AUTHORITIES = ("decision_maker", "influencer", "user", "blocker")
CONSENT_WORDING = ("I agree that {company} may email me about its products and events. "
                   "I can unsubscribe at any time.")


@dataclass
class StakeholderInput:
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    title: str = ""
    persona: str = ""
    seniority: str = ""
    buying_authority: str = ""
    language: str = "en"
    timezone: str = ""
    email_consent: bool = False
    consent_source: str = ""

    @classmethod
    def of(cls, contact: Contact) -> "StakeholderInput":
        return cls(**{f.name: getattr(contact, f.name) for f in fields(cls)
                      if f.name not in ("email_consent", "consent_source")})


# What an edit may change: consent is given when a stakeholder is added and withdrawn by unsubscribing.
EDITABLE = tuple(f.name for f in fields(StakeholderInput) if f.name not in ("email_consent", "consent_source"))
MAX_LENGTHS = {"first_name": 100, "last_name": 100, "title": 200}  # the columns' sizes


@dataclass
class ContactFilters:
    account_id: int | None = None
    persona: str = ""
    email: str = ""
    q: str = ""
    updated_since: datetime | None = None


def validate(data: StakeholderInput, contact_id: int | None = None) -> dict[str, list[str]]:
    """Field errors; contact_id is the stakeholder being edited (its own email is no clash)."""
    errors: dict[str, list[str]] = {}
    single_line = ("first_name", "last_name", "email", "title", "consent_source")
    for name in single_line:
        if any(ch in getattr(data, name) for ch in "\r\n\x00"):
            errors[name] = [_("Keep this on one line.")]
    for name, limit in MAX_LENGTHS.items():
        if name not in errors and len(getattr(data, name).strip()) > limit:
            errors[name] = [_("Keep this to %(num)d characters or fewer.", num=limit)]
    if not (data.first_name.strip() or data.last_name.strip()):
        errors["first_name"] = [_("Give the stakeholder a name.")]
    email = data.email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = [_("Enter a valid email address.")]
    elif db.session.scalar(select(Contact.id).where(Contact.email == email, Contact.id != (contact_id or 0))):
        errors["email"] = [_("A stakeholder with this email already exists.")]
    if data.persona and data.persona not in taxonomy.personas():
        errors["persona"] = [_("Choose a persona from the list.")]
    if data.seniority and data.seniority not in SENIORITIES:
        errors["seniority"] = [_("Choose a seniority from the list.")]
    if data.buying_authority and data.buying_authority not in AUTHORITIES:
        errors["buying_authority"] = [_("Choose a buying role from the list.")]
    if data.language not in taxonomy.CONTENT_LANGUAGES:
        errors["language"] = [_("Choose the stakeholder's language.")]
    if data.timezone and data.timezone not in available_timezones():
        errors["timezone"] = [_("Use a time zone name such as America/New_York or Asia/Seoul.")]
    if data.email_consent and not data.consent_source.strip():
        errors["consent_source"] = [_("Say where the consent was given, e.g. “booth sign-up, Data Summit 2026”.")]
    return errors


def get_contact(contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(_("That stakeholder does not exist."))
    return contact


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(filters: ContactFilters, page: int, page_size: int) -> Page[Contact]:
    """Stakeholders matching every filter, oldest first; past the last page the list is empty
    (a client walking the pages stops there). q matches name, email or title."""
    conditions = []
    if filters.account_id is not None:
        conditions.append(Contact.account_id == filters.account_id)
    if filters.persona:
        conditions.append(Contact.persona == filters.persona)
    if filters.email:
        conditions.append(Contact.email == filters.email.strip().lower())
    if filters.updated_since is not None:
        conditions.append(Contact.updated_at >= filters.updated_since)
    for term in filters.q.lower().split()[:8]:
        pattern = f"%{_like_escape(term)}%"
        conditions.append(or_(*(func.lower(column).like(pattern, escape="\\") for column in
                                (Contact.first_name, Contact.last_name, Contact.email, Contact.title))))
    total = db.session.scalar(select(func.count(Contact.id)).where(*conditions))
    items = list(db.session.scalars(
        select(Contact).where(*conditions).order_by(Contact.id).limit(page_size).offset((page - 1) * page_size)
        .options(selectinload(Contact.consents), selectinload(Contact.suppression)))) if total else []
    return Page(items=items, total=total, page=page, page_size=page_size)


def update_stakeholder(contact_id: int, changes: dict[str, str], user: User, now: datetime) -> Contact:
    """Change some of a stakeholder's details (the account owner or a campaign manager). Only
    the fields changed are checked, so an imported record with an odd old value stays editable."""
    contact = get_contact(contact_id)
    if not accounts.can_qualify(user, contact.account):
        raise PermissionDenied(_("Only the account owner or a campaign manager can edit stakeholders."))
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed here.")] for name in unknown})
    current = StakeholderInput.of(contact)
    data = replace(current, **changes)
    changed = {name for name in changes if getattr(data, name) != getattr(current, name)}
    if changed & {"first_name", "last_name"}:
        changed |= {"first_name", "last_name"}  # the name rule spans both
    if "email" in changed and data.email.strip().lower() == contact.email:
        changed.discard("email")
    errors = {name: messages for name, messages in validate(data, contact.id).items() if name in changed}
    if errors:
        raise ValidationError(errors)
    if not changed:
        return contact
    for name in changed:
        value = getattr(data, name)
        setattr(contact, name, value.strip().lower() if name == "email" else value.strip())
    contact.updated_at = now
    db.session.commit()
    return contact


def add_stakeholder(account_id: int, data: StakeholderInput, user: User, now: datetime) -> Contact:
    account = accounts.get_account(account_id)
    if not accounts.can_qualify(user, account):
        raise PermissionDenied(_("Only the account owner or a campaign manager can add stakeholders."))
    errors = validate(data)
    if errors:
        raise ValidationError(errors)
    contact = Contact(account=account, first_name=data.first_name.strip(), last_name=data.last_name.strip(),
                      email=data.email.strip().lower(), title=data.title.strip(), persona=data.persona,
                      seniority=data.seniority, buying_authority=data.buying_authority,
                      language=data.language, timezone=data.timezone, created_at=now, updated_at=now)
    if data.email_consent:
        # The exact wording the person agreed to is kept with the consent (Korean law asks for it).
        contact.consents.append(Consent(channel="email", source=data.consent_source.strip()[:200],
                                        wording=CONSENT_WORDING.format(company="Cobalt Data"), given_at=now))
    db.session.add(contact)
    db.session.commit()
    return contact


def unsubscribe(contact_id: int, source: str, now: datetime) -> Contact | None:
    """The person said stop: no more email, from any plan, and a later CRM import or form fill
    does not undo it. Their email consents are marked withdrawn; the address is suppressed."""
    from abmcontent.channels.email import suppress

    contact = db.session.get(Contact, contact_id)
    if contact is None:
        return None
    if contact.unsubscribed_at is None:
        contact.unsubscribed_at = now
        contact.updated_at = now
    for consent in contact.consents:
        if consent.channel == "email" and consent.withdrawn_at is None:
            consent.withdrawn_at = now
    if contact.email:
        suppress(contact.email, "unsubscribed", source, now)
    db.session.commit()
    return contact
