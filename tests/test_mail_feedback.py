"""Bounce and complaint webhooks from mail providers → suppressed addresses: every format as the
provider sends it, hard against soft, idempotence, and bodies we cannot read explained in words."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from abmcontent import mail_feedback
from abmcontent.channels.email import suppress
from abmcontent.errors import ValidationError
from abmcontent.extensions import db
from abmcontent.models import Suppression
from tests.conftest import NOW


def _suppressed() -> dict[str, str]:
    db.session.expire_all()
    return {s.email: s.reason for s in db.session.scalars(select(Suppression))}


def _counts(report) -> tuple:
    return report.suppressed, report.already_suppressed, report.soft, report.ignored, len(report.errors)


def test_generic_json_suppresses_hard_bounces_and_complaints_and_counts_the_rest(app):
    body = json.dumps({"events": [
        {"type": "bounce", "email": "Gone@Harborview.example", "bounce_type": "hard", "reason": "550 5.1.1 unknown",
         "occurred_at": "2026-11-02T09:00:00Z"},
        {"type": "bounce", "email": "full@harborview.example", "bounce_type": "soft", "reason": "452 mailbox full"},
        {"type": "complaint", "email": "angry@harborview.example"},
        {"type": "bounce", "email": "plain@harborview.example"},  # no bounce_type: hard
        {"type": "delivery", "email": "fine@harborview.example"},
        {"type": "bounce", "email": "not-an-address", "bounce_type": "hard"},
        {"type": "bounce", "email": "odd@harborview.example", "bounce_type": "medium"},
    ]})
    report = mail_feedback.receive(body.encode(), NOW)
    assert report.provider == "generic" and _counts(report) == (3, 0, 1, 1, 2)
    assert _suppressed() == {"gone@harborview.example": "bounced", "angry@harborview.example": "complained",
                             "plain@harborview.example": "bounced"}
    detail = db.session.get(Suppression, "gone@harborview.example").detail
    assert detail == "550 5.1.1 unknown"
    assert "not-an-address" in report.errors[0] and "medium" in report.errors[1]


def test_the_same_report_twice_changes_nothing_the_second_time(app):
    body = {"events": [{"type": "complaint", "email": "angry@harborview.example"},
                       {"type": "complaint", "email": "ANGRY@harborview.example"}]}
    first = mail_feedback.receive(json.dumps(body), NOW)
    assert _counts(first) == (1, 1, 0, 0, 0)  # the same address twice in one report
    second = mail_feedback.receive(json.dumps(body), NOW)
    assert _counts(second) == (0, 2, 0, 0, 0)
    assert _suppressed() == {"angry@harborview.example": "complained"}


def test_an_address_suppressed_for_another_reason_keeps_it(app):
    suppress("left@harborview.example", "unsubscribed", "one-click unsubscribe", NOW)
    db.session.commit()
    report = mail_feedback.receive(json.dumps({"events": [{"type": "bounce", "email": "left@harborview.example"}]}),
                                   NOW)
    assert _counts(report) == (0, 1, 0, 0, 0)
    assert _suppressed() == {"left@harborview.example": "unsubscribed"}


def test_sendgrid_event_webhook(app):
    events = [
        {"email": "hard@a.example", "event": "bounce", "type": "bounce", "reason": "550 5.1.1 no such user",
         "timestamp": 1730539800, "sg_event_id": "e1"},
        {"email": "blocked@a.example", "event": "bounce", "type": "blocked", "reason": "421 try later"},
        {"email": "known@a.example", "event": "dropped", "reason": "Bounced Address"},
        {"email": "spammy@a.example", "event": "dropped", "reason": "Spam Reporting Address"},
        {"email": "invalid@a.example", "event": "dropped", "reason": "Invalid"},
        {"email": "unsub@a.example", "event": "dropped", "reason": "Unsubscribed Address"},
        {"email": "slow@a.example", "event": "deferred", "response": "400 try again later", "attempt": "5"},
        {"email": "angry@a.example", "event": "spamreport"},
        {"email": "happy@a.example", "event": "delivered", "response": "250 OK"},
        {"email": "happy@a.example", "event": "open"},
    ]
    report = mail_feedback.receive(json.dumps(events), NOW)
    assert report.provider == "sendgrid" and _counts(report) == (5, 0, 3, 2, 0)
    assert _suppressed() == {"hard@a.example": "bounced", "known@a.example": "bounced",
                             "spammy@a.example": "complained", "invalid@a.example": "bounced",
                             "angry@a.example": "complained"}
    assert db.session.get(Suppression, "hard@a.example").detail == "SendGrid bounce: 550 5.1.1 no such user"


@pytest.mark.parametrize("event, expected, reason", [
    ({"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "Email": "gone@b.example",
      "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
      "BouncedAt": "2026-11-02T09:00:00Z", "Inactive": True}, (1, 0, 0, 0, 0), "bounced"),
    ({"RecordType": "Bounce", "Type": "SoftBounce", "Email": "full@b.example", "Inactive": False},
     (0, 0, 1, 0, 0), None),
    ({"RecordType": "Bounce", "Type": "AutoResponder", "Email": "away@b.example"}, (0, 0, 0, 1, 0), None),
    ({"RecordType": "SpamComplaint", "Type": "SpamComplaint", "Email": "angry@b.example"}, (1, 0, 0, 0, 0),
     "complained"),
    ({"RecordType": "Open", "Recipient": "reader@b.example"}, (0, 0, 0, 1, 0), None),
])
def test_postmark(app, event, expected, reason):
    report = mail_feedback.receive(json.dumps(event), NOW)
    assert report.provider == "postmark" and _counts(report) == expected
    assert list(_suppressed().values()) == ([reason] if reason else [])


@pytest.mark.parametrize("data, expected, reason", [
    ({"event": "failed", "severity": "permanent", "recipient": "gone@c.example", "reason": "bounce",
      "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"}}, (1, 0, 0, 0, 0),
     "bounced"),
    ({"event": "failed", "severity": "temporary", "recipient": "full@c.example"}, (0, 0, 1, 0, 0), None),
    ({"event": "complained", "recipient": "angry@c.example"}, (1, 0, 0, 0, 0), "complained"),
    ({"event": "delivered", "recipient": "fine@c.example"}, (0, 0, 0, 1, 0), None),
])
def test_mailgun(app, data, expected, reason):
    body = {"signature": {"timestamp": "1730539800", "token": "t", "signature": "s"}, "event-data": data}
    report = mail_feedback.receive(json.dumps(body), NOW)
    assert report.provider == "mailgun" and _counts(report) == expected
    assert list(_suppressed().values()) == ([reason] if reason else [])


def _sns(message) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
                       "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
                       "Message": message if isinstance(message, str) else json.dumps(message),
                       "Timestamp": "2026-11-02T09:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
                       "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem"})


def test_amazon_ses_through_sns(app):
    bounce = {"notificationType": "Bounce", "mail": {"messageId": "m1"}, "bounce": {
        "bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-11-02T09:00:00.000Z",
        "bouncedRecipients": [{"emailAddress": "gone@d.example", "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"},
                              {"emailAddress": "also-gone@d.example"}]}}
    report = mail_feedback.receive(_sns(bounce), NOW)
    assert report.provider == "amazon_ses" and _counts(report) == (2, 0, 0, 0, 0)
    assert db.session.get(Suppression, "gone@d.example").detail == \
        "SES Permanent bounce (General): smtp; 550 5.1.1 user unknown"
    transient = {"notificationType": "Bounce", "bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull",
                                                          "bouncedRecipients": [{"emailAddress": "full@d.example"}]}}
    assert _counts(mail_feedback.receive(_sns(transient), NOW)) == (0, 0, 1, 0, 0)
    complaint = {"eventType": "Complaint", "mail": {}, "complaint": {
        "complainedRecipients": [{"emailAddress": "angry@d.example"}], "complaintFeedbackType": "abuse"}}
    assert _counts(mail_feedback.receive(_sns(complaint), NOW)) == (1, 0, 0, 0, 0)
    not_spam = {"notificationType": "Complaint", "complaint": {
        "complainedRecipients": [{"emailAddress": "fine@d.example"}], "complaintFeedbackType": "not-spam"}}
    assert _counts(mail_feedback.receive(_sns(not_spam), NOW)) == (0, 0, 0, 1, 0)
    assert _counts(mail_feedback.receive(_sns({"notificationType": "Delivery", "mail": {}}), NOW)) == (0, 0, 0, 1, 0)
    hello = "Successfully validated SNS topic for Amazon SES event publishing."
    assert _counts(mail_feedback.receive(_sns(hello), NOW)) == (0, 0, 0, 1, 0)
    raw = dict(bounce, bounce=dict(bounce["bounce"], bouncedRecipients=[{"emailAddress": "raw@d.example"}]))
    assert _counts(mail_feedback.receive(json.dumps(raw), NOW)) == (1, 0, 0, 0, 0)  # SNS raw message delivery
    assert _suppressed() == {"gone@d.example": "bounced", "also-gone@d.example": "bounced",
                             "angry@d.example": "complained", "raw@d.example": "bounced"}


def test_an_sns_subscription_is_handed_back_to_confirm_never_fetched(app):
    confirm = {"Type": "SubscriptionConfirmation", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Token": "tok",
               "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok"}
    report = mail_feedback.receive(json.dumps(confirm), NOW)
    assert report.subscribe_url.startswith("https://sns.us-east-1.amazonaws.com/") and report.ignored == 1
    forged = dict(confirm, SubscribeURL="https://evil.example/?amazonaws.com")
    assert mail_feedback.receive(json.dumps(forged), NOW).subscribe_url == ""
    assert report.as_dict()["subscribe_url"] == report.subscribe_url


@pytest.mark.parametrize("body, words", [
    (b"", "empty"),
    (b"\xff\xfe\x00", "UTF-8"),
    (b"{not json", "not valid JSON"),
    (b'"just a string"', "JSON object"),
    (b'{"hello": "world"}', "could not tell which mail provider"),
    (b'[1, 2, 3]', "SendGrid"),
])
def test_a_body_we_cannot_read_is_explained(app, body, words):
    with pytest.raises(ValidationError, match=words):
        mail_feedback.receive(body, NOW)
    assert _suppressed() == {}


def test_too_many_events_at_once_are_refused(app):
    events = [{"type": "complaint", "email": f"p{n}@e.example"} for n in range(mail_feedback.MAX_EVENTS + 1)]
    with pytest.raises(ValidationError, match="at most"):
        mail_feedback.receive(json.dumps({"events": events}), NOW)
    assert _suppressed() == {}
