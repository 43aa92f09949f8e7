"""Outgoing webhooks (issue 7): an account became an MQA, a form was filled, a touchpoint failed —
told to the endpoints an administrator registered, signed, retried, and every attempt logged.

**Outbox.** `emit()` only adds a WebhookDelivery row per subscribed, active endpoint to the
transaction that made the change (the session, or the connection of a Core transaction such as
touchpoints.finish and milestones.reach), so an event is never told without its change nor lost
with it. The recurring job `deliver_webhooks` (every 10 s) posts what is due; nothing is posted
inside a web request except the "send a test event" and "redeliver" buttons.

**What a receiver gets** (Standard Webhooks, https://www.standardwebhooks.com):
POST, Content-Type: application/json, body {"type": "form.filled", "timestamp": "…Z", "data": {…}},
and the headers
    webhook-id: msg_…            the same on every retry of one delivery: de-duplicate on it
    webhook-timestamp: 1730539800  seconds since the epoch, when this attempt was signed
    webhook-signature: v1,<base64 HMAC-SHA256>
**How a receiver verifies** (`verify()` below does exactly this):
  1. key = base64-decode(the secret without its "whsec_" prefix);
  2. signed = webhook-id + "." + webhook-timestamp + "." + the raw body bytes, as received;
  3. expected = "v1," + base64(HMAC-SHA256(key, signed));
  4. accept if any space-separated entry of webhook-signature equals expected (compare in
     constant time) and webhook-timestamp is within 5 minutes of the receiver's clock (replays).
The official standardwebhooks libraries (Python, JS, Go, …) verify these headers as they are.

**Delivery.** A due delivery is claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, the
atomic conditional UPDATE on SQLite, like touchpoints.claim_due), one at a time so the lease
counts from its own post, and its outcome is written only while the lease is still ours: two
scheduler processes never post one delivery at once, and one that died gives it back when its
lease runs out. The post is ours (http.client through abmcontent.safe_http): the address is
resolved, every address checked against private networks (DNS rebinding: we connect to the
address we checked), redirects are not followed, a time limit, and at most RESPONSE_READ bytes
of the answer read (RESPONSE_KEPT characters kept). 2xx = delivered; 410 Gone = the endpoint is
disabled; anything else is retried after RETRY_SCHEDULE (+ up to 20 % jitter), then failed.
DISABLE_AFTER failed deliveries in a row disable the endpoint with the reason shown to admins.
One failure from an endpoint in a pass holds its other deliveries until the next pass, so an
endpoint that times out costs one time limit per pass, not one per waiting delivery.

Settings (app config): WEBHOOKS_ALLOW_HTTP (plain http:// endpoints; off), WEBHOOKS_ALLOW_PRIVATE
(private/loopback addresses, for tests; off), WEBHOOKS_TIMEOUT (seconds, 10),
WEBHOOKS_DISABLE_AFTER (5).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import random
import re
import secrets
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import selectinload

from abmcontent import safe_http
from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import (WEBHOOK_EVENTS, Account, Contact, Enrollment, Plan, PlanStep, Touchpoint, User,
                               WebhookAttempt, WebhookDelivery, WebhookEndpoint)
from abmcontent.paging import Page, clamp

log = logging.getLogger(__name__)

TEST_EVENT = "webhook.test"
SECRET_PREFIX = "whsec_"
USER_AGENT = "abmcontent-webhooks/1.0"
MAX_URL = 2000
MAX_DESCRIPTION = 200
MAX_ENDPOINTS = 50
TIMEOUT = 10.0                   # seconds to connect, and for each read of the answer
MANUAL_TIMEOUT = 5.0             # a person is waiting on the button
RESPONSE_READ = 4096             # bytes of an answer we read at most
RESPONSE_KEPT = 1000             # characters of it we keep
LEASE = timedelta(minutes=2)     # longer than one post can take (TIMEOUT × 3)
PASS_BUDGET = timedelta(minutes=1)  # a pass stops claiming after this; the next pass goes on
RETRY_SCHEDULE = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1),
                  timedelta(hours=6), timedelta(hours=12), timedelta(hours=24))
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = 0.2
MAX_RETRY_AFTER = timedelta(hours=24)
DISABLE_AFTER = 5
PAGE_SIZE = 25


def _require_admin(user: User | None) -> None:
    if user is None or getattr(user, "role", None) != "admin":
        raise PermissionDenied(_("Only administrators can manage webhooks."))


def event_label(event: str) -> str:
    labels = {"account.mqa_reached": _("An account became marketing-qualified"),
              "form.filled": _("A form was filled"),
              "touchpoint.failed": _("A touchpoint failed"),
              TEST_EVENT: _("Test event")}
    return labels.get(event, event)


# --- signing -----------------------------------------------------------------------------------

def new_secret() -> str:
    """whsec_ + base64 of 32 random bytes (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: "v1," + base64 HMAC-SHA256 of id.timestamp.body."""
    signed = f"{message_id}.{timestamp}.".encode("ascii") + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode("ascii")


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime,
           tolerance: timedelta = timedelta(minutes=5)) -> bool:
    """What a receiver does with our request (see the module docstring); True if it is ours."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    message_id, stamp = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    if not message_id or not stamp.isdigit():
        return False
    if abs(now.timestamp() - int(stamp)) > tolerance.total_seconds():
        return False
    expected = signature(secret, message_id, int(stamp), body)
    return any(hmac.compare_digest(expected, given) for given in lower.get("webhook-signature", "").split())


# --- endpoints ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EndpointInput:
    url: str = ""
    description: str = ""
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown to the admin once


@dataclass
class _Settings:
    timeout: float
    allow_private: bool
    allow_http: bool
    disable_after: int


def _settings(timeout: float | None = None, allow_private: bool | None = None) -> _Settings:
    config = current_app.config
    return _Settings(
        timeout=float(config.get("WEBHOOKS_TIMEOUT", TIMEOUT)) if timeout is None else timeout,
        allow_private=bool(config.get("WEBHOOKS_ALLOW_PRIVATE", False)) if allow_private is None else allow_private,
        allow_http=bool(config.get("WEBHOOKS_ALLOW_HTTP", False)),
        disable_after=int(config.get("WEBHOOKS_DISABLE_AFTER", DISABLE_AFTER)))


def _url_error(message: str) -> ValidationError:
    return ValidationError({"url": [message]})


def clean_url(raw: str, settings: _Settings | None = None) -> str:
    """The endpoint's address as stored; ValidationError when it is not one we may post to."""
    settings = settings or _settings()
    url = (raw or "").strip()
    if not url:
        raise _url_error(_("Enter the address that receives the events, e.g. https://hooks.example.com/abm."))
    if len(url) > MAX_URL:
        raise _url_error(_("Keep the address under 2,000 characters."))
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _url_error(_("An address cannot contain spaces or line breaks."))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and settings.allow_http):
        raise _url_error(_("Use an https:// address: events carry names and email addresses."))
    if "@" in parts.netloc:
        raise _url_error(_("Leave the user name and password out of the address; the receiver checks our "
                           "signature instead."))
    try:
        host, port = safe_http.host_and_port(parts)
    except safe_http.Refused:
        raise _url_error(_("That address is not valid: check the site name and port.")) from None
    if not settings.allow_private:
        _check_public(host, port)
    name = (parts.hostname or "").rstrip(".").lower()
    netloc = f"[{name}]" if ":" in name else name
    if parts.port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _check_public(host: str, port: int) -> None:
    """Refuse an address inside a private network now, with a clear message; every delivery
    checks again, against what the name resolves to then."""
    literal = safe_http.literal_address(host)
    lowered = host.lower()
    if (literal is not None and not safe_http.public(literal)) or lowered == "localhost" \
            or lowered.endswith((".localhost", ".local", ".internal")):
        raise _url_error(_("That address is inside a private network; webhooks only go to public addresses."))
    if literal is None:
        try:
            safe_http.addresses(host, port, allow_private=False)
        except safe_http.Refused as refused:
            if refused.key == "private":
                raise _url_error(_("That name points inside a private network; webhooks only go to public "
                                   "addresses.")) from None
            # a name that does not resolve (yet) is kept: each delivery says so until it does


