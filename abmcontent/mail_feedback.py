"""Bounces and complaints a mail provider reports by webhook (issue 7) → suppressed addresses.

`receive(body, now)` reads the body a provider posted, recognises who sent it, and applies it:
a hard (permanent) bounce or a spam complaint suppresses the address (abmcontent.models
Suppression, reason "bounced" or "complained", the same as an SMTP 5xx at send time, through
channels.email.suppress), so no plan emails it again; a soft bounce or a deferral is counted and
changes nothing (the provider retries, and our own SMTP path retries 4xx); anything else
(deliveries, opens, clicks) is counted as ignored. Applying the same report twice changes nothing
the second time. There is no route here: the JSON API mounts it behind API-token auth.

Formats recognised, by their shape:
- generic JSON: {"events": [{"type": "bounce"|"complaint", "email": …, "bounce_type": "hard"|"soft",
  "reason": …, "occurred_at": …}]} (a bounce without bounce_type is hard);
- SendGrid Event Webhook: a JSON array; "bounce" (type "bounce" hard, "blocked" soft), "dropped"
  (reason Bounced Address / Invalid → hard, Spam Reporting Address → complaint, others soft),
  "deferred" soft, "spamreport" complaint;
- Postmark: {"RecordType": "Bounce", "Type": "HardBounce"|"SoftBounce"|…, "Email": …} and
  {"RecordType": "SpamComplaint", …};
- Mailgun: {"event-data": {"event": "failed", "severity": "permanent"|"temporary", "recipient": …}}
  and event "complained";
- Amazon SES through SNS: {"Type": "Notification", "Message": "<SES JSON>"} with notificationType
  (or eventType) Bounce (bounceType Permanent → hard, Transient/Undetermined → soft) or Complaint;
  the SES JSON posted directly (SNS raw message delivery) too. A SubscriptionConfirmation is not
  followed from here (that would fetch an address from the request): its SubscribeURL comes back
  in the report for the operator to open once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.models import Suppression
from abmcontent.users import EMAIL_RE

MAX_EVENTS = 10_000
MAX_ERRORS = 50  # errors kept in a report; the count goes on
HARD, SOFT, COMPLAINT, IGNORED, INVALID = "hard_bounce", "soft_bounce", "complaint", "ignored", "invalid"


@dataclass(frozen=True)
class MailEvent:
    kind: str          # hard_bounce, soft_bounce, complaint, ignored, invalid
    email: str         # as the provider sent it ("" for events about no one)
    detail: str = ""   # the provider's reason, for the suppression's detail


@dataclass
class FeedbackReport:
    provider: str = ""
    suppressed: int = 0          # addresses suppressed now
    already_suppressed: int = 0  # hard bounces and complaints for addresses suppressed before
    soft: int = 0                # soft bounces and deferrals: counted, not suppressed
    ignored: int = 0             # deliveries, opens, unknown types…
    errors: list[str] = field(default_factory=list)  # events we could not use, and why
    subscribe_url: str = ""      # Amazon SNS: open once to confirm the subscription

    def as_dict(self) -> dict:
        return {"provider": self.provider, "suppressed": self.suppressed,
                "already_suppressed": self.already_suppressed, "soft": self.soft, "ignored": self.ignored,
                "errors": list(self.errors), "subscribe_url": self.subscribe_url}


# --- reading the body ------------------------------------------------------------------------------

def parse_body(body: bytes | str) -> object:
    """The JSON document in a request body; ValidationError in words when it is not one."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(_("The body is not UTF-8 text. Send the provider's JSON as it is.")) from None
    if not body.strip():
        raise ValidationError(_("The body is empty. Send the provider's JSON as it is."))
    try:
        return json.loads(body)
    except ValueError as error:
        raise ValidationError(_("The body is not valid JSON (%(problem)s).", problem=str(error)[:200])) from None


def _text(value: object, limit: int = 300) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:limit]


def events_from(document: object) -> tuple[str, list[MailEvent], str]:
    """(provider, events, SNS subscribe URL) from a parsed body; ValidationError if we cannot
    tell which provider sent it."""
    if isinstance(document, list):
        if document and all(isinstance(item, dict) and "event" in item for item in document):
            return "sendgrid", [_sendgrid(item) for item in _capped(document)], ""
        if not document:
            return "sendgrid", [], ""
        raise ValidationError(_("A list of events was sent, but not in SendGrid's Event Webhook format "
                                "(each event needs \"event\" and \"email\")."))
    if not isinstance(document, dict):
        raise ValidationError(_("Send a JSON object or a SendGrid list of events."))
    if document.get("Type") in ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation") \
            and ("TopicArn" in document or "Message" in document):
        return _sns(document)
    if "notificationType" in document or ("eventType" in document and "mail" in document):
        return "amazon_ses", _ses(document), ""
    if "RecordType" in document:
        return "postmark", [_postmark(document)], ""
    if isinstance(document.get("event-data"), dict):
        return "mailgun", [_mailgun(document["event-data"])], ""
    if isinstance(document.get("events"), list):
        return "generic", [_generic(item) for item in _capped(document["events"])], ""
    raise ValidationError(_("We could not tell which mail provider sent this. Send SendGrid, Postmark, Mailgun "
                            "or Amazon SES (SNS) webhooks as they are, or {\"events\": [{\"type\": \"bounce\", "
                            "\"email\": …, \"bounce_type\": \"hard\"}]}."))


