"""Lookalike accounts: companies not yet targeted that resemble the accounts we have won.

Won accounts are accounts with a closed-won deal that has not churned. Candidates are accounts
nobody has decided on yet (no target status), with no deal of any kind and not marked lost (those
have their own win-back list).

How alike two accounts are is a weighted mean of per-feature similarities, each between 0 and 1:

    feature            weight  similarity
    industry              25   same GICS sector → 1, else 0. The strongest sign that a company has
                               the problems our product solves, the regulation our references speak to.
    employees             15   log scale: 1 − |log10 a − log10 b|, floored at 0 (same size → 1, ten
                               times bigger or smaller → 0). Company size sets the buying committee,
                               the budget and the deal size.
    technologies          15   Jaccard of the technology sets (case and spacing aside): the same stack
                               means the same integrations and migration path.
    competitor products   12   Jaccard of the competitor products used: the displacement play we won with.
    location              12   nested levels adding up: same trade area (EU, APAC, North America, else the
                               country itself) .3, same country .3, same US census region (elsewhere: same
                               region) .2, same state or region .2. Market, language and law.
    revenue               10   log scale like employees; it mostly repeats employees, so it weighs less.
    customer base          6   same wording (case aside): the customers they sell to.
    sub-industry           5   same wording: a small bonus inside an industry.

Missing values are neither rewarded nor punished hard. A feature the won account lacks does not
count for that pair at all. A feature only the candidate lacks scores nothing, and the mean of the
features known on both sides is damped by the square root of how much of the won account's known
weight they cover:

    similarity = Σ known-on-both w·s  /  √(Σ known-on-both w  ×  Σ known-on-won w)

so an account missing its employee count (15 of 100) keeps about 92 % of what its other features
earn, a known mismatch scores below it and a known match above it, and an empty record scores 0.

A candidate's similarity is the mean of its k best similarities to single won accounts: it must
resemble some customers closely, not the average of all of them (the average of 200 customers
resembles nobody). k is 3 (NEIGHBOURS) from 30 won accounts on, one per ten below that, at least 1:
with three customers, averaging in one that is nothing like the candidate would only blur the
ranking. The page names the (up to) three won accounts it resembles most.

Speed: the won accounts are encoded once into arrays; candidates are read with one SQL query that
already excludes targeted, dealt and lost accounts (and applies the filters), then scored against
every won account at once in blocks with numpy: candidates × won accounts pairs never go
through a Python loop. Reasons are worked out only for the suggestions shown.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import chain

import numpy as np
from babel.lists import format_list
from babel.numbers import format_compact_currency
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Text, and_, cast, exists, or_, select

from abmcontent import accounts, geo, taxonomy
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import Account, Deal, User

PROPOSERS = ("campaign",)  # marketing proposes the target list; sales agrees or rejects it
NEIGHBOURS = 3  # averaged per candidate (fewer below 30 won accounts), and named as whom it resembles
WEIGHTS = {
    "industry": 25.0, "employees": 15.0, "technologies": 15.0, "competitors": 12.0, "location": 12.0,
    "revenue": 10.0, "customer_base": 6.0, "sub_industry": 5.0,
}
FEATURES = tuple(WEIGHTS)
LOCATION_LEVELS = (("area", 0.3), ("country", 0.3), ("census", 0.2), ("place", 0.2))
NEAR_FACTOR = 2.0     # "close to <won account>": at most twice or half its size
TYPICAL = (20, 80)    # "the usual range of won accounts": these percentiles (with 5 or more; else all)
MAX_PROPOSE = 500
BLOCK_CELLS = 2_000_000  # candidate × won cells scored per numpy block (≈ 8 MB per float32 array)

_COLUMNS = (Account.id, Account.industry, Account.sub_industry, Account.customer_base, Account.country,
            Account.region, Account.employees, Account.revenue, cast(Account.technologies, Text),
            cast(Account.competitor_products, Text))  # JSON as text: only distinct lists are decoded


@dataclass
class Reason:
    """Why an account looks like the won ones: a sentence key and its values; `say` words it."""

    key: str
    params: dict = field(default_factory=dict)


@dataclass
class WonMatch:
    account_id: int
    name: str
    similarity: int  # 0–100


@dataclass
class Lookalike:
    account: Account
    similarity: int  # 0–100
    resembles: list[WonMatch]
    reasons: list[Reason]


@dataclass
class ProposeResult:
    proposed: int
    skipped: int  # no longer suggested: decided, in a deal, or not alike at all


def can_propose(user: User) -> bool:
    return user.has_role(*PROPOSERS)


# --- features ----------------------------------------------------------------------------------

def _norm(text) -> str:
    return " ".join(str(text or "").casefold().split())


@lru_cache(maxsize=4096)
def _location(country: str, region: str) -> tuple[str, str, str, str]:
    """(trade area, country, census region, place) keys; "" where unknown. Nested: each implies the last."""
    country = (country or "").strip().upper()
    region = (region or "").strip().upper()
    if not country:
        return "", "", "", ""
    area = "EU" if country in geo.EU else "APAC" if country in geo.APAC else \
        "NORTH-AMERICA" if country in geo.NORTH_AMERICA else country
    place = f"{country}/{region}" if region else ""
    census = place
    if country == "US" and region in geo.US_STATES:
        census = "US/" + geo.US_STATES[region][1]
    return area, country, census, place


def _items(raw) -> list[str]:
    """A JSON list column, as text (SQL CAST) or already decoded; anything odd counts as empty."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    if not isinstance(raw, list):
        return []
    return [str(x).strip() for x in raw if x is not None and str(x).strip()]


