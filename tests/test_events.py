"""Events: validation, sequence and UID rules, the iCalendar an invitee gets (parsed back with the
icalendar library), seats and the waitlist, RSVP and attendance as engagement, attendance import."""
from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from abmcontent import events, tracking
from abmcontent.errors import InvalidTransition, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Contact, EngagementEvent
from tests.conftest import NOW, make_contact, make_user

MAIL_FROM = "Cobalt Data <marketing@cobaltdata.example>"


def make_event(user=None, **overrides):
    data = events.EventInput(
        title=overrides.pop("title", "Executive roundtable"),
        description=overrides.pop("description", "Peers compare notes on **month-end close**."),
        starts_at=overrides.pop("starts_at", "2026-12-01T10:00"), ends_at=overrides.pop("ends_at", "2026-12-01T12:00"),
        timezone=overrides.pop("timezone", "America/New_York"),
        location=overrides.pop("location", "The Langham, Boston"),
        online_url=overrides.pop("online_url", "https://meet.example/roundtable"),
        capacity=overrides.pop("capacity", ""), language=overrides.pop("language", "en"))
    return events.create_event(data, user or make_user("marketer"), overrides.pop("now", NOW), MAIL_FROM)


def make_people(count: int, domain: str = "harborview.example"):
    first = make_contact(email=f"p0@{domain}", domain=domain)
    people = [first]
    for n in range(1, count):
        contact = Contact(account=first.account, first_name=f"P{n}", last_name="Person", email=f"p{n}@{domain}")
        db.session.add(contact)
        people.append(contact)
    db.session.commit()
    return people


def parse(ics: bytes):
    calendar = Calendar.from_ical(ics)
    return calendar, calendar.walk("VEVENT")[0]


def engagement(kind: str) -> list[EngagementEvent]:
    tracking.flush()
    return list(db.session.scalars(select(EngagementEvent).where(EngagementEvent.type == kind)
                                   .order_by(EngagementEvent.id)))


# --- creating and changing ------------------------------------------------------------------

def test_a_new_event_gets_a_readable_unguessable_slug_and_a_uid_at_the_sender_domain(app):
    event = make_event(title="CFO Roundtable: Boston, 2026!")
    other = make_event(title="CFO Roundtable: Boston, 2026!")
    assert event.slug.startswith("cfo-roundtable-boston-2026-") and len(event.slug) > len("cfo-roundtable-boston-2026-")
    assert event.slug != other.slug
    assert event.uid.endswith("@cobaltdata.example") and event.uid != other.uid
    assert event.starts_at == NOW.replace(month=12, day=1, hour=15, minute=0)  # 10:00 in Boston = 15:00 UTC
    assert (event.status, event.sequence) == ("scheduled", 0)


def test_a_korean_title_still_gets_a_slug(app):
    assert make_event(title="데이터 임원 라운드테이블").slug.startswith("event-")


def test_invalid_input_gets_a_message_for_every_field(app):
    with pytest.raises(ValidationError) as caught:
        make_event(title="two\nlines", starts_at="soon", ends_at="2026-12-01T09:00", timezone="Mars/Olympus",
                   location="", online_url="javascript:alert(1)", capacity="0", language="fr")
    assert set(caught.value.errors) >= {"title", "timezone", "online_url", "capacity", "language"}
    with pytest.raises(ValidationError) as caught:
        make_event(starts_at="2026-12-01T10:00", ends_at="2026-12-01T09:00")
    assert "ends_at" in caught.value.errors
    with pytest.raises(ValidationError) as caught:
        make_event(starts_at="2026-10-01T10:00", ends_at="2026-10-01T11:00")
    assert "starts_at" in caught.value.errors  # in the past
    with pytest.raises(ValidationError) as caught:
        make_event(location="", online_url="")
    assert "location" in caught.value.errors


def test_a_local_time_the_clocks_skip_is_refused(app):
    with pytest.raises(ValidationError) as caught:
        make_event(starts_at="2027-03-14T02:30", ends_at="2027-03-14T04:00", timezone="America/New_York")
    assert "starts_at" in caught.value.errors


def test_a_sales_rep_cannot_create_or_change_events(app):
    with pytest.raises(PermissionDenied):
        make_event(user=make_user("sales"))


