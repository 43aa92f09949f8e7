"""Email over real SMTP (DESIGN.md decision 6), or into an outbox folder for the demo.

Each message: the asset rendered for the recipient as HTML and text, a stable Message-ID per
touchpoint (a retry after a crash is recognisably the same message), List-Unsubscribe with
RFC 8058 one-click POST, the sender's postal address, and suppression checked at send time.
Korean advertising email (정보통신망법 article 50): the subject begins with "(광고)" and it is
sent only with recorded prior consent. CR or LF in a subject, name or address is refused: no
header injection. SMTP 4xx and an unreachable server are temporary (retried with backoff);
5xx is final, and a refused recipient is suppressed.
"""
from __future__ import annotations

import functools
import html as html_module
import re
import smtplib
import ssl
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

from itsdangerous import BadSignature, Signer
from sqlalchemy import insert, select

from abmcontent import markup, merge_fields, outbox
from abmcontent.channels import Outcome
from abmcontent.extensions import db
from abmcontent.models import Asset, Consent, Contact, Suppression, TrackedLink

UNSUBSCRIBE_SALT = "abmcontent-unsubscribe"
TRACKING_SALT = "abmcontent-email-tracking"
_HREF = re.compile(r'href="(https?://[^"]+)"')  # in nh3-sanitised HTML: always double-quoted


def tracking_token(secret_key: str, number: int) -> str:
    """A signed id for a tracked link or an open pixel: not guessable, not enumerable."""
    return _sign(secret_key, TRACKING_SALT, number)


def tracked_id(secret_key: str, token: str) -> int | None:
    return _unsign(secret_key, TRACKING_SALT, token)
AD_PREFIX = "(광고) "


def _sign(secret_key: str, salt: str, number: int) -> str:
    return Signer(secret_key, salt=salt).sign(str(number)).decode()


def _unsign(secret_key: str, salt: str, token: str) -> int | None:
    try:
        return int(Signer(secret_key, salt=salt).unsign(token[:200]).decode())
    except (BadSignature, ValueError):
        return None


def unsubscribe_token(secret_key: str, contact_id: int) -> str:
    return _sign(secret_key, UNSUBSCRIBE_SALT, contact_id)


def contact_for_token(secret_key: str, token: str) -> int | None:
    return _unsign(secret_key, UNSUBSCRIBE_SALT, token)


def suppress(email: str, reason: str, detail: str, now: datetime) -> None:
    email = email.strip().lower()
    if db.session.get(Suppression, email) is None:
        db.session.add(Suppression(email=email, reason=reason, detail=detail[:500], at=now))


def _korean(contact: Contact) -> bool:
    return contact.language == "ko" or (contact.account is not None and contact.account.country == "KR")


def _has_consent(contact: Contact) -> bool:
    return db.session.scalar(select(Consent.id).where(
        Consent.contact_id == contact.id, Consent.channel == "email", Consent.withdrawn_at.is_(None)).limit(1)) \
        is not None


class _SmtpPolicy(Compat32):
    """compat32 with CRLF line ends that writes a short one-line ASCII header as it is: folding
    builds a Header object for each of a message's ~16 headers, a sixth of a send's CPU, and
    such a header needs no folding or encoding. Anything longer or non-ASCII folds as usual."""

    def _fold(self, name, value, sanitize):
        if isinstance(value, str) and value.isascii() and len(name) + len(value) <= 76 \
                and "\n" not in value and "\r" not in value:
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


SMTP_POLICY = _SmtpPolicy(linesep="\r\n")


@functools.lru_cache(maxsize=16)
def _envelope_from(header: str) -> str:
    return parseaddr(header)[1]


