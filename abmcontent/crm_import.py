"""Import accounts and contacts from CRM exports: recognise, validate, dedupe, save whole or not at all.

A job reads the file, normalises every row (progress is saved as it goes), and
rejects the whole file if any row is bad, with every rejected row and why. Only
then does it write, in one transaction: accounts are matched by domain, then CRM
id, then normalised name; contacts by email. Re-importing updates and never
duplicates, and never resubscribes a contact who unsubscribed.
"""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, case, func, insert, select, text, update

from abmcontent import crm_csv, crm_layouts, icp, scoring
from abmcontent.errors import NotFound, ValidationError
from abmcontent.extensions import db
from abmcontent.models import (Account, AccountDomain, Consent, Contact, ImportJob, ImportMapping,
                               User)

KINDS = ("accounts", "contacts")
PROGRESS_EVERY = 2000
ACCOUNT_COLUMNS = ("name", "domain", "industry", "sub_industry", "revenue", "employees", "city",
                   "region", "country", "technologies", "competitor_products", "customer_base",
                   "tier", "journey_stage", "lost", "deal_size", "owner_id", "crm_id")
CONTACT_COLUMNS = ("first_name", "last_name", "email", "phone", "title", "seniority", "persona",
                   "buying_authority", "language", "timezone", "street", "city", "region",
                   "postal_code", "country", "crm_id", "account_id")
Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    kind: str
    layout: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0               # rows that repeat an account or contact already in the file
    accounts_created: int = 0     # contacts import: accounts made for companies not yet known
    unsubscribed: int = 0
    rejected: list[dict] = field(default_factory=list)   # {"line": n, "errors": [...]}
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    saved: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


class NeedsMapping(ValidationError):
    """The columns were not recognised: someone must map them (the UI's mapping screen)."""


def _upload_path(folder: str, stored_name: str) -> Path:
    return Path(folder) / "imports" / stored_name


def read(data: bytes) -> crm_csv.Table:
    try:
        return crm_csv.read_table(data)
    except crm_csv.CsvError as error:
        raise ValidationError({"file": [str(error)]})


def layout_for(kind: str, headers: list[str], mapping: dict | None = None) -> crm_layouts.Layout:
    """A known export layout, a mapping given or saved before for these headers, else NeedsMapping."""
    if mapping:
        problems = crm_layouts.validate_mapping(kind, mapping, headers)
        if problems:
            raise ValidationError({"mapping": problems})
        return crm_layouts.Layout(name="custom", mapping=dict(mapping),
                                  unmapped=[h for h in headers if h not in mapping])
    layout = crm_layouts.detect_layout(kind, headers)
    if layout is not None:
        return layout
    saved = db.session.scalar(select(ImportMapping).where(
        ImportMapping.kind == kind, ImportMapping.header_key == crm_layouts.header_key(kind, headers))
        .order_by(ImportMapping.id.desc()).limit(1))
    if saved is not None:
        return crm_layouts.Layout(name="saved", mapping=dict(saved.mapping),
                                  unmapped=[h for h in headers if h not in saved.mapping])
    raise NeedsMapping({"mapping": [_("These columns were not recognised. Map them to fields once; "
                                      "the mapping is kept for the next file like this.")]})