def test_changing_what_invitees_must_know_bumps_the_sequence_and_keeps_the_uid(app):
    user = make_user("marketer")
    event = make_event(user)
    uid = event.uid
    data = events.input_for(event)
    data.description = "A new agenda"
    data.capacity = "30"
    events.update_event(event.id, data, user, NOW)
    assert event.sequence == 0  # description and seats: nobody's calendar changes
    data.starts_at = "2026-12-01T11:00"
    data.ends_at = "2026-12-01T13:00"
    events.update_event(event.id, data, user, NOW)
    assert event.sequence == 1
    data.location = "Online only"
    events.update_event(event.id, data, user, NOW)
    assert (event.sequence, event.uid) == (2, uid)
    events.cancel_event(event.id, user, NOW)
    assert (event.status, event.sequence, event.uid) == ("cancelled", 3, uid)
    with pytest.raises(InvalidTransition):
        events.update_event(event.id, data, user, NOW)
    with pytest.raises(InvalidTransition):
        events.cancel_event(event.id, user, NOW)


# --- the calendar -----------------------------------------------------------------------------

def test_the_invitation_calendar_is_a_request_with_the_event_in_its_own_zone(app):
    event = make_event()
    [priya] = make_people(1)
    registration = events.register_contact(event.id, priya, NOW)
    calendar, item = parse(events.calendar_bytes(event, registration, "REQUEST", organizer=MAIL_FROM, now=NOW,
                                                 page="https://abm.example/e/x?r=t"))
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(item["UID"]) == event.uid and int(item["SEQUENCE"]) == 0
    assert item.decoded("DTSTAMP") == NOW
    start = item.decoded("DTSTART")
    assert str(start.tzinfo) == "America/New_York" and (start.hour, start.minute) == (10, 0)
    assert item["DTSTART"].params["TZID"] == "America/New_York"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    assert str(item["STATUS"]) == "CONFIRMED"
    assert str(item["ORGANIZER"]) == "mailto:marketing@cobaltdata.example"
    assert item["ORGANIZER"].params["CN"] == "Cobalt Data"
    attendee = item["ATTENDEE"]
    assert str(attendee) == "mailto:p0@harborview.example" and attendee.params["PARTSTAT"] == "ACCEPTED"
    assert "https://meet.example/roundtable" in str(item["URL"])  # registered: the online link


