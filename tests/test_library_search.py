"""Finding assets, on SQLite and PostgreSQL alike."""
from abmcontent import library
from abmcontent.library import LibraryFilters
from tests.conftest import make_asset, make_user


def _titles(page):
    return sorted(a.title for a in page.items)


def _seed():
    marketer = make_user()
    make_asset(marketer, status="published", title="Teradata exit plan", body="Data migration in 12 weeks",
               stages=["consideration"], personas=["technical_evaluator"], industries=["financials"])
    make_asset(marketer, status="published", title="CFO guide to cloud cost", body="FinOps basics",
               stages=["awareness"], personas=["economic_buyer"], type="whitepaper")
    make_asset(marketer, status="draft", title="데이터 마이그레이션 체크리스트", language="ko",
               body="레거시 DW 전환을 위한 마이그레이션 점검표", stages=["consideration"],
               personas=["technical_evaluator"])
    make_asset(marketer, status="archived", title="Old migration webinar", body="2019 content",
               stages=["consideration"], personas=["technical_evaluator"], type="webinar")
    return marketer


def test_filters_combine(any_db_app):
    _seed()
    page = library.search(LibraryFilters(stage="consideration", persona="technical_evaluator"))
    assert _titles(page) == ["Teradata exit plan", "데이터 마이그레이션 체크리스트"]
    assert _titles(library.search(LibraryFilters(industry="financials"))) == ["Teradata exit plan"]
    assert _titles(library.search(LibraryFilters(type="whitepaper"))) == ["CFO guide to cloud cost"]
    assert _titles(library.search(LibraryFilters(language="ko"))) == ["데이터 마이그레이션 체크리스트"]
    assert _titles(library.search(LibraryFilters(status="draft"))) == ["데이터 마이그레이션 체크리스트"]


def test_archived_assets_show_only_when_asked_for(any_db_app):
    _seed()
    assert "Old migration webinar" not in _titles(library.search(LibraryFilters()))
    assert _titles(library.search(LibraryFilters(status="archived"))) == ["Old migration webinar"]
    assert library.search(LibraryFilters(status="any")).total == 4


def test_search_matches_every_word_in_any_case_and_korean(any_db_app):
    _seed()
    assert _titles(library.search(LibraryFilters(q="MIGRATION weeks"))) == ["Teradata exit plan"]
    assert _titles(library.search(LibraryFilters(q="마이그레이션"))) == ["데이터 마이그레이션 체크리스트"]
    assert library.search(LibraryFilters(q="nothing-like-this")).total == 0


def test_search_puts_title_matches_first(any_db_app):
    marketer = make_user()
    make_asset(marketer, title="A guide", body="all about pipelines")
    make_asset(marketer, title="Pipelines explained", body="text")
    page = library.search(LibraryFilters(q="pipelines"))
    assert [a.title for a in page.items] == ["Pipelines explained", "A guide"]


def test_search_treats_like_wildcards_as_text(any_db_app):
    marketer = make_user()
    make_asset(marketer, title="100% uptime", body="x")
    make_asset(marketer, title="Other", body="y")
    assert _titles(library.search(LibraryFilters(q="%"))) == ["100% uptime"]
    assert library.search(LibraryFilters(q="_")).total == 0


def test_paging_clamps_to_the_last_page(any_db_app):
    marketer = make_user()
    for n in range(7):
        make_asset(marketer, title=f"Asset {n}")
    page = library.search(LibraryFilters(page=99), page_size=3)
    assert page.total == 7 and page.pages == 3 and page.page == 3 and len(page.items) == 1


def test_unknown_sort_falls_back_to_recent(any_db_app):
    marketer = make_user()
    make_asset(marketer, title="B")
    page = library.search(LibraryFilters(sort="title; DROP TABLE assets"))
    assert page.total == 1


def test_coverage_counts_published_assets_per_stage_and_persona(any_db_app):
    _seed()
    grid = library.coverage()
    assert grid.count("consideration", "technical_evaluator") == 1  # draft and archived do not count
    assert grid.count("awareness", "economic_buyer") == 1
    assert grid.count("decision", "champion") == 0
    assert grid.gaps == 25 - 2
    assert library.coverage(language="ko").count("consideration", "technical_evaluator") == 0