def _item_set(raw) -> tuple[str, ...]:
    """The distinct items of a JSON list column, case and spacing aside, in order."""
    if raw == "[]" or raw is None:
        return ()
    if isinstance(raw, str):
        # the usual '["A", "B"]' without escapes is split, not decoded: 100,000 rows add up
        text = _norm(raw)
        if text.startswith('["') and text.endswith('"]') and "\\" not in text:
            inner = text[2:-2]
            items = inner.split('", "')
            if inner.count('"') == 2 * (len(items) - 1):  # no quote inside an item: the split is exact
                return tuple(dict.fromkeys(filter(None, map(str.strip, items))))
    return tuple(dict.fromkeys(_norm(x) for x in _items(raw)))


def _memo(function):
    """function with a cache that lives as long as the returned callable (one query's worth)."""
    cache: dict = {}

    def cached(value):
        try:
            return cache[value]
        except KeyError:
            found = cache[value] = function(value)
            return found
        except TypeError:  # an unhashable value: a decoded JSON list
            return function(value)
    return cached


def _log_sizes(values) -> np.ndarray:
    """log10 of each value; NaN where unknown (None) or not positive."""
    numbers = np.array([v if v is not None else np.nan for v in values], dtype=np.float64)
    out = np.full(numbers.shape, np.nan)
    np.log10(numbers, out=out, where=numbers > 0)
    return out.astype(np.float32)


# The categorical features and location levels, with the weight a match earns.
SLOTS = (("industry", WEIGHTS["industry"]), ("sub_industry", WEIGHTS["sub_industry"]),
         ("customer_base", WEIGHTS["customer_base"]),
         *((level, WEIGHTS["location"] * share) for level, share in LOCATION_LEVELS))


def _text_slot(slot: str, value) -> str:
    """industry is a vocabulary key, kept as is; free text is compared case and spacing aside."""
    return (value or "") if slot == "industry" else _norm(value)


class _Parser:
    """One query's worth of memoised parsing: every distinct text or list is worked out once."""

    def __init__(self):
        self.set = _memo(_item_set)
        self.text = {slot: _memo(lambda value, slot=slot: _text_slot(slot, value))
                     for slot in ("industry", "sub_industry", "customer_base")}


