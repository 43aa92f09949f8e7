"""Events stakeholders are invited to: the event itself, RSVPs, the waitlist, attendance, and the
iCalendar invitations and updates that go with them (RFC 5545 / RFC 5546).

An event keeps one iCalendar UID for life. A change an invitee must hear about (title, time, zone,
place, online link) or a cancellation bumps ``sequence``; each registration remembers the sequence
it was last emailed, and ``send_updates`` sends REQUEST (or CANCEL) to everyone behind, once per
sequence even with several processes running it: a registration is claimed with a conditional
UPDATE before its message goes, and given back when the mail server says "try later".

Seats: with a capacity, a registration past it goes on the waitlist, and a seat given back (a
decline, a cancelled registration, a larger capacity) goes to the first person waiting. Counting
seats takes the event row's write lock first (a no-op UPDATE), so two people never get the last
seat on SQLite or PostgreSQL. Every RSVP and check-in is an engagement event (channel "event").
"""
from __future__ import annotations

import csv
import io
import re
import secrets
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_date, format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, Signer
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from abmcontent import geo, tracking
from abmcontent.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Consent, Contact, Event, EventRegistration, User

EDITORS = ("marketer", "campaign")  # admin always passes
LIVE = ("invited", "registered", "waitlisted")  # registrations that hear about changes
LANGUAGES = ("en", "ko")
REGISTRATION_SALT = "abmcontent-event-registration"
MAX_CAPACITY = 100_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
PRODID = "-//abmcontent//event invitations//EN"
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
REGISTRATION_LABELS = {"invited": _l("Invited"), "registered": _l("Registered"), "waitlisted": _l("Waitlisted"),
                       "declined": _l("Declined"), "cancelled": _l("Cancelled")}
PARTSTAT = {"invited": "NEEDS-ACTION", "registered": "ACCEPTED", "waitlisted": "TENTATIVE",
            "declined": "DECLINED", "cancelled": "DECLINED"}
# what an invitee must hear about: a change to any of these bumps the sequence
NOTIFIED_FIELDS = ("title", "starts_at", "ends_at", "timezone", "location", "online_url")


def registration_label(status: str) -> str:
    return str(REGISTRATION_LABELS.get(status, status))


# --- input and validation ----------------------------------------------------------------------

@dataclass
class EventInput:
    title: str = ""
    description: str = ""
    starts_at: str = ""     # local date and time in `timezone`, as a datetime-local input sends it
    ends_at: str = ""
    timezone: str = "UTC"
    location: str = ""
    online_url: str = ""
    capacity: str = ""      # empty: no limit
    language: str = "en"


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """IANA zone names for the select, "UTC" first."""
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/")))
    return ("UTC", *names)


