import io

import pytest

from abmcontent.models import Asset, AssetFile
from tests.conftest import login, make_asset, make_contact, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def marketer(client):
    user = make_user("marketer")
    login(client, user)
    return user


def test_library_page_is_whole_and_its_htmx_request_is_the_fragment(client, marketer):
    make_asset(marketer, title="Teradata exit plan", stages=["decision"])
    page = client.get("/library?stage=decision")
    fragment = client.get("/library?stage=decision", headers=HX)
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text and "Teradata exit plan" in page.text
    assert "<html" not in fragment.text and "Teradata exit plan" in fragment.text
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]


def test_boosted_and_history_restore_requests_get_the_whole_page(client, marketer):
    boosted = client.get("/library", headers={**HX, "HX-Boosted": "true"})
    restore = client.get("/library", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in boosted.text and "<html" in restore.text


def test_filters_live_in_the_url_and_select_their_options(client, marketer):
    make_asset(marketer, title="Only for champions", personas=["champion"])
    make_asset(marketer, title="For buyers", personas=["economic_buyer"])
    page = client.get("/library?persona=champion&q=only")
    assert "Only for champions" in page.text and "For buyers" not in page.text
    assert '<option value="champion" selected>' in page.text
    assert 'value="only"' in page.text


def test_an_empty_library_says_what_to_do_next(client, marketer):
    assert "The library is empty" in client.get("/library").text
    make_asset(marketer)
    assert "No assets match these filters" in client.get("/library?q=zzzz").text


def test_coverage_matrix_marks_the_gaps(client, marketer):
    make_asset(marketer, status="published", stages=["decision"], personas=["procurement"])
    page = client.get("/library/coverage")
    assert page.status_code == 200
    assert "24 gaps" in page.text
    assert "stage=decision&amp;persona=procurement&amp;status=published" in page.text


def test_create_redirects_and_invalid_input_is_shown_inline_without_losing_text(client, marketer):
    bad = client.post("/library/new", data={"title": "My draft", "type": "article", "language": "en",
                                            "body": "Dear {{ account.ceo }}, my long text", "stages": ["awareness"]})
    assert bad.status_code == 422
    assert "Unknown merge field" in bad.text and "Tag at least one persona" in bad.text
    assert "my long text" in bad.text and 'aria-invalid="true"' in bad.text
    assert Asset.query.count() == 0
    good = client.post("/library/new", data={"title": "My draft", "type": "article", "language": "en",
                                             "body": "Dear {{ account.name }}", "stages": ["awareness"],
                                             "personas": ["champion"]})
    assert good.status_code == 303
    asset = Asset.query.one()
    assert good.headers["Location"].endswith(f"/library/{asset.id}")
    assert asset.slug == "my-draft" and asset.created_by_id == marketer.id


def test_edit_from_a_stale_form_keeps_the_authors_text(client, marketer):
    asset = make_asset(marketer)
    form = {"title": asset.title, "slug": asset.slug, "type": "article", "language": "en",
            "stages": ["awareness"], "personas": ["economic_buyer"], "base_revision": "1"}
    assert client.post(f"/library/{asset.id}/edit", data={**form, "body": "first"}).status_code == 303
    stale = client.post(f"/library/{asset.id}/edit", data={**form, "body": "second, keep me"})
    assert stale.status_code == 422
    assert "Someone else saved" in stale.text and "second, keep me" in stale.text


def test_preview_renders_merge_fields_for_the_sample_contact_and_strips_scripts(client, marketer):
    contact = make_contact()
    response = client.post("/library/preview", headers=HX, data={
        "title": "For {{ account.name }}", "body": "Hi {{ contact.first_name }} <script>alert(1)</script>",
        "sample": str(contact.id), "language": "en"})
    assert response.status_code == 200
    assert "For Harborview Bank" in response.text and "Hi Priya" in response.text
    assert "<script>alert" not in response.text
    broken = client.post("/library/preview", headers=HX, data={"body": "{{ account.secret }}"})
    assert "Unknown merge field" in broken.text


def test_tags_edit_in_place_through_htmx(client, marketer):
    asset = make_asset(marketer)
    added = client.post(f"/library/{asset.id}/tags", headers=HX,
                        data={"kind": "industry", "value": "health_care", "present": "1"})
    assert added.status_code == 200 and "<html" not in added.text and "Health care" in added.text
    refused = client.post(f"/library/{asset.id}/tags", headers=HX,
                          data={"kind": "persona", "value": "economic_buyer", "present": "0"})
    assert "Tag at least one persona" in refused.text
    assert asset.industries == ["health_care"] and asset.personas == ["economic_buyer"]


def test_workflow_buttons_move_the_asset(client, marketer):
    asset = make_asset(marketer)
    assert client.post(f"/library/{asset.id}/status", data={"to": "review"}).status_code == 303
    assert client.post(f"/library/{asset.id}/status", data={"to": "published"}).status_code == 303
    assert asset.status == "published"
    assert client.post(f"/library/{asset.id}/status", data={"to": "review"}).status_code == 409
    page = client.get(f"/library/{asset.id}")
    assert "Archive" in page.text and "by Marketer User" in page.text


def test_history_diff_and_restore(client, marketer):
    asset = make_asset(marketer, body="first line")
    form = {"title": asset.title, "slug": asset.slug, "type": "article", "language": "en",
            "stages": ["awareness"], "personas": ["economic_buyer"], "body": "second line"}
    client.post(f"/library/{asset.id}/edit", data=form)
    history = client.get(f"/library/{asset.id}/history")
    assert "#2" in history.text and "#1" in history.text
    diff = client.get(f"/library/{asset.id}/revisions/2")
    assert "<del>first line</del>" in diff.text and "<ins>second line</ins>" in diff.text
    assert client.post(f"/library/{asset.id}/revisions/1/restore").status_code == 303
    assert asset.body == "first line"


def test_missing_assets_and_revisions_are_404_in_words(client, marketer):
    response = client.get("/library/999")
    assert response.status_code == 404 and "That asset does not exist." in response.text
    assert client.get("/library/999", headers=HX).text == "That asset does not exist."


def test_attachments_are_stored_privately_and_only_downloaded(client, marketer, app):
    asset = make_asset(marketer)
    response = client.post(f"/library/{asset.id}/files", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"<svg onload=alert(1)>"), "../../logo.svg")})
    assert response.status_code == 303
    record = AssetFile.query.one()
    assert record.original_name == "logo.svg" and record.stored_name != "logo.svg"
    assert len(record.stored_name) == 32 and "/" not in record.stored_name
    download = client.get(f"/library/{asset.id}/files/{record.id}")
    assert download.status_code == 200 and download.data == b"<svg onload=alert(1)>"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert client.get(f"/static/../instance/uploads/{record.stored_name}").status_code == 404


def test_attachment_refusals_are_explained(client, marketer, app):
    asset = make_asset(marketer)
    for name, data, message in [("tool.exe", b"MZ", "cannot be attached"), ("empty.pdf", b"", "empty")]:
        response = client.post(f"/library/{asset.id}/files", content_type="multipart/form-data",
                               data={"file": (io.BytesIO(data), name)}, follow_redirects=True)
        assert message in response.text
    app.config["MAX_CONTENT_LENGTH"] = 1024
    too_big = client.post(f"/library/{asset.id}/files", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(b"x" * 4096), "big.pdf")})
    assert too_big.status_code == 413 and "too large" in too_big.text
    assert AssetFile.query.count() == 0
