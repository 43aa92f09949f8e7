"""Library page speed with 5,000 assets on SQLite: p50/p95 server time of a filtered page and a search.

Run: .venv/bin/python bench/library.py   (target: p95 ≤ 100 ms for both)
The last line is one JSON object of the figures.
"""
from __future__ import annotations

import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from abmcontent import create_app, library, taxonomy, users  # noqa: E402
from abmcontent.extensions import db  # noqa: E402
from abmcontent.models import Asset, AssetTag  # noqa: E402

ASSETS = 5_000
REQUESTS = 200
CONTENT = Path(__file__).resolve().parent.parent / "content"


def corpus() -> tuple[list[str], list[str]]:
    """Paragraphs and words of the real starter library (English and Korean), natural frequencies."""
    paragraphs = []
    for path in sorted(CONTENT.rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[2]
        paragraphs += [p.strip() for p in body.split("\n\n") if len(p.strip()) > 40]
    words = [w for p in paragraphs for w in re.findall(r"[A-Za-z]{4,}|[가-힣]{2,}", p)]
    return paragraphs, words


PARAGRAPHS, WORDS = corpus()


def seed(now: datetime) -> None:
    rng = random.Random(7)
    stages, personas, industries = taxonomy.stages(), taxonomy.personas(), tuple(taxonomy.INDUSTRIES)
    rows, tags = [], []
    for n in range(1, ASSETS + 1):
        title = " ".join(rng.choice(WORDS) for _ in range(6)).capitalize()
        body = "\n\n".join(rng.sample(PARAGRAPHS, 8))
        rows.append(dict(id=n, slug=f"asset-{n}", title=title, type=rng.choice(tuple(taxonomy.ASSET_TYPES)),
                         language=rng.choice(("en", "en", "en", "ko")),
                         status=rng.choice(("draft", "review", "published", "published", "published", "archived")),
                         summary=title, body=body, gated=False, cta_label="", cta_url="",
                         search_text=library.normalise(f"{title} {title} {body}"),
                         created_at=now, updated_at=now - timedelta(minutes=n)))
        for kind, pool, k in (("stage", stages, 2), ("persona", personas, 2), ("industry", industries, 1)):
            tags += [dict(asset_id=n, kind=kind, value=v) for v in rng.sample(pool, k)]
    db.session.execute(Asset.__table__.insert(), rows)
    db.session.execute(AssetTag.__table__.insert(), tags)
    db.session.commit()


def measure(client, urls: list[str]) -> list[float]:
    times = []
    for url in urls:
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def pct(values: list[float], p: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(p) - 1], 1)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="abm-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "instance_path": str(folder), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    now = datetime.now(timezone.utc)
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        seed(now)
        print(f"seeded {ASSETS} assets in {time.perf_counter() - started:.1f}s")
        users.create_user("bench@example.com", "marketer", "bench-password", now)
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})
    rng = random.Random(11)
    stages, personas = taxonomy.STAGE_LABELS, taxonomy.PERSONA_LABELS
    with app.app_context():
        filter_urls = [f"/library?stage={rng.choice(list(stages))}&persona={rng.choice(list(personas))}"
                       f"&status=published&language=en&page={rng.randint(1, 3)}" for _ in range(REQUESTS)]
        search_urls = [f"/library?q={rng.choice(WORDS)}+{rng.choice(WORDS)}" for _ in range(REQUESTS)]
    htmx = {"HX-Request": "true"}
    measure(client, filter_urls[:10])  # warm-up
    filter_ms = measure(client, filter_urls)
    search_ms = measure(client, search_urls)
    fragment_ms = []
    for url in search_urls[:REQUESTS // 2]:
        start = time.perf_counter()
        client.get(url, headers=htmx)
        fragment_ms.append((time.perf_counter() - start) * 1000)
    figures = {
        "assets": ASSETS,
        "filter_p50_ms": pct(filter_ms, 50), "filter_p95_ms": pct(filter_ms, 95),
        "search_p50_ms": pct(search_ms, 50), "search_p95_ms": pct(search_ms, 95),
        "search_fragment_p95_ms": pct(fragment_ms, 95),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
