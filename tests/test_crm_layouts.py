"""Recognising CRM export layouts and normalising their values, on real and vendor-shaped files."""
from pathlib import Path

import pytest

from abmcontent.crm_csv import export_csv, read_table
from abmcontent.crm_layouts import (ACCOUNT_FIELDS, CONTACT_FIELDS, Layout, Record, detect_layout, domain_of,
                                    header_key, industry_of, name_key, normalise, validate_mapping)

DATA = Path(__file__).parent / "data"


def load(name: str, kind: str):
    table = read_table((DATA / name).read_bytes())
    layout = detect_layout(kind, table.headers)
    assert layout is not None, name
    records = [normalise(kind, layout, table.headers, line, cells) for line, cells in table.rows]
    return table, layout, records


def by(records, field: str, value) -> Record:
    found = [r for r in records if r.values.get(field) == value]
    assert len(found) == 1, (field, value, [r.values.get(field) for r in records])
    return found[0]


def one(kind: str, row: dict[str, str]) -> Record:
    """Normalise a single row given as {header: cell}, with the layout detected from its headers."""
    headers = list(row)
    layout = detect_layout(kind, headers) or Layout("custom", {h: h for h in headers}, [])
    return normalise(kind, layout, headers, 2, list(row.values()))


def account(**cells) -> Record:
    return one("accounts", {"name": "Acme", **cells})


def contact(**cells) -> Record:
    return one("contacts", {"email": "ann@acme.example", **cells})


# --- layouts recognised from the files ------------------------------------------------------------

def test_salesforce_data_loader_accounts_are_recognised_with_api_names():
    table, layout, _ = load("salesforce_dataloader_accounts.csv", "accounts")
    assert layout.name == "salesforce_api"
    assert layout.mapping == {
        "ID": "external_id", "NAME": "name", "WEBSITE": "website", "INDUSTRY": "industry",
        "ANNUALREVENUE": "revenue", "NUMBEROFEMPLOYEES": "employees", "BILLINGCITY": "city",
        "BILLINGSTATE": "region", "BILLINGCOUNTRY": "country", "OWNERID": "owner"}
    assert {"TYPE", "SHIPPINGCITY", "SHIPPINGSTATE", "SHIPPINGCOUNTRY", "BILLINGSTREET"} <= set(layout.unmapped)
    assert set(layout.unmapped) | set(layout.mapping) == set(table.headers)


def test_salesforce_report_accounts_are_recognised_by_labels():
    _, layout, _ = load("salesforce_report_accounts.csv", "accounts")
    assert layout.name == "salesforce_report"
    assert layout.mapping == {
        "Account Owner": "owner", "Account Name": "name", "Website": "website", "Industry": "industry",
        "Annual Revenue": "revenue", "Employees": "employees", "Billing City": "city",
        "Billing State/Province": "region", "Billing Country": "country", "Account ID": "external_id"}
    assert layout.unmapped == ["Type", "Last Activity"]


def test_hubspot_companies_are_recognised():
    _, layout, _ = load("hubspot_companies.csv", "accounts")
    assert layout.name == "hubspot"
    assert layout.mapping == {
        "Record ID": "external_id", "Company name": "name", "Company owner": "owner", "City": "city",
        "State/Region": "region", "Country/Region": "country", "Industry": "industry",
        "Company Domain Name": "domain", "Website URL": "website", "Number of Employees": "employees",
        "Annual Revenue": "revenue"}


def test_salesforce_data_loader_contacts_are_recognised():
    _, layout, _ = load("salesforce_dataloader_contacts.csv", "contacts")
    assert layout.name == "salesforce_api"
    assert layout.mapping == {
        "ID": "external_id", "ACCOUNTID": "account_external_id", "LASTNAME": "last_name",
        "FIRSTNAME": "first_name", "NAME": "full_name", "MAILINGSTREET": "street", "MAILINGCITY": "city",
        "MAILINGSTATE": "region", "MAILINGPOSTALCODE": "postal_code", "MAILINGCOUNTRY": "country",
        "PHONE": "phone", "EMAIL": "email", "TITLE": "title", "HASOPTEDOUTOFEMAIL": "unsubscribed"}


def test_hubspot_contacts_are_recognised():
    _, layout, _ = load("hubspot_contacts.csv", "contacts")
    assert layout.name == "hubspot"
    assert layout.mapping == {
        "Record ID": "external_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
        "Phone Number": "phone", "Job Title": "title", "Company Name": "account_name",
        "Street Address": "street", "City": "city", "State/Region": "region", "Postal Code": "postal_code",
        "Country/Region": "country", "Unsubscribed from all email": "unsubscribed"}
    assert layout.unmapped == ["Contact owner", "Lifecycle Stage", "Create Date"]


def test_sp500_file_is_recognised():
    _, layout, _ = load("sp500_constituents.csv", "accounts")
    assert layout.name == "sp500"
    assert layout.mapping == {"Security": "name", "GICS Sector": "industry", "GICS Sub-Industry": "sub_industry",
                              "Headquarters Location": "hq_location", "CIK": "external_id"}
    assert layout.unmapped == ["Symbol", "Date added", "Founded"]


