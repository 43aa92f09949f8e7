"""Event invitations: an email with the event in the recipient's language and time zone, personal
Register / Can't make it links, and the invitation as iCalendar (a ``text/calendar; method=REQUEST``
part that calendar clients act on, plus an invite.ics attachment for the rest).

It is an EmailChannel: the same suppression, unsubscribe, postal address, Korean advertising
rules, header-injection refusal, SMTP retry/suppress handling and stable Message-ID apply, from
the same code. Updates and cancellations (abmcontent.events.send_updates) go through
``send_update`` with the same rules.
"""
from __future__ import annotations

from datetime import datetime
from email import encoders
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import parseaddr

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from abmcontent import events, markup, merge_fields
from abmcontent.channels import Outcome
from abmcontent.channels.email import EmailChannel, tracking_token
from abmcontent.extensions import db
from abmcontent.models import Contact, Event, EventRegistration


class EventChannel(EmailChannel):
    name = "event"

    def deliver(self, touchpoint, now: datetime) -> Outcome:
        step = touchpoint.step if touchpoint.step_id else None
        event = db.session.get(Event, step.event_id) if step is not None and step.event_id else None
        if event is None:
            return Outcome("skipped", "the plan step names no event")
        if event.status == "cancelled":
            return Outcome("skipped", "the event was cancelled")
        if event.starts_at <= now:
            return Outcome("skipped", "the event has already started")
        contact = touchpoint.contact if touchpoint.contact_id else None
        refused = self.refusal(contact)
        if refused is not None:
            return refused
        found = events.invitation_for(event, contact, touchpoint.id, now)
        if found["status"] != "invited":
            return Outcome("skipped", f"already {found['status']} for this event")
        if found["sent_sequence"] is not None and found["touchpoint_id"] not in (None, touchpoint.id):
            return Outcome("skipped", "already invited to this event by another touchpoint")
        registration = db.session.get(EventRegistration, found["id"])
        values = merge_fields.values_for(contact.account, contact)
        subject = merge_fields.render(touchpoint.subject, values) if touchpoint.subject else event.title
        sequence = event.sequence
        try:
            message = self.compose(event, registration, contact, "invitation", subject, self.message_id(touchpoint),
                                   now, pixel=tracking_token(self.config["SECRET_KEY"], touchpoint.id))
        except ValueError as error:
            return Outcome("failed", str(error))
        message["X-ABM-Touchpoint"] = touchpoint.idempotency_key
        outcome = self.send(message, contact, now)
        if outcome.status == "sent":
            events.mark_invited(registration.id, sequence, touchpoint.id, now)
        return outcome

    def send_update(self, registration: EventRegistration, sequence: int, now: datetime) -> Outcome:
        """The changed event (REQUEST) or its cancellation (CANCEL) to one registration."""
        contact = registration.contact
        refused = self.refusal(contact)
        if refused is not None:
            return refused
        event = registration.event
        kind = "cancellation" if event.status == "cancelled" else "update"
        local, domain = event.uid.split("@", 1)[0][:24], parseaddr(self.config["MAIL_FROM"])[1].rsplit("@", 1)[-1]
        message_id = f"<ev-{local}-r{registration.id}-s{sequence}@{domain or 'abmcontent.local'}>"
        with force_locale(self.language(contact)):
            subject = (_("Cancelled: %(title)s", title=event.title) if kind == "cancellation"
                       else _("Updated: %(title)s", title=event.title))
        try:
            message = self.compose(event, registration, contact, kind, subject, message_id, now)
        except ValueError as error:
            return Outcome("failed", str(error))
        return self.send(message, contact, now)

    @staticmethod
    def language(contact: Contact) -> str:
        return contact.language if contact.language in events.LANGUAGES else "en"

    def compose(self, event: Event, registration: EventRegistration, contact: Contact, kind: str, subject: str,
                message_id: str, now: datetime, pixel: str = "") -> MIMEMultipart:
        """multipart/mixed: (text, HTML, text/calendar) as alternatives, and invite.ics."""
        subject = self.subject_for(contact, subject)
        method = "CANCEL" if kind == "cancellation" else "REQUEST"
        base = self.base_url()
        token = events.registration_token(self.config["SECRET_KEY"], registration.id)
        page = events.page_url(base, event, token)
        language = self.language(contact)
        zone = events.zone_for(contact, event)
        with force_locale(language):
            context = {
                "event": event, "contact": contact, "registration": registration, "kind": kind,
                "when": events.when(event, zone, language),
                "when_event": events.when(event, event.timezone, language) if zone != event.timezone else "",
                "description": markup.render(event.description) if event.description else "",
                "page": page, "register": events.page_url(base, event, token, answer="yes"),
                "decline": events.page_url(base, event, token, answer="no"),
                "seated": registration.status == "registered",
                "unsubscribe": self.unsubscribe_url(contact), "postal": self.postal_address(),
                "pixel": f"{base}/o/{pixel}.gif" if pixel else "",
            }
            text = render_template("events/email_invitation.txt", **context)
            html = render_template("events/email_invitation.html", **context)
        ics = events.calendar_bytes(event, registration, method, organizer=self.config["MAIL_FROM"], now=now,
                                    page=page)
        body = MIMEMultipart("alternative")
        body.attach(MIMEText(text, "plain", "utf-8"))
        body.attach(MIMEText(html, "html", "utf-8"))
        invite = MIMEText(ics.decode("utf-8"), "calendar", "utf-8")
        invite.set_param("method", method)
        body.attach(invite)
        attachment = MIMEBase("application", "ics", name="invite.ics")
        attachment.set_payload(ics)
        encoders.encode_base64(attachment)
        attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message = MIMEMultipart("mixed")
        self.address(message, contact, subject, message_id, now)
        message.attach(body)
        message.attach(attachment)
        return message


__all__ = ["EventChannel"]
