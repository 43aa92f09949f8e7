"""Event invitations through the dispatcher to a real SMTP server on loopback (aiosmtpd): the
message and its iCalendar parts as received, the email rules applied, and updates and
cancellations reaching each invitee exactly once."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from abmcontent import contacts, dispatch, events, touchpoints
from abmcontent.channels.event import EventChannel
from abmcontent.extensions import db
from abmcontent.models import Consent, Contact, EventRegistration, Plan, PlanStep, Suppression
from tests.conftest import NOW, make_user
from tests.test_accounts import make_account
from tests.test_events import make_event


@pytest.fixture
def mail(app, smtp_server):
    app.config["MAIL_URL"] = smtp_server.url
    app.config["BASE_URL"] = "https://abm.example"
    app.config["FREQUENCY_CAP"] = 0
    return smtp_server


def _person(email="priya@harborview.example", first="Priya", country="US", **overrides):
    domain = email.rsplit("@", 1)[1]
    account = make_account(name=overrides.pop("account_name", "Harborview Bank"), domains=[domain], country=country)
    contact = Contact(account=account, first_name=first, last_name="Raman", email=email, **overrides)
    db.session.add(contact)
    db.session.commit()
    return contact


def _invite(event, contact, subject="", due=NOW, step=None):
    if step is None:
        plan = Plan(name="Roundtable", created_at=NOW, updated_at=NOW)
        step = PlanStep(channel="event", event_id=event.id if event else None, subject=subject, conditions={})
        plan.steps.append(step)
        db.session.add(plan)
        db.session.commit()
    return touchpoints.schedule(account_id=contact.account_id, contact_id=contact.id, channel="event", due_at=due,
                                window_end_at=due + timedelta(hours=8), step_id=step.id, subject=subject,
                                key=touchpoints.idempotency_key("event-test", contact.id, step.id, due), now=NOW)


def _calendar_of(message):
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    return parts[0], Calendar.from_ical(parts[0].get_content())


def test_an_invitation_arrives_with_the_event_its_calendar_and_personal_links(app, mail):
    event = make_event(description="Three CFOs on **closing in five days**.")
    priya = _person()
    touchpoint = _invite(event, priya, subject="{{ contact.first_name }}, join our roundtable")
    assert dispatch.dispatch_once(NOW, "w1").counts == {"sent": 1}
    [message] = mail.messages
    assert message["Subject"] == "Priya, join our roundtable"
    assert message["Message-ID"] == f"<tp-{touchpoint.idempotency_key}@cobaltdata.example>"
    assert message["List-Unsubscribe"].startswith("<https://abm.example/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    part, calendar = _calendar_of(message)
    assert part.get_param("method") == "REQUEST"
    item = calendar.walk("VEVENT")[0]
    assert str(calendar["METHOD"]) == "REQUEST" and str(item["UID"]) == event.uid and int(item["SEQUENCE"]) == 0
    assert str(item["ATTENDEE"]) == "mailto:priya@harborview.example"
    [attachment] = [p for p in message.iter_attachments()]
    assert attachment.get_filename() == "invite.ics" and b"BEGIN:VCALENDAR" in attachment.get_content()
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Executive roundtable" in text and "The Langham, Boston" in text and "100 Summer Street" in text
    assert "<strong>closing in five days</strong>" in html
    assert "meet.example" not in text + html  # the online link is for registered people only
    registration = db.session.scalar(select(EventRegistration))
    links = re.findall(r"https://abm\.example/e/[^\s\"<]+", text)
    assert any("answer=yes" in link for link in links) and any("answer=no" in link for link in links)
    token = events.registration_token("test-secret", registration.id)
    assert all(f"r={token}" in link for link in links) and f"r={registration.id}&" not in text
    assert (registration.status, registration.sent_sequence, registration.touchpoint_id) == \
        ("invited", 0, touchpoint.id)
    assert registration.invited_at == NOW
    db.session.refresh(touchpoint)
    assert (touchpoint.status, touchpoint.provider_id) == ("sent", message["Message-ID"])


def test_the_invitation_shows_the_time_in_the_recipients_zone_and_the_events(app, mail):
    event = make_event(timezone="America/New_York")
    _invite(event, _person(timezone="Asia/Seoul"))
    dispatch.dispatch_once(NOW, "w1")
    text = mail.messages[0].get_body(("plain",)).get_content()
    assert "Wednesday, December 2, 2026, 12:00" in text and "Asia/Seoul" in text  # 10:00 in Boston
    assert "America/New_York" in text


def test_a_korean_invitee_needs_prior_consent_and_gets_the_advertising_subject(app, mail):
    event = make_event(title="데이터 임원 라운드테이블")
    jiwoo = _person("jiwoo@hanbit.example", "지우", country="KR", account_name="한빛 데이터", language="ko")
    first = _invite(event, jiwoo)
    dispatch.dispatch_once(NOW, "w1")
    assert mail.messages == [] and first.status == "skipped" and "consent" in first.last_error
    jiwoo.consents.append(Consent(channel="email", source="booth", wording="동의합니다", given_at=NOW))
    db.session.commit()
    _invite(event, jiwoo, due=NOW + timedelta(minutes=1))
    dispatch.dispatch_once(NOW + timedelta(minutes=1), "w1")
    [message] = mail.messages
    assert message["Subject"] == "(광고) 데이터 임원 라운드테이블"
    assert "2026년" in message.get_body(("plain",)).get_content()


def test_no_event_a_cancelled_one_or_one_already_started_is_skipped_with_the_reason(app, mail):
    user = make_user("marketer")
    gone = make_event(user)
    events.cancel_event(gone.id, user, NOW)
    started = make_event(user)
    a, b, c = (_person(f"p{n}@harborview{n}.example") for n in range(3))
    no_event = _invite(None, a)
    cancelled = _invite(gone, b)
    late = _invite(started, c, due=started.starts_at + timedelta(minutes=5))
    dispatch.dispatch_once(NOW, "w1")
    dispatch.dispatch_once(started.starts_at + timedelta(minutes=5), "w1")
    for touchpoint in (no_event, cancelled, late):
        db.session.refresh(touchpoint)
    assert mail.messages == []
    assert "no event" in no_event.last_error and "cancelled" in cancelled.last_error
    assert "started" in late.last_error and late.status == "skipped"


def test_someone_who_already_answered_is_not_invited_again(app, mail):
    event = make_event()
    priya = _person()
    events.register_contact(event.id, priya, NOW)
    touchpoint = _invite(event, priya)
    assert dispatch.dispatch_once(NOW, "w1").counts == {"skipped": 1}
    assert mail.messages == [] and "already registered" in touchpoint.last_error


def test_a_temporary_refusal_retries_and_a_hard_bounce_suppresses(app, mail):
    event = make_event()
    priya = _person()
    touchpoint = _invite(event, priya)
    mail.rcpt_reply = "450 4.2.0 Mailbox busy"
    assert dispatch.dispatch_once(NOW, "w1").counts == {"planned": 1}
    registration = db.session.scalar(select(EventRegistration))
    assert registration.sent_sequence is None  # not sent: no update is owed either
    mail.rcpt_reply = "550 5.1.1 No such user"
    dispatch.dispatch_once(NOW + timedelta(minutes=1), "w1")
    db.session.refresh(touchpoint)
    assert touchpoint.status == "failed" and db.session.get(Suppression, "priya@harborview.example") is not None


def test_a_line_break_in_the_subject_fails_the_invitation_without_sending(app, mail):
    event = make_event()
    touchpoint = _invite(event, _person(), subject="Hello\r\nBcc: everyone@example.com")
    dispatch.dispatch_once(NOW, "w1")
    db.session.refresh(touchpoint)
    assert touchpoint.status == "failed" and mail.messages == []


def _invite_three(mail):
    user = make_user("marketer")
    event = make_event(user)
    people = [_person(f"p{n}@harborview{n}.example", f"P{n}") for n in range(3)]
    for person in people:
        _invite(event, person)
    assert dispatch.dispatch_once(NOW, "w1").counts == {"sent": 3}
    mail.messages.clear()
    return user, event, people


def _sequences(messages) -> dict[str, tuple[str, int]]:
    found = {}
    for message in messages:
        _part, calendar = _calendar_of(message)
        item = calendar.walk("VEVENT")[0]
        found[str(item["ATTENDEE"]).removeprefix("mailto:")] = (str(calendar["METHOD"]), int(item["SEQUENCE"]))
    return found


def test_an_update_and_then_the_cancel_reach_each_invitee_exactly_once(app, mail):
    user, event, people = _invite_three(mail)
    registration = db.session.scalar(select(EventRegistration).where(EventRegistration.contact_id == people[2].id))
    events.respond(registration.id, "no", NOW)  # declined: hears nothing more
    data = events.input_for(event)
    data.starts_at, data.ends_at = "2026-12-01T14:00", "2026-12-01T16:00"
    events.update_event(event.id, data, user, NOW)
    assert events.send_updates(NOW).counts == {"sent": 2}
    assert events.send_updates(NOW).claimed == 0
    assert _sequences(mail.messages) == {"p0@harborview0.example": ("REQUEST", 1),
                                         "p1@harborview1.example": ("REQUEST", 1)}
    assert all(m["Subject"] == "Updated: Executive roundtable" for m in mail.messages)
    assert "2:00" in mail.messages[0].get_body(("plain",)).get_content()
    mail.messages.clear()
    events.cancel_event(event.id, user, NOW)
    events.send_updates(NOW)
    events.send_updates(NOW)
    assert _sequences(mail.messages) == {"p0@harborview0.example": ("CANCEL", 2),
                                         "p1@harborview1.example": ("CANCEL", 2)}
    item = _calendar_of(mail.messages[0])[1].walk("VEVENT")[0]
    assert str(item["STATUS"]) == "CANCELLED" and str(item["UID"]) == event.uid
    assert mail.messages[0]["Subject"] == "Cancelled: Executive roundtable"
    assert len({m["Message-ID"] for m in mail.messages}) == 2


def test_an_unsubscribed_or_suppressed_invitee_gets_no_update(app, mail):
    user, event, people = _invite_three(mail)
    contacts.unsubscribe(people[0].id, "test", NOW)
    db.session.add(Suppression(email="p1@harborview1.example", reason="complained", at=NOW))
    db.session.commit()
    data = events.input_for(event)
    data.location = "The Langham, Ballroom B"
    events.update_event(event.id, data, user, NOW)
    report = events.send_updates(NOW)
    assert report.counts == {"skipped": 2, "sent": 1}
    assert list(_sequences(mail.messages)) == ["p2@harborview2.example"]
    assert events.send_updates(NOW).claimed == 0  # skipped ones are not tried again for this change


def test_a_temporary_failure_gives_the_update_back_for_the_next_pass(app, mail):
    user, event, people = _invite_three(mail)
    data = events.input_for(event)
    data.title = "Executive roundtable: new date"
    events.update_event(event.id, data, user, NOW)
    mail.rcpt_reply = "451 4.3.0 Try again later"
    assert events.send_updates(NOW).counts == {"retry": 3}
    assert mail.messages == []
    mail.rcpt_reply = None
    assert events.send_updates(NOW).counts == {"sent": 3}
    assert events.send_updates(NOW).claimed == 0 and len(mail.messages) == 3


class _Interleaved(EventChannel):
    """Another process's pass runs in the middle of this one's first send."""

    def __init__(self, config, now):
        super().__init__(config)
        self.now, self.done = now, False

    def send_update(self, registration, sequence, now):
        if not self.done:
            self.done = True
            events.send_updates(self.now, channel=EventChannel(self.config))
        return super().send_update(registration, sequence, now)


def test_two_update_runs_at_once_send_each_update_once(app, mail):
    user, event, people = _invite_three(mail)
    data = events.input_for(event)
    data.online_url = "https://meet.example/new-room"
    events.update_event(event.id, data, user, NOW)
    events.send_updates(NOW, channel=_Interleaved(app.config, NOW))
    assert sorted(_sequences(mail.messages)) == [f"p{n}@harborview{n}.example" for n in range(3)]
    assert len(mail.messages) == 3


def test_the_event_channel_is_registered_for_plans(app):
    from abmcontent import channels

    assert isinstance(channels.for_app(app)["event"], EventChannel)


class _DiesMidSend(EventChannel):
    """A sender process that dies after claiming its first update, before the message goes."""

    def send_update(self, registration, sequence, now):
        raise SystemExit("killed")


def test_an_update_whose_sender_died_is_sent_after_its_lease_runs_out(app, mail):
    from datetime import timedelta

    user, event, people = _invite_three(mail)
    data = events.input_for(event)
    data.title = "Executive roundtable: new room"
    events.update_event(event.id, data, user, NOW)
    with pytest.raises(SystemExit):
        events.send_updates(NOW, channel=_DiesMidSend(app.config))
    assert events.send_updates(NOW + timedelta(minutes=1)).counts == {"sent": 2}  # the claimed one waits
    assert events.send_updates(NOW + timedelta(minutes=6)).counts == {"sent": 1}  # its lease ran out
    assert events.send_updates(NOW + timedelta(minutes=12)).claimed == 0
    assert sorted(_sequences(mail.messages).values()) == [("REQUEST", 1)] * 3 and len(mail.messages) == 3