def _clean(data: EndpointInput, settings: _Settings) -> tuple[str, str, list[str]]:
    errors: dict[str, list[str]] = {}
    url = ""
    try:
        url = clean_url(data.url, settings)
    except ValidationError as error:
        errors.update(error.errors)
    description = (data.description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = [_("Keep the description under %(n)d characters.", n=MAX_DESCRIPTION)]
    elif any(ch in description for ch in "\r\n\x00"):
        errors["description"] = [_("Keep the description on one line.")]
    events = [event for event in WEBHOOK_EVENTS if event in set(data.events or ())]
    if not events or len(set(data.events)) != len(events):
        errors["events"] = [_("Choose at least one of the events listed.")]
    if errors:
        raise ValidationError(errors)
    return url, description, events


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(_("There is no such webhook endpoint."))
    return endpoint


def create_endpoint(data: EndpointInput, user: User, now: datetime) -> NewSecret:
    _require_admin(user)
    url, description, events = _clean(data, _settings())
    if (db.session.scalar(select(func.count(WebhookEndpoint.id))) or 0) >= MAX_ENDPOINTS:
        raise ValidationError({"url": [_("There are already %(n)d endpoints; remove one you no longer use.",
                                         n=MAX_ENDPOINTS)]})
    secret = new_secret()
    endpoint = WebhookEndpoint(url=url, description=description, events=events, secret=secret, active=True,
                               disabled_reason="", created_by_id=user.id, created_at=now)
    db.session.add(endpoint)
    db.session.commit()
    return NewSecret(endpoint, secret)


def update_endpoint(endpoint_id: int, data: EndpointInput, user: User) -> WebhookEndpoint:
    """A new address, description or set of events. Deliveries still waiting go to the new address
    with the payload they were made with; events already queued are not added or dropped."""
    _require_admin(user)
    endpoint = get_endpoint(endpoint_id)
    endpoint.url, endpoint.description, endpoint.events = _clean(data, _settings())
    db.session.commit()
    return endpoint


def set_active(endpoint_id: int, active: bool, user: User, now: datetime) -> WebhookEndpoint:
    """Disable (deliveries wait, new events are not queued for it) or enable again (what waited
    goes out at once, then new events)."""
    _require_admin(user)
    endpoint = get_endpoint(endpoint_id)
    if active and not endpoint.active:
        endpoint.active, endpoint.disabled_reason = True, ""
        db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending").values(next_attempt_at=now))
    elif not active and endpoint.active:
        endpoint.active = False
        endpoint.disabled_reason = REASONS["by_admin"][0].format(detail=user.email)
    db.session.commit()
    return endpoint


def rotate_secret(endpoint_id: int, user: User) -> NewSecret:
    """A new secret, used from the next attempt on; the old one stops verifying at once."""
    _require_admin(user)
    endpoint = get_endpoint(endpoint_id)
    secret = new_secret()
    endpoint.secret = secret
    db.session.commit()
    return NewSecret(endpoint, secret)


def delete_endpoint(endpoint_id: int, user: User) -> None:
    """The endpoint, its deliveries and their attempts (explicitly: SQLite may not cascade)."""
    _require_admin(user)
    endpoint = get_endpoint(endpoint_id)
    ids = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
    db.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.commit()


@dataclass
class EndpointRow:
    endpoint: WebhookEndpoint
    last: WebhookDelivery | None     # the newest delivery
    waiting: int                     # pending deliveries
    failed: int                      # failed deliveries
    auto_disabled: bool              # disabled by us, not by an admin: tell the admins


def endpoints_overview() -> list[EndpointRow]:
    endpoints = list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at,
                                                                         WebhookEndpoint.id)))
    if not endpoints:
        return []
    d = WebhookDelivery
    counts: dict[tuple[int, str], int] = {(eid, status): n for eid, status, n in db.session.execute(
        select(d.endpoint_id, d.status, func.count()).where(d.status.in_(("pending", "failed")))
        .group_by(d.endpoint_id, d.status))}
    newest = select(func.max(d.id)).group_by(d.endpoint_id)
    last = {row.endpoint_id: row for row in db.session.scalars(select(d).where(d.id.in_(newest)))}
    return [EndpointRow(e, last.get(e.id), counts.get((e.id, "pending"), 0), counts.get((e.id, "failed"), 0),
                        auto_disabled=not e.active and not by_admin(e.disabled_reason))
            for e in endpoints]