def valid_zone(name: str) -> bool:
    if not name or name not in set(zone_names()):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _local_moment(raw: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """A datetime-local string read in `zone` → (UTC time, None), or (None, what is wrong)."""
    raw = (raw or "").strip().replace(" ", "T")
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        return None, _("Enter a date and time, e.g. 2026-12-01 15:00.")
    if naive.tzinfo is not None:
        naive = naive.astimezone(zone).replace(tzinfo=None)
    local = naive.replace(tzinfo=zone)
    if local.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != naive:
        return None, _("That time does not exist in this time zone (the clocks change then).")
    return local.astimezone(timezone.utc), None


def local_input(moment: datetime, zone_name: str) -> str:
    """The value a datetime-local input shows for a stored time, in the event's zone."""
    return moment.astimezone(ZoneInfo(zone_name)).strftime("%Y-%m-%dT%H:%M")


def input_for(event: Event) -> EventInput:
    return EventInput(event.title, event.description, local_input(event.starts_at, event.timezone),
                      local_input(event.ends_at, event.timezone), event.timezone, event.location,
                      event.online_url, "" if event.capacity is None else str(event.capacity), event.language)


def _one_line(value: str) -> bool:
    return not any(ch in value for ch in "\r\n\x00")


def validate(data: EventInput, now: datetime, current: Event | None = None
             ) -> tuple[dict[str, list[str]], dict]:
    """Per-field errors, and the clean values when there are none."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    title = data.title.strip()
    if not title or len(title) > 300 or not _one_line(title):
        errors["title"] = [_("Give the event a title on one line, under 300 characters.")]
    clean["title"] = title
    if len(data.description) > 20_000 or "\x00" in data.description:
        errors["description"] = [_("Keep the description under 20,000 characters.")]
    clean["description"] = data.description.strip()
    zone = None
    if not valid_zone(data.timezone):
        errors["timezone"] = [_("Choose a time zone from the list.")]
    else:
        zone = ZoneInfo(data.timezone)
        clean["timezone"] = data.timezone
    if zone is not None:
        start, problem = _local_moment(data.starts_at, zone)
        if problem:
            errors["starts_at"] = [problem]
        end, problem = _local_moment(data.ends_at, zone)
        if problem:
            errors["ends_at"] = [problem]
        if start is not None and end is not None:
            moved = current is None or start != current.starts_at
            if end <= start:
                errors["ends_at"] = [_("The event must end after it starts.")]
            elif end - start > timedelta(days=14):
                errors["ends_at"] = [_("An event lasts at most 14 days.")]
            if moved and start <= now:
                errors["starts_at"] = [_("Choose a start in the future.")]
            clean["starts_at"], clean["ends_at"] = start, end
    location = data.location.strip()
    if len(location) > 500 or not _one_line(location):
        errors["location"] = [_("Keep the place on one line, under 500 characters.")]
    clean["location"] = location
    url = data.online_url.strip()
    if url and (len(url) > 1000 or not URL_RE.match(url) or not urlsplit(url).netloc):
        errors["online_url"] = [_("Enter the online link as a web address starting with https://.")]
    clean["online_url"] = url
    if not location and not url and "location" not in errors and "online_url" not in errors:
        errors["location"] = [_("Give a place, an online link, or both.")]
    raw = data.capacity.strip()
    if not raw:
        clean["capacity"] = None
    elif not raw.isdigit() or not 1 <= int(raw) <= MAX_CAPACITY:
        errors["capacity"] = [_("Enter the number of seats (1–100,000), or leave it empty for no limit.")]
    else:
        clean["capacity"] = int(raw)
        if current is not None:
            taken = _count(current.id, "registered")
            if clean["capacity"] < taken:
                errors["capacity"] = [_("%(num)s people are registered already: the capacity cannot be lower.",
                                        num=taken)]
    if data.language not in LANGUAGES:
        errors["language"] = [_("Choose English or Korean.")]
    clean["language"] = data.language
    return errors, clean


# --- creating, changing and cancelling events ---------------------------------------------------

def can_edit(user: User | None) -> bool:
    return user is not None and user.has_role(*EDITORS)


def _require_editor(user: User | None) -> None:
    if user is not None and not user.has_role(*EDITORS):
        raise PermissionDenied(_("Only marketers and campaign managers can change events."))


def _slug_base(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")
    return words[:50].rstrip("-") or "event"


def mail_domain(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rsplit("@", 1)[-1].lower() or "abmcontent.local"


def create_event(data: EventInput, user: User | None, now: datetime, mail_from: str) -> Event:
    """A new scheduled event with a readable, unguessable slug and a UID at the sender's domain."""
    _require_editor(user)
    errors, clean = validate(data, now)
    if errors:
        raise ValidationError(errors)
    base = _slug_base(clean["title"])
    while True:
        slug = f"{base}-{secrets.token_hex(4)}"
        if db.session.scalar(select(Event.id).where(Event.slug == slug)) is None:
            break
    event = Event(slug=slug, uid=f"{secrets.token_hex(16)}@{mail_domain(mail_from)}", status="scheduled",
                  sequence=0, created_by_id=user.id if user else None, created_at=now, updated_at=now, **clean)
    db.session.add(event)
    db.session.commit()
    return event


def get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(_("That event does not exist."))
    return event


def event_by_slug(slug: str) -> Event | None:
    if not slug or len(slug) > 80:
        return None
    return db.session.scalar(select(Event).where(Event.slug == slug))


def update_event(event_id: int, data: EventInput, user: User | None, now: datetime) -> Event:
    """Change an event; a change invitees must hear about bumps the sequence (send_updates then
    tells them); a larger capacity gives seats to the waitlist."""
    _require_editor(user)
    event = get_event(event_id)
    if event.status == "cancelled":
        raise InvalidTransition(_("A cancelled event cannot be changed."))
    errors, clean = validate(data, now, current=event)
    if errors:
        raise ValidationError(errors)
    _lock(event.id)
    notify = any(getattr(event, name) != clean[name] for name in NOTIFIED_FIELDS)
    for name, value in clean.items():
        setattr(event, name, value)
    if notify:
        event.sequence += 1
    event.updated_at = now
    promoted = _promote(event, now)
    db.session.commit()
    _record_promoted(event, promoted, now)
    return event


def cancel_event(event_id: int, user: User | None, now: datetime) -> Event:
    """Cancelled for good: the sequence goes up and everyone invited gets a CANCEL."""
    _require_editor(user)
    event = get_event(event_id)
    if event.status == "cancelled":
        raise InvalidTransition(_("This event is already cancelled."))
    if event.ends_at <= now:
        raise InvalidTransition(_("This event is over; there is nothing to cancel."))
    event.status = "cancelled"
    event.sequence += 1
    event.updated_at = now
    db.session.commit()
    return event


@dataclass
class EventRow:
    event: Event
    counts: dict[str, int]
    attended: int


def list_events(now: datetime) -> tuple[list[EventRow], list[EventRow]]:
    """(upcoming, past): upcoming soonest first, past latest first, with registration counts."""
    counts: dict[int, Counter] = {}
    for event_id, status, n in db.session.execute(
            select(EventRegistration.event_id, EventRegistration.status, func.count())
            .group_by(EventRegistration.event_id, EventRegistration.status)):
        counts.setdefault(event_id, Counter())[status] = n
    attended = dict(db.session.execute(
        select(EventRegistration.event_id, func.count()).where(EventRegistration.attended_at.is_not(None))
        .group_by(EventRegistration.event_id)).all())
    upcoming, past = [], []
    for event in db.session.scalars(select(Event).order_by(Event.starts_at, Event.id)):
        row = EventRow(event, dict(counts.get(event.id, Counter())), attended.get(event.id, 0))
        (past if event.ends_at <= now else upcoming).append(row)
    past.reverse()
    return upcoming, past


def summary(event: Event) -> EventRow:
    counts = Counter(dict(db.session.execute(
        select(EventRegistration.status, func.count()).where(EventRegistration.event_id == event.id)
        .group_by(EventRegistration.status)).all()))
    attended = db.session.scalar(select(func.count()).where(
        EventRegistration.event_id == event.id, EventRegistration.attended_at.is_not(None)))
    return EventRow(event, dict(counts), attended or 0)


def registrations(event_id: int) -> list[EventRegistration]:
    return list(db.session.scalars(
        select(EventRegistration).where(EventRegistration.event_id == event_id)
        .options(selectinload(EventRegistration.contact), selectinload(EventRegistration.account))
        .order_by(EventRegistration.id)))


def seats_left(event: Event) -> int | None:
    if event.capacity is None:
        return None
    return max(event.capacity - _count(event.id, "registered"), 0)


# --- seats ----------------------------------------------------------------------------------

def _lock(event_id: int) -> None:
    """Take the event row's write lock for this transaction (a row lock on PostgreSQL, the
    database write lock on SQLite) before seats are counted."""
    t = Event.__table__
    db.session.execute(update(t).where(t.c.id == event_id).values(sequence=t.c.sequence))


def _count(event_id: int, status: str) -> int:
    return db.session.scalar(select(func.count()).where(
        EventRegistration.event_id == event_id, EventRegistration.status == status)) or 0


def _promote(event: Event, now: datetime) -> list[EventRegistration]:
    """Seats that became free go to the waitlist, first come first served."""
    db.session.flush()
    free = None if event.capacity is None else event.capacity - _count(event.id, "registered")
    waiting = select(EventRegistration).where(EventRegistration.event_id == event.id,
                                              EventRegistration.status == "waitlisted") \
        .order_by(EventRegistration.responded_at, EventRegistration.id)
    if free is not None:
        if free <= 0:
            return []
        waiting = waiting.limit(free)
    promoted = list(db.session.scalars(waiting))
    for registration in promoted:
        registration.status = "registered"
    return promoted


def _record(kind: str, registration: EventRegistration, now: datetime, **detail) -> None:
    tracking.record(type=kind, account_id=registration.account_id, contact_id=registration.contact_id,
                    channel="event", occurred_at=now,
                    detail={"event": registration.event_id, "registration": registration.id, **detail})


def _record_promoted(event: Event, promoted: list[EventRegistration], now: datetime) -> None:
    for registration in promoted:
        _record("event_registered", registration, now, status="registered", source="waitlist")


def _open_for_answers(event: Event, now: datetime) -> None:
    if event.status == "cancelled":
        raise InvalidTransition(_("This event was cancelled."))
    if event.ends_at <= now:
        raise InvalidTransition(_("This event is over."))


def _registration(registration_id: int) -> EventRegistration:
    registration = db.session.get(EventRegistration, registration_id)
    if registration is None:
        raise NotFound(_("That registration does not exist."))
    return registration


def _register(registration: EventRegistration, now: datetime, source: str) -> EventRegistration:
    if registration.status in ("registered", "waitlisted"):
        return registration  # said yes before: nothing changes, nothing is counted twice
    event = registration.event
    _lock(event.id)
    full = event.capacity is not None and _count(event.id, "registered") >= event.capacity
    registration.status = "waitlisted" if full else "registered"
    registration.responded_at = now
    if registration.sent_sequence is None:
        registration.sent_sequence = event.sequence  # saw these details: later changes reach them
    db.session.commit()
    _record("event_registered", registration, now, status=registration.status, source=source)
    return registration


def _decline(registration: EventRegistration, now: datetime, source: str) -> EventRegistration:
    if registration.status == "declined":
        return registration
    registration.responded_at = now
    _leave(registration, "declined", now)
    _record("event_declined", registration, now, source=source)
    return registration


def _leave(registration: EventRegistration, status: str, now: datetime) -> None:
    """Off the list (declined or cancelled): a seat they held goes to the first waitlisted."""
    event = registration.event
    _lock(event.id)
    freed = registration.status == "registered"
    registration.status = status
    promoted = _promote(event, now) if freed and event.status != "cancelled" else []
    db.session.commit()
    _record_promoted(event, promoted, now)


def respond(registration_id: int, answer: str, now: datetime, source: str = "invitation") -> EventRegistration:
    """The invitee's own answer from their personal link: "yes" registers (or waitlists when
    the event is full), "no" declines (and frees their seat)."""
    registration = _registration(registration_id)
    _open_for_answers(registration.event, now)
    if answer == "yes":
        return _register(registration, now, source)
    if answer == "no":
        return _decline(registration, now, source)
    raise ValidationError({"answer": [_("Choose whether you will come.")]})


def register_contact(event_id: int, contact: Contact, now: datetime, source: str = "page") -> EventRegistration:
    """Register someone who is not (yet) on the list, e.g. from the public page."""
    event = get_event(event_id)
    _open_for_answers(event, now)
    registration = db.session.scalar(select(EventRegistration).where(
        EventRegistration.event_id == event.id, EventRegistration.contact_id == contact.id))
    if registration is None:
        registration = EventRegistration(event=event, contact=contact, account_id=contact.account_id,
                                         status="invited", source=source, created_at=now)
        db.session.add(registration)
        db.session.flush()
    return _register(registration, now, source)


def register_visitor(event_id: int, data, consent_wording: str, now: datetime) -> tuple[EventRegistration, bool]:
    """The public form: find the contact by email, else create them at their company's account
    (abmcontent.gating's rules), record consent as worded when ticked, and register them.
    Free-mail addresses are refused: an event seat is for someone at a company. Returns the
    registration and whether the form created the contact (only then may the visitor be handed
    the personal link: anyone can type a known stakeholder's address)."""
    from abmcontent import gating

    event = get_event(event_id)
    _open_for_answers(event, now)
    errors = gating.validate(data)
    email = data.email.strip().lower()
    if "email" not in errors and email.rsplit("@", 1)[1] in gating.FREE_MAIL:
        errors["email"] = [_("Use your work email address: we cannot register personal addresses such as "
                             "gmail.com or naver.com.")]
    if errors:
        raise ValidationError(errors)
    contact = db.session.scalar(select(Contact).where(func.lower(Contact.email) == email).limit(1))
    created = contact is None
    if contact is None:
        account, _created = gating._account_for(email.rsplit("@", 1)[1], None, data.company, now)
        if account is None:
            raise ValidationError({"email": [_("Use your work email address.")]})
        contact = Contact(account=account, email=email, first_name=data.first_name.strip(),
                          last_name=data.last_name.strip(), title=data.title.strip(), language=event.language,
                          created_at=now, updated_at=now)
        db.session.add(contact)
    else:  # fill what we did not know; never overwrite what sales entered
        for name in ("first_name", "last_name", "title"):
            value = getattr(data, name).strip()
            if value and not getattr(contact, name):
                setattr(contact, name, value)
                contact.updated_at = now
    if data.consent:
        contact.consents.append(Consent(channel="email", source=f"event page /e/{event.slug}"[:200],
                                        wording=consent_wording, given_at=now))
    db.session.flush()
    return register_contact(event.id, contact, now, source="page"), created


def cancel_registration(registration_id: int, user: User | None, now: datetime) -> EventRegistration:
    """A marketer takes someone off the list; a seat they held goes to the first waitlisted."""
    _require_editor(user)
    registration = _registration(registration_id)
    if registration.status == "cancelled":
        return registration
    _leave(registration, "cancelled", now)
    return registration


# --- attendance -----------------------------------------------------------------------------

def set_attendance(event_id: int, registration_ids: list[int], attended: bool, user: User | None,
                   now: datetime) -> list[EventRegistration]:
    """Check people in (or out). Attendance is recorded once the event has started; each first
    check-in is an event_attended engagement event."""
    _require_editor(user)
    event = get_event(event_id)
    if event.starts_at > now:
        raise ValidationError({"attended": [_("Attendance can be recorded once the event has started.")]})
    rows = list(db.session.scalars(select(EventRegistration).where(
        EventRegistration.event_id == event.id, EventRegistration.id.in_(registration_ids))))
    if len(rows) != len(set(registration_ids)):
        raise NotFound(_("That registration does not exist."))
    newly = []
    for registration in rows:
        if attended and registration.attended_at is None:
            registration.attended_at = now
            newly.append(registration)
        elif not attended:
            registration.attended_at = None
    db.session.commit()
    for registration in newly:
        _record("event_attended", registration, now)
    return rows


@dataclass
class AttendanceReport:
    matched: int = 0          # checked in now
    already: int = 0          # were checked in before
    added: int = 0            # known contacts who were not on the list (walk-ins), added and checked in
    unmatched: list[tuple[int, str, str]] = field(default_factory=list)  # (row, value, why)


_EMAIL_HEADERS = ("email", "e-mail", "email address", "e-mail address", "attendee email", "이메일", "메일")


def _decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError({"file": [_("Save the file as CSV in UTF-8 (or CP949) and try again.")]})


def import_attendance(event_id: int, data: bytes, user: User | None, now: datetime) -> AttendanceReport:
    """Attendance from a webinar tool's export: one row per attendee, an email column (found by
    its header, else the first column holding addresses). All rows or none are applied."""
    from abmcontent.users import EMAIL_RE

    _require_editor(user)
    event = get_event(event_id)
    if event.starts_at > now:
        raise ValidationError({"file": [_("Attendance can be recorded once the event has started.")]})
    if not data.strip():
        raise ValidationError({"file": [_("The file is empty.")]})
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError({"file": [_("The file is larger than 5 MB.")]})
    text = _decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    column, start = None, 0
    for index, name in enumerate(header):
        if name in _EMAIL_HEADERS or "email" in name or "이메일" in name:
            column, start = index, 1
            break
    if column is None:
        for index, cell in enumerate(rows[0] if rows else []):
            if EMAIL_RE.match(cell.strip()):
                column = index
                break
    if column is None:
        raise ValidationError({"file": [_("No email column found: name a column “Email”.")]})
    report = AttendanceReport()
    by_contact = {r.contact_id: r for r in db.session.scalars(
        select(EventRegistration).where(EventRegistration.event_id == event.id))}
    seen: set[str] = set()
    newly: list[EventRegistration] = []
    for number, row in enumerate(rows[start:], start=start + 1):
        value = row[column].strip() if column < len(row) else ""
        email = value.lower()
        if not EMAIL_RE.match(email):
            report.unmatched.append((number, value[:200], _("not an email address")))
            continue
        if email in seen:
            report.unmatched.append((number, value[:200], _("listed twice")))
            continue
        seen.add(email)
        contact = db.session.scalar(select(Contact).where(func.lower(Contact.email) == email).limit(1))
        if contact is None:
            report.unmatched.append((number, value[:200], _("no stakeholder with this address")))
            continue
        registration = by_contact.get(contact.id)
        if registration is None:
            registration = EventRegistration(event=event, contact=contact, account_id=contact.account_id,
                                             status="registered", source="import", created_at=now)
            db.session.add(registration)
            by_contact[contact.id] = registration
            report.added += 1
        if registration.attended_at is not None:
            report.already += 1
            continue
        registration.attended_at = now
        newly.append(registration)
        report.matched += 1
    db.session.commit()
    for registration in newly:
        _record("event_attended", registration, now, source="import")
    return report


# --- personal links -------------------------------------------------------------------------

def registration_token(secret_key: str, registration_id: int) -> str:
    """The registration's id, signed: a personal link that cannot be guessed or enumerated."""
    return Signer(secret_key, salt=REGISTRATION_SALT).sign(str(registration_id)).decode()


def registration_for_token(secret_key: str, token: str | None, event: Event) -> EventRegistration | None:
    """The registration a personal link names, if it is genuine and belongs to this event."""
    if not token or len(token) > 200:
        return None
    try:
        registration_id = int(Signer(secret_key, salt=REGISTRATION_SALT).unsign(token).decode())
    except (BadSignature, ValueError):
        return None
    registration = db.session.get(EventRegistration, registration_id)
    return registration if registration is not None and registration.event_id == event.id else None


def page_url(base_url: str, event: Event, token: str | None = None, **args) -> str:
    query = {"r": token, **args} if token else args
    return f"{base_url.rstrip('/')}/e/{event.slug}" + (f"?{urlencode(query)}" if query else "")


# --- time, in the reader's zone and language --------------------------------------------------

def zone_for(contact: Contact | None, event: Event) -> str:
    """The stakeholder's own zone, else their account's (country and state), else the event's."""
    if contact is not None:
        if contact.timezone and valid_zone(contact.timezone):
            return contact.timezone
        account = contact.account
        if account is not None and account.country:
            zone = geo.timezone_for(geo.country_code(account.country), geo.us_state_code(account.region))
            if zone != "UTC":
                return zone
    return event.timezone


def when(event: Event, zone_name: str | None = None, language: str = "en") -> str:
    """"Tuesday, December 1, 2026, 10:00 AM – 11:00 AM (EST, America/New_York)", in `language`."""
    zone_name = zone_name or event.timezone
    zone = ZoneInfo(zone_name)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    day = format_date(start, "full", locale=language)
    begins = format_time(start, "short", locale=language)
    ends = format_time(end, "short", locale=language)
    if end.date() != start.date():
        ends = f"{format_date(end, 'full', locale=language)}, {ends}"
    label = zone_name if start.tzname() in (zone_name, None) or start.tzname().startswith(("+", "-")) \
        else f"{start.tzname()}, {zone_name}"
    return f"{day}, {begins} – {ends} ({label})"


# --- iCalendar -------------------------------------------------------------------------------

def calendar_bytes(event: Event, registration: EventRegistration | None, method: str, *, organizer: str,
                   now: datetime, page: str = "") -> bytes:
    """The event as an iCalendar object (RFC 5545), built and escaped by the icalendar library:
    METHOD REQUEST (an invitation or update), CANCEL, or PUBLISH (a download for one's own
    calendar). The online link is in it only for someone registered; others get the page."""
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent
    from icalendar import vCalAddress

    if method not in ("REQUEST", "CANCEL", "PUBLISH"):
        raise ValueError(f"unknown iTIP method {method!r}")
    zone = ZoneInfo(event.timezone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    seated = registration is not None and registration.status == "registered"
    name, address = parseaddr(organizer)
    host = vCalAddress(f"mailto:{address}")
    if name:
        host.params["CN"] = name
    lines = [event.description.strip()] if event.description.strip() else []
    if seated and event.online_url:
        lines.append(f"Join online: {event.online_url}")
    if page:
        lines.append(f"Your registration: {page}")
    item = CalendarEvent.new(
        uid=event.uid, sequence=event.sequence, stamp=now.astimezone(timezone.utc), start=start, end=end,
        summary=event.title, description="\n\n".join(lines) or None, organizer=host,
        status="CANCELLED" if method == "CANCEL" or event.status == "cancelled" else "CONFIRMED")
    where = event.location or ("Online" if event.online_url else "")
    if seated and event.online_url:
        where = f"{event.location} / {event.online_url}" if event.location else event.online_url
    if where:
        item.add("location", where)
    url = event.online_url if seated and event.online_url else page
    if url:
        item.add("url", url)
    if registration is not None and method != "PUBLISH":
        contact = registration.contact
        attendee = vCalAddress(f"mailto:{contact.email}")
        attendee.params.update({"CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT",
                                "PARTSTAT": PARTSTAT.get(registration.status, "NEEDS-ACTION"),
                                "RSVP": "TRUE" if method == "REQUEST" else "FALSE"})
        if contact.full_name:
            attendee.params["CN"] = contact.full_name
        item.add("attendee", attendee)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(item)
    calendar.add_missing_timezones(first_date=start.date() - timedelta(days=366),
                                   last_date=end.date() + timedelta(days=366))
    return calendar.to_ical()


# --- invitations and updates -------------------------------------------------------------------

def invitation_for(event: Event, contact: Contact, touchpoint_id: int | None, now: datetime) -> dict:
    """The registration an invitation goes out for, made if there is none; on its own connection
    (the dispatcher's session keeps its batch loaded). A dict of its columns."""
    t = EventRegistration.__table__
    columns = (t.c.id, t.c.status, t.c.sent_sequence, t.c.touchpoint_id)
    pick = select(*columns).where(t.c.event_id == event.id, t.c.contact_id == contact.id)
    with db.engine.connect() as conn:
        found = conn.execute(pick).mappings().first()
    if found is not None:
        return dict(found)
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(t).values(event_id=event.id, contact_id=contact.id, account_id=contact.account_id,
                                          touchpoint_id=touchpoint_id, status="invited", source="invitation",
                                          created_at=now))
    except IntegrityError:  # invited by another touchpoint at the same moment: use theirs
        pass
    with db.engine.connect() as conn:
        return dict(conn.execute(pick).mappings().one())


def mark_invited(registration_id: int, sequence: int, touchpoint_id: int | None, now: datetime) -> None:
    t = EventRegistration.__table__
    with db.engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == registration_id).values(
            sent_sequence=sequence, invited_at=now, touchpoint_id=touchpoint_id))


