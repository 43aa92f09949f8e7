from datetime import timedelta

import pytest

from abmcontent import library
from abmcontent.errors import InvalidTransition, PermissionDenied, ValidationError
from abmcontent.models import AssetTransition
from tests.conftest import NOW, make_asset, make_user


def _input(asset, **changes):
    data = library.AssetInput.of(asset)
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def test_create_keeps_a_first_revision_and_tags(app):
    marketer = make_user()
    asset = make_asset(marketer, stages=["awareness", "consideration"], personas=["champion"],
                       industries=["financials"])
    assert asset.status == "draft"
    assert asset.stages == ["awareness", "consideration"]
    assert asset.industries == ["financials"]
    assert [r.number for r in asset.revisions] == [1]
    assert asset.revisions[0].author_id == marketer.id


def test_every_save_keeps_a_revision_and_an_identical_save_keeps_none(app):
    marketer = make_user()
    asset = make_asset(marketer)
    library.update_asset(asset.id, _input(asset, body="New body"), marketer, NOW + timedelta(minutes=1))
    library.update_asset(asset.id, _input(asset, body="New body"), marketer, NOW + timedelta(minutes=2))
    assert [r.number for r in asset.revisions] == [2, 1]
    assert asset.updated_at == NOW + timedelta(minutes=1)


def test_save_refuses_to_overwrite_someone_elses_newer_save(app):
    marketer = make_user()
    asset = make_asset(marketer)
    library.update_asset(asset.id, _input(asset, body="Theirs"), marketer, NOW, base_revision=1)
    with pytest.raises(ValidationError, match="Someone else saved"):
        library.update_asset(asset.id, _input(asset, body="Mine"), marketer, NOW, base_revision=1)
    assert asset.body == "Theirs"


@pytest.mark.parametrize("changes, field", [
    ({"title": " "}, "title"),
    ({"slug": "Not A Slug!"}, "slug"),
    ({"type": "podcast"}, "type"),
    ({"language": "fr"}, "language"),
    ({"stages": []}, "stages"),
    ({"personas": ["ceo"]}, "personas"),
    ({"industries": ["crypto"]}, "industries"),
    ({"body": "Hi {{ account.revenue }}"}, "body"),
    ({"title": "For {{ config }}"}, "title"),
    ({"cta_url": "javascript:alert(1)", "cta_label": "Go"}, "cta_url"),
    ({"cta_url": "//evil.example", "cta_label": "Go"}, "cta_url"),
])
def test_invalid_input_is_refused_with_the_field_named(app, changes, field):
    marketer = make_user()
    asset = make_asset(marketer)
    before = asset.body
    with pytest.raises(ValidationError) as caught:
        library.update_asset(asset.id, _input(asset, **changes), marketer, NOW)
    assert field in caught.value.errors
    assert asset.body == before and len(asset.revisions) == 1


def test_slug_is_unique_and_made_from_the_title(app):
    marketer = make_user()
    first = make_asset(marketer, slug="", title="Café data: a guide!")
    assert first.slug == "cafe-data-a-guide"
    with pytest.raises(ValidationError) as caught:
        make_asset(marketer, slug="cafe-data-a-guide")
    assert "slug" in caught.value.errors


def test_korean_title_gets_a_usable_slug(app):
    asset = make_asset(make_user(), slug="", title="데이터 거버넌스 가이드", language="ko")
    assert library.SLUG_RE.match(asset.slug)


def test_workflow_records_who_moved_it_and_when(app):
    marketer = make_user()
    asset = make_asset(marketer)
    library.transition(asset.id, "review", marketer, NOW, comment="Ready")
    library.transition(asset.id, "published", marketer, NOW + timedelta(hours=1))
    assert asset.status == "published"
    assert asset.published_at == NOW + timedelta(hours=1)
    moves = [(t.from_status, t.to_status, t.user_id) for t in reversed(asset.transitions)]
    assert moves == [("draft", "review", marketer.id), ("review", "published", marketer.id)]
    assert app.extensions["sqlalchemy"].session.query(AssetTransition).count() == 2


def test_draft_cannot_be_published_without_review(app):
    marketer = make_user()
    asset = make_asset(marketer)
    with pytest.raises(InvalidTransition):
        library.transition(asset.id, "published", marketer, NOW)
    assert asset.status == "draft"


@pytest.mark.parametrize("role", ["sales", "campaign"])
def test_only_content_marketers_change_the_library(app, role):
    asset = make_asset(make_user())
    other = make_user(role)
    with pytest.raises(PermissionDenied):
        library.update_asset(asset.id, _input(asset, body="x"), other, NOW)
    with pytest.raises(PermissionDenied):
        library.transition(asset.id, "review", other, NOW)
    with pytest.raises(PermissionDenied):
        library.create_asset(_input(asset, slug="other"), other, NOW)


def test_removing_the_last_stage_is_refused(app):
    marketer = make_user()
    asset = make_asset(marketer)
    library.set_tag(asset.id, "persona", "champion", True, marketer, NOW)
    assert asset.personas == ["champion", "economic_buyer"]
    assert asset.revisions[0].note.startswith("Tagged")
    with pytest.raises(ValidationError):
        library.set_tag(asset.id, "stage", "awareness", False, marketer, NOW)
    assert asset.stages == ["awareness"]


def test_diff_shows_changed_lines_and_fields(app):
    marketer = make_user()
    asset = make_asset(marketer, body="one\ntwo\nthree")
    library.update_asset(asset.id, _input(asset, body="one\n2\nthree", title="New title"), marketer, NOW)
    diff = library.diff(asset.id, 2)
    kinds = [(row.kind, row.text) for row in diff.body]
    assert ("delete", "two") in kinds and ("insert", "2") in kinds and ("equal", "one") in kinds
    assert [c.field for c in diff.changes] == ["title"]
    assert diff.changes[0].new == "New title"


def test_restore_brings_back_an_old_revision_as_a_new_one(app):
    marketer = make_user()
    asset = make_asset(marketer, body="original")
    library.update_asset(asset.id, _input(asset, body="changed"), marketer, NOW)
    library.restore(asset.id, 1, marketer, NOW)
    assert asset.body == "original"
    assert [r.number for r in asset.revisions] == [3, 2, 1]
    assert "Restored revision 1" in asset.revisions[0].note