@dataclass
class _Rows:
    """Feature columns of a few accounts (the won ones, the suggestions), text normalised, sizes log10."""

    slots: dict[str, list[str]]  # SLOTS → values, "" where unknown
    employees: np.ndarray
    revenue: np.ndarray
    technologies: list[tuple[str, ...]]
    competitors: list[tuple[str, ...]]

    @classmethod
    def of(cls, accounts: list[Account]) -> "_Rows":
        parse = _Parser()
        slots = {slot: [parse.text[slot](getattr(a, slot)) for a in accounts] for slot in parse.text}
        locations = [_location(a.country, a.region) for a in accounts]
        for n, (level, _share) in enumerate(LOCATION_LEVELS):
            slots[level] = [loc[n] for loc in locations]
        return cls(slots=slots, employees=_log_sizes([a.employees for a in accounts]),
                   revenue=_log_sizes([a.revenue for a in accounts]),
                   technologies=[parse.set(a.technologies) for a in accounts],
                   competitors=[parse.set(a.competitor_products) for a in accounts])

    def __len__(self) -> int:
        return len(self.employees)

    def known(self) -> np.ndarray:
        """Accounts × FEATURES: 1 where the feature is known."""
        flags = {"industry": self.slots["industry"], "sub_industry": self.slots["sub_industry"],
                 "customer_base": self.slots["customer_base"], "location": self.slots["country"],
                 "technologies": self.technologies, "competitors": self.competitors}
        known = np.zeros((len(self), len(FEATURES)), dtype=np.float32)
        for name, values in flags.items():
            known[:, FEATURES.index(name)] = [bool(v) for v in values]
        known[:, FEATURES.index("employees")] = ~np.isnan(self.employees)
        known[:, FEATURES.index("revenue")] = ~np.isnan(self.revenue)
        return known


@dataclass
class _Encoded:
    """Candidates as arrays against one _WonIndex."""

    ids: list[int]
    columns: np.ndarray  # candidates × SLOTS: the index's column of each value (its last column: no match)
    employees: np.ndarray  # log10; far off where unknown, so nothing is near it
    revenue: np.ndarray
    sets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # (row, vocabulary column) pairs, set sizes
    known: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


