"""The ABM results dashboard at 100,000 accounts and 1,000,000 engagement events (issue 6).

Builds a fresh SQLite database (or uses --database-url, an empty migrated-or-not PostgreSQL) with:
100,000 accounts (10 % on the agreed target list, tiers 1–3), 250,000 contacts, 1,000,000 events
over the last 180 days (a third of the accounts engage, a few heavily: Zipf-like), 200,000 email
touchpoints sent (their opens and clicks are among the events, 8 % by machines), engagement and
MQA milestones, 6,000 deals and two years of monthly spend; then renders /kpis signed in, as a
browser would, for several scopes. `render_s` is the median server time of the whole page (HTML
with every chart) over the scopes; `worst_s` the slowest single render. Before rendering, the
rollup job builds the daily rollups the dashboard reads (abmcontent.kpi_rollups): `rollup_build_s`.

Run: .venv/bin/python bench/kpis.py [--events 1000000] [--accounts 100000] [--database-url URL]
The last line is one JSON object of the figures. Target: render_s ≤ 1 s.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import date, datetime, timedelta, timezone

import _setup

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
KINDS = [("page_view", 30), ("time_on_page", 25), ("email_open", 20), ("email_click", 5), ("asset_open", 8),
         ("asset_download", 4), ("cta_click", 3), ("form_fill", 2), ("meeting_booked", 0.5),
         ("event_registered", 1), ("reply", 1.5)]


def build(app, accounts: int, events: int, seed: int = 7) -> dict:
    from sqlalchemy import insert

    from abmcontent.extensions import db
    from abmcontent.models import (Account, AccountMilestone, Contact, Deal, EngagementEvent, Enrollment, Plan,
                                   Spend, Touchpoint)

    rng = random.Random(seed)
    started = time.perf_counter()
    with app.app_context():
        conn = db.session.connection()
        conn.execute(insert(Account), [{
            "id": n, "name": f"Company {n}", "domain": f"company{n}.example", "tier": 1 + n % 3,
            "target_status": "agreed" if n % 10 == 0 else None, "industry": "financials", "country": "US",
        } for n in range(1, accounts + 1)])
        contacts = []
        for n in range(1, accounts + 1):
            for k in range(5 if n % 10 == 0 else 2):
                contacts.append({"account_id": n, "first_name": f"P{k}", "email": f"p{k}@company{n}.example"})
        conn.execute(insert(Contact), contacts)
        conn.execute(insert(Plan), [{"id": 1, "name": "Tier 1 programme"}])
        conn.execute(insert(Enrollment), [{"plan_id": 1, "account_id": n, "status": "active", "started_at": NOW}
                                          for n in range(10, accounts + 1, 30)])
        # a third of the accounts engage; weights ~ 1/rank make a few of them very active
        engaged = list(range(1, accounts + 1, 3))
        weights = [1 / (rank + 10) for rank in range(len(engaged))]
        touchpoints = []
        for n in range(200_000):
            sent = NOW - timedelta(days=rng.random() * 180)
            touchpoints.append({"account_id": rng.randrange(1, accounts + 1), "channel": "email", "due_at": sent,
                                "window_end_at": sent, "status": "sent", "sent_at": sent,
                                "idempotency_key": f"bench-{n}"})
        conn.execute(insert(Touchpoint), touchpoints)
        kinds, kind_weights = zip(*KINDS)
        batch, first_seen = [], {}
        picks = rng.choices(engaged, weights, k=events)
        for n, account_id in enumerate(picks):
            kind = rng.choices(kinds, kind_weights)[0]
            when = NOW - timedelta(days=rng.random() * 180)
            row = {"key": f"{n:032x}", "type": kind, "occurred_at": when, "account_id": account_id,
                   "contact_id": None, "value": rng.uniform(5, 400) if kind == "time_on_page" else None,
                   "channel": "email" if kind.startswith("email") else "web",
                   "machine": "apple_privacy_proxy" if kind == "email_open" and rng.random() < 0.08 else "",
                   "touchpoint_id": rng.randrange(1, 200_001) if kind.startswith("email") else None}
            if kind == "form_fill":
                row["contact_id"] = account_id * 2
            batch.append(row)
            if row["machine"] == "" and (account_id not in first_seen or when < first_seen[account_id]):
                first_seen[account_id] = when
            if len(batch) == 50_000:
                conn.execute(insert(EngagementEvent), batch)
                batch = []
        if batch:
            conn.execute(insert(EngagementEvent), batch)
        conn.execute(insert(AccountMilestone), [{"account_id": a, "kind": "engaged", "reached_at": w}
                                                for a, w in first_seen.items()])
        conn.execute(insert(AccountMilestone), [{"account_id": a, "kind": "mqa",
                                                 "reached_at": w + timedelta(days=rng.random() * 20)}
                                                for a, w in first_seen.items() if rng.random() < 0.15])
        deals = []
        for n in range(6_000):
            created = (NOW - timedelta(days=rng.random() * 400)).date()
            outcome = rng.random()
            closed = created + timedelta(days=rng.randrange(20, 200)) if outcome < 0.7 else None
            if closed and closed > NOW.date():
                closed = None
            stage = ("closed_won" if outcome < 0.3 else "closed_lost") if closed else "proposal"
            deals.append({"account_id": rng.choice(engaged), "name": f"Deal {n}", "stage": stage,
                          "amount": rng.randrange(10, 500) * 1000, "created_on": created, "closed_on": closed,
                          "proposal_sent_on": created + timedelta(days=10) if rng.random() < 0.5 else None,
                          "meetings": rng.randrange(0, 6), "close_reason": "" if stage != "closed_lost" else "Budget",
                          "churned_on": closed + timedelta(days=300) if stage == "closed_won" and rng.random() < 0.1
                          and closed + timedelta(days=300) < NOW.date() else None})
        conn.execute(insert(Deal), deals)
        conn.execute(insert(Spend), [{"program": program, "category": category,
                                      "month": date(2025 + m // 12, m % 12 + 1, 1), "amount": rng.randrange(1, 50) * 1000,
                                      "plan_id": 1 if program == "abm" and category == "events" else None}
                                     for m in range(23) for program in ("abm", "general")
                                     for category in ("content", "advertising", "events")])
        db.session.commit()
        from abmcontent import users

        users.create_user("bench@example.com", "campaign", "bench-password", NOW)
        conn = db.session.connection()
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
        db.session.commit()
    return {"build_s": round(time.perf_counter() - started, 1)}


def roll_up(app) -> float:
    """What the recurring job does first on a database full of events: every day's rollups."""
    from abmcontent import kpi_rollups

    started = time.perf_counter()
    with app.app_context():
        report = kpi_rollups.roll(app.config["BABEL_DEFAULT_TIMEZONE"], datetime.now(UTC))
        assert report.claimed and report.events > 0, report
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    if options.database_url:
        import tempfile
        from pathlib import Path

        from flask_migrate import upgrade

        from abmcontent import create_app

        folder = Path(tempfile.mkdtemp(prefix="abm-bench-"))
        app = create_app({"SQLALCHEMY_DATABASE_URI": options.database_url, "instance_path": str(folder),
                          "UPLOAD_FOLDER": str(folder / "uploads"), "SECRET_KEY": "bench",
                          "WTF_CSRF_ENABLED": False})
        with app.app_context():
            upgrade()
    else:
        app = _setup.app()
    figures = {"accounts": options.accounts, "events": options.events, **build(app, options.accounts, options.events)}
    figures["rollup_build_s"] = roll_up(app)
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
    scopes = {
        "last_90_days": "/kpis?period=custom&start=2026-08-23&end=2026-11-20",
        "this_year": "/kpis?period=custom&start=2026-01-01&end=2026-11-20",
        "last_30_days_tier_1": "/kpis?period=custom&start=2026-10-22&end=2026-11-20&tier=1",
        "quarter_one_plan": "/kpis?period=custom&start=2026-07-01&end=2026-09-30&plan=1",
    }
    times: dict[str, list[float]] = {}
    for _round in range(options.rounds):
        for name, url in scopes.items():
            start = time.perf_counter()
            response = client.get(url)
            times.setdefault(name, []).append(time.perf_counter() - start)
            assert response.status_code == 200, (url, response.status_code)
            assert 'data-kpi="open_rate"' in response.text
    for name, found in times.items():
        figures[f"{name}_s"] = round(statistics.median(found), 3)
    every = [t for found in times.values() for t in found]
    figures["render_s"] = round(statistics.median(every), 3)
    figures["worst_s"] = round(max(every), 3)
    figures["database"] = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
