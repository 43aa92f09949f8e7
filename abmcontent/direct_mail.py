"""Direct mail: addresses checked before printing, one piece per recipient, print batches.

The channel checks the address (`address_problems`) and queues a piece with the address copied
and the asset's text filled in for the recipient (`queue_piece`). A batch run claims every queued
piece (`start_batch`), lays them out in print order in ONE print-ready PDF with WeasyPrint and
writes a CSV manifest beside it for the print house (`build_batch`).

Layout: a letter is A4 (US Letter for US and Canadian recipients) with the recipient in the
envelope window (DIN 5008 form B; a #10 window envelope in North America); a postcard is two
sides of 6 × 4 in. The address order follows the destination's post (Korea: postal code first,
name last with 님); the letter's language, date and font follow the recipient (Korean: Noto Sans
CJK KR, embedded). Author text was sanitised markdown already; merge values are escaped for
markdown before they are put in, and WeasyPrint fetches nothing (no remote images, no files).
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from abmcontent import crm_csv, geo, markup, merge_fields
from abmcontent.errors import NotFound
from abmcontent.extensions import db
from abmcontent.models import Consent, Contact, DirectMailBatch, DirectMailPiece, MAIL_FORMATS

log = logging.getLogger(__name__)

DEFAULT_SENDER = "Cobalt Data, 100 Summer Street, Boston, MA 02110, USA"  # as the email footer
MAX_LINE = 40        # characters a window or postcard address line holds at 9.5 pt (CJK characters count twice)
MAX_LINES = 7        # recipient lines in the window, the country line included
# WeasyPrint keeps a whole document's layout in memory (about 1 MB a piece, measured): larger
# runs become several batches, each a file the print house takes on its own.
MAX_BATCH = 1000
STALE_BUILD = timedelta(minutes=30)  # a batch claimed this long ago whose builder died is built again
KOREAN_FONTS = '"Noto Sans CJK KR", "Noto Sans", sans-serif'
LATIN_FONTS = '"Noto Sans", "Liberation Sans", "DejaVu Sans", sans-serif'

ISO_ALPHA2 = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV
BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES
ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE
IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU
NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM
SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE
VG VI VN VU WF WS YE YT ZA ZM ZW""".split())

# Country → (postal code pattern, an example). Patterns are matched on the upper-cased code with
# runs of spaces collapsed; they follow each post's published format.
POSTAL_FORMATS: dict[str, tuple[str, str]] = {
    "US": (r"\d{5}(-\d{4})?", "02110 or 02110-1234"),
    "CA": (r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d", "M5V 2T6"),
    "GB": (r"(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})", "SW1A 1AA"),
    "IE": (r"([AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}", "D02 X285"),
    "DE": (r"\d{5}", "10115"), "FR": (r"\d{5}", "75008"), "NL": (r"[1-9]\d{3} ?[A-Z]{2}", "1012 AB"),
    "BE": (r"[1-9]\d{3}", "1000"), "ES": (r"(0[1-9]|[1-4]\d|5[0-2])\d{3}", "28013"),
    "IT": (r"\d{5}", "00144"), "CH": (r"[1-9]\d{3}", "8001"), "AT": (r"[1-9]\d{3}", "1010"),
    "SE": (r"[1-9]\d{2} ?\d{2}", "111 22"), "NO": (r"\d{4}", "0150"), "DK": (r"[1-9]\d{3}", "1050"),
    "FI": (r"\d{5}", "00100"), "PL": (r"\d{2}-\d{3}", "00-950"), "JP": (r"\d{3}-?\d{4}", "100-0005"),
    "KR": (r"\d{5}", "06236"), "CN": (r"\d{6}", "200120"), "SG": (r"\d{6}", "018956"),
    "IN": (r"[1-9]\d{2} ?\d{3}", "110001"), "AU": (r"\d{4}", "2000"), "NZ": (r"\d{4}", "1010"),
    "BR": (r"\d{5}-?\d{3}", "01310-100"), "MX": (r"\d{5}", "06600"), "PT": (r"\d{4}-\d{3}", "1100-148"),
    "LU": (r"(L-)?\d{4}", "1648"), "CZ": (r"\d{3} ?\d{2}", "110 00"), "TW": (r"\d{3}(\d{2,3})?", "100"),
}
_POSTAL_RE = {code: re.compile(rf"(?:{pattern})\Z") for code, (pattern, _example) in POSTAL_FORMATS.items()}
POSTAL_OPTIONAL = frozenset({"IE"})  # An Post still delivers without an Eircode
# Countries whose post uses no postal codes: the field may stay empty.
NO_POSTAL_CODES = frozenset("""
AE AG AO AW BF BI BJ BO BS BW BZ CD CF CG CI CK CM DJ DM ER FJ GA GD GH GM GQ GY HK JM KI KM KN KP LC
ML MO MR MW NR NU QA RW SB SC SL SR ST SY TD TF TG TK TL TO TT TV UG VU YE ZW""".split())

CA_PROVINCES = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
    "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Quebec", "SK": "Saskatchewan", "YT": "Yukon",
}
AU_STATES = {
    "ACT": "Australian Capital Territory", "NSW": "New South Wales", "NT": "Northern Territory",
    "QLD": "Queensland", "SA": "South Australia", "TAS": "Tasmania", "VIC": "Victoria", "WA": "Western Australia",
}
US_REGIONS = {**{code: name for code, (name, _band) in geo.US_STATES.items()},
              "PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
              "MP": "Northern Mariana Islands", "AA": "Armed Forces Americas", "AE": "Armed Forces Europe",
              "AP": "Armed Forces Pacific"}
