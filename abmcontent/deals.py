"""Deals (opportunities) per account: entered by sales, closed won or lost with a reason, read by
marketing (the hand-off page) and by the KPIs (pipeline velocity, close rate, churn, average
selling price, proposals sent, meetings).

The KPIs count these rows as they are, so every write goes through one set of rules
(`validate`): a closed deal has its closed date, a lost one its reason, a won one its amount;
no date comes before the deal was created, nor lies in the future; only a won deal churns, and
not before it was won. Moving a closed deal back to an open stage reopens it: its closed date,
reason and churn date are cleared (``updated_at`` records when).

Plain arguments in, models or dataclasses out; errors are domain errors.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import selectinload

from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import CLOSED_STAGES, DEAL_STAGES, OPEN_STAGES, Account, Deal, User
from abmcontent.paging import Page, clamp

MANAGERS = ("campaign",)            # any deal, delete, import (admin always passes)
OWNER_ROLES = ("sales", "campaign", "admin")
MAX_AMOUNT = 10**15                 # a quadrillion dollars: anything larger is a typo
MAX_MEETINGS = 10_000
MAX_NAME = 200
MAX_REASON = 1000
MAX_CRM_ID = 64
SORTS = {  # allow-list: request values never reach ORDER BY
    "created": Deal.created_on,
    "amount": Deal.amount,
    "closed": Deal.closed_on,
}
EXPORT_HEADERS = ["account", "account domain", "deal name", "stage", "amount", "created", "proposal sent",
                  "meetings", "closed", "reason", "churned", "owner email", "crm id"]


@dataclass
class DealInput:
    """A deal as typed in the form or read from a CSV row: raw strings, checked by `validate`."""

    name: str = ""
    stage: str = "qualification"
    amount: str = ""            # whole dollars: "12500", "12,500", "$12,500", "12500.00"
    created_on: str = ""        # 2026-03-01, 2026/03/01, 2026. 3. 1., 03/01/2026 (see parse_date)
    proposal_sent_on: str = ""
    meetings: str = ""          # empty: none
    closed_on: str = ""         # kept for closed stages only
    close_reason: str = ""      # needed to close lost
    churned_on: str = ""        # won deals only: the day the customer left
    owner_id: str = ""          # a user id; empty: nobody
    crm_id: str = ""


@dataclass
class DealValues:
    """A deal's values once they passed every rule."""

    name: str
    stage: str
    amount: int | None
    created_on: date
    proposal_sent_on: date | None
    meetings: int
    closed_on: date | None
    close_reason: str
    churned_on: date | None
    crm_id: str


@dataclass
class DealFilters:
    q: str = ""               # account name or domain, or deal name
    stage: str = ""           # a stage, "open" or "closed"
    owner: str = ""           # user id, or "none"
    closed_from: str = ""     # ISO dates (the date inputs)
    closed_to: str = ""
    sort: str = "created"
    direction: str = "desc"
    page: int = 1
    account_id: int | None = None

    def active(self) -> bool:
        return any([self.q.strip(), self.stage, self.owner, self.closed_from, self.closed_to,
                    self.account_id is not None])


@dataclass
class DealTotals:
    open_amount: int = 0
    open_count: int = 0
    won_amount: int = 0       # won this quarter
    won_count: int = 0
    quarter_start: date | None = None
    quarter_end: date | None = None


@dataclass
class CloseCounts:
    won: int = 0
    lost: int = 0
    won_amount: int = 0


# --- reading values as people type them ------------------------------------------------------------

class BadValue(ValueError):
    """A value that cannot be read; the message says why in the user's words."""


