"""The dispatcher and the email channel against a real SMTP server on loopback (aiosmtpd):
messages and headers as received, retries, suppression, missed windows, expired leases, and
several dispatcher processes over one PostgreSQL database sending each email exactly once."""
from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
from sqlalchemy import select

from abmcontent import contacts, dispatch, touchpoints
from abmcontent.extensions import db
from abmcontent.models import Consent, Contact, Suppression, Touchpoint
from tests.conftest import NOW, free_port, make_asset, make_user
from tests.test_accounts import make_account


def _email_touchpoint(contact, asset=None, due=NOW, subject="A plan for {{ account.name }}", key=None):
    return touchpoints.schedule(account_id=contact.account_id, contact_id=contact.id, channel="email",
                                due_at=due, window_end_at=due + timedelta(hours=8),
                                key=key or touchpoints.idempotency_key("test", contact.id, due, subject),
                                now=NOW, asset_id=asset.id if asset else None, subject=subject)


def _priya(**overrides):
    account = make_account(name=overrides.pop("account_name", "Harborview Bank"),
                           domains=[overrides.pop("domain", "harborview.example")],
                           country=overrides.pop("country", "US"))
    contact = Contact(account=account, first_name="Priya", last_name="Raman",
                      email=overrides.pop("email", "priya@harborview.example"), **overrides)
    db.session.add(contact)
    db.session.commit()
    return contact


@pytest.fixture
def mail(app, smtp_server):
    app.config["MAIL_URL"] = smtp_server.url
    app.config["BASE_URL"] = "https://abm.example"
    return smtp_server


