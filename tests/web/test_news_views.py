"""The news feeds card on the account page: add, remove, read now; htmx and plain forms."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from abmcontent import news
from abmcontent.extensions import db
from abmcontent.models import AccountFeed, NewsItem
from tests.conftest import NOW, csrf_token_from, login, make_user
from tests.test_accounts import make_account
from tests.test_news import XML, FeedServer, rss

HX = {"HX-Request": "true"}


@pytest.fixture
def feed_server():
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def campaign(client):
    user = make_user("campaign")
    login(client, user)
    return user


def feed_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AccountFeed))


def test_the_account_page_offers_to_add_a_feed_with_a_hint_about_google_alerts(client, campaign):
    account = make_account(campaign)
    page = client.get(f"/accounts/{account.id}").text
    assert "News feeds" in page and "No feeds yet" in page
    assert 'id="feed-url"' in page and "Google Alerts" in page and "Deliver to: RSS feed" in page
    assert page.index("Activity timeline") < page.index('id="feeds"')


def test_adding_a_feed_without_javascript_redirects_back_to_the_card(client, campaign):
    account = make_account(campaign)
    response = client.post(f"/accounts/{account.id}/feeds", data={"url": "https://news.example/feed"})
    assert response.status_code == 303 and response.location.endswith(f"/accounts/{account.id}#feeds")
    page = client.get(f"/accounts/{account.id}").text
    assert "Feed added" in page and "https://news.example/feed" in page and "Not read yet" in page


def test_adding_a_feed_through_htmx_swaps_the_card(client, campaign):
    account = make_account(campaign)
    response = client.post(f"/accounts/{account.id}/feeds", headers=HX, data={"url": "https://news.example/feed"})
    assert response.status_code == 200 and "<html" not in response.text
    assert response.text.lstrip().startswith("<section") and 'id="feeds"' in response.text
    assert "Feed added" in response.text and "https://news.example/feed" in response.text
    assert "HX-Request" in response.headers["Vary"] and feed_count() == 1


def test_a_bad_address_is_shown_again_with_its_error(client, campaign):
    account = make_account(campaign)
    fragment = client.post(f"/accounts/{account.id}/feeds", headers=HX, data={"url": "ftp://news.example/x"})
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert 'aria-invalid="true"' in fragment.text and "http:// or https://" in fragment.text
    assert 'value="ftp://news.example/x"' in fragment.text
    page = client.post(f"/accounts/{account.id}/feeds", data={"url": "https://u:p@news.example/x"})
    assert page.status_code == 422 and "<html" in page.text and "user name and password" in page.text
    assert feed_count() == 0


def test_the_same_feed_twice_is_a_422(client, campaign):
    account = make_account(campaign)
    client.post(f"/accounts/{account.id}/feeds", data={"url": "https://news.example/feed"})
    again = client.post(f"/accounts/{account.id}/feeds", headers=HX, data={"url": "https://NEWS.example/feed"})
    assert again.status_code == 422 and "already watches" in again.text and feed_count() == 1


def test_removing_a_feed(client, campaign):
    account = make_account(campaign)
    feed = news.add_feed(account.id, "https://news.example/feed", campaign, NOW)
    other = make_account(name="Northwind Retail", domains=["northwind.example"])
    assert client.post(f"/accounts/{other.id}/feeds/{feed.id}/remove").status_code == 404
    fragment = client.post(f"/accounts/{account.id}/feeds/{feed.id}/remove", headers=HX)
    assert fragment.status_code == 200 and "Feed removed" in fragment.text and "No feeds yet" in fragment.text
    assert feed_count() == 0


def test_marketers_see_the_feeds_but_cannot_change_them(client):
    account = make_account()
    feed = news.add_feed(account.id, "https://news.example/feed", make_user("campaign"), NOW)
    login(client, make_user("marketer"))
    page = client.get(f"/accounts/{account.id}").text
    assert "https://news.example/feed" in page and 'id="feed-url"' not in page and "Read now" not in page
    assert client.post(f"/accounts/{account.id}/feeds", data={"url": "https://x.example/feed"}).status_code == 403
    assert client.post(f"/accounts/{account.id}/feeds/{feed.id}/remove").status_code == 403
    assert client.post(f"/accounts/{account.id}/feeds/{feed.id}/check").status_code == 403
    assert feed_count() == 1


def test_a_sales_rep_changes_the_feeds_of_their_own_accounts_only(client):
    rep = make_user("sales")
    own = make_account(owner_id=rep.id)
    other = make_account(name="Northwind Retail", domains=["northwind.example"])
    login(client, rep)
    assert 'id="feed-url"' in client.get(f"/accounts/{own.id}").text
    assert client.post(f"/accounts/{own.id}/feeds", data={"url": "https://a.example/feed"}).status_code == 303
    assert client.post(f"/accounts/{other.id}/feeds", data={"url": "https://a.example/feed"}).status_code == 403
    assert feed_count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(client):
    account = make_account()
    response = client.post(f"/accounts/{account.id}/feeds", data={"url": "https://a.example/feed"})
    assert response.status_code == 302 and "/login" in response.location and feed_count() == 0


@pytest.mark.csrf
def test_feed_forms_need_the_csrf_token(app, client):
    user = make_user("campaign")
    account = make_account(user)
    login(client, user)
    assert client.post(f"/accounts/{account.id}/feeds", data={"url": "https://a.example/feed"}).status_code == 400
    token = csrf_token_from(client.get(f"/accounts/{account.id}").text)
    response = client.post(f"/accounts/{account.id}/feeds", data={"url": "https://a.example/feed", "csrf_token": token})
    assert response.status_code == 303 and feed_count() == 1


def test_read_now_puts_the_news_on_the_timeline_escaped_and_linking_out(app, client, campaign, feed_server):
    app.config["NEWS_ALLOW_PRIVATE"] = True
    account = make_account(campaign)
    feed_server.routes["/feed"] = (200, XML, rss([
        {"guid": "1", "title": "&lt;script&gt;alert(1)&lt;/script&gt;Bank &amp;lt;picks&amp;gt; a platform",
         "link": "https://news.example/1"},
        {"guid": "2", "title": "Second", "link": "javascript:alert(2)"}]))
    feed = news.add_feed(account.id, feed_server.url("/feed"), campaign, NOW)
    fragment = client.post(f"/accounts/{account.id}/feeds/{feed.id}/check", headers=HX)
    assert fragment.status_code == 200 and "Read: 2 new items." in fragment.text
    assert "· 2 new" in fragment.text and "just now" in fragment.text
    page = client.get(f"/accounts/{account.id}").text
    assert "Bank &lt;picks&gt; a platform" in page and "<script>alert" not in page and "javascript:" not in page
    assert ('<a href="https://news.example/1" rel="noopener noreferrer nofollow" target="_blank">'
            "Bank &lt;picks&gt; a platform") in page
    assert "Harborview Bank newsroom" in page
    again = client.post(f"/accounts/{account.id}/feeds/{feed.id}/check")  # within a minute: refused, politely
    assert again.status_code == 303
    assert "less than a minute ago" in client.get(f"/accounts/{account.id}").text
    assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 2


def test_read_now_shows_why_a_feed_failed(client, campaign, feed_server):
    account = make_account(campaign)  # NEWS_ALLOW_PRIVATE is off: the loopback server is refused
    feed = news.add_feed(account.id, feed_server.url("/feed"), campaign, NOW)
    fragment = client.post(f"/accounts/{account.id}/feeds/{feed.id}/check", headers=HX)
    assert fragment.status_code == 200
    assert "Error: The address points inside a private network (127.0.0.1)" in fragment.text
    assert "Failed 1 time in a row" in fragment.text and feed_server.requests == []


def test_a_failing_feed_says_the_servers_answer_on_the_card(app, client, campaign, feed_server):
    app.config["NEWS_ALLOW_PRIVATE"] = True
    account = make_account(campaign)
    news.add_feed(account.id, feed_server.url("/missing"), campaign, NOW)
    news.read_due(NOW, timeout=2.0)
    page = client.get(f"/accounts/{account.id}").text
    assert "Error: The server answered 404 Not Found." in page
