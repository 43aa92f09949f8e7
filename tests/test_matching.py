"""Content matching: fit, relevance, language, diversity, freshness, exclusion, speed."""
from __future__ import annotations

import math
import random
import statistics
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from abmcontent import library, matching
from abmcontent.matching import (Candidate, Index, Request, candidates_from_db, index_for_app,
                                 request_for, tokenize)
from abmcontent.models import Account, Contact
from tests.conftest import NOW, make_asset, make_user

FILLER = "Teams plan budgets, review dashboards and share quarterly reports with leadership."


def asset(id, *, type="article", language="en", stages=("consideration",), personas=(), industries=(),
          title=None, age_days=400, slug=None):
    return Candidate(id=id, slug=slug or f"asset-{id}", title=title or f"Asset {id}", type=type,
                     language=language, stages=frozenset(stages), personas=frozenset(personas),
                     industries=frozenset(industries), summary="",
                     fresh_at=NOW - timedelta(days=age_days))


def build(*candidates, texts=None):
    return Index.build(candidates, texts or {c.id: f"{c.title}. {FILLER}" for c in candidates})


def ids(results):
    return [r.asset_id for r in results]


def reason(result, kind):
    found = [r.text for r in result.reasons if r.kind == kind]
    return found[0] if found else None


# --- tokens ------------------------------------------------------------------------------------

def test_tokenize_stems_english_and_drops_stop_words():
    assert tokenize("The Migrations of migrated data, migrating it") == \
        ["migration", "migrat", "data", "migrat"]
    assert tokenize("Ｐｌａｎｎｉｎｇ plans planned") == ["plan", "plan", "plan"]  # NFKC, lower case


def test_tokenize_splits_korean_into_overlapping_bigrams():
    assert tokenize("마이그레이션을") == ["마이", "이그", "그레", "레이", "이션", "션을"]
    assert set(tokenize("마이그레이션")) <= set(tokenize("마이그레이션을"))
    assert tokenize("数据迁移") == ["数据", "据迁", "迁移"]


# --- fit ---------------------------------------------------------------------------------------

def test_stage_fit_ranks_exact_then_adjacent_then_other():
    index = build(asset(1, stages=["expansion"]), asset(2, stages=["awareness"]),
                  asset(3, stages=["consideration"]))
    results = index.recommend(Request(stage="consideration"), NOW)
    assert ids(results) == [3, 2, 1]
    assert reason(results[0], "stage") == "stage: Consideration"
    assert reason(results[1], "stage") == "stage: Awareness (next to Consideration)"
    assert reason(results[2], "stage") is None


def test_persona_fit_ranks_match_then_untagged_then_other_persona():
    index = build(asset(1, personas=["economic_buyer"]), asset(2, personas=[]),
                  asset(3, personas=["technical_evaluator", "champion"]))
    results = index.recommend(Request(persona="technical_evaluator"), NOW)
    assert ids(results) == [3, 2, 1]
    assert reason(results[0], "persona") == "persona: Technical evaluator"
    assert reason(results[1], "persona") == "persona: any"


def test_industry_fit_ranks_match_then_untagged_then_other_industry():
    index = build(asset(1, industries=["financials"]), asset(2), asset(3, industries=["health_care"]))
    results = index.recommend(Request(industry="health_care"), NOW)
    assert ids(results) == [3, 2, 1]
    assert reason(results[0], "industry") == "industry: Health care"
    fresh = 0.5 * math.exp(-400 / 180)
    assert [r.score for r in results] == pytest.approx([1.5 + fresh, 0.5 + fresh, fresh], abs=1e-3)


def test_asset_outside_the_stage_ranks_below_fitting_ones_even_when_it_fits_everything_else():
    index = build(asset(1, stages=["decision"], personas=["economic_buyer"], industries=["financials"]),
                  asset(2, stages=["awareness"]))
    results = index.recommend(Request(stage="awareness", persona="economic_buyer",
                                      industry="financials"), NOW)
    assert ids(results) == [2, 1]


def test_reasons_are_ordered_by_contribution():
    index = Index.build([asset(1, personas=["champion"], industries=["financials"], age_days=3)],
                        {1: "Data migration checklist"})
    [result] = index.recommend(Request(stage="consideration", persona="champion", industry="financials",
                                       context={"challenges": "data migration"}), NOW)
    assert [r.kind for r in result.reasons] == ["stage", "text", "persona", "industry", "fresh"]
    assert result.score == pytest.approx(3.0 + 3.0 + 2.0 + 1.5 + 0.5 * math.exp(-3 / 180), abs=1e-3)