def test_korean_headers_are_recognised_as_a_custom_layout():
    _, layout, _ = load("korean_accounts_cp949.csv", "accounts")
    assert layout.name == "custom"
    assert layout.mapping == {"회사명": "name", "웹사이트": "website", "업종": "industry", "매출액": "revenue",
                              "직원수": "employees", "도시": "city", "국가": "country", "담당자": "owner"}


def test_abmcontent_field_names_are_its_own_layout():
    _, layout, _ = load("bad_rows_accounts.csv", "accounts")
    assert layout.name == "abmcontent"
    assert layout.mapping == {h: h for h in ("name", "domain", "industry", "revenue", "employees", "country",
                                             "tier")}


@pytest.mark.parametrize("kind, fields", [("accounts", ACCOUNT_FIELDS), ("contacts", CONTACT_FIELDS)])
def test_every_field_name_is_recognised_as_abmcontent(kind, fields):
    layout = detect_layout(kind, list(fields))
    assert layout.name == "abmcontent"
    assert layout.mapping == {f: f for f in fields}
    assert layout.unmapped == []


def test_header_matching_ignores_case_and_surrounding_space():
    layout = detect_layout("accounts", ["  account name ", "BILLING CITY", "annual revenue"])
    assert layout.name == "salesforce_report"
    assert layout.mapping == {"  account name ": "name", "BILLING CITY": "city", "annual revenue": "revenue"}


def test_extra_columns_outside_the_layout_are_mapped_by_field_name():
    layout = detect_layout("accounts", ["Company name", "Company Domain Name", "Industry", "tier", "Tier__c",
                                        "Technologies__c"])
    assert layout.name == "hubspot"
    assert layout.mapping["tier"] == "tier"
    assert "Tier__c" in layout.unmapped  # tier is taken already: never two columns for one field
    assert layout.mapping["Technologies__c"] == "technologies"


def test_salesforce_custom_fields_map_to_fields_of_the_same_name():
    layout = detect_layout("accounts", ["ID", "NAME", "INDUSTRY", "TIER__C", "JOURNEY_STAGE__C"])
    assert layout.name == "salesforce_api"
    assert layout.mapping["TIER__C"] == "tier"
    assert layout.mapping["JOURNEY_STAGE__C"] == "journey_stage"


@pytest.mark.parametrize("kind, headers", [
    ("accounts", ["foo", "bar", "baz"]),
    ("accounts", ["Website", "Industry", "Annual Revenue"]),   # known columns, but no company name
    ("contacts", ["First Name", "Last Name", "Title"]),         # no email
    ("contacts", ["Security", "GICS Sector"]),                  # the S&P list is no contact list
    ("accounts", []),
])
def test_files_without_the_required_column_are_not_recognised(kind, headers):
    assert detect_layout(kind, headers) is None


def test_korean_family_and_given_name_columns():
    layout = detect_layout("contacts", ["성", "이름", "이메일", "회사명", "직책"])
    assert layout.mapping == {"성": "last_name", "이름": "first_name", "이메일": "email", "회사명": "account_name",
                              "직책": "title"}


# --- the S&P 500 list, a real file -----------------------------------------------------------------

def test_every_sp500_row_normalises_without_error():
    table, _, records = load("sp500_constituents.csv", "accounts")
    assert len(table.rows) == 503
    assert [r for r in records if r.errors] == []
    assert all(r.values["industry"] in {
        "communication_services", "consumer_discretionary", "consumer_staples", "energy", "financials",
        "health_care", "industrials", "information_technology", "materials", "real_estate", "utilities"}
        for r in records)


def test_sp500_3m_is_in_saint_paul_minnesota_and_industrials():
    _, _, records = load("sp500_constituents.csv", "accounts")
    assert by(records, "name", "3M").values == {
        "name": "3M", "industry": "industrials", "sub_industry": "Industrial Conglomerates",
        "city": "Saint Paul", "region": "MN", "country": "US", "external_id": "66740"}


@pytest.mark.parametrize("name, city, region, country", [
    ("Accenture", "Dublin", None, "IE"),
    ("Amcor", "Warmley", "Bristol", "GB"),
    ("CoStar Group", "Washington", "DC", "US"),
    ("Northrop Grumman", "West Falls Church", "VA", "US"),   # "Virginia[2]": a footnote mark
    ("Lululemon Athletica", "Vancouver", None, "CA"),
    ("Arch Capital Group", "Hamilton", None, "BM"),
])
def test_sp500_headquarters_locations_are_split(name, city, region, country):
    _, _, records = load("sp500_constituents.csv", "accounts")
    values = by(records, "name", name).values
    assert (values.get("city"), values.get("region"), values.get("country")) == (city, region, country)


