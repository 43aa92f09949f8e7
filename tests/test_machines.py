"""Opens and clicks no person made: image proxies, Apple's privacy prefetch, link scanners."""
from __future__ import annotations

from datetime import timedelta

import pytest

from abmcontent import machines
from tests.conftest import NOW

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
AN_HOUR_AGO = NOW - timedelta(hours=1)


@pytest.mark.parametrize("agent,sent_at,reason", [
    ("Mozilla/5.0", AN_HOUR_AGO, "apple_privacy_proxy"),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", AN_HOUR_AGO,
     "image_proxy"),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", AN_HOUR_AGO, "image_proxy"),
    ("", AN_HOUR_AGO, "no_user_agent"),
    (IPHONE, NOW - timedelta(seconds=1), "fetched_at_delivery"),
    (IPHONE, AN_HOUR_AGO, ""),
    (CHROME, None, ""),
])
def test_machine_opens_are_told_from_people(agent, sent_at, reason):
    assert machines.open_reason(agent, sent_at, NOW) == reason


@pytest.mark.parametrize("agent,method,sent_at,reason", [
    (CHROME, "HEAD", AN_HOUR_AGO, "head_request"),
    ("python-requests/2.32.3", "GET", AN_HOUR_AGO, "scanner_agent"),
    ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "GET", AN_HOUR_AGO, "scanner_agent"),
    (CHROME, "GET", NOW - timedelta(seconds=4), "clicked_at_delivery"),
    ("", "GET", AN_HOUR_AGO, "no_user_agent"),
    (CHROME, "GET", NOW - timedelta(seconds=40), ""),
    (IPHONE, "GET", AN_HOUR_AGO, ""),
])
def test_link_scanners_are_told_from_people(agent, method, sent_at, reason):
    assert machines.click_reason(agent, method, sent_at, NOW) == reason
