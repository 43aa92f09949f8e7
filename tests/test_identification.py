import pytest

from abmcontent import identification
from abmcontent.errors import NotFound
from abmcontent.models import Contact, PersonalUrl
from tests.conftest import NOW, make_landing_page, make_user
from tests.test_accounts import make_account

SECRET = "test-secret"


def _identify(**overrides):
    args = dict(token=None, cookie=None, ip=None, email=None, utm_industry=None, do_not_track=False,
                secret_key=SECRET)
    args.update(overrides)
    return identification.identify(**args)


def test_tokens_are_long_random_and_stored_only_hashed(app):
    make_landing_page()
    account = make_account()
    link, token = identification.create_personal_url(account.id, None, None, NOW)
    other, token2 = identification.create_personal_url(account.id, None, None, NOW)
    assert len(token) >= 22 and token != token2            # ≥ 128 random bits, URL-safe
    assert token not in link.token_hash and link.token_hash == identification.hash_token(token)
    assert PersonalUrl.query.filter(PersonalUrl.token_hash == token).count() == 0


def test_a_token_identifies_its_account_and_contact_and_asks_for_a_cookie(app):
    make_landing_page()
    account = make_account()
    contact = Contact(account=account, first_name="Priya", email="p@harborview.example")
    app.extensions["sqlalchemy"].session.add(contact)
    link, token = identification.create_personal_url(account.id, None, None, NOW)
    found = _identify(token=token)
    assert (found.rule, found.account_id, found.set_cookie) == ("token", account.id, True)
    link2, token2 = identification.create_personal_url(account.id, contact.id, None, NOW)
    assert _identify(token=token2).contact_id == contact.id


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t + "x",
                                    lambda t: "", lambda t: "x" * 500, lambda t: "../../etc", lambda t: "\x00"])
def test_a_changed_or_unknown_token_is_exactly_like_no_token(app, mangle):
    make_landing_page()
    account = make_account()
    _link, token = identification.create_personal_url(account.id, None, None, NOW)
    found = _identify(token=mangle(token))
    assert (found.rule, found.account_id, found.contact_id) == ("anonymous", None, None)


def test_revoked_links_stop_working(app):
    make_landing_page()
    account = make_account()
    link, token = identification.create_personal_url(account.id, None, None, NOW)
    identification.revoke(link.id, account.id, None, NOW)
    assert _identify(token=token).rule == "anonymous"
    with pytest.raises(NotFound):
        identification.revoke(link.id, account.id + 1, None, NOW)


def test_do_not_track_keeps_it_company_level_without_a_cookie(app):
    make_landing_page()
    account = make_account()
    contact = Contact(account=account, first_name="Priya", email="p@harborview.example")
    app.extensions["sqlalchemy"].session.add(contact)
    _link, token = identification.create_personal_url(account.id, contact.id, None, NOW)
    found = _identify(token=token, do_not_track=True)
    assert (found.account_id, found.contact_id, found.set_cookie) == (account.id, None, False)


def test_the_signed_cookie_identifies_and_a_forged_one_does_not(app):
    account = make_account()
    good = identification.cookie_value(SECRET, account.id, None)
    assert _identify(cookie=good).account_id == account.id
    forged = identification.cookie_value("another-secret", account.id, None)
    assert _identify(cookie=forged).rule == "anonymous"
    assert _identify(cookie="garbage.value").rule == "anonymous"


def test_ip_ranges_most_specific_wins_v4_and_v6_on_either_database(any_db_app):
    campaign = make_user("campaign")
    broad = make_account(campaign, name="Broad", domains=["broad.example"], ip_ranges=["203.0.113.0/24", "2001:db8::/32"])
    narrow = make_account(campaign, name="Narrow", domains=["narrow.example"], ip_ranges=["203.0.113.128/25"])
    assert _identify(ip="203.0.113.5").account_id == broad.id
    assert _identify(ip="203.0.113.200").account_id == narrow.id
    assert _identify(ip="2001:db8:1::7").account_id == broad.id
    assert _identify(ip="::ffff:203.0.113.200").account_id == narrow.id
    assert _identify(ip="198.51.100.1").rule == "anonymous"
    assert _identify(ip="not-an-ip").rule == "anonymous"


def test_email_domain_then_utm_industry_then_generic(app):
    account = make_account()
    assert _identify(email="new.person@harborview.example").account_id == account.id
    assert _identify(email="x@gmail.example", utm_industry="Health-Care").industry == "health_care"
    assert _identify(utm_industry="<script>").rule == "anonymous"


def test_the_trace_says_which_rule_identified_the_visitor(app):
    make_account(ip_ranges=["198.51.100.0/24"])
    found = _identify(token="nope", ip="198.51.100.9")
    assert found.rule == "ip"
    assert found.trace[0].startswith("link token not recognised") and "198.51.100.0/24" in found.trace[1]


def test_a_token_brings_the_same_stamp_the_landing_page_would_read(app):
    from abmcontent import landing

    make_landing_page()
    account = make_account()
    contact = Contact(account=account, first_name="Priya", email="p@harborview.example")
    from abmcontent.extensions import db

    db.session.add(contact)
    db.session.commit()
    _link, token = identification.create_personal_url(account.id, contact.id, None, NOW)
    assert _identify(token=token).stamp == landing.visitor_stamp(account.id, contact.id)
    assert _identify(token=token, do_not_track=True).stamp == landing.visitor_stamp(account.id, None)