def test_sp500_location_none_gives_no_place():
    _, _, records = load("sp500_constituents.csv", "accounts")
    values = by(records, "name", "Block, Inc.").values
    assert not {"city", "region", "country"} & set(values)


def test_sp500_non_ascii_names_are_intact():
    _, _, records = load("sp500_constituents.csv", "accounts")
    names = {r.values["name"] for r in records}
    assert "Estée Lauder Companies (The)" in names
    assert "Brown–Forman" in names   # an en dash, not a hyphen


def test_sp500_share_classes_have_one_name_key():
    _, _, records = load("sp500_constituents.csv", "accounts")
    alphabet = [r for r in records if r.values["external_id"] == "1652044"]
    assert [r.values["name"] for r in alphabet] == ["Alphabet Inc. (Class A)", "Alphabet Inc. (Class C)"]
    assert name_key(alphabet[0].values["name"]) == name_key(alphabet[1].values["name"]) == "alphabet"
    keys = {}
    for r in records:
        keys.setdefault(name_key(r.values["name"]), set()).add(r.values["external_id"])
    assert all(len(ids) == 1 for ids in keys.values()), "one name key spans two companies"


# --- vendor files ---------------------------------------------------------------------------------

def test_salesforce_data_loader_values_are_normalised():
    _, _, records = load("salesforce_dataloader_accounts.csv", "accounts")
    assert [r for r in records if r.errors] == []
    assert by(records, "name", "Northwind Logistics").values == {
        "name": "Northwind Logistics", "external_id": "0015g00000XyZabAAB", "domain": "northwind-logistics.example",
        "industry": "industrials", "revenue": 48_000_000, "employees": 320, "city": "Oakland", "region": "CA",
        "country": "US", "owner": "0055g00000AbCdEAA1"}
    globex = by(records, "name", "Globex, Inc.")
    assert (globex.line, globex.values["revenue"], globex.values["domain"]) == (3, 12_000_000, "globex.example")
    assert by(records, "name", "Initech Software").values["region"] == "TX"        # "Texas"
    assert by(records, "name", "Helios Retail Group").values["revenue"] == 1_850_000_000  # "1.85E9"
    assert by(records, "name", "Cobalt Grid Energy").values["revenue"] == 720_000_000    # "720000000.0"
    assert by(records, "name", "Seoul Precision Components").values["country"] == "KR"


def test_salesforce_blank_website_gives_no_domain():
    _, _, records = load("salesforce_dataloader_accounts.csv", "accounts")
    assert "domain" not in by(records, "name", "Vantage Media Holdings").values


def test_salesforce_education_keeps_its_text_as_sub_industry():
    _, _, records = load("salesforce_dataloader_accounts.csv", "accounts")
    values = by(records, "name", "Riverbend Community College").values
    assert (values["industry"], values["sub_industry"]) == ("", "Education")


def test_salesforce_report_formatted_numbers_are_parsed():
    _, _, records = load("salesforce_report_accounts.csv", "accounts")
    assert [r for r in records if r.errors] == []
    bank = by(records, "name", "Blue Harbor Bank").values
    assert (bank["revenue"], bank["employees"], bank["region"], bank["owner"]) == (
        3_500_000_000, 9_800, "NC", "Dana Whitfield")
    assert "revenue" not in by(records, "name", "Seoul Precision Components").values


@pytest.mark.parametrize("name, employees, revenue", [
    ("Lumen Analytics", 126, 1_200_000),              # "51-200", "$1.2M"
    ("Harborview Credit Union", 3001, 350_000_000),   # "1,001-5,000"
    ("Meridian Hospital Network", 10001, 2_400_000_000),  # "10001+", "$2.4B"
    ("Saltmarsh Outfitters", 6, 750_000),             # "2-10", "$750K"
    ("Tidewater Wireless", 751, 95_000_000),          # "501-1,000"
])
def test_hubspot_ranges_and_dollar_revenues(name, employees, revenue):
    _, _, records = load("hubspot_companies.csv", "accounts")
    values = by(records, "name", name).values
    assert (values["employees"], values["revenue"]) == (employees, revenue)


def test_hubspot_domain_falls_back_to_the_website_and_industries_map():
    _, _, records = load("hubspot_companies.csv", "accounts")
    assert [r for r in records if r.errors] == []
    assert by(records, "name", "Meridian Hospital Network").values["domain"] == "meridian-health.example"
    industries = {r.values["name"]: r.values["industry"] for r in records}
    assert industries["Lumen Analytics"] == "information_technology"       # COMPUTER_SOFTWARE
    assert industries["Harborview Credit Union"] == "financials"           # Financial Services
    assert industries["Copperfield Motors"] == "consumer_discretionary"    # AUTOMOTIVE
    assert industries["Nordwind Pharma"] == "health_care"                  # PHARMACEUTICALS
    assert by(records, "name", "Nordwind Pharma").values["country"] == "CH"