def test_a_due_email_arrives_once_with_the_headers_a_mail_client_needs(app, mail):
    asset = make_asset(make_user(), status="published", title="Cut your close",
                       body="Hello {{ contact.first_name | \"there\" }} at **{{ account.name }}**.")
    contact = _priya()
    touchpoint = _email_touchpoint(contact, asset)
    report = dispatch.dispatch_once(NOW, "w1")
    assert report.counts == {"sent": 1}
    [message] = mail.messages
    assert message["Subject"] == "A plan for Harborview Bank"
    assert message["To"] == "Priya Raman <priya@harborview.example>"
    assert message["Message-ID"] == f"<tp-{touchpoint.idempotency_key}@cobaltdata.example>"
    assert message["List-Unsubscribe"].startswith("<https://abm.example/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<strong>Harborview Bank</strong>" in html and "Hello Priya" in text
    assert "100 Summer Street" in html and "100 Summer Street" in text
    db.session.refresh(touchpoint)
    assert (touchpoint.status, touchpoint.provider_id) == ("sent", message["Message-ID"])
    assert [(t.from_status, t.to_status) for t in touchpoints.history(touchpoint.id)] == [
        ("planned", "claimed"), ("claimed", "sent")]
    assert dispatch.dispatch_once(NOW + timedelta(minutes=10), "w2").claimed == 0
    assert len(mail.messages) == 1


def test_nothing_goes_before_it_is_due(app, mail):
    _email_touchpoint(_priya(), due=NOW + timedelta(hours=1))
    assert dispatch.dispatch_once(NOW, "w1").claimed == 0 and mail.messages == []


def test_a_contact_who_unsubscribed_after_scheduling_is_not_sent_to(app, mail):
    contact = _priya()
    touchpoint = _email_touchpoint(contact)
    contacts.unsubscribe(contact.id, "test", NOW)
    assert dispatch.dispatch_once(NOW, "w1").counts == {"skipped": 1}
    assert mail.messages == [] and touchpoint.status == "skipped" and "unsubscribed" in touchpoint.last_error


def test_korean_advertising_email_needs_prior_consent_and_says_so_in_the_subject(app, mail):
    contact = _priya(account_name="한빛 데이터", domain="hanbit.example", country="KR",
                     email="jiwoo@hanbit.example", language="ko")
    first = _email_touchpoint(contact, subject="데이터 플랫폼 안내")
    dispatch.dispatch_once(NOW, "w1")
    assert mail.messages == [] and first.status == "skipped" and "consent" in first.last_error
    contact.consents.append(Consent(channel="email", source="booth", wording="동의합니다", given_at=NOW))
    db.session.commit()
    _email_touchpoint(contact, subject="데이터 플랫폼 안내", key="second")
    dispatch.dispatch_once(NOW, "w1")
    assert mail.messages[0]["Subject"] == "(광고) 데이터 플랫폼 안내"


def test_a_temporary_smtp_refusal_is_retried_later_with_backoff(app, mail):
    touchpoint = _email_touchpoint(_priya())
    mail.rcpt_reply = "450 4.2.0 Mailbox busy"
    assert dispatch.dispatch_once(NOW, "w1").counts == {"planned": 1}
    db.session.refresh(touchpoint)
    assert touchpoint.status == "planned" and touchpoint.due_at == NOW + timedelta(minutes=1)
    assert "450" in touchpoint.last_error
    mail.rcpt_reply = None
    assert dispatch.dispatch_once(NOW + timedelta(minutes=1), "w1").counts == {"sent": 1}
    assert len(mail.messages) == 1 and touchpoint.attempts == 2


def test_a_hard_bounce_fails_and_suppresses_the_address(app, mail):
    touchpoint = _email_touchpoint(_priya())
    mail.rcpt_reply = "550 5.1.1 No such user"
    dispatch.dispatch_once(NOW, "w1")
    db.session.refresh(touchpoint)
    assert touchpoint.status == "failed" and "550" in touchpoint.last_error
    assert db.session.get(Suppression, "priya@harborview.example").reason == "bounced"
    mail.rcpt_reply = None
    _email_touchpoint(touchpoint.contact, key="another")
    assert dispatch.dispatch_once(NOW, "w1").counts == {"skipped": 1} and mail.messages == []


def test_with_the_smtp_server_down_nothing_is_lost(app):
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens there
    touchpoint = _email_touchpoint(_priya())
    assert dispatch.dispatch_once(NOW, "w1").counts == {"planned": 1}
    db.session.refresh(touchpoint)
    assert touchpoint.status == "planned" and "unreachable" in touchpoint.last_error


def test_a_line_break_in_the_subject_is_refused_not_sent(app, mail):
    touchpoint = _email_touchpoint(_priya(), subject="Hi\r\nBcc: everyone@example.com")
    dispatch.dispatch_once(NOW, "w1")
    assert touchpoint.status == "failed" and "line break" in touchpoint.last_error and mail.messages == []


def test_past_its_send_window_a_touchpoint_is_marked_missed_not_sent_late(app, mail):
    touchpoint = _email_touchpoint(_priya())
    dispatch.dispatch_once(NOW + timedelta(hours=9), "w1")
    assert touchpoint.status == "missed" and mail.messages == []
    assert [t.to_status for t in touchpoints.history(touchpoint.id)] == ["missed"]


def test_a_dispatcher_that_died_after_claiming_leaves_it_to_another_after_the_lease(app, mail):
    touchpoint = _email_touchpoint(_priya())
    assert touchpoints.claim_due(NOW, "dead-worker") == [touchpoint.id]  # …and then it was killed
    assert dispatch.dispatch_once(NOW + timedelta(minutes=1), "w2").claimed == 0  # lease still held
    assert dispatch.dispatch_once(NOW + timedelta(minutes=6), "w2").counts == {"sent": 1}
    assert len(mail.messages) == 1
    assert touchpoints.mark_sent(touchpoint.id, "dead-worker", "x", NOW) is False  # fenced
    assert [(t.to_status, t.worker) for t in touchpoints.history(touchpoint.id)] == [
        ("claimed", "dead-worker"), ("claimed", "w2"), ("sent", "w2")]


def test_scheduling_the_same_touchpoint_twice_keeps_one(app):
    contact = _priya()
    first = _email_touchpoint(contact, key="same")
    assert _email_touchpoint(contact, key="same").id == first.id
    assert db.session.scalar(select(db.func.count(Touchpoint.id))) == 1


def test_one_click_unsubscribe_post_works_without_a_session_and_a_get_only_asks(app, client):
    from abmcontent.channels.email import unsubscribe_token

    contact = _priya()
    url = f"/u/{unsubscribe_token(app.config['SECRET_KEY'], contact.id)}"
    page = client.get(url)
    assert page.status_code == 200 and "Unsubscribe from our emails?" in page.get_data(as_text=True)
    assert contact.unsubscribed_at is None
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    db.session.refresh(contact)
    assert contact.unsubscribed_at is not None
    assert db.session.get(Suppression, "priya@harborview.example").reason == "unsubscribed"
    assert client.post("/u/forged.token").status_code == 404


# --- several dispatchers, one PostgreSQL ------------------------------------------------------

def _run_dispatcher(url: str, mail_url: str, name: str, config_dir: str) -> int:
    from pathlib import Path

    from abmcontent import create_app
    from tests.conftest import _config

    app = create_app(_config(Path(config_dir), url, MAIL_URL=mail_url))
    sent = 0
    with app.app_context():
        while True:
            report = dispatch.dispatch_once(NOW, name, batch=50)
            sent += report.counts.get("sent", 0)
            if not report.claimed:
                break
        db.engine.dispose()
    return sent


def test_three_dispatcher_processes_send_each_of_1000_emails_exactly_once(postgres_url, tmp_path, smtp_server,
                                                                          sqlite_template):
    from abmcontent import create_app
    from tests.conftest import _config, _truncate_all

    app = create_app(_config(tmp_path, postgres_url))
    with app.app_context():
        # 334 accounts × 3 stakeholders: one email each keeps every account inside its frequency cap
        from abmcontent.models import Account

        accounts = [Account(name=f"Many {n}", domain=f"many{n}.example") for n in range(334)]
        people = [Contact(account=accounts[n // 3], first_name=f"P{n}", email=f"p{n}@many{n // 3}.example")
                  for n in range(1000)]  # each company its own mail domain, as in life (and the send rate)
        db.session.add_all(accounts + people)
        db.session.commit()
        db.session.execute(Touchpoint.__table__.insert(), [
            {"account_id": person.account_id, "contact_id": person.id, "channel": "email", "due_at": NOW,
             "window_end_at": NOW + timedelta(hours=8), "idempotency_key": f"bulk-{person.id}",
             "subject": "Hello", "status": "planned", "attempts": 0, "claimed_by": "", "provider_id": "",
             "last_error": "", "created_at": NOW, "updated_at": NOW} for person in people])
        db.session.commit()
        try:
            context = multiprocessing.get_context("spawn")
            with context.Pool(3) as pool:
                sent = pool.starmap(_run_dispatcher, [(postgres_url, smtp_server.url, f"d{n}", str(tmp_path))
                                                      for n in range(3)])
            assert sum(sent) == 1000
            received = [m["To"] for m in smtp_server.messages]
            assert len(received) == 1000 and len(set(received)) == 1000
            statuses = db.session.execute(select(Touchpoint.status, db.func.count()).group_by(Touchpoint.status))
            assert dict(statuses.all()) == {"sent": 1000}
            assert all(n > 0 for n in sent), sent  # the work really was shared
        finally:
            db.session.rollback()
            _truncate_all()
            db.engine.dispose()


# --- conditions --------------------------------------------------------------------------------

def _plan_touchpoints(contact, steps, start=NOW):
    from abmcontent import plans

    plan = plans.create_plan("Test plan", "", steps, None, NOW)
    plans.apply(plan.id, [contact.account_id], start, None, NOW)
    return list(db.session.scalars(select(Touchpoint).order_by(Touchpoint.due_at, Touchpoint.id)))


def _event(contact, type_, asset_id=None, at=NOW):
    import uuid

    from abmcontent.models import EngagementEvent

    db.session.add(EngagementEvent(key=uuid.uuid4().hex, type=type_, occurred_at=at, account_id=contact.account_id,
                                   contact_id=contact.id, asset_id=asset_id))
    db.session.commit()


def test_an_empty_asset_slot_is_filled_by_matching_for_the_stakeholder(app, mail):
    from abmcontent import plans

    make_asset(make_user(), status="published", title="Champion's guide", personas=["champion"],
               body="For {{ contact.first_name }}.")
    contact = _priya(persona="champion")
    [touchpoint] = _plan_touchpoints(contact, [plans.StepInput("email", subject="")])
    dispatch.dispatch_once(touchpoint.due_at, "w1")
    db.session.refresh(touchpoint)
    assert touchpoint.status == "sent" and touchpoint.asset_id is not None
    assert mail.messages[0]["Subject"] == "Champion's guide"


def test_a_booked_meeting_stops_the_plan_for_the_account(app, mail):
    from abmcontent import plans
    from abmcontent.models import Enrollment

    make_asset(make_user(), status="published", title="Anything")
    contact = _priya()
    first, second = _plan_touchpoints(contact, [plans.StepInput("email", 0, subject="One"),
                                                plans.StepInput("email", 3, subject="Two")])
    dispatch.dispatch_once(first.due_at, "w1")
    _event(contact, "meeting_booked", at=first.due_at + timedelta(days=1))
    dispatch.dispatch_once(second.due_at, "w1")
    db.session.refresh(second)
    assert second.status == "skipped" and "meeting booked" in second.last_error
    assert db.session.scalar(select(Enrollment.status)) == "stopped"
    assert [m["Subject"] for m in mail.messages] == ["One"]


def test_a_stakeholder_who_already_read_the_asset_is_skipped(app, mail):
    from abmcontent import plans

    asset = make_asset(make_user(), status="published", title="Read it already")
    contact = _priya()
    [touchpoint] = _plan_touchpoints(contact, [plans.StepInput("email", subject="x", asset_id=asset.id)])
    _event(contact, "asset_open", asset.id)
    dispatch.dispatch_once(touchpoint.due_at, "w1")
    db.session.refresh(touchpoint)
    assert touchpoint.status == "skipped" and "already engaged" in touchpoint.last_error and mail.messages == []


def test_the_frequency_cap_holds_an_accounts_fourth_touch_in_a_week(app, mail):
    from abmcontent import plans

    author = make_user()
    for n in range(4):  # the slot never sends one stakeholder the same asset twice
        make_asset(author, status="published", title=f"Read {n}")
    contact = _priya()
    rows = _plan_touchpoints(contact, [plans.StepInput("email", day, subject=f"S{day}", window_end="17:00",
                                                       skip_if_engaged=False)
                                       for day in (0, 1, 2, 3)])
    for row in rows:
        dispatch.dispatch_once(row.due_at, "w1")
    db.session.expire_all()
    assert [r.status for r in rows] == ["sent", "sent", "sent", "missed"]
    assert "frequency cap" in rows[3].last_error and len(mail.messages) == 3


def test_the_frequency_cap_holds_across_dispatchers_working_at_once(app, mail):
    from abmcontent.models import Account

    account = Account(name="One account", domain="one.example")
    people = [Contact(account=account, first_name=f"P{n}", email=f"p{n}@one.example") for n in range(10)]
    db.session.add_all([account, *people])
    db.session.commit()
    for person in people:
        _email_touchpoint(person, key=f"k{person.id}")
    touchpoints.claim_due(NOW, "other", batch=5)  # another dispatcher holds five right now
    report = dispatch.dispatch_once(NOW, "me")
    assert report.counts.get("sent", 0) == 0  # the five in flight elsewhere already exceed the cap of 3


# --- sales tasks and ad audiences ------------------------------------------------------------

def test_a_sales_step_lands_in_the_owners_queue_with_talking_points_once(app):
    from abmcontent import plans
    from abmcontent.models import SalesTask

    owner = make_user("sales", name="Sam Seller")
    contact = _priya()
    account = contact.account
    account.owner_id, account.goals, account.challenges = owner.id, "Close the books faster", "Teradata renewal"
    db.session.commit()
    [touchpoint] = _plan_touchpoints(contact, [plans.StepInput("sales_task", subject="Call the CFO")])
    dispatch.dispatch_once(touchpoint.due_at, "w1")
    [task] = plans.my_tasks(owner)
    assert task.title == "Call the CFO" and "Goals: Close the books faster" in task.talking_points
    assert "Challenges: Teradata renewal" in task.talking_points
    db.session.refresh(touchpoint)
    assert touchpoint.status == "sent"
    plans.close_task(task.id, "done", "Booked a meeting", owner, NOW)
    assert plans.my_tasks(owner) == [] and db.session.scalar(select(SalesTask.status)) == "done"


def test_a_sales_step_for_an_account_without_owner_fails_in_words(app):
    from abmcontent import plans

    contact = _priya()
    [touchpoint] = _plan_touchpoints(contact, [plans.StepInput("sales_task")])
    dispatch.dispatch_once(touchpoint.due_at, "w1")
    db.session.refresh(touchpoint)
    assert touchpoint.status == "failed" and "no owner" in touchpoint.last_error


def test_the_ad_audience_exports_the_plans_accounts_for_company_matching(app, client):
    import csv
    import io

    from abmcontent import plans
    from tests.conftest import login

    contact = _priya()
    [touchpoint] = _plan_touchpoints(contact, [plans.StepInput("ad_audience")])
    dispatch.dispatch_once(touchpoint.due_at, "w1")
    login(client, make_user("campaign"))
    response = client.get(f"/plans/{touchpoint.enrollment.plan_id}/audience.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["companyname", "companywebsitedomain", "companyemaildomain"]
    assert rows[1][:3] == ["Harborview Bank", "harborview.example", "harborview.example"]


def test_a_burst_to_one_domain_is_held_to_the_send_rate_without_costing_attempts(app, mail):
    from abmcontent.models import Account

    app.config["MAIL_DOMAIN_RATE"] = 2
    app.config["FREQUENCY_CAP"] = 0
    account = Account(name="Busy", domain="busy.example")
    people = [Contact(account=account, first_name=f"P{n}", email=f"p{n}@busy.example") for n in range(4)]
    db.session.add_all([account, *people])
    db.session.commit()
    rows = [_email_touchpoint(person, key=f"r{person.id}") for person in people]
    report = dispatch.dispatch_once(NOW, "w1")
    assert report.counts == {"sent": 2, "deferred": 2} and len(mail.messages) == 2
    db.session.expire_all()
    held = [r for r in rows if r.status == "planned"]
    assert all(r.attempts == 0 and r.due_at == NOW + timedelta(seconds=60) for r in held)
    assert dispatch.dispatch_once(NOW + timedelta(seconds=61), "w1").counts == {"sent": 2}


def test_links_are_tracked_through_stored_urls_and_opens_through_a_pixel(app, mail, client):
    import re as re_

    from abmcontent import tracking
    from abmcontent.models import EngagementEvent

    asset = make_asset(make_user(), status="published",
                       body="Read [the guide](https://cobaltdata.example/guide?x=1&y=2) now.")
    contact = _priya()
    touchpoint = _email_touchpoint(contact, asset)
    dispatch.dispatch_once(NOW, "w1")
    html = mail.messages[0].get_body(("html",)).get_content()
    assert "cobaltdata.example/guide" not in html
    click = re_.search(r'href="https://abm.example(/r/[^"]+)"', html).group(1)
    pixel = re_.search(r'src="https://abm.example(/o/[^"]+\.gif)"', html).group(1)
    unsubscribe = re_.search(r'href="https://abm.example(/u/[^"]+)"', html)
    assert unsubscribe is not None  # the unsubscribe link is never rewritten
    response = client.get(click + "?url=https://evil.example")
    assert response.status_code == 302 and response.headers["Location"] == "https://cobaltdata.example/guide?x=1&y=2"
    opened = client.get(pixel)
    assert opened.status_code == 200 and opened.mimetype == "image/gif"
    assert client.get("/o/forged.gif").status_code == 200  # same GIF, nothing recorded
    assert client.get("/r/forged").status_code == 404
    tracking.flush(app)
    events = [(e.type, e.contact_id, e.touchpoint_id) for e in db.session.scalars(
        select(EngagementEvent).order_by(EngagementEvent.id))]
    assert events == [("email_click", contact.id, touchpoint.id), ("email_open", contact.id, touchpoint.id)]


def _claim_and_die(url: str, config_dir: str) -> None:
    """A dispatcher that claims its batch and is killed with SIGKILL before it sends anything."""
    import os
    import signal
    from pathlib import Path

    from abmcontent import create_app
    from tests.conftest import _config

    app = create_app(_config(Path(config_dir), url))
    with app.app_context():
        touchpoints.claim_due(NOW, "doomed")
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_dispatcher_killed_with_sigkill_after_claiming_is_sent_once_after_its_lease(app, mail, tmp_path):
    touchpoint = _email_touchpoint(_priya())
    context = multiprocessing.get_context("spawn")
    doomed = context.Process(target=_claim_and_die, args=(app.config["SQLALCHEMY_DATABASE_URI"], str(tmp_path)))
    doomed.start()
    doomed.join(60)
    assert doomed.exitcode == -9
    db.session.expire_all()
    assert (touchpoint.status, touchpoint.claimed_by) == ("claimed", "doomed")
    assert dispatch.dispatch_once(NOW + timedelta(minutes=1), "w2").claimed == 0  # its lease still holds
    assert dispatch.dispatch_once(NOW + timedelta(minutes=6), "w2").counts == {"sent": 1}
    assert len(mail.messages) == 1


def test_a_stopping_dispatcher_finishes_the_message_in_hand_and_hands_the_rest_back(app, mail):
    import threading

    from abmcontent.channels.email import EmailChannel

    stop = threading.Event()

    class StoppedAfterOne(EmailChannel):  # the real channel; SIGTERM arrives during the first send
        def deliver(self, touchpoint, now):
            outcome = super().deliver(touchpoint, now)
            stop.set()
            return outcome

    people = [_priya(account_name=f"Bank {n}", domain=f"bank{n}.example", email=f"p@bank{n}.example")
              for n in range(3)]
    rows = [_email_touchpoint(person) for person in people]
    report = dispatch.dispatch_once(NOW, "w1", available={"email": StoppedAfterOne(app.config)}, stop=stop)
    assert report.counts == {"sent": 1, "released": 2} and len(mail.messages) == 1
    db.session.expire_all()
    assert [(t.status, t.attempts) for t in rows] == [("sent", 1), ("planned", 0), ("planned", 0)]
    assert dispatch.dispatch_once(NOW, "w2").counts == {"sent": 2}  # due at once, no lease to wait out
    assert len(mail.messages) == 3


def test_the_dispatcher_command_stops_cleanly_on_sigterm(app, mail, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from datetime import datetime, timezone
    from pathlib import Path

    now = datetime.now(timezone.utc)
    _email_touchpoint(_priya(), due=now - timedelta(minutes=1))
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": "test-secret", "MAIL_URL": mail.url, "BASE_URL": "https://abm.example",
           "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "flask", "touchpoints", "dispatch"], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = process.stdout.readline()
        assert first.startswith("claimed 1: 1 sent"), first
        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0 and "stopped" in out
    assert len(mail.messages) == 1


def test_proxy_opens_and_scanner_clicks_are_recorded_but_flagged(app, mail, client):
    import re as re_
    from datetime import datetime, timezone

    from abmcontent import tracking
    from abmcontent.models import EngagementEvent

    asset = make_asset(make_user(), status="published", body="Read [the guide](https://cobaltdata.example/guide).")
    _email_touchpoint(_priya(), asset, due=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert dispatch.dispatch_once(datetime.now(timezone.utc), "w1").counts == {"sent": 1}  # delivered just now
    html = mail.messages[0].get_body(("html",)).get_content()
    click = re_.search(r'href="https://abm.example(/r/[^"]+)"', html).group(1)
    pixel = re_.search(r'src="https://abm.example(/o/[^"]+\.gif)"', html).group(1)
    client.get(pixel, headers={"User-Agent": "Mozilla/5.0"})                      # Apple's privacy proxy
    client.head(click, headers={"User-Agent": "Mozilla/5.0 Chrome/131.0"})        # a gateway checking the link
    client.get(click, headers={"User-Agent": "Mozilla/5.0 (Macintosh) Safari/605"})  # seconds after delivery
    tracking.flush(app)
    flagged = [(e.type, e.machine) for e in db.session.scalars(
        select(EngagementEvent).order_by(EngagementEvent.id))]
    assert flagged == [("email_open", "apple_privacy_proxy"), ("email_click", "head_request"),
                       ("email_click", "clicked_at_delivery")]
