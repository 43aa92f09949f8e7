"""ICP fit scoring: weighted criteria with graded bands, pure and database-free.

A criterion scores one attribute of an account (industry, revenue, employees,
region, technologies, competitor products) through an ordered list of bands;
the first band that matches gives a 0–100 score. The fit score is the weighted
mean of the criterion scores, and the tier comes from the thresholds.

    scorer = icp.compile(criteria, thresholds)      # once
    result = scorer(account)                        # per account: cheap
    account.icp_score, account.tier = result.total, result.tier
    account.icp_breakdown = result.as_json()

Speed: `compile` precomputes every possible outcome of every criterion (one
ready-made `Part` per band, plus "no match" and "unknown"), so scoring an
account is a handful of dict look-ups and comparisons; region matches are
memoised per (country, region) pair.

Missing data is reported as "unknown" rather than "no match", so "why this
score" says the data is missing, not that the account is a poor fit. For the
region, a US account without a state is "unknown" (not "no match") when no
band matched and some band names a part of the US (a state or "US-NORTHEAST"):
the state would have decided it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from abmcontent import geo
from abmcontent.taxonomy import INDUSTRIES

__all__ = [
    "ATTRIBUTES", "NUMERIC_ATTRIBUTES", "LIST_ATTRIBUTES", "ATTRIBUTE_LABELS",
    "Band", "Criterion", "Thresholds", "Part", "Score", "Facts",
    "criteria_from_rows", "bands_to_json", "thresholds_from_settings", "validate",
    "criterion_label", "band_label",
    "compile", "score", "tier_counts", "default_criteria",
]

ATTRIBUTES = ("industry", "revenue", "employees", "region", "technologies", "competitor_products")
NUMERIC_ATTRIBUTES = frozenset({"revenue", "employees"})
# Attributes whose bands list values (industry keys, places, product names).
LIST_ATTRIBUTES = frozenset({"industry", "region", "technologies", "competitor_products"})
ATTRIBUTE_LABELS = {
    "industry": "Industry",
    "revenue": "Annual revenue",
    "employees": "Employees",
    "region": "Region",
    "technologies": "Technologies in use",
    "competitor_products": "Competitor products",
}
NO_MATCH = "no match"
UNKNOWN = "unknown"
INDUSTRY_KEYS = frozenset(INDUSTRIES)
# Place groups decided by the country alone; every other "XX-…" place needs the region (state).
_COUNTRY_LEVEL_GROUPS = frozenset({"EU", "APAC", "NORTH-AMERICA"})
_REGION_CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class Band:
    """One graded sub-criterion."""

    score: float
    label: str = ""
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Criterion:
    attribute: str
    weight: float
    bands: tuple[Band, ...]
    label: str = ""


@dataclass(frozen=True)
class Thresholds:
    tier1: float = 75.0
    tier2: float = 50.0
    tier3: float = 25.0


@dataclass(frozen=True)
class Part:
    """One line of "why this score"."""

    attribute: str
    label: str
    weight: float
    band: str
    score: float
    points: float

    def as_dict(self) -> dict:
        return self.__dict__.copy()  # exactly the six fields, in order (no slots); a fresh dict


@dataclass(frozen=True)
class Score:
    total: float
    tier: int | None
    parts: tuple[Part, ...]

    def as_json(self) -> list[dict]:
        """The parts as plain dicts, for Account.icp_breakdown."""
        return [p.as_dict() for p in self.parts]


@dataclass
class Facts:
    """The account data scoring reads; an Account instance or any object with these attributes works."""

    industry: str = ""
    revenue: int | None = None
    employees: int | None = None
    country: str = ""
    region: str = ""
    technologies: list[str] | tuple[str, ...] = ()
    competitor_products: list[str] | tuple[str, ...] = ()


# ---------------------------------------------------------------- conversion


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _number(value: Any) -> Any:
    """A float from a stored number; None for blank; garbage is kept as is so `validate` can name it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _band_from_json(data: Any) -> Band:
    values = _field(data, "values") or ()
    if isinstance(values, str):
        values = (values,)
    return Band(
        score=_number(_field(data, "score", 0)),
        label=str(_field(data, "label") or ""),
        values=tuple(str(v) for v in values),
        min=_number(_field(data, "min")),
        max=_number(_field(data, "max")),
    )