# --- exclusion, limit, empty -----------------------------------------------------------------

def test_consumed_assets_are_never_returned():
    index = build(*(asset(i, type=t) for i, t in enumerate(["article", "webinar", "case_study"] * 4, 1)))
    results = index.recommend(Request(stage="consideration", exclude=frozenset({1, 2, 3, 5, 8}), limit=12), NOW)
    assert ids(results) and not set(ids(results)) & {1, 2, 3, 5, 8}
    assert len(results) == 12 - 5


def test_excluding_the_best_text_match_still_ranks_the_rest_by_text():
    texts = {1: "data migration data migration", 2: "data migration plan", 3: "budget review"}
    index = Index.build([asset(1), asset(2, type="webinar"), asset(3, type="event")], texts)
    results = index.recommend(Request(context={"challenges": "data migration"}, exclude=frozenset({1})), NOW)
    assert ids(results) == [2, 3]
    assert reason(results[0], "text") == "matches 'data migration' in the account's challenges"


def test_a_consumed_asset_far_more_relevant_than_the_rest_does_not_disturb_the_others():
    # 64 assets mention "common"; the last 32 also "mid", a word rare enough to weigh ~1,000
    # times more; those are consumed, so the best remaining text score is tiny.
    candidates = [asset(i, type=["article", "webinar"][i % 2]) for i in range(1, 65)]
    texts = {i: "common " + ("mid " * 10 if i > 32 else "filler") for i in range(1, 65)}
    index = Index.build(candidates, texts)
    request = Request(context={"challenges": "common " + "mid " * 30},
                      exclude=frozenset(range(33, 65)), limit=32)
    results = index.recommend(request, NOW)
    assert sorted(ids(results)) == list(range(1, 33))
    fresh = 0.5 * math.exp(-400 / 180)
    assert {r.score for r in results} == {round(3.0 + fresh, 3)}


def test_limit_is_respected():
    index = build(*(asset(i, type=["article", "webinar"][i % 2]) for i in range(1, 21)))
    assert len(index.recommend(Request(limit=3), NOW)) == 3
    assert len(index.recommend(Request(limit=1), NOW)) == 1
    assert index.recommend(Request(limit=0), NOW) == []


def test_empty_index_recommends_nothing():
    assert Index.build([], {}).recommend(Request(stage="awareness", context={"goals": "growth"}), NOW) == []


# --- language ----------------------------------------------------------------------------------

def test_assets_in_the_contacts_language_come_first():
    index = build(asset(1, language="en", personas=["champion"], industries=["financials"]),
                  asset(2, language="ko"), asset(3, language="en", type="webinar"))
    results = index.recommend(Request(stage="consideration", persona="champion", language="ko", limit=1), NOW)
    assert ids(results) == [2]
    assert reason(results[0], "language") is None


def test_other_language_fills_in_only_when_nothing_in_the_language_fits_and_says_so():
    index = build(asset(1, language="ko", stages=["expansion"]), asset(2, language="en"),
                  asset(3, language="en", stages=["expansion"], type="webinar"))
    results = index.recommend(Request(stage="consideration", language="ko"), NOW)
    # The English consideration asset fits; the Korean expansion asset does not, so it ranks after;
    # the English asset that does not fit either is never offered.
    assert ids(results) == [2, 1]
    assert reason(results[0], "language") == "language: English (nothing in Korean fits)"
    assert reason(results[1], "language") is None


# --- text relevance ----------------------------------------------------------------------------

def test_bm25_puts_the_asset_about_the_accounts_challenge_first_and_quotes_it():
    candidates = [asset(1, title="Quarterly planning"), asset(2, title="Migration guide"),
                  asset(3, title="Cloud cost"), asset(4, title="Hiring analysts")]
    texts = {
        1: "Quarterly planning for finance teams: budgets and forecasts. " * 3,
        2: "A data migration guide: move tables, validate data and cut over the migration in weeks.",
        3: "Cloud cost control with budgets, alerts and data team chargeback. " * 2,
        4: "Hiring analysts and growing a team that reads dashboards.",
    }
    index = Index.build(candidates, texts)
    request = Request(context={"goals": "Grow revenue in new regions",
                               "challenges": "A stalled data migration from Teradata"}, limit=4)
    results = index.recommend(request, NOW)
    assert results[0].asset_id == 2
    assert reason(results[0], "text") == "matches 'data migration' in the account's challenges"
    assert results[0].score == pytest.approx(3.0 + 0.5 * math.exp(-400 / 180), abs=1e-3)
    assert all(r.score < results[0].score for r in results[1:])