REGIONS_REQUIRED = {"US": US_REGIONS, "CA": CA_PROVINCES, "AU": AU_STATES}
NORTH_AMERICA_PAPER = frozenset({"US", "CA"})  # US Letter and #10 window envelopes; A4 elsewhere
# where the post writes city and postal code on one line, city first ("Boston MA 02110")
CITY_FIRST = frozenset({"US", "CA", "AU", "NZ", "SG", "IN", "CN", "JP", "KR", "TW", "BR", "MY", "ID", "PH", "TH"})
# where a region is part of the address at all, outside the three that require one
REGION_WRITTEN = frozenset({"IT", "ES", "MX", "BR", "CN", "IN", "JP", "KR", "MY", "ID", "PH", "TH", "VN", "AR",
                            "CL", "CO", "AE"})


# --- countries, regions, address lines ----------------------------------------------------------

def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().replace(".", "").split())


def _names_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for language in ("en", "ko"):
        for code, name in Locale(language).territories.items():
            if code in ISO_ALPHA2:
                index.setdefault(_key(name), code)
    return index


_COUNTRY_NAMES = _names_index()


def country_code(text: str) -> str:
    """ISO 3166-1 alpha-2 for a code or a common name ("United States", "South Korea", "대한민국");
    "" when it is not a country we know."""
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) == 2 and text.upper() in ISO_ALPHA2:
        return text.upper()
    code = geo.country_code(text)
    if code in ISO_ALPHA2:
        return code
    return _COUNTRY_NAMES.get(_key(text), "")


def country_name(code: str, language: str = "en") -> str:
    try:
        return Locale.parse(language).territories.get(code, code)
    except (UnknownLocaleError, ValueError):
        return Locale("en").territories.get(code, code)


def region_code(country: str, region: str) -> str:
    """The post's code for a state or province ("Massachusetts" → "MA"); other regions as given."""
    region = " ".join((region or "").split())
    table = REGIONS_REQUIRED.get(country)
    if not table or not region:
        return region
    if region.upper() in table:
        return region.upper()
    wanted = _key(region)
    return next((code for code, name in table.items() if _key(name) == wanted), region)


def normalise_postal_code(country: str, postal_code: str) -> str:
    code = " ".join((postal_code or "").upper().split())
    if country == "JP":
        code = code.lstrip("〒 ")
    return code