def criteria_from_rows(rows: Iterable[Any]) -> list[Criterion]:
    """Criteria from IcpCriterion rows (or dicts with the same keys), ordered by position."""
    ordered = sorted(rows, key=lambda row: _field(row, "position") or 0)
    return [
        Criterion(
            attribute=str(_field(row, "attribute") or ""),
            weight=_number(_field(row, "weight", 1.0)),
            bands=tuple(_band_from_json(b) for b in (_field(row, "bands") or ())),
            label=str(_field(row, "label") or ""),
        )
        for row in ordered
    ]


def _plain(value: Any) -> Any:
    """1000.0 → 1000 so stored JSON reads naturally; other values unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def bands_to_json(bands: Iterable[Band]) -> list[dict]:
    """Bands as JSON-ready dicts (IcpCriterion.bands); the inverse of what criteria_from_rows reads."""
    return [
        {"score": _plain(b.score), "label": b.label, "values": list(b.values),
         "min": _plain(b.min), "max": _plain(b.max)}
        for b in bands
    ]


def thresholds_from_settings(settings: Any) -> Thresholds:
    """Thresholds from the IcpSettings row; the defaults when there is none yet."""
    if settings is None:
        return Thresholds()
    return Thresholds(float(settings.tier1_min), float(settings.tier2_min), float(settings.tier3_min))


# ---------------------------------------------------------------- labels


def _fmt(number: float) -> str:
    if float(number).is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")


def _industry_words(key: str) -> str:
    # The same words taxonomy.label shows (English, so stored breakdowns do not depend on the
    # locale of whoever saved the criteria).
    return key.replace("_", " ").capitalize()


def _place_words(place: str) -> str:
    return geo.PLACE_GROUPS.get(place.upper(), place)


def criterion_label(criterion: Criterion) -> str:
    return criterion.label or ATTRIBUTE_LABELS.get(criterion.attribute,
                                                   criterion.attribute.replace("_", " ").capitalize())


def band_label(attribute: str, band: Band, index: int = 0) -> str:
    """The band's own label, or one generated from its values / range."""
    if band.label:
        return band.label
    if attribute in NUMERIC_ATTRIBUTES:
        low, high = band.min, band.max
        if low is not None and high is not None:
            return f"{_fmt(low)}–{_fmt(high)}"
        if low is not None:
            return f"≥ {_fmt(low)}"
        if high is not None:
            return f"≤ {_fmt(high)}"
        return "any other" if index else "any"
    if attribute == "industry":
        return ", ".join(_industry_words(v) for v in band.values)
    if attribute == "region":
        return ", ".join(_place_words(v) for v in band.values)
    return ", ".join(band.values)


