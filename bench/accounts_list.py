"""The account list at 100,000 accounts on SQLite: server time of list pages, filtered, sorted, deep.

Run: .venv/bin/python bench/accounts_list.py
The last line is one JSON object of the figures (p95 per kind of page, milliseconds).
"""
from __future__ import annotations

import json
import random
import statistics
import time
from datetime import datetime, timezone

import _setup

ROWS = 100_000
REQUESTS = 60


def main() -> None:
    app = _setup.app()
    _setup.import_accounts(app, ROWS)
    with app.app_context():
        from abmcontent import users

        users.create_user("bench@example.com", "campaign", "bench-password", datetime.now(timezone.utc))
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
    rng = random.Random(3)
    kinds = {
        "first_page": lambda: "/accounts",
        "filtered": lambda: f"/accounts?tier={rng.choice('123')}&industry={rng.choice(['financials', 'energy', 'information_technology'])}",
        "region": lambda: f"/accounts?region={rng.choice(['US-NORTHEAST', 'US-CONTINENTAL', 'EU'])}&sort=name&direction=asc",
        "deep_page": lambda: f"/accounts?page={rng.randint(1500, 2000)}",
        "search": lambda: f"/accounts?q={rng.choice(['harbor', 'nova 12', 'company77'])}",
    }
    figures = {"accounts": ROWS}
    for name, url in kinds.items():
        client.get(url())
        times = []
        for _ in range(REQUESTS):
            target = url()
            start = time.perf_counter()
            response = client.get(target, headers={"HX-Request": "true"})
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, target
        figures[f"{name}_p95_ms"] = round(statistics.quantiles(times, n=20)[18], 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