def _width(line: str) -> int:
    """Columns a line takes: full-width (CJK) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)


def address_lines(name: str, company: str, street: str, city: str, region: str, postal_code: str, country: str,
                  *, honorific: str = "", home_country: str = "") -> list[str]:
    """The recipient lines as the destination's post wants them; the country (in English capitals,
    as the UPU asks) last when the mail goes abroad. Korea: postal code, region and city, street,
    company, then the name with its honorific."""
    streets = [" ".join(part.split()) for part in (street or "").splitlines() if part.strip()]
    name_line = f"{name} {honorific}".strip() if name else ""
    abroad = bool(country) and bool(home_country) and country != home_country
    country_line = [country_name(country).upper()] if abroad else []
    if country == "KR":
        lines = [postal_code, f"{region} {city}".strip(), *streets, company, name_line]
        return [line for line in lines if line] + country_line
    shown_region = region if country in REGIONS_REQUIRED or country in REGION_WRITTEN else ""
    if country == "GB" or country == "IE":
        place = [city.upper() if country == "GB" else city, postal_code]
    elif country in CITY_FIRST:
        place = [" ".join(part for part in (city, shown_region, postal_code) if part)]
    else:
        place = [" ".join(part for part in (postal_code, city, shown_region) if part)]
    lines = [name_line, company, *streets, *place]
    return [line for line in lines if line] + country_line


def home_country(sender: str) -> str:
    """The sender's country, from the last part of its postal address ("…, MA 02110, USA" → US)."""
    return country_code(sender.rsplit(",", 1)[-1]) if sender else ""


def address_problems(name: str, company: str, street: str, city: str, region: str, postal_code: str,
                     country: str, *, sender_country: str = "") -> list[str]:
    """What stops this address from being printed and posted, in a marketer's words ([] when fine)."""
    problems: list[str] = []
    if not (name or "").strip():
        problems.append(_("the recipient's name is missing"))
    if not (street or "").strip():
        problems.append(_("the street is missing"))
    if not (city or "").strip():
        problems.append(_("the city is missing"))
    code = country_code(country)
    if not (country or "").strip():
        problems.append(_("the country is missing"))
    elif not code:
        problems.append(_("“%(country)s” is not a country we know: use a two-letter code such as US, KR or DE",
                          country=country.strip()[:60]))
    label = country_name(code) if code else ""
    postal = normalise_postal_code(code, postal_code)
    if code in _POSTAL_RE:
        if not postal:
            if code not in POSTAL_OPTIONAL:
                problems.append(_("the postal code is missing (%(country)s addresses need one, e.g. %(example)s)",
                                  country=label, example=POSTAL_FORMATS[code][1]))
        elif not _POSTAL_RE[code].match(postal):
            problems.append(_("“%(code)s” is not a postal code of %(country)s (expected like %(example)s)",
                              code=postal[:20], country=label, example=POSTAL_FORMATS[code][1]))
    elif code and code not in NO_POSTAL_CODES and postal and not re.fullmatch(r"[A-Z0-9][A-Z0-9 -]{1,11}", postal):
        problems.append(_("“%(code)s” does not look like a postal code", code=postal[:20]))
    if code in REGIONS_REQUIRED:
        given = (region or "").strip()
        if not given:
            problems.append({"US": _("the state is missing (US addresses need one, e.g. MA)"),
                             "CA": _("the province is missing (Canadian addresses need one, e.g. ON)"),
                             "AU": _("the state or territory is missing (Australian addresses need one, e.g. NSW)"),
                             }[code])
        elif region_code(code, given) not in REGIONS_REQUIRED[code]:
            problems.append(_("“%(region)s” is not a state or province of %(country)s (expected a code such as "
                              "%(example)s)", region=given[:60], country=label,
                              example={"US": "MA", "CA": "ON", "AU": "NSW"}[code]))
    if not problems:
        lines = address_lines(name.strip(), (company or "").strip(), street, city.strip(),
                              region_code(code, region), postal, code, honorific="님" if code == "KR" else "",
                              home_country=sender_country)
        for line in lines:
            if _width(line) > MAX_LINE:
                problems.append(_("the line “%(line)s” is too long for an envelope window (at most %(max)s "
                                  "characters)", line=line[:80], max=MAX_LINE))
        if len(lines) > MAX_LINES:
            problems.append(_("the address has %(n)s lines; an envelope window holds %(max)s",
                              n=len(lines), max=MAX_LINES))
    return problems