@dataclass
class UpdateReport:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)


UPDATE_LEASE = timedelta(minutes=5)


def send_updates(now: datetime, channel=None, batch: int = 200) -> UpdateReport:
    """Every live registration that was emailed an older sequence gets the new REQUEST, or the
    CANCEL, once: each is claimed (sent_sequence moved to the event's, with a lease) by a
    conditional UPDATE before its message goes, so two processes never both send it. A temporary
    mail failure gives the claim back for the next pass; a sender that died mid-send leaves a
    lease that runs out, and the update is sent again (same Message-ID per sequence, so a mail
    system can tell). Suppressed and unsubscribed addresses get nothing."""
    r, e = EventRegistration.__table__, Event.__table__
    due = db.session.execute(
        select(r.c.id, r.c.sent_sequence).join(e, e.c.id == r.c.event_id)
        .where(r.c.status.in_(LIVE), r.c.sent_sequence.is_not(None), e.c.ends_at > now,
               or_(and_(r.c.sent_sequence < e.c.sequence, r.c.update_lease_until.is_(None)),
                   r.c.update_lease_until < now))
        .order_by(r.c.id).limit(batch)).all()
    db.session.rollback()  # end the read: the claims below run on their own connections
    report = UpdateReport()
    if not due:
        return report
    if channel is None:
        from flask import current_app

        from abmcontent.channels.event import EventChannel

        channel = EventChannel(current_app.config)
    current = select(e.c.sequence).where(e.c.id == r.c.event_id).scalar_subquery()
    try:
        for registration_id, old in due:
            with db.engine.begin() as conn:
                claimed = conn.execute(
                    update(r).where(r.c.id == registration_id, r.c.sent_sequence == old,
                                    or_(r.c.update_lease_until.is_(None), r.c.update_lease_until < now))
                    .values(sent_sequence=current, update_lease_until=now + UPDATE_LEASE)
                    .returning(r.c.sent_sequence)).scalar()
            if claimed is None:
                continue  # another process has it
            report.claimed += 1
            registration = db.session.scalars(
                select(EventRegistration).where(EventRegistration.id == registration_id)
                .options(selectinload(EventRegistration.event), selectinload(EventRegistration.contact))
                .execution_options(populate_existing=True)).one()
            outcome = channel.send_update(registration, claimed, now)
            with db.engine.begin() as conn:
                mine = and_(r.c.id == registration_id, r.c.sent_sequence == claimed)
                if outcome.status == "retry":  # back in line for the next pass
                    conn.execute(update(r).where(mine).values(sent_sequence=old, update_lease_until=None))
                else:
                    conn.execute(update(r).where(mine).values(update_lease_until=None))
            report.counts[outcome.status] = report.counts.get(outcome.status, 0) + 1
    finally:
        channel.close()
    return report