def _capped(items: list) -> list:
    if len(items) > MAX_EVENTS:
        raise ValidationError(_("Send at most %(n)s events at a time.", n=f"{MAX_EVENTS:,}"))
    return items


def _generic(item: object) -> MailEvent:
    if not isinstance(item, dict):
        return MailEvent(INVALID, "", "an event must be an object")
    kind, email, reason = str(item.get("type", "")).lower(), item.get("email"), _text(item.get("reason"))
    if kind == "complaint":
        return MailEvent(COMPLAINT, _address(email), reason or "complaint")
    if kind == "bounce":
        bounce_type = str(item.get("bounce_type") or "hard").lower()
        if bounce_type not in ("hard", "soft"):
            return MailEvent(INVALID, _address(email), f"bounce_type must be hard or soft, not {bounce_type[:20]!r}")
        return MailEvent(HARD if bounce_type == "hard" else SOFT, _address(email), reason or f"{bounce_type} bounce")
    return MailEvent(IGNORED, _address(email), kind)


_SENDGRID_DROPPED = {"bounced address": HARD, "invalid": HARD, "spam reporting address": COMPLAINT}


def _sendgrid(item: dict) -> MailEvent:
    event, email = str(item.get("event", "")).lower(), _address(item.get("email"))
    reason = _text(item.get("reason") or item.get("response"))
    if event == "bounce":
        soft = str(item.get("type", "bounce")).lower() == "blocked"
        return MailEvent(SOFT if soft else HARD, email, f"SendGrid bounce: {reason}".strip(": "))
    if event == "dropped":
        kind = _SENDGRID_DROPPED.get(_text(item.get("reason")).lower(), SOFT)
        return MailEvent(kind, email, f"SendGrid dropped: {reason}".strip(": "))
    if event == "deferred":
        return MailEvent(SOFT, email, f"SendGrid deferred: {reason}".strip(": "))
    if event == "spamreport":
        return MailEvent(COMPLAINT, email, "SendGrid spam report")
    return MailEvent(IGNORED, email, event)


_POSTMARK_HARD = {"HardBounce", "BadEmailAddress"}
_POSTMARK_COMPLAINT = {"SpamComplaint", "SpamNotification"}
_POSTMARK_SOFT = {"SoftBounce", "Transient", "DnsError", "Blocked", "DMARCPolicy", "Unknown", "VirusNotification",
                  "SMTPApiError"}


def _postmark(document: dict) -> MailEvent:
    record, kind = str(document.get("RecordType", "")), str(document.get("Type", ""))
    email = _address(document.get("Email") or document.get("Recipient"))
    detail = _text(document.get("Description") or document.get("Details") or kind)
    if record == "SpamComplaint" or (record == "Bounce" and kind in _POSTMARK_COMPLAINT):
        return MailEvent(COMPLAINT, email, f"Postmark spam complaint: {detail}".strip(": "))
    if record == "Bounce":
        if kind in _POSTMARK_HARD:
            return MailEvent(HARD, email, f"Postmark {kind}: {detail}".strip(": "))
        if kind in _POSTMARK_SOFT:
            return MailEvent(SOFT, email, f"Postmark {kind}: {detail}".strip(": "))
    return MailEvent(IGNORED, email, f"{record} {kind}".strip())


def _mailgun(data: dict) -> MailEvent:
    event, email = str(data.get("event", "")).lower(), _address(data.get("recipient"))
    status = data.get("delivery-status") if isinstance(data.get("delivery-status"), dict) else {}
    reason = _text(status.get("description") or status.get("message") or data.get("reason"))
    if event == "complained":
        return MailEvent(COMPLAINT, email, "Mailgun complaint")
    if event == "failed":
        permanent = str(data.get("severity", "")).lower() == "permanent"
        return MailEvent(HARD if permanent else SOFT, email, f"Mailgun failed: {reason}".strip(": "))
    return MailEvent(IGNORED, email, event)