_WHOLE = re.compile(r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<cents>\d+))?")
_CURRENCY = re.compile(r"^(?:us\$|usd|\$)\s*|\s*(?:usd|\$)$", re.IGNORECASE)
_ISO = re.compile(r"(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})\.?")
_KOREAN = re.compile(r"(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일")
_YEAR_LAST = re.compile(r"(?P<a>\d{1,2})\s*[-/.]\s*(?P<b>\d{1,2})\s*[-/.]\s*(?P<y>\d{4})\.?")
# What spreadsheets and CRMs put after a date: a time, maybe with AM/PM (오전/오후) and a zone.
_TIME = re.compile(r"(?:T|\s+)(?:오전|오후|am|pm)?\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*"
                   r"(?:am|pm|오전|오후|z|utc|[+-]\d{2}:?\d{2})?", re.IGNORECASE)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_amount(text: str) -> int | None:
    """Whole dollars: "12500", "12,500", "$12,500", "12500.00"; None when empty.

    "12.5k", "12500.50" or "1.2M" are refused rather than guessed: an amount read wrong
    would skew pipeline and average selling price without anyone noticing.
    """
    s = _normal(text).replace(" ", "")
    if not s:
        return None
    s = _CURRENCY.sub("", s)
    if s.startswith(("-", "−", "(")):
        raise BadValue(_("An amount can't be negative."))
    found = _WHOLE.fullmatch(s)
    if not found or (found["cents"] and found["cents"].strip("0")):
        raise BadValue(_("“%(value)s” is not a whole amount in dollars. Write the full number, like 12500 "
                         "or 12,500.", value=_show(text)))
    value = int(found["whole"].replace(",", ""))
    if value > MAX_AMOUNT:
        raise BadValue(_("“%(value)s” is too large for an amount.", value=_show(text)))
    return value


def parse_count(text: str) -> int:
    """A whole number of 0 or more ("3", "3.0"); 0 when empty."""
    s = _normal(text)
    if not s:
        return 0
    found = _WHOLE.fullmatch(s)
    if not found or (found["cents"] and found["cents"].strip("0")) or int(found["whole"].replace(",", "")) > MAX_MEETINGS:
        raise BadValue(_("Enter the number of meetings as a whole number, 0 or more."))
    return int(found["whole"].replace(",", ""))


def parse_date(text: str, day_first: bool = False) -> date | None:
    """A date as people and spreadsheets write it; None when empty.

    Year first: 2026-03-01, 2026/03/01, 2026.03.01, 2026. 3. 1. (Korean Excel), 2026년 3월 1일,
    and a time after it (2026-03-01T10:00:00Z, as CRM exports write) is ignored. Year last:
    03/01/2026 is month/day/year (US Excel and Salesforce exports), 01/03/2026 with
    ``day_first`` (the CSV import decides per file from dates like 25/03/2026). Two-digit years
    are refused: 03/01/26 could be three different days.
    """
    s = _normal(text)
    if not s:
        return None
    found = None
    for pattern in (_ISO, _KOREAN):
        found = pattern.match(s)
        if found:
            y, m, d = int(found["y"]), int(found["m"]), int(found["d"])
            break
    else:
        found = _YEAR_LAST.match(s)
        if found:
            a, b, y = int(found["a"]), int(found["b"]), int(found["y"])
            m, d = (b, a) if day_first else (a, b)
    rest = s[found.end():] if found else s
    if found is None or (rest and not _TIME.fullmatch(rest)):
        raise BadValue(_("“%(value)s” is not a date. Write it like 2026-03-01.", value=_show(text)))
    try:
        return date(y, m, d)
    except ValueError:
        if found.re is _YEAR_LAST:
            order = _("day/month/year") if day_first else _("month/day/year")
            raise BadValue(_("“%(value)s” is not a date in %(order)s order. Write it like 2026-03-01.",
                             value=_show(text), order=order)) from None
        raise BadValue(_("“%(value)s” is not a date. Write it like 2026-03-01.", value=_show(text))) from None


def year_last_parts(text: str) -> tuple[int, int] | None:
    """The two leading numbers of a year-last date (e.g. (3, 25) for 03/25/2026), else None."""
    found = _YEAR_LAST.match(_normal(text))
    return (int(found["a"]), int(found["b"])) if found else None


def _show(text: str, limit: int = 40) -> str:
    shown = "".join(ch if ch.isprintable() else " " for ch in (text or "").strip())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join((text or "").replace("\x00", "").split())


# --- the rules ---------------------------------------------------------------------------------------