def create_job(kind: str, filename: str, data: bytes, user: User | None, now: datetime, folder: str,
               dry_run: bool = False, mapping: dict | None = None, locale: str = "en") -> ImportJob:
    """Check the file can be read, store it, and queue it (or ask for a column mapping)."""
    if kind not in KINDS:
        raise ValidationError({"kind": [_("Import accounts or contacts.")]})
    table = read(data)
    stored_name = secrets.token_hex(16)
    path = _upload_path(folder, stored_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    job = ImportJob(kind=kind, filename=Path(filename or "upload.csv").name[:255], stored_name=stored_name,
                    dry_run=dry_run, locale=locale, total_rows=len(table.rows), created_by_id=user.id if user else None,
                    created_at=now, report={"headers": table.headers})
    try:
        layout = layout_for(kind, table.headers, mapping)
        job.layout, job.mapping, job.status = layout.name, layout.mapping, "queued"
    except NeedsMapping:
        job.status = "needs_mapping"
    db.session.add(job)
    db.session.commit()
    return job


def get_job(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(_("That import does not exist."))
    return job


def set_mapping(job_id: int, mapping: dict[str, str], user: User | None, now: datetime) -> ImportJob:
    """Apply a column mapping a user made, keep it for the next file with these headers, queue the job."""
    job = get_job(job_id)
    headers = job.report.get("headers", [])
    mapping = {h: f for h, f in mapping.items() if f}
    layout = layout_for(job.kind, headers, mapping)
    db.session.add(ImportMapping(kind=job.kind, header_key=crm_layouts.header_key(job.kind, headers),
                                 headers=headers, mapping=layout.mapping,
                                 created_by_id=user.id if user else None, created_at=now))
    job.layout, job.mapping, job.status = "custom", layout.mapping, "queued"
    db.session.commit()
    return job


def claim_next() -> int | None:
    """Take the oldest queued job so no other worker runs it too (a conditional UPDATE)."""
    for job_id in db.session.scalars(select(ImportJob.id).where(ImportJob.status == "queued")
                                     .order_by(ImportJob.id).limit(5)):
        claimed = db.session.execute(update(ImportJob).where(ImportJob.id == job_id,
                                                             ImportJob.status == "queued")
                                     .values(status="running"))
        db.session.commit()
        if claimed.rowcount == 1:
            return job_id
    return None


def run_queued(now: datetime, folder: str) -> int:
    """Scheduler job: run every queued import, one after another. Returns how many ran."""
    ran = 0
    while (job_id := claim_next()) is not None:
        run_job(job_id, now, folder)
        ran += 1
    return ran


def run_job(job_id: int, now: datetime, folder: str, progress: Progress | None = None) -> ImportReport:
    job = get_job(job_id)
    job.status, job.started_at, job.processed_rows = "running", now, 0
    db.session.commit()

    def save_progress(done: int, total: int) -> None:
        job.processed_rows, job.total_rows = done, total
        db.session.commit()  # only reads so far: committing here writes nothing but the progress
        if progress:
            progress(done, total)

    try:
        data = _upload_path(folder, job.stored_name).read_bytes()
        table = read(data)
        layout = crm_layouts.Layout(name=job.layout, mapping=dict(job.mapping),
                                    unmapped=[h for h in table.headers if h not in job.mapping])
        with force_locale(job.locale or "en"):  # row errors in the language of whoever uploaded it
            report = import_table(job.kind, table, layout, now, dry_run=job.dry_run, progress=save_progress,
                                  source=job.filename)
    except Exception as error:  # the job says what went wrong; nothing was saved
        db.session.rollback()
        job = get_job(job_id)
        job.status, job.finished_at = "failed", now
        job.error = str(error)[:2000] if isinstance(error, ValidationError) else _(
            "The import stopped on an unexpected error; nothing was saved.")
        db.session.commit()
        if not isinstance(error, ValidationError):
            raise
        return ImportReport(kind=job.kind, layout=job.layout)
    job = get_job(job_id)
    job.status, job.finished_at = "done", now
    job.processed_rows = report.rows
    job.report = {**report.as_dict(), "headers": job.report.get("headers", [])}
    db.session.commit()
    return report


def import_table(kind: str, table: crm_csv.Table, layout: crm_layouts.Layout, now: datetime,
                 dry_run: bool = False, progress: Progress | None = None, source: str = "") -> ImportReport:
    """Validate every row, then save all of them in one transaction, or none."""
    report = ImportReport(kind=kind, layout=layout.name, rows=len(table.rows), dry_run=dry_run)
    records = []
    total = len(table.rows)
    rows, table.rows = table.rows, []  # let each parsed row go once it is normalised
    rows.reverse()
    index = 0
    while rows:
        line, cells = rows.pop()
        index += 1
        record = crm_layouts.normalise(kind, layout, table.headers, line, cells)
        if record.errors:
            report.rejected.append({"line": record.line, "errors": record.errors})
        else:
            records.append(record)
        if progress and (index % PROGRESS_EVERY == 0 or index == total):
            progress(index, total)
    if report.rejected:
        return report  # never half an import
    if kind == "accounts":
        _save_accounts(records, report, now, source)
    else:
        _save_contacts(records, report, now, source)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
        report.saved = True
        if report.added + report.updated > 1000 and db.session.get_bind().dialect.name == "sqlite":
            # Fresh statistics so the list pages pick the right index (PostgreSQL's autovacuum does this).
            db.session.execute(text("PRAGMA optimize"))
    return report


# --- accounts ------------------------------------------------------------------------------------

def _owner_resolver(report: ImportReport) -> Callable[[str], int | None]:
    users = list(db.session.execute(select(User.id, User.email, User.name)))
    by_key = {u.email.lower(): u.id for u in users} | {u.name.lower(): u.id for u in users if u.name}
    unresolved: set[str] = set()

    def resolve(text: str) -> int | None:
        found = by_key.get(text.strip().lower())
        if found is None and text not in unresolved:
            unresolved.add(text)
            report.warnings.append(_("Owner “%(owner)s” is not a user here; those accounts keep their owner.",
                                     owner=text))
        return found
    return resolve


def _account_values(values: dict, resolve_owner) -> dict:
    row = {k: v for k, v in values.items() if k in ACCOUNT_COLUMNS}
    if "external_id" in values:
        row["crm_id"] = str(values["external_id"])[:64]
    if values.get("owner"):
        owner_id = resolve_owner(str(values["owner"]))
        if owner_id is not None:
            row["owner_id"] = owner_id
    return row


def _save_accounts(records, report: ImportReport, now: datetime, source: str) -> None:
    by_domain = dict(db.session.execute(select(AccountDomain.domain, AccountDomain.account_id)).all())
    by_crm_id = dict(db.session.execute(select(Account.crm_id, Account.id).where(Account.crm_id != "")).all())
    by_name = dict(db.session.execute(select(Account.name_key, Account.id).where(Account.name_key != "")).all())
    resolve_owner = _owner_resolver(report)
    new: list[dict] = []                  # rows to insert, merged within the file
    new_by_key: dict[tuple, int] = {}     # dedupe key → index in new
    changes: dict[int, dict] = {}         # existing account id → values from the file
    records.reverse()
    while records:  # consume the records so a 100,000-row file is not held twice
        values = _account_values(records.pop().values, resolve_owner)
        key_name = crm_layouts.name_key(values["name"])
        domain = values.get("domain") or ""
        keys = [k for k in (("d", domain), ("c", values.get("crm_id", "")), ("n", key_name)) if k[1]]
        existing = (by_domain.get(domain) if domain else None) or by_crm_id.get(values.get("crm_id", "")) \
            or by_name.get(key_name)
        if existing is not None:
            if existing in changes:
                report.merged += 1
            changes.setdefault(existing, {}).update(values)
            continue
        index = next((new_by_key[k] for k in keys if k in new_by_key), None)
        if index is not None:
            report.merged += 1
            new[index].update({k: v for k, v in values.items() if v not in (None, "", [])})
        else:
            index = len(new)
            new.append({**values, "name_key": key_name})
        for k in keys:
            new_by_key.setdefault(k, index)
    _update_accounts(changes, report, now)
    _insert_accounts(new, report, now, source)


def _facts(row: dict) -> icp.Facts:
    return icp.Facts(industry=row.get("industry") or "", revenue=row.get("revenue"),
                     employees=row.get("employees"), country=row.get("country") or "",
                     region=row.get("region") or "", technologies=row.get("technologies") or [],
                     competitor_products=row.get("competitor_products") or [])


def _insert_accounts(rows: list[dict], report: ImportReport, now: datetime, source: str) -> None:
    if not rows:
        return
    criteria, thresholds = scoring.load()
    scorer = icp.compile(criteria, thresholds)
    defaults = {"domain": "", "industry": "", "sub_industry": "", "revenue": None, "employees": None,
                "city": "", "region": "", "country": "", "technologies": [], "competitor_products": [],
                "customer_base": "", "tier": None, "journey_stage": "awareness", "lost": False,
                "deal_size": None, "owner_id": None, "crm_id": ""}
    # Plain executemany: RETURNING would make SQLite insert row by row. The new rows' ids are
    # read back by domain afterwards (domains are unique, and this transaction holds them).
    connection = db.session.connection()
    before = connection.execute(select(func.max(Account.id))).scalar() or 0
    wanted = {row["domain"] for row in rows if row.get("domain")}
    count = len(rows)
    for start in range(0, count, 5000):
        payload = []
        for index in range(start, min(start + 5000, count)):
            full = {**defaults, **rows[index]}
            rows[index] = None  # built once, then let go
            result = scorer(_facts(full))
            full.update(icp_score=result.total,
                        tier=full["tier"] if full["tier"] is not None else result.tier,
                        tier_locked=full["tier"] is not None,
                        source=source[:50] or "import", created_at=now, updated_at=now, bant={},
                        goals="", plans="", challenges="", stakes="", timeline="", ip_ranges=[])
            payload.append(full)
        connection.execute(insert(Account.__table__), payload)
    domains = [{"domain": domain, "account_id": account_id} for account_id, domain in connection.execute(
        select(Account.id, Account.domain).where(Account.id > before, Account.domain != "")) if domain in wanted]
    for start in range(0, len(domains), 5000):
        connection.execute(insert(AccountDomain.__table__), domains[start:start + 5000])
    report.added += count


def _update_accounts(changes: dict[int, dict], report: ImportReport, now: datetime) -> None:
    if not changes:
        return
    ids = list(changes)
    current: dict[int, dict] = {}
    columns = [Account.id, Account.name_key, *(getattr(Account, c) for c in ACCOUNT_COLUMNS)]
    for start in range(0, len(ids), 5000):
        for row in db.session.execute(select(*columns).where(Account.id.in_(ids[start:start + 5000]))):
            current[row.id] = row._asdict()
    criteria, thresholds = scoring.load()
    scorer = icp.compile(criteria, thresholds)
    params, new_domains = [], []
    known_domains = set(db.session.scalars(select(AccountDomain.domain)))
    for account_id, values in changes.items():
        before = current[account_id]
        merged = {**before, **{k: v for k, v in values.items() if v not in (None, "", [])}}
        # A new domain joins the account's domains; the main one changes only if there was none.
        merged["domain"] = before["domain"] or values.get("domain") or ""
        domain_added = bool(values.get("domain")) and values["domain"] not in known_domains
        if domain_added:
            new_domains.append({"domain": values["domain"], "account_id": account_id})
            known_domains.add(values["domain"])
        if not domain_added and all(merged[c] == before[c] for c in ACCOUNT_COLUMNS):
            report.unchanged += 1
            continue
        result = scorer(_facts(merged))
        merged["name_key"] = crm_layouts.name_key(merged["name"])
        params.append({**{f"v_{c}": merged[c] for c in (*ACCOUNT_COLUMNS, "name_key")},
                       "v_id": account_id, "v_score": result.total,
                       "v_tier": values["tier"] if values.get("tier") is not None else result.tier,
                       "v_lock": values.get("tier") is not None})
        report.updated += 1
    if params:
        statement = update(Account).where(Account.id == bindparam("v_id")).values(
            **{c: bindparam(f"v_{c}") for c in (*ACCOUNT_COLUMNS, "name_key") if c != "tier"},
            tier=case((Account.tier_locked.is_(True) & ~bindparam("v_lock"), Account.tier), else_=bindparam("v_tier")),
            tier_locked=Account.tier_locked | bindparam("v_lock"), icp_score=bindparam("v_score"),
            updated_at=now)
        connection = db.session.connection()
        for start in range(0, len(params), 5000):
            connection.execute(statement, params[start:start + 5000])
    if new_domains:
        db.session.execute(insert(AccountDomain), new_domains)


# --- contacts ------------------------------------------------------------------------------------

def _save_contacts(records, report: ImportReport, now: datetime, source: str) -> None:
    by_domain = dict(db.session.execute(select(AccountDomain.domain, AccountDomain.account_id)).all())
    by_crm_id = dict(db.session.execute(select(Account.crm_id, Account.id).where(Account.crm_id != "")).all())
    by_name = dict(db.session.execute(select(Account.name_key, Account.id).where(Account.name_key != "")).all())
    existing = {row.email: row for row in db.session.execute(
        select(Contact.id, Contact.email, Contact.unsubscribed_at, *(getattr(Contact, c) for c in CONTACT_COLUMNS
                                                                     if c not in ("email",))))}
    consented = set(db.session.scalars(select(Consent.contact_id).where(Consent.channel == "email",
                                                                       Consent.withdrawn_at.is_(None))))
    created_accounts: dict[str, Account] = {}
    seen: dict[str, dict] = {}
    rejected = []
    for record in records:
        values = dict(record.values)
        email = values["email"]
        account_id = _contact_account(values, by_domain, by_crm_id, by_name)
        if account_id is None and values.get("account_name"):
            key = crm_layouts.name_key(values["account_name"])
            if key not in created_accounts:
                account = Account(name=values["account_name"][:300], name_key=key, created_at=now,
                                  updated_at=now, source=source[:50] or "import",
                                  domain=values.get("account_domain", ""))
                db.session.add(account)
                created_accounts[key] = account
        if account_id is None and not values.get("account_name"):
            rejected.append({"line": record.line, "errors": [_(
                "No account matches this contact: add the company name or domain, or import the account first.")]})
            continue
        values["_account_id"] = account_id
        values["_account_key"] = None if account_id else crm_layouts.name_key(values["account_name"])
        if email in seen:
            report.merged += 1
            seen[email].update({k: v for k, v in values.items() if v not in (None, "", [])})
        else:
            seen[email] = values
    if rejected:
        report.rejected = rejected
        db.session.rollback()
        return
    db.session.flush()
    for account in created_accounts.values():
        if account.domain and account.domain not in by_domain:
            db.session.add(AccountDomain(domain=account.domain, account_id=account.id))
            by_domain[account.domain] = account.id
    if created_accounts:
        scorer = icp.compile(*scoring.load())  # the ICP is read once, not once per new account
        for account in created_accounts.values():
            scoring.rescore(account, scorer)
    report.accounts_created = len(created_accounts)
    inserts, updates, consents = [], [], []
    for email, values in seen.items():
        account_id = values["_account_id"] or created_accounts[values["_account_key"]].id
        row = {k: v for k, v in values.items() if k in CONTACT_COLUMNS}
        if "external_id" in values:
            row["crm_id"] = str(values["external_id"])[:64]
        row["account_id"] = account_id
        unsubscribe = values.get("unsubscribed") is True
        before = existing.get(email)
        if before is None:
            contact = Contact(**{c: row.get(c, "") for c in CONTACT_COLUMNS if c != "account_id"},
                              account_id=account_id, created_at=now, updated_at=now,
                              unsubscribed_at=now if unsubscribe else None)
            if not row.get("language"):
                contact.language = "en"
            inserts.append((contact, values.get("consent_email") is True))
            report.added += 1
            report.unsubscribed += unsubscribe
            continue
        merged = {c: getattr(before, c) for c in CONTACT_COLUMNS}
        merged.update({k: v for k, v in row.items() if v not in (None, "", [])})
        changed = any(merged[c] != getattr(before, c) for c in CONTACT_COLUMNS)
        # Never resubscribe: an unsubscribed contact stays unsubscribed whatever the file says.
        newly_unsubscribed = unsubscribe and before.unsubscribed_at is None
        if changed or newly_unsubscribed:
            updates.append({**{f"v_{c}": merged[c] for c in CONTACT_COLUMNS}, "v_id": before.id,
                            "v_unsub": now if newly_unsubscribed else before.unsubscribed_at})
            report.updated += 1
            report.unsubscribed += newly_unsubscribed
        else:
            report.unchanged += 1
        if values.get("consent_email") is True and before.id not in consented and before.unsubscribed_at is None:
            consents.append(before.id)
    for contact, consent in inserts:
        db.session.add(contact)
        if consent and contact.unsubscribed_at is None:
            contact.consents.append(_imported_consent(now, source))
    if updates:
        statement = update(Contact).where(Contact.id == bindparam("v_id")).values(
            **{c: bindparam(f"v_{c}") for c in CONTACT_COLUMNS}, unsubscribed_at=bindparam("v_unsub"),
            updated_at=now)
        db.session.connection().execute(statement, updates)
    for contact_id in consents:
        consent = _imported_consent(now, source)
        consent.contact_id = contact_id
        db.session.add(consent)
    db.session.flush()


def _imported_consent(now: datetime, source: str) -> Consent:
    return Consent(channel="email", source=f"CRM import: {source}"[:200], given_at=now,
                   wording=_("Opted in to marketing email in the CRM (imported; the CRM holds the original wording)."))


def _contact_account(values: dict, by_domain: dict, by_crm_id: dict, by_name: dict) -> int | None:
    if values.get("account_external_id") and values["account_external_id"] in by_crm_id:
        return by_crm_id[values["account_external_id"]]
    for domain in (values.get("account_domain"), crm_layouts.domain_of(values["email"])):
        if domain and domain in by_domain:
            return by_domain[domain]
    if values.get("account_name"):
        return by_name.get(crm_layouts.name_key(values["account_name"]))
    return None
