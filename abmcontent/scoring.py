"""ICP criteria as stored, and keeping every account's fit score and tier up to date."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import bindparam, case, select, update

from abmcontent import icp
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, IcpCriterion, IcpSettings, User

EDITOR_ROLES = ("campaign",)
FACT_COLUMNS = (Account.id, Account.industry, Account.revenue, Account.employees, Account.country,
                Account.region, Account.technologies, Account.competitor_products)


def load() -> tuple[list[icp.Criterion], icp.Thresholds]:
    """The saved ICP; the starter ICP until someone saves one."""
    rows = list(db.session.scalars(select(IcpCriterion).order_by(IcpCriterion.position, IcpCriterion.id)))
    settings = db.session.scalar(select(IcpSettings).limit(1))
    if not rows or settings is None:
        return icp.default_criteria()
    return icp.criteria_from_rows(rows), icp.Thresholds(settings.tier1_min, settings.tier2_min,
                                                        settings.tier3_min)


def save(criteria: list[icp.Criterion], thresholds: icp.Thresholds, user: User, now: datetime) -> int:
    """Replace the ICP and rescore every account; returns how many accounts were scored."""
    if not user.has_role(*EDITOR_ROLES):
        raise PermissionDenied(_("Only campaign managers can change the ICP criteria."))
    errors = icp.validate(criteria, thresholds)
    if errors:
        raise ValidationError(errors)
    db.session.query(IcpCriterion).delete()
    for position, criterion in enumerate(criteria):
        db.session.add(IcpCriterion(attribute=criterion.attribute, label=criterion.label,
                                    weight=criterion.weight, bands=icp.bands_to_json(criterion.bands),
                                    position=position))
    settings = db.session.scalar(select(IcpSettings).limit(1)) or IcpSettings()
    settings.tier1_min, settings.tier2_min, settings.tier3_min = (thresholds.tier1, thresholds.tier2,
                                                                  thresholds.tier3)
    settings.updated_by_id, settings.updated_at = user.id, now
    db.session.add(settings)
    db.session.flush()
    return rescore_all()


def rescore(account: Account, scorer=None) -> None:
    """One account, after its details changed (the caller commits). A tier set by hand stays.

    Pass `scorer` (icp.compile of load()) when rescoring many, so the ICP is read once."""
    if scorer is None:
        scorer = icp.compile(*load())
    result = scorer(account)
    account.icp_score = result.total
    if not account.tier_locked:
        account.tier = result.tier


def rescore_all(batch: int = 5000) -> int:
    """Every account: read the facts in batches, score in memory, write back in bulk."""
    criteria, thresholds = load()
    scorer = icp.compile(criteria, thresholds)
    statement = (update(Account).where(Account.id == bindparam("account_id"))
                 .values(icp_score=bindparam("score"),
                         tier=case((Account.tier_locked.is_(True), Account.tier), else_=bindparam("new_tier"))))
    total, last_id = 0, 0
    connection = db.session.connection()
    while True:
        rows = connection.execute(select(*FACT_COLUMNS).where(Account.id > last_id)
                                  .order_by(Account.id).limit(batch)).all()
        if not rows:
            break
        params = []
        for row in rows:
            result = scorer(row)
            params.append({"account_id": row.id, "score": result.total, "new_tier": result.tier})
        connection.execute(statement, params)
        total += len(rows)
        last_id = rows[-1].id
    db.session.commit()
    return total


def explain(account: Account) -> icp.Score:
    """Why this score: the same computation that stored it, shown part by part."""
    criteria, thresholds = load()
    return icp.score(account, criteria, thresholds)


def preview(criteria: list[icp.Criterion], thresholds: icp.Thresholds) -> dict:
    """How many accounts would land in each tier under these criteria, without saving them."""
    rows = db.session.execute(select(*FACT_COLUMNS)).all()
    return icp.tier_counts(rows, criteria, thresholds)