def test_salesforce_contacts_are_normalised():
    _, _, records = load("salesforce_dataloader_contacts.csv", "contacts")
    assert [r for r in records if r.errors] == []
    adaeze = by(records, "email", "adaeze.okafor@northwind-logistics.example").values
    assert adaeze["account_external_id"] == "0015g00000XyZabAAB"
    assert (adaeze["first_name"], adaeze["last_name"], adaeze["unsubscribed"]) == ("Adaeze", "Okafor", False)
    assert by(records, "email", "linh.nguyen@initech.example").values["unsubscribed"] is True
    assert by(records, "email", "jonas.schmidt@globex.example").values["street"] == "100 Main Street\nSuite 400"
    park = by(records, "email", "seoyeon.park@seoulprecision.example").values
    assert (park["first_name"], park["last_name"], park["title"]) == ("서연", "박", "구매팀장")


def test_hubspot_contacts_unsubscribed_and_bad_email():
    _, _, records = load("hubspot_contacts.csv", "contacts")
    grace = by(records, "external_id", "1203")
    assert grace.values["email"] == "grace.holloway@harborview-cu.example"   # lower-cased
    assert grace.values["unsubscribed"] is True
    dana = by(records, "external_id", "1204")
    assert dana.errors == ["Email “dana.lee@” is not a valid address"]
    assert [r.values["external_id"] for r in records if r.errors] == ["1204"]
    kim = by(records, "external_id", "1205").values
    assert (kim["first_name"], kim["last_name"], kim["account_name"], kim["country"]) == (
        "지훈", "김", "한빛정밀 주식회사", "KR")
    assert by(records, "external_id", "1206").values["last_name"] == "Ibáñez"


def test_cp949_korean_accounts_names_and_industries():
    _, _, records = load("korean_accounts_cp949.csv", "accounts")
    assert [r for r in records if r.errors] == []
    got = {r.values["name"]: (r.values["industry"], r.values.get("sub_industry")) for r in records}
    assert got == {
        "한빛정밀 주식회사": ("industrials", None),           # 제조업
        "(주)대한금융": ("financials", None),                # 금융
        "㈜미래헬스케어": ("health_care", None),             # 헬스케어
        "새솔유통": ("consumer_discretionary", None),        # 유통
        "누리텔레콤 주식회사": ("communication_services", None),  # 통신
        "한결에너지": ("energy", None),                      # 에너지
        "다온보험(주)": ("financials", None),                # 보험업
        "코드브릿지": ("information_technology", None),      # IT
        "미래교육재단": ("", "교육"),                        # no GICS sector
    }
    assert {r.values["country"] for r in records} == {"KR"}   # 대한민국, 한국


@pytest.mark.parametrize("name, revenue, employees", [
    ("한빛정밀 주식회사", 150_000_000_000, 1200),    # "1,500억"
    ("(주)대한금융", 3_200_000_000_000, 4500),        # "3조 2천억원", "4500명"
    ("㈜미래헬스케어", 12_000_000_000, 180),          # "120억원"
    ("누리텔레콤 주식회사", 1_200_000_000, 45),       # "12억"
])
def test_cp949_korean_amounts(name, revenue, employees):
    _, _, records = load("korean_accounts_cp949.csv", "accounts")
    values = by(records, "name", name).values
    assert (values["revenue"], values["employees"]) == (revenue, employees)


def test_european_semicolon_file_numbers_and_countries():
    _, layout, records = load("semicolon_accounts.csv", "accounts")
    assert [r for r in records if r.errors] == []
    got = {r.values["name"]: (r.values["revenue"], r.values["country"], r.values["industry"]) for r in records}
    assert got == {
        "Müller Maschinenbau GmbH": (12_500_000, "DE", "industrials"),
        "Société Lumière SA": (1_250_000, "FR", "utilities"),
        "Brouwerij De Valk B.V.": (3_500_000, "NL", "consumer_staples"),
        "Zürcher Rückversicherung AG": (8_500_000, "CH", "financials"),
        "Nordlicht Energie AG": (42_000_000, "AT", "utilities"),
    }


def test_bad_rows_give_their_errors_and_good_rows_none():
    _, _, records = load("bad_rows_accounts.csv", "accounts")
    assert {r.line: r.errors for r in records} == {
        2: [],
        3: ["Company name is missing"],
        4: ["Annual revenue “lots” is not a number"],
        5: ["The row has 2 cells but the header has 7."],
        6: ["Tier “platinum” is not 1, 2 or 3"],
        7: [],
        8: ["Company name contains a line break"],
        10: [],   # a formula-looking name is data: neutralised on export, not rejected on import
    }
    assert by(records, "name", "Second Good Corp").values == {
        "name": "Second Good Corp", "domain": "second-good.example", "industry": "utilities",
        "revenue": 3_500_000, "employees": 75, "country": "CA", "tier": 2}


