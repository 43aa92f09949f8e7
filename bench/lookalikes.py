"""Lookalike suggestions at 100,000 accounts and 200 won accounts on SQLite.

The accounts are written straight into the table (the importer does not fill technologies or
competitor products): GICS industries, log-normal sizes with revenue following employees, places
across nine countries, technology and competitor sets from realistic vocabularies, and a share of
every feature left empty as CRM data is. 200 accounts get a closed-won deal, 300 an open or lost
deal, and one in ten is already on the target list.

Run: .venv/bin/python bench/lookalikes.py   (target: suggest_s ≤ 2 s)
The last line is one JSON object of the figures: suggest_s is the best wall time of three calls;
suggest_cpu_s the CPU time this process spent (numpy's threads included), which says more than
the wall time on a machine other jobs are sharing.
"""
from __future__ import annotations

import json
import random
import time
from datetime import date, datetime, timezone

import _setup

ROWS = 100_000
WON = 200
OTHER_DEALS = 300
INDUSTRIES = ["communication_services", "consumer_discretionary", "consumer_staples", "energy", "financials",
              "health_care", "industrials", "information_technology", "materials", "real_estate", "utilities"]
PLACES = [("US", ["NY", "MA", "CA", "TX", "IL", "WA", "GA", "FL", "PA", "OH", "CO", "MN"])] * 6 + [
    ("CA", ["ON", "QC", "BC"]), ("GB", ["", "ENG"]), ("DE", ["BY", "BE", "HE"]), ("FR", ["IDF"]),
    ("KR", ["Seoul", "Gyeonggi"]), ("JP", ["Tokyo", "Osaka"]), ("AU", ["NSW"]), ("SG", [""])]
TECH = ["Salesforce", "HubSpot", "Marketo", "Snowflake", "Databricks", "BigQuery", "Redshift", "Teradata",
        "Oracle Exadata", "Netezza", "SAP BW", "SAP S/4HANA", "Workday", "ServiceNow", "Tableau", "Power BI",
        "Looker", "Qlik", "dbt", "Fivetran", "Informatica", "Talend", "Kafka", "Airflow", "AWS", "Azure", "GCP",
        "Kubernetes", "Okta", "Zscaler", "Splunk", "Datadog", "Jira", "Confluence", "Slack", "Microsoft Teams",
        "Zoom", "Adobe Experience Manager", "Shopify", "Zendesk"]
COMPETITORS = ["Vendor A Cloud", "Vendor B Warehouse", "Vendor C Analytics", "Vendor D Lakehouse",
               "Vendor E BI", "Vendor F ETL", "Vendor G Catalog", "Vendor H Streaming"]
CUSTOMER_BASES = ["enterprise", "mid-market", "SMB", "consumers", "public sector", "B2B2C"]


def accounts(rng: random.Random, now: datetime) -> list[dict]:
    rows = []
    for n in range(1, ROWS + 1):
        country, regions = rng.choice(PLACES)
        employees = int(10 ** rng.gauss(3.2, 0.8)) if rng.random() > 0.15 else None
        revenue = int(employees * 10 ** rng.gauss(5.3, 0.3)) if employees and rng.random() > 0.2 else None
        rows.append({
            "id": n, "name": f"Company {n} Inc.", "name_key": f"company {n}", "domain": f"company{n}.example",
            "industry": rng.choice(INDUSTRIES) if rng.random() > 0.05 else "",
            "sub_industry": "", "revenue": revenue, "employees": employees, "country": country,
            "region": rng.choice(regions) if rng.random() > 0.2 else "", "city": "",
            "technologies": rng.sample(TECH, rng.choice([0, 0, 2, 3, 4, 5, 6, 8])),
            "competitor_products": rng.sample(COMPETITORS, rng.choice([0, 0, 0, 1, 1, 2])),
            "customer_base": rng.choice(CUSTOMER_BASES) if rng.random() > 0.4 else "",
            "tier": None, "tier_locked": False, "journey_stage": "awareness", "lost": rng.random() < 0.02,
            "ip_ranges": [], "bant": {}, "goals": "", "plans": "", "challenges": "", "stakes": "", "timeline": "",
            "target_status": rng.choice(["proposed", "agreed", "rejected"]) if rng.random() < 0.1 else None,
            "source": "bench", "crm_id": "", "created_at": now, "updated_at": now,
        })
    return rows


def main() -> None:
    app = _setup.app()
    now = datetime.now(timezone.utc)
    rng = random.Random(11)
    with app.app_context():
        from sqlalchemy import insert

        from abmcontent import lookalikes, users
        from abmcontent.extensions import db
        from abmcontent.models import Account, Deal

        rows = accounts(rng, now)
        for start in range(0, ROWS, 10_000):
            db.session.execute(insert(Account), rows[start:start + 10_000])
        dealt = rng.sample(range(1, ROWS + 1), WON + OTHER_DEALS)
        db.session.execute(insert(Deal), [
            {"account_id": account_id, "name": f"Deal {n}", "stage": "closed_won" if n < WON else
             rng.choice(["qualification", "proposal", "closed_lost"]), "created_on": date(2026, 1, 5),
             "closed_on": date(2026, 6, 1) if n < WON else None, "meetings": 3, "close_reason": "",
             "crm_id": "", "source": "ui", "created_at": now, "updated_at": now}
            for n, account_id in enumerate(dealt)])
        users.create_user("bench@example.com", "campaign", "bench-password", now)
        db.session.commit()

        lookalikes.suggest(now)  # warm-up: first query plans, imports
        db.session.expire_all()
        times, cpu = [], []
        for _ in range(3):
            started, started_cpu = time.perf_counter(), time.process_time()
            found = lookalikes.suggest(now)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            db.session.expire_all()
        assert len(found) == 50 and found[0].similarity >= found[-1].similarity
        started = time.perf_counter()
        filtered = lookalikes.suggest(now, industry="financials", country="US", min_similarity=50)
        filtered_s = time.perf_counter() - started
        top = (found[0].account.name, found[0].similarity, [m.name for m in found[0].resembles],
               [lookalikes.say(r) for r in found[0].reasons])
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
    started = time.perf_counter()
    page = client.get("/accounts/lookalikes")
    page_s = time.perf_counter() - started
    print("best:", *top, sep="\n  ")
    print(json.dumps({"accounts": ROWS, "won": WON, "suggest_s": round(min(times), 2),
                      "suggest_worst_s": round(max(times), 2), "suggest_cpu_s": round(min(cpu), 2),
                      "filtered_s": round(filtered_s, 2), "filtered_found": len(filtered),
                      "page_s": round(page_s, 2), "page_status": page.status_code, "top_similarity": top[1]}))


if __name__ == "__main__":
    main()