def deliveries(endpoint_id: int, status: str = "", event: str = "", page: int = 1,
               page_size: int = PAGE_SIZE) -> Page[WebhookDelivery]:
    """An endpoint's deliveries, newest first, with their attempts; filters from an allow-list."""
    d = WebhookDelivery
    query = select(d).where(d.endpoint_id == endpoint_id)
    if status in ("pending", "delivered", "failed"):
        query = query.where(d.status == status)
    if event in WEBHOOK_EVENTS or event == TEST_EVENT:
        query = query.where(d.event == event)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = clamp(page, total, page_size)
    items = list(db.session.scalars(query.options(selectinload(d.attempt_log)).order_by(d.id.desc())
                                    .offset((page - 1) * page_size).limit(page_size)))
    return Page(items, total, page, page_size)


def get_delivery(endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound(_("There is no such delivery."))
    return delivery


# --- emitting: rows in the caller's transaction ------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def payload(event: str, data: dict, now: datetime) -> str:
    """The body as sent (and signed): compact JSON, UTF-8 as it is."""
    return json.dumps({"type": event, "timestamp": _iso(now), "data": data}, ensure_ascii=False,
                      separators=(",", ":"), default=str)


def _subscribers(event: str, connection=None) -> list[int]:
    rows = (connection or db.session).execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                                              .where(WebhookEndpoint.active.is_(True))).all()
    return [eid for eid, events in rows if event in (events or [])]


