"""Target accounts: find, study, qualify (BANT, context), agree on the target list, bulk-edit.

Plain arguments in, models or dataclasses out; errors are domain errors.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import selectinload

from abmcontent import geo, taxonomy
from abmcontent.paging import Page, clamp
from abmcontent.errors import NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import TARGET_STATUSES, Account, AccountDomain, Contact, TargetDecision, User

EDITOR_ROLES = ("campaign",)          # firmographics, tiers, owners, the ICP
QUALIFIER_ROLES = ("campaign", "sales")  # BANT, context, target decisions (sales: own accounts)
BANT_KEYS = ("budget", "authority", "need", "timeline")
BANT_STATUSES = ("unknown", "confirmed", "partial", "missing")
CONTEXT_KEYS = ("goals", "plans", "challenges", "stakes", "timeline")
STAKEHOLDER_BENCHMARK = 5.4  # average number of people in a B2B buying decision
SORTS = {  # allow-list: request values never reach ORDER BY
    "name": (Account.name,),
    "score": (Account.icp_score,),
    "tier": (Account.tier,),
    "employees": (Account.employees,),
    "revenue": (Account.revenue,),
    "updated": (Account.updated_at,),
}


@dataclass
class AccountFilters:
    q: str = ""
    tier: str = ""          # "1", "2", "3" or "none"
    industry: str = ""
    owner: str = ""         # user id, or "none"
    stage: str = ""
    region: str = ""        # a country code or a place group, e.g. "US", "US-NORTHEAST", "KR"
    lost: str = ""          # "1" lost only, "0" active only
    target: str = ""        # proposed / agreed / rejected / "none"
    sort: str = "score"
    direction: str = "desc"
    page: int = 1

    def active(self) -> bool:
        return any([self.q.strip(), self.tier, self.industry, self.owner, self.stage, self.region,
                    self.lost, self.target])


@dataclass
class StakeholderMap:
    by_persona: list[tuple[str, list[Contact]]]
    unassigned: list[Contact]
    missing: list[str]
    count: int
    benchmark: float = STAKEHOLDER_BENCHMARK


@dataclass
class Firmographics:
    name: str = ""
    domains: list[str] = field(default_factory=list)
    industry: str = ""
    sub_industry: str = ""
    revenue: int | None = None
    employees: int | None = None
    country: str = ""
    region: str = ""
    city: str = ""
    technologies: list[str] = field(default_factory=list)
    competitor_products: list[str] = field(default_factory=list)
    customer_base: str = ""
    owner_id: int | None = None
    tier: int | None = None
    journey_stage: str = "awareness"
    lost: bool = False
    deal_size: int | None = None
    ip_ranges: list[str] = field(default_factory=list)


def get_account(account_id: int) -> Account:
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound(_("That account does not exist."))
    return account


def find_account(name_or_domain: str) -> Account | None:
    """One account by a domain it answers to, else by its name (case and punctuation aside),
    else the first whose name starts with it; None when nothing (or nothing unique) matches."""
    from abmcontent.crm_layouts import domain_of, name_key

    text = name_or_domain.strip()
    if not text:
        return None
    domain = domain_of(text) if "." in text else ""
    if domain:
        owner = db.session.get(AccountDomain, domain)
        if owner is not None:
            return owner.account
    key = name_key(text)
    if key:
        found = list(db.session.scalars(select(Account).where(Account.name_key == key).limit(2)))
        if len(found) == 1:
            return found[0]
    prefix = text.replace("%", "").replace("_", "")
    found = list(db.session.scalars(select(Account).where(func.lower(Account.name).like(prefix.lower() + "%"))
                                    .order_by(Account.name).limit(2)))
    return found[0] if len(found) == 1 else None


def can_edit(user: User) -> bool:
    return user.has_role(*EDITOR_ROLES)


def can_qualify(user: User, account: Account) -> bool:
    return user.has_role("campaign") or (user.role == "sales" and account.owner_id == user.id)


def _region_condition(place: str):
    place = place.upper()
    if place in ("US-NORTHEAST", "US-MIDWEST", "US-SOUTH", "US-WEST", "US-CONTINENTAL"):
        group = place.split("-", 1)[1]
        states = [code for code, (_n, region) in geo.US_STATES.items()
                  if group == region or (group == "CONTINENTAL" and code not in ("AK", "HI"))]
        return and_(Account.country == "US", Account.region.in_(states))
    groups = {"EU": geo.EU, "APAC": geo.APAC, "NORTH-AMERICA": geo.NORTH_AMERICA}
    if place in groups:
        return Account.country.in_(sorted(groups[place]))
    country, _sep, sub = place.partition("-")
    if sub:
        return and_(Account.country == country, Account.region == sub)
    return Account.country == country


def _conditions(filters: AccountFilters) -> list:
    conditions = []
    if filters.tier in ("1", "2", "3"):
        conditions.append(Account.tier == int(filters.tier))
    elif filters.tier == "none":
        conditions.append(Account.tier.is_(None))
    if filters.industry:
        conditions.append(Account.industry == filters.industry)
    if filters.owner == "none":
        conditions.append(Account.owner_id.is_(None))
    elif filters.owner.isdigit():
        conditions.append(Account.owner_id == int(filters.owner))
    if filters.stage:
        conditions.append(Account.journey_stage == filters.stage)
    if filters.region:
        conditions.append(_region_condition(filters.region))
    if filters.lost in ("0", "1"):
        conditions.append(Account.lost.is_(filters.lost == "1"))
    if filters.target in TARGET_STATUSES:
        conditions.append(Account.target_status == filters.target)
    elif filters.target == "none":
        conditions.append(Account.target_status.is_(None))
    q = " ".join(filters.q.split())
    if q:
        conditions.append(_text_condition(q))
    return conditions


def _text_condition(q: str):
    """Name or domain contains q. As a subquery it is answered from the (name, domain, id) index
    alone, and the list then walks its sort index probing those ids: no row is read twice."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    # SQLite's LIKE already ignores ASCII case; ilike() would wrap both sides in lower() there.
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    like = (lambda column: column.like(pattern, escape="\\")) if sqlite else \
        (lambda column: column.ilike(pattern, escape="\\"))
    return Account.id.in_(select(Account.id).where(or_(like(Account.name), like(Account.domain))))


