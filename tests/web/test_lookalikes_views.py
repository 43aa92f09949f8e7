"""The lookalike accounts page: suggestions with reasons, bulk proposal for the target list."""
import pytest

from abmcontent.extensions import db
from abmcontent.models import TargetDecision
from tests.conftest import csrf_token_from, login, make_user
from tests.test_lookalikes import BANK, add_deal, make_company, won

HX = {"HX-Request": "true"}
PAGE = "/accounts/lookalikes"


@pytest.fixture
def customers(app):
    return [won("Acme Bank", industry="financials", employees=1800, revenue=700_000_000, country="US", region="MA",
                technologies=["Salesforce", "Snowflake"], customer_base="enterprise"),
            won("Beta Trust", industry="financials", employees=5000, country="US", region="NY",
                technologies=["Salesforce"])]


def signed_in(client, role: str):
    user = make_user(role)
    login(client, user)
    return user


def test_page_lists_suggestions_with_similarity_whom_they_resemble_and_why(client, customers):
    twin = make_company("Twin Savings", **BANK)
    signed_in(client, "campaign")
    page = client.get(PAGE)
    assert page.status_code == 200 and "<html" in page.text
    text = page.text
    assert "Twin Savings" in text and f'href="/accounts/{twin.id}"' in text
    assert '<meter min="0" max="100" value="' in text
    assert "Acme Bank" in text and "same industry (Financials) as 2 of 2 won accounts" in text
    assert "uses Salesforce, Snowflake like Acme Bank" in text
    assert f'name="ids" value="{twin.id}"' in text and "Propose for target list" in text
    assert "HX-Request" in page.headers["Vary"]


def test_filters_come_back_as_a_fragment_for_htmx(client, customers):
    make_company("Twin Savings", **BANK)
    make_company("Bavarian Bank", industry="financials", employees=3000, country="DE")
    signed_in(client, "marketer")
    fragment = client.get(PAGE + "?industry=financials&country=DE&min=0", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Bavarian Bank" in fragment.text and "Twin Savings" not in fragment.text
    strong = client.get(PAGE + "?min=90").text
    assert "Bavarian Bank" not in strong and "Twin Savings" in strong


@pytest.mark.parametrize("query", ["?min=abc", "?min=-5&industry=crypto", "?min=999", "?country=%3Cscript%3E"])
def test_odd_filter_values_are_ignored_not_an_error(client, customers, query):
    make_company("Twin Savings", **BANK)
    signed_in(client, "sales")
    response = client.get(PAGE + query)
    assert response.status_code == 200 and "<script>" not in response.text


def test_hostile_account_names_are_shown_as_text(client):
    hostile = dict(BANK, technologies=["<b>Salesforce</b>", "Snowflake"], customer_base="<i>enterprise</i>")
    won('<script>alert("won")</script>', **hostile)
    make_company('<img src=x onerror=alert("twin")>', **hostile)
    signed_in(client, "campaign")
    text = client.get(PAGE).text
    assert '<script>alert("won")' not in text and "&lt;script&gt;alert(" in text
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(" in text
    assert "<b>Salesforce</b>" not in text
    assert "uses &lt;b&gt;Salesforce&lt;/b&gt;, Snowflake like &lt;script&gt;" in text
    assert "<i>enterprise</i>" not in text and "&lt;i&gt;enterprise&lt;/i&gt;" in text


@pytest.mark.csrf
def test_proposing_ticked_accounts_needs_the_csrf_token_and_reports_the_count(client, customers):
    twin = make_company("Twin Savings", **BANK)
    cousin = make_company("Cousin Credit", industry="financials", employees=4000, country="US")
    signed_in(client, "campaign")
    refused = client.post(PAGE + "/propose", data={"ids": [twin.id]})
    assert refused.status_code == 400 and twin.target_status is None
    token = csrf_token_from(client.get(PAGE).text)
    response = client.post(PAGE + "/propose", data={"ids": [twin.id, cousin.id], "csrf_token": token,
                                                    "industry": "financials", "country": "", "min": "0"})
    assert response.status_code == 303 and response.headers["Location"] == PAGE + "?industry=financials"
    assert "2 accounts proposed for the target list." in client.get(response.headers["Location"]).text
    decision = db.session.query(TargetDecision).filter_by(account_id=twin.id).one()
    assert decision.status == "proposed" and decision.comment.startswith("Lookalike of Acme Bank")
    assert twin.target_status == cousin.target_status == "proposed"


def test_propose_through_htmx_swaps_the_table_without_the_proposed_account(client, customers):
    twin = make_company("Twin Savings", **BANK)
    make_company("Cousin Credit", industry="financials", employees=4000, country="US")
    signed_in(client, "admin")
    response = client.post(PAGE + "/propose", headers=HX, data={"ids": [twin.id]})
    assert response.status_code == 200 and "<html" not in response.text
    assert "1 account proposed for the target list." in response.text
    assert "Twin Savings" not in response.text and "Cousin Credit" in response.text


def test_propose_with_nothing_ticked_says_what_to_do(client, customers):
    make_company("Twin Savings", **BANK)
    signed_in(client, "campaign")
    response = client.post(PAGE + "/propose", data={})
    assert response.status_code == 303
    assert "Tick the accounts to propose first." in client.get(PAGE).text
    fragment = client.post(PAGE + "/propose", headers=HX, data={"ids": ["x"]})
    assert fragment.status_code == 422 and "Tick the accounts to propose first." in fragment.text


@pytest.mark.parametrize("role", ["marketer", "sales"])
def test_other_roles_read_the_suggestions_but_cannot_propose(client, customers, role):
    twin = make_company("Twin Savings", **BANK)
    signed_in(client, role)
    page = client.get(PAGE)
    assert page.status_code == 200 and "Twin Savings" in page.text
    assert 'name="ids"' not in page.text and "Propose for target list" not in page.text
    assert client.post(PAGE + "/propose", data={"ids": [twin.id]}).status_code == 403
    assert twin.target_status is None


def test_signed_out_visitors_are_sent_to_the_login_page(client, customers):
    assert client.get(PAGE).headers["Location"].startswith("/login")
    assert client.post(PAGE + "/propose", data={"ids": ["1"]}).headers["Location"].startswith("/login")


def test_without_won_deals_the_page_says_to_record_one_first(app, client):
    add_deal(make_company("Open Deal Bank", **BANK), stage="proposal")
    make_company("Twin Savings", **BANK)
    signed_in(client, "campaign")
    text = client.get(PAGE).text
    assert "No closed-won deals yet" in text and "Record a closed-won deal first" in text
    assert "Twin Savings" not in text
    has_deals_page = any(rule.rule == "/deals" for rule in app.url_map.iter_rules())
    assert ('href="/deals"' in text) == has_deals_page


def test_when_every_account_is_decided_the_page_says_none_are_left(client, customers):
    make_company("Agreed Bank", target_status="agreed", **BANK)
    signed_in(client, "campaign")
    text = client.get(PAGE).text
    assert "No accounts left to suggest" in text
    filtered = client.get(PAGE + "?industry=energy").text
    assert "No lookalikes match these filters" in filtered


def test_the_account_list_links_to_lookalikes(client):
    signed_in(client, "marketer")
    assert f'href="{PAGE}"' in client.get("/accounts").text