def test_quote_keeps_the_words_as_the_account_wrote_them():
    index = Index.build([asset(1)], {1: "Planned migrations of the warehouse to the cloud"})
    [result] = index.recommend(Request(context={"plans": "Warehouse migrations, 2027"}), NOW)
    assert reason(result, "text") == "matches 'Warehouse migrations' in the account's plans"


def test_korean_context_matches_a_korean_asset_and_quotes_the_korean_words():
    candidates = [asset(1, language="ko", title="데이터 마이그레이션을 위한 체크리스트"),
                  asset(2, language="ko", title="실시간 분석 웨비나", type="webinar"),
                  asset(3, language="ko", title="재무 담당자를 위한 비용 절감 안내", type="whitepaper")]
    texts = {1: "데이터 마이그레이션을 위한 체크리스트. 테이블 목록, 검증, 전환 일정을 점검합니다.",
             2: "실시간 분석 웨비나. 대시보드와 스트리밍 데이터를 다룹니다.",
             3: "재무 담당자를 위한 비용 절감 안내. 예산과 라이선스 비용."}
    index = Index.build(candidates, texts)
    results = index.recommend(Request(language="ko", context={"challenges": "레거시 데이터 마이그레이션이 과제"}), NOW)
    assert results[0].asset_id == 1
    assert reason(results[0], "text") == "matches '데이터 마이그레이션' in the account's challenges"


# --- diversity, freshness, determinism --------------------------------------------------------

def test_results_vary_in_type_a_case_study_makes_the_top_two():
    index = build(asset(1), asset(2), asset(3), asset(4, type="case_study"))
    results = index.recommend(Request(stage="consideration"), NOW)
    assert "case_study" in [r.type for r in results[:2]]
    assert sorted(ids(results)) == [1, 2, 3, 4]


def test_list_is_not_all_one_type_when_another_type_scores():
    articles = [asset(i, personas=["champion"], industries=["energy"]) for i in range(1, 7)]
    webinar = asset(7, type="webinar", stages=["awareness"])
    index = build(*articles, webinar)
    results = index.recommend(Request(stage="consideration", persona="champion", industry="energy",
                                      limit=3), NOW)
    assert ids(results) == [1, 2, 7]


def test_freshness_breaks_near_ties():
    index = build(asset(1, age_days=300), asset(2, age_days=5, type="webinar"), asset(3, age_days=90, type="event"))
    results = index.recommend(Request(stage="consideration"), NOW)
    assert ids(results) == [2, 3, 1]
    assert reason(results[0], "fresh") == "fresh: 5 days old"
    assert reason(results[2], "fresh") is None


def test_order_is_deterministic_with_ties_broken_by_id():
    candidates = [asset(i, type=t, age_days=30) for i, t in zip(range(10, 0, -1), ["article", "webinar"] * 5)]
    index = build(*candidates)
    first = index.recommend(Request(stage="consideration", limit=6), NOW)
    again = build(*reversed(candidates)).recommend(Request(stage="consideration", limit=6), NOW)
    assert first == again
    assert ids(first) == [1, 2, 3, 4, 5, 6]


def test_request_for_an_account_and_contact():
    account = Account(name="Harborview Bank", industry="financials", journey_stage="decision",
                      goals="Close faster", challenges="", plans="Data migration in 2027")
    contact = Contact(account=account, persona="technical_evaluator", language="ko")
    request = request_for(account, contact, exclude=[4], limit=3)
    assert request == Request(stage="decision", persona="technical_evaluator", industry="financials",
                              language="ko", context={"goals": "Close faster", "plans": "Data migration in 2027"},
                              exclude=frozenset({4}), limit=3)
    assert request_for(account).persona is None and request_for(account).language is None