class _WonIndex:
    """The won accounts encoded once: one column per categorical value they have, their sizes,
    their technology and competitor sets as membership matrices."""

    def __init__(self, won: list[Account]):
        self.accounts = won
        rows = self.rows = _Rows.of(won)
        self.vocab: dict[str, dict[str, int]] = {}
        cells = []
        for slot, weight in SLOTS:
            vocab = self.vocab[slot] = {}
            for w, value in enumerate(rows.slots[slot]):
                if value:
                    column = vocab.setdefault(value, sum(len(v) for v in self.vocab.values()))
                    cells.append((column, w, weight))
        self.width = sum(len(v) for v in self.vocab.values())
        self.matches = np.zeros((self.width + 1, len(won)), dtype=np.float32)  # last row: no match
        for column, w, weight in cells:
            self.matches[column, w] = weight
        self.employees = np.nan_to_num(rows.employees, nan=-1e4)
        self.revenue = np.nan_to_num(rows.revenue, nan=-1e4)
        self.sets: dict[str, tuple[dict[str, int], np.ndarray, np.ndarray]] = {}
        for name, values in (("technologies", rows.technologies), ("competitors", rows.competitors)):
            vocab: dict[str, int] = {}
            for items in values:
                for item in items:
                    vocab.setdefault(item, len(vocab))
            member = np.zeros((max(len(vocab), 1), len(won)), dtype=np.float32)
            for w, items in enumerate(values):
                member[[vocab[item] for item in items], w] = 1.0
            self.sets[name] = (vocab, member, np.array([len(v) for v in values], dtype=np.float32))
        self.known = rows.known().T  # FEATURES × won
        self.known_weight = _FEATURE_WEIGHTS @ self.known

    def __len__(self) -> int:
        return len(self.accounts)

    def encode(self, rows) -> _Encoded:
        """Candidates straight from SQL rows (_COLUMNS) to arrays; the same cleaning as _Rows.of."""
        columns = [list(column) for column in zip(*rows)] if rows else [[] for _ in _COLUMNS]
        ids, industry, sub, base, country, region, employees, revenue, tech, comp = columns
        parse, nowhere = _Parser(), self.width
        codes = np.empty((len(ids), len(SLOTS)), dtype=np.int64)
        known = np.zeros((len(ids), len(FEATURES)), dtype=np.float32)
        for n, (slot, values) in enumerate((("industry", industry), ("sub_industry", sub), ("customer_base", base))):
            vocab, clean = self.vocab[slot], parse.text[slot]
            cleaned = [clean(v) for v in values]
            codes[:, n] = [vocab.get(v, nowhere) for v in cleaned]
            known[:, FEATURES.index(slot)] = [bool(v) for v in cleaned]
        places: dict[tuple, int] = {}  # (country, region) → a row of `table`: few distinct places
        place_of = np.fromiter((places.setdefault(key, len(places)) for key in zip(country, region)),
                               dtype=np.int64, count=len(ids))
        table = np.array([[self.vocab[level].get(value, nowhere) for (level, _share), value in
                           zip(LOCATION_LEVELS, _location(*key))] for key in places] or [[nowhere] * 4])
        codes[:, 3:] = table[place_of]
        known[:, FEATURES.index("location")] = np.array([bool(_location(*key)[1]) for key in places] or [0],
                                                        dtype=np.float32)[place_of]
        sizes = {"employees": _log_sizes(employees), "revenue": _log_sizes(revenue)}
        for name, logs in sizes.items():
            known[:, FEATURES.index(name)] = ~np.isnan(logs)
        sets = {}
        for name, values in (("technologies", tech), ("competitors", comp)):
            vocab = self.sets[name][0]
            def in_vocab(raw, vocab=vocab) -> tuple[list[int], int]:
                items = parse.set(raw)
                return [vocab[x] for x in items if x in vocab], len(items)

            found = _memo(in_vocab)
            parsed = [found(v) for v in values]
            counts = [len(cols) for cols, _size in parsed]
            rows_of = np.repeat(np.arange(len(values)), counts)
            cols = np.fromiter(chain.from_iterable(cols for cols, _size in parsed), dtype=np.int64,
                               count=len(rows_of))
            set_sizes = np.array([size for _cols, size in parsed], dtype=np.float32)
            known[:, FEATURES.index(name)] = set_sizes > 0
            sets[name] = (rows_of, cols, set_sizes)
        return _Encoded(ids, codes, np.nan_to_num(sizes["employees"], nan=1e4),
                        np.nan_to_num(sizes["revenue"], nan=1e4), sets, known)


_FEATURE_WEIGHTS = np.array([WEIGHTS[f] for f in FEATURES], dtype=np.float32)


def _similarities(block: _Encoded, start: int, stop: int, won: _WonIndex) -> np.ndarray:
    """Candidates [start, stop) × won accounts: similarity 0..1 (see the module's formula)."""
    n = stop - start
    present = np.zeros((n, won.width + 1), dtype=np.float32)
    present[np.arange(n)[:, None], block.columns[start:stop]] = 1.0
    score = present @ won.matches  # the weights of every categorical match, summed
    for name in ("employees", "revenue"):
        alike = np.subtract.outer(getattr(block, name)[start:stop], getattr(won, name))
        np.abs(alike, out=alike)
        np.subtract(1.0, alike, out=alike)  # ten times bigger or smaller: 0
        np.maximum(alike, 0.0, out=alike)
        alike *= WEIGHTS[name]
        score += alike
    for name in ("technologies", "competitors"):
        rows, cols, sizes = block.sets[name]
        _vocab, member, won_sizes = won.sets[name]
        lo, hi = np.searchsorted(rows, (start, stop))
        present = np.zeros((n, member.shape[0]), dtype=np.float32)
        present[rows[lo:hi] - start, cols[lo:hi]] = 1.0
        shared = present @ member
        union = np.add.outer(sizes[start:stop], won_sizes)
        union -= shared
        np.divide(shared, union, out=shared, where=union > 0)  # Jaccard; 0 where both are empty
        shared *= WEIGHTS[name]
        score += shared
    scale = (block.known[start:stop] * _FEATURE_WEIGHTS) @ won.known  # weight known on both sides
    scale *= won.known_weight
    np.sqrt(scale, out=scale)
    return np.divide(score, scale, out=np.zeros_like(score), where=scale > 0)


