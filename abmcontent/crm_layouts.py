"""Recognising the columns of CRM exports and normalising their values.

Pure functions, no database. `detect_layout` recognises Salesforce (Data Loader API names
and report labels), HubSpot, the S&P 500 constituents list and abmcontent's own export;
common English and Korean column names ("Company", "E-mail", "회사명", "이메일") are
recognised too, as the layout "custom". `normalise` turns one row into a `Record`: the
values the file has, normalised, or the reasons the row must be rejected. Bad data never
raises; it ends up in `Record.errors`, in words.

Choices worth knowing:
- Employee ranges ("51-200", HubSpot style) become the midpoint rounded half up (126);
  "1000+" becomes 1000.
- Money ("$1.2M", "1,200,000", "12억", "120억원", "1.5e6") becomes a whole number in the
  currency as written; no conversion. Negative amounts are errors.
- An industry that is not a GICS sector, nor a CRM picklist value we know, becomes
  industry "" and its text goes to sub_industry (when that is empty). Never an error.
- A website or domain that is not a host name ("n/a", "Acme Inc") is left out, not an error.
- Placeholders such as "N/A", "#N/A", "null", "none", "-" count as empty cells.
- Hangul full names are family name first: "김지훈" → last "김", first "지훈";
  "남궁민수" → last "남궁", first "민수"; "김 지훈" → last "김", first "지훈".
- Extra cells that are all empty at the end of a row (Excel's trailing commas) are ignored;
  any other difference in the number of cells is an error for that row.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import urlsplit

from flask_babel import gettext as _

from abmcontent import geo, taxonomy


def _field(name: str) -> str:
    """A field's name in the marketer's words (and language) for error messages."""
    return taxonomy.label("import_field", name)

ACCOUNT_FIELDS: tuple[str, ...] = (
    "name", "domain", "website", "industry", "sub_industry", "revenue", "employees", "city", "region",
    "country", "owner", "technologies", "competitor_products", "customer_base", "tier", "journey_stage",
    "lost", "deal_size", "external_id")
CONTACT_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "full_name", "email", "phone", "title", "seniority", "persona",
    "buying_authority", "language", "timezone", "street", "city", "region", "postal_code", "country",
    "account_name", "account_domain", "unsubscribed", "consent_email", "external_id", "account_external_id")
# Pseudo-fields a column may map to besides the fields above: "City, State" or "City, Country"
# in one column (the S&P 500 list's "Headquarters Location"), split into city, region, country.
SPECIAL_FIELDS: dict[str, tuple[str, ...]] = {"accounts": ("hq_location",), "contacts": ()}
REQUIRED: dict[str, str] = {"accounts": "name", "contacts": "email"}
KINDS = ("accounts", "contacts")
LAYOUT_NAMES = ("salesforce_api", "salesforce_report", "hubspot", "sp500", "abmcontent", "custom")

INDUSTRIES = ("communication_services", "consumer_discretionary", "consumer_staples", "energy",
              "financials", "health_care", "industrials", "information_technology", "materials",
              "real_estate", "utilities")
JOURNEY_STAGES = ("awareness", "consideration", "decision", "onboarding", "expansion")
SENIORITIES = ("c_level", "vp", "director", "manager", "staff")
BUYING_AUTHORITIES = ("decision_maker", "influencer", "user", "blocker")

# Longest text each field may hold (the database columns), in characters.
MAX_LENGTH: dict[str, dict[str, int]] = {
    "accounts": {"name": 300, "domain": 253, "industry": 100, "sub_industry": 200, "city": 200,
                 "region": 100, "country": 100, "customer_base": 200, "owner": 254, "external_id": 255},
    "contacts": {"first_name": 100, "last_name": 100, "full_name": 200, "email": 254, "phone": 50,
                 "title": 200, "seniority": 30, "persona": 50, "buying_authority": 30, "language": 10,
                 "timezone": 64, "street": 300, "city": 200, "region": 100, "postal_code": 20,
                 "country": 100, "account_name": 300, "account_domain": 253, "external_id": 255,
                 "account_external_id": 255},
}
MULTILINE_FIELDS = frozenset({"street", "technologies", "competitor_products"})
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1


@dataclass
class Layout:
    name: str
    mapping: dict[str, str]
    unmapped: list[str]


@dataclass
class Record:
    line: int
    values: dict[str, object]
    errors: list[str] = field(default_factory=list)


# --- layouts ---------------------------------------------------------------------------------

def _hkey(header: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", header or "").casefold().split())


_IGNORE = None  # a column a layout is known to have but abmcontent does not keep

_SF_ACCOUNT_IGNORED = (
    "TYPE", "SHIPPINGSTREET", "SHIPPINGCITY", "SHIPPINGSTATE", "SHIPPINGPOSTALCODE", "SHIPPINGCOUNTRY",
    "SHIPPINGSTATECODE", "SHIPPINGCOUNTRYCODE", "SHIPPINGLATITUDE", "SHIPPINGLONGITUDE", "BILLINGSTREET",
    "BILLINGPOSTALCODE", "BILLINGSTATECODE", "BILLINGCOUNTRYCODE", "BILLINGLATITUDE", "BILLINGLONGITUDE",
    "ISDELETED", "MASTERRECORDID", "PARENTID", "PHONE", "FAX", "ACCOUNTNUMBER", "SITE", "TICKERSYMBOL",
    "OWNERSHIP", "RATING", "SIC", "DESCRIPTION", "CREATEDDATE", "CREATEDBYID", "LASTMODIFIEDDATE",
    "LASTMODIFIEDBYID", "SYSTEMMODSTAMP", "LASTACTIVITYDATE", "ACCOUNTSOURCE")
_SF_CONTACT_IGNORED = (
    "ISDELETED", "MASTERRECORDID", "SALUTATION", "OTHERSTREET", "OTHERCITY", "OTHERSTATE",
    "OTHERPOSTALCODE", "OTHERCOUNTRY", "MAILINGSTATECODE", "MAILINGCOUNTRYCODE", "FAX", "MOBILEPHONE",
    "HOMEPHONE", "OTHERPHONE", "ASSISTANTNAME", "ASSISTANTPHONE", "REPORTSTOID", "DEPARTMENT",
    "LEADSOURCE", "BIRTHDATE", "DESCRIPTION", "OWNERID", "HASOPTEDOUTOFFAX", "DONOTCALL",
    "CREATEDDATE", "CREATEDBYID", "LASTMODIFIEDDATE", "LASTMODIFIEDBYID", "SYSTEMMODSTAMP",
    "LASTACTIVITYDATE", "EMAILBOUNCEDREASON", "EMAILBOUNCEDDATE", "ISEMAILBOUNCED")

_LAYOUTS: dict[str, dict[str, dict[str, str | None]]] = {
    "accounts": {
        "salesforce_api": {
            "ID": "external_id", "NAME": "name", "WEBSITE": "website", "INDUSTRY": "industry",
            "ANNUALREVENUE": "revenue", "NUMBEROFEMPLOYEES": "employees", "BILLINGCITY": "city",
            "BILLINGSTATE": "region", "BILLINGCOUNTRY": "country", "OWNERID": "owner",
            **{h: _IGNORE for h in _SF_ACCOUNT_IGNORED},
        },
        "salesforce_report": {
            "Account Name": "name", "Website": "website", "Industry": "industry",
            "Annual Revenue": "revenue", "Employees": "employees", "Billing City": "city",
            "Billing State/Province": "region", "Billing Country": "country", "Account Owner": "owner",
            "Account ID": "external_id",
            **{h: _IGNORE for h in (
                "Type", "Rating", "Last Activity", "Last Modified Date", "Created Date", "Billing Street",
                "Billing Zip/Postal Code", "Shipping Street", "Shipping City", "Shipping State/Province",
                "Shipping Zip/Postal Code", "Shipping Country", "Phone", "Fax", "Account Number",
                "Account Site", "Parent Account", "Ownership", "Ticker Symbol", "SIC Code",
                "Account Source", "Description")},
        },
        "hubspot": {
            "Record ID": "external_id", "Company name": "name", "Company Domain Name": "domain",
            "Website URL": "website", "Number of Employees": "employees", "Annual Revenue": "revenue",
            "Industry": "industry", "City": "city", "State/Region": "region", "Country/Region": "country",
            "Company owner": "owner",
            **{h: _IGNORE for h in (
                "Create Date", "Last Activity Date", "Phone Number", "Street Address", "Street Address 2",
                "Postal Code", "Lifecycle Stage", "Lead Status", "Type", "Time Zone", "Description",
                "LinkedIn Company Page", "Associated Contact", "Associated Deal", "Last Modified Date",
                "Year Founded", "Is Public")},
        },
        "sp500": {
            "Security": "name", "GICS Sector": "industry", "GICS Sub-Industry": "sub_industry",
            "Headquarters Location": "hq_location", "CIK": "external_id",
            "Symbol": _IGNORE, "Date added": _IGNORE, "Date first added": _IGNORE, "Founded": _IGNORE,
        },
        "abmcontent": {f: f for f in ACCOUNT_FIELDS},
        "custom": {
            **dict.fromkeys(("Company", "Company Name", "Account", "Organization", "Organisation",
                             "Organization Name", "Business Name", "회사", "회사명", "기업명", "업체명",
                             "고객사", "고객사명", "거래처", "거래처명", "법인명"), "name"),
            **dict.fromkeys(("Company Domain", "Email Domain", "도메인"), "domain"),
            **dict.fromkeys(("Web Site", "URL", "Homepage", "Home Page", "Web", "웹사이트", "홈페이지"),
                            "website"),
            **dict.fromkeys(("Sector", "업종", "산업", "업계"), "industry"),
            **dict.fromkeys(("Sub-Industry", "Sub Industry", "Subindustry", "세부 업종", "세부업종"),
                            "sub_industry"),
            **dict.fromkeys(("Sales", "Annual Sales", "매출", "매출액", "연매출", "연간 매출"), "revenue"),
            **dict.fromkeys(("Employee Count", "Headcount", "Company Size", "직원수", "직원 수",
                             "임직원수", "임직원 수", "종업원수"), "employees"),
            **dict.fromkeys(("Town", "도시", "시/군/구"), "city"),
            **dict.fromkeys(("State", "Province", "State/Province", "시/도", "지역"), "region"),
            **dict.fromkeys(("Nation", "국가", "나라"), "country"),
            **dict.fromkeys(("Sales Owner", "담당자", "영업 담당자", "영업담당자"), "owner"),
            **dict.fromkeys(("Tech Stack", "Technology", "기술", "사용 기술"), "technologies"),
            **dict.fromkeys(("Competitors", "경쟁사 제품", "경쟁 제품"), "competitor_products"),
            **dict.fromkeys(("Customers", "주요 고객", "고객층"), "customer_base"),
            **dict.fromkeys(("Account Tier", "등급", "티어"), "tier"),
            **dict.fromkeys(("Stage", "Journey Stage", "Buyer Stage", "단계", "구매 단계"), "journey_stage"),
            **dict.fromkeys(("Closed Lost", "실주"), "lost"),
            **dict.fromkeys(("Deal Size", "Deal Value", "Opportunity Amount", "Amount", "거래 규모",
                             "예상 거래액"), "deal_size"),
            **dict.fromkeys(("ID", "CRM ID", "External ID"), "external_id"),
        },
    },
    "contacts": {
        "salesforce_api": {
            "ID": "external_id", "ACCOUNTID": "account_external_id", "FIRSTNAME": "first_name",
            "LASTNAME": "last_name", "NAME": "full_name", "EMAIL": "email", "PHONE": "phone",
            "TITLE": "title", "MAILINGSTREET": "street", "MAILINGCITY": "city", "MAILINGSTATE": "region",
            "MAILINGPOSTALCODE": "postal_code", "MAILINGCOUNTRY": "country",
            "HASOPTEDOUTOFEMAIL": "unsubscribed",
            **{h: _IGNORE for h in _SF_CONTACT_IGNORED},
        },
        "salesforce_report": {
            "First Name": "first_name", "Last Name": "last_name", "Email": "email", "Title": "title",
            "Phone": "phone", "Account Name": "account_name", "Mailing Street": "street",
            "Mailing City": "city", "Mailing State/Province": "region",
            "Mailing Zip/Postal Code": "postal_code", "Mailing Country": "country",
            "Email Opt Out": "unsubscribed", "Contact ID": "external_id", "Account ID": "account_external_id",
            **{h: _IGNORE for h in (
                "Contact Owner", "Salutation", "Mobile", "Fax", "Department", "Lead Source", "Birthdate",
                "Created Date", "Last Modified Date", "Last Activity", "Do Not Call", "Fax Opt Out",
                "Other Street", "Other City", "Other State/Province", "Other Zip/Postal Code",
                "Other Country", "Reports To", "Description")},
        },
        "hubspot": {
            "Record ID": "external_id", "First Name": "first_name", "Last Name": "last_name",
            "Email": "email", "Phone Number": "phone", "Job Title": "title", "Company Name": "account_name",
            "Street Address": "street", "City": "city", "State/Region": "region", "Postal Code": "postal_code",
            "Country/Region": "country", "Unsubscribed from all email": "unsubscribed",
            "Time Zone": "timezone", "Preferred language": "language",
            **{h: _IGNORE for h in (
                "Contact owner", "Lifecycle Stage", "Lead Status", "Create Date", "Last Activity Date",
                "Last Modified Date", "Marketing contact status", "Mobile Phone Number",
                "Associated Company", "Associated Deal", "Original Source", "Persona")},
        },
        "abmcontent": {f: f for f in CONTACT_FIELDS},
        "custom": {
            **dict.fromkeys(("First", "Firstname", "Given Name"), "first_name"),
            **dict.fromkeys(("Last", "Lastname", "Surname", "Family Name", "성"), "last_name"),
            **dict.fromkeys(("Name", "Full Name", "Contact Name", "Contact", "성명", "이름", "담당자명",
                             "고객명"), "full_name"),
            **dict.fromkeys(("E-mail", "Email Address", "E-mail Address", "Mail", "Work Email",
                             "Business Email", "이메일", "이메일 주소", "전자우편", "메일"), "email"),
            **dict.fromkeys(("Phone Number", "Telephone", "Tel", "Mobile", "Mobile Phone", "Work Phone",
                             "전화", "전화번호", "연락처", "휴대폰", "휴대전화", "핸드폰"), "phone"),
            **dict.fromkeys(("Job Title", "Position", "Role", "직함", "직책", "직위", "직급"), "title"),
            **dict.fromkeys(("Level", "Job Level", "Management Level"), "seniority"),
            **dict.fromkeys(("페르소나",), "persona"),
            **dict.fromkeys(("Buying Role", "구매 권한"), "buying_authority"),
            **dict.fromkeys(("Preferred Language", "언어"), "language"),
            **dict.fromkeys(("Time Zone", "시간대"), "timezone"),
            **dict.fromkeys(("Address", "Street Address", "Address 1", "Address Line 1", "주소",
                             "도로명 주소"), "street"),
            **dict.fromkeys(("Town", "도시", "시/군/구"), "city"),
            **dict.fromkeys(("State", "Province", "State/Province", "State/Region", "시/도", "지역"),
                            "region"),
            **dict.fromkeys(("Zip", "Zip Code", "Postcode", "Post Code", "Postal Code", "우편번호"),
                            "postal_code"),
            **dict.fromkeys(("Nation", "Country/Region", "국가", "나라"), "country"),
            **dict.fromkeys(("Company", "Company Name", "Account", "Account Name", "Organization",
                             "Organisation", "회사", "회사명", "기업명", "소속", "소속 회사"), "account_name"),
            **dict.fromkeys(("Company Domain", "Company Website", "Website", "Domain", "회사 도메인"),
                            "account_domain"),
            **dict.fromkeys(("Opted Out", "Email Opt Out", "Opt Out", "Do Not Email", "수신거부",
                             "수신 거부"), "unsubscribed"),
            **dict.fromkeys(("Email Consent", "Consent", "Marketing Consent", "Opt In", "Email Opt In",
                             "수신동의", "수신 동의", "마케팅 수신 동의"), "consent_email"),
            **dict.fromkeys(("ID", "Contact ID", "CRM ID", "External ID"), "external_id"),
            **dict.fromkeys(("Account ID", "Company ID"), "account_external_id"),
        },
    },
}
# Normalised header → field per layout, and the spelling each layout writes (for tie-breaks).
_TABLES = {kind: {name: {_hkey(h): f for h, f in table.items()} for name, table in layouts.items()}
           for kind, layouts in _LAYOUTS.items()}
_SPELLINGS = {kind: {name: set(table) for name, table in layouts.items()}
              for kind, layouts in _LAYOUTS.items()}


def _fields(kind: str) -> tuple[str, ...]:
    return ACCOUNT_FIELDS if kind == "accounts" else CONTACT_FIELDS


def _fallback_field(kind: str, key: str) -> str | None:
    """A field for a header no layout knows: a field name, a synonym, or a Salesforce custom field."""
    if key.endswith("__c"):
        key = key[:-3]
    for candidate in (key, key.replace(" ", "_"), key.replace("_", " ")):
        if candidate in _TABLES[kind]["abmcontent"]:
            return _TABLES[kind]["abmcontent"][candidate]
        if candidate in _TABLES[kind]["custom"]:
            return _TABLES[kind]["custom"][candidate]
    return None


def detect_layout(kind: str, headers: list[str]) -> Layout | None:
    """The known layout that covers the headers best, with its mapping; None without the required field."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    keys = [_hkey(h) for h in headers]
    best, best_score = None, (0, 0, 0)
    for rank, name in enumerate(reversed(LAYOUT_NAMES)):  # later in LAYOUT_NAMES loses ties
        table = _TABLES[kind].get(name)
        if table is None:
            continue
        covered = sum(1 for k in keys if k in table)
        exact = sum(1 for h in headers if h.strip() in _SPELLINGS[kind][name])
        score = (covered, exact, rank)
        if covered and score > best_score:
            best, best_score = name, score
    if best is None:
        return None
    table = _TABLES[kind][best]
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header, key in zip(headers, keys):
        target = table.get(key)
        if header and target and target not in used:
            mapping[header] = target
            used.add(target)
    for header, key in zip(headers, keys):
        if not header or header in mapping or key in table:
            continue
        target = _fallback_field(kind, key)
        if target and target not in used:
            mapping[header] = target
            used.add(target)
    if kind == "contacts" and "last_name" in used and "first_name" not in used:
        # Korean sheets with a family-name column (성) beside 이름: 이름 is then the given name.
        given = next((h for h in mapping if _hkey(h) == "이름" and mapping[h] == "full_name"), None)
        if given is not None:
            mapping[given] = "first_name"
    if REQUIRED[kind] not in mapping.values():
        return None
    return Layout(name=best, mapping=mapping, unmapped=[h for h in headers if h and h not in mapping])


