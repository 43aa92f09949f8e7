"""Landing pages: building them, who sees what (personalized, control, anonymous) and why,
and the holdout report."""
from __future__ import annotations

import uuid

import pytest

from abmcontent import landing
from abmcontent.errors import InvalidTransition, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.identification import Identification
from abmcontent.models import Contact, EngagementEvent
from tests.conftest import NOW, make_asset, make_landing_page, make_user
from tests.test_accounts import make_account

SECRET = "test-secret"


def _visit(page, account=None, contact=None, variant="personalized", rule="token"):
    ident = Identification(rule, account.id if account else None, contact.id if contact else None)
    return landing.visit_for(page, ident, SECRET, variant=variant)


def _section(page, kind):
    return next(s for s in page.sections if s.kind == kind)


def _blocks(page, visit):
    return {b.kind: b for b in landing.compose(page, visit, NOW)}


# --- building ----------------------------------------------------------------------------------

def test_a_new_page_starts_as_a_draft_with_the_usual_sections(app):
    page = make_landing_page(status="draft")
    assert page.status == "draft"
    assert [s.kind for s in page.sections] == ["hero", "recommended", "case_study", "owner_card", "cta"]
    assert landing.published_page("welcome") is None


@pytest.mark.parametrize("field,value,message", [
    ("slug", "Has Spaces", "lower-case"), ("slug", "-x", "lower-case"), ("title", "", "name"),
    ("title", "two\nlines", "one line"), ("holdout_percent", "75", "0 to 50"), ("holdout_percent", "ten", "0 to 50"),
    ("language", "fr", "language"),
])
def test_page_settings_are_checked(app, field, value, message):
    data = landing.PageInput(title="Data platform", slug="data-platform", language="en", holdout_percent="10")
    setattr(data, field, value)
    with pytest.raises(ValidationError) as error:
        landing.create_page(data, make_user("marketer"), NOW)
    assert message in " ".join(error.value.errors[field])


def test_two_pages_cannot_share_an_address(app):
    make_landing_page(slug="same")
    with pytest.raises(ValidationError) as error:
        make_landing_page(slug="same")
    assert "already uses" in error.value.errors["slug"][0]


def test_only_marketers_and_campaign_managers_edit_pages(app):
    page = make_landing_page()
    with pytest.raises(PermissionDenied):
        landing.add_section(page.id, "gated_form", make_user("sales"), NOW)
    assert landing.add_section(page.id, "gated_form", make_user("campaign"), NOW).kind == "gated_form"


@pytest.mark.parametrize("headline,message", [
    ("Hello {{ account.revenue }}", "Unknown merge field"),
    ("{% for x in y %}", "template syntax"),
    ("{{ account.name.__class__ }}", "merge field"),
    ("", "cannot be empty"),
])
def test_hero_merge_fields_outside_the_allow_list_are_refused_on_save(app, headline, message):
    page = make_landing_page()
    hero = _section(page, "hero")
    with pytest.raises(ValidationError) as error:
        landing.update_section(page.id, hero.id, {"headline": headline, "text": ""}, make_user("marketer"), NOW)
    assert message in error.value.errors["headline"][0]
    assert hero.settings["headline"] != headline


@pytest.mark.parametrize("url,ok", [
    ("https://cobaltdata.example/demo", True), ("/p/other", True), ("http://x.example/a?b=c#d", True),
    ("javascript:alert(1)", False), ("data:text/html,hi", False), ("//evil.example", False),
    ("https://evil.example\r\nSet-Cookie: x", False), ("ftp://x.example", False), ("", False),
    ("/\\evil.example", False), ("https:///nohost", False),
])
def test_call_to_action_addresses_are_web_addresses_or_local_paths(url, ok):
    assert landing.safe_url(url) is ok


