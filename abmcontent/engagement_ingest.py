"""Engagement other systems report through the API: event platforms (registered, attended,
declined), sales tools (meetings booked, replies), CRMs and form tools (form fills, downloads).

The rows are the ones tracking writes (abmcontent.tracking), in the same table with the same
columns and a person's empty ``machine``, so scores, MQAs, alerts and KPIs count them as they
count our own; channel "api" says where they came from. Unlike tracking, a batch is written before
the caller gets its answer, in one statement: the caller learns what was stored and retries only
on failure. An event's optional ``id`` (the caller's own key, per API user) becomes the row's unique
key, so a retried batch stores nothing twice, even when two retries race.

All or nothing: one bad event refuses the batch, each problem named by its place ("events.3.email").
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from abmcontent import milestones
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, AccountDomain, Asset, Contact, EngagementEvent, User

# What another system can witness. Page views, time on page, CTA clicks and email opens and clicks
# happen on our own pages and links, where we record them with the machine checks: not reported.
EXTERNAL_TYPES = ("form_fill", "asset_open", "asset_download", "event_registered", "event_declined",
                  "event_attended", "meeting_booked", "reply")
REPORTERS = ("marketer", "campaign")  # at any account; a sales rep at their own accounts; admin always
MAX_BATCH = 1000
MAX_ID = 200
MAX_DETAIL_KEYS = 20
MAX_DETAIL_TEXT = 500
MAX_VALUE = 1e12
MAX_DETAIL_NUMBER = 2**53  # what every JSON reader keeps exactly
FUTURE_SKEW = timedelta(minutes=5)  # another system's clock may run a little ahead of ours
MAX_AGE = timedelta(days=366)
CHANNEL = "api"
PROVENANCE = "_api"  # the detail key keeping the caller's id and user; caller keys start with a letter
DETAIL_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,49}")


@dataclass
class EventInput:
    type: str
    occurred_at: datetime
    id: str = ""                    # the caller's key: stored once per API user
    contact_id: int | None = None
    email: str = ""
    account_id: int | None = None
    domain: str = ""
    asset_id: int | None = None
    value: float | None = None
    detail: dict | None = None


@dataclass
class IngestResult:
    index: int
    id: str | None
    status: str                     # stored, duplicate
    event_id: int


@dataclass
class IngestReport:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    results: list[IngestResult] = field(default_factory=list)


def external_key(user_id: int | None, external_id: str) -> str:
    """The row key of a caller's event id: the same id from the same user is the same row."""
    return hashlib.sha256(f"api|{user_id or ''}|{external_id}".encode()).hexdigest()[:32]


def external_id(event: EngagementEvent) -> str | None:
    """The caller's id of an event reported through the API, else None."""
    kept = (event.detail or {}).get(PROVENANCE) if isinstance(event.detail, dict) else None
    return kept.get("id") if isinstance(kept, dict) else None


def caller_detail(event: EngagementEvent) -> dict | None:
    """The event's detail as its reporter sent it (without what we keep about the report)."""
    if not isinstance(event.detail, dict):
        return event.detail
    return {key: value for key, value in event.detail.items() if key != PROVENANCE}


def detail_problem(detail) -> str | None:
    """Why a caller's detail cannot be kept, or None: a flat object of short text, numbers, booleans."""
    if detail is None:
        return None
    if not isinstance(detail, dict) or len(detail) > MAX_DETAIL_KEYS:
        return _("Send detail as an object of at most %(n)s keys.", n=MAX_DETAIL_KEYS)
    for key, value in detail.items():
        if not isinstance(key, str) or not DETAIL_KEY.fullmatch(key):
            return _("Detail keys start with a letter and use letters, digits, _ . or -, at most 50.")
        if isinstance(value, str):
            if len(value) > MAX_DETAIL_TEXT or "\x00" in value:
                return _("Keep each detail text under %(n)s characters, without NUL.", n=MAX_DETAIL_TEXT)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, (int, float)):
            if not math.isfinite(value) or abs(value) > MAX_DETAIL_NUMBER:
                return _("Detail numbers must be finite and at most 2^53.")
        else:
            return _("Detail values are text, numbers, true/false or null, not lists or objects.")
    return None


