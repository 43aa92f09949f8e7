"""/api/v1/assets: the library's filters, drafts, edits with a revision check, the workflow, revisions."""
from abmcontent.extensions import db
from abmcontent.models import Asset, AssetRevision
from tests.api.helpers import assert_problem, caller
from tests.conftest import make_asset, make_user

DRAFT = {"title": "Cloud migration guide", "body": "Hello {{ account.name }}", "stages": ["awareness"],
         "personas": ["champion"], "industries": ["financials"]}


def test_list_uses_the_library_filters_without_bodies(client):
    marketer = make_user("marketer")
    make_asset(marketer, title="Only for champions", personas=["champion"], status="published")
    make_asset(marketer, title="For buyers", personas=["economic_buyer"], status="published")
    make_asset(marketer, title="Old champion piece", personas=["champion"], status="archived")
    api = caller(client, "sales", scope="read")
    body = api.get("/api/v1/assets?persona=champion").get_json()
    assert [a["title"] for a in body["items"]] == ["Only for champions"] and body["total"] == 1
    assert "body" not in body["items"][0] and body["items"][0]["personas"] == ["champion"]
    assert api.get("/api/v1/assets?persona=champion&status=any").get_json()["total"] == 2
    assert [a["title"] for a in api.get("/api/v1/assets?q=buyers").get_json()["items"]] == ["For buyers"]
    paged = api.get("/api/v1/assets?per_page=1&page=2&sort=title").get_json()
    assert [a["title"] for a in paged["items"]] == ["Only for champions"] and paged["pages"] == 2


def test_bad_filters_are_422_naming_the_parameter(client):
    api = caller(client, "sales", scope="read")
    assert_problem(api.get("/api/v1/assets?status=deleted"), 422, "status")
    assert_problem(api.get("/api/v1/assets?sort=body"), 422, "sort")
    assert_problem(api.get("/api/v1/assets?q=%00"), 422, "q")


def test_a_marketer_creates_a_draft_and_reads_it_back_whole(client):
    api = caller(client, "marketer")
    response = api.post("/api/v1/assets", json=DRAFT)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert (created["status"], created["slug"], created["revision"]) == ("draft", "cloud-migration-guide", 1)
    assert created["allowed_transitions"] == ["review"] and created["industries"] == ["financials"]
    body = caller(client, "sales", scope="read").get(f"/api/v1/assets/{created['id']}").get_json()
    assert body["body"] == "Hello {{ account.name }}" and body["allowed_transitions"] == []


def test_merge_field_and_tag_errors_are_422_naming_the_field(client):
    api = caller(client, "marketer")
    body = assert_problem(api.post("/api/v1/assets", json={**DRAFT, "body": "Dear {{ account.ceo }}",
                                                           "personas": ["boss"]}), 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert "account.ceo" in fields["body"] and "boss" in fields["personas"]
    assert_problem(api.post("/api/v1/assets", json={**DRAFT, "title": "{% if x %}"}), 422, "title")
    assert_problem(api.post("/api/v1/assets", json={**DRAFT, "type": "podcast"}), 422, "type")
    assert_problem(api.post("/api/v1/assets", json={**DRAFT, "summary": "a\x00b"}), 422, "summary")
    assert_problem(api.post("/api/v1/assets", json={**DRAFT, "cta_url": "javascript:alert(1)", "cta_label": "Go"}),
                   422, "cta_url")
    assert db.session.query(Asset).count() == 0


def test_sales_and_campaign_managers_cannot_write_the_library(client):
    asset = make_asset(make_user("marketer"))
    for role in ("sales", "campaign"):
        api = caller(client, role)
        assert_problem(api.post("/api/v1/assets", json=DRAFT), 403)
        assert_problem(api.patch(f"/api/v1/assets/{asset.id}", json={"title": "Mine"}), 403)
        assert_problem(api.post(f"/api/v1/assets/{asset.id}/transitions", json={"to": "review"}), 403)
    assert db.session.get(Asset, asset.id).status == "draft"


def test_a_read_token_cannot_write_even_for_a_marketer(client):
    asset = make_asset(make_user("marketer"))
    api = caller(client, "marketer", scope="read")
    assert_problem(api.post("/api/v1/assets", json=DRAFT), 403)
    assert_problem(api.patch(f"/api/v1/assets/{asset.id}", json={"title": "Mine"}), 403)


def test_patch_keeps_what_is_not_sent_and_saves_a_revision(client):
    asset = make_asset(make_user("marketer"), title="Old title", summary="Keep me")
    api = caller(client, "marketer")
    response = api.patch(f"/api/v1/assets/{asset.id}", json={"title": "New title", "note": "Sharper title",
                                                              "base_revision": 1})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["title"], body["summary"], body["revision"]) == ("New title", "Keep me", 2)
    unchanged = api.patch(f"/api/v1/assets/{asset.id}", json={"title": "New title"}).get_json()
    assert unchanged["revision"] == 2  # nothing changed, nothing saved