def validate(data: DealInput, now: datetime, day_first: bool = False
             ) -> tuple[dict[str, list[str]], DealValues | None]:
    """Per-field errors, and the clean values when there are none. The same rules for the form,
    the close and churn buttons and the CSV import."""
    errors: dict[str, list[str]] = {}
    latest = now.date() + timedelta(days=1)  # a rep east of UTC may already be in tomorrow

    def read(name: str, parse):
        try:
            return parse(getattr(data, name))
        except BadValue as bad:
            errors.setdefault(name, []).append(str(bad))
            return None

    def a_date(name: str) -> date | None:
        value = read(name, lambda text: parse_date(text, day_first))
        if value is not None and value > latest:
            errors.setdefault(name, []).append(_("%(date)s is in the future.", date=value.isoformat()))
            return None
        return value

    name = _one_line(data.name)
    if not name:
        errors["name"] = [_("Give the deal a name.")]
    elif len(name) > MAX_NAME:
        errors["name"] = [_("Keep the deal name under %(n)s characters.", n=MAX_NAME)]
    stage = (data.stage or "").strip()
    if stage not in DEAL_STAGES:
        errors["stage"] = [_("Choose a stage.")]
    amount = read("amount", parse_amount)
    meetings = read("meetings", parse_count)
    created = a_date("created_on")
    if created is None and "created_on" not in errors:
        errors["created_on"] = [_("Enter the date the deal was created.")]
    proposal = a_date("proposal_sent_on")
    if proposal and created and proposal < created:
        errors.setdefault("proposal_sent_on", []).append(
            _("The proposal can't be sent before the deal was created (%(created)s).", created=created.isoformat()))
    closed_on, reason, churned = None, "", None
    if stage in CLOSED_STAGES:  # an open stage keeps none of these: that is how a deal is reopened
        closed_on = a_date("closed_on")
        if closed_on is None and "closed_on" not in errors:
            errors["closed_on"] = [_("Enter the date the deal was won or lost.")]
        elif closed_on and created and closed_on < created:
            errors.setdefault("closed_on", []).append(
                _("A deal can't close before it was created (%(created)s).", created=created.isoformat()))
        reason = (data.close_reason or "").replace("\x00", "").strip()
        if len(reason) > MAX_REASON:
            errors["close_reason"] = [_("Keep the reason under 1,000 characters.")]
        elif stage == "closed_lost" and not reason:
            errors["close_reason"] = [_("Say why the deal was lost, so marketing can learn from it: "
                                        "e.g. chose a competitor, no budget this year.")]
        if stage == "closed_won" and amount is None and "amount" not in errors:
            errors["amount"] = [_("A won deal needs its amount.")]
        if (data.churned_on or "").strip():
            if stage != "closed_won":
                errors["churned_on"] = [_("Only a won deal can churn.")]
            else:
                churned = a_date("churned_on")
                if churned and closed_on and churned < closed_on:
                    errors.setdefault("churned_on", []).append(
                        _("A customer can't leave before the deal was won (%(closed)s).", closed=closed_on.isoformat()))
    crm_id = _one_line(data.crm_id)
    if len(crm_id) > MAX_CRM_ID:
        errors["crm_id"] = [_("Keep the CRM id under %(n)s characters.", n=MAX_CRM_ID)]
    if errors:
        return errors, None
    return {}, DealValues(name=name, stage=stage, amount=amount, created_on=created, proposal_sent_on=proposal,
                          meetings=meetings or 0, closed_on=closed_on, close_reason=reason, churned_on=churned,
                          crm_id=crm_id)


def input_for(deal: Deal) -> DealInput:
    """A deal as its form shows it."""
    def day(value: date | None) -> str:
        return value.isoformat() if value else ""

    return DealInput(name=deal.name, stage=deal.stage, amount="" if deal.amount is None else str(deal.amount),
                     created_on=day(deal.created_on), proposal_sent_on=day(deal.proposal_sent_on),
                     meetings=str(deal.meetings or 0), closed_on=day(deal.closed_on),
                     close_reason=deal.close_reason or "", churned_on=day(deal.churned_on),
                     owner_id=str(deal.owner_id or ""), crm_id=deal.crm_id or "")


# --- permissions -------------------------------------------------------------------------------------

def can_manage(user: User) -> bool:
    """Campaign managers (and admins) work on every deal, delete deals and import them."""
    return user.has_role(*MANAGERS)


def can_create(user: User, account: Account) -> bool:
    return can_manage(user) or (user.role == "sales" and account.owner_id == user.id)


def can_edit(user: User, deal: Deal) -> bool:
    return can_manage(user) or (user.role == "sales" and user.id in (deal.owner_id, deal.account.owner_id))


def _require_edit(user: User, deal: Deal) -> None:
    if not can_edit(user, deal):
        raise PermissionDenied(_("Only the deal's owner, the account's owner or a campaign manager can change "
                                 "this deal."))


# --- reading -----------------------------------------------------------------------------------------

def get_deal(deal_id: int) -> Deal:
    deal = db.session.get(Deal, deal_id)
    if deal is None:
        raise NotFound(_("That deal does not exist."))
    return deal