class Transport:
    """smtp://user:pass@host:port (STARTTLS when the server offers it), smtps://… (TLS), or
    outbox://folder (one .eml file per message)."""

    def __init__(self, url: str) -> None:
        self.url = urlsplit(url)
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        if self.url.scheme in ("smtp", "smtps") and self.smtp is None:
            host, port = self.url.hostname or "127.0.0.1", self.url.port
            if self.url.scheme == "smtps":
                self.smtp = smtplib.SMTP_SSL(host, port or 465, timeout=15, context=ssl.create_default_context())
            else:
                self.smtp = smtplib.SMTP(host, port or 25, timeout=15)
                self.smtp.ehlo()
                if self.smtp.has_extn("starttls") and host not in ("127.0.0.1", "localhost", "::1"):
                    self.smtp.starttls(context=ssl.create_default_context())
                    self.smtp.ehlo()
            if self.url.username:
                self.smtp.login(unquote(self.url.username), unquote(self.url.password or ""))

    def send(self, message: Message, recipient: str | None = None) -> None:
        """Send one message. With `recipient` given, the envelope is the From address and it: the
        message is serialised once and the headers are not parsed back for addresses (that and the
        MIME boundary search were a third of a send's CPU)."""
        if self.url.scheme == "outbox":
            folder = outbox.folder(self.url.geturl())
            folder.mkdir(parents=True, exist_ok=True)
            name = message["Message-ID"].strip("<>").split("@")[0]
            (folder / f"{name}.eml").write_bytes(message.as_bytes())
            return
        self.open()
        try:
            if recipient is None or not recipient.isascii():  # an internationalised address needs SMTPUTF8
                self.smtp.send_message(message)
            else:
                self.smtp.sendmail(_envelope_from(message["From"]), [recipient], message.as_bytes(policy=SMTP_POLICY))
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.smtp = None