class _Lookups:
    """Everything a batch names, read in a handful of queries rather than one per event."""

    def __init__(self, items: list[EventInput]) -> None:
        contact_ids = {i.contact_id for i in items if i.contact_id is not None}
        emails = {i.email.strip().lower() for i in items if i.email.strip()}
        self.contacts = {row.id: row for row in db.session.execute(
            select(Contact.id, Contact.account_id, Contact.email).where(Contact.id.in_(contact_ids)))} \
            if contact_ids else {}
        self.by_email: dict[str, tuple] = {}
        if emails:
            for row in db.session.execute(select(Contact.id, Contact.account_id, Contact.email)
                                          .where(Contact.email.in_(emails)).order_by(Contact.id.desc())):
                self.by_email[row.email] = row  # the oldest stakeholder with the address wins
        domains = {_domain(i.domain) for i in items if i.domain.strip()} | \
            {_domain(e) for e in emails if e not in self.by_email}
        domains.discard("")
        self.domains = dict(db.session.execute(select(AccountDomain.domain, AccountDomain.account_id)
                                               .where(AccountDomain.domain.in_(domains))).all()) if domains else {}
        account_ids = {i.account_id for i in items if i.account_id is not None} | \
            {row.account_id for row in self.contacts.values()} | \
            {row.account_id for row in self.by_email.values()} | set(self.domains.values())
        self.owners = dict(db.session.execute(select(Account.id, Account.owner_id)
                                              .where(Account.id.in_(account_ids))).all()) if account_ids else {}
        asset_ids = {i.asset_id for i in items if i.asset_id is not None}
        self.assets = set(db.session.scalars(select(Asset.id).where(Asset.id.in_(asset_ids)))) if asset_ids else set()


def _domain(text: str) -> str:
    from abmcontent.crm_layouts import domain_of

    return domain_of(text)


def _who(item: EventInput, found: _Lookups, problems: dict[str, str]) -> tuple[int | None, int | None]:
    """(account id, contact id) from the identifiers given, which must all agree."""
    contact = None
    if item.contact_id is not None:
        contact = found.contacts.get(item.contact_id)
        if contact is None:
            problems["contact_id"] = _("No stakeholder has this id.")
    email = item.email.strip().lower()
    accounts: dict[str, int] = {}  # identifier → the account it names
    if email:
        by_email = found.by_email.get(email)
        if item.contact_id is not None:
            if contact is not None and (by_email is None or by_email.id != contact.id):
                problems["email"] = _("This is not the email of the stakeholder with this contact_id.")
        elif by_email is not None:
            contact = by_email
        elif _domain(email) in found.domains:
            accounts["email"] = found.domains[_domain(email)]  # the company is known, the person is not
        else:
            problems["email"] = _("No stakeholder has this email, and no account has its domain.")
    if contact is not None:
        accounts["contact_id" if item.contact_id is not None else "email"] = contact.account_id
    if item.account_id is not None:
        if item.account_id in found.owners:
            accounts["account_id"] = item.account_id
        else:
            problems["account_id"] = _("No account has this id.")
    if item.domain.strip():
        owner = found.domains.get(_domain(item.domain))
        if owner is None:
            problems["domain"] = _("No account has this domain.")
        else:
            accounts["domain"] = owner
    if len(set(accounts.values())) > 1:
        first_name, first_account = next(iter(accounts.items()))
        for name, account_id in accounts.items():
            if account_id != first_account:
                problems[name] = _("This names another account than %(other)s does.", other=first_name)
        return None, None
    if not accounts and not problems:
        problems[""] = _("Name the person (contact_id or email) or the account (account_id or domain).")
    account_id = next(iter(accounts.values()), None)
    return account_id, contact.id if contact is not None else None


def _when(item: EventInput, now: datetime, problems: dict[str, str]) -> datetime | None:
    moment = item.occurred_at
    try:
        moment = moment.astimezone(timezone.utc) if moment.tzinfo is not None else None
    except (OverflowError, ValueError):
        moment = datetime.min.replace(tzinfo=timezone.utc)  # a year-1 time east of UTC: too old anyway
    if moment is None:
        problems["occurred_at"] = _("Give the time with its zone, e.g. 2026-11-02T09:30:00+09:00.")
    elif moment > now + FUTURE_SKEW:
        problems["occurred_at"] = _("This time is in the future.")
    elif moment < now - MAX_AGE:
        problems["occurred_at"] = _("This time is more than a year ago: report recent engagement only.")
    else:
        return moment
    return None