def test_someone_not_registered_gets_the_page_not_the_online_link(app):
    event = make_event()
    [priya] = make_people(1)
    found = events.invitation_for(event, priya, None, NOW)
    registration = db.session.get(events.EventRegistration, found["id"])
    ics = events.calendar_bytes(event, registration, "REQUEST", organizer=MAIL_FROM, now=NOW,
                                page="https://abm.example/e/x?r=t")
    _calendar, item = parse(ics)
    assert b"meet.example" not in ics
    assert str(item["URL"]) == "https://abm.example/e/x?r=t"
    assert item["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION" and item["ATTENDEE"].params["RSVP"] == "TRUE"


def test_uid_stays_and_sequence_counts_up_in_the_calendar_across_updates_and_the_cancel(app):
    user = make_user("marketer")
    event = make_event(user)
    [priya] = make_people(1)
    registration = events.register_contact(event.id, priya, NOW)
    first = parse(events.calendar_bytes(event, registration, "REQUEST", organizer=MAIL_FROM, now=NOW))[1]
    data = events.input_for(event)
    data.title = "Executive roundtable (new room)"
    events.update_event(event.id, data, user, NOW)
    second = parse(events.calendar_bytes(event, registration, "REQUEST", organizer=MAIL_FROM, now=NOW))[1]
    events.cancel_event(event.id, user, NOW)
    calendar, third = parse(events.calendar_bytes(event, registration, "CANCEL", organizer=MAIL_FROM, now=NOW))
    assert str(first["UID"]) == str(second["UID"]) == str(third["UID"]) == event.uid
    assert [int(c["SEQUENCE"]) for c in (first, second, third)] == [0, 1, 2]
    assert str(calendar["METHOD"]) == "CANCEL" and str(third["STATUS"]) == "CANCELLED"


def test_hostile_text_is_escaped_and_lines_are_folded_at_75_octets(app):
    title = 'Q4; "roundtable", part 1\\2 ' + "데이터 플랫폼 " * 12
    description = "Agenda:\n1, welcome; 2, panel\nBEGIN:VEVENT\nSUMMARY:injected"
    event = make_event(title="placeholder", description=description, location="Room 4; floor 2, east wing")
    event.title = title + "\r\nATTENDEE:mailto:evil@example.com"  # even if it got past validation
    db.session.commit()
    ics = events.calendar_bytes(event, None, "PUBLISH", organizer=MAIL_FROM, now=NOW)
    lines = ics.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75
    assert all(not line.startswith((b"BEGIN:VEVENT\\", b"SUMMARY:injected")) for line in lines)
    assert sum(line == b"BEGIN:VEVENT" for line in lines) == 1
    assert not any(line.startswith(b"ATTENDEE") for line in lines)
    unfolded = ics.replace(b"\r\n ", b"")
    assert b"Room 4\\; floor 2\\, east wing" in unfolded
    assert b"1\\, welcome\\; 2\\, panel\\nBEGIN:VEVENT\\nSUMMARY:injected" in unfolded
    _calendar, item = parse(ics)
    assert str(item["SUMMARY"]) == event.title.replace("\r\n", "\n")  # one property, the break escaped
    assert str(item["DESCRIPTION"]).startswith(description)
    assert str(item["LOCATION"]) == "Room 4; floor 2, east wing"


def test_a_utc_event_needs_no_vtimezone(app):
    event = make_event(timezone="UTC")
    calendar, item = parse(events.calendar_bytes(event, None, "PUBLISH", organizer=MAIL_FROM, now=NOW))
    assert calendar.walk("VTIMEZONE") == [] and item.decoded("DTSTART").utcoffset() == timedelta(0)


def test_times_read_in_the_recipients_zone_and_language(app):
    event = make_event(timezone="Asia/Seoul", starts_at="2026-12-02T09:00", ends_at="2026-12-02T10:00")
    seoul = events.when(event, "Asia/Seoul", "ko")
    boston = events.when(event, "America/New_York", "en")
    assert "2026" in seoul and "12" in seoul and "Asia/Seoul" in seoul
    assert "December 1, 2026" in boston and "7:00" in boston and "EST" in boston


def test_the_recipients_zone_is_their_own_else_their_accounts_else_the_events(app):
    event = make_event(timezone="Europe/London")
    [priya] = make_people(1)
    priya.account.country, priya.account.region = "US", "CA"
    assert events.zone_for(priya, event) == "America/Los_Angeles"
    priya.timezone = "Asia/Seoul"
    assert events.zone_for(priya, event) == "Asia/Seoul"
    priya.timezone, priya.account.country = "", ""
    assert events.zone_for(priya, event) == "Europe/London"


# --- seats and the waitlist --------------------------------------------------------------------

def test_past_capacity_people_are_waitlisted_and_a_freed_seat_goes_to_the_first_waiting(app):
    event = make_event(capacity="2")
    a, b, c, d = make_people(4)
    assert events.register_contact(event.id, a, NOW).status == "registered"
    assert events.register_contact(event.id, b, NOW).status == "registered"
    third = events.register_contact(event.id, c, NOW + timedelta(minutes=1))
    fourth = events.register_contact(event.id, d, NOW + timedelta(minutes=2))
    assert (third.status, fourth.status) == ("waitlisted", "waitlisted")
    assert events.seats_left(event) == 0
    first = db.session.scalar(select(events.EventRegistration).where(events.EventRegistration.contact_id == a.id))
    events.respond(first.id, "no", NOW + timedelta(minutes=3))
    assert (first.status, third.status, fourth.status) == ("declined", "registered", "waitlisted")
    second = db.session.scalar(select(events.EventRegistration).where(events.EventRegistration.contact_id == b.id))
    events.cancel_registration(second.id, make_user("campaign"), NOW + timedelta(minutes=4))
    assert (second.status, fourth.status) == ("cancelled", "registered")


def test_more_seats_give_the_waitlist_a_place(app):
    user = make_user("marketer")
    event = make_event(user, capacity="1")
    a, b = make_people(2)
    events.register_contact(event.id, a, NOW)
    waiting = events.register_contact(event.id, b, NOW)
    assert waiting.status == "waitlisted"
    data = events.input_for(event)
    data.capacity = "0"
    with pytest.raises(ValidationError):
        events.update_event(event.id, data, user, NOW)
    db.session.rollback()
    data.capacity = "5"
    events.update_event(event.id, data, user, NOW)
    assert waiting.status == "registered"


def test_answering_twice_changes_nothing_and_a_cancelled_event_takes_no_answers(app):
    user = make_user("marketer")
    event = make_event(user)
    [priya] = make_people(1)
    registration = events.register_contact(event.id, priya, NOW)
    events.respond(registration.id, "yes", NOW)
    assert len(engagement("event_registered")) == 1
    events.cancel_event(event.id, user, NOW)
    with pytest.raises(InvalidTransition):
        events.respond(registration.id, "no", NOW)


# --- engagement --------------------------------------------------------------------------------

def test_rsvps_and_attendance_are_recorded_as_engagement_on_the_event_channel(app):
    user = make_user("marketer")
    event = make_event(user)
    priya, sam = make_people(2)
    yes = events.register_contact(event.id, priya, NOW)
    found = events.invitation_for(event, sam, None, NOW)
    events.respond(found["id"], "no", NOW)
    with pytest.raises(ValidationError):  # before the event starts there is nothing to check in
        events.set_attendance(event.id, [yes.id], True, user, NOW)
    during = event.starts_at + timedelta(minutes=10)
    events.set_attendance(event.id, [yes.id], True, user, during)
    events.set_attendance(event.id, [yes.id], True, user, during)  # again: counted once
    [registered] = engagement("event_registered")
    [declined] = engagement("event_declined")
    [attended] = engagement("event_attended")
    assert (registered.contact_id, registered.account_id, registered.channel) == (priya.id, priya.account_id, "event")
    assert registered.detail["event"] == event.id and declined.contact_id == sam.id
    assert attended.contact_id == priya.id and attended.detail["event"] == event.id
    assert attended.occurred_at == during
    events.set_attendance(event.id, [yes.id], False, user, during)
    assert yes.attended_at is None


def test_attendance_imports_from_a_webinar_export_with_a_report_of_what_matched(app):
    user = make_user("marketer")
    event = make_event(user)
    priya, sam, lee = make_people(3)
    events.register_contact(event.id, priya, NOW)
    events.invitation_for(event, sam, None, NOW)
    data = ("\ufeffName;Email;Minutes\nPriya;P0@harborview.example;55\nSam;p1@harborview.example;40\n"
            "Lee;p2@harborview.example;12\nGhost;ghost@nowhere.example;3\nBad;not-an-email;1\n"
            "Priya again;p0@harborview.example;55\n").encode("utf-8")
    report = events.import_attendance(event.id, data, user, event.starts_at + timedelta(hours=3))
    assert (report.matched, report.already, report.added) == (3, 0, 1)
    assert [(row, why) for row, _value, why in report.unmatched] == [
        (5, "no stakeholder with this address"), (6, "not an email address"), (7, "listed twice")]
    assert {e.contact_id for e in engagement("event_attended")} == {priya.id, sam.id, lee.id}
    again = events.import_attendance(event.id, data, user, event.starts_at + timedelta(hours=4))
    assert (again.matched, again.already) == (0, 3)


def test_an_attendance_file_in_cp949_without_a_header_is_read(app):
    user = make_user("marketer")
    event = make_event(user)
    [priya] = make_people(1)
    data = "p0@harborview.example,이프리야\n".encode("cp949")
    report = events.import_attendance(event.id, data, user, event.starts_at + timedelta(hours=1))
    assert report.matched == 1 and report.added == 1


def test_an_empty_attendance_file_is_refused(app):
    user = make_user("marketer")
    event = make_event(user)
    with pytest.raises(ValidationError):
        events.import_attendance(event.id, b"  \n", user, event.starts_at + timedelta(hours=1))


# --- personal links -----------------------------------------------------------------------------

def test_a_personal_link_names_one_registration_and_a_changed_one_names_none(app):
    event, other = make_event(), make_event()
    [priya] = make_people(1)
    registration = events.register_contact(event.id, priya, NOW)
    token = events.registration_token("test-secret", registration.id)
    assert str(registration.id) not in token.split(".")[-1]
    assert events.registration_for_token("test-secret", token, event) is registration
    assert events.registration_for_token("test-secret", token, other) is None
    assert events.registration_for_token("test-secret", token[:-1] + ("A" if token[-1] != "A" else "B"), event) is None
    assert events.registration_for_token("test-secret", f"{registration.id + 1}." + token.split(".")[1], event) is None
    assert events.registration_for_token("other-secret", token, event) is None