def _order(filters: AccountFilters) -> list:
    """(column, id) in one direction, empty values last: the shape the (column, id) indexes serve."""
    column = SORTS.get(filters.sort, SORTS["score"])[0]
    if filters.direction == "asc":
        return [column.asc().nulls_last(), Account.id.asc()]
    return [column.desc().nulls_last(), Account.id.desc()]


def search(filters: AccountFilters, page_size: int = 50) -> Page:
    conditions = _conditions(filters)
    where = and_(*conditions) if conditions else True
    total = db.session.scalar(select(func.count(Account.id)).where(where))
    page = clamp(filters.page, total, page_size)
    # Ids first (an index-only walk, even for a deep page), then only that page's rows whole.
    ids = db.session.scalars(select(Account.id).where(where).order_by(*_order(filters))
                             .limit(page_size).offset((page - 1) * page_size)).all()
    rows = {a.id: a for a in db.session.scalars(
        select(Account).where(Account.id.in_(ids)).options(selectinload(Account.owner)))} if ids else {}
    return Page(items=[rows[i] for i in ids], total=total, page=page, page_size=page_size)


def matching_ids(filters: AccountFilters) -> list[int]:
    where = and_(*_conditions(filters)) if _conditions(filters) else True
    return list(db.session.scalars(select(Account.id).where(where)))


def export_rows(filters: AccountFilters) -> Iterator[list]:
    """The filtered list as rows for CSV export, in the list's order, streamed in batches."""
    owners = {u.id: u.email for u in db.session.scalars(select(User))}
    where = and_(*_conditions(filters)) if _conditions(filters) else True
    query = select(Account).where(where).order_by(*_order(filters)).execution_options(yield_per=2000)
    for account in db.session.scalars(query):
        yield [account.name, account.domain, account.industry, account.sub_industry, account.revenue,
               account.employees, account.city, account.region, account.country,
               owners.get(account.owner_id, ""), account.tier, account.icp_score, account.journey_stage,
               "yes" if account.lost else "no", account.target_status or "", account.deal_size,
               "; ".join(account.technologies or []), "; ".join(account.competitor_products or [])]


EXPORT_HEADERS = ["name", "domain", "industry", "sub_industry", "revenue", "employees", "city", "region",
                  "country", "owner", "tier", "icp_score", "journey_stage", "lost", "target_status",
                  "deal_size", "technologies", "competitor_products"]


def _check_stage(stage: str) -> None:
    if stage not in taxonomy.stages():
        raise ValidationError({"journey_stage": [_("Choose a journey stage.")]})