def _queue(event: str, items: list[dict], now: datetime, endpoint_ids: list[int], connection=None) -> int:
    rows = [{"endpoint_id": eid, "message_id": _message_id(), "event": event, "payload": payload(event, data, now),
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for data in items for eid in endpoint_ids]
    if not rows:
        return 0
    if connection is not None:
        connection.execute(insert(WebhookDelivery.__table__), rows)
    else:
        db.session.add_all(WebhookDelivery(**row) for row in rows)
    return len(rows)


def emit(event: str, data: dict, now: datetime, connection=None) -> int:
    """One delivery per active endpoint subscribed to `event`, added to the caller's transaction
    (the session, or `connection`); the caller commits. How many were queued."""
    return emit_many(event, [data], now, connection)


def emit_many(event: str, items: list[dict], now: datetime, connection=None) -> int:
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}; expected one of {WEBHOOK_EVENTS}")
    endpoint_ids = _subscribers(event, connection) if items else []
    return _queue(event, items, now, endpoint_ids, connection)


def _account_data(id_, name, domain, tier, industry, country, stage, owner_email) -> dict:
    return {"id": id_, "name": name, "domain": domain or "", "tier": tier, "industry": industry or "",
            "country": country or "", "journey_stage": stage or "", "owner_email": owner_email or None}


_ACCOUNT_COLUMNS = (Account.id, Account.name, Account.domain, Account.tier, Account.industry, Account.country,
                    Account.journey_stage, User.email)


def emit_mqa_reached(reached: dict[int, datetime], scores: dict[int, float] | None, now: datetime,
                     connection=None) -> int:
    """account.mqa_reached for accounts that just became MQAs (milestones.reach calls it inside
    the transaction that records the milestone, so each account is told once)."""
    if not reached:
        return 0
    executor = connection or db.session
    endpoint_ids = _subscribers("account.mqa_reached", connection)
    if not endpoint_ids:
        return 0
    rows = executor.execute(select(*_ACCOUNT_COLUMNS).outerjoin(User, User.id == Account.owner_id)
                            .where(Account.id.in_(list(reached))).order_by(Account.id)).all()
    items = [{"account": _account_data(*row),
              "score": round(scores[row[0]], 1) if scores and row[0] in scores else None,
              "reached_at": _iso(reached[row[0]])} for row in rows]
    return _queue("account.mqa_reached", items, now, endpoint_ids, connection)


FORM_FIELDS = ("email", "first_name", "last_name", "company", "title", "persona", "consent")


def emit_form_filled(*, page, asset, contact, account, fields: Mapping, created_contact: bool,
                     created_account: bool, consent_recorded: bool, now: datetime) -> int:
    """form.filled with what the visitor submitted (the allow-listed form fields only), in the
    session's transaction (gating.submit commits it with the contact)."""
    endpoint_ids = _subscribers("form.filled")
    if not endpoint_ids:
        return 0
    db.session.flush()  # ids of a contact or account made by this form
    owner = db.session.get(User, account.owner_id) if account is not None and account.owner_id else None
    data = {
        "contact": None if contact is None else {
            "id": contact.id, "email": contact.email, "first_name": contact.first_name,
            "last_name": contact.last_name, "title": contact.title, "persona": contact.persona},
        "account": None if account is None else _account_data(
            account.id, account.name, account.domain, account.tier, account.industry, account.country,
            account.journey_stage, owner.email if owner else None),
        "landing_page": {"id": page.id, "slug": page.slug, "title": page.title, "language": page.language},
        "asset": {"id": asset.id, "slug": asset.slug, "title": asset.title, "type": asset.type},
        "form": {name: fields.get(name) for name in FORM_FIELDS if name in fields},
        "new_contact": created_contact, "new_account": created_account, "consent_recorded": consent_recorded,
        "filled_at": _iso(now),
    }
    return _queue("form.filled", [data], now, endpoint_ids)