def header_key(kind: str, headers: list[str]) -> str:
    """sha256 hex of the kind and the casefolded, stripped headers in order."""
    normalised = [(h or "").strip().casefold() for h in headers]
    payload = json.dumps([kind, normalised], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def validate_mapping(kind: str, mapping: dict[str, str], headers: list[str]) -> list[str]:
    """Problems with a mapping a user made, in words; [] when it can be used.

    A column mapped to "" or None is a column left out.
    """
    if kind not in KINDS:
        return [_("Choose accounts or contacts to import.")]
    allowed = set(_fields(kind)) | set(SPECIAL_FIELDS[kind])
    in_file = {(h or "").strip().casefold() for h in headers}
    problems: list[str] = []
    columns_of: dict[str, list[str]] = {}
    for header, target in mapping.items():
        if not target:
            continue
        if (header or "").strip().casefold() not in in_file:
            problems.append(_("The column “%(column)s” is not in the file.", column=header))
        if target not in allowed:
            problems.append(_("“%(field)s” (chosen for the column “%(column)s”) is not a field that can be imported.",
                              field=target, column=header))
            continue
        columns_of.setdefault(target, []).append(header)
    for target, columns in columns_of.items():
        if len(columns) > 1:
            names = ", ".join(f'"{c}"' for c in columns)
            problems.append(_("“%(field)s” is chosen for more than one column: %(columns)s. Choose one.",
                              field=_field(target), columns=names))
    required = REQUIRED[kind]
    if required not in columns_of:
        problems.append(_("No column is chosen for “%(field)s”; it is required.", field=_field(required)))
    return problems


# --- normalising values ----------------------------------------------------------------------

class _Bad(Exception):
    """A value that makes the row unusable; the message is shown to the user."""


_PLACEHOLDERS = frozenset({"n/a", "#n/a", "null", "none", "-", "--", "—", "–"})
_LINE_BREAK = re.compile(r"[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _show(text: str, limit: int = 60) -> str:
    """A value quoted in a message: control characters made visible, long values cut."""
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _clean(cell: str) -> str:
    if "\x00" in cell:
        cell = cell.replace("\x00", "")
    cell = cell.strip()
    if not cell.isascii() and not unicodedata.is_normalized("NFC", cell):
        cell = unicodedata.normalize("NFC", cell)
    if len(cell) <= 4 and cell.casefold() in _PLACEHOLDERS:
        return ""
    return cell


def _one_line(text: str) -> str:
    return " ".join(text.split())


# Money and counts.
_KOREAN_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(천|백|십)?\s*(조|억|만)?")
_KOREAN_UNITS = {"조": 10**12, "억": 10**8, "만": 10**4, "천": 10**3, "백": 10**2, "십": 10, None: 1}
_SCALE = {"k": 10**3, "thousand": 10**3, "m": 10**6, "mm": 10**6, "mn": 10**6, "mio": 10**6,
          "million": 10**6, "millions": 10**6, "b": 10**9, "bn": 10**9, "mrd": 10**9, "billion": 10**9,
          "billions": 10**9, "t": 10**12, "tn": 10**12, "trillion": 10**12}
_AMOUNT = re.compile(r"(?P<number>\d[\d,.' \u00a0\u202f]*(?:e[+-]?\d+)?)\s*(?P<scale>[a-z]+)?\.?")
_CURRENCY = re.compile(r"\b(?:usd|us|krw|eur|gbp|jpy|cny|rmb|won|dollars?)\b|[$₩€£¥원]")
_DIGITS = re.compile(r"\d+")
_DIGIT_GAP = re.compile(r"(?<=\d)[ '\u00a0\u202f](?=\d)")
_US_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_EU_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?|\d{1,3}(?:\.\d{3})+,\d+")
_DECIMAL = re.compile(r"\d*\.\d+|\d+\.")
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}")
_EXPONENT = re.compile(r"\d+(?:\.\d+)?e[+-]?\d+")


def _number(text: str) -> Decimal | None:
    text = _DIGIT_GAP.sub("", text.strip())
    try:
        if _DIGITS.fullmatch(text) or _DECIMAL.fullmatch(text) or _EXPONENT.fullmatch(text):
            return Decimal(text)
        if _US_THOUSANDS.fullmatch(text):
            return Decimal(text.replace(",", ""))
        if _EU_THOUSANDS.fullmatch(text):
            return Decimal(text.replace(".", "").replace(",", "."))
        if _DECIMAL_COMMA.fullmatch(text):
            return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None
    return None


def _amount(text: str) -> tuple[Decimal | None, bool]:
    """(value, negative) for a money amount or a count; value None when it is not a number."""
    if text.isdigit() and text.isascii():
        return Decimal(text), False
    s = unicodedata.normalize("NFKC", text).casefold().strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1]
    s = _CURRENCY.sub(" ", s).strip()
    if s[:1] in ("-", "−"):
        negative, s = True, s[1:].strip()
    if not s:
        return None, negative
    if any(unit in s for unit in "조억만천백십"):
        total, consumed = Decimal(0), 0
        for match in _KOREAN_NUMBER.finditer(s):
            if s[consumed:match.start()].strip():
                return None, negative
            number = _number(match.group(1))
            if number is None:
                return None, negative
            total += number * _KOREAN_UNITS[match.group(2)] * _KOREAN_UNITS[match.group(3)]
            consumed = match.end()
        if consumed == 0 or s[consumed:].strip():
            return None, negative
        return total, negative
    match = _AMOUNT.fullmatch(s)
    if not match:
        return None, negative
    scale = match.group("scale")
    if scale is not None and scale not in _SCALE:
        return None, negative
    number = _number(match.group("number"))
    if number is None:
        return None, negative
    return number * _SCALE.get(scale, 1), negative