def test_abmcontent_export_round_trips_through_import():
    values = {"name": "한빛정밀 주식회사", "domain": "hanbit.example", "industry": "industrials",
              "sub_industry": "Machinery", "revenue": 150_000_000_000, "employees": 1200, "city": "성남",
              "region": "경기도", "country": "KR", "owner": "marcus@cobaltdata.example",
              "technologies": ["SAP", "Oracle"], "competitor_products": ["Tableau"], "customer_base": "B2B",
              "tier": 1, "journey_stage": "decision", "lost": False, "deal_size": 250_000_000,
              "external_id": "A-1"}
    headers = [f for f in ACCOUNT_FIELDS if f != "website"]
    table = read_table(b"".join(export_csv(headers, [[values[h] for h in headers]])))
    layout = detect_layout("accounts", table.headers)
    assert layout.name == "abmcontent"
    line, cells = table.rows[0]
    assert normalise("accounts", layout, table.headers, line, cells) == Record(line=2, values=values, errors=[])


# --- mappings -------------------------------------------------------------------------------------

HEADERS = ["Company", "Web", "E-mail", "Sector", "HQ"]


def test_a_good_mapping_has_no_problems():
    assert validate_mapping("accounts", {"Company": "name", "Web": "website", "Sector": "industry",
                                         "HQ": "hq_location"}, HEADERS) == []


def test_a_mapping_matches_headers_regardless_of_case_and_space():
    assert validate_mapping("accounts", {" company ": "name"}, HEADERS) == []


def test_columns_mapped_to_nothing_are_left_out():
    assert validate_mapping("accounts", {"Company": "name", "Web": "", "Sector": None}, HEADERS) == []


@pytest.mark.parametrize("kind, mapping, fragment", [
    ("accounts", {"Company": "name", "Web": "homepage"}, '“homepage” (chosen for the column “Web”) is not a field'),
    ("accounts", {"Company": "name", "Sector": "industry", "HQ": "industry"}, '“Industry” is chosen for more than one'),
    ("accounts", {"Company": "name", "Phone": "owner"}, 'The column “Phone” is not in the file.'),
    ("accounts", {"Web": "website"}, 'No column is chosen for “Company name”'),
    ("contacts", {"Company": "account_name"}, 'No column is chosen for “Email”'),
    ("contacts", {"E-mail": "email", "HQ": "hq_location"}, '“hq_location” (chosen for the column “HQ”)'),
    ("contacts", {"E-mail": "email", "Company": "name"}, '“name” (chosen for the column “Company”)'),
])
def test_mapping_problems_are_named(kind, mapping, fragment):
    problems = validate_mapping(kind, mapping, HEADERS)
    assert any(fragment in p for p in problems), problems


def test_a_mapping_with_several_problems_lists_them_all():
    problems = validate_mapping("accounts", {"Web": "homepage", "Missing": "city"}, HEADERS)
    assert len(problems) == 3


def test_header_key_is_stable_and_ignores_case_and_surrounding_space():
    key = header_key("accounts", ["Company", "Web"])
    assert len(key) == 64 and int(key, 16) >= 0
    assert header_key("accounts", ["Company", "Web"]) == key
    assert header_key("accounts", [" company", "WEB "]) == key


def test_header_key_depends_on_order_kind_and_names():
    key = header_key("accounts", ["Company", "Web"])
    assert header_key("accounts", ["Web", "Company"]) != key
    assert header_key("contacts", ["Company", "Web"]) != key
    assert header_key("accounts", ["Company", "Website"]) != key
    assert header_key("accounts", ["Company,Web"]) != key
    assert header_key("accounts", ["Company", "Web", ""]) != key


def test_a_user_mapping_is_used_by_normalise_even_when_header_case_differs():
    layout = Layout("custom", {"company": "name", "WEB": "website"}, [])
    record = normalise("accounts", layout, ["Company", "Web"], 7, ["Acme", "https://www.acme.example/"])
    assert record == Record(line=7, values={"name": "Acme", "domain": "acme.example"}, errors=[])


# --- values -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1200000", 1_200_000), ("1,200,000", 1_200_000), ("$1.2M", 1_200_000), ("1.2 million", 1_200_000),
    ("3.5B", 3_500_000_000), ("USD 2,000,000", 2_000_000), ("1.5e6", 1_500_000), ("12억", 1_200_000_000),
    ("120억원", 12_000_000_000), ("₩ 5,000,000", 5_000_000), ("750K", 750_000), ("2.500.000", 2_500_000),
    ("1 200 000", 1_200_000), ("0", 0), ("1200000.49", 1_200_000), ("99.5", 100),
])
def test_revenue_formats(text, expected):
    record = account(revenue=text, deal_size=text)
    assert record.errors == []
    assert (record.values["revenue"], record.values["deal_size"]) == (expected, expected)


@pytest.mark.parametrize("text, error", [
    ("lots", "Annual revenue “lots” is not a number"),
    ("-5", "Annual revenue “-5” must not be negative"),
    ("(1,000)", "Annual revenue “(1,000)” must not be negative"),
    ("12 apples", "Annual revenue “12 apples” is not a number"),
    ("1.2.3", "Annual revenue “1.2.3” is not a number"),
    ("9" * 30, "Annual revenue “" + "9" * 30 + "” is too large"),
])
def test_bad_revenue_is_a_row_error(text, error):
    assert account(revenue=text).errors == [error]


