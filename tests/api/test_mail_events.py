"""POST /api/v1/mail-events: a provider's bounces and complaints suppress addresses."""
import base64
import json

from abmcontent.extensions import db
from abmcontent.models import Suppression
from tests.api.helpers import assert_problem, caller


def test_a_hard_bounce_and_a_complaint_suppress_and_a_soft_bounce_does_not(client):
    api = caller(client, "campaign")
    response = api.post("/api/v1/mail-events", json={"events": [
        {"type": "bounce", "email": "Gone@Example.com", "bounce_type": "hard", "reason": "550 no such user"},
        {"type": "complaint", "email": "angry@example.com"},
        {"type": "bounce", "email": "full@example.com", "bounce_type": "soft"}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert (report["suppressed"], report["soft"]) == (2, 1)
    reasons = {s.email: s.reason for s in db.session.query(Suppression)}
    assert reasons == {"gone@example.com": "bounced", "angry@example.com": "complained"}
    again = api.post("/api/v1/mail-events", json={"events": [{"type": "complaint", "email": "angry@example.com"}]})
    assert again.get_json()["already_suppressed"] == 1


def test_an_sns_notification_posted_as_text_plain_is_read(client):
    api = caller(client, "admin")
    message = {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                        "bouncedRecipients": [{"emailAddress": "x@example.com"}]}}
    body = json.dumps({"Type": "Notification", "Message": json.dumps(message)})
    response = api.post("/api/v1/mail-events", data=body, headers={"Content-Type": "text/plain; charset=UTF-8"})
    assert response.status_code == 200 and response.get_json()["suppressed"] == 1


def test_providers_that_only_send_basic_auth_use_the_token_as_password(client):
    api = caller(client, "campaign")
    basic = base64.b64encode(f"sendgrid:{api.secret}".encode()).decode()
    response = client.post("/api/v1/mail-events", json=[{"event": "spamreport", "email": "s@example.com"}],
                           headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200 and response.get_json()["suppressed"] == 1


def test_a_body_that_is_not_json_is_422_and_suppresses_nothing(client):
    api = caller(client, "campaign")
    assert_problem(api.post("/api/v1/mail-events", data="<xml/>", headers={"Content-Type": "text/plain"}), 422)
    assert db.session.query(Suppression).count() == 0


def test_sales_tokens_and_read_tokens_cannot_suppress(client):
    assert_problem(caller(client, "sales").post("/api/v1/mail-events", json={"events": []}), 403)
    assert_problem(caller(client, "campaign", scope="read").post("/api/v1/mail-events", json={"events": []}), 403)