def _check(item: EventInput, found: _Lookups, user: User | None, anywhere: bool, now: datetime
           ) -> tuple[dict[str, str], dict | None]:
    problems: dict[str, str] = {}
    if item.type not in EXTERNAL_TYPES:
        problems["type"] = _("Report one of: %(types)s.", types=", ".join(EXTERNAL_TYPES))
    moment = _when(item, now, problems)
    if len(item.id) > MAX_ID or any(not ch.isprintable() for ch in item.id):
        problems["id"] = _("Keep the id under %(n)s printable characters.", n=MAX_ID)
    if item.asset_id is not None and item.asset_id not in found.assets:
        problems["asset_id"] = _("No asset has this id.")
    if item.value is not None and (not math.isfinite(item.value) or abs(item.value) > MAX_VALUE):
        problems["value"] = _("Send a finite number up to 10^12.")
    wrong_detail = detail_problem(item.detail)
    if wrong_detail:
        problems["detail"] = wrong_detail
    account_id, contact_id = _who(item, found, problems)
    if account_id is not None and not anywhere and found.owners.get(account_id) != user.id:
        problems[""] = _("You can report engagement only at accounts you own.")
    if problems:
        return problems, None
    return problems, {
        "type": item.type, "occurred_at": moment, "account_id": account_id, "contact_id": contact_id,
        "asset_id": item.asset_id, "landing_page_id": None, "visit": "", "variant": "", "value": item.value,
        "channel": CHANNEL, "user_agent": "", "machine": "", "touchpoint_id": None,
        "detail": {**(item.detail or {}), PROVENANCE: {"id": item.id or None, "user": user.id if user else None}},
    }


def ingest(items: list[EventInput], user: User | None, now: datetime) -> IngestReport:
    """Store a batch of reported events, all or none; what was stored and what was already there."""
    anywhere = user is None or user.has_role(*REPORTERS)
    if not anywhere and not user.has_role("sales"):
        raise PermissionDenied(_("Your role cannot report engagement."))
    if not items or len(items) > MAX_BATCH:
        raise ValidationError({"events": [_("Send 1 to %(n)s events at a time.", n=f"{MAX_BATCH:,}")]})
    found = _Lookups(items)
    errors: dict[str, list[str]] = {}
    rows: list[dict] = []
    for index, item in enumerate(items):
        problems, row = _check(item, found, user, anywhere, now)
        for name, message in problems.items():
            errors[f"events.{index}.{name}" if name else f"events.{index}"] = [message]
        if row is not None:
            row["key"] = external_key(user.id if user else None, item.id) if item.id else os.urandom(16).hex()
            rows.append(row)
    if errors:
        raise ValidationError(errors)
    first: dict[str, dict] = {}
    for row in rows:
        first.setdefault(row["key"], row)  # the same id twice in one batch: stored once
    table = EngagementEvent.__table__
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id, table.c.key)
    stored = {key: event_id for event_id, key in db.session.execute(statement, list(first.values()))}
    earlier = [key for key in first if key not in stored]
    existing = dict(db.session.execute(select(table.c.key, table.c.id).where(table.c.key.in_(earlier))).all()) \
        if earlier else {}
    db.session.commit()
    report = IngestReport(received=len(items))
    new_keys = set(stored)
    for index, (item, row) in enumerate(zip(items, rows)):
        key = row["key"]
        fresh = key in new_keys
        new_keys.discard(key)  # a repeat later in the batch is a duplicate of this one
        report.results.append(IngestResult(index, item.id or None, "stored" if fresh else "duplicate",
                                           stored.get(key) or existing[key]))
    report.stored = sum(result.status == "stored" for result in report.results)
    report.duplicates = report.received - report.stored
    _engaged(first[key] for key in stored)
    return report


def _engaged(rows) -> None:
    """The first time each account engaged, for events older than the alert job looks at (a day):
    the funnel and the comparison read these milestones."""
    reached: dict[int, datetime] = {}
    for row in rows:
        account_id = row["account_id"]
        if account_id not in reached or row["occurred_at"] < reached[account_id]:
            reached[account_id] = row["occurred_at"]
    milestones.reach("engaged", reached)