def deals_for_account(account_id: int) -> list[Deal]:
    """An account's deals: open ones first, then newest first."""
    return list(db.session.scalars(
        select(Deal).where(Deal.account_id == account_id).options(selectinload(Deal.owner))
        .order_by(case((Deal.stage.in_(OPEN_STAGES), 0), else_=1), Deal.created_on.desc(), Deal.id.desc())))


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _like(pattern_text: str):
    pattern = "%" + pattern_text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sqlite = db.session.get_bind().dialect.name == "sqlite"  # SQLite's LIKE already ignores ASCII case
    return (lambda column: column.like(pattern, escape="\\")) if sqlite else \
        (lambda column: column.ilike(pattern, escape="\\"))


def _who_conditions(filters: DealFilters) -> list:
    """Owner and search: what the totals share with the list."""
    conditions = []
    if filters.owner == "none":
        conditions.append(Deal.owner_id.is_(None))
    elif filters.owner.isdigit():
        conditions.append(Deal.owner_id == int(filters.owner))
    q = " ".join(filters.q.split())
    if q:
        like = _like(q)
        conditions.append(or_(like(Deal.name), Deal.account_id.in_(
            select(Account.id).where(or_(like(Account.name), like(Account.domain))))))
    return conditions


def _conditions(filters: DealFilters) -> list:
    conditions = _who_conditions(filters)
    if filters.account_id is not None:
        conditions.append(Deal.account_id == filters.account_id)
    if filters.stage in DEAL_STAGES:
        conditions.append(Deal.stage == filters.stage)
    elif filters.stage == "open":
        conditions.append(Deal.stage.in_(OPEN_STAGES))
    elif filters.stage == "closed":
        conditions.append(Deal.stage.in_(CLOSED_STAGES))
    closed_from, closed_to = _iso(filters.closed_from), _iso(filters.closed_to)
    if closed_from:
        conditions.append(Deal.closed_on >= closed_from)
    if closed_to:
        conditions.append(Deal.closed_on <= closed_to)
    return conditions


def _order(filters: DealFilters) -> list:
    column = SORTS.get(filters.sort, SORTS["created"])
    if filters.direction == "asc":
        return [column.asc().nulls_last(), Deal.id.asc()]
    return [column.desc().nulls_last(), Deal.id.desc()]


def search(filters: DealFilters, page_size: int = 50) -> Page:
    """One page of the pipeline list."""
    conditions = _conditions(filters)
    where = and_(*conditions) if conditions else True
    total = db.session.scalar(select(func.count(Deal.id)).where(where))
    page = clamp(filters.page, total, page_size)
    items = list(db.session.scalars(
        select(Deal).where(where).options(selectinload(Deal.account), selectinload(Deal.owner))
        .order_by(*_order(filters)).limit(page_size).offset((page - 1) * page_size)))
    return Page(items=items, total=total, page=page, page_size=page_size)


def quarter_of(day: date) -> tuple[date, date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1) - timedelta(days=1)
    return start, end


def totals(filters: DealFilters, now: datetime) -> DealTotals:
    """Open pipeline and deals won this quarter, for the list's owner and search (not its stage)."""
    who = _who_conditions(filters)
    open_amount, open_count = db.session.execute(
        select(func.coalesce(func.sum(Deal.amount), 0), func.count(Deal.id))
        .where(Deal.stage.in_(OPEN_STAGES), *who)).one()
    start, end = quarter_of(now.date())
    won_amount, won_count = db.session.execute(
        select(func.coalesce(func.sum(Deal.amount), 0), func.count(Deal.id))
        .where(Deal.stage == "closed_won", Deal.closed_on >= start, Deal.closed_on <= end, *who)).one()
    return DealTotals(open_amount=int(open_amount), open_count=open_count, won_amount=int(won_amount),
                      won_count=won_count, quarter_start=start, quarter_end=end)


def _since(since: datetime | date) -> date:
    return since.date() if isinstance(since, datetime) else since


def recent_closed(since: datetime | date, limit: int = 50) -> list[Deal]:
    """Deals won or lost on or after `since`, newest first: marketing's view of how deals end."""
    return list(db.session.scalars(
        select(Deal).where(Deal.stage.in_(CLOSED_STAGES), Deal.closed_on >= _since(since))
        .options(selectinload(Deal.account), selectinload(Deal.owner))
        .order_by(Deal.closed_on.desc(), Deal.id.desc()).limit(limit)))


