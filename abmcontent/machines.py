"""Opens and clicks that no person made (issue 6: "flagged and not counted").

- Apple Mail Privacy Protection fetches every image of a message through Apple's proxies, at
  delivery, with the bare agent "Mozilla/5.0"; Gmail, Yahoo and others fetch through image
  proxies that name themselves in the agent.
- Security gateways (Proofpoint, Mimecast, Barracuda, Microsoft Safe Links…) open every link of
  an incoming message within seconds of delivery, often with HEAD, often with a library's agent.

An event is kept either way (what happened is a fact); a machine one carries the reason in
the event's ``machine`` column and scores and KPIs leave it out. Plain functions of the request's facts and
the delivery time, so they are tested with explicit values.
"""
from __future__ import annotations

from datetime import datetime

PROXY_AGENTS = ("googleimageproxy", "yahoomailproxy", "ymailproxy", "outlook-imageproxy", "skypeuripreview",
                "msoffice", "proofpoint", "mimecast")
SCANNER_AGENTS = ("barracuda", "mimecast", "proofpoint", "safelinks", "symantec", "trendmicro", "forcepoint",
                  "fortiguard", "zscaler", "paloalto", "cisco", "sophos", "checkpoint", "python-requests",
                  "python-urllib", "aiohttp", "httpx", "curl/", "wget", "go-http-client", "java/", "okhttp",
                  "libwww", "headlesschrome", "phantomjs", "bot", "crawler", "spider", "scanner", "preview")
APPLE_PROXY_AGENT = "mozilla/5.0"  # exactly this, nothing after: Apple's Mail Privacy Protection
PREFETCH_SECONDS = 2     # an "open" this soon after delivery is the receiving system fetching it
SCANNER_SECONDS = 10     # a click this soon after delivery is a gateway checking the link


def _seconds_after(sent_at: datetime | None, now: datetime) -> float | None:
    return (now - sent_at).total_seconds() if sent_at is not None else None


def open_reason(user_agent: str, sent_at: datetime | None, now: datetime) -> str:
    """Why this open was a machine's ("" if a person's, as far as we can tell)."""
    agent = (user_agent or "").strip().lower()
    if agent == APPLE_PROXY_AGENT:
        return "apple_privacy_proxy"
    if any(name in agent for name in PROXY_AGENTS):
        return "image_proxy"
    if not agent:
        return "no_user_agent"
    after = _seconds_after(sent_at, now)
    if after is not None and after < PREFETCH_SECONDS:
        return "fetched_at_delivery"
    return ""


def click_reason(user_agent: str, method: str, sent_at: datetime | None, now: datetime) -> str:
    """Why this click was a machine's ("" if a person's, as far as we can tell)."""
    agent = (user_agent or "").strip().lower()
    if method.upper() == "HEAD":
        return "head_request"
    if not agent:
        return "no_user_agent"
    if any(name in agent for name in SCANNER_AGENTS):
        return "scanner_agent"
    after = _seconds_after(sent_at, now)
    if after is not None and after < SCANNER_SECONDS:
        return "clicked_at_delivery"
    return ""
