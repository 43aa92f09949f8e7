"""Stakeholders at target accounts: add them by hand, with their role and consent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import available_timezones

from flask_babel import gettext as _
from sqlalchemy import select

from abmcontent import accounts, taxonomy
from abmcontent.users import EMAIL_RE
from abmcontent.errors import PermissionDenied, ValidationError
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


def validate(data: StakeholderInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    single_line = ("first_name", "last_name", "email", "title", "consent_source")
    for name in single_line:
        if any(ch in getattr(data, name) for ch in "\r\n\x00"):
            errors[name] = [_("Keep this on one line.")]
    if not (data.first_name.strip() or data.last_name.strip()):
        errors["first_name"] = [_("Give the stakeholder a name.")]
    email = data.email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = [_("Enter a valid email address.")]
    elif db.session.scalar(select(Contact.id).where(Contact.email == email)):
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