def emit_touchpoint_failed(touchpoint_id: int, reason: str, now: datetime, connection=None) -> int:
    """touchpoint.failed, inside the transaction that moved the touchpoint to failed."""
    endpoint_ids = _subscribers("touchpoint.failed", connection)
    if not endpoint_ids:
        return 0
    t = Touchpoint
    row = (connection or db.session).execute(
        select(t.id, t.channel, t.subject, t.due_at, t.attempts, Plan.id, Plan.name, PlanStep.id, PlanStep.position,
               Contact.id, Contact.email, Contact.first_name, Contact.last_name, Contact.title, Contact.persona,
               *_ACCOUNT_COLUMNS)
        .join(Account, Account.id == t.account_id).outerjoin(User, User.id == Account.owner_id)
        .outerjoin(Contact, Contact.id == t.contact_id).outerjoin(Enrollment, Enrollment.id == t.enrollment_id)
        .outerjoin(PlanStep, PlanStep.id == t.step_id)
        .outerjoin(Plan, Plan.id == func.coalesce(Enrollment.plan_id, PlanStep.plan_id))
        .where(t.id == touchpoint_id)).one_or_none()
    if row is None:
        return 0
    (tid, channel, subject, due_at, attempts, plan_id, plan_name, step_id, position,
     contact_id, email, first, last, title, persona, *account) = row
    data = {
        "touchpoint": {"id": tid, "channel": channel, "subject": subject or "", "due_at": _iso(due_at),
                       "attempts": attempts},
        "reason": (reason or "")[:1000],
        "plan": {"id": plan_id, "name": plan_name} if plan_id is not None else None,
        "step": {"id": step_id, "number": position + 1} if step_id is not None else None,
        "contact": {"id": contact_id, "email": email, "first_name": first, "last_name": last, "title": title,
                    "persona": persona} if contact_id is not None else None,
        "account": _account_data(*account),
        "failed_at": _iso(now),
    }
    return _queue("touchpoint.failed", [data], now, endpoint_ids, connection)


# --- why an attempt failed, in the reader's language -------------------------------------------
# Stored in English (what an operator reads in the database); shown in the reader's language.

REASONS: dict[str, tuple[str, object]] = {
    "http": ("The endpoint answered {detail}.", lambda d: _("The endpoint answered %(detail)s.", detail=d)),
    "redirect": ("The endpoint answered {detail}; webhooks do not follow redirects, so enter the final address.",
                 lambda d: _("The endpoint answered %(detail)s; webhooks do not follow redirects, so enter the "
                             "final address.", detail=d)),
    "timeout": ("The endpoint did not answer within {detail} seconds.",
                lambda d: _("The endpoint did not answer within %(detail)s seconds.", detail=d)),
    "unreachable": ("The endpoint could not be reached ({detail}).",
                    lambda d: _("The endpoint could not be reached (%(detail)s).", detail=d)),
    "private": ("The address points inside a private network ({detail}), so nothing was sent.",
                lambda d: _("The address points inside a private network (%(detail)s), so nothing was sent.",
                            detail=d)),
    "tls": ("The endpoint's security certificate could not be checked ({detail}).",
            lambda d: _("The endpoint's security certificate could not be checked (%(detail)s).", detail=d)),
    "scheme": ("Plain http:// addresses are not allowed ({detail}), so nothing was sent.",
               lambda d: _("Plain http:// addresses are not allowed (%(detail)s), so nothing was sent.", detail=d)),
    "invalid": ("The endpoint's answer was not valid HTTP ({detail}).",
                lambda d: _("The endpoint's answer was not valid HTTP (%(detail)s).", detail=d)),
    "unexpected": ("Sending failed ({detail}).", lambda d: _("Sending failed (%(detail)s).", detail=d)),
    "gone": ("The endpoint answered {detail}: it no longer wants these events.",
             lambda d: _("The endpoint answered %(detail)s: it no longer wants these events.", detail=d)),
    "failures": ("The last {detail} deliveries all failed.",
                 lambda d: _("The last %(detail)s deliveries all failed.", detail=d)),
    "by_admin": ("Disabled by {detail}.", lambda d: _("Disabled by %(detail)s.", detail=d)),
}
_REASON_PATTERNS = [(re.compile("^" + re.escape(english).replace(re.escape("{detail}"), "(?P<detail>.*)") + "$",
                                re.S), say) for english, say in REASONS.values()]