def _whole(value: Decimal, limit: int) -> int | None:
    """The value rounded half up to a whole number; None when above limit."""
    if value > limit:
        return None
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _money(name: str, text: str) -> int:
    value, negative = _amount(text)
    if value is None:
        raise _Bad(_("%(field)s “%(value)s” is not a number", field=_field(name), value=_show(text)))
    if negative and value:
        raise _Bad(_("%(field)s “%(value)s” must not be negative", field=_field(name), value=_show(text)))
    result = _whole(value, MAX_BIGINT)
    if result is None:
        raise _Bad(_("%(field)s “%(value)s” is too large", field=_field(name), value=_show(text)))
    return result


_RANGE = re.compile(r"(?P<low>[^-–—~]+?)\s*(?:-|–|—|~|to)\s*(?P<high>.+)")
_COUNT_WORDS = re.compile(r"(?:명|people|persons|employees|staff)$")


def _employees(text: str) -> int:
    s = _COUNT_WORDS.sub("", unicodedata.normalize("NFKC", text).casefold().strip()).strip()
    if s.endswith("+"):
        s = s[:-1].strip()
    if s.startswith(("over ", "more than ")):
        s = s.split(" ", 1)[1].strip()
    match = _RANGE.fullmatch(s) if s[:1] not in ("-", "−") else None
    if match:
        low, low_negative = _amount(match.group("low"))
        high, high_negative = _amount(match.group("high").rstrip("+ "))
        if low is None or high is None or low_negative or high_negative:
            raise _Bad(_("%(field)s “%(value)s” is not a number", field=_field("employees"), value=_show(text)))
        value = (low + high) / 2
    else:
        value, negative = _amount(s)
        if value is None:
            raise _Bad(_("%(field)s “%(value)s” is not a number", field=_field("employees"), value=_show(text)))
        if negative and value:
            raise _Bad(_("%(field)s “%(value)s” must not be negative", field=_field("employees"), value=_show(text)))
    result = _whole(value, MAX_INT)
    if result is None:
        raise _Bad(_("%(field)s “%(value)s” is too large", field=_field("employees"), value=_show(text)))
    return result