# --- the query ---------------------------------------------------------------------------------

def won_accounts(now: datetime) -> list[Account]:
    """Accounts with a closed-won deal that has not churned (by now)."""
    today = now.date()
    won = select(Deal.account_id).where(Deal.stage == "closed_won",
                                        or_(Deal.churned_on.is_(None), Deal.churned_on > today))
    return list(db.session.scalars(select(Account).where(Account.id.in_(won)).order_by(Account.id)))


def _candidate_conditions(industry: str = "", country: str = "", account_ids=None) -> list:
    conditions = [Account.target_status.is_(None), Account.lost.is_(False),
                  ~exists().where(Deal.account_id == Account.id)]
    if industry:
        conditions.append(Account.industry == industry)
    if country:
        conditions.append(Account.country == country)
    if account_ids is not None:
        conditions.append(Account.id.in_(list(account_ids)))
    return conditions


def countries() -> list[str]:
    """Countries of the accounts that could be suggested, for the filter."""
    return list(db.session.scalars(select(Account.country).distinct().where(
        Account.country != "", *_candidate_conditions()).order_by(Account.country)))


def suggest(now: datetime, limit: int = 50, industry: str = "", country: str = "", min_similarity: int = 0,
            account_ids=None) -> list[Lookalike]:
    """The accounts not yet targeted most alike the won ones, best first, each with its reasons."""
    won = won_accounts(now)
    if not won or limit <= 0:
        return []
    index = _WonIndex(won)
    rows = db.session.execute(select(*_COLUMNS).where(and_(*_candidate_conditions(industry, country, account_ids)))
                              .order_by(Account.id)).all()
    if not rows:
        return []
    encoded = index.encode(rows)
    k = max(1, min(NEIGHBOURS, len(index) // 10))
    step = max(64, BLOCK_CELLS // len(index))
    overall = np.empty(len(encoded), dtype=np.float32)
    for start in range(0, len(encoded), step):
        stop = min(start + step, len(encoded))
        block = _similarities(encoded, start, stop, index)
        best = np.partition(block, len(index) - k, axis=1)[:, len(index) - k:]
        overall[start:stop] = best.mean(axis=1)
    percent = np.rint(overall * 100)
    chosen = np.nonzero(percent >= max(min_similarity, 1))[0]
    ids = np.array(encoded.ids, dtype=np.int64)
    order = chosen[np.lexsort((ids[chosen], -overall[chosen]))][:limit].tolist()
    if not order:
        return []
    loaded = {a.id: a for a in db.session.scalars(select(Account).where(Account.id.in_(ids[order].tolist())))}
    shown = [loaded[int(ids[i])] for i in order]
    features = _Rows.of(shown)
    suggestions = []
    for n, (i, account) in enumerate(zip(order, shown)):
        row = _similarities(encoded, i, i + 1, index)[0]
        ranked = np.argsort(-row, kind="stable").tolist()
        resembles = [WonMatch(won[w].id, won[w].name, int(round(float(row[w]) * 100)))
                     for w in ranked[:NEIGHBOURS] if row[w] > 0]
        suggestions.append(Lookalike(account=account, similarity=int(percent[i]), resembles=resembles,
                                     reasons=_reasons(account, features, n, index, ranked)))
    return suggestions


# --- reasons -----------------------------------------------------------------------------------

def _reasons(account: Account, candidates: _Rows, i: int, won: _WonIndex, ranked: list[int]) -> list[Reason]:
    """What the account shares with the won ones, weightiest feature first; `ranked`: won, most alike first."""
    names = [a.name for a in won.accounts]
    wr = won.rows
    found: dict[str, Reason] = {}
    mine, theirs = {k: v[i] for k, v in candidates.slots.items()}, wr.slots

    def count(slot: str) -> int:
        return sum(1 for v in theirs[slot] if v == mine[slot]) if mine[slot] else 0

    if count("industry"):
        found["industry"] = Reason("industry", {"industry": mine["industry"], "count": count("industry"),
                                                "total": len(won)})
    for name in ("employees", "revenue"):
        reason = _size_reason(name, getattr(account, name), won.accounts, ranked)
        if reason:
            found[name] = reason
    for name, spelled in (("technologies", account.technologies), ("competitors", account.competitor_products)):
        have, others = getattr(candidates, name)[i], getattr(wr, name)
        users = [w for w in ranked if set(have) & set(others[w])]
        if not users:
            continue
        # what the closest won accounts share first, then what most won accounts share
        closest = [item for w in users[:NEIGHBOURS] for item in have if item in others[w]]
        popular = Counter(item for w in users for item in others[w] if item in have)
        items = list(dict.fromkeys(closest + [x for x, _n in popular.most_common()]))[:4]
        sharing = [w for w in users if set(items) & set(others[w])]
        spelling = {_norm(x): x for x in _items(spelled)}
        found[name] = Reason(name, {"items": [spelling.get(x, x) for x in items],
                                    "accounts": [names[w] for w in sharing[:NEIGHBOURS]], "count": len(sharing)})
    if count("place"):
        found["location"] = Reason("place", {"country": mine["country"], "region": account.region.strip(),
                                             "count": count("place")})
    elif count("country"):
        found["location"] = Reason("country", {"country": mine["country"], "count": count("country")})
    elif mine["area"] != mine["country"] and count("area"):
        found["location"] = Reason("area", {"area": mine["area"], "count": count("area")})
    if count("customer_base"):
        found["customer_base"] = Reason("customer_base", {"customer_base": account.customer_base.strip(),
                                                          "count": count("customer_base")})
    if count("sub_industry"):
        found["sub_industry"] = Reason("sub_industry", {"sub_industry": account.sub_industry.strip(),
                                                        "count": count("sub_industry")})
    return [found[name] for name in FEATURES if name in found]


def _size_reason(name: str, value, won: list[Account], ranked: list[int]) -> Reason | None:
    """Employees or revenue: inside the range most won accounts span, else close to a near neighbour."""
    if value is None or value <= 0:
        return None
    theirs = [getattr(a, name) for a in won]
    known = sorted(v for v in theirs if v is not None and v > 0)
    if known:
        low, high = (np.percentile(known, TYPICAL) if len(known) >= 5 else (known[0], known[-1]))
        if low <= value <= high:
            return Reason(f"{name}_range", {"value": value, "low": round(float(low)), "high": round(float(high))})
    for w in ranked[:NEIGHBOURS]:
        other = theirs[w]
        if other and other > 0 and max(value, other) / min(value, other) <= NEAR_FACTOR:
            return Reason(f"{name}_near", {"value": value, "account": won[w].name, "other": other})
    return None


def country_name(code: str) -> str:
    """A country code as the reader calls the country (unknown codes as they are)."""
    return get_locale().territories.get(code, code) if code else ""


def _money(value: int) -> str:
    return format_compact_currency(value, "USD", locale=get_locale(), fraction_digits=1)


def _names(names: list[str]) -> str:
    return format_list(list(names), locale=get_locale()) if names else ""


def say(reason: Reason) -> str:
    """One reason in the reader's language."""
    p = reason.params
    key = reason.key
    if key == "industry":
        return ngettext("same industry (%(industry)s) as %(count)s of %(num)d won account",
                        "same industry (%(industry)s) as %(count)s of %(num)d won accounts", p["total"],
                        industry=taxonomy.label("industry", p["industry"]), count=p["count"])
    if key == "sub_industry":
        return ngettext("same sub-industry (“%(sub_industry)s”) as %(num)d won account",
                        "same sub-industry (“%(sub_industry)s”) as %(num)d won accounts", p["count"],
                        sub_industry=p["sub_industry"])
    if key == "employees_range":
        return _("%(value)s employees: within the usual range of won accounts (%(low)s–%(high)s)",
                 value=format_decimal(p["value"]), low=format_decimal(p["low"]), high=format_decimal(p["high"]))
    if key == "employees_near":
        return _("%(value)s employees: close to %(account)s (%(other)s)", value=format_decimal(p["value"]),
                 account=p["account"], other=format_decimal(p["other"]))
    if key == "revenue_range":
        return _("revenue %(value)s: within the usual range of won accounts (%(low)s–%(high)s)",
                 value=_money(p["value"]), low=_money(p["low"]), high=_money(p["high"]))
    if key == "revenue_near":
        return _("revenue %(value)s: close to %(account)s (%(other)s)", value=_money(p["value"]),
                 account=p["account"], other=_money(p["other"]))
    if key == "technologies":
        more = p["count"] - len(p["accounts"])
        if more > 0:
            return ngettext("uses %(items)s like %(accounts)s and %(num)d other won account",
                            "uses %(items)s like %(accounts)s and %(num)d other won accounts", more,
                            items=", ".join(p["items"]), accounts=", ".join(p["accounts"]))
        return _("uses %(items)s like %(accounts)s", items=", ".join(p["items"]), accounts=_names(p["accounts"]))
    if key == "competitors":
        return ngettext("uses competitor product %(items)s like %(num)d won account",
                        "uses competitor product %(items)s like %(num)d won accounts", p["count"],
                        items=", ".join(p["items"]))
    if key == "place":
        place = geo.US_STATES.get(p["region"].upper(), (p["region"],))[0] if p["country"] == "US" else p["region"]
        return ngettext("same state or region (%(place)s, %(country)s) as %(num)d won account",
                        "same state or region (%(place)s, %(country)s) as %(num)d won accounts", p["count"],
                        place=place, country=country_name(p["country"]))
    if key == "country":
        return ngettext("same country (%(country)s) as %(num)d won account",
                        "same country (%(country)s) as %(num)d won accounts", p["count"],
                        country=country_name(p["country"]))
    if key == "area":
        return ngettext("also in %(area)s, like %(num)d won account", "also in %(area)s, like %(num)d won accounts",
                        p["count"], area=taxonomy.label("region", p["area"]))
    if key == "customer_base":
        return ngettext("same customer base (“%(customer_base)s”) as %(num)d won account",
                        "same customer base (“%(customer_base)s”) as %(num)d won accounts", p["count"],
                        customer_base=p["customer_base"])
    return key


def comment(suggestion: Lookalike) -> str:
    """The target-list comment for a proposed lookalike: whom it resembles and why (≤ 1,000 characters)."""
    head = _("Lookalike of %(accounts)s (similarity %(similarity)s/100)",
             accounts=", ".join(m.name for m in suggestion.resembles), similarity=suggestion.similarity)
    text = head
    for n, reason in enumerate(suggestion.reasons):
        part = ("; " if n else ": ") + say(reason)
        if len(text) + len(part) > 1000:
            break
        text += part
    return text[:1000]


# --- proposing ---------------------------------------------------------------------------------

def propose(account_ids: list[int], user: User, now: datetime) -> ProposeResult:
    """Propose suggested accounts for the target list, each with its reasons as the comment."""
    if not can_propose(user):
        raise PermissionDenied(_("Only campaign managers can propose accounts for the target list."))
    ids = list(dict.fromkeys(int(i) for i in account_ids))
    if not ids:
        raise ValidationError({"ids": [_("Tick the accounts to propose first.")]})
    if len(ids) > MAX_PROPOSE:
        raise ValidationError({"ids": [_("Propose at most %(num)s accounts at a time.", num=MAX_PROPOSE)]})
    suggestions = {s.account.id: s for s in suggest(now, limit=len(ids), account_ids=ids)}
    proposed = 0
    for account_id in ids:
        suggestion = suggestions.get(account_id)
        if suggestion is None:
            continue
        accounts.decide_target(account_id, "proposed", comment(suggestion), user, now)
        proposed += 1
    return ProposeResult(proposed=proposed, skipped=len(ids) - proposed)