def test_a_call_to_action_per_stage_needs_both_label_and_address(app):
    page = make_landing_page()
    cta = _section(page, "cta")
    form = {"heading": "Next", "default_label": "Talk to us", "default_url": "https://c.example/contact",
            "label_decision": "Book a demo", "url_decision": ""}
    with pytest.raises(ValidationError) as error:
        landing.update_section(page.id, cta.id, form, make_user("marketer"), NOW)
    assert "url_decision" in error.value.errors
    form["url_decision"] = "https://c.example/demo"
    landing.update_section(page.id, cta.id, form, make_user("marketer"), NOW)
    assert cta.settings["stages"] == {"decision": {"label": "Book a demo", "url": "https://c.example/demo"}}


def test_a_gated_form_needs_a_published_asset(app):
    user = make_user("marketer")
    page = make_landing_page(user)
    section = landing.add_section(page.id, "gated_form", user, NOW)
    draft = make_asset(user, gated=True)
    form = {"heading": "Get it", "asset_id": str(draft.id), "button": "Send", "consent_text": "I agree."}
    with pytest.raises(ValidationError) as error:
        landing.update_section(page.id, section.id, form, user, NOW)
    assert "Publish" in error.value.errors["asset_id"][0]


def test_a_page_with_an_unfinished_section_cannot_be_published(app):
    user = make_user("marketer")
    page = make_landing_page(user, status="draft")
    landing.add_section(page.id, "gated_form", user, NOW)  # no asset chosen yet
    with pytest.raises(ValidationError) as error:
        landing.set_status(page.id, "published", user, NOW)
    assert "Gated-asset form" in error.value.errors["status"][0]
    assert page.status == "draft"


def test_status_changes_follow_the_transition_table(app):
    user = make_user("marketer")
    page = make_landing_page(user)
    landing.set_status(page.id, "archived", user, NOW)
    with pytest.raises(InvalidTransition):
        landing.set_status(page.id, "published", user, NOW)


def test_sections_move_up_and_down_and_can_be_removed(app):
    user = make_user("marketer")
    page = make_landing_page(user)
    cta = _section(page, "cta")
    landing.move_section(page.id, cta.id, "up", user, NOW)
    assert [s.kind for s in page.sections] == ["hero", "recommended", "case_study", "cta", "owner_card"]
    landing.move_section(page.id, page.sections[0].id, "up", user, NOW)  # already first: stays
    assert page.sections[0].kind == "hero"
    landing.delete_section(page.id, cta.id, user, NOW)
    assert [s.kind for s in page.sections] == ["hero", "recommended", "case_study", "owner_card"]
    assert [s.position for s in page.sections] == [0, 1, 2, 3]


# --- who sees what -----------------------------------------------------------------------------

def _published(user, **kw):
    asset = make_asset(user, status="published", **kw)
    return asset


def test_a_personalized_visitor_sees_their_company_their_owner_and_content_for_their_stage(app):
    user = make_user("marketer")
    owner = make_user("sales", email="sam@abmcontent.test", name="Sam Seller", phone="+1 617 555 0100")
    account = make_account(name="Harborview Bank", owner_id=owner.id, journey_stage="decision")
    contact = Contact(account=account, first_name="Priya", email="priya@harborview.example",
                      persona="technical_evaluator")
    db.session.add(contact)
    db.session.commit()
    right = _published(user, title="Security review pack", stages=["decision"], personas=["technical_evaluator"])
    _published(user, title="Why the cloud", stages=["awareness"], personas=["economic_buyer"])
    page = make_landing_page(user)
    blocks = _blocks(page, _visit(page, account, contact))
    assert blocks["hero"].data["headline"] == "Data infrastructure for Harborview Bank"
    assert blocks["owner_card"].data["name"] == "Sam Seller"
    assert blocks["recommended"].data["picks"][0].asset_id == right.id
    assert "stage Decision" in blocks["recommended"].why[0] and "persona Technical evaluator" in blocks["recommended"].why[0]
    assert blocks["cta"].data["stage"] == "default" and "no button for stage Decision" in blocks["cta"].why[0]


