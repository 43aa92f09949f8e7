"""Import deals from a CSV file (a CRM's opportunity export, or a sheet someone keeps): all or nothing.

Every row is checked first, with the same rules as the deal form (`deals.validate`); if any row
fails, nothing is saved and the report lists each bad row with its column and why. Otherwise
every row is saved in one transaction. A row with a CRM id already in the database updates that
deal; rows without a CRM id are always added.

Columns are found by their header, in any case, English or Korean (HEADERS below); the
`deals.EXPORT_HEADERS` of the deal export read back as they are. The account is found by its
CRM id, then a domain it answers to, then its exact name (case, punctuation and legal forms
aside). A name that only starts an account's name is not guessed at: the row is reported, with
the account it may mean.

Dates in day/month order: a year-last date such as 03/01/2026 is read month/day/year (US Excel,
Salesforce) unless some date in the file only makes sense day first (25/03/2026); the report
says which order it used whenever a date could have been read both ways.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Callable

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, insert, select, update

from abmcontent import crm_csv, deals, taxonomy
from abmcontent.crm_layouts import domain_of, name_key
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, AccountDomain, Deal, User

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
PROGRESS_EVERY = 2000
Progress = Callable[[int, int], None]


def _key(header: str) -> str:
    return " ".join(re.sub(r"[\s_\-]+", " ", header.replace("\ufeff", "").casefold()).split())


# Column → the headers it answers to (compared by _key). The first header found for a column wins.
HEADERS: dict[str, tuple[str, ...]] = {
    "account": ("account", "account name", "company", "company name", "organization", "customer",
                "계정", "회사", "회사명", "고객사", "고객사명", "거래처", "거래처명", "기업", "기업명"),
    "account_domain": ("account domain", "company domain", "domain", "website", "company domain name",
                       "도메인", "회사 도메인", "웹사이트"),
    "account_crm_id": ("account id", "account crm id", "company id", "associated company id",
                       "계정 id", "회사 id", "고객사 id"),
    "name": ("deal name", "deal", "opportunity name", "opportunity", "name", "딜", "딜 이름", "딜명",
             "거래명", "영업기회", "영업 기회", "영업기회명", "영업 기회명", "기회명", "건명"),
    "stage": ("stage", "deal stage", "opportunity stage", "단계", "딜 단계", "영업 단계", "진행 단계"),
    "amount": ("amount", "deal amount", "amount (usd)", "amount usd", "value", "deal value",
               "금액", "딜 금액", "거래 금액", "계약 금액", "금액 (usd)", "금액(usd)"),
    "created_on": ("created", "created on", "created date", "create date", "date created",
                   "생성일", "생성 날짜", "등록일", "작성일"),
    "proposal_sent_on": ("proposal sent", "proposal sent on", "proposal date", "proposal sent date",
                         "제안일", "제안서 발송일", "제안서 제출일", "제안 발송일"),
    "meetings": ("meetings", "meeting count", "number of meetings", "# meetings", "미팅", "미팅 수",
                 "미팅 횟수", "회의 수", "미팅수"),
    "closed_on": ("closed", "closed on", "close date", "closed date", "date closed",
                  "종료일", "마감일", "클로즈일", "수주일", "계약일"),
    "close_reason": ("reason", "close reason", "closed reason", "closed won reason", "closed lost reason",
                     "win/loss reason", "win loss reason", "loss reason", "lost reason", "won reason",
                     "사유", "종료 사유", "수주/실주 사유", "실주 사유", "수주 사유"),
    "churned_on": ("churned", "churned on", "churn date", "이탈일", "해지일", "churned date"),
    "crm_id": ("crm id", "deal id", "opportunity id", "record id", "id", "딜 id", "crm 아이디", "영업기회 id"),
    "owner": ("owner email", "owner", "deal owner", "opportunity owner", "owner e-mail", "sales rep",
              "담당자", "담당자 이메일", "영업 담당자", "영업담당자"),
}
_BY_KEY = {_key(h): column for column, names in HEADERS.items() for h in names}
ACCOUNT_COLUMNS = ("account_crm_id", "account_domain", "account")
REQUIRED = {"created_on": _l("created date"), "stage": _l("stage")}
COLUMN_LABELS = {
    "account": _l("Account"), "account_domain": _l("Account domain"), "account_crm_id": _l("Account CRM id"),
    "name": _l("Deal name"), "stage": _l("Stage"), "amount": _l("Amount"), "created_on": _l("Created"),
    "proposal_sent_on": _l("Proposal sent"), "meetings": _l("Meetings"), "closed_on": _l("Closed"),
    "close_reason": _l("Reason"), "churned_on": _l("Churned"), "crm_id": _l("CRM id"), "owner": _l("Owner email"),
}
DATE_COLUMNS = ("created_on", "proposal_sent_on", "closed_on", "churned_on")

# Stage names CRMs use (Salesforce's and HubSpot's default pipelines), compared without case,
# spaces or punctuation; the app's own stage labels in every language are added when importing.
STAGE_WORDS = {
    "qualification": ("qualification", "qualified", "prospecting", "prospect", "lead", "appointmentscheduled",
                      "qualifiedtobuy", "발굴", "검증", "리드", "잠재고객"),
    "discovery": ("discovery", "needsanalysis", "valueproposition", "iddecisionmakers", "perceptionanalysis",
                  "presentationscheduled", "decisionmakerboughtin", "탐색", "니즈분석", "요구분석"),
    "proposal": ("proposal", "proposalpricequote", "proposalsent", "quote", "제안", "제안서", "견적"),
    "negotiation": ("negotiation", "negotiationreview", "contractsent", "협상", "계약협상"),
    "closed_won": ("closedwon", "won", "win", "수주", "계약완료", "성공"),
    "closed_lost": ("closedlost", "lost", "loss", "실주", "실패"),
}


def _word(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _stage_words() -> dict[str, str]:
    words = {_word(w): stage for stage, spellings in STAGE_WORDS.items() for w in spellings}
    for stage in deals.DEAL_STAGES:
        words[_word(stage)] = stage
    for language in ("en", "ko"):
        with force_locale(language):
            for stage, label in taxonomy.DEAL_STAGE_LABELS.items():
                words.setdefault(_word(str(label)), stage)
    return words


@dataclass
class RowError:
    row: int          # the row number a spreadsheet shows (the header is row 1)
    column: str       # the header as it is in the file, or "" for the row as a whole
    message: str


@dataclass
class DealImportReport:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    saved: bool = False

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})

    def as_dict(self) -> dict:
        return asdict(self)


def can_import(user: User) -> bool:
    return deals.can_manage(user)


def _columns(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Which cell holds which column, and the headers we do not read."""
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        column = _BY_KEY.get(_key(header))
        if column is None or column in found:
            if header.strip():
                ignored.append(header)
            continue
        found[column] = index
    return found, ignored