def test_an_edit_from_a_stale_revision_is_409_and_changes_nothing(client):
    asset = make_asset(make_user("marketer"), title="First")
    api = caller(client, "marketer")
    assert api.patch(f"/api/v1/assets/{asset.id}", json={"title": "Second", "base_revision": 1}).status_code == 200
    body = assert_problem(api.patch(f"/api/v1/assets/{asset.id}", json={"title": "Third", "base_revision": 1}), 409)
    assert "revision 1" in body["detail"]
    assert db.session.get(Asset, asset.id).title == "Second"


def test_the_workflow_moves_a_draft_to_published_and_refuses_impossible_moves(client):
    asset = make_asset(make_user("marketer"))
    api = caller(client, "marketer")
    review = api.post(f"/api/v1/assets/{asset.id}/transitions", json={"to": "review", "comment": "Ready"})
    assert review.status_code == 200 and review.get_json()["status"] == "review"
    assert set(review.get_json()["allowed_transitions"]) == {"draft", "published"}
    assert_problem(api.post(f"/api/v1/assets/{asset.id}/transitions", json={"to": "archived"}), 409)
    published = api.post(f"/api/v1/assets/{asset.id}/transitions", json={"to": "published"}).get_json()
    assert published["status"] == "published" and published["published_at"]
    history = api.get(f"/api/v1/assets/{asset.id}/transitions").get_json()
    assert [(t["from_status"], t["to_status"]) for t in history] == [("review", "published"), ("draft", "review")]
    assert history[1]["comment"] == "Ready" and history[0]["user_id"] == api.user.id
    assert_problem(api.post(f"/api/v1/assets/{asset.id}/transitions", json={"to": "gone"}), 422, "to")


def test_publishing_an_asset_with_invalid_content_is_422(client):
    asset = make_asset(make_user("marketer"), status="review")
    db.session.get(Asset, asset.id).body = "{{ account.secret }}"  # as an old import might have left it
    db.session.commit()
    assert_problem(caller(client, "marketer").post(f"/api/v1/assets/{asset.id}/transitions",
                                                   json={"to": "published"}), 422, "body")


def test_revisions_are_listed_newest_first_and_an_old_one_restored(client):
    asset = make_asset(make_user("marketer"), title="One")
    api = caller(client, "marketer")
    api.patch(f"/api/v1/assets/{asset.id}", json={"title": "Two", "note": "Renamed"})
    listed = api.get(f"/api/v1/assets/{asset.id}/revisions").get_json()
    assert [(r["number"], r["note"]) for r in listed["items"]] == [(2, "Renamed"), (1, "Created")]
    first = api.get(f"/api/v1/assets/{asset.id}/revisions/1").get_json()
    assert first["snapshot"]["title"] == "One"
    restored = api.post(f"/api/v1/assets/{asset.id}/revisions/1/restore").get_json()
    assert (restored["title"], restored["revision"]) == ("One", 3)
    assert_problem(caller(client, "sales").post(f"/api/v1/assets/{asset.id}/revisions/1/restore"), 403)
    assert db.session.query(AssetRevision).filter_by(asset_id=asset.id).count() == 3


def test_unknown_assets_and_revisions_are_404(client):
    asset = make_asset(make_user("marketer"))
    api = caller(client, "marketer")
    assert_problem(api.get("/api/v1/assets/424242"), 404)
    assert_problem(api.get("/api/v1/assets/424242/revisions"), 404)
    assert_problem(api.get(f"/api/v1/assets/{asset.id}/revisions/9"), 404)
    assert_problem(api.patch("/api/v1/assets/424242", json={"title": "X"}), 404)
    assert_problem(api.post("/api/v1/assets/424242/transitions", json={"to": "review"}), 404)
    assert_problem(api.get("/api/v1/assets/99999999999"), 404)


def test_coverage_counts_published_assets_per_stage_and_persona(client):
    make_asset(make_user("marketer"), status="published", stages=["decision"], personas=["procurement"])
    body = caller(client, "sales", scope="read").get("/api/v1/assets/coverage").get_json()
    cell = next(c for c in body["cells"] if (c["stage"], c["persona"]) == ("decision", "procurement"))
    assert cell["count"] == 1 and body["gaps"] == len(body["cells"]) - 1
    assert_problem(caller(client, "sales", scope="read").get("/api/v1/assets/coverage?language=fr"), 422, "language")
