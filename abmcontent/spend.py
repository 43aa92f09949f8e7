"""Marketing spend by month, program (ABM or general marketing) and category: what the KPI
dashboard divides by (cost per lead, ROI). Entered by marketers and campaign managers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from abmcontent.errors import NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import SPEND_CATEGORIES, SPEND_PROGRAMS, Plan, Spend, User

EDITORS = ("marketer", "campaign")  # admin always passes
PROGRAM_LABELS = {"abm": _l("ABM"), "general": _l("General marketing")}
CATEGORY_LABELS = {"content": _l("Content"), "research": _l("Research"), "contact_discovery": _l("Contact discovery"),
                   "advertising": _l("Advertising"), "events": _l("Events"), "other": _l("Other")}
MAX_AMOUNT = 10**12


@dataclass(frozen=True)
class SpendInput:
    program: str = "abm"
    category: str = "content"
    month: str = ""      # YYYY-MM
    amount: str = ""
    plan_id: str = ""
    note: str = ""


def _amount(raw: str) -> int | None:
    cleaned = raw.strip().replace(",", "").replace(" ", "").lstrip("$₩")
    if re.fullmatch(r"\d{1,13}(\.0{1,2})?", cleaned):
        return int(cleaned.split(".")[0])
    return None


def validate(data: SpendInput) -> tuple[dict[str, list[str]], dict]:
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    if data.program not in SPEND_PROGRAMS:
        errors["program"] = [_("Choose ABM or general marketing.")]
    if data.category not in SPEND_CATEGORIES:
        errors["category"] = [_("Choose a category from the list.")]
    match = re.fullmatch(r"(\d{4})-(\d{2})", data.month.strip())
    if match and 2000 <= int(match[1]) <= 2100 and 1 <= int(match[2]) <= 12:
        clean["month"] = date(int(match[1]), int(match[2]), 1)
    else:
        errors["month"] = [_("Choose the month, e.g. 2026-10.")]
    amount = _amount(data.amount)
    if amount is None or amount > MAX_AMOUNT:
        errors["amount"] = [_("Enter the amount in whole dollars, e.g. 12,500.")]
    else:
        clean["amount"] = amount
    if data.plan_id:
        plan = db.session.get(Plan, int(data.plan_id)) if data.plan_id.isdigit() and len(data.plan_id) < 10 else None
        if plan is None:
            errors["plan_id"] = [_("That plan no longer exists.")]
        else:
            clean["plan_id"] = plan.id
    if len(data.note) > 300:
        errors["note"] = [_("Keep the note under 300 characters.")]
    return errors, clean


def add(data: SpendInput, user: User, now: datetime) -> Spend:
    if not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only marketers and campaign managers record spend."))
    errors, clean = validate(data)
    if errors:
        raise ValidationError(errors)
    row = Spend(program=data.program, category=data.category, note=data.note.strip(), created_by_id=user.id,
                created_at=now, **clean)
    db.session.add(row)
    db.session.commit()
    return row


def remove(spend_id: int, user: User) -> None:
    if not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only marketers and campaign managers record spend."))
    row = db.session.get(Spend, spend_id)
    if row is None:
        raise NotFound(_("That spend entry was already removed."))
    db.session.delete(row)
    db.session.commit()


def entries(year: int) -> list[Spend]:
    return list(db.session.scalars(select(Spend).where(Spend.month >= date(year, 1, 1), Spend.month <= date(year, 12, 1))
                                   .order_by(Spend.month.desc(), Spend.program, Spend.category, Spend.id)))


def totals(rows: list[Spend]) -> dict[str, int]:
    found = {program: 0 for program in SPEND_PROGRAMS}
    for row in rows:
        found[row.program] += row.amount
    return found