class EmailChannel:
    name = "email"

    def __init__(self, config) -> None:
        self.config = config
        self.transport = Transport(config["MAIL_URL"])

    def open(self) -> None:
        pass  # the SMTP connection opens on the first message and is kept for the batch

    def prepare(self, batch) -> None:
        """Suppressions and consents for a whole batch in two queries (checked again per message
        only for addresses not seen here)."""
        emails = {t.contact.email.strip().lower() for t in batch if t.contact is not None and t.contact.email}
        self._suppressed = set(db.session.scalars(select(Suppression.email).where(Suppression.email.in_(emails)))) \
            if emails else set()
        self._checked = emails
        people = [t.contact.id for t in batch if t.contact is not None]
        self._consented = set(db.session.scalars(select(Consent.contact_id).where(
            Consent.contact_id.in_(people), Consent.channel == "email", Consent.withdrawn_at.is_(None)))) \
            if people else set()
        self._consent_checked = set(people)

    def _is_suppressed(self, email: str) -> bool:
        email = email.strip().lower()
        if email in getattr(self, "_checked", ()):
            return email in self._suppressed
        return db.session.get(Suppression, email) is not None

    def _consents(self, contact: Contact) -> bool:
        if contact.id in getattr(self, "_consent_checked", ()):
            return contact.id in self._consented
        return _has_consent(contact)

    def close(self) -> None:
        self.transport.close()

    def message_id(self, touchpoint) -> str:
        domain = parseaddr(self.config["MAIL_FROM"])[1].rsplit("@", 1)[-1] or "abmcontent.local"
        return f"<tp-{touchpoint.idempotency_key}@{domain}>"

    # --- the rules every message of ours follows (shared with the event invitation channel) -------

    def base_url(self) -> str:
        return (self.config.get("BASE_URL") or f"http://127.0.0.1:{self.config.get('PORT', 5000)}").rstrip("/")

    def unsubscribe_url(self, contact: Contact) -> str:
        return f"{self.base_url()}/u/{unsubscribe_token(self.config['SECRET_KEY'], contact.id)}"

    def postal_address(self) -> str:
        return self.config.get("MAIL_POSTAL_ADDRESS", "Cobalt Data, 100 Summer Street, Boston, MA 02110, USA")

    def subject_for(self, contact: Contact, subject: str) -> str:
        """The subject as sent: "(광고)" first for Korean recipients; ValueError on a line break in
        the subject, name or address (no header injection)."""
        if _korean(contact) and not subject.startswith("(광고)"):
            subject = AD_PREFIX + subject
        for part in (subject, contact.email, contact.first_name, contact.last_name):
            if any(ch in (part or "") for ch in "\r\n"):
                raise ValueError("a line break in a header (subject, name or address)")
        return subject

    def address(self, message: Message, contact: Contact, subject: str, message_id: str, now: datetime) -> None:
        """Subject, From, To, Date, Message-ID and the RFC 8058 one-click unsubscribe headers."""
        message["Subject"] = Header(subject, "utf-8") if not subject.isascii() else subject
        message["From"] = self.config["MAIL_FROM"]
        message["To"] = formataddr((contact.full_name, contact.email), charset="utf-8")
        message["Date"] = format_datetime(now)
        message["Message-ID"] = message_id
        message["List-Unsubscribe"] = f"<{self.unsubscribe_url(contact)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    def refusal(self, contact: Contact | None) -> Outcome | None:
        """Why this person must not get our email now (a skipped Outcome), or None."""
        if contact is None or not contact.email:
            return Outcome("skipped", "no stakeholder with an email address")
        if contact.unsubscribed_at is not None:
            return Outcome("skipped", "the stakeholder unsubscribed")
        if self._is_suppressed(contact.email):
            return Outcome("skipped", "the address is suppressed (bounce, complaint or unsubscribe)")
        if _korean(contact) and not self._consents(contact):
            return Outcome("skipped", "Korean advertising email needs recorded prior consent (정보통신망법 art. 50)")
        return None

    def send(self, message: Message, contact: Contact, now: datetime) -> Outcome:
        """Hand the message to the transport: 4xx and an unreachable server are temporary (retry),
        5xx is final and suppresses the address."""
        try:
            self.transport.send(message, contact.email)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            return self._refused(contact, code, reply, now)
        except smtplib.SMTPResponseException as error:
            return self._refused(contact, error.smtp_code, error.smtp_error, now)
        except (smtplib.SMTPException, OSError) as error:
            return Outcome("retry", f"mail server unreachable: {error}")
        return Outcome("sent", "", message["Message-ID"])

    def build(self, touchpoint, contact: Contact, asset: Asset | None, now: datetime) -> Message:
        """The message, built with the email package's compat32 classes: the modern header
        registry parses every header it is given and was most of the cost of a send."""
        values = merge_fields.values_for(contact.account, contact)
        subject = self.subject_for(contact, merge_fields.render(touchpoint.subject or (asset.title if asset else ""),
                                                                values))
        base = self.base_url()
        unsubscribe = self.unsubscribe_url(contact)
        postal = self.postal_address()
        body = asset.body if asset else ""
        text = markup.render_text(body, values) + f"\n\n--\n{postal}\nUnsubscribe: {unsubscribe}\n"
        content = self.track(str(markup.render(body, values)), touchpoint, base)
        pixel = f'<img src="{base}/o/{tracking_token(self.config["SECRET_KEY"], touchpoint.id)}.gif" width="1" height="1" alt="">'
        html = (f"<!doctype html><html><body>{content}{pixel}<hr>"
                f"<p style=\"font-size:12px;color:#555\">{_escape(postal)}<br>"
                f"<a href=\"{_escape(unsubscribe)}\">Unsubscribe</a></p></body></html>")
        # our own boundary: the generator would otherwise compile a regex per message to find one
        message = MIMEMultipart("alternative", boundary=f"=_abm_{touchpoint.idempotency_key}")
        self.address(message, contact, subject, self.message_id(touchpoint), now)
        message["X-ABM-Touchpoint"] = touchpoint.idempotency_key
        message.attach(MIMEText(text, "plain", "utf-8"))
        message.attach(MIMEText(html, "html", "utf-8"))
        return message

    def track(self, html: str, touchpoint, base: str) -> str:
        """Each http(s) link becomes /r/<signed id> of a stored copy of it (never the target in the
        query string: no open redirect). Stored on their own connection: the session's batch
        stays loaded. A retried send stores its links again; the old rows still redirect."""
        urls = list(dict.fromkeys(_HREF.findall(html)))
        if not urls:
            return html
        with db.engine.begin() as conn:
            ids = {url: conn.execute(insert(TrackedLink).values(touchpoint_id=touchpoint.id,
                                                                url=html_module.unescape(url)[:2000])
                                     .returning(TrackedLink.id)).scalar_one() for url in urls}
        secret = self.config["SECRET_KEY"]
        return _HREF.sub(lambda m: f'href="{base}/r/{tracking_token(secret, ids[m.group(1)])}"'
                              if m.group(1) in ids else m.group(0), html)

    def deliver(self, touchpoint, now: datetime) -> Outcome:
        contact = touchpoint.contact if touchpoint.contact_id else None
        refused = self.refusal(contact)
        if refused is not None:
            return refused
        asset = db.session.get(Asset, touchpoint.asset_id) if touchpoint.asset_id else None
        try:
            message = self.build(touchpoint, contact, asset, now)
        except ValueError as error:
            return Outcome("failed", str(error))
        return self.send(message, contact, now)

    def _refused(self, contact: Contact, code: int, reply, now: datetime) -> Outcome:
        reply = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        if 400 <= code < 500:
            return Outcome("retry", f"SMTP {code} {reply}")
        suppress(contact.email, "bounced", f"SMTP {code} {reply}", now)
        db.session.commit()
        return Outcome("failed", f"SMTP {code} {reply}")


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


__all__ = ["EmailChannel", "Transport", "unsubscribe_token", "contact_for_token", "suppress"]