_TRUE = frozenset({"true", "yes", "y", "1", "t", "1.0", "on", "checked", "예", "네"})
_FALSE = frozenset({"false", "no", "n", "0", "f", "0.0", "off", "unchecked", "아니오", "아니요"})


def _bool(name: str, text: str) -> bool:
    key = text.strip().casefold()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise _Bad(_("%(field)s “%(value)s” is not yes or no", field=_field(name), value=_show(text)))


_TIER = re.compile(r"(?:tier|t)?[\s_-]*(?P<n>[123]|iii|ii|i)(?:\.0+)?(?:\s*등급)?")
_ROMAN = {"i": 1, "ii": 2, "iii": 3}


def _tier(text: str) -> int:
    match = _TIER.fullmatch(unicodedata.normalize("NFKC", text).casefold().strip())
    if not match:
        raise _Bad(_("%(field)s “%(value)s” is not 1, 2 or 3", field=_field("tier"), value=_show(text)))
    n = match.group("n")
    return _ROMAN[n] if n in _ROMAN else int(n)


_STAGE_SYNONYMS = {"인지": "awareness", "고려": "consideration", "결정": "decision", "온보딩": "onboarding",
                   "온보딩·유지": "onboarding", "확장": "expansion", "확장·옹호": "expansion",
                   "retention": "onboarding", "advocacy": "expansion"}