def say(text: str | None) -> str:
    """A stored error or disable reason in the reader's language (anything unknown as it is)."""
    text = (text or "").strip()
    for pattern, speak in _REASON_PATTERNS:
        found = pattern.match(text)
        if found:
            return speak(found["detail"])
    return text


def _reason(key: str, detail: object = "") -> str:
    return REASONS[key][0].format(detail=detail)[:300]


def by_admin(reason: str) -> bool:
    """The endpoint was disabled by a person (not by us after failures or a 410)."""
    return reason.startswith(REASONS["by_admin"][0].split("{", 1)[0])


# --- posting -----------------------------------------------------------------------------------

@dataclass
class PostResult:
    status_code: int | None = None
    error: str = ""              # English, from REASONS; "" when delivered
    body: str = ""               # the first RESPONSE_KEPT characters of the answer
    duration_ms: int = 0
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def _read_some(response, deadline: float) -> bytes:
    chunks, size = [], 0
    while size < RESPONSE_READ:
        if time.monotonic() > deadline:  # a server dripping bytes never trips the socket timeout
            raise socket.timeout()
        chunk = response.read1(RESPONSE_READ - size) if hasattr(response, "read1") else response.read(
            RESPONSE_READ - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _seconds(value: float) -> str:
    return f"{value:g}"


def post(url: str, message_id: str, body: str, secret: str, at: datetime, settings: _Settings) -> PostResult:
    """One signed POST; never raises for anything the network or the endpoint does."""
    started = time.monotonic()
    result = PostResult()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and settings.allow_http):
        result.error = _reason("scheme", scheme[:20] or "?")
        return result
    data = body.encode("utf-8")
    timestamp = int(at.timestamp())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "webhook-id": message_id,
               "webhook-timestamp": str(timestamp),
               "webhook-signature": signature(secret, message_id, timestamp, data)}
    connection = None
    try:
        connection = safe_http.open_connection(parts, settings.timeout, settings.allow_private)
        connection.request("POST", safe_http.target(parts), body=data, headers=headers)
        response = connection.getresponse()
        result.status_code = response.status
        text = _read_some(response, started + settings.timeout * 2)
        result.body = "".join(ch if ch.isprintable() or ch in "\n\t" else " "
                              for ch in text.decode("utf-8", "replace"))[:RESPONSE_KEPT]
        if 300 <= response.status < 400:
            result.error = _reason("redirect", safe_http.status_text(response.status))
        elif response.status == 410:
            result.error = _reason("gone", safe_http.status_text(response.status))
        elif not result.ok:
            result.error = _reason("http", safe_http.status_text(response.status))
            if response.status in (429, 503):
                result.retry_after = safe_http.retry_after(response.getheader("Retry-After"), at, MAX_RETRY_AFTER)
    except safe_http.Refused as refused:
        result.error = _reason(refused.key, refused.detail)
    except (socket.timeout, TimeoutError):
        result.error = _reason("timeout", _seconds(settings.timeout))
    except ssl.SSLError as error:
        result.error = _reason("tls", getattr(error, "reason", None) or error.__class__.__name__)
    except ConnectionRefusedError:
        result.error = _reason("unreachable", "the connection was refused")
    except (ConnectionError, OSError) as error:
        result.error = _reason("unreachable", (error.strerror or error.__class__.__name__)[:100])
    except http.client.HTTPException as error:
        result.error = _reason("invalid", error.__class__.__name__)
    except Exception as error:  # noqa: BLE001 - one endpoint's trouble must never stop the others
        log.exception("posting webhook %s failed", message_id)
        result.error = _reason("unexpected", error.__class__.__name__)
    finally:
        if connection is not None:
            connection.close()
    if result.status_code is not None and not result.ok and not result.error:
        result.error = _reason("http", safe_http.status_text(result.status_code))
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait after the `attempts`-th failed attempt: the schedule plus up to 20 % jitter."""
    base = RETRY_SCHEDULE[min(max(attempts, 1), len(RETRY_SCHEDULE)) - 1]
    return base * (1 + (rng or random).uniform(0, JITTER))


# --- claiming and recording ---------------------------------------------------------------------

def _claim(condition, lease_until: datetime) -> int | None:
    """Take one delivery matching `condition` for ourselves (see touchpoints._claim); its id."""
    d = WebhookDelivery.__table__
    pick = select(d.c.id).where(condition).order_by(d.c.next_attempt_at, d.c.id).limit(1)
    if db.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    statement = (update(d).where(d.c.id.in_(pick.scalar_subquery()))
                 .values(lease_until=lease_until, attempts=d.c.attempts + 1).returning(d.c.id))
    with db.engine.begin() as conn:
        return conn.execute(statement).scalar()


@dataclass
class _Claimed:
    id: int
    endpoint_id: int
    message_id: str
    event: str
    payload: str
    status: str
    attempts: int
    url: str
    secret: str


def _load(delivery_id: int) -> _Claimed | None:
    d, e = WebhookDelivery.__table__, WebhookEndpoint.__table__
    with db.engine.connect() as conn:
        row = conn.execute(select(d.c.id, d.c.endpoint_id, d.c.message_id, d.c.event, d.c.payload, d.c.status,
                                  d.c.attempts, e.c.url, e.c.secret).join(e, e.c.id == d.c.endpoint_id)
                           .where(d.c.id == delivery_id)).one_or_none()
    return _Claimed(*row) if row is not None else None


@dataclass
class _Outcome:
    status: str = ""            # delivered, pending (retried later), failed; "" when the lease was lost
    endpoint_id: int | None = None
    disabled: bool = False      # this attempt disabled its endpoint


def _record(claimed: _Claimed, lease_until: datetime, result: PostResult, at: datetime, settings: _Settings,
            manual: bool) -> _Outcome:
    """The attempt and what follows from it, in one transaction fenced by our lease (when the
    lease was lost, another worker took over and its attempt counts, not ours)."""
    d, e = WebhookDelivery.__table__, WebhookEndpoint.__table__
    values: dict = {"lease_until": None}
    disable = ""
    if result.ok:
        values.update(status="delivered", delivered_at=at, next_attempt_at=None)
    elif result.gone:
        values.update(status="failed", next_attempt_at=None)
        disable = result.error
    elif claimed.event == TEST_EVENT or (manual and claimed.status != "pending") \
            or claimed.attempts >= MAX_ATTEMPTS:
        values.update(status="failed", next_attempt_at=None)  # a test or a hand-made attempt is not retried
    else:
        wait = retry_delay(claimed.attempts)
        if result.retry_after is not None:
            wait = max(wait, result.retry_after)
        values.update(status="pending", next_attempt_at=at + wait)
    outcome = _Outcome(endpoint_id=claimed.endpoint_id)
    with db.engine.begin() as conn:
        done = conn.execute(update(d).where(d.c.id == claimed.id, d.c.lease_until == lease_until)
                            .values(**values)).rowcount
        if not done:
            return outcome
        outcome.status = values["status"]
        conn.execute(insert(WebhookAttempt.__table__).values(
            delivery_id=claimed.id, at=at, status_code=result.status_code, error=result.error[:300],
            response_body=result.body[:RESPONSE_KEPT], duration_ms=result.duration_ms))
        if not disable and outcome.status == "failed" and not manual and claimed.event != TEST_EVENT \
                and settings.disable_after > 0:
            recent = conn.execute(select(d.c.status).where(
                d.c.endpoint_id == claimed.endpoint_id, d.c.status.in_(("delivered", "failed")),
                d.c.event != TEST_EVENT).order_by(d.c.id.desc()).limit(settings.disable_after)).scalars().all()
            if len(recent) >= settings.disable_after and all(status == "failed" for status in recent):
                disable = _reason("failures", settings.disable_after)
        if disable:
            outcome.disabled = bool(conn.execute(
                update(e).where(e.c.id == claimed.endpoint_id, e.c.active.is_(True))
                .values(active=False, disabled_reason=disable[:300])).rowcount)
    if outcome.disabled:
        log.warning("webhook endpoint %s disabled: %s", claimed.endpoint_id, disable)
    return outcome


def _attempt(delivery_id: int, lease_until: datetime, at: datetime, settings: _Settings, manual: bool) -> _Outcome:
    """Post one claimed delivery and record how it went."""
    try:
        claimed = _load(delivery_id)
        if claimed is None:
            return _Outcome()
        result = post(claimed.url, claimed.message_id, claimed.payload, claimed.secret, at, settings)
        return _record(claimed, lease_until, result, at, settings, manual)
    except Exception:  # noqa: BLE001 - the database failed: the lease runs out and it is tried again
        log.exception("webhook delivery %s could not be recorded", delivery_id)
        return _Outcome()


@dataclass
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0                                      # not recorded (lease lost, database trouble)
    disabled: list[int] = field(default_factory=list)  # endpoints disabled in this pass


def deliver_due(now: datetime, batch: int = 100, *, timeout: float | None = None,
                allow_private: bool | None = None) -> DeliveryReport:
    """Post up to `batch` due deliveries, claiming one at a time. Safe to run from any number of
    processes at once; never raises for an endpoint."""
    settings = _settings(timeout, allow_private)
    db.session.rollback()  # no transaction of ours held open while we wait on the network
    d, e = WebhookDelivery.__table__, WebhookEndpoint.__table__
    report = DeliveryReport()
    held: set[int] = set()  # endpoints that failed in this pass: their other deliveries wait for the next
    started = time.monotonic()
    while report.claimed < batch:
        elapsed = timedelta(seconds=time.monotonic() - started)
        if elapsed > PASS_BUDGET:
            break
        at = now + elapsed  # leases and retry times count from this post, not from the pass's start
        lease_until = at + LEASE
        condition = and_(d.c.status == "pending", d.c.next_attempt_at <= at,
                         or_(d.c.lease_until.is_(None), d.c.lease_until < at),
                         d.c.endpoint_id.in_(select(e.c.id).where(e.c.active.is_(True))))
        if held:
            condition = and_(condition, d.c.endpoint_id.not_in(held))
        try:
            delivery_id = _claim(condition, lease_until)
        except Exception:  # noqa: BLE001 - the database hiccuped: the next pass tries again
            log.exception("could not claim a webhook delivery")
            break
        if delivery_id is None:
            break
        report.claimed += 1
        outcome = _attempt(delivery_id, lease_until, at, settings, manual=False)
        if outcome.status == "delivered":
            report.delivered += 1
            continue
        if outcome.status == "pending":
            report.retrying += 1
        elif outcome.status == "failed":
            report.failed += 1
        else:
            report.lost += 1
        if outcome.endpoint_id is not None:
            held.add(outcome.endpoint_id)
        if outcome.disabled:
            report.disabled.append(outcome.endpoint_id)
    return report


# --- by hand: a test event, a redelivery -------------------------------------------------------

def send_test(endpoint_id: int, user: User, now: datetime, *, timeout: float | None = None,
              allow_private: bool | None = None) -> WebhookDelivery:
    """A webhook.test event to one endpoint (even a disabled one), posted now; the delivery with
    its attempt. Not retried: the admin sees at once whether the receiver works."""
    _require_admin(user)
    endpoint = get_endpoint(endpoint_id)
    settings = _settings(MANUAL_TIMEOUT if timeout is None else timeout, allow_private)
    lease_until = now + LEASE
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id, message_id=_message_id(), event=TEST_EVENT,
        payload=payload(TEST_EVENT, {"endpoint": {"id": endpoint.id, "description": endpoint.description},
                                     "sent_by": user.email}, now),
        status="pending", attempts=1, next_attempt_at=now, lease_until=lease_until, created_at=now)
    db.session.add(delivery)
    db.session.commit()  # leased already, so no scheduler takes it while we post
    delivery_id = delivery.id
    _attempt(delivery_id, lease_until, now, settings, manual=True)
    db.session.expire_all()
    return get_delivery(endpoint.id, delivery_id)


def redeliver(endpoint_id: int, delivery_id: int, user: User, now: datetime, *, timeout: float | None = None,
              allow_private: bool | None = None) -> WebhookDelivery:
    """One more attempt now, whatever the delivery's status (the receiver lost it, or is fixed);
    with the same webhook-id, so a receiver that has it already can tell."""
    _require_admin(user)
    delivery = get_delivery(endpoint_id, delivery_id)
    settings = _settings(MANUAL_TIMEOUT if timeout is None else timeout, allow_private)
    d = WebhookDelivery.__table__
    lease_until = now + LEASE
    db.session.rollback()
    if _claim(and_(d.c.id == delivery.id, or_(d.c.lease_until.is_(None), d.c.lease_until < now)),
              lease_until) is None:
        raise InvalidTransition(_("This delivery is being sent right now; look again in a minute."))
    _attempt(delivery_id, lease_until, now, settings, manual=True)
    db.session.expire_all()
    return get_delivery(endpoint_id, delivery_id)