def _sns(document: dict) -> tuple[str, list[MailEvent], str]:
    kind = document.get("Type")
    if kind == "SubscriptionConfirmation":
        url = str(document.get("SubscribeURL") or "")
        parts = urlsplit(url)
        trusted = parts.scheme == "https" and (parts.hostname or "").endswith(".amazonaws.com")
        return "amazon_ses", [MailEvent(IGNORED, "", "SNS subscription confirmation")], url if trusted else ""
    if kind != "Notification":
        return "amazon_ses", [MailEvent(IGNORED, "", str(kind))], ""
    message = document.get("Message")
    try:
        inner = json.loads(message) if isinstance(message, str) else message
    except ValueError:
        inner = None
    if not isinstance(inner, dict):  # e.g. "Successfully validated SNS topic for Amazon SES event publishing."
        return "amazon_ses", [MailEvent(IGNORED, "", "SNS message that is not an SES event")], ""
    return "amazon_ses", _ses(inner), ""


def _ses(event: dict) -> list[MailEvent]:
    kind = str(event.get("notificationType") or event.get("eventType") or "")
    if kind == "Bounce":
        bounce = event.get("bounce") if isinstance(event.get("bounce"), dict) else {}
        permanent = str(bounce.get("bounceType", "")) == "Permanent"
        subtype = _text(bounce.get("bounceSubType"), 60)
        recipients = bounce.get("bouncedRecipients") if isinstance(bounce.get("bouncedRecipients"), list) else []
        what = f"SES {_text(bounce.get('bounceType'), 40)} bounce" + (f" ({subtype})" if subtype else "")
        found = []
        for recipient in _capped(recipients):
            recipient = recipient if isinstance(recipient, dict) else {"emailAddress": recipient}
            code = _text(recipient.get("diagnosticCode"))
            found.append(MailEvent(HARD if permanent else SOFT, _address(recipient.get("emailAddress")),
                                   f"{what}: {code}" if code else what))
        return found or [MailEvent(INVALID, "", "a Bounce without bouncedRecipients")]
    if kind == "Complaint":
        complaint = event.get("complaint") if isinstance(event.get("complaint"), dict) else {}
        feedback = _text(complaint.get("complaintFeedbackType"), 60)
        recipients = complaint.get("complainedRecipients") \
            if isinstance(complaint.get("complainedRecipients"), list) else []
        if feedback == "not-spam":  # the recipient took it out of spam: not a complaint
            return [MailEvent(IGNORED, "", "SES complaint feedback not-spam")]
        return [MailEvent(COMPLAINT, _address(r.get("emailAddress") if isinstance(r, dict) else r),
                          f"SES complaint{' (' + feedback + ')' if feedback else ''}")
                for r in _capped(recipients)] or [MailEvent(INVALID, "", "a Complaint without complainedRecipients")]
    return [MailEvent(IGNORED, "", kind)]


def _address(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- applying ----------------------------------------------------------------------------------------

def apply(provider: str, events: list[MailEvent], now: datetime, subscribe_url: str = "") -> FeedbackReport:
    """Suppress what must be suppressed, in one transaction; the report of what happened."""
    from abmcontent.channels.email import suppress

    for attempt in (1, 2):
        report = FeedbackReport(provider=provider, subscribe_url=subscribe_url)
        wanted: dict[str, MailEvent] = {}
        for event in events:
            if event.kind == IGNORED:
                report.ignored += 1
            elif event.kind == SOFT:
                report.soft += 1
            elif event.kind == INVALID:
                _error(report, _("An event could not be used: %(why)s.", why=event.detail))
            else:
                email = event.email.lower()
                if not EMAIL_RE.match(email) or len(email) > 254:
                    _error(report, _("“%(email)s” is not an email address; that event was skipped.",
                                     email=event.email[:100]))
                elif email in wanted:
                    report.already_suppressed += 1  # the same address twice in one report
                else:
                    wanted[email] = event
        # suppress() stores addresses in lower case, so the primary key finds them
        known = set(db.session.scalars(select(Suppression.email).where(Suppression.email.in_(list(wanted))))) \
            if wanted else set()
        for email, event in wanted.items():
            if email in known:
                report.already_suppressed += 1
                continue
            suppress(email, "complained" if event.kind == COMPLAINT else "bounced", event.detail, now)
            report.suppressed += 1
        try:
            db.session.commit()
            return report
        except IntegrityError:  # another report suppressed one of these a moment ago: count again
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _error(report: FeedbackReport, message: str) -> None:
    if len(report.errors) < MAX_ERRORS:
        report.errors.append(message)


def receive(body: bytes | str, now: datetime) -> FeedbackReport:
    """Parse a provider's webhook body and apply it: the JSON API's POST /api/v1/mail-events."""
    provider, events, subscribe_url = events_from(parse_body(body))
    return apply(provider, events, now, subscribe_url)