def _reference_score(c, text, request, bm25, best, now):
    """The module docstring's formula, written out plainly."""
    order = ["awareness", "consideration", "decision", "onboarding", "expansion"]
    score = 0.0
    if request.stage:
        i = order.index(request.stage)
        near = {order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)}
        score += 3.0 if request.stage in c.stages else 1.0 if c.stages & near else 0.0
    if request.persona:
        score += 2.0 if request.persona in c.personas else 0.0 if c.personas else 0.5
    if request.industry:
        score += 1.5 if request.industry in c.industries else 0.0 if c.industries else 0.5
    if best:
        score += 3.0 * bm25 / best
    age = max(0.0, (now - c.fresh_at).total_seconds() / 86400)
    return score + 0.5 * math.exp(-age / 180)


def test_scores_follow_the_documented_formula():
    rng = random.Random(5)
    words = "data migration cloud cost warehouse audit risk team budget close report plan".split()
    stages = ["awareness", "consideration", "decision", "onboarding", "expansion"]
    candidates, texts = [], {}
    for i in range(1, 81):  # 80 assets: common words get packed (dense) postings, rare ones not
        candidates.append(replace(asset(i, type=rng.choice(["article", "webinar", "event"]),
                                        stages=rng.sample(stages, rng.randint(1, 2)),
                                        personas=rng.sample(["champion", "end_user"], rng.randint(0, 1)),
                                        industries=rng.sample(["energy", "financials"], rng.randint(0, 1))),
                                  fresh_at=NOW + timedelta(days=rng.uniform(-500, 3))))
        texts[i] = " ".join(rng.choices(words, k=rng.randint(5, 60)) + [f"rare{rng.randint(1, 40)}"])
    index = Index.build(candidates, texts)
    n, avgdl = len(candidates), sum(len(tokenize(t)) for t in texts.values()) / len(candidates)
    df = Counter(term for t in texts.values() for term in set(tokenize(t)))

    def bm25(doc_text, query):
        tf, dl, total = Counter(tokenize(doc_text)), len(tokenize(doc_text)), 0.0
        for term in query:
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                total += idf * tf[term] * 2.2 / (tf[term] + 1.2 * (0.25 + 0.75 * dl / avgdl))
        return total

    checked = 0
    for _ in range(40):
        request = Request(stage=rng.choice([None, *stages]), persona=rng.choice([None, "champion", "end_user"]),
                          industry=rng.choice([None, "energy", "financials"]),
                          context={"challenges": " ".join(rng.choices(words + ["rare3", "rare7"], k=6))},
                          exclude=frozenset(rng.sample(range(1, 81), 10)), limit=8)
        query = tokenize(request.context["challenges"])
        relevance = {c.id: bm25(texts[c.id], query) for c in candidates}
        best = max(v for k, v in relevance.items() if k not in request.exclude)
        for result in index.recommend(request, NOW):
            c = candidates[result.asset_id - 1]
            expected = _reference_score(c, texts[c.id], request, relevance[c.id], best, NOW)
            assert result.score == pytest.approx(expected, abs=2e-3), (request, result)
            checked += 1
    assert checked == 40 * 8


# --- the database --------------------------------------------------------------------------------

def test_candidates_come_from_published_assets_with_their_tags_and_the_index_follows_the_library(any_db_app):
    marketer = make_user()
    teradata = make_asset(marketer, status="published", title="Teradata exit plan",
                          body="Data migration in 12 weeks for {{ account.name }}.",
                          stages=["consideration"], personas=["technical_evaluator"], industries=["financials"])
    make_asset(marketer, status="published", title="CFO guide to cloud cost", type="whitepaper",
               body="FinOps basics", stages=["awareness"], personas=["economic_buyer"])
    make_asset(marketer, status="draft", title="Draft migration notes", body="Data migration draft")
    archived = make_asset(marketer, status="published", title="Old webinar", type="webinar", body="2019")
    library.transition(archived.id, "archived", marketer, NOW)

    candidates, texts = candidates_from_db()
    by_title = {c.title: c for c in candidates}
    assert sorted(by_title) == ["CFO guide to cloud cost", "Teradata exit plan"]
    exit_plan = by_title["Teradata exit plan"]
    assert (exit_plan.stages, exit_plan.personas, exit_plan.industries) == (
        frozenset({"consideration"}), frozenset({"technical_evaluator"}), frozenset({"financials"}))
    assert exit_plan.fresh_at == NOW
    assert "Data migration in 12 weeks" in texts[teradata.id] and "account.name" not in texts[teradata.id]

    request = Request(stage="consideration", context={"challenges": "warehouse checklist"})
    first = index_for_app()
    assert index_for_app() is first  # nothing changed: the cached index
    assert "Warehouse exit checklist" not in [r.title for r in first.recommend(request, NOW)]
    make_asset(marketer, status="published", title="Warehouse exit checklist", type="whitepaper",
               body="A checklist for leaving the warehouse.", stages=["consideration"])
    results = index_for_app().recommend(request, NOW)
    assert results[0].title == "Warehouse exit checklist"
    assert reason(results[0], "text") == "matches 'warehouse checklist' in the account's challenges"