def close_counts(since: datetime | date) -> CloseCounts:
    """How many deals were won and lost on or after `since`, and what the won ones were worth."""
    rows = db.session.execute(
        select(Deal.stage, func.count(Deal.id), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.stage.in_(CLOSED_STAGES), Deal.closed_on >= _since(since)).group_by(Deal.stage)).all()
    counts = CloseCounts()
    for stage, count, amount in rows:
        if stage == "closed_won":
            counts.won, counts.won_amount = count, int(amount)
        else:
            counts.lost = count
    return counts


def export_rows(filters: DealFilters) -> Iterator[list]:
    """The filtered list as CSV rows (EXPORT_HEADERS), in the list's order: the import reads them back."""
    owners = dict(db.session.execute(select(User.id, User.email)).all())
    conditions = _conditions(filters)
    query = (select(Deal, Account.name, Account.domain).join(Account, Account.id == Deal.account_id)
             .where(and_(*conditions) if conditions else True).order_by(*_order(filters))
             .execution_options(yield_per=2000))
    for deal, account_name, account_domain in db.session.execute(query):
        yield [account_name, account_domain, deal.name, deal.stage, deal.amount, deal.created_on,
               deal.proposal_sent_on, deal.meetings, deal.closed_on, deal.close_reason, deal.churned_on,
               owners.get(deal.owner_id, ""), deal.crm_id]


# --- writing -----------------------------------------------------------------------------------------

def _owner_id(text: str, errors: dict[str, list[str]], current: int | None) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if current is not None and text == str(current):
        return current  # keeping the owner the deal has, even one who since left
    owner = db.session.get(User, int(text)) if text.isdigit() else None
    if owner is None or not owner.active or owner.role not in OWNER_ROLES:
        errors["owner_id"] = [_("Choose an active sales rep or campaign manager as the owner.")]
        return None
    return owner.id


def _crm_id_taken(crm_id: str, deal_id: int | None) -> bool:
    if not crm_id:
        return False
    query = select(Deal.id).where(Deal.crm_id == crm_id)
    if deal_id is not None:
        query = query.where(Deal.id != deal_id)
    return db.session.scalar(query.limit(1)) is not None


def _checked(data: DealInput, now: datetime, deal: Deal | None) -> tuple[DealValues, int | None]:
    errors, values = validate(data, now)
    owner_id = _owner_id(data.owner_id, errors, deal.owner_id if deal else None)
    if values is not None and _crm_id_taken(values.crm_id, deal.id if deal else None):
        errors["crm_id"] = [_("Another deal already has this CRM id.")]
    if errors:
        raise ValidationError(errors)
    return values, owner_id


def _apply(deal: Deal, values: DealValues, owner_id: int | None, now: datetime) -> None:
    for name in ("name", "stage", "amount", "created_on", "proposal_sent_on", "meetings", "closed_on",
                 "close_reason", "churned_on", "crm_id"):
        setattr(deal, name, getattr(values, name))
    deal.owner_id = owner_id
    deal.updated_at = now


def create_deal(account_id: int, data: DealInput, user: User, now: datetime, source: str = "ui") -> Deal:
    """A new deal on an account: its owner (a sales rep), or a campaign manager."""
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound(_("That account does not exist."))
    if not can_create(user, account):
        raise PermissionDenied(_("Only the account's owner or a campaign manager can add deals to it."))
    values, owner_id = _checked(data, now, None)
    deal = Deal(account_id=account.id, created_at=now, source=source)
    _apply(deal, values, owner_id, now)
    db.session.add(deal)
    db.session.commit()
    return deal


def update_deal(deal_id: int, data: DealInput, user: User, now: datetime) -> Deal:
    """Change a deal; an open stage on a closed deal reopens it (closed date and reason cleared)."""
    deal = get_deal(deal_id)
    _require_edit(user, deal)
    values, owner_id = _checked(data, now, deal)
    _apply(deal, values, owner_id, now)
    db.session.commit()
    return deal


def _changed(data: DealInput, changes: dict[str, str], was_closed: bool, now: datetime) -> DealInput:
    """`data` with `changes` on top; closing without a date closes today, as the close button does."""
    for name, value in changes.items():
        if name not in DealInput.__dataclass_fields__:
            raise ValueError(f"not a deal field: {name}")
        setattr(data, name, value)
    if data.stage in CLOSED_STAGES and not was_closed and "closed_on" not in changes:
        data.closed_on = now.date().isoformat()
    return data