def _stage(text: str) -> str:
    key = unicodedata.normalize("NFKC", text).casefold().strip()
    if key in JOURNEY_STAGES:
        return key
    if key in _STAGE_SYNONYMS:
        return _STAGE_SYNONYMS[key]
    first = re.split(r"[^\w]+", key)[0]
    if first in JOURNEY_STAGES:
        return first  # "Onboarding & retention", "Expansion & advocacy"
    raise _Bad(_("%(field)s “%(value)s” is not one of %(allowed)s", field=_field("journey_stage"),
                 value=_show(text), allowed=", ".join(JOURNEY_STAGES)))


def _word_key(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", text).casefold()).split())


_SENIORITY = {
    **dict.fromkeys(("c level", "clevel", "c suite", "cxo", "executive", "owner", "founder", "partner",
                     "president", "ceo", "cto", "cfo", "cio", "cmo", "coo", "임원", "경영진", "대표"), "c_level"),
    **dict.fromkeys(("vp", "vice president", "svp", "evp", "avp", "부사장", "전무", "상무"), "vp"),
    **dict.fromkeys(("director", "head", "이사", "본부장"), "director"),
    **dict.fromkeys(("manager", "senior manager", "팀장", "매니저", "부장", "차장", "과장"), "manager"),
    **dict.fromkeys(("staff", "individual contributor", "ic", "entry", "senior", "employee", "associate",
                     "training", "사원", "대리", "주임", "직원"), "staff"),
}
_AUTHORITY = {
    **dict.fromkeys(("decision maker", "dm", "결정권자", "의사결정자"), "decision_maker"),
    **dict.fromkeys(("influencer", "영향력자"), "influencer"),
    **dict.fromkeys(("user", "end user", "사용자"), "user"),
    **dict.fromkeys(("blocker", "반대자"), "blocker"),
}
_LANGUAGES = {"english": "en", "영어": "en", "korean": "ko", "한국어": "ko", "한국말": "ko", "kr": "ko",
              "japanese": "ja", "일본어": "ja", "chinese": "zh", "중국어": "zh", "german": "de",
              "french": "fr", "spanish": "es"}


def _choice(name: str, text: str, table: dict[str, str], allowed: tuple[str, ...]) -> str:
    key = _word_key(text)
    if key.replace(" ", "_") in allowed:
        return key.replace(" ", "_")
    if key in table:
        return table[key]
    raise _Bad(_("%(field)s “%(value)s” is not one of %(allowed)s", field=_field(name), value=_show(text),
                 allowed=", ".join(allowed)))


def _language(text: str) -> str:
    key = text.strip().casefold()
    if key in _LANGUAGES:
        return _LANGUAGES[key]
    primary = re.split(r"[-_]", key)[0]
    if re.fullmatch(r"[a-z]{2,3}", primary):
        return primary
    raise _Bad(_("%(field)s “%(value)s” is not a language code such as en or ko", field=_field("language"),
                 value=_show(text)))


def _persona(text: str) -> str:
    return "_".join(_word_key(text).split())


_EMAIL_LOCAL = re.compile(r"[\w!#$%&'*+/=?^`{|}~.-]+")
_EMAIL_LABEL = re.compile(r"[^\W_](?:[\w-]*[^\W_])?")


def _email(text: str) -> str:
    address = text.strip().lower()
    if address.startswith("mailto:"):
        address = address[7:]
    bad = _Bad(_("%(field)s “%(value)s” is not a valid address", field=_field("email"), value=_show(text)))
    if len(address) > 254 or _CONTROL.search(address) or " " in address or address.count("@") != 1:
        raise bad
    local, domain = address.split("@")
    if not local or len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local) or local.startswith(".") \
            or local.endswith(".") or ".." in local:
        raise bad
    labels = domain.split(".")
    if len(labels) < 2 or not all(_EMAIL_LABEL.fullmatch(label) and len(label) <= 63 for label in labels) \
            or labels[-1].isdigit() or len(labels[-1]) < 2:
        raise bad
    return address


