"""The public registration page (/e/<slug>) and the staff pages under /events: personal links,
the anonymous form, hostile input, roles, and htmx check-in with CSRF on."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar
from sqlalchemy import select

from abmcontent import events, tracking
from abmcontent.extensions import db
from abmcontent.models import Account, Consent, Contact, EngagementEvent, EventRegistration
from tests.conftest import NOW, csrf_token_from, login, make_contact, make_user
from tests.test_events import MAIL_FROM

HX = {"HX-Request": "true"}


def _soon(days: int = 10) -> datetime:
    return datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(days=days)


def _event(user=None, start: datetime | None = None, now: datetime | None = None, **overrides):
    """An event at a real time (the views use the clock): by default ten days from now, in Seoul."""
    start = start or _soon()
    zone = overrides.pop("timezone", "Asia/Seoul")
    data = events.EventInput(
        title=overrides.pop("title", "CFO roundtable"), description=overrides.pop("description", "Agenda"),
        starts_at=events.local_input(start, zone), ends_at=events.local_input(start + timedelta(hours=2), zone),
        timezone=zone, location=overrides.pop("location", "Four Seasons, Seoul"),
        online_url=overrides.pop("online_url", "https://meet.example/secret-room"),
        capacity=overrides.pop("capacity", ""), language=overrides.pop("language", "en"))
    now = now or min(datetime.now(timezone.utc), start - timedelta(days=1))
    return events.create_event(data, user or make_user("marketer"), now, MAIL_FROM)


def _invited(event, contact=None):
    contact = contact or make_contact()
    found = events.invitation_for(event, contact, None, NOW)
    return db.session.get(EventRegistration, found["id"]), events.registration_token("test-secret", found["id"])


def _engagement(app, kind):
    tracking.flush(app)
    return list(db.session.scalars(select(EngagementEvent).where(EngagementEvent.type == kind)))


# --- the public page -----------------------------------------------------------------------------

def test_the_page_shows_the_event_in_its_zone_with_seats_left_and_hides_the_online_link(app, client):
    event = _event(capacity="25")
    response = client.get(f"/e/{event.slug}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "CFO roundtable" in html and "Asia/Seoul" in html and "Four Seasons, Seoul" in html
    assert "25 seats left" in html
    assert "meet.example/secret-room" not in html
    assert response.headers["Referrer-Policy"] == "same-origin" and "Set-Cookie" not in response.headers
    assert 'name="email"' in html  # no personal link: the form


def test_an_invitee_registers_with_one_click_and_then_sees_the_online_link(app, client):
    event = _event()
    registration, token = _invited(event)
    page = client.get(f"/e/{event.slug}?r={token}&answer=yes")
    assert 'name="answer" value="yes"' in page.text and 'name="email"' not in page.text
    response = client.post(f"/e/{event.slug}", data={"r": token, "answer": "yes"})
    assert response.status_code == 303 and f"r={token}" in response.headers["Location"]
    db.session.refresh(registration)
    assert registration.status == "registered"
    done = client.get(response.headers["Location"])
    assert "You are registered" in done.text and "https://meet.example/secret-room" in done.text
    assert f"/e/{event.slug}/invite.ics?r=" in done.text
    [registered] = _engagement(app, "event_registered")
    assert (registered.contact_id, registered.channel, registered.detail["event"]) == \
        (registration.contact_id, "event", event.id)


def test_an_invitee_declines_with_one_click(app, client):
    event = _event()
    registration, token = _invited(event)
    client.post(f"/e/{event.slug}", data={"r": token, "answer": "no"})
    db.session.refresh(registration)
    assert registration.status == "declined"
    assert "Thanks for letting us know" in client.get(f"/e/{event.slug}?r={token}").text
    assert len(_engagement(app, "event_declined")) == 1


def test_a_tampered_link_gets_the_generic_page_and_changes_nothing(app, client):
    event = _event()
    registration, token = _invited(event)
    forged = f"{registration.id}.{'A' * 27}"
    generic = client.get(f"/e/{event.slug}").text
    assert client.get(f"/e/{event.slug}?r={forged}").text == generic
    assert client.get(f"/e/{event.slug}?r={token[:-2]}").text == generic
    response = client.post(f"/e/{event.slug}", data={"r": forged, "answer": "yes"})
    db.session.refresh(registration)
    assert response.status_code == 200 and registration.status == "invited"


def test_a_link_for_another_event_is_not_honoured(app, client):
    event, other = _event(), _event(title="Other")
    _registration, token = _invited(event)
    assert "This invitation is for" not in client.get(f"/e/{other.slug}?r={token}").text


def test_repeated_bad_links_are_rate_limited(app, client):
    app.config["TOKEN_MISS_LIMIT"] = 3
    event = _event()
    for n in range(3):
        client.get(f"/e/{event.slug}?r=bad{n}")
    assert client.get(f"/e/{event.slug}?r=bad").status_code == 429


def test_the_anonymous_form_creates_the_contact_at_their_company_and_registers_them(app, client):
    event = _event()
    response = client.post(f"/e/{event.slug}", data={
        "email": "Jane@NorthwindTraders.example", "first_name": "Jane", "last_name": "Doe",
        "company": "Northwind Traders", "title": "CFO", "consent": "yes"})
    assert response.status_code == 303
    contact = db.session.scalar(select(Contact).where(Contact.email == "jane@northwindtraders.example"))
    assert contact.account.name == "Northwind Traders"
    [registration] = db.session.scalars(select(EventRegistration)).all()
    assert (registration.contact_id, registration.status, registration.source) == (contact.id, "registered", "page")
    assert registration.sent_sequence == event.sequence  # later changes reach them
    assert db.session.scalar(select(Consent).where(Consent.contact_id == contact.id)).source.startswith("event page")
    assert "You are registered" in client.get(response.headers["Location"]).text


def test_the_anonymous_form_finds_an_existing_contact_by_email(app, client):
    event = _event()
    priya = make_contact()
    response = client.post(f"/e/{event.slug}", data={"email": "PRIYA@harborview.example"})
    assert db.session.scalar(select(EventRegistration)).contact_id == priya.id
    # anyone can type a known stakeholder's address: no personal link (to decline for her) in return
    assert response.status_code == 303 and "r=" not in response.headers["Location"]
    assert "Thank you" in client.get(response.headers["Location"]).text
    assert db.session.scalar(select(Account.id).where(Account.id != priya.account_id)) is None


def test_form_errors_answer_422_and_keep_every_value_typed(app, client):
    event = _event()
    response = client.post(f"/e/{event.slug}", data={
        "email": "not-an-email", "first_name": "<script>alert(1)</script>", "last_name": "Doe",
        "company": "Acme", "title": "x" * 300, "consent": "yes"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="not-an-email"' in html and 'value="Doe"' in html and 'value="Acme"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert 'name="consent" type="checkbox" value="yes" checked' in html
    assert db.session.scalar(select(EventRegistration)) is None


def test_a_free_mail_address_is_refused_with_a_clear_message(app, client):
    event = _event()
    response = client.post(f"/e/{event.slug}", data={"email": "jane@gmail.com", "first_name": "Jane"})
    assert response.status_code == 422 and "work email" in response.text and 'value="jane@gmail.com"' in response.text
    assert db.session.scalar(select(Contact)) is None


def test_the_honeypot_and_a_cross_site_post_keep_nothing(app, client):
    event = _event()
    bot = client.post(f"/e/{event.slug}", data={"email": "bot@spam.example", "website": "http://spam"})
    assert bot.status_code == 303
    cross = client.post(f"/e/{event.slug}", data={"email": "jane@acme.example"},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert db.session.scalar(select(Contact)) is None


@pytest.mark.csrf
def test_the_public_form_needs_no_csrf_token(app, client):
    event = _event()
    response = client.post(f"/e/{event.slug}", data={"email": "jane@acme.example"},
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 303


def test_a_full_event_offers_the_waitlist(app, client):
    event = _event(capacity="1")
    events.register_contact(event.id, make_contact(), NOW)
    assert "Join the waitlist" in client.get(f"/e/{event.slug}").text
    client.post(f"/e/{event.slug}", data={"email": "jane@acme.example"})
    jane = db.session.scalar(select(Contact).where(Contact.email == "jane@acme.example"))
    registration = db.session.scalar(select(EventRegistration).where(EventRegistration.contact_id == jane.id))
    assert registration.status == "waitlisted"


def test_a_cancelled_event_says_so_and_takes_no_registrations(app, client):
    user = make_user("marketer")
    event = _event(user)
    events.cancel_event(event.id, user, datetime.now(timezone.utc))
    html = client.get(f"/e/{event.slug}").text
    assert "This event has been cancelled" in html and 'name="email"' not in html
    response = client.post(f"/e/{event.slug}", data={"email": "jane@acme.example"})
    assert response.status_code == 422 and db.session.scalar(select(Contact)) is None


def test_an_unknown_event_is_the_public_404_page(app, client):
    response = client.get("/e/no-such-event")
    assert response.status_code == 404 and "Page not found" in response.text and "Sign in" not in response.text


def test_the_page_speaks_the_events_language(app, client):
    event = _event(language="ko")
    assert '<html lang="ko">' in client.get(f"/e/{event.slug}").text


def test_add_to_calendar_downloads_the_event_with_the_link_only_for_the_registered(app, client):
    event = _event()
    registration, token = _invited(event)
    anonymous = client.get(f"/e/{event.slug}/invite.ics")
    assert anonymous.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in anonymous.headers["Content-Disposition"]
    assert b"secret-room" not in anonymous.data
    events.respond(registration.id, "yes", NOW)
    mine = client.get(f"/e/{event.slug}/invite.ics?r={token}")
    item = Calendar.from_ical(mine.data).walk("VEVENT")[0]
    assert str(item["UID"]) == event.uid and "secret-room" in str(item["URL"])


# --- staff pages ---------------------------------------------------------------------------------

def test_the_list_is_empty_with_a_next_step_then_shows_counts(app, client):
    user = make_user("marketer")
    login(client, user)
    empty = client.get("/events").text
    assert "No events yet" in empty and "/events/new" in empty
    event = _event(user, capacity="10")
    events.register_contact(event.id, make_contact(), NOW)
    html = client.get("/events").text
    assert "CFO roundtable" in html and "1 / 10" in html
    assert "(KST, Asia/Seoul)" in html  # the event's own local time, named
    client.post("/language", data={"locale": "ko"})
    assert "(KST, Asia/Seoul)" in client.get("/events").text and "요일" in client.get("/events").text


def test_a_marketer_creates_an_event_from_the_form(app, client):
    login(client, make_user("marketer"))
    start = _soon()
    response = client.post("/events/new", data={
        "title": "Data leaders dinner", "starts_at": events.local_input(start, "Europe/London"),
        "ends_at": events.local_input(start + timedelta(hours=3), "Europe/London"), "timezone": "Europe/London",
        "location": "The Shard, London", "online_url": "", "capacity": "12", "language": "en", "description": ""})
    assert response.status_code == 303
    event = db.session.scalar(select(events.Event))
    assert (event.title, event.capacity, event.timezone) == ("Data leaders dinner", 12, "Europe/London")
    page = client.get(response.headers["Location"]).text
    assert "0 of 12 seats taken" in page and f"/e/{event.slug}" in page


def test_the_form_answers_422_with_the_typed_values_and_every_error(app, client):
    login(client, make_user("campaign"))
    response = client.post("/events/new", data={
        "title": "", "starts_at": "tomorrow", "ends_at": "", "timezone": "UTC", "location": "Room <b>1</b>",
        "online_url": "ftp://x", "capacity": "-3", "language": "en"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Room &lt;b&gt;1&lt;/b&gt;"' in html and 'value="ftp://x"' in html and 'value="-3"' in html
    assert html.count('class="field-errors"') >= 4


def test_a_sales_rep_reads_events_but_cannot_change_them(app, client):
    event = _event()
    login(client, make_user("sales"))
    assert client.get("/events").status_code == 200
    page = client.get(f"/events/{event.id}").text
    assert f"/events/{event.id}/edit" not in page and f"/events/{event.id}/cancel" not in page
    assert client.get("/events/new").status_code == 403
    assert client.post(f"/events/{event.id}/cancel").status_code == 403
    assert client.post(f"/events/{event.id}/edit", data={"title": "x"}).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    event = _event()
    assert client.get("/events").status_code == 302
    assert client.get(f"/events/{event.id}").status_code == 302


def test_cancelling_asks_first_then_cancels(app, client):
    user = make_user("marketer")
    event = _event(user)
    _invited(event)
    login(client, user)
    ask = client.get(f"/events/{event.id}/cancel")
    assert "Cancel this event?" in ask.text and "1 people invited" in ask.text
    assert event.status == "scheduled"
    client.post(f"/events/{event.id}/cancel")
    db.session.refresh(event)
    assert (event.status, event.sequence) == ("cancelled", 1)


def test_editing_the_time_tells_the_marketer_invitees_will_be_updated(app, client):
    user = make_user("marketer")
    event = _event(user)
    login(client, user)
    data = vars(events.input_for(event)).copy()
    data["starts_at"] = events.local_input(event.starts_at + timedelta(hours=1), event.timezone)
    response = client.post(f"/events/{event.id}/edit", data=data, follow_redirects=True)
    assert "updated invitation" in response.text
    db.session.refresh(event)
    assert event.sequence == 1


@pytest.mark.csrf
def test_htmx_check_in_swaps_the_row_and_needs_the_csrf_token(app, client):
    user = make_user("marketer")
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    event = _event(user, start=start, now=start - timedelta(days=2))
    registration, _token = _invited(event)
    events.respond(registration.id, "yes", start - timedelta(days=1))
    login(client, user)
    page = client.get(f"/events/{event.id}").text
    assert f'hx-post="/events/{event.id}/registrations/{registration.id}/attendance"' in page
    url = f"/events/{event.id}/registrations/{registration.id}/attendance"
    refused = client.post(url, headers=HX, data={"attended": "yes"})
    assert refused.status_code == 400
    token = csrf_token_from(page)
    response = client.post(url, headers={**HX, "X-CSRFToken": token}, data={"attended": "yes"})
    assert response.status_code == 200 and response.text.lstrip().startswith(f'<tr id="registration-{registration.id}"')
    assert 'aria-pressed="true"' in response.text and "HX-Request" in response.headers["Vary"]
    db.session.refresh(registration)
    assert registration.attended_at is not None
    assert len(_engagement(app, "event_attended")) == 1


def test_bulk_attendance_and_a_check_in_before_the_start_is_refused(app, client):
    user = make_user("marketer")
    upcoming = _event(user)
    registration, _token = _invited(upcoming)
    login(client, user)
    early = client.post(f"/events/{upcoming.id}/registrations/{registration.id}/attendance", headers=HX,
                        data={"attended": "yes"})
    assert early.status_code == 422 and registration.attended_at is None
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    running = _event(user, start=start, now=start - timedelta(days=1))
    a, _ = _invited(running, make_contact(email="a@acme.example", domain="acme.example", account_name="Acme"))
    b, _ = _invited(running, make_contact(email="b@globex.example", domain="globex.example", account_name="Globex"))
    client.post(f"/events/{running.id}/attendance", data={"ids": [str(a.id), str(b.id)], "attended": "yes"})
    db.session.refresh(a)
    db.session.refresh(b)
    assert a.attended_at is not None and b.attended_at is not None


def test_attendance_import_from_the_event_page_shows_the_report(app, client):
    user = make_user("marketer")
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    event = _event(user, start=start, now=start - timedelta(days=1))
    priya = make_contact()
    _invited(event, priya)
    login(client, user)
    import io

    csv = io.BytesIO(b"Email,Name\npriya@harborview.example,Priya\n=cmd|'/c calc'!A0,Evil\n")
    response = client.post(f"/events/{event.id}/attendance/import", data={"file": (csv, "webinar.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "1 checked in" in response.text and "=cmd|&#39;/c calc&#39;!A0" in response.text
