"""Scheduling speed: apply a six-step plan to 10,000 accounts × 3 stakeholders = 180,000 touchpoints.

Builds a fresh SQLite database (bench/_setup.py), imports 10,000 accounts through the real
importer, adds three stakeholders to each (in a few time zones), makes a six-step email plan
aimed at everyone and times plans.apply() over all accounts: enrollments, one touchpoint per
step and stakeholder with its due time in the stakeholder's business hours, inserted in bulk.
The target (issue 5) is ≤ 20 s; one APScheduler job per touchpoint would add ~370 a second.

Run: .venv/bin/python bench/schedule.py     The last line is one JSON object of the figures.
"""
from __future__ import annotations

import json
import resource
import time
from datetime import datetime, timezone

import _setup
from sqlalchemy import func, insert, select

from abmcontent import plans
from abmcontent.extensions import db
from abmcontent.models import Account, Contact, Touchpoint

ACCOUNTS = 10_000
PEOPLE = 3
ZONES = ("", "America/Chicago", "Europe/Berlin", "Asia/Seoul")
PERSONAS = ("economic_buyer", "technical_evaluator", "champion")


def main() -> None:
    app = _setup.app()
    _setup.import_accounts(app, ACCOUNTS)
    now = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    with app.app_context():
        ids = list(db.session.scalars(select(Account.id).order_by(Account.id)))
        db.session.execute(insert(Contact), [
            {"account_id": account_id, "first_name": f"P{n}", "last_name": "Bench",
             "email": f"p{n}.{account_id}@bench.example", "persona": PERSONAS[n], "language": "en",
             "timezone": ZONES[(account_id + n) % len(ZONES)], "created_at": now, "updated_at": now}
            for account_id in ids for n in range(PEOPLE)])
        db.session.commit()
        plan = plans.create_plan("Six emails", "", [
            plans.StepInput("email", days, 0, subject=f"Step {n + 1} for {{{{ account.name }}}}")
            for n, days in enumerate((0, 3, 7, 14, 21, 28))], None, now)
        started = time.perf_counter()
        report = plans.apply(plan.id, ids, now, None, now)
        seconds = time.perf_counter() - started
        stored = db.session.scalar(select(func.count(Touchpoint.id)))
    figures = {"accounts": len(ids), "touchpoints": report.touchpoints, "stored": stored,
               "seconds": round(seconds, 2), "per_second": round(report.touchpoints / seconds),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(f"applied a six-step plan to {figures['accounts']:,} accounts: {figures['touchpoints']:,} touchpoints "
          f"in {figures['seconds']} s ({figures['per_second']:,}/s); target ≤ 20 s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