def test_the_control_group_and_anonymous_visitors_get_the_generic_page(app):
    user = make_user("marketer")
    owner = make_user("sales", email="sam@abmcontent.test", name="Sam Seller")
    account = make_account(owner_id=owner.id)
    page = make_landing_page(user)
    for visit in (_visit(page, account, variant="control"),
                  landing.visit_for(page, Identification("anonymous"), SECRET)):
        blocks = _blocks(page, visit)
        assert blocks["hero"].data["headline"] == "Data infrastructure for growing teams"
        assert not blocks["owner_card"].shown and "no account owner" in blocks["owner_card"].why[0]
    assert _visit(page, account, variant="control").account.id == account.id  # still attributed


def test_an_owner_card_falls_back_to_the_sections_contact(app):
    user = make_user("marketer")
    page = make_landing_page(user)
    card = _section(page, "owner_card")
    landing.update_section(page.id, card.id, {"heading": "Talk to us", "fallback_name": "Cobalt sales",
                                              "fallback_email": "Sales@Cobalt.example"}, user, NOW)
    blocks = _blocks(page, landing.visit_for(page, Identification("anonymous"), SECRET))
    assert blocks["owner_card"].data["email"] == "sales@cobalt.example"


def test_the_case_study_comes_from_the_accounts_industry(app):
    user = make_user("marketer")
    bank = _published(user, title="A bank's story", type="case_study", industries=["financials"])
    _published(user, title="A hospital's story", type="case_study", industries=["health_care"])
    _published(user, title="Not a case study", type="article", industries=["financials"])
    page = make_landing_page(user)
    blocks = _blocks(page, _visit(page, make_account(industry="financials")))
    assert blocks["case_study"].data["pick"].asset_id == bank.id
    assert "same industry" in blocks["case_study"].why[0]


def test_an_anonymous_visitor_with_a_utm_industry_gets_that_industrys_case_study(app):
    user = make_user("marketer")
    _published(user, title="A bank's story", type="case_study", industries=["financials"])
    hospital = _published(user, title="A hospital's story", type="case_study", industries=["health_care"])
    page = make_landing_page(user)
    visit = landing.visit_for(page, Identification("utm", industry="health_care"), SECRET)
    assert _blocks(page, visit)["case_study"].data["pick"].asset_id == hospital.id


def test_the_call_to_action_follows_the_accounts_stage(app):
    user = make_user("marketer")
    page = make_landing_page(user)
    cta = _section(page, "cta")
    landing.update_section(page.id, cta.id, {
        "heading": "Next", "default_label": "Talk to us", "default_url": "https://c.example/contact",
        "label_decision": "Book a demo", "url_decision": "https://c.example/demo"}, user, NOW)
    blocks = _blocks(page, _visit(page, make_account(journey_stage="decision")))
    assert (blocks["cta"].data["label"], blocks["cta"].data["stage"]) == ("Book a demo", "decision")
    assert landing.cta_choice(cta.settings, "decision")[1] == "https://c.example/demo"
    assert landing.cta_choice(cta.settings, "awareness")[1] == "https://c.example/contact"


def test_assets_the_contact_already_read_are_not_recommended_again(app):
    user = make_user("marketer")
    account = make_account(journey_stage="awareness")
    contact = Contact(account=account, first_name="Priya", email="p@harborview.example", persona="economic_buyer")
    db.session.add(contact)
    read = _published(user, title="Read already")
    fresh = _published(user, title="Not yet read", type="whitepaper")
    db.session.add(EngagementEvent(key=uuid.uuid4().hex, type="asset_open", occurred_at=NOW, account_id=account.id,
                                   contact_id=contact.id, asset_id=read.id))
    db.session.commit()
    page = make_landing_page(user)
    block = _blocks(page, _visit(page, account, contact))["recommended"]
    assert [p.asset_id for p in block.data["picks"]] == [fresh.id]
    assert "left out 1 assets already read" in block.why


