"""Who is visiting: DESIGN.md decision 5, in order.

personalized URL token → signed first-party cookie from an earlier identification →
the visitor's IP in an account's CIDR ranges (most specific wins, IPv4 and IPv6) →
the email domain of a form fill → anonymous (industry from a utm_ parameter, else generic).

Tokens carry 192 random bits and only their SHA-256 is stored; an unknown, changed or
revoked token identifies no one, exactly like no token. With DNT: 1 or Sec-GPC: 1 the
visitor is identified at company level only and no identifying cookie is set. The
client IP is whatever the web layer resolved (werkzeug's ProxyFix with the configured
number of trusted proxy hops), never a raw X-Forwarded-For header.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, Signer
from sqlalchemy import String, bindparam, cast, func, select

from abmcontent import accounts, taxonomy
from abmcontent.errors import NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, AccountDomain, Contact, PersonalUrl, User

TOKEN_BYTES = 24  # 192 bits: 156 stay secret even with the stored 6-character hint
COOKIE_SALT = "abmcontent-visitor"
RULES = ("token", "cookie", "ip", "email_domain", "utm", "anonymous")


@dataclass
class Identification:
    rule: str                      # one of RULES
    account_id: int | None = None
    contact_id: int | None = None
    industry: str = ""
    trace: list[str] = field(default_factory=list)  # why, step by step, for the preview
    set_cookie: bool = False       # the web layer sets the signed cookie when this is true
    stamp: tuple | None = None     # landing.visitor_stamp() of who it found, when it came for free
    link_id: int | None = None     # the personalized link it came through (directly, or via the cookie)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def can_link(user: User | None) -> bool:
    return user is not None and user.has_role("campaign", "marketer", "sales")


def create_personal_url(account_id: int, contact_id: int | None, user: User | None,
                        now: datetime, landing_page_id: int | None = None) -> tuple[PersonalUrl, str]:
    """A new personalized URL token for an account (and a contact of it) opening a published
    landing page (the first published one when none is named); the token is shown once."""
    from abmcontent.models import LandingPage

    account = accounts.get_account(account_id)
    if user is not None and not can_link(user):
        raise PermissionDenied(_("You cannot create personalized links."))
    if contact_id is not None:
        contact = db.session.get(Contact, contact_id)
        if contact is None or contact.account_id != account.id:
            raise ValidationError({"contact_id": [_("That stakeholder is not at this account.")]})
    if landing_page_id is not None:
        page = db.session.get(LandingPage, landing_page_id)
        if page is None:
            raise NotFound(_("That landing page does not exist."))
        if page.status != "published":
            raise ValidationError({"landing_page_id": [_("Publish this landing page first: a link has to open "
                                                         "a published page.")]})
    else:
        page = db.session.scalar(select(LandingPage).where(LandingPage.status == "published")
                                 .order_by(LandingPage.published_at.desc(), LandingPage.id.desc()).limit(1))
    if page is None:
        raise NotFound(_("Publish a landing page first: a link has to open one."))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = PersonalUrl(token_hash=hash_token(token), hint=token[:6], account_id=account.id,
                       contact_id=contact_id, created_by_id=user.id if user else None, created_at=now,
                       landing_page_id=page.id)
    db.session.add(link)
    db.session.commit()
    return link, token


def revoke(link_id: int, account_id: int, user: User | None, now: datetime) -> PersonalUrl:
    link = db.session.get(PersonalUrl, link_id)
    if link is None or link.account_id != account_id:
        raise NotFound(_("That link does not exist."))
    if user is not None and not can_link(user):
        raise PermissionDenied(_("You cannot revoke personalized links."))
    link.revoked_at = link.revoked_at or now
    db.session.commit()
    return link


def links_for(account_id: int) -> list[PersonalUrl]:
    return list(db.session.scalars(select(PersonalUrl).where(PersonalUrl.account_id == account_id)
                                   .order_by(PersonalUrl.created_at.desc(), PersonalUrl.id.desc())))


@lru_cache(maxsize=1)
def _token_lookup():
    """Built once: constructing a statement costs more than SQLite takes to run it. Besides the
    link it reads what a landing page cached for this visitor depends on (see
    landing.visitor_stamp), so a personalized page view is one query."""
    from abmcontent.models import EngagementEvent
    from abmcontent.models.engagement import CONSUMED_TYPES

    def newest(column):
        return (select(func.max(EngagementEvent.id))
                .where(getattr(EngagementEvent, column) == getattr(PersonalUrl, column),
                       EngagementEvent.type.in_(CONSUMED_TYPES)).scalar_subquery())

    contact_changed = (select(Contact.updated_at).where(Contact.id == PersonalUrl.contact_id,
                                                        Contact.account_id == PersonalUrl.account_id)
                       .scalar_subquery())
    return (select(PersonalUrl.id, PersonalUrl.hint, PersonalUrl.account_id, PersonalUrl.contact_id,
                   PersonalUrl.landing_page_id, PersonalUrl.revoked_at, PersonalUrl.token_hash,
                   Account.updated_at.label("account_changed"), Account.owner_id,
                   contact_changed.label("contact_changed"), newest("contact_id").label("contact_consumed"),
                   newest("account_id").label("account_consumed"))
            .join(Account, Account.id == PersonalUrl.account_id)
            .where(PersonalUrl.token_hash == bindparam("digest")))


# engine → {digest: (when read, row)}: links found, kept for max_age seconds (public pages pass
# PUBLIC_CACHE_SECONDS); unknown tokens are never kept, so every miss is looked up and counted
_links: "weakref.WeakKeyDictionary[object, dict[str, tuple[float, object]]]" = weakref.WeakKeyDictionary()
LINK_CACHE_SIZE = 20_000


def resolve_token(token: str, max_age: float = 0.0):
    """The live link for a token (a row: id, hint, account_id, contact_id, landing_page_id, and
    the visitor's stamp), or None for anything else (unknown, changed, revoked, malformed). One
    indexed lookup, no ORM object: it runs on every personalized page view, unless the same
    link was read less than max_age seconds ago (so a revocation takes up to max_age to bite)."""
    if not token or len(token) > 64:
        return None
    digest = hash_token(token)
    now = time.monotonic()
    known = _links.get(db.engine)
    if known is None:
        known = _links.setdefault(db.engine, {})
    if max_age > 0:
        found = known.get(digest)
        if found is not None and now - found[0] < max_age:
            return found[1]
    link = db.session.connection().execute(_token_lookup(), {"digest": digest}).first()
    if max_age > 0 and link is not None and link.revoked_at is None:
        if len(known) >= LINK_CACHE_SIZE:
            known.clear()
        known[digest] = (now, link)
    elif digest in known:
        del known[digest]
    if link is None or link.revoked_at is not None or not hmac.compare_digest(link.token_hash, digest):
        return None
    return link


@lru_cache(maxsize=8)
def _cookie_signer(secret_key: str) -> Signer:
    return Signer(secret_key, salt=COOKIE_SALT)


def cookie_value(secret_key: str, account_id: int, contact_id: int | None, link_id: int | None = None) -> str:
    """"account.contact.link" signed (HMAC): tells us who came back, and cannot be forged or
    edited. The link it came from is named so that revoking the link ends the cookie too."""
    return _cookie_signer(secret_key).sign(f"{account_id}.{contact_id or ''}.{link_id or ''}").decode()


def read_cookie(secret_key: str, value: str | None) -> tuple[int, int | None, int | None] | None:
    if not value or len(value) > 200:
        return None
    try:
        account, contact, link = _cookie_signer(secret_key).unsign(value).decode().split(".")
        return int(account), int(contact) if contact else None, int(link) if link else None
    except (BadSignature, ValueError):
        return None


@dataclass(frozen=True)
class RangeIndex:
    """Account CIDR ranges by prefix length, so a lookup is one dict probe per distinct length."""

    by_length: tuple[tuple[int, int, dict[int, int]], ...]  # (version, prefix length, network int → account id)

    def lookup(self, ip: str) -> tuple[int, str] | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        bits = 32 if address.version == 4 else 128
        value = int(address)
        for version, length, table in self.by_length:
            if version != address.version:
                continue
            network = value >> (bits - length) << (bits - length)
            if network in table:
                return table[network], f"{ipaddress.ip_address(network)}/{length}"
        return None


def build_range_index(rows) -> RangeIndex:
    tables: dict[tuple[int, int], dict[int, int]] = {}
    for account_id, ranges in rows:
        for cidr in ranges or []:
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            tables.setdefault((network.version, network.prefixlen), {})[int(network.network_address)] = account_id
    ordered = sorted(tables.items(), key=lambda item: -item[0][1])  # most specific first
    return RangeIndex(tuple((version, length, table) for (version, length), table in ordered))


# engine → (stamp, index): per live database, so a test's fresh database never sees another's
_ranges: "weakref.WeakKeyDictionary[object, tuple[tuple, RangeIndex, float]]" = weakref.WeakKeyDictionary()


def range_index(max_age: float = 0.0) -> RangeIndex:
    """Rebuilt when accounts change (the newest update time and count are the key). The check
    itself counts the accounts, so public pages pass max_age (PUBLIC_CACHE_SECONDS): within it
    the index is trusted unchecked, and a range added is live within that many seconds."""
    cached = _ranges.get(db.engine)
    now = time.monotonic()
    if cached is not None and now - cached[2] < max_age:
        return cached[1]
    stamp = tuple(db.session.execute(select(func.max(Account.updated_at), func.count(Account.id))).one())
    if cached is not None and cached[0] == stamp:
        _ranges[db.engine] = (stamp, cached[1], now)
        return cached[1]
    # compared as text: PostgreSQL has no json <> json operator (an anonymous page view answered 500)
    rows = db.session.execute(select(Account.id, Account.ip_ranges)
                              .where(cast(Account.ip_ranges, String) != "[]")).all()
    index = build_range_index(rows)
    _ranges[db.engine] = (stamp, index, now)
    return index


def _cookie_still_good(account_id: int, contact_id: int | None, link_id: int | None) -> bool:
    if link_id is None:  # set by a form fill: good while the account exists
        return db.session.execute(select(Account.id).where(Account.id == account_id)).first() is not None
    return db.session.execute(select(PersonalUrl.id).where(
        PersonalUrl.id == link_id, PersonalUrl.account_id == account_id,
        PersonalUrl.revoked_at.is_(None))).first() is not None


def identify(*, token: str | None, cookie: str | None, ip: str | None, email: str | None,
             utm_industry: str | None, do_not_track: bool, secret_key: str,
             max_age: float = 0.0) -> Identification:
    """Who is visiting (DESIGN 5). max_age: how stale a link or the IP ranges may be, in seconds
    (public pages pass PUBLIC_CACHE_SECONDS; the preview and tests 0: always fresh)."""
    trace: list[str] = []
    if token:
        link = resolve_token(token, max_age)
        if link is not None:
            trace.append(_l("personalized link …%(hint)s → account %(account)s", hint=link.hint, account=link.account_id))
            contact_id = None if do_not_track else link.contact_id
            if do_not_track and link.contact_id:
                trace.append(_l("Do Not Track / Global Privacy Control: company level only, no cookie"))
            if contact_id is not None:
                stamp = (link.account_changed, link.owner_id, link.contact_changed, link.contact_consumed)
            else:
                stamp = (link.account_changed, link.owner_id, None, link.account_consumed)
            return Identification("token", link.account_id, contact_id, trace=trace,
                                  set_cookie=not do_not_track, stamp=stamp, link_id=link.id)
        trace.append(_l("link token not recognised: treated as no token"))
    found = read_cookie(secret_key, cookie)
    if found and _cookie_still_good(*found):
        trace.append(_l("signed visitor cookie → account %(account)s", account=found[0]))
        return Identification("cookie", found[0], None if do_not_track else found[1], trace=trace,
                              link_id=found[2])
    if found:
        trace.append(_l("visitor cookie from a revoked link or a removed account: ignored"))
    if ip:
        hit = range_index(max_age).lookup(ip)
        if hit:
            trace.append(_l("IP %(ip)s is in %(range)s → account %(account)s", ip=ip, range=hit[1], account=hit[0]))
            return Identification("ip", hit[0], None, trace=trace)
        trace.append(_l("IP %(ip)s is in no account's ranges", ip=ip))
    if email and "@" in email:
        domain = email.rsplit("@", 1)[1].strip().lower()
        owner = db.session.get(AccountDomain, domain)
        if owner is not None:
            trace.append(_l("form email domain %(domain)s → account %(account)s", domain=domain, account=owner.account_id))
            return Identification("email_domain", owner.account_id, None, trace=trace)
    industry = (utm_industry or "").strip().lower().replace("-", "_").replace(" ", "_")
    if industry in taxonomy.INDUSTRIES:
        trace.append(_l("industry %(industry)s from a utm_ parameter", industry=industry))
        return Identification("utm", industry=industry, trace=trace)
    trace.append(_l("anonymous: the generic page"))
    return Identification("anonymous", trace=trace)


def simulated_link(account_id: int, contact_id: int | None, do_not_track: bool) -> Identification:
    """What a personalized link for this account (and contact) would identify: for the preview,
    which must not mint a real token to show a page."""
    trace = [_l("personalized link (preview) → account %(account)s", account=account_id)]
    if do_not_track and contact_id:
        trace.append(_l("Do Not Track / Global Privacy Control: company level only, no cookie"))
    return Identification("token", account_id, None if do_not_track else contact_id, trace=trace,
                          set_cookie=False)
