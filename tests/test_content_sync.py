from pathlib import Path

from abmcontent import content_sync, library
from abmcontent.config import PROJECT_ROOT
from abmcontent.models import Asset
from tests.conftest import NOW

GOOD = """---
title: "Close the books two days sooner"
slug: close-the-books
type: article
stages: [awareness]
personas: [economic_buyer]
industries: [financials]
language: en
status: published
summary: "Why month-end takes so long."
gate: false
cta:
  label: "Book a call"
  url: "https://cobaltdata.example/call"
---
Hello {{ contact.first_name | "there" }} at {{ account.name }}.
"""


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_the_shipped_starter_library_is_all_valid_and_fills_every_cell(app):
    report = content_sync.sync(PROJECT_ROOT / "content", NOW)
    assert report.invalid == []
    assert len(report.added) >= 24
    assert Asset.query.filter_by(language="ko").count() >= 8
    english = library.coverage(language="en")
    assert english.gaps == 0, "every stage × persona has a published English asset"


def test_sync_is_idempotent(app, tmp_path):
    _write(tmp_path, "en/close.md", GOOD)
    first = content_sync.sync(tmp_path, NOW)
    second = content_sync.sync(tmp_path, NOW)
    assert (len(first.added), len(second.added), len(second.unchanged)) == (1, 0, 1)
    asset = Asset.query.filter_by(slug="close-the-books").one()
    assert asset.status == "published" and asset.industries == ["financials"]
    assert [(t.from_status, t.to_status) for t in asset.transitions] == [("draft", "published")]
    assert asset.published_at == NOW
    assert asset.cta_url == "https://cobaltdata.example/call"
    assert len(asset.revisions) == 1


def test_a_changed_file_updates_the_asset_and_keeps_history(app, tmp_path):
    path = _write(tmp_path, "close.md", GOOD)
    content_sync.sync(tmp_path, NOW)
    path.write_text(GOOD.replace("Hello", "Good morning").replace("status: published", "status: archived"))
    report = content_sync.sync(tmp_path, NOW)
    asset = Asset.query.filter_by(slug="close-the-books").one()
    assert report.updated == ["close.md"]
    assert asset.body.startswith("Good morning") and asset.status == "archived"
    assert [r.number for r in asset.revisions] == [2, 1]
    assert [t.to_status for t in asset.transitions] == ["archived", "published"]


def test_one_bad_file_never_stops_the_others(app, tmp_path):
    _write(tmp_path, "a-good.md", GOOD)
    _write(tmp_path, "b-yaml.md", "---\ntitle: [unclosed\n---\nbody")
    _write(tmp_path, "c-field.md", GOOD.replace("close-the-books", "c").replace("{{ account.name }}", "{{ account.secret }}"))
    _write(tmp_path, "d-missing.md", "---\ntitle: x\n---\nbody")
    _write(tmp_path, "e-dupe.md", GOOD)
    _write(tmp_path, "f-latin1.md", GOOD.replace("close-the-books", "f").encode("utf-8") + "caf\xe9".encode("latin-1"))
    _write(tmp_path, "g-nofront.md", "just text")
    _write(tmp_path, "h-template.md", GOOD.replace("close-the-books", "h").replace("Hello", "{% for x in y %}"))
    _write(tmp_path, "i-key.md", GOOD.replace("close-the-books", "i").replace("gate: false", "gate: false\nowner: me"))
    _write(tmp_path, "j-status.md", GOOD.replace("close-the-books", "j").replace("status: published", "status: live"))
    report = content_sync.sync(tmp_path, NOW)
    reasons = dict(report.invalid)
    assert report.added == ["a-good.md"]
    assert "not valid YAML" in reasons["b-yaml.md"]
    assert "Unknown merge field" in reasons["c-field.md"]
    assert "missing key" in reasons["d-missing.md"]
    assert "already used by a-good.md" in reasons["e-dupe.md"]
    assert "not UTF-8" in reasons["f-latin1.md"]
    assert "no front matter" in reasons["g-nofront.md"]
    assert "template syntax" in reasons["h-template.md"]
    assert "unknown key" in reasons["i-key.md"]
    assert "status 'live'" in reasons["j-status.md"]
    assert Asset.query.count() == 1


def test_utf8_bom_is_accepted(app, tmp_path):
    _write(tmp_path, "bom.md", b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    assert content_sync.sync(tmp_path, NOW).added == ["bom.md"]


def test_dry_run_reports_without_saving(app, tmp_path):
    _write(tmp_path, "close.md", GOOD)
    report = content_sync.sync(tmp_path, NOW, dry_run=True)
    assert report.added == ["close.md"] and Asset.query.count() == 0


def test_cli_reports_each_outcome_and_fails_on_invalid_files(runner, tmp_path):
    _write(tmp_path, "good.md", GOOD)
    _write(tmp_path, "bad.md", "---\ntitle: x\n---\n")
    result = runner.invoke(args=["content", "sync", "--folder", str(tmp_path)])
    assert result.exit_code == 1
    assert "added      good.md" in result.output
    assert "invalid    bad.md: missing key(s)" in result.output
    assert "1 added, 0 updated, 0 unchanged, 1 invalid" in result.output
    again = runner.invoke(args=["content", "sync", "--folder", str(tmp_path)])
    assert "0 added, 0 updated, 1 unchanged, 1 invalid" in again.output
