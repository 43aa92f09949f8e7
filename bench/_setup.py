"""Shared by the benchmarks: a migrated app on a fresh SQLite file, and a realistic CRM export."""
from __future__ import annotations

import csv
import io
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from abmcontent import create_app  # noqa: E402

INDUSTRIES = ["Banking", "Insurance", "Healthcare", "Technology", "Manufacturing", "Retail", "Energy",
              "Utilities", "Telecommunications", "Real Estate", "Chemicals", "Media", "Consulting"]
STATES = ["NY", "MA", "CA", "TX", "IL", "WA", "GA", "FL", "PA", "OH", "CO", "MN"]
COUNTRIES = ["United States"] * 7 + ["Canada", "United Kingdom", "Germany", "South Korea", "Japan"]
TECH = ["Teradata", "Oracle Exadata", "Netezza", "Tableau", "Power BI", "SAP BW", "Looker"]
WORDS = ["North", "Blue", "Summit", "River", "Pioneer", "Atlas", "Harbor", "Cedar", "Nova", "Vertex",
         "Global", "United", "First", "Pacific", "Granite", "Beacon", "Crescent", "Liberty", "Quantum"]
SUFFIX = ["Inc.", "Corp.", "LLC", "Holdings", "Group", "Ltd", "Co."]


def app(folder: Path | None = None):
    folder = folder or Path(tempfile.mkdtemp(prefix="abm-bench-"))
    application = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                              "instance_path": str(folder), "UPLOAD_FOLDER": str(folder / "uploads"),
                              "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with application.app_context():
        upgrade()
    return application


def salesforce_export(rows: int, seed: int = 5) -> bytes:
    """A Salesforce Data Loader account export (API names), every company distinct."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ID", "NAME", "WEBSITE", "INDUSTRY", "ANNUALREVENUE", "NUMBEROFEMPLOYEES",
                     "BILLINGCITY", "BILLINGSTATE", "BILLINGCOUNTRY", "OWNERID"])
    for n in range(rows):
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n} {rng.choice(SUFFIX)}"
        country = rng.choice(COUNTRIES)
        writer.writerow([f"0015g{n:013d}", name, f"https://www.company{n}.example/",
                         rng.choice(INDUSTRIES), rng.randrange(1, 5000) * 1_000_000,
                         rng.randrange(10, 50_000), "Springfield",
                         rng.choice(STATES) if country == "United States" else "", country,
                         f"0055g{rng.randrange(100):013d}"])
    return out.getvalue().encode("utf-8")


def import_accounts(application, rows: int):
    """Import a generated Salesforce export of `rows` accounts through the real importer."""
    from datetime import datetime, timezone

    from abmcontent import crm_import

    now = datetime.now(timezone.utc)
    with application.app_context():
        job = crm_import.create_job("accounts", "sf.csv", salesforce_export(rows), None, now,
                                    application.config["UPLOAD_FOLDER"])
        return crm_import.run_job(job.id, now, application.config["UPLOAD_FOLDER"])


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