# ---------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate(criteria: list[Criterion], thresholds: Thresholds) -> dict[str, list[str]]:
    """Problems, in words a campaign manager understands, keyed "criterion-<index>" (0-based, the
    position in `criteria`), "thresholds", and "criteria" for the list as a whole (no weight above 0).
    Empty dict: all good."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    total_weight = 0.0
    weight_problem = False
    for index, criterion in enumerate(criteria):
        key = f"criterion-{index}"
        attribute = criterion.attribute
        if attribute not in ATTRIBUTES:
            choices = ", ".join(ATTRIBUTE_LABELS[a].lower() for a in ATTRIBUTES)
            add(key, f'"{attribute}" is not something we can score. Choose one of: {choices}.')
        if not _is_number(criterion.weight):
            add(key, "The weight must be a number.")
            weight_problem = True
        elif criterion.weight < 0:
            add(key, "The weight can't be negative. Use 0 to switch this criterion off.")
            weight_problem = True
        else:
            total_weight += criterion.weight
        if len(criterion.label) > 200:
            add(key, "The name is too long (at most 200 characters).")
        if not criterion.bands:
            add(key, "Add at least one band (for example: a value and the score it earns).")
        last = len(criterion.bands) - 1
        for number, band in enumerate(criterion.bands, start=1):
            where = f"Band {number}"
            if not _is_number(band.score):
                add(key, f"{where}: the score must be a number from 0 to 100.")
            elif not 0 <= band.score <= 100:
                add(key, f"{where}: the score must be from 0 to 100, not {_fmt(band.score)}.")
            if attribute in NUMERIC_ATTRIBUTES:
                _validate_range(band, where, number - 1 == last, lambda m: add(key, m))
            elif attribute in LIST_ATTRIBUTES:
                _validate_values(attribute, band, where, lambda m: add(key, m))
    if not criteria:
        add("criteria", "Add at least one criterion, or every account scores 0.")
    elif total_weight == 0 and not weight_problem:
        add("criteria", "Every weight is 0: give at least one criterion a weight above 0, "
                        "or every account scores 0.")

    tiers = (("Tier 1", thresholds.tier1), ("Tier 2", thresholds.tier2), ("Tier 3", thresholds.tier3))
    in_range = True
    for name, value in tiers:
        if not _is_number(value):
            add("thresholds", f"{name}: the minimum score must be a number from 0 to 100.")
            in_range = False
        elif not 0 <= value <= 100:
            add("thresholds", f"{name}: the minimum score must be from 0 to 100, not {_fmt(value)}.")
            in_range = False
    if in_range:
        if thresholds.tier1 < thresholds.tier2:
            add("thresholds", f"Tier 1 needs at least the score of tier 2 "
                              f"({_fmt(thresholds.tier1)} is below {_fmt(thresholds.tier2)}).")
        if thresholds.tier2 < thresholds.tier3:
            add("thresholds", f"Tier 2 needs at least the score of tier 3 "
                              f"({_fmt(thresholds.tier2)} is below {_fmt(thresholds.tier3)}).")
    return errors


def _validate_range(band: Band, where: str, is_last: bool, add: Callable[[str], None]) -> None:
    ok = True
    for name, value in (("lowest", band.min), ("highest", band.max)):
        if value is not None and not _is_number(value):
            add(f"{where}: the {name} value must be a number.")
            ok = False
    if not ok:
        return
    if band.min is not None and band.max is not None and band.min > band.max:
        add(f"{where}: the lowest value ({_fmt(band.min)}) is above the highest ({_fmt(band.max)}).")
    if band.min is None and band.max is None and not is_last:
        add(f"{where} has neither a lowest nor a highest value, so it catches everything and the bands "
            f"after it can never apply. Give it a range, or move it to the end as the catch-all.")


def _validate_values(attribute: str, band: Band, where: str, add: Callable[[str], None]) -> None:
    values = [v for v in band.values if isinstance(v, str) and v.strip()]
    if not values:
        what = {"industry": "industries", "region": "places", "technologies": "technologies",
                "competitor_products": "competitor products"}[attribute]
        add(f"{where} lists no {what}: pick at least one.")
        return
    if attribute == "industry":
        unknown = [v for v in values if v not in INDUSTRY_KEYS]
        if unknown:
            names = ", ".join(f'"{v}"' for v in unknown)
            choices = ", ".join(sorted(INDUSTRY_KEYS))
            add(f"{where}: {names} {'is not an industry' if len(unknown) == 1 else 'are not industries'}"
                f" we know. Use the sector names: {choices}.")
    elif attribute == "region":
        unknown = [v for v in values if not geo.is_known_place(v.strip())]
        if unknown:
            names = ", ".join(f'"{v}"' for v in unknown)
            groups = ", ".join(geo.PLACE_GROUPS)
            add(f"{where}: {names} {'is not a place' if len(unknown) == 1 else 'are not places'} we know. "
                f"Use a country code (DE, KR), a US state (US-NY) or a region ({groups}).")


# ---------------------------------------------------------------- scoring


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, (list, tuple, set, frozenset)) and not value)


def compile(criteria: list[Criterion], thresholds: Thresholds = Thresholds()) -> Callable[[Any], Score]:
    """A fast scoring function for these criteria: facts → Score.

    Raises ValueError only for an attribute that cannot be scored at all; other problems
    `validate` reports (an unknown place simply never matches)."""
    criteria = list(criteria)
    total_weight = 0.0
    for criterion in criteria:
        if criterion.attribute not in ATTRIBUTES:
            raise ValueError(f"unknown ICP attribute {criterion.attribute!r}")
        total_weight += float(criterion.weight)

    matchers = [_compile_criterion(c, total_weight) for c in criteria]
    tier1, tier2, tier3 = float(thresholds.tier1), float(thresholds.tier2), float(thresholds.tier3)
    divisor = total_weight

    def run(facts: Any) -> Score:
        if matchers:
            parts, weighted = zip(*[m(facts) for m in matchers])
            total = round(sum(weighted) / divisor, 1) if divisor else 0.0
        else:
            parts, total = (), 0.0
        if total >= tier1:
            tier = 1
        elif total >= tier2:
            tier = 2
        elif total >= tier3:
            tier = 3
        else:
            tier = None
        return Score(total, tier, parts)

    return run


def _compile_criterion(criterion: Criterion, total_weight: float) -> Callable[[Any], tuple[Part, float]]:
    """A function facts → (Part, weight × score), every possible result made in advance."""
    attribute = criterion.attribute
    label = criterion_label(criterion)
    weight = float(criterion.weight)
    share = weight / total_weight if total_weight else 0.0

    def outcome(band_name: str, band_score: float) -> tuple[Part, float]:
        band_score = float(band_score)
        return Part(attribute, label, weight, band_name, band_score, round(share * band_score, 1)), \
            weight * band_score

    bands = criterion.bands
    matched = [outcome(band_label(attribute, b, i), b.score) for i, b in enumerate(bands)]
    no_match = outcome(NO_MATCH, 0.0)
    unknown = outcome(UNKNOWN, 0.0)

    if attribute in NUMERIC_ATTRIBUTES:
        return _numeric_matcher(attribute, bands, matched, no_match, unknown)
    if attribute == "industry":
        return _industry_matcher(bands, matched, no_match, unknown)
    if attribute == "region":
        return _region_matcher(bands, matched, no_match, unknown)
    return _list_matcher(attribute, bands, matched, no_match, unknown)


def _numeric_matcher(attribute, bands, matched, no_match, unknown):
    ranges = tuple(
        (-math.inf if b.min is None else float(b.min), math.inf if b.max is None else float(b.max), result)
        for b, result in zip(bands, matched)
    )

    def match(facts):
        value = getattr(facts, attribute, None)
        if value is None or value == "":
            return unknown
        try:
            for low, high, result in ranges:
                if low <= value <= high:
                    return result
        except TypeError:  # a number held as text, e.g. from a spreadsheet
            try:
                value = float(str(value).replace(",", ""))
            except ValueError:
                return unknown
            for low, high, result in ranges:
                if low <= value <= high:
                    return result
        return no_match

    return match


def _industry_matcher(bands, matched, no_match, unknown):
    lookup: dict[str, tuple[Part, float]] = {}
    for band, result in zip(bands, matched):
        for value in band.values:
            lookup.setdefault(value.strip(), result)  # first band wins
    for key in list(lookup):
        lookup.setdefault(key.lower().replace(" ", "_"), lookup[key])
    get = lookup.get

    def match(facts):
        value = getattr(facts, "industry", None)
        if not value:
            return unknown
        found = get(value)
        if found is None:  # "Health Care", " financials "
            found = get(str(value).strip().lower().replace(" ", "_"), no_match)
        return found

    return match


def _region_matcher(bands, matched, no_match, unknown):
    band_places = [(frozenset(v.strip().upper() for v in b.values), result) for b, result in zip(bands, matched)]
    # Countries for which some band names a sub-division (a state or "US-NORTHEAST").
    needs_region = frozenset(
        place.partition("-")[0]
        for places, _ in band_places for place in places
        if "-" in place and place not in _COUNTRY_LEVEL_GROUPS
    )
    cache: dict[tuple[Any, Any], tuple[Part, float]] = {}

    def resolve(country: str, region: str) -> tuple[Part, float]:
        country = (country or "").strip()
        region = (region or "").strip()
        if not country:
            return unknown
        code = country.upper() if country.upper() in geo.COUNTRIES else geo.country_code(country)
        if code == "US" and region:
            region = geo.us_state_code(region)
        places = {p.upper() for p in geo.places_of(code, region)}
        for allowed, result in band_places:
            if not allowed.isdisjoint(places):
                return result
        if not region and code.upper() in needs_region:
            return unknown
        return no_match

    def match(facts):
        key = (getattr(facts, "country", None), getattr(facts, "region", None))
        try:
            return cache[key]
        except KeyError:
            result = resolve(*key)
            if len(cache) < _REGION_CACHE_LIMIT:
                cache[key] = result
            return result
        except TypeError:  # unhashable values: score without the cache
            return resolve(str(key[0] or ""), str(key[1] or ""))

    return match


def _list_matcher(attribute, bands, matched, no_match, unknown):
    rank: dict[str, int] = {}
    for index, band in enumerate(bands):
        for value in band.values:
            rank.setdefault(value.strip().lower(), index)  # first band wins
    results = tuple(matched)
    get = rank.get
    none = len(results)

    def match(facts):
        items = getattr(facts, attribute, None)
        if not items:
            return unknown
        if isinstance(items, str):  # "Teradata, Oracle" typed as text
            items = items.split(",")
        best = none
        for item in items:
            if isinstance(item, str):
                index = get(item.strip().lower(), none)
                if index < best:
                    best = index
                    if best == 0:
                        break
        return results[best] if best < none else no_match

    return match


def score(facts: Any, criteria: list[Criterion], thresholds: Thresholds = Thresholds()) -> Score:
    """Score one account; to score many, compile once and call the result."""
    return compile(criteria, thresholds)(facts)


def tier_counts(facts_iterable: Iterable[Any], criteria: list[Criterion],
                thresholds: Thresholds = Thresholds()) -> dict[int | None, int]:
    """How many accounts would land in each tier (keys 1, 2, 3 and None, always all four)."""
    scorer = compile(criteria, thresholds)
    counts: dict[int | None, int] = {1: 0, 2: 0, 3: 0, None: 0}
    for facts in facts_iterable:
        counts[scorer(facts).tier] += 1
    return counts


# ---------------------------------------------------------------- starter ICP


def default_criteria() -> tuple[list[Criterion], Thresholds]:
    """A starter ICP for the demo vendor, a cloud data platform selling to mid-size and large companies.

    Weights add up to 100 so each reads as a percentage of the score."""
    other_industries = tuple(k for k in INDUSTRIES if k not in
                             {"financials", "health_care", "industrials", "information_technology"})
    criteria = [
        Criterion("industry", 25, (
            Band(100, values=("financials", "health_care")),
            Band(70, values=("industrials", "information_technology")),
            Band(20, label="Other industries", values=other_industries),
        )),
        Criterion("employees", 20, (
            Band(100, min=1_000, max=20_000),
            Band(60, min=200, max=999),
            Band(50, label="More than 20,000", min=20_001),
        ), label="Company size"),
        Criterion("revenue", 20, (
            Band(100, label="$500M or more", min=500_000_000),
            Band(70, label="$100M–$500M", min=100_000_000, max=500_000_000),
            Band(20, label="Under $100M"),
        )),
        Criterion("region", 15, (
            Band(100, values=("US-NORTHEAST",)),
            Band(60, values=("US-CONTINENTAL",)),
            Band(90, label="South Korea", values=("KR",)),
            Band(50, values=("EU",)),
        )),
        Criterion("technologies", 15, (
            Band(100, label="Legacy warehouse to migrate (Teradata, Oracle Exadata, Netezza)",
                 values=("teradata", "oracle exadata", "netezza")),
        )),
        Criterion("competitor_products", 5, (
            Band(40, label="Uses Snowflake or Databricks", values=("snowflake", "databricks")),
        )),
    ]
    return criteria, Thresholds(75.0, 50.0, 25.0)
