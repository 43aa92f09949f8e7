"""Import 100,000 accounts from a Salesforce export on SQLite: seconds and peak memory.

Run: .venv/bin/python bench/import_accounts.py   (target: ≤ 30 s, ≤ 500 MB)
The last line is one JSON object of the figures.
"""
from __future__ import annotations

import json
import resource
import time
from datetime import datetime, timezone

import _setup

ROWS = 100_000


def main() -> None:
    app = _setup.app()
    data = _setup.salesforce_export(ROWS)
    print(f"generated a {len(data) / 1e6:.1f} MB export of {ROWS:,} accounts")
    with app.app_context():
        from abmcontent import crm_import
        from abmcontent.models import Account

        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        job = crm_import.create_job("accounts", "sf.csv", data, None, now, app.config["UPLOAD_FOLDER"])
        report = crm_import.run_job(crm_import.claim_next() or job.id, now, app.config["UPLOAD_FOLDER"])
        seconds = time.perf_counter() - started
        assert report.saved and not report.rejected, report.rejected[:3]
        count = Account.query.count()
        assert count == ROWS, count
        started = time.perf_counter()
        again = crm_import.run_job(crm_import.create_job("accounts", "sf.csv", data, None, now,
                                                         app.config["UPLOAD_FOLDER"]).id, now,
                                   app.config["UPLOAD_FOLDER"])
        reimport_seconds = time.perf_counter() - started
        assert again.unchanged == ROWS and Account.query.count() == ROWS
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": ROWS, "seconds": round(seconds, 1), "peak_mb": round(peak_mb),
                      "reimport_seconds": round(reimport_seconds, 1)}))


if __name__ == "__main__":
    main()