# --- recipients and pieces ----------------------------------------------------------------------

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Recipient:
    name: str
    company: str
    street: str
    city: str
    region: str
    postal_code: str
    country: str      # ISO code, or the text as given when unknown (address_problems says so)
    language: str


def recipient_of(contact: Contact) -> Recipient:
    """The contact's postal address as we print it; the account's country when the contact has none."""
    account = contact.account
    raw_country = contact.country or (account.country if account is not None else "")
    code = country_code(raw_country) or (raw_country or "").strip()
    korean = contact.language == "ko" or code == "KR"
    if korean and _HANGUL.search(contact.last_name + contact.first_name):
        name = f"{contact.last_name}{contact.first_name}".strip()  # 김 + 지우 → 김지우
    else:
        name = contact.full_name
    return Recipient(name=name, company=account.name if account is not None else "",
                     street="\n".join(" ".join(line.split()) for line in (contact.street or "").splitlines()
                                      if line.strip()),
                     city=" ".join((contact.city or "").split()), region=region_code(code, contact.region),
                     postal_code=normalise_postal_code(code, contact.postal_code), country=code,
                     language="ko" if korean else (contact.language or "en")[:10])


def sender_address() -> str:
    return current_app.config.get("MAIL_POSTAL_ADDRESS") or DEFAULT_SENDER


def problems_for(contact: Contact) -> list[str]:
    r = recipient_of(contact)
    return address_problems(r.name, r.company, r.street, r.city, r.region, r.postal_code,
                            contact.country or (contact.account.country if contact.account else ""),
                            sender_country=home_country(sender_address()))


def withdrew_consent(contact: Contact) -> bool:
    """True when the stakeholder's latest word on direct mail is a withdrawal."""
    rows = db.session.execute(select(Consent.given_at, Consent.withdrawn_at).where(
        Consent.contact_id == contact.id, Consent.channel == "direct_mail")).all()
    withdrawals = [row.withdrawn_at for row in rows if row.withdrawn_at is not None]
    if not withdrawals:
        return False
    last = max(withdrawals)
    return not any(row.withdrawn_at is None and row.given_at >= last for row in rows)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()>#+\-.!|])")


def markdown_literal(value: str) -> str:
    """A merge value as markdown that shows exactly that text: no emphasis, links, headings or
    merge fields of its own, no new paragraph (a CRM name is data, never markup)."""
    value = " ".join((value or "").split())
    value = value.replace("&", "&amp;").replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", value)


def queue_piece(touchpoint, contact: Contact, asset, fmt: str, now: datetime) -> DirectMailPiece:
    """The piece for this touchpoint, queued for the next print batch; the same piece again when
    the touchpoint is retried (one piece per touchpoint: the unique touchpoint_id)."""
    if fmt not in MAIL_FORMATS:
        raise ValueError(f"unknown mail format {fmt!r}")
    existing = db.session.scalar(select(DirectMailPiece).where(DirectMailPiece.touchpoint_id == touchpoint.id))
    if existing is not None:
        return existing
    r = recipient_of(contact)
    values = merge_fields.values_for(contact.account, contact)
    subject = merge_fields.render(touchpoint.subject or (asset.title if asset is not None else ""), values)
    body = merge_fields.render(asset.body if asset is not None else "", values, escape=markdown_literal)
    row = dict(touchpoint_id=touchpoint.id, account_id=contact.account_id, contact_id=contact.id, format=fmt,
               language=r.language, status="queued", recipient_name=r.name[:200],
               recipient_title=(contact.title or "")[:200], company=r.company[:300], street=r.street[:300],
               city=r.city[:200], region=r.region[:100], postal_code=r.postal_code[:20], country=r.country[:2],
               subject=" ".join(subject.split())[:300], body=body, created_at=now)
    # its own short transaction: the dispatcher's session keeps its batch loaded (and SQLite's
    # write lock is not held across the rest of the pass)
    try:
        with db.engine.begin() as conn:
            piece_id = conn.execute(insert(DirectMailPiece).values(**row).returning(DirectMailPiece.id)).scalar_one()
    except IntegrityError:  # another dispatcher queued it a moment ago
        piece_id = db.session.scalar(select(DirectMailPiece.id).where(DirectMailPiece.touchpoint_id == touchpoint.id))
    return db.session.get(DirectMailPiece, piece_id)