def _file_error(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


class _Accounts:
    """Every account's keys, read once: a 10,000-row file must not ask the database 30,000 times."""

    def __init__(self) -> None:
        self.by_crm_id = dict(db.session.execute(select(Account.crm_id, Account.id).where(Account.crm_id != "")).all())
        self.by_domain = dict(db.session.execute(select(AccountDomain.domain, AccountDomain.account_id)).all())
        self.by_name: dict[str, int | None] = {}
        for key, account_id in db.session.execute(select(Account.name_key, Account.id).where(Account.name_key != "")):
            self.by_name[key] = None if key in self.by_name else account_id  # None: two accounts share it
        self.owners = dict(db.session.execute(select(Account.id, Account.owner_id)).all())
        self.names: dict[int, str] | None = None

    def name(self, account_id: int) -> str:
        if self.names is None:
            self.names = dict(db.session.execute(select(Account.id, Account.name)).all())
        return self.names.get(account_id, "")

    def find(self, values: dict[str, str]) -> tuple[int | None, str]:
        """(account id, "") or (None, why) for the account columns of one row."""
        crm_id = values.get("account_crm_id", "")
        if crm_id and crm_id in self.by_crm_id:
            return self.by_crm_id[crm_id], ""
        domain_text = values.get("account_domain", "")
        for text in (domain_text, values.get("account", "")):
            if text and "." in text and " " not in text.strip():
                domain = domain_of(text)
                if domain and domain in self.by_domain:
                    return self.by_domain[domain], ""
        generic = values.get("account", "")
        if generic and generic in self.by_crm_id:
            return self.by_crm_id[generic], ""
        if generic:
            key = name_key(generic)
            if key in self.by_name:
                found = self.by_name[key]
                if found is None:
                    return None, _("More than one account is called “%(name)s”. Use its domain or CRM id.",
                                   name=generic)
                return found, ""
        given = generic or domain_text or crm_id
        if not given:
            return None, _("Say which account the deal is with: its name, domain or CRM id.")
        return None, self._not_found(given)

    @staticmethod
    def _not_found(given: str) -> str:
        from abmcontent.accounts import find_account

        near = find_account(given)
        if near is not None:
            return _("No account is called “%(given)s”. Did you mean “%(name)s”? Write its exact name, "
                     "domain or CRM id.", given=given, name=near.name)
        return _("No account matches “%(given)s”. Add the account first, or use its exact name, domain "
                 "or CRM id.", given=given)


def _date_order(table: crm_csv.Table, columns: dict[str, int]) -> tuple[bool, bool]:
    """(day_first, ambiguous seen): day first only when some date says so and none says otherwise."""
    day_first = month_first = ambiguous = False
    indexes = [columns[c] for c in DATE_COLUMNS if c in columns]
    for _line, cells in table.rows:
        for index in indexes:
            parts = deals.year_last_parts(cells[index]) if index < len(cells) else None
            if parts is None:
                continue
            a, b = parts
            day_first |= a > 12 >= b
            month_first |= b > 12 >= a
            ambiguous |= a <= 12 and b <= 12 and a != b
    return day_first and not month_first, ambiguous


def import_deals(data: bytes, user: User, now: datetime, progress: Progress | None = None) -> DealImportReport:
    """Check every row; save all of them in one transaction, or none (the report says why)."""
    if not can_import(user):
        raise PermissionDenied(_("Only campaign managers can import deals."))
    try:
        table = crm_csv.read_table(data, max_bytes=MAX_BYTES, max_rows=MAX_ROWS)
    except crm_csv.CsvError as error:
        raise _file_error(str(error)) from None
    columns, ignored = _columns(table.headers)
    if not any(c in columns for c in ACCOUNT_COLUMNS):
        raise _file_error(_("The file needs a column that says which account each deal is with: “account” "
                            "(its name, domain or CRM id). The columns found were: %(found)s.",
                            found=", ".join(h for h in table.headers if h) or "—"))
    missing = [str(label) for column, label in REQUIRED.items() if column not in columns]
    if missing:
        raise _file_error(_("The file needs these columns too: %(missing)s. The columns found were: %(found)s.",
                            missing=", ".join(missing), found=", ".join(h for h in table.headers if h)))
    if not table.rows:
        raise _file_error(_("The file has column names but no deals under them."))

    report = DealImportReport(rows=len(table.rows), ignored_columns=ignored)
    header_of = {column: table.headers[index] for column, index in columns.items()}
    day_first, ambiguous = _date_order(table, columns)
    if ambiguous:
        report.warnings.append(_("Dates like 03/04/2026 were read as day/month/year (3 April).") if day_first else
                               _("Dates like 03/04/2026 were read as month/day/year (March 4)."))
    known = _Accounts()
    stage_words = _stage_words()
    users = {email.lower(): (user_id, active and role in deals.OWNER_ROLES)
             for user_id, email, active, role in db.session.execute(select(User.id, User.email, User.active, User.role))}
    existing = dict(db.session.execute(select(Deal.crm_id, Deal.id).where(Deal.crm_id != "")).all())
    seen_crm_ids: dict[str, int] = {}
    unknown_owners: Counter = Counter()
    closed_dates_on_open = 0
    inserts: list[dict] = []
    updates: list[tuple[int, dict, bool]] = []  # (deal id, values, owner given)
    total = len(table.rows)

    for index, (line, cells) in enumerate(table.rows, start=1):
        if progress and (index % PROGRESS_EVERY == 0 or index == total):
            progress(index, total)
        row_errors: list[RowError] = []

        def bad(column: str, message: str) -> None:
            header = header_of.get(column) or str(COLUMN_LABELS.get(column, ""))
            row_errors.append(RowError(row=line, column=header, message=message))

        if len(cells) > len(table.headers) and "".join(cells[len(table.headers):]).strip():
            report.errors.append(RowError(line, "", _("This row has more cells than the file has columns: a value "
                                                      "may hold a comma or semicolon without quotes around it.")))
            continue
        raw = {column: cells[i].replace("\x00", "").strip() if i < len(cells) else "" for column, i in columns.items()}

        account_id, why = known.find(raw)
        if account_id is None:
            bad(next(c for c in ACCOUNT_COLUMNS if c in columns), why)
        stage_text = raw.get("stage", "")
        stage = stage_words.get(_word(stage_text), "") if stage_text else ""
        if not stage:
            bad("stage", _("“%(value)s” is not a stage we know. Use one of: %(stages)s.", value=stage_text,
                           stages=", ".join(taxonomy.label("deal_stage", s) for s in deals.DEAL_STAGES))
                if stage_text else _("Give the deal's stage."))
        owner_text = raw.get("owner", "")
        owner_id = None
        if owner_text:
            found = users.get(owner_text.lower())
            if found and found[1]:
                owner_id = found[0]
            else:
                unknown_owners[owner_text] += 1
        name = raw.get("name", "")
        if not name and account_id is not None:
            name = known.name(account_id)  # no deal name: the account's
        if stage in deals.OPEN_STAGES and (raw.get("closed_on") or raw.get("churned_on")):
            closed_dates_on_open += 1  # CRMs export the expected close date of open deals: not a close
        data = deals.DealInput(name=name or "?", stage=stage or "qualification", amount=raw.get("amount", ""),
                               created_on=raw.get("created_on", ""), proposal_sent_on=raw.get("proposal_sent_on", ""),
                               meetings=raw.get("meetings", ""), closed_on=raw.get("closed_on", ""),
                               close_reason=raw.get("close_reason", ""), churned_on=raw.get("churned_on", ""),
                               crm_id=raw.get("crm_id", ""))
        errors, values = deals.validate(data, now, day_first=day_first)
        for column, messages in errors.items():
            if column == "name" and not raw.get("name"):
                continue
            if column == "stage" and not stage:
                continue  # said above, in the file's words
            for message in messages:
                bad(column, message)
        crm_id = values.crm_id if values else _one(raw.get("crm_id", ""))
        if crm_id:
            if crm_id in seen_crm_ids:
                bad("crm_id", _("CRM id “%(crm_id)s” is already on row %(row)s of this file.", crm_id=crm_id,
                                row=seen_crm_ids[crm_id]))
            else:
                seen_crm_ids[crm_id] = line
        if row_errors:
            report.errors.extend(row_errors)
            continue
        row = {"account_id": account_id, **{k: getattr(values, k) for k in (
            "name", "stage", "amount", "created_on", "proposal_sent_on", "meetings", "closed_on", "close_reason",
            "churned_on", "crm_id")}}
        if crm_id and crm_id in existing:
            if owner_id is not None:
                row["owner_id"] = owner_id
            updates.append((existing[crm_id], row, owner_id is not None))
        else:
            row["owner_id"] = owner_id if owner_id is not None else known.owners.get(account_id)
            inserts.append(row)

    for owner, count in unknown_owners.items():
        report.warnings.append(_("“%(owner)s” is not an active sales rep or campaign manager here: those deals "
                                 "keep their owner, or get the account's owner.", owner=owner))
    if ignored:
        report.warnings.append(_("These columns were not imported: %(columns)s.", columns=", ".join(ignored)))
    if closed_dates_on_open:
        report.warnings.append(_("%(n)s open deals had a closed date or churn date; it was not kept (CRMs export "
                                 "the expected close date of open deals).", n=closed_dates_on_open))
    if report.errors:
        db.session.rollback()
        return report  # never half an import
    _save(inserts, updates, report, now)
    db.session.commit()
    report.saved = True
    return report


def _one(text: str) -> str:
    return " ".join(text.split())


FIELDS = ("account_id", "name", "stage", "amount", "created_on", "proposal_sent_on", "meetings", "closed_on",
          "close_reason", "churned_on", "crm_id")


def _save(inserts: list[dict], updates: list[tuple[int, dict, bool]], report: DealImportReport,
          now: datetime) -> None:
    connection = db.session.connection()
    for start in range(0, len(inserts), 5000):
        chunk = [{**row, "source": "csv", "created_at": now, "updated_at": now} for row in inserts[start:start + 5000]]
        connection.execute(insert(Deal.__table__), chunk)
    report.added = len(inserts)
    if not updates:
        return
    ids = [deal_id for deal_id, _row, _owner in updates]
    before: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        for row in db.session.execute(select(Deal.id, Deal.owner_id, *(getattr(Deal, f) for f in FIELDS))
                                      .where(Deal.id.in_(ids[start:start + 500]))):
            before[row.id] = row._asdict()
    changed = []
    for deal_id, row, owner_given in updates:
        old = before[deal_id]
        new = {**{f: row[f] for f in FIELDS}, "owner_id": row["owner_id"] if owner_given else old["owner_id"]}
        if all(new[f] == old[f] for f in (*FIELDS, "owner_id")):
            report.unchanged += 1
            continue
        changed.append({**{f"v_{k}": v for k, v in new.items()}, "v_id": deal_id})
    if changed:
        statement = update(Deal.__table__).where(Deal.__table__.c.id == bindparam("v_id")).values(
            **{f: bindparam(f"v_{f}") for f in (*FIELDS, "owner_id")}, updated_at=now)
        connection.execute(statement, changed)
    report.updated = len(changed)


SAMPLE_ROWS = [
    ["Harborview Bank", "harborview.example", "Data platform 2027", "proposal", "48,000", "2026-09-01",
     "2026-10-05", 3, "", "", "", "rep@example.com", "OPP-1001"],
    ["Harborview Bank", "harborview.example", "Analytics pilot", "closed_won", "12500", "2026-03-02", "2026-04-01",
     5, "2026-05-15", "Fast proof of value", "", "rep@example.com", "OPP-0997"],
    ["Northwind Logistics", "northwind.example", "Fleet dashboards", "closed_lost", "30000", "2026-02-10", "", 2,
     "2026-06-30", "Chose a competitor on price", "", "", "OPP-0990"],
]


def sample_rows() -> list[list]:
    """The rows of the downloadable template (EXPORT_HEADERS): one open deal, one won, one lost."""
    return [list(row) for row in SAMPLE_ROWS]
