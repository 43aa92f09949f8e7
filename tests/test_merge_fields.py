import html

import pytest

from abmcontent import merge_fields


def test_known_fields_and_fallbacks_are_valid():
    text = 'Hi {{ contact.first_name | "there" }} at {{account.name}}, from {{ owner.name }}'
    assert merge_fields.validate(text) == []


@pytest.mark.parametrize("text, fragment", [
    ("{{ account.revenue }}", "Unknown merge field"),
    ("{{ config }}", "is not a merge field"),
    ("{{ 7*7 }}", "is not a merge field"),
    ("{{ account.__class__.__mro__ }}", "is not a merge field"),
    ("{{ account.name.upper() }}", "is not a merge field"),
    ("{{ ''.__class__ }}", "is not a merge field"),
    ("{% for x in range(3) %}x{% endfor %}", "template syntax"),
    ("{# hidden #}", "template syntax"),
    ("${7*7}", "template syntax"),
    ("Hello {{ account.name", "never closed"),
    ("Hello account.name }}", "never opened"),
    ('{{ contact.first_name | upper }}', "is not a merge field"),
])
def test_anything_but_an_allowed_field_is_a_clear_error(text, fragment):
    errors = merge_fields.validate(text)
    assert errors, text
    assert any(fragment in str(e) for e in errors), [str(e) for e in errors]


def test_errors_name_the_line():
    errors = merge_fields.validate("line one\nline two {{ account.secret }}")
    assert errors[0].line == 2
    assert "Line 2" in str(errors[0])


def test_render_substitutes_values_and_fallbacks():
    text = 'Hi {{ contact.first_name | "there" }}, {{ account.name }}{{ account.city }}.'
    assert merge_fields.render(text, {"account.name": "Acme"}) == "Hi there, Acme."
    assert merge_fields.render(text, {"contact.first_name": "Priya", "account.name": "Acme"}) \
        == "Hi Priya, Acme."


def test_render_never_evaluates_anything():
    payload = "{{ 7*7 }} {{ config.items() }} {% print 1 %}"
    assert merge_fields.render(payload, {}) == payload


def test_render_escapes_values_with_the_given_escape():
    out = merge_fields.render("{{ account.name }}", {"account.name": "<script>x</script>"},
                              escape=html.escape)
    assert out == "&lt;script&gt;x&lt;/script&gt;"


def test_values_for_reads_account_contact_and_owner(app):
    from tests.conftest import make_contact, make_user

    contact = make_contact()
    owner = make_user("sales", name="Sam Seller", phone="+1 555 0100")
    contact.account.owner = owner
    values = merge_fields.values_for(contact.account, contact)
    assert values["account.name"] == "Harborview Bank"
    assert values["account.industry"] == "Financials"
    assert values["contact.first_name"] == "Priya"
    assert values["owner.name"] == "Sam Seller"
    assert values["owner.phone"] == "+1 555 0100"
