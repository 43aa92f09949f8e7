"""Recommendation speed: p50/p95 of one Index.recommend() call over 2,000 published assets.

The assets reuse the paragraphs of the real starter library (content/**/*.md), shuffled, about
600 words each, nine in ten English and one in ten Korean; they are built as Candidates directly,
no database. The requests vary stage, persona, industry and language (half ask for English, a
tenth for Korean, the rest for none) and carry an account context of about 60 words made from
plausible goals, plans, challenges, stakes and timelines.

Run: .venv/bin/python bench/recommend.py   (target: p95 ≤ 5 ms)
The last line is one JSON object of the figures.
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from abmcontent import taxonomy  # noqa: E402
from abmcontent.matching import Candidate, Index, Request  # noqa: E402

ASSETS = 2_000
CALLS = 1_000
WORDS_PER_ASSET = 600
CONTENT = Path(__file__).resolve().parent.parent / "content"

CONTEXT_EN = {
    "goals": [
        "Close the books two days faster with one source of truth for regulatory reporting.",
        "Unify clinical and operational reporting under one governance model.",
        "Give store managers real-time sales and inventory dashboards before the holiday season.",
        "Cut the data platform bill by a third without slowing down the analysts.",
        "Let business analysts answer their own questions without filing tickets with IT.",
        "Predict equipment failures from sensor data and reduce unplanned downtime.",
        "Consolidate three regional warehouses into one cloud platform.",
        "Launch usage-based pricing with accurate daily metering data.",
    ],
    "plans": [
        "Retire the Teradata appliance before its 2027 renewal.",
        "Move the Oracle Exadata workloads to the cloud ahead of end of support.",
        "Run a pilot with two vendors in the second quarter.",
        "Replace nightly batch jobs with streaming pipelines for the supply chain team.",
        "Roll out a self-service analytics program to 400 analysts.",
        "Renegotiate the data platform contract and introduce FinOps chargeback.",
    ],
    "challenges": [
        "Data migration risk during month-end; legacy ETL nobody fully understands.",
        "PHI scattered across 40 systems and audit findings on data access.",
        "Dashboards time out at month-end and the finance team exports everything to Excel.",
        "Cloud costs grew 60% last year and nobody can say which team spends what.",
        "A small data team, thousands of stored procedures and no test coverage.",
        "Security review and GDPR, SOX and PIPA controls slow every new project.",
        "Nightly batch loads mean a full day of delay for plant quality data.",
    ],
    "stakes": [
        "A failed close delays filings; the CFO has promised the board a faster close.",
        "Another audit finding would put the hospital's accreditation at risk.",
        "Missing the renewal date means another three-year hardware contract.",
        "Competitors already offer real-time tracking to the same customers.",
    ],
    "timeline": [
        "Vendor shortlist by March, pilot in Q2, decision before Q3.",
        "Budget approval at the October board meeting.",
        "Migration must finish before the contract renews next year.",
    ],
}
CONTEXT_KO = {
    "goals": ["공장 품질 데이터를 실시간으로 분석해 불량률을 낮추는 것.",
              "재무 결산 기간을 이틀 단축하고 규제 보고를 하나의 데이터로 통합하는 것.",
              "데이터 플랫폼 비용을 줄이면서 분석가의 셀프서비스 분석을 확대하는 것."],
    "plans": ["노후한 Netezza 장비를 내년 계약 갱신 전에 철수할 계획.",
              "2분기에 두 개 업체와 파일럿을 진행할 예정."],
    "challenges": ["노후한 Netezza 장비, 야간 배치로 인한 하루 지연.",
                   "레거시 데이터 마이그레이션이 과제이며 프로시저 내용을 아는 사람이 없음.",
                   "개인정보보호법 점검 항목과 보안 심사로 프로젝트가 지연됨."],
    "stakes": ["품질 문제로 주요 고객사의 신뢰를 잃을 위험.", "계약 갱신을 놓치면 3년 더 장비를 유지해야 함."],
    "timeline": ["3월까지 업체 선정, 3분기 전 최종 결정."],
}


def corpus() -> dict[str, list[str]]:
    """Paragraphs of the starter library by language."""
    paragraphs: dict[str, list[str]] = {"en": [], "ko": []}
    for path in sorted(CONTENT.rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[2]
        language = path.parent.name
        paragraphs.setdefault(language, []).extend(p.strip() for p in body.split("\n\n") if len(p.strip()) > 40)
    return paragraphs


def assets(now: datetime, rng: random.Random) -> tuple[list[Candidate], dict[int, str]]:
    paragraphs = corpus()
    stages, personas = tuple(taxonomy.STAGE_LABELS), tuple(taxonomy.PERSONA_LABELS)
    industries, types = tuple(taxonomy.INDUSTRIES), tuple(taxonomy.ASSET_TYPES)
    candidates, texts = [], {}
    for n in range(1, ASSETS + 1):
        language = "ko" if n % 10 == 0 else "en"
        pool = paragraphs[language]
        body, words = [], 0
        while words < WORDS_PER_ASSET:
            paragraph = rng.choice(pool)
            body.append(paragraph)
            words += len(paragraph.split())
        title = " ".join(rng.choice(pool).split()[:8])
        summary = " ".join(rng.choice(pool).split()[:30])
        candidates.append(Candidate(
            id=n, slug=f"asset-{n}", title=title, type=rng.choice(types), language=language,
            stages=frozenset(rng.sample(stages, rng.randint(1, 2))),
            personas=frozenset(rng.sample(personas, rng.choice((0, 1, 1, 2)))),
            industries=frozenset(rng.sample(industries, rng.choice((0, 0, 1, 1, 2)))),
            summary=summary, fresh_at=now - timedelta(days=rng.uniform(0, 900))))
        texts[n] = "\n\n".join([title, summary, *body])
    return candidates, texts


def requests(rng: random.Random) -> list[Request]:
    stages, personas = tuple(taxonomy.STAGE_LABELS), tuple(taxonomy.PERSONA_LABELS)
    industries = tuple(taxonomy.INDUSTRIES)
    out = []
    for _ in range(CALLS):
        roll = rng.random()
        language = "en" if roll < 0.5 else "ko" if roll < 0.6 else None
        pools = CONTEXT_KO if language == "ko" else CONTEXT_EN
        context = {name: " ".join(rng.sample(sentences, min(len(sentences), 2 if name in ("goals", "challenges") else 1)))
                   for name, sentences in pools.items()}
        out.append(Request(stage=rng.choice(stages), persona=rng.choice((*personas, None)),
                           industry=rng.choice((*industries, None)), language=language, context=context,
                           exclude=frozenset(rng.sample(range(1, ASSETS + 1), rng.randint(0, 20)))))
    return out


def pct(values: list[float], p: int) -> float:
    return round(statistics.quantiles(values, n=100)[p - 1], 2)


def main() -> None:
    rng = random.Random(17)
    now = datetime.now(timezone.utc)
    candidates, texts = assets(now, rng)
    words = sum(len(t.split()) for t in texts.values()) / len(texts)
    print(f"built {len(candidates)} assets, {words:.0f} words each on average")
    started = time.perf_counter()
    index = Index.build(candidates, texts)
    build_s = time.perf_counter() - started
    print(f"indexed in {build_s:.2f}s")
    calls = requests(rng)
    context_words = statistics.mean(sum(len(v.split()) for v in r.context.values()) for r in calls)
    print(f"{len(calls)} requests, {context_words:.0f} context words on average")
    for request in calls[:50]:  # warm-up
        index.recommend(request, now)
    times = []
    for n, request in enumerate(calls, 1):
        start = time.perf_counter()
        results = index.recommend(request, now)
        times.append((time.perf_counter() - start) * 1000)
        assert results and not {r.asset_id for r in results} & request.exclude
        if n % 250 == 0:
            print(f"{n} calls: p50 {pct(times, 50)} ms, p95 {pct(times, 95)} ms")
    sample = index.recommend(calls[0], now)[0]
    print(f"e.g. {sample.title[:50]!r} ({sample.type}, {sample.score}): "
          + "; ".join(r.text for r in sample.reasons))
    print(json.dumps({"assets": len(candidates), "recommend_p50_ms": pct(times, 50),
                      "recommend_p95_ms": pct(times, 95), "build_s": round(build_s, 2)}))


if __name__ == "__main__":
    main()