def queued_pieces(limit: int = 500) -> list[DirectMailPiece]:
    return list(db.session.scalars(select(DirectMailPiece).where(DirectMailPiece.status == "queued")
                                   .order_by(DirectMailPiece.country, DirectMailPiece.postal_code,
                                             DirectMailPiece.id).limit(limit)))


def queued_counts() -> dict[str, int]:
    from sqlalchemy import func

    rows = db.session.execute(select(DirectMailPiece.format, func.count()).where(
        DirectMailPiece.status == "queued").group_by(DirectMailPiece.format)).all()
    return {fmt: count for fmt, count in rows}


def address_failures(limit: int = 20):
    """Direct-mail touchpoints that failed (mostly on their address), latest first, with the account."""
    from abmcontent.models import Touchpoint

    return list(db.session.scalars(select(Touchpoint).where(
        Touchpoint.channel == "direct_mail", Touchpoint.status == "failed")
        .order_by(Touchpoint.updated_at.desc(), Touchpoint.id.desc()).limit(limit)))


def recent_batches(limit: int = 20) -> list[DirectMailBatch]:
    return list(db.session.scalars(select(DirectMailBatch).order_by(DirectMailBatch.id.desc()).limit(limit)))


def get_batch(batch_id: int) -> DirectMailBatch:
    batch = db.session.get(DirectMailBatch, batch_id)
    if batch is None:
        raise NotFound(_("There is no such print batch."))
    return batch


def get_piece(piece_id: int) -> DirectMailPiece:
    piece = db.session.get(DirectMailPiece, piece_id)
    if piece is None:
        raise NotFound(_("There is no such mail piece."))
    return piece


# --- batches ------------------------------------------------------------------------------------

def start_batch(user, now: datetime, limit: int = MAX_BATCH) -> DirectMailBatch | None:
    """A new batch in status building holding the queued pieces (up to `limit`, in print order;
    the rest wait for the next batch); None when nothing is queued. The pieces are taken by one
    conditional UPDATE, so two runs at once never share a piece."""
    if db.session.scalar(select(DirectMailPiece.id).where(DirectMailPiece.status == "queued").limit(1)) is None:
        return None
    batch = DirectMailBatch(created_at=now, created_by_id=getattr(user, "id", None), status="building")
    db.session.add(batch)
    db.session.flush()
    first = select(DirectMailPiece.id).where(DirectMailPiece.status == "queued").order_by(
        DirectMailPiece.country, DirectMailPiece.postal_code, DirectMailPiece.id).limit(limit).scalar_subquery()
    taken = db.session.execute(update(DirectMailPiece).where(DirectMailPiece.id.in_(first),
                                                             DirectMailPiece.status == "queued")
                               .values(status="batched", batch_id=batch.id)
                               .execution_options(synchronize_session=False)).rowcount
    if not taken:  # another run took them between our look and our update
        db.session.rollback()
        return None
    batch.pieces_count = taken
    db.session.commit()
    return batch


def building_batch_ids() -> list[int]:
    return list(db.session.scalars(select(DirectMailBatch.id).where(DirectMailBatch.status == "building")
                                   .order_by(DirectMailBatch.id)))


def _claim(batch_id: int, now: datetime) -> str | None:
    """Take the build of a batch with a lease; None if another run holds it. The random file name
    written with the claim fences the finish: a builder whose lease was taken over cannot mark
    the batch ready with its own files."""
    t = DirectMailBatch.__table__
    name = f"batch-{batch_id}-{secrets.token_hex(8)}"
    with db.engine.begin() as conn:
        done = conn.execute(update(t).where(
            t.c.id == batch_id, t.c.status == "building",
            or_(t.c.lease_until.is_(None), t.c.lease_until < now))
            .values(pdf_path=f"{name}.pdf", lease_until=now + STALE_BUILD)).rowcount
    return name if done else None