def validate_firmographics(data: Firmographics) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.name.strip():
        errors["name"] = [_("Give the account a name.")]
    if data.industry and data.industry not in taxonomy.INDUSTRIES:
        errors["industry"] = [_("Choose an industry from the list.")]
    for name in ("revenue", "employees", "deal_size"):
        value = getattr(data, name)
        if value is not None and value < 0:
            errors[name] = [_("Enter a number of zero or more.")]
    if data.tier not in (None, 1, 2, 3):
        errors["tier"] = [_("Tier is 1, 2 or 3.")]
    if data.owner_id is not None:
        owner = db.session.get(User, data.owner_id)
        if owner is None or not owner.active:
            errors["owner_id"] = [_("Choose an active user as the owner.")]
    if data.journey_stage not in taxonomy.stages():
        errors["journey_stage"] = [_("Choose a journey stage.")]
    bad_ranges = []
    for cidr in data.ip_ranges:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            bad_ranges.append(cidr)
    if bad_ranges:
        errors["ip_ranges"] = [_("Not an IP range: %(ranges)s. Write ranges like 203.0.113.0/24 or 2001:db8::/32.",
                                 ranges=", ".join(bad_ranges))]
    from abmcontent.crm_layouts import domain_of

    bad_domains = [d for d in data.domains if not domain_of(d)]
    if bad_domains:
        errors["domains"] = [_("Not a domain: %(domains)s.", domains=", ".join(bad_domains))]
    return errors


def set_domains(account: Account, domains: list[str]) -> None:
    """The account answers to these domains; the first is its main one."""
    from abmcontent.crm_layouts import domain_of

    clean = list(dict.fromkeys(d for d in (domain_of(x) for x in domains) if d))
    for domain in clean:
        owner = db.session.get(AccountDomain, domain)
        if owner is not None and owner.account_id != account.id:
            raise ValidationError({"domains": [_("%(domain)s already belongs to %(account)s.",
                                                 domain=domain, account=owner.account.name)]})
    account.domains = [d for d in account.domains if d.domain in clean] + [
        AccountDomain(domain=d) for d in clean if d not in {x.domain for x in account.domains}]
    account.domain = clean[0] if clean else ""


def save_firmographics(account_id: int | None, data: Firmographics, user: User, now: datetime) -> Account:
    """Create (account_id None) or edit an account's firmographics; the ICP score follows."""
    if not can_edit(user):
        raise PermissionDenied(_("Only campaign managers can change account details."))
    from abmcontent import scoring
    from abmcontent.crm_layouts import name_key

    errors = validate_firmographics(data)
    if errors:
        raise ValidationError(errors)
    account = get_account(account_id) if account_id else Account(created_at=now, source="manual")
    if account_id is None:
        db.session.add(account)
    for name in ("industry", "sub_industry", "revenue", "employees", "region", "city",
                 "technologies", "competitor_products", "customer_base", "owner_id", "tier",
                 "journey_stage", "lost", "deal_size", "ip_ranges"):
        setattr(account, name, getattr(data, name))
    account.name = data.name.strip()
    account.name_key = name_key(account.name)
    account.country = geo.country_code(data.country)
    if account.country == "US":
        account.region = geo.us_state_code(data.region)
    account.updated_at = now
    db.session.flush()
    set_domains(account, data.domains)
    account.tier_locked = data.tier is not None  # "automatic" leaves the tier to the ICP score
    scoring.rescore(account)
    db.session.commit()
    return account


def update_qualification(account_id: int, bant: dict | None, context: dict | None, user: User,
                         now: datetime) -> Account:
    """BANT and the account context (goals, plans, challenges, stakes, timeline), as a rep fills them in."""
    account = get_account(account_id)
    if not can_qualify(user, account):
        raise PermissionDenied(_("Only the account owner or a campaign manager can qualify this account."))
    errors: dict[str, list[str]] = {}
    if bant is not None:
        clean = {}
        for key in BANT_KEYS:
            entry = bant.get(key) or {}
            status = entry.get("status", "unknown")
            if status not in BANT_STATUSES:
                errors[f"bant-{key}"] = [_("Choose a status.")]
            clean[key] = {"status": status, "note": (entry.get("note") or "").strip()[:2000]}
        account.bant = clean
    if context is not None:
        for key in CONTEXT_KEYS:
            if key in context:
                value = (context[key] or "").strip()
                if len(value) > 5000:
                    errors[key] = [_("Keep it under 5,000 characters.")]
                setattr(account, key, value[:5000])
    if errors:
        db.session.rollback()
        raise ValidationError(errors)
    account.updated_at = now
    db.session.commit()
    return account


