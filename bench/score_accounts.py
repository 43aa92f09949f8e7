"""Rescore 100,000 accounts against the ICP on SQLite.

Run: .venv/bin/python bench/score_accounts.py   (target: ≤ 10 s)
The last line is one JSON object of the figures.
"""
from __future__ import annotations

import json
import time
import _setup

ROWS = 100_000


def main() -> None:
    app = _setup.app()
    _setup.import_accounts(app, ROWS)
    with app.app_context():
        from abmcontent import scoring

        started = time.perf_counter()
        count = scoring.rescore_all()
        seconds = time.perf_counter() - started
        assert count == ROWS
    print(json.dumps({"accounts": ROWS, "seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