@pytest.mark.parametrize("text, expected", [
    ("1,000", 1000), ("1000+", 1000), ("51-200", 126), ("51 – 200", 126), ("1-10", 6), ("10,001+", 10001),
    ("5k", 5000), ("350명", 350), ("42", 42),
])
def test_employee_counts_and_ranges_use_the_midpoint(text, expected):
    assert account(employees=text).values["employees"] == expected


@pytest.mark.parametrize("text", ["many", "-3", "a-b"])
def test_bad_employee_counts_are_row_errors(text):
    errors = account(employees=text).errors
    assert len(errors) == 1 and errors[0].startswith(f"Employees “{text}”")


@pytest.mark.parametrize("text, expected", [
    ("Information Technology", "information_technology"), ("Health Care", "health_care"),
    ("Banking", "financials"), ("Finance", "financials"), ("Insurance", "financials"),
    ("Healthcare", "health_care"), ("Biotechnology", "health_care"), ("Technology", "information_technology"),
    ("Telecommunications", "communication_services"), ("Media", "communication_services"),
    ("Entertainment", "communication_services"), ("Retail", "consumer_discretionary"),
    ("Apparel", "consumer_discretionary"), ("Consumer Goods", "consumer_staples"),
    ("Food & Beverage", "consumer_staples"), ("Manufacturing", "industrials"), ("Machinery", "industrials"),
    ("Transportation", "industrials"), ("Construction", "industrials"), ("Engineering", "industrials"),
    ("Energy", "energy"), ("Utilities", "utilities"), ("Chemicals", "materials"),
    ("Electronics", "information_technology"), ("Hospitality", "consumer_discretionary"),
    ("Recreation", "consumer_discretionary"), ("Real Estate", "real_estate"), ("Shipping", "industrials"),
    ("Environmental", "industrials"), ("Agriculture", "consumer_staples"), ("Consulting", "industrials"),
    ("COMPUTER_SOFTWARE", "information_technology"), ("Computer Software", "information_technology"),
    ("INFORMATION_TECHNOLOGY_AND_SERVICES", "information_technology"),
    ("Information Technology and Services", "information_technology"),
    ("FINANCIAL_SERVICES", "financials"), ("BANKING", "financials"), ("HOSPITAL_HEALTH_CARE", "health_care"),
    ("Hospital & Health Care", "health_care"), ("RETAIL", "consumer_discretionary"),
    ("AUTOMOTIVE", "consumer_discretionary"), ("OIL_ENERGY", "energy"), ("Oil & Energy", "energy"),
    ("TELECOMMUNICATIONS", "communication_services"), ("REAL_ESTATE", "real_estate"),
    ("INSURANCE", "financials"), ("PHARMACEUTICALS", "health_care"), ("금융", "financials"),
    ("은행", "financials"), ("보험", "financials"), ("제조", "industrials"), ("제조업", "industrials"),
    ("유통", "consumer_discretionary"), ("소매", "consumer_discretionary"), ("헬스케어", "health_care"),
    ("의료", "health_care"), ("IT", "information_technology"), ("정보기술", "information_technology"),
    ("에너지", "energy"), ("통신", "communication_services"), ("  financials ", "financials"),
])
def test_industries_map_to_gics_sectors(text, expected):
    assert industry_of(text) == expected
    record = account(industry=text)
    assert record.values["industry"] == expected
    assert "sub_industry" not in record.values


@pytest.mark.parametrize("text", ["Education", "Government", "Not For Profit", "Other", "Quantum Widgets"])
def test_unmapped_industries_keep_their_text_as_sub_industry(text):
    record = account(industry=text)
    assert record.errors == []
    assert (record.values["industry"], record.values["sub_industry"]) == ("", text)


def test_an_unmapped_industry_does_not_overwrite_a_sub_industry():
    values = account(industry="Education", sub_industry="Universities").values
    assert (values["industry"], values["sub_industry"]) == ("", "Universities")


@pytest.mark.parametrize("country, region, expected", [
    ("United States", "New York", ("US", "NY")),
    ("USA", "ca", ("US", "CA")),
    ("미국", "Texas", ("US", "TX")),
    ("", "California", (None, "CA")),
    ("Canada", "Ontario", ("CA", "Ontario")),
    ("대한민국", "경기도", ("KR", "경기도")),
    ("Atlantis", "", ("Atlantis", None)),
])
def test_countries_and_us_states_become_codes(country, region, expected):
    values = account(country=country, region=region).values
    assert (values.get("country"), values.get("region")) == expected


def test_lists_split_on_semicolons_commas_and_bars():
    values = account(technologies=" Salesforce; HubSpot , Snowflake|dbt;; ", competitor_products="Tableau").values
    assert values["technologies"] == ["Salesforce", "HubSpot", "Snowflake", "dbt"]
    assert values["competitor_products"] == ["Tableau"]


