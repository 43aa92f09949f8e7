"""Places: country names to ISO 3166-1 alpha-2, US states to codes, and the regions ICP bands use.

CRM exports spell places many ways ("United States", "USA", "미국"; "New York", "NY");
accounts store ISO codes so criteria such as "US Northeast" can match them.
"""
from __future__ import annotations

import unicodedata

COUNTRIES: dict[str, tuple[str, ...]] = {
    "US": ("United States", "United States of America", "USA", "U.S.", "U.S.A.", "America", "미국"),
    "CA": ("Canada", "캐나다"), "MX": ("Mexico", "멕시코"), "BR": ("Brazil", "브라질"),
    "AR": ("Argentina",), "CL": ("Chile",), "CO": ("Colombia",),
    "GB": ("United Kingdom", "UK", "U.K.", "Great Britain", "England", "Scotland", "Wales", "영국"),
    "IE": ("Ireland", "아일랜드"), "FR": ("France", "프랑스"), "DE": ("Germany", "Deutschland", "독일"),
    "NL": ("Netherlands", "The Netherlands", "Holland", "네덜란드"), "BE": ("Belgium",),
    "LU": ("Luxembourg",), "CH": ("Switzerland", "스위스"), "AT": ("Austria",), "ES": ("Spain", "스페인"),
    "PT": ("Portugal",), "IT": ("Italy", "이탈리아"), "SE": ("Sweden", "스웨덴"), "NO": ("Norway",),
    "DK": ("Denmark",), "FI": ("Finland",), "PL": ("Poland",), "CZ": ("Czech Republic", "Czechia"),
    "GR": ("Greece",), "HU": ("Hungary",), "RO": ("Romania",), "IL": ("Israel", "이스라엘"),
    "TR": ("Turkey", "Türkiye"), "AE": ("United Arab Emirates", "UAE"), "SA": ("Saudi Arabia",),
    "ZA": ("South Africa",), "NG": ("Nigeria",), "EG": ("Egypt",), "KE": ("Kenya",),
    "IN": ("India", "인도"), "CN": ("China", "People's Republic of China", "PRC", "중국"),
    "HK": ("Hong Kong", "홍콩"), "TW": ("Taiwan", "대만"),
    "JP": ("Japan", "일본"), "KR": ("South Korea", "Korea", "Korea, Republic of", "Republic of Korea",
                                   "대한민국", "한국", "Korea (South)"),
    "SG": ("Singapore", "싱가포르"), "MY": ("Malaysia",), "TH": ("Thailand",), "VN": ("Vietnam", "Viet Nam", "베트남"),
    "ID": ("Indonesia", "인도네시아"), "PH": ("Philippines",), "AU": ("Australia", "호주"),
    "NZ": ("New Zealand",), "BM": ("Bermuda",), "JE": ("Jersey",),
}
EU = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
APAC = frozenset("AU CN HK IN ID JP KR MY NZ PH SG TH TW VN".split())
NORTH_AMERICA = frozenset({"US", "CA", "MX"})

# State code → (name, census region). Census regions: Northeast, Midwest, South, West.
US_STATES: dict[str, tuple[str, str]] = {
    "CT": ("Connecticut", "NORTHEAST"), "ME": ("Maine", "NORTHEAST"), "MA": ("Massachusetts", "NORTHEAST"),
    "NH": ("New Hampshire", "NORTHEAST"), "RI": ("Rhode Island", "NORTHEAST"), "VT": ("Vermont", "NORTHEAST"),
    "NJ": ("New Jersey", "NORTHEAST"), "NY": ("New York", "NORTHEAST"), "PA": ("Pennsylvania", "NORTHEAST"),
    "IL": ("Illinois", "MIDWEST"), "IN": ("Indiana", "MIDWEST"), "MI": ("Michigan", "MIDWEST"),
    "OH": ("Ohio", "MIDWEST"), "WI": ("Wisconsin", "MIDWEST"), "IA": ("Iowa", "MIDWEST"),
    "KS": ("Kansas", "MIDWEST"), "MN": ("Minnesota", "MIDWEST"), "MO": ("Missouri", "MIDWEST"),
    "NE": ("Nebraska", "MIDWEST"), "ND": ("North Dakota", "MIDWEST"), "SD": ("South Dakota", "MIDWEST"),
    "DE": ("Delaware", "SOUTH"), "DC": ("District of Columbia", "SOUTH"), "FL": ("Florida", "SOUTH"),
    "GA": ("Georgia", "SOUTH"), "MD": ("Maryland", "SOUTH"), "NC": ("North Carolina", "SOUTH"),
    "SC": ("South Carolina", "SOUTH"), "VA": ("Virginia", "SOUTH"), "WV": ("West Virginia", "SOUTH"),
    "AL": ("Alabama", "SOUTH"), "KY": ("Kentucky", "SOUTH"), "MS": ("Mississippi", "SOUTH"),
    "TN": ("Tennessee", "SOUTH"), "AR": ("Arkansas", "SOUTH"), "LA": ("Louisiana", "SOUTH"),
    "OK": ("Oklahoma", "SOUTH"), "TX": ("Texas", "SOUTH"),
    "AZ": ("Arizona", "WEST"), "CO": ("Colorado", "WEST"), "ID": ("Idaho", "WEST"), "MT": ("Montana", "WEST"),
    "NV": ("Nevada", "WEST"), "NM": ("New Mexico", "WEST"), "UT": ("Utah", "WEST"), "WY": ("Wyoming", "WEST"),
    "AK": ("Alaska", "WEST"), "CA": ("California", "WEST"), "HI": ("Hawaii", "WEST"),
    "OR": ("Oregon", "WEST"), "WA": ("Washington", "WEST"),
}