_LIST_SEPARATORS = re.compile(r"[;,|\r\n]+")


def _split_list(text: str) -> list[str]:
    items: list[str] = []
    for part in _LIST_SEPARATORS.split(text):
        part = _one_line(part)
        if part and part not in items:
            items.append(part)
    return items


# --- industries ------------------------------------------------------------------------------

def _industry_key(text: str) -> str:
    key = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    words = [w for w in re.sub(r"[\W_]+", " ", key).split() if w != "and"]
    return " ".join(words)


_INDUSTRY_NAMES: dict[str, tuple[str, ...]] = {
    "communication_services": (
        "Communication Services", "Telecommunication Services", "Telecommunications", "Communications",
        "Media", "Entertainment", "Broadcast Media", "Media Production", "Internet", "Online Media",
        "Publishing", "Newspapers", "Marketing and Advertising", "Computer Games", "Wireless",
        "Motion Pictures and Film", "Music", "통신", "미디어", "방송", "엔터테인먼트", "게임", "광고", "언론"),
    "consumer_discretionary": (
        "Consumer Discretionary", "Retail", "Apparel", "Apparel Fashion", "Apparel & Fashion", "Hospitality",
        "Recreation", "Automotive", "Consumer Electronics", "Consumer Services", "Leisure Travel Tourism",
        "Leisure, Travel & Tourism", "Restaurants", "Luxury Goods Jewelry", "Sporting Goods", "Furniture",
        "Textiles", "Hotels", "Travel", "유통", "소매", "자동차", "호텔", "여행", "패션", "의류", "외식"),
    "consumer_staples": (
        "Consumer Staples", "Consumer Goods", "Food & Beverage", "Food & Beverages", "Food Production",
        "Agriculture", "Farming", "Tobacco", "Wine and Spirits", "Cosmetics", "Supermarkets", "Dairy",
        "식품", "음료", "농업", "생활용품", "화장품"),
    "energy": ("Energy", "Oil & Energy", "Oil Energy", "Oil and Gas", "Oil & Gas", "에너지", "정유",
               "석유", "가스"),
    "financials": (
        "Financials", "Financial", "Banking", "Finance", "Insurance", "Financial Services",
        "Investment Banking", "Investment Management", "Capital Markets",
        "Venture Capital & Private Equity", "Venture Capital Private Equity", "Accounting", "금융", "은행",
        "보험", "증권", "카드", "투자", "핀테크", "자산운용"),
    "health_care": (
        "Health Care", "Healthcare", "Biotechnology", "Hospital & Health Care", "Hospital Health Care",
        "Pharmaceuticals", "Medical Devices", "Medical Practice", "Health, Wellness and Fitness",
        "Health Wellness and Fitness", "Life Sciences", "헬스케어", "의료", "제약", "바이오", "병원",
        "의료기기"),
    "industrials": (
        "Industrials", "Manufacturing", "Machinery", "Transportation", "Construction", "Engineering",
        "Shipping", "Environmental", "Consulting", "Airlines/Aviation", "Airlines Aviation",
        "Aviation & Aerospace", "Aviation Aerospace", "Defense & Space", "Defense Space",
        "Mechanical or Industrial Engineering", "Industrial Automation", "Logistics and Supply Chain",
        "Transportation/Trucking/Railroad", "Transportation Trucking Railroad", "Maritime", "Wholesale",
        "Management Consulting", "Staffing and Recruiting", "Security and Investigations",
        "Electrical/Electronic Manufacturing", "Electrical Electronic Manufacturing", "Civil Engineering",
        "Aerospace", "Printing", "Import and Export", "Package/Freight Delivery",
        "Package Freight Delivery", "제조", "제조업", "건설", "물류", "운송", "조선", "항공", "기계",
        "방산", "컨설팅", "엔지니어링"),
    "information_technology": (
        "Information Technology", "Technology", "Electronics", "Computer Software", "Software",
        "Information Technology and Services", "Information Technology & Services", "Computer Hardware",
        "Computer Networking", "Computer & Network Security", "Computer Network Security",
        "Semiconductors", "IT", "IT Services", "Internet Software", "정보기술", "소프트웨어", "반도체",
        "전자", "보안", "it 서비스", "정보통신"),
    "materials": (
        "Materials", "Chemicals", "Mining & Metals", "Mining Metals", "Building Materials",
        "Packaging and Containers", "Packaging Containers", "Paper & Forest Products",
        "Paper Forest Products", "Glass, Ceramics & Concrete", "Plastics", "Steel", "화학", "철강",
        "소재", "금속", "광업"),
    "real_estate": ("Real Estate", "Commercial Real Estate", "부동산"),
    "utilities": ("Utilities", "Renewables & Environment", "Renewables Environment", "Utility",
                  "유틸리티", "전력", "수도"),
}
_INDUSTRY_INDEX = {_industry_key(name): key for key, names in _INDUSTRY_NAMES.items() for name in names}
_INDUSTRY_INDEX.update({_industry_key(key): key for key in INDUSTRIES})