def print_order(pieces) -> list[DirectMailPiece]:
    """As print houses sort for postage: by country, then postal code."""
    return sorted(pieces, key=lambda p: (p.country or "", p.postal_code or "", p.id))


def build_batch(batch_id: int, folder: str, now: datetime) -> DirectMailBatch:
    """Lay out the batch's pieces in one PDF and write the manifest; ready, or failed with the
    error in words and the pieces back in the queue (nothing is lost)."""
    name = _claim(batch_id, now)
    if name is None:
        return get_batch(batch_id)
    batch = get_batch(batch_id)
    pieces = print_order(batch.pieces)
    target = Path(folder)
    pdf_file, csv_file = target / f"{name}.pdf", target / f"{name}.csv"
    try:
        if not pieces:
            raise RenderError(_("the batch has no pieces"))
        target.mkdir(parents=True, exist_ok=True)
        pdf, ranges = render_pdf(pieces, now, title=f"Direct mail batch {batch_id}")
        _write(pdf_file, pdf)
        _write(csv_file, b"".join(crm_csv.export_csv(MANIFEST_HEADERS, manifest_rows(pieces, ranges))))
        pages = ranges[-1][1] if ranges else 0
        done = db.session.execute(update(DirectMailBatch).where(
            DirectMailBatch.id == batch_id, DirectMailBatch.pdf_path == f"{name}.pdf").values(
            status="ready", pages=pages, pieces_count=len(pieces), manifest_path=f"{name}.csv", error="",
            finished_at=now, lease_until=None).execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        if not done:  # our claim was taken over (we were too slow): theirs counts
            _remove(pdf_file, csv_file)
    except Exception as error:
        log.exception("direct mail batch %s failed", batch_id)
        db.session.rollback()
        _remove(pdf_file, csv_file)
        reason = str(error) if isinstance(error, RenderError) else \
            _("the PDF could not be made (%(error)s)", error=f"{type(error).__name__}: {error}")
        db.session.execute(update(DirectMailPiece).where(DirectMailPiece.batch_id == batch_id)
                           .values(status="queued", batch_id=None).execution_options(synchronize_session=False))
        db.session.execute(update(DirectMailBatch).where(DirectMailBatch.id == batch_id).values(
            status="failed", error=reason[:1000], pdf_path="", manifest_path="", finished_at=now, lease_until=None)
            .execution_options(synchronize_session=False))
        db.session.commit()
    db.session.expire_all()
    return get_batch(batch_id)


def build_waiting(folder: str, now: datetime) -> int:
    """Build every batch the UI started; returns how many were built (ready or failed)."""
    built = 0
    for batch_id in building_batch_ids():
        if build_batch(batch_id, folder, now).status != "building":
            built += 1
    return built


def _write(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def _remove(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def batch_file(batch: DirectMailBatch, kind: str, folder: str) -> Path:
    """The batch's PDF or manifest on disk; NotFound unless it is ready and the file is there."""
    relative = batch.pdf_path if kind == "pdf" else batch.manifest_path
    if batch.status != "ready" or not relative or "/" in relative or "\\" in relative or relative.startswith("."):
        raise NotFound(_("This batch has no file to download yet."))
    path = Path(folder) / relative
    if not path.is_file():
        raise NotFound(_("The batch's file is no longer on the server."))
    return path


MANIFEST_HEADERS = ["sequence", "piece id", "pages", "format", "name", "title", "company", "street", "city",
                    "region", "postal code", "country", "touchpoint id"]


def manifest_rows(pieces, ranges):
    for sequence, (piece, (first, last)) in enumerate(zip(pieces, ranges), start=1):
        yield [sequence, piece.id, f"{first}" if first == last else f"{first}-{last}", piece.format,
               piece.recipient_name, piece.recipient_title, piece.company, piece.street.replace("\n", ", "),
               piece.city, piece.region, piece.postal_code, piece.country, piece.touchpoint_id]


# --- rendering ----------------------------------------------------------------------------------

class RenderError(Exception):
    """The layout went wrong in a way a marketer can act on; the message says how."""


@dataclass
class PrintItem:
    piece: DirectMailPiece
    korean: bool
    page: str            # the CSS named page: letter-a4, letter-us or postcard
    lines: list[str]     # recipient address lines
    sender_lines: list[str]
    return_line: str     # the sender in one line, above the window
    date: str
    body: str            # sanitised HTML


def _date_for(language: str, country: str, now: datetime) -> str:
    for name in (f"{language}_{country}", language, "en"):
        try:
            return format_date(now.date(), "long", locale=Locale.parse(name))
        except (UnknownLocaleError, ValueError):
            continue
    return now.date().isoformat()


def print_item(piece: DirectMailPiece, now: datetime, sender: str) -> PrintItem:
    korean = piece.language == "ko" or piece.country == "KR"
    page = "postcard" if piece.format == "postcard" else \
        ("letter-us" if piece.country in NORTH_AMERICA_PAPER else "letter-a4")
    lines = address_lines(piece.recipient_name, piece.company, piece.street, piece.city, piece.region,
                          piece.postal_code, piece.country, honorific="님" if korean else "",
                          home_country=home_country(sender))
    parts = [part.strip() for part in sender.split(",") if part.strip()]
    sender_lines = parts[:1] + ([", ".join(parts[1:])] if len(parts) > 1 else [])  # name; street, city …
    return PrintItem(piece=piece, korean=korean, page=page, lines=lines, sender_lines=sender_lines,
                     return_line=", ".join(parts), date=_date_for(piece.language, piece.country, now),
                     body=str(markup.render(piece.body)))


def print_html(pieces, now: datetime, title: str = "Direct mail") -> str:
    """The HTML WeasyPrint lays out: every piece, in the order given, each starting a new page."""
    sender = sender_address()
    items = [print_item(piece, now, sender) for piece in pieces]
    return render_template("direct_mail/print/batch.html", items=items, title=title,
                           korean_fonts=KOREAN_FONTS, latin_fonts=LATIN_FONTS)


def _fetcher():
    """WeasyPrint fetches nothing: no remote images (no SSRF, no tracking pixels), no local files."""
    from weasyprint.urls import URLFetcher

    class NoFetch(URLFetcher):
        def fetch(self, url, headers=None):
            raise ValueError(f"direct mail does not load {url[:80]}")

    return NoFetch()


def render_pdf(pieces, now: datetime, title: str = "Direct mail") -> tuple[bytes, list[tuple[int, int]]]:
    """One PDF of the pieces in the order given, and the 1-based (first, last) page of each."""
    from weasyprint import HTML

    html = print_html(pieces, now, title)
    document = HTML(string=html, base_url=None, url_fetcher=_fetcher()).render()
    starts: dict[int, int] = {}
    for number, page in enumerate(document.pages, start=1):
        for anchor in page.anchors:
            if anchor.startswith("piece-"):
                starts.setdefault(int(anchor[6:]), number)
    ranges: list[tuple[int, int]] = []
    total = len(document.pages)
    for index, piece in enumerate(pieces):
        if piece.id not in starts:
            raise RenderError(_("piece %(id)s did not appear in the PDF", id=piece.id))
        first = starts[piece.id]
        last = (starts[pieces[index + 1].id] - 1) if index + 1 < len(pieces) else total
        if piece.format == "postcard" and last - first != 1:
            raise RenderError(_("the postcard for %(name)s does not fit on its two sides",
                                name=piece.recipient_name))
        ranges.append((first, last))
    return document.write_pdf(), ranges


def piece_pdf(piece_id: int, now: datetime | None = None) -> bytes:
    """One piece alone as a PDF, laid out exactly as in a batch (the preview in the UI)."""
    from datetime import timezone

    piece = get_piece(piece_id)
    pdf, _ranges = render_pdf([piece], now or datetime.now(timezone.utc), title=f"Direct mail piece {piece.id}")
    return pdf


__all__ = ["address_problems", "address_lines", "country_code", "queue_piece", "start_batch", "build_batch",
           "build_waiting", "piece_pdf", "render_pdf", "print_html", "batch_file", "withdrew_consent"]