def bulk_update(account_ids: list[int], user: User, now: datetime, tier: str | None = None,
                owner_id: str | None = None, stage: str | None = None) -> int:
    """Set tier, owner or stage on many accounts at once; returns how many changed."""
    if not can_edit(user):
        raise PermissionDenied(_("Only campaign managers can change account details."))
    values: dict = {}
    if tier:
        if tier == "auto":
            values["tier_locked"] = False
        elif tier in ("1", "2", "3"):
            values.update(tier=int(tier), tier_locked=True)
        else:
            raise ValidationError({"tier": [_("Tier is 1, 2 or 3.")]})
    if owner_id:
        if owner_id == "none":
            values["owner_id"] = None
        else:
            owner = db.session.get(User, int(owner_id)) if owner_id.isdigit() else None
            if owner is None or not owner.active:
                raise ValidationError({"owner": [_("Choose an active user as the owner.")]})
            values["owner_id"] = owner.id
    if stage:
        _check_stage(stage)
        values["journey_stage"] = stage
    if not values or not account_ids:
        raise ValidationError(_("Choose accounts and at least one change to make."))
    changed = 0
    unlock = values.get("tier_locked") is False
    for start in range(0, len(account_ids), 500):
        chunk = account_ids[start:start + 500]
        result = db.session.execute(update(Account).where(Account.id.in_(chunk))
                                    .values(**values, updated_at=now))
        changed += result.rowcount
    if unlock:  # back to the ICP's tier
        from abmcontent import icp, scoring

        scorer = icp.compile(*scoring.load())  # read the ICP once for all these accounts
        for account in db.session.scalars(select(Account).where(Account.id.in_(account_ids))):
            scoring.rescore(account, scorer)
    db.session.commit()
    return changed


def decide_target(account_id: int, status: str, comment: str, user: User, now: datetime) -> Account:
    """Propose, agree or reject an account for the target list, with who, when and why."""
    account = get_account(account_id)
    if status not in TARGET_STATUSES:
        raise ValidationError({"status": [_("Choose propose, agree or reject.")]})
    if not user.has_role(*QUALIFIER_ROLES):
        raise PermissionDenied(_("Only campaign managers and sales can decide the target list."))
    if status == "rejected" and not comment.strip():
        raise ValidationError({"comment": [_("Say why the account is rejected, so marketing can learn from it.")]})
    db.session.add(TargetDecision(account=account, status=status, comment=comment.strip()[:1000],
                                  user_id=user.id, at=now))
    account.target_status = status
    account.updated_at = now
    db.session.commit()
    return account


def stakeholder_map(account: Account) -> StakeholderMap:
    """Contacts by persona, and the roles nobody fills yet."""
    contacts = list(account.contacts)
    by_persona = [(p, [c for c in contacts if c.persona == p]) for p in taxonomy.personas()]
    known = set(taxonomy.personas())
    return StakeholderMap(
        by_persona=by_persona,
        unassigned=[c for c in contacts if c.persona not in known],
        missing=[p for p, people in by_persona if not people],
        count=len(contacts),
    )


def recommendations(account: Account, now: datetime, per_persona: int = 3) -> list[tuple[str, list]]:
    """Published content for each persona at this account's stage, industry and context."""
    from dataclasses import replace

    from abmcontent import matching

    index = matching.index_for_app()
    base = matching.request_for(account, limit=per_persona)
    base = replace(base, language="ko" if account.country == "KR" else "en")
    return [(persona, index.recommend(replace(base, persona=persona), now)) for persona in taxonomy.personas()]


def tier_counts() -> dict[int | None, int]:
    counts = dict(db.session.execute(select(Account.tier, func.count()).group_by(Account.tier)).all())
    return {tier: counts.get(tier, 0) for tier in (1, 2, 3, None)}


def target_counts() -> dict[str | None, int]:
    return dict(db.session.execute(select(Account.target_status, func.count())
                                   .group_by(Account.target_status)).all())


def owners() -> list[User]:
    return list(db.session.scalars(select(User).where(User.active.is_(True), User.role.in_(("sales", "campaign", "admin")))
                                   .order_by(User.name)))