def patch_deal(deal_id: int, changes: dict[str, str], user: User, now: datetime) -> Deal:
    """Change only the fields given (as DealInput's text); the others keep their values."""
    deal = get_deal(deal_id)
    _require_edit(user, deal)
    data = _changed(input_for(deal), changes, deal.stage in CLOSED_STAGES, now)
    values, owner_id = _checked(data, now, deal)
    _apply(deal, values, owner_id, now)
    db.session.commit()
    return deal


def account_from(account_id: int | None = None, account_crm_id: str = "", text: str = "") -> Account | None:
    """The account a caller names by our id, its CRM id, or its name or domain; None if none is given."""
    if account_id is not None:
        account = db.session.get(Account, account_id)
        if account is None:
            raise ValidationError({"account_id": [_("No account has this id.")]})
        return account
    if (account_crm_id or "").strip():
        account = db.session.scalar(select(Account).where(Account.crm_id == account_crm_id.strip()).limit(1))
        if account is None:
            raise ValidationError({"account_crm_id": [_("No account has this CRM id.")]})
        return account
    if (text or "").strip():
        return account_for(text)
    return None


def upsert_by_crm_id(crm_id: str, account: Account | None, changes: dict[str, str], user: User,
                     now: datetime) -> tuple[Deal, bool]:
    """The deal with this CRM id changed by `changes` (fields not given keep their values), or a new
    one on `account` when there is none: what a CRM sync sends. Also whether it was created."""
    crm_id = _one_line(crm_id)
    if not crm_id or len(crm_id) > MAX_CRM_ID:
        raise ValidationError({"crm_id": [_("Keep the CRM id under %(n)s characters.", n=MAX_CRM_ID)]})
    changes = {**changes, "crm_id": crm_id}
    deal = db.session.scalar(select(Deal).where(Deal.crm_id == crm_id).order_by(Deal.id).limit(1))
    if deal is None:
        if account is None:
            raise ValidationError({"account_id": [_("Say which account a new deal is with.")]})
        data = _changed(DealInput(created_on=now.date().isoformat()), changes, False, now)
        return create_deal(account.id, data, user, now, source="api"), True
    if account is not None and account.id != deal.account_id:
        raise ValidationError({"account_id": [_("This deal is with another account; a deal does not move "
                                                "between accounts.")]})
    return patch_deal(deal.id, changes, user, now), False


def close_deal(deal_id: int, won: bool, reason: str, amount: str, closed_on: str, user: User,
               now: datetime) -> Deal:
    """Close a deal won or lost. Lost needs a reason; won needs an amount (the deal's own when
    none is given). No date: closed today."""
    deal = get_deal(deal_id)
    _require_edit(user, deal)
    data = input_for(deal)
    data.stage = "closed_won" if won else "closed_lost"
    data.close_reason = reason or ""
    data.closed_on = (closed_on or "").strip() or now.date().isoformat()
    if (amount or "").strip():
        data.amount = amount
    if not won:
        data.churned_on = ""
    values, owner_id = _checked(data, now, deal)
    _apply(deal, values, owner_id, now)
    db.session.commit()
    return deal


def mark_churned(deal_id: int, churned_on: str, user: User, now: datetime) -> Deal:
    """A won customer left. Only won deals churn, on or after the day they were won."""
    deal = get_deal(deal_id)
    _require_edit(user, deal)
    if deal.stage != "closed_won":
        raise InvalidTransition(_("Only a won deal can churn."))
    if not (churned_on or "").strip():
        raise ValidationError({"churned_on": [_("Enter the day the customer left.")]})
    data = input_for(deal)
    data.churned_on = churned_on
    values, owner_id = _checked(data, now, deal)
    _apply(deal, values, owner_id, now)
    db.session.commit()
    return deal


def delete_deal(deal_id: int, user: User) -> int:
    """Remove a deal entered by mistake (campaign managers and admins); returns its account id."""
    if not can_manage(user):
        raise PermissionDenied(_("Only campaign managers can delete deals."))
    deal = get_deal(deal_id)
    account_id = deal.account_id
    db.session.delete(deal)
    db.session.commit()
    return account_id


def account_for(text: str) -> Account:
    """The account a new deal is for, from what someone typed (name or domain)."""
    from abmcontent.accounts import find_account

    account = find_account(text or "")
    if account is None:
        raise ValidationError({"account": [_("No account matches “%(text)s”. Type its exact name or domain.",
                                             text=_show(text)) if (text or "").strip() else
                                           _("Choose the account the deal is with.")]})
    return account