@pytest.mark.parametrize("text, expected", [("Tier 1", 1), ("1", 1), ("tier-2", 2), ("T3", 3), ("3.0", 3)])
def test_tiers(text, expected):
    assert account(tier=text).values["tier"] == expected


@pytest.mark.parametrize("text", ["platinum", "4", "0", "Tier 9"])
def test_other_tiers_are_errors(text):
    assert account(tier=text).errors == [f"Tier “{text}” is not 1, 2 or 3"]


@pytest.mark.parametrize("text, expected", [
    ("awareness", "awareness"), ("Consideration", "consideration"), ("DECISION", "decision"),
    ("Onboarding & retention", "onboarding"), ("Expansion", "expansion"), ("결정", "decision"),
])
def test_journey_stages(text, expected):
    assert account(journey_stage=text).values["journey_stage"] == expected


def test_unknown_journey_stage_is_an_error():
    assert account(journey_stage="closing").errors == [
        "Journey stage “closing” is not one of awareness, consideration, decision, onboarding, expansion"]


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("FALSE", False), ("yes", True), ("No", False), ("1", True), ("0", False), ("y", True),
    ("n", False), ("예", True), ("아니오", False),
])
def test_yes_no_values(text, expected):
    assert account(lost=text).values["lost"] is expected
    assert contact(unsubscribed=text).values["unsubscribed"] is expected


def test_other_yes_no_values_are_errors():
    assert account(lost="maybe").errors == ["Lost account “maybe” is not yes or no"]
    assert contact(unsubscribed="2").errors == ["Unsubscribed from email “2” is not yes or no"]


def test_empty_cells_leave_the_field_out():
    assert account(revenue="", tier="  ", lost="", domain="").values == {"name": "Acme"}


@pytest.mark.parametrize("placeholder", ["N/A", "#N/A", "null", "-", "none"])
def test_placeholders_count_as_empty(placeholder):
    assert account(website=placeholder, revenue=placeholder).values == {"name": "Acme"}
    assert one("accounts", {"name": placeholder}).errors == ["Company name is missing"]


def test_owner_is_kept_as_text():
    assert account(owner="  Dana Whitfield ").values["owner"] == "Dana Whitfield"


def test_names_are_kept_as_written_but_trimmed():
    assert account(name="  한빛정밀  주식회사 ").values["name"] == "한빛정밀 주식회사"
    assert one("accounts", {"name": "x" * 300}).errors == []
    assert one("accounts", {"name": "x" * 301}).errors == ["Company name is longer than 300 characters"]


def test_extra_empty_cells_at_the_end_of_a_row_are_ignored():
    layout = detect_layout("accounts", ["name", "city"])
    assert normalise("accounts", layout, ["name", "city"], 2, ["Acme", "Oslo", "", " "]).errors == []
    assert normalise("accounts", layout, ["name", "city"], 2, ["Acme", "Oslo", "x"]).errors == [
        "The row has 3 cells but the header has 2."]
    assert normalise("accounts", layout, ["name", "city"], 2, ["Acme"]).errors == [
        "The row has 1 cells but the header has 2."]


# --- contacts: email, line breaks, names ----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Ann@Acme.Example", "ann@acme.example"), (" ann.o'neil+abm@acme.co.kr ", "ann.o'neil+abm@acme.co.kr"),
])
def test_emails_are_lower_cased(text, expected):
    assert one("contacts", {"email": text}).values["email"] == expected


@pytest.mark.parametrize("text", [
    "bob@", "@acme.example", "bob", "bob@acme", "bob@@acme.example", "bob smith@acme.example",
    "bob@acme..example", "bob@-acme.example", ".bob@acme.example", "bob\t@acme.example",
    "a" * 65 + "@acme.example", "b@" + "a" * 250 + ".com", "Bob <bob@acme.example>",
])
def test_invalid_emails_are_row_errors(text):
    errors = one("contacts", {"email": text}).errors
    assert len(errors) == 1
    assert errors[0].startswith("Email “") and errors[0].endswith("” is not a valid address")


def test_values_in_messages_are_cut_and_show_control_characters():
    assert one("contacts", {"email": "bob\t@acme.example"}).errors == [
        "Email “bob\\t@acme.example” is not a valid address"]
    message = one("contacts", {"email": "x" * 300}).errors[0]
    assert len(message) < 100 and "…" in message


@pytest.mark.parametrize("field", ["email", "first_name", "last_name", "title", "phone"])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_breaks_in_single_line_fields_are_rejected(field, newline):
    row = {"email": "ann@acme.example", field: f"ann@acme.example{newline}Bcc: victim@evil.example"}
    from abmcontent.crm_layouts import _field

    assert f"{_field(field)} contains a line break" in one("contacts", row).errors


def test_line_breaks_in_account_names_are_rejected_but_streets_keep_them():
    assert account(name="Acme\r\nInc").errors == ["Company name contains a line break"]
    assert contact(street="1 Main St\r\nSuite 2").values["street"] == "1 Main St\nSuite 2"