def test_merge_values_in_author_text_are_escaped_not_evaluated(app):
    user = make_user("marketer")
    page = make_landing_page(user)
    hero = _section(page, "hero")
    landing.update_section(page.id, hero.id, {"headline": "For {{ account.name }}",
                                              "text": "Hi **{{ account.name }}** <script>x()</script>"}, user, NOW)
    account = make_account(name="<img src=x onerror=alert(1)> Corp")
    from abmcontent import markup

    block = _blocks(page, _visit(page, account))["hero"]
    html = str(markup.render(block.data["text"], block.data["values"]))
    assert "<img" not in html and "&lt;img" in html and "<script>" not in html


# --- holdout -----------------------------------------------------------------------------------

def test_the_holdout_is_sticky_per_person_and_close_to_its_share(app):
    page = make_landing_page(holdout_percent=10)
    buckets = [landing.bucket(SECRET, page.id, account_id, None) for account_id in range(1, 5001)]
    assert buckets == [landing.bucket(SECRET, page.id, account_id, None) for account_id in range(1, 5001)]
    control = sum(b < 10 for b in buckets) / len(buckets)
    assert 0.08 < control < 0.12
    assert landing.bucket("another-secret", page.id, 1, None) != landing.bucket(SECRET, page.id, 1, None) or \
        landing.bucket("another-secret", page.id, 2, None) != landing.bucket(SECRET, page.id, 2, None)


def test_assignment_uses_the_pages_share_and_says_so_in_the_trace(app):
    page = make_landing_page(holdout_percent=0)
    account = make_account()
    visit = landing.visit_for(page, Identification("token", account.id, None), SECRET)
    assert visit.variant == "personalized" and "control group" in str(visit.trace[-1])
    page.holdout_percent = 50
    from abmcontent.models import Account

    others = [Account(name=f"Company {n}") for n in range(40)]
    db.session.add_all(others)
    db.session.commit()
    variants = {landing.visit_for(page, Identification("token", other.id, None), SECRET).variant
                for other in others}
    assert variants == {"personalized", "control"}


def _event(type_, page, variant, account, contact=None, visit=""):
    db.session.add(EngagementEvent(key=uuid.uuid4().hex, type=type_, occurred_at=NOW, landing_page_id=page.id,
                                   variant=variant, account_id=account, contact_id=contact, visit=visit))


def test_the_report_counts_visitors_and_conversions_per_group(app):
    page = make_landing_page()
    # 40 personalized visitors, 20 of whom convert (one twice); 40 control visitors, 4 convert
    for n in range(40):
        _event("page_view", page, "personalized", 1000 + n, visit=f"p{n}")
        _event("page_view", page, "personalized", 1000 + n, visit=f"p{n}-again")  # a second visit
        if n < 20:
            _event("cta_click", page, "personalized", 1000 + n, visit=f"p{n}")
        if n == 0:
            _event("form_fill", page, "personalized", 1000 + n, visit=f"p{n}")
        _event("page_view", page, "control", 2000 + n, visit=f"c{n}")
        if n < 4:
            _event("form_fill", page, "control", 2000 + n, visit=f"c{n}")
    _event("page_view", page, "", None, visit="anon")
    db.session.commit()
    report, anonymous = landing.conversion(page.id)
    assert (report.personalized_visitors, report.personalized_conversions) == (40, 20)
    assert (report.control_visitors, report.control_conversions) == (40, 4)
    assert anonymous == 1
    assert report.verdict == "personalized_better" and report.p_value < 0.001


def test_a_page_without_visitors_reports_not_enough_data(app):
    report, anonymous = landing.conversion(make_landing_page().id)
    assert report.verdict == "not_enough_data" and report.p_value is None and anonymous == 0


def test_recommendations_never_repeat_the_case_study(app):
    user = make_user("marketer")
    first = _published(user, title="A bank's story", type="case_study", industries=["financials"])
    second = _published(user, title="Another bank's story", type="case_study", industries=["financials"])
    page = make_landing_page(user)
    blocks = _blocks(page, _visit(page, make_account(industry="financials")))
    shown = [p.asset_id for p in blocks["recommended"].data["picks"]]
    assert first.id in shown or second.id in shown
    assert blocks["case_study"].data["pick"].asset_id not in shown