def industry_of(text: str) -> str:
    """The GICS sector key for a sector name or a CRM industry picklist value; "" when unknown."""
    key = _industry_key(text or "")
    if key in _INDUSTRY_INDEX:
        return _INDUSTRY_INDEX[key]
    if key.endswith("업") and key[:-1] in _INDUSTRY_INDEX:  # 금융업, 보험업, 유통업
        return _INDUSTRY_INDEX[key[:-1]]
    return ""


# --- places ------------------------------------------------------------------------------------

_FOOTNOTE = re.compile(r"\[\w{1,3}\]")


def _is_us_state(text: str) -> bool:
    return geo.us_state_code(text) in geo.US_STATES


def _hq_location(text: str) -> dict[str, str]:
    """"Saint Paul, Minnesota" → city, region MN, country US; "Dublin, Ireland" → city, country IE."""
    parts = [p.strip() for p in _FOOTNOTE.sub("", text).split(",") if p.strip()]
    if not parts:
        return {}
    last = parts[-1]
    if len(parts) == 1:
        code = geo.country_code(last)
        return {"country": code} if code in geo.COUNTRIES else {"city": last}
    rest = parts[:-1]
    if _is_us_state(last):  # a state name or code ("Minnesota", "D.C.", "MN"): the United States
        place = {"country": "US", "region": geo.us_state_code(last)}
    elif geo.country_code(last) in geo.COUNTRIES:
        place = {"country": geo.country_code(last)}
        if len(rest) >= 2:  # "Warmley, Bristol, United Kingdom"
            region = rest.pop()
            place["region"] = geo.us_state_code(region) if place["country"] == "US" else region
    else:
        return {"city": parts[0], "region": ", ".join(parts[1:])}
    place["city"] = ", ".join(rest)
    return place


# --- names and domains -------------------------------------------------------------------------

_SHARE_CLASS = re.compile(r"\(\s*(?:class|series|cl\.?)\s+[\w.]+\s*\)|\b(?:class|series)\s+[a-z]\s*$")
_KOREAN_CORP = re.compile(r"주식회사|유한회사|\(\s*[주유]\s*\)")
_LEGAL_SUFFIXES = frozenset(
    "inc incorporated corp corporation co company ltd limited llc plc gmbh ag sa nv bv "
    "lp llp pte pty kk srl spa".split())
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
_TWO_SYLLABLE_SURNAMES = frozenset({"남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방", "어금"})