def test_nul_characters_are_stripped_from_values():
    assert contact(first_name="A\x00nn", email="a\x00nn@acme.example").values["first_name"] == "Ann"
    assert contact(email="a\x00nn@acme.example").values["email"] == "ann@acme.example"


def test_a_contact_needs_an_email():
    assert one("contacts", {"email": "", "first_name": "Ann"}).errors == ["Email is missing"]


@pytest.mark.parametrize("full, first, last", [
    ("김지훈", "지훈", "김"),
    ("이수", "수", "이"),
    ("남궁민수", "민수", "남궁"),
    ("김 지훈", "지훈", "김"),
    ("Mary Ann Smith", "Mary Ann", "Smith"),
    ("Smith, John", "John", "Smith"),
    ("Cher", "Cher", None),
])
def test_full_names_are_split(full, first, last):
    values = contact(full_name=full).values
    assert (values.get("first_name"), values.get("last_name"), values["full_name"]) == (first, last, full)


def test_full_name_does_not_override_first_and_last_names():
    values = contact(full_name="Dr. Ann Lee", first_name="Ann", last_name="Lee").values
    assert (values["first_name"], values["last_name"]) == ("Ann", "Lee")


def test_contact_picklists():
    values = contact(seniority="Vice President", buying_authority="Decision Maker", language="Korean",
                     persona="Economic Buyer", consent_email="yes", account_domain="https://www.acme.example").values
    assert (values["seniority"], values["buying_authority"], values["language"], values["persona"],
            values["consent_email"], values["account_domain"]) == (
        "vp", "decision_maker", "ko", "economic_buyer", True, "acme.example")
    assert contact(seniority="Galactic Emperor").errors == [
        "Seniority “Galactic Emperor” is not one of c_level, vp, director, manager, staff"]


NASTY = ["", " ", "\x00", "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u202e", "-",
         "1e999999", "9" * 500, "(", "조", "1-", "-1-2", "e", ".", ",", "@", "a\x1bb", "\r", "\ud7a3" * 5,
         "Tier", "https://", "mailto:", "xn--", "..", "http://[::1]/", "http://[bad", "%00", "1,2,3,4", "₩"]


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("kind, fields", [("accounts", ACCOUNT_FIELDS + ("hq_location",)),
                                          ("contacts", CONTACT_FIELDS)])
def test_bad_data_never_raises(kind, fields, value):
    layout = Layout("custom", {f: f for f in fields}, [])
    record = normalise(kind, layout, list(fields), 9, [value] * len(fields))
    assert isinstance(record, Record) and record.line == 9
    assert all(isinstance(e, str) and e for e in record.errors)


# --- dedupe keys ---------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    ("Alphabet Inc. (Class A)", "Alphabet Inc. (Class C)"),
    ("Alphabet Inc.", "ALPHABET, INC"),
    ("Estée Lauder Companies (The)", "The Estee Lauder Companies"),
    ("Brown–Forman", "Brown-Forman Corporation"),
    ("A. O. Smith", "A.O. Smith Corp."),
    ("한빛정밀 주식회사", "(주)한빛정밀"),
    ("㈜대한금융", "주식회사 대한금융"),
    ("Acme Co., Ltd.", "ACME"),
    ("Müller GmbH", "Muller"),
])
def test_name_keys_match_the_same_company(a, b):
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize("a, b", [
    ("Acme Holdings", "Acme"), ("Acme Group", "Acme"), ("Brown & Brown", "Brown–Forman"),
    ("News Corp", "Fox Corporation"), ("Acme Inc", "Acne Inc"),
])
def test_name_keys_keep_different_companies_apart(a, b):
    assert name_key(a) != name_key(b)


def test_name_key_is_stable_text():
    assert name_key("Estée Lauder Companies (The)") == "estee lauder companies"
    assert name_key("Alphabet Inc. (Class A)") == "alphabet"
    assert name_key("한빛정밀 주식회사") == "한빛정밀"
    assert name_key("Company") == "company"   # a legal form alone is not dropped to nothing
    assert name_key("") == ""


@pytest.mark.parametrize("text, expected", [
    ("https://www.Acme.com/about?x", "acme.com"),
    ("mailto:x@acme.co.kr", "acme.co.kr"),
    ("x@acme.co.kr", "acme.co.kr"),
    ("acme.com", "acme.com"),
    ("WWW.ACME.COM:8080/", "acme.com"),
    ("http://user:pw@acme.com/", "acme.com"),
    ("https://한국.kr/", "xn--3e0b707e.kr"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("acme.com.", "acme.com"),
    ("", ""), ("n/a", ""), ("Acme Inc", ""), ("localhost", ""), ("http://192.168.0.1/", ""),
    ("javascript:alert(1)", ""), ("-acme.com", ""), ("acme..com", ""), ("acme.com\r\nX-Evil: 1", ""),
])
def test_domain_of(text, expected):
    assert domain_of(text) == expected
