"""Gated assets: a visitor fills a form, becomes (or is matched to) a contact, and gets the asset.

The contact is found by email first; else it is created at the account its email domain belongs
to, else at the account the visit was identified as, else at a new, untargeted account made from
the email's company domain. Free-mail addresses (gmail.com, naver.com, …) never create an account:
such a visitor still gets the asset, and nothing about them is kept but the form-fill event.

Consent is recorded only when the box was ticked, with the exact wording the visitor saw and the
page it was given on (DESIGN.md decision 6; 정보통신망법 article 50 asks for prior consent).
A re-submission never withdraws consent given earlier and never resubscribes an unsubscribed
contact: an unsubscribe is the person's last word until they say otherwise through a channel
that records it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from abmcontent import taxonomy, webhooks
from abmcontent.crm_layouts import name_key
from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, AccountDomain, Asset, Consent, Contact, LandingPage
from abmcontent.users import EMAIL_RE

UNLOCK_SALT = "abmcontent-unlock"
UNLOCK_MAX_AGE = 90 * 24 * 3600
FREE_MAIL = frozenset("""
gmail.com googlemail.com yahoo.com yahoo.co.kr ymail.com hotmail.com outlook.com live.com msn.com
icloud.com me.com mac.com aol.com proton.me protonmail.com gmx.com gmx.de mail.com zoho.com
yandex.com naver.com daum.net hanmail.net kakao.com nate.com qq.com 163.com 126.com
""".split())


@dataclass
class GateInput:
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    title: str = ""
    persona: str = ""
    consent: bool = False
    website: str = ""  # a honeypot: people never see it, form-filling bots do


@dataclass
class GateResult:
    contact: Contact | None
    account: Account | None
    created_contact: bool
    created_account: bool
    consent_recorded: bool


def validate(data: GateInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    email = data.email.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors["email"] = [_("Enter your work email address, e.g. jane@company.com.")]
    for name, limit in (("first_name", 100), ("last_name", 100), ("company", 300), ("title", 200)):
        value = getattr(data, name)
        if len(value) > limit:
            errors[name] = [_("Keep this under %(count)d characters.", count=limit)]
        elif any(ch in value for ch in "\r\n\x00"):
            errors[name] = [_("Keep this on one line.")]
    if data.persona and data.persona not in taxonomy.personas():
        errors["persona"] = [_("Choose your role from the list.")]
    return errors


def _account_for(domain: str, visit_account_id: int | None, company: str, now: datetime) -> tuple[Account | None, bool]:
    owner = db.session.get(AccountDomain, domain)
    if owner is not None:
        return owner.account, False
    if visit_account_id is not None:
        account = db.session.get(Account, visit_account_id)
        if account is not None:
            return account, False
    if domain in FREE_MAIL:
        return None, False
    name = company.strip() or domain.split(".")[0].capitalize()
    account = Account(name=name[:300], name_key=name_key(name), domain=domain, source="landing page form",
                      created_at=now, updated_at=now)
    account.domains.append(AccountDomain(domain=domain))
    db.session.add(account)
    return account, True


def submit(page: LandingPage, asset: Asset, data: GateInput, consent_wording: str,
           visit_account_id: int | None, now: datetime) -> GateResult:
    """Match or create the contact, record consent as worded; the caller then unlocks the asset."""
    errors = validate(data)
    if errors:
        raise ValidationError(errors)
    email = data.email.strip().lower()
    domain = email.rsplit("@", 1)[1]
    contact = db.session.scalar(select(Contact).where(func.lower(Contact.email) == email).limit(1))
    created_contact = created_account = False
    account = contact.account if contact is not None else None
    if contact is None:
        account, created_account = _account_for(domain, visit_account_id, data.company, now)
        if account is None:
            return GateResult(None, None, False, False, False)
        contact = Contact(account=account, email=email, first_name=data.first_name.strip(),
                          last_name=data.last_name.strip(), title=data.title.strip(), persona=data.persona,
                          language=page.language, created_at=now, updated_at=now)
        db.session.add(contact)
        created_contact = True
    else:  # fill what we did not know; never overwrite what sales entered
        for name in ("first_name", "last_name", "title", "persona"):
            value = getattr(data, name).strip()
            if value and not getattr(contact, name):
                setattr(contact, name, value)
                contact.updated_at = now
    recorded = False
    if data.consent:
        contact.consents.append(Consent(channel="email", source=f"landing page /p/{page.slug}"[:200],
                                        wording=consent_wording, given_at=now))
        recorded = True
    # told to webhooks in the transaction that keeps the contact (nothing is kept for free mail above)
    webhooks.emit_form_filled(page=page, asset=asset, contact=contact, account=account,
                              fields={"email": email, "first_name": data.first_name.strip(),
                                      "last_name": data.last_name.strip(), "company": data.company.strip(),
                                      "title": data.title.strip(), "persona": data.persona, "consent": data.consent},
                              created_contact=created_contact, created_account=created_account,
                              consent_recorded=recorded, now=now)
    db.session.commit()
    return GateResult(contact, account, created_contact, created_account, recorded)


def unlock_key(secret_key: str, asset_id: int) -> str:
    return URLSafeTimedSerializer(secret_key, salt=UNLOCK_SALT).dumps(asset_id)


def unlocked(secret_key: str, asset_id: int, key: str | None) -> bool:
    if not key or len(key) > 200:
        return False
    try:
        return URLSafeTimedSerializer(secret_key, salt=UNLOCK_SALT).loads(key, max_age=UNLOCK_MAX_AGE) == asset_id
    except (BadSignature, SignatureExpired):
        return False