def name_key(name: str) -> str:
    """Dedupe key for a company name: case, accents, punctuation, share classes, legal forms ignored."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    text = _SHARE_CLASS.sub(" ", text)
    text = _KOREAN_CORP.sub(" ", text)
    text = re.sub(r"\(\s*the\s*\)", " ", text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text)
    text = text.replace("&", " and ")
    text = re.sub(r"['’`.]", "", text)     # "A.O." = "AO", "McDonald's" = "McDonalds"
    text = re.sub(r"[\W_]+", " ", text)
    words = text.split()
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    joined: list[str] = []
    run = ""
    for word in words:  # "a o smith" = "ao smith" = "a.o. smith"
        if len(word) == 1:
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        joined.append(word)
    if run:
        joined.append(run)
    return " ".join(joined)


_SIMPLE_URL = re.compile(r"(?i)(?:https?://)?([a-z0-9.-]+?)\.?(?::\d{1,5})?(?:[/?#].*)?")
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def domain_of(text: str) -> str:
    """The host of a web address or email address: lower-case, no "www.", IDN as punycode; "" when invalid."""
    s = (text or "").strip()
    simple = _SIMPLE_URL.fullmatch(s) if s.isascii() and "@" not in s else None
    if simple:
        host = simple.group(1).lower()
    else:
        s = unicodedata.normalize("NFKC", s).replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
        if not s or _CONTROL.search(s):
            return ""
        if s[:7].casefold() == "mailto:":
            s = s[7:].split("?", 1)[0]
        if "://" not in s and "@" in s and "/" not in s:
            host = s.rsplit("@", 1)[1]
        else:
            if "://" not in s:
                s = "//" + s.lstrip("/")
            try:
                host = urlsplit(s).hostname or ""
            except ValueError:
                return ""
        host = host.strip().rstrip(".").lower()
        if not host or " " in host:
            return ""
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii").lower()
            except UnicodeError:
                return ""
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    if len(host) > 253 or not _HOST.fullmatch(host) or host.rpartition(".")[2].isdigit():
        return ""
    return host


def _split_full_name(full: str) -> tuple[str, str]:
    """(first, last) from a full name."""
    full = _one_line(full)
    if "," in full:  # "Smith, John"
        last, _, first = full.partition(",")
        return first.strip(), last.strip()
    words = full.split(" ")
    if all(_HANGUL.fullmatch(w) for w in words):
        if len(words) > 1:
            return " ".join(words[1:]), words[0]
        if 2 <= len(full) <= 4:
            if len(full) == 4 and full[:2] in _TWO_SYLLABLE_SURNAMES:
                return full[2:], full[:2]
            return full[1:], full[0]
        return full, ""
    if len(words) == 1:
        return full, ""
    return " ".join(words[:-1]), words[-1]


# --- rows ----------------------------------------------------------------------------------------

_plans: dict[tuple, list[tuple[int, str]]] = {}


def _plan(kind: str, mapping: dict[str, str], headers: list[str]) -> list[tuple[int, str]]:
    """(cell index, field) for every mapped column, found by exact then case-insensitive header."""
    key = (kind, tuple(headers), tuple(mapping.items()))
    plan = _plans.get(key)
    if plan is None:
        exact = {h: i for i, h in enumerate(headers)}
        loose: dict[str, int] = {}
        for i, h in enumerate(headers):
            loose.setdefault((h or "").strip().casefold(), i)
        plan = []
        for header, target in mapping.items():
            if not target:
                continue
            index = exact.get(header)
            if index is None:
                index = loose.get((header or "").strip().casefold())
            if index is not None:
                plan.append((index, target))
        if len(_plans) > 64:
            _plans.clear()
        _plans[key] = plan
    return plan


def _street(text: str) -> str:
    return "\n".join(_one_line(part) for part in text.splitlines() if part.strip())


# Field → converter from cleaned text; fields handled together (places, domain, industry, names)
# are done in normalise itself.
_CONVERT = {
    **dict.fromkeys(("name", "city", "owner", "customer_base", "sub_industry", "external_id", "first_name",
                     "last_name", "phone", "title", "timezone", "postal_code", "account_name",
                     "account_external_id"), _one_line),
    "street": _street,
    "email": _email,
    "revenue": lambda t: _money("revenue", t),
    "deal_size": lambda t: _money("deal_size", t),
    "employees": _employees,
    "technologies": _split_list,
    "competitor_products": _split_list,
    "tier": _tier,
    "journey_stage": _stage,
    "lost": lambda t: _bool("lost", t),
    "unsubscribed": lambda t: _bool("unsubscribed", t),
    "consent_email": lambda t: _bool("consent_email", t),
    "seniority": lambda t: _choice("seniority", t, _SENIORITY, SENIORITIES),
    "buying_authority": lambda t: _choice("buying_authority", t, _AUTHORITY, BUYING_AUTHORITIES),
    "persona": _persona,
    "language": _language,
}
_ALLOWED = {kind: frozenset(_fields(kind)) | frozenset(SPECIAL_FIELDS[kind]) for kind in KINDS}


def normalise(kind: str, layout: Layout, headers: list[str], line: int, cells: list[str]) -> Record:
    """One row as the values it has, normalised, or the reasons it cannot be imported."""
    values: dict[str, object] = {}
    errors: list[str] = []
    record = Record(line=line, values=values, errors=errors)
    if len(cells) != len(headers):
        if len(cells) > len(headers) and not "".join(map(str, cells[len(headers):])).strip():
            cells = cells[: len(headers)]
        else:
            errors.append(_("The row has %(cells)d cells but the header has %(columns)d.", cells=len(cells),
                            columns=len(headers)))
            return record
    allowed = _ALLOWED[kind]
    raw: dict[str, str] = {}
    broken: set[str] = set()  # fields rejected for a line break
    for index, target in _plan(kind, layout.mapping, headers):
        if target not in allowed or target in raw:
            continue
        cell = cells[index]
        text = _clean(cell if isinstance(cell, str) else ("" if cell is None else str(cell)))
        if not text:
            continue
        if target not in MULTILINE_FIELDS and _LINE_BREAK.search(text):
            errors.append(_("%(field)s contains a line break", field=_field(target)))
            broken.add(target)
            continue
        raw[target] = text

    # Places first, so explicit city / region / country columns win over a combined location.
    if "hq_location" in raw:
        values.update(_hq_location(raw["hq_location"]))
    if "country" in raw:
        values["country"] = geo.country_code(_one_line(raw["country"]))
    if "region" in raw:
        region = _one_line(raw["region"])
        country = values.get("country", "")
        if country == "US" or (not country and _is_us_state(region)):
            region = geo.us_state_code(region)
        values["region"] = region
    for name, text in raw.items():
        convert = _CONVERT.get(name)
        if convert is not None:
            try:
                values[name] = convert(text)
            except _Bad as bad:
                errors.append(str(bad))
    if "account_domain" in raw:
        domain = domain_of(raw["account_domain"])
        if domain:
            values["account_domain"] = domain
    if kind == "accounts":
        if "domain" in raw or "website" in raw:
            domain = domain_of(raw.get("domain", "")) or domain_of(raw.get("website", ""))
            if domain:
                values["domain"] = domain
        if "industry" in raw:
            text = _one_line(raw["industry"])
            values["industry"] = industry_of(text)
            if not values["industry"] and not values.get("sub_industry"):
                values["sub_industry"] = text[:200]
    elif "full_name" in raw:
        values["full_name"] = _one_line(raw["full_name"])
        if "first_name" not in values and "last_name" not in values:
            first, last = _split_full_name(values["full_name"])
            if first:
                values["first_name"] = first
            if last:
                values["last_name"] = last

    for name, limit in MAX_LENGTH[kind].items():
        value = values.get(name)
        if value.__class__ is str and len(value) > limit:
            errors.append(_("%(field)s is longer than %(limit)d characters", field=_field(name), limit=limit))
    required = REQUIRED[kind]
    if required not in values and required not in raw and required not in broken:
        errors.append(_("%(field)s is missing", field=_field(required)))
    return record