# Named places an ICP region band may list, besides a country code ("US") or a state ("US-NY").
PLACE_GROUPS: dict[str, str] = {
    "US-NORTHEAST": "US Northeast", "US-MIDWEST": "US Midwest", "US-SOUTH": "US South",
    "US-WEST": "US West", "US-CONTINENTAL": "Continental US (48 states and DC)",
    "NORTH-AMERICA": "North America", "EU": "European Union", "APAC": "Asia-Pacific",
}


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().replace(".", "").split())


_COUNTRY_INDEX = {_key(name): code for code, names in COUNTRIES.items() for name in names}
_COUNTRY_INDEX.update({code.lower(): code for code in COUNTRIES})
_STATE_INDEX = {_key(name): code for code, (name, _) in US_STATES.items()}
_STATE_INDEX.update({code.lower(): code for code in US_STATES})


def country_code(text: str) -> str:
    """ISO alpha-2 for a country name or code; the text as given when unknown ("" stays "")."""
    text = (text or "").strip()
    return _COUNTRY_INDEX.get(_key(text), text)


def us_state_code(text: str) -> str:
    """Two-letter code for a US state name or code; the text as given when unknown."""
    text = (text or "").strip()
    return _STATE_INDEX.get(_key(text), text)


def places_of(country: str, region: str) -> set[str]:
    """Every place name an account located at (country, region) belongs to, for ICP matching."""
    country = (country or "").upper()
    places = {country} if country else set()
    if country == "US" and region:
        state = region.upper()
        places.add(f"US-{state}")
        if state in US_STATES:
            places.add(f"US-{US_STATES[state][1]}")
            if state not in ("AK", "HI"):
                places.add("US-CONTINENTAL")
    elif region and country:
        places.add(f"{country}-{region.upper()}")
    if country in EU:
        places.add("EU")
    if country in APAC:
        places.add("APAC")
    if country in NORTH_AMERICA:
        places.add("NORTH-AMERICA")
    return places


def is_known_place(place: str) -> bool:
    place = place.upper()
    if place in PLACE_GROUPS or place in COUNTRIES:
        return True
    country, _, sub = place.partition("-")
    return country in COUNTRIES and (country != "US" or sub in US_STATES)


# The time zone a company's people most likely keep, from its country (and US state): used to
# send in business hours when a stakeholder's own time zone is not known.
COUNTRY_ZONES = {
    "US": "America/New_York", "CA": "America/Toronto", "MX": "America/Mexico_City", "BR": "America/Sao_Paulo",
    "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago", "CO": "America/Bogota",
    "GB": "Europe/London", "IE": "Europe/Dublin", "FR": "Europe/Paris", "DE": "Europe/Berlin",
    "NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "LU": "Europe/Luxembourg", "CH": "Europe/Zurich",
    "AT": "Europe/Vienna", "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "IT": "Europe/Rome",
    "SE": "Europe/Stockholm", "NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki",
    "PL": "Europe/Warsaw", "CZ": "Europe/Prague", "GR": "Europe/Athens", "HU": "Europe/Budapest",
    "RO": "Europe/Bucharest", "IL": "Asia/Jerusalem", "TR": "Europe/Istanbul", "AE": "Asia/Dubai",
    "SA": "Asia/Riyadh", "ZA": "Africa/Johannesburg", "NG": "Africa/Lagos", "EG": "Africa/Cairo",
    "KE": "Africa/Nairobi", "IN": "Asia/Kolkata", "CN": "Asia/Shanghai", "HK": "Asia/Hong_Kong",
    "TW": "Asia/Taipei", "JP": "Asia/Tokyo", "KR": "Asia/Seoul", "SG": "Asia/Singapore",
    "MY": "Asia/Kuala_Lumpur", "TH": "Asia/Bangkok", "VN": "Asia/Ho_Chi_Minh", "ID": "Asia/Jakarta",
    "PH": "Asia/Manila", "AU": "Australia/Sydney", "NZ": "Pacific/Auckland", "BM": "Atlantic/Bermuda",
    "JE": "Europe/Jersey",
}
US_STATE_ZONES = {
    **{s: "America/Chicago" for s in "AL AR IA IL KS LA MN MO MS ND NE OK SD TN TX WI".split()},
    **{s: "America/Denver" for s in "CO MT NM UT WY".split()},
    "AZ": "America/Phoenix", "ID": "America/Boise",
    **{s: "America/Los_Angeles" for s in "CA NV OR WA".split()},
    "AK": "America/Anchorage", "HI": "Pacific/Honolulu",
}


def timezone_for(country: str, region: str = "") -> str:
    """An IANA zone for a country code (and US state code); UTC when unknown."""
    if country == "US" and region in US_STATE_ZONES:
        return US_STATE_ZONES[region]
    return COUNTRY_ZONES.get(country, "UTC")