def test_reasons_are_english_even_under_a_korean_request(app, monkeypatch):
    monkeypatch.setattr(matching, "_english_labels", {})  # no label remembered from other tests
    index = build(asset(1, personas=["champion"]))
    with app.test_request_context("/", headers={"Accept-Language": "ko"}):
        [result] = index.recommend(Request(stage="decision", persona="champion"), NOW)
    assert [(r.kind, r.text) for r in result.reasons] == [("persona", "persona: Champion"),
                                                          ("stage", "stage: Consideration (next to Decision)")]
    assert [(r.key, r.args) for r in result.reasons] == [
        ("persona", {"persona": "champion"}), ("stage_near", {"stage": "consideration", "wanted": "decision"})]


# --- speed -------------------------------------------------------------------------------------

def test_a_recommendation_over_2000_assets_is_fast():
    rng = random.Random(3)
    vocabulary = [f"{a}{b}" for a in ("data", "cloud", "cost", "team", "plan", "risk", "sale", "audit")
                  for b in ("", "flow", "base", "ops", "mart", "lake", "line", "care", "grid", "desk")]
    vocabulary += [f"word{n}" for n in range(3000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    stages = ("awareness", "consideration", "decision", "onboarding", "expansion")
    personas = ("economic_buyer", "technical_evaluator", "end_user", "champion", "procurement")
    industries = ("financials", "health_care", "energy", "industrials", "utilities")
    types = ("article", "case_study", "whitepaper", "webinar", "event")
    candidates, texts = [], {}
    for i in range(1, 2001):
        candidates.append(replace(asset(i, type=rng.choice(types), language=rng.choice("en en en ko".split()),
                                        stages=rng.sample(stages, 2), personas=rng.sample(personas, 2),
                                        industries=rng.sample(industries, rng.randint(0, 1)),
                                        age_days=rng.randint(0, 700))))
        texts[i] = " ".join(rng.choices(vocabulary, weights, k=600))
    index = Index.build(candidates, texts)
    times = []
    for n in range(200):
        request = Request(stage=rng.choice(stages), persona=rng.choice(personas),
                          industry=rng.choice(industries), language=rng.choice(["en", "ko", None]),
                          context={"goals": " ".join(rng.choices(vocabulary, weights, k=30)),
                                   "challenges": " ".join(rng.choices(vocabulary, weights, k=30))},
                          exclude=frozenset(rng.sample(range(1, 2001), 5)))
        start = time.perf_counter()
        results = index.recommend(request, NOW)
        times.append((time.perf_counter() - start) * 1000)
        assert len(results) == 5
    p95 = statistics.quantiles(times, n=100)[94]
    print(f"recommend over 2,000 assets: p50 {statistics.median(times):.2f} ms, p95 {p95:.2f} ms")
    assert p95 < 25


def _version():
    from abmcontent.matching import library_signature

    return library_signature()


def test_the_library_version_moves_with_published_assets_and_their_tags_only(any_db_app):
    from abmcontent import library

    marketer = make_user("marketer")
    start = _version()
    draft = make_asset(marketer, title="Draft")
    library.update_asset(draft.id, replace(library.AssetInput.of(draft), title="Draft, edited"), marketer, NOW)
    library.set_tag(draft.id, "stage", "decision", True, marketer, NOW)
    assert _version() == start  # drafts never make the index rebuild
    published = make_asset(marketer, status="published", title="Live")
    after_publish = _version()
    assert after_publish != start
    library.set_tag(published.id, "persona", "champion", True, marketer, NOW)
    after_tag = _version()
    assert after_tag != after_publish
    library.update_asset(published.id, replace(library.AssetInput.of(published), summary="New summary"),
                         marketer, NOW)
    assert _version() != after_tag
    before_archive = _version()
    library.transition(published.id, "archived", marketer, NOW)
    assert _version() != before_archive
    assert [r.title for r in index_for_app().recommend(Request(), NOW)] == []
