"""Content matching: rank published assets for an account, a contact (or persona) and a journey stage.

One call, ``Index.recommend(request, now)``, scores every published asset in an in-memory index
and returns the best few, each with the reasons it was picked. The index is built once per
library change (``index_for_app`` caches it per process); a query is pure CPU.

Scoring (weights are the constants below):

* Hard filters: only published assets are indexed; ``request.exclude`` (assets the contact or
  account already consumed) is never returned.
* Stage fit: the asset has the requested stage → +STAGE_WEIGHT (3.0); it has a stage one step
  before or after it in the journey order → +ADJACENT_STAGE_WEIGHT (1.0); otherwise 0.
* Persona fit: tagged with the requested persona → +PERSONA_WEIGHT (2.0); tagged for no persona
  (written for everyone) → +PERSONA_ANY_WEIGHT (0.5), so it is not penalised; other personas only → 0.
* Industry fit: tagged with the account's industry → +INDUSTRY_WEIGHT (1.5); no industry tag
  (any industry) → +INDUSTRY_ANY_WEIGHT (0.5); other industries only → 0 (a bank case study for
  a hospital).
* Text relevance: BM25 (k1=1.2, b=0.75, Lucene's always-positive IDF) of all context fields
  (goals, challenges, ...) taken together as the query against each asset's title, summary and
  body; divided by the best BM25 score among this query's candidates (so 0–1), × TEXT_WEIGHT (3.0).
  Repeated query terms count once per occurrence.
* Freshness: + FRESH_WEIGHT (0.5) × exp(-age_days / FRESH_DAYS (180)), age from published_at
  (updated_at when never published); a date in the future counts as age 0.

An asset *fits* when it fits the requested stage (exact or adjacent) and the requested persona
(matching or untagged); without a stage or persona request that part always fits. Ranking
tiers, before score:

1. fitting assets in the requested language (all fitting assets when no language is asked for);
2. fitting assets in another language — the fallback when nothing (or too little) in the
   language fits; they carry a "language" reason saying so;
3. assets in the requested language that do not fit (they can still rank, but lower; those
   fitting the stage or the persona before those fitting neither).

Assets in another language that do not fit are never returned.

Diversity: within those tiers results are picked greedily; each asset whose type was already
picked n times competes with score × DIVERSITY_DECAY (0.7) ** n. If the list still came out
all one type while an asset of another type with a positive score is available, the last pick
is swapped for the best such asset. ``Recommendation.score`` is the asset's own score (rounded to
3 decimals, the sum its reasons explain); the list order is the recommendation order. Ties are
broken by asset id.

Each recommendation's reasons (kind: stage, persona, industry, text, language, fresh) are short
English sentences ordered by what they contributed, largest first; a text reason names the
context field and the 1–3 consecutive words of it that matched the asset most, quoted as written:
"matches 'data migration' in the account's challenges".

Tokens: NFKC, lower case; Latin/digit words of 2+ characters minus a small English stop-word
list, with light suffix stemming; Hangul and Han runs as overlapping character bigrams, so
"마이그레이션이" matches "마이그레이션을".

Speed: everything per document is kept in fixed point, 64 bits per document, and a whole
vector of them is packed into one Python integer, so adding (or scaling) a vector for every
document is one C-level big-integer operation. BM25 term weights are precomputed at build time:
terms in many documents as such packed vectors, rare terms as a dict of document → weight; the
stage, persona and industry fits are packed vectors per value; freshness is one packed vector
scaled per call. A query adds its terms' vectors, walks its rare terms' postings, unpacks the
keys once and takes the top few of each (language, type) group.
"""
from __future__ import annotations

import heapq
import math
import re
import sys
import threading
import unicodedata
import weakref
from array import array
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from abmcontent import taxonomy

if TYPE_CHECKING:  # pragma: no cover
    from abmcontent.models import Account, Contact

STAGE_WEIGHT = 3.0
ADJACENT_STAGE_WEIGHT = 1.0
PERSONA_WEIGHT = 2.0
PERSONA_ANY_WEIGHT = 0.5
INDUSTRY_WEIGHT = 1.5
INDUSTRY_ANY_WEIGHT = 0.5
TEXT_WEIGHT = 3.0
FRESH_WEIGHT = 0.5
FRESH_DAYS = 180.0
DIVERSITY_DECAY = 0.7
BM25_K1 = 1.2
BM25_B = 0.75

# A text reason is given when relevance added at least this much to the score.
TEXT_REASON_MIN = 0.3
# A quoted phrase may grow to a neighbouring word only if that word matched at least this
# share of the phrase's best word (so a weak common word is not dragged into the quote).
PHRASE_EDGE_SHARE = 0.25
PHRASE_MAX_WORDS = 3
# A freshness reason is given for assets at most this old.
FRESH_REASON_DAYS = 90
# Terms in at least this share of documents (and at least DENSE_MIN_DF of them) keep their
# weights packed in one big integer, 64 bits per document: adding a term to the scores is one
# C-level big-integer addition instead of a Python loop over its postings.
DENSE_SHARE = 1 / 16
DENSE_MIN_DF = 32

# Scores are computed in fixed point, 64 bits per document, so that whole vectors of them can
# be packed into one Python integer and added (or scaled) in a single C-level operation.
_BM25_SCALE = float(1 << 24)  # a BM25 term weight w is stored as round(w × 2**24)
_FRESH_SCALE = float(1 << 24)  # freshness before its per-call factor
_KEY_SCALE = float(1 << 52)  # a ranking key: score × 2**52 (scores stay below 16 → 56 bits) ...
_FIT_SHIFT = 57
_FIT_UNIT = 1 << _FIT_SHIFT  # ... plus 2**57 per requested stage/persona the asset fits
_SCORE_MASK = _FIT_UNIT - 1
_SECONDS_PER_DAY = 86400.0
_KIND_ORDER = {"stage": 0, "persona": 1, "industry": 2, "text": 3, "language": 4, "fresh": 5}


# --- data --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """An asset as matching sees it; built once per library change."""

    id: int
    slug: str
    title: str
    type: str
    language: str
    stages: frozenset[str]
    personas: frozenset[str]
    industries: frozenset[str]
    summary: str
    fresh_at: datetime  # published_at, or updated_at when never published


@dataclass(frozen=True)
class Reason:
    kind: str  # stage, persona, industry, text, language, fresh
    text: str  # short, English (logs, the CLI, the API)
    key: str = ""  # which sentence, for the UI to say it in the reader's language (see web.reasons)
    params: tuple[tuple[str, str], ...] = ()  # its values: taxonomy keys, the quote, a number

    @property
    def args(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True)
class Recommendation:
    asset_id: int
    slug: str
    title: str
    type: str
    score: float
    reasons: tuple[Reason, ...]
    summary: str = ""


@dataclass(frozen=True)
class Request:
    stage: str | None = None
    persona: str | None = None
    industry: str | None = None
    language: str | None = None
    context: dict[str, str] = field(default_factory=dict)  # e.g. {"goals": ..., "challenges": ...}
    exclude: frozenset[int] = frozenset()  # asset ids already consumed by the contact/account
    limit: int = 5
    types: frozenset[str] = frozenset()  # only these asset types (e.g. case_study); empty: any


CONTEXT_FIELDS = ("goals", "plans", "challenges", "stakes", "timeline")


def request_for(account: "Account", contact: "Contact | None" = None, *, stage: str | None = None,
                exclude: Iterable[int] = (), limit: int = 5) -> Request:
    """The request for an account (and optionally one of its contacts): its journey stage,
    industry and written context; the contact's persona and language."""
    return Request(
        stage=stage or account.journey_stage or None,
        persona=(contact.persona or None) if contact is not None else None,
        industry=account.industry or None,
        language=(contact.language or None) if contact is not None else None,
        context={name: getattr(account, name) for name in CONTEXT_FIELDS
                 if (getattr(account, name) or "").strip()},
        exclude=frozenset(exclude), limit=limit,
    )


# --- tokens ------------------------------------------------------------------------------------

_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3"
_HAN = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT = re.compile(rf"([{_HANGUL}]+)|([{_HAN}]+)|([^\W_{_HANGUL}{_HAN}]+)")

STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be been before being below between
both but by can could did do does doing down during each few for from further had has have
having he her here hers him his how i if in into is it its itself just me more most my no nor
not of off on once only or other our ours out over own same she should so some such than that
the their theirs them then there these they this those through to too under until up us very
was we were what when where which while who whom why will with would you your yours
""".split())


def _stem(word: str) -> str:
    """Light, deterministic suffix stripping: plurals, -ing, -ed, a final -e."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith(("ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    stripped = False
    if word.endswith("ing") and len(word) >= 6:
        word, stripped = word[:-3], True
    elif word.endswith("ed") and len(word) >= 5 and not word.endswith("eed"):
        word, stripped = word[:-2], True
    if stripped and len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # planning → plan
    if word.endswith("e") and len(word) > 3 and not word.endswith("ee"):
        word = word[:-1]  # migrate, migrated, migrating → migrat
    return word


_latin_terms: dict[str, str] = {}  # word as written → term ("" for a stop word); a memo


def _latin_term(word: str) -> str:
    term = _latin_terms.get(word)
    if term is None:
        lower = word.lower()
        term = "" if len(lower) < 2 or lower in STOP_WORDS else _stem(lower)
        if len(_latin_terms) > 200_000:  # a memo, not a vocabulary: stay bounded
            _latin_terms.clear()
        _latin_terms[word] = term
    return term


# One word of a text: (start, end, ((term, start, end), ...)); stop words have no terms.
_Unit = tuple[int, int, tuple[tuple[str, int, int], ...]]


def _units(text: str) -> list[_Unit]:
    """The words of an NFKC-normalised text with their terms and character spans."""
    units: list[_Unit] = []
    for m in _UNIT.finditer(text):
        start, end = m.span()
        latin = m.group(3)
        if latin is not None:
            term = _latin_term(latin)
            terms = ((term, start, end),) if term else ()
        else:
            run = m.group().lower()
            if len(run) == 1:
                terms = ((run, start, end),)
            else:
                terms = tuple((run[i:i + 2], start + i, start + i + 2) for i in range(len(run) - 1))
        units.append((start, end, terms))
    return units


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def tokenize(text: str) -> list[str]:
    """Lower-cased NFKC terms: stemmed Latin/digit words without stop words; CJK as bigrams."""
    out: list[str] = []
    for hangul, han, latin in _UNIT.findall(_normal(text)):
        if latin:
            term = _latin_term(latin)
            if term:
                out.append(term)
        else:
            run = (hangul or han).lower()
            if len(run) == 1:
                out.append(run)
            else:
                out.extend([run[i:i + 2] for i in range(len(run) - 1)])
    return out


# --- labels ------------------------------------------------------------------------------------

_LABEL_TABLES = {"stage": taxonomy.STAGE_LABELS, "persona": taxonomy.PERSONA_LABELS,
                 "industry": taxonomy.INDUSTRIES, "language": taxonomy.CONTENT_LANGUAGES}
_english_labels: dict[tuple[str, str], str] = {}


def english_label(kind: str, value: str) -> str:
    """The English label of a vocabulary value, whatever the current request's locale."""
    key = (kind, value)
    found = _english_labels.get(key)
    if found is None:
        lazy = _LABEL_TABLES[kind].get(value)
        if lazy is None:
            found = value.replace("_", " ").capitalize()
        else:
            from flask import has_app_context
            if has_app_context():
                from flask_babel import force_locale
                with force_locale("en"):
                    found = str(lazy)
            else:
                found = str(lazy)
        _english_labels[key] = found
    return found


def _default_stage_order() -> tuple[str, ...]:
    from flask import has_app_context
    if has_app_context():
        return taxonomy.stages()
    return tuple(taxonomy.STAGE_LABELS)


def _timestamp(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# --- the index ---------------------------------------------------------------------------------

@dataclass
class _Pick:
    tier: int
    fitted: int  # how many of the requested stage and persona the asset fits
    score: float
    asset_id: int
    doc: int
    type: str
    in_language: bool


class Index:
    """An in-memory BM25 index over published assets. Build once (e.g. cached per process,
    rebuilt when the library changes); query is pure CPU."""

    def __init__(self) -> None:  # use Index.build
        self._docs: list[Candidate] = []
        self._n = 0
        self._position: dict[int, int] = {}
        self._groups: dict[tuple[str, str], list[int]] = {}  # (language, type) → documents
        self._stage_order: tuple[str, ...] = ()
        # term → BM25 weights (× _BM25_SCALE): a dict document → weight, or a packed integer
        self._postings: dict[str, dict[int, int] | int] = {}
        # per document: its term ids (sorted) and frequencies, for the weights a reason quotes
        self._term_ids: dict[str, int] = {}
        self._idf: list[float] = []
        self._norms: list[float] = []
        self._forward: list[tuple[array, array]] = []
        self._stamps: list[float] = []
        self._fresh_ref = 0.0
        self._fresh_base: list[float] = []
        self._fresh_packed = 0  # exp((fresh_at - newest) / FRESH_DAYS) × _FRESH_SCALE, packed
        self._tags: dict[tuple[str, str], int] = {}  # (kind, value) → packed fit per document
        self._fields_mask = 0  # all n fields set
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    @classmethod
    def build(cls, candidates: Iterable[Candidate], texts: Mapping[int, str],
              stage_order: Sequence[str] | None = None) -> "Index":
        """texts: asset id → full text (title + summary + body) for BM25; an asset without one is
        matched on its title and summary. stage_order: the journey order adjacency is read from
        (default: the app's JOURNEY_STAGES, or taxonomy's order outside an app)."""
        index = cls()
        unique = {c.id: c for c in candidates}
        docs = [unique[i] for i in sorted(unique)]
        n = len(docs)
        index._docs, index._n = docs, n
        index._fields_mask = (1 << (64 * n)) - 1
        index._position = {c.id: i for i, c in enumerate(docs)}
        index._stage_order = tuple(stage_order) if stage_order is not None else _default_stage_order()
        for i, c in enumerate(docs):
            index._groups.setdefault((c.language.lower(), c.type), []).append(i)
        if n == 0:
            return index

        counts: list[Counter] = []
        for c in docs:
            text = texts.get(c.id)
            counts.append(Counter(tokenize(f"{c.title}\n{c.summary}" if text is None else text)))
        lengths = [sum(tf.values()) for tf in counts]
        avgdl = (sum(lengths) / n) or 1.0
        index._norms = norms = [BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl) for dl in lengths]
        by_term: dict[str, dict[int, int]] = {}
        for d, tf in enumerate(counts):
            for term, f in tf.items():
                by_term.setdefault(term, {})[d] = f
        dense_df = max(DENSE_MIN_DF, math.ceil(n * DENSE_SHARE))
        k1p = BM25_K1 + 1
        for term, docs_tf in by_term.items():
            df = len(docs_tf)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            index._term_ids[term] = len(index._idf)
            index._idf.append(idf)
            weights = {d: round(idf * f * k1p / (f + norms[d]) * _BM25_SCALE) for d, f in docs_tf.items()}
            if df >= dense_df:
                fields = array("Q", bytes(8 * n))
                for d, w in weights.items():
                    fields[d] = w
                index._postings[term] = _pack(fields)
            else:
                index._postings[term] = weights
        term_ids = index._term_ids
        for tf in counts:
            pairs = sorted((term_ids[term], f) for term, f in tf.items())
            index._forward.append((array("I", [t for t, _f in pairs]), array("I", [f for _t, f in pairs])))

        index._stamps = [_timestamp(c.fresh_at) for c in docs]
        index._fresh_ref = max(index._stamps)
        day = FRESH_DAYS * _SECONDS_PER_DAY
        index._fresh_base = [math.exp((s - index._fresh_ref) / day) for s in index._stamps]
        index._fresh_packed = _pack(array("Q", [round(b * _FRESH_SCALE) for b in index._fresh_base]))
        for kind, values in (("stage", set(index._stage_order).union(*(c.stages for c in docs))),
                             ("persona", set().union(*(c.personas for c in docs))),
                             ("industry", set().union(*(c.industries for c in docs)))):
            for value in sorted(values):
                index._tag_fit(kind, value)
        return index

    # fit per tag value, precomputed as packed keys

    def _adjacent(self, stage: str) -> frozenset[str]:
        order = self._stage_order
        if stage not in order:
            return frozenset()
        i = order.index(stage)
        return frozenset(order[j] for j in (i - 1, i + 1) if 0 <= j < len(order))

    def _fit(self, kind: str, c: Candidate, value: str) -> float:
        if kind == "stage":
            if value in c.stages:
                return STAGE_WEIGHT
            return ADJACENT_STAGE_WEIGHT if c.stages & self._adjacent(value) else 0.0
        if kind == "persona":
            if value in c.personas:
                return PERSONA_WEIGHT
            return 0.0 if c.personas else PERSONA_ANY_WEIGHT
        if value in c.industries:
            return INDUSTRY_WEIGHT
        return 0.0 if c.industries else INDUSTRY_ANY_WEIGHT

    def _tag_fit(self, kind: str, value: str) -> int:
        """Every document's fit for one stage, persona or industry as packed ranking keys; a
        stage or persona fit also adds _FIT_UNIT, so a key counts how many of them it fits."""
        found = self._tags.get((kind, value))
        if found is None:
            unit = 0 if kind == "industry" else _FIT_UNIT
            fields = array("Q")
            for c in self._docs:
                fit = self._fit(kind, c, value)
                fields.append(round(fit * _KEY_SCALE) + unit if fit > 0 else 0)
            found = _pack(fields)
            with self._lock:
                if len(self._tags) > 1024:  # values no asset has, asked for: keep the memo bounded
                    self._tags.clear()
                self._tags[(kind, value)] = found
        return found

    def _fresh(self, now: datetime) -> int:
        """Every document's freshness at `now`, packed; one big-integer multiplication."""
        factor = FRESH_WEIGHT * math.exp(-(_timestamp(now) - self._fresh_ref) / (FRESH_DAYS * _SECONDS_PER_DAY))
        if factor <= FRESH_WEIGHT:
            return self._fresh_packed * round(factor * (_KEY_SCALE / _FRESH_SCALE))
        # some dates lie ahead of `now`: they count as brand new, not fresher
        return _pack(array("Q", [round(min(FRESH_WEIGHT, factor * b) * _KEY_SCALE) for b in self._fresh_base]))

    # text

    def _bm25_parts(self, query: Counter) -> tuple[int, list[tuple[dict[int, int], int]]]:
        """The query's dense terms summed as one packed integer (one C-level addition per term),
        and its rare terms' postings with their counts in the query."""
        packed, sparse = 0, []
        for term, q in query.items():
            posting = self._postings.get(term)
            if posting is None:
                continue
            if type(posting) is int:
                packed += posting if q == 1 else posting * q
            else:
                sparse.append((posting, q))
        return packed, sparse

    def _weights(self, terms: Iterable[str], docs: Sequence[int]) -> dict[int, dict[str, float]]:
        """The BM25 weight of each term in each of a few documents (from the forward index)."""
        ids = [(term, self._term_ids[term]) for term in terms if term in self._term_ids]
        k1p = BM25_K1 + 1
        out: dict[int, dict[str, float]] = {}
        for d in docs:
            doc_terms, doc_tfs = self._forward[d]
            size, norm, found = len(doc_terms), self._norms[d], {}
            for term, tid in ids:
                j = bisect_left(doc_terms, tid)
                if j < size and doc_terms[j] == tid:
                    f = doc_tfs[j]
                    found[term] = self._idf[tid] * f * k1p / (f + norm)
            out[d] = found
        return out

    # the query

    def recommend(self, request: Request, now: datetime) -> list[Recommendation]:
        limit = request.limit
        n = self._n
        if n == 0 or limit <= 0:
            return []
        language = (request.language or "").lower() or None
        excluded = sorted({self._position[i] for i in request.exclude if i in self._position})

        # Ranking keys, packed (64 bits per document) until the end: fresh + fits + text.
        packed = self._fresh(now)
        required = 0  # how many of stage and persona were asked for: an asset fits all of them
        for kind, value in (("stage", request.stage), ("persona", request.persona),
                            ("industry", request.industry)):
            if value:
                packed += self._tag_fit(kind, value)
                required += kind != "industry"

        context = []  # (field, text, words, distinct terms of each word)
        for name, value in request.context.items():
            text = _normal(value)
            if text.strip():
                units = _units(text)
                context.append((name, text, units,
                                [tuple(dict.fromkeys(t for t, _s, _e in terms)) for _s, _e, terms in units]))
        query = Counter(term for _n, _t, units, _d in context for _s, _e, terms in units
                        for term, _ts, _te in terms)

        bm25, text_factor, multiplier = None, 0.0, 0
        dense, sparse = self._bm25_parts(query) if query else (0, [])
        if dense or sparse:
            bm25 = _unpack(dense, n) if dense else array("Q", bytes(8 * n))
            for posting, q in sparse:
                for d, w in posting.items():
                    bm25[d] += w * q
            for d in excluded:  # consumed assets take no part in the best score
                bm25[d] = 0
            best = max(bm25)
            if best > 0:
                text_factor = TEXT_WEIGHT / best
                multiplier = round(TEXT_WEIGHT * _KEY_SCALE / best)
                # Every field stays below 3 × 2**52, except an excluded asset's that scored above
                # `best`: it may overflow its 64 bits, carrying a negligible amount (< 1e-7 of a
                # point) into its neighbour; it is zeroed below, and the mask drops a carry
                # out of the last field.
                packed += dense * multiplier
        keys = _unpack(packed & self._fields_mask, n)
        if multiplier:
            for posting, q in sparse:
                qm = q * multiplier
                for d, w in posting.items():
                    keys[d] += w * qm
        for d in excluded:
            keys[d] = 0

        # The best of each (language, type) group by key, tiered, then kept per type.
        skip = set(excluded)
        take = limit + len(excluded)
        by_type: dict[str, list[_Pick]] = {}
        for (group_language, group_type), members in self._groups.items():
            if request.types and group_type not in request.types:
                continue
            in_language = language is None or group_language == language
            for d in heapq.nlargest(take, members, key=keys.__getitem__):
                if d in skip:
                    continue
                k = keys[d]
                fitted = k >> _FIT_SHIFT
                if fitted == required:
                    tier = 0 if in_language else 1
                elif in_language:
                    tier = 2
                else:
                    continue  # another language and no fit: never a fallback
                by_type.setdefault(group_type, []).append(
                    _Pick(tier, fitted, (k & _SCORE_MASK) / _KEY_SCALE, self._docs[d].id, d,
                          group_type, in_language))
        for picks in by_type.values():
            picks.sort(key=lambda p: (p.tier, -p.fitted, -p.score, p.asset_id))
            del picks[limit:]

        chosen = self._diverse(by_type, limit)
        text_scores = {p.doc: bm25[p.doc] * text_factor for p in chosen} if text_factor else {}
        shown = [d for d, score in text_scores.items() if score >= TEXT_REASON_MIN]
        weights = self._weights(query, shown) if shown else {}
        return [self._recommendation(p, request, language, context, text_scores, weights, now)
                for p in chosen]

    @staticmethod
    def _diverse(by_type: dict[str, list[_Pick]], limit: int) -> list[_Pick]:
        heads = {t: 0 for t in by_type}
        picked_per_type: Counter = Counter()
        chosen: list[_Pick] = []
        while len(chosen) < limit:
            best, best_rank = None, None
            for t, at in heads.items():
                picks = by_type[t]
                if at >= len(picks):
                    continue
                p = picks[at]
                rank = (p.tier, -p.fitted, -(p.score * DIVERSITY_DECAY ** picked_per_type[t]), p.asset_id)
                if best_rank is None or rank < best_rank:
                    best, best_rank = p, rank
            if best is None:
                break
            chosen.append(best)
            heads[best.type] += 1
            picked_per_type[best.type] += 1
        if len(chosen) > 1 and len(picked_per_type) == 1:
            only = chosen[0].type
            others = [picks[0] for t, picks in by_type.items() if t != only and picks and picks[0].score > 0]
            if others:
                chosen[-1] = min(others, key=lambda p: (p.tier, -p.fitted, -p.score, p.asset_id))
        return chosen

    # reasons

    def _recommendation(self, pick: _Pick, request: Request, language: str | None, context,
                        text_scores: dict[int, float], weights: dict[int, dict[str, float]],
                        now: datetime) -> Recommendation:
        c = self._docs[pick.doc]
        reasons: list[tuple[float, Reason]] = []
        if request.stage:
            fit = self._fit("stage", c, request.stage)
            wanted = english_label("stage", request.stage)
            if fit == STAGE_WEIGHT:
                reasons.append((fit, Reason("stage", f"stage: {wanted}", "stage", (("stage", request.stage),))))
            elif fit:
                near = next(s for s in self._stage_order if s in c.stages and s in self._adjacent(request.stage))
                reasons.append((fit, Reason("stage", f"stage: {english_label('stage', near)} (next to {wanted})", "stage_near",
                                                   (("stage", near), ("wanted", request.stage)))))
        if request.persona:
            fit = self._fit("persona", c, request.persona)
            if fit == PERSONA_WEIGHT:
                reasons.append((fit, Reason("persona", f"persona: {english_label('persona', request.persona)}",
                                                     "persona", (("persona", request.persona),))))
            elif fit:
                reasons.append((fit, Reason("persona", "persona: any", "persona_any")))
        if request.industry:
            fit = self._fit("industry", c, request.industry)
            if fit == INDUSTRY_WEIGHT:
                reasons.append((fit, Reason("industry", f"industry: {english_label('industry', request.industry)}",
                                                      "industry", (("industry", request.industry),))))
            elif fit:
                reasons.append((fit, Reason("industry", "industry: any", "industry_any")))
        if weights and pick.doc in weights:
            phrase = _phrase(weights[pick.doc], context)
            if phrase is not None:
                quote, name = phrase
                reasons.append((text_scores[pick.doc],
                                Reason("text", f"matches '{quote}' in the account's {name.replace('_', ' ')}",
                                       "text", (("quote", quote), ("field", name)))))
        if language is not None and not pick.in_language:
            reasons.append((0.0, Reason("language", f"language: {english_label('language', c.language)} "
                                                    f"(nothing in {english_label('language', language)} fits)",
                                        "language", (("language", c.language), ("wanted", language)))))
        age_days = max(0.0, (_timestamp(now) - self._stamps[pick.doc]) / _SECONDS_PER_DAY)
        if age_days <= FRESH_REASON_DAYS:
            fresh = FRESH_WEIGHT * math.exp(-age_days / FRESH_DAYS)
            days = int(age_days)
            reasons.append((fresh, Reason("fresh", "fresh: new today", "fresh_today") if days == 0 else
                            Reason("fresh", f"fresh: {days} day{'s' if days != 1 else ''} old", "fresh_days",
                                   (("days", str(days)),))))
        reasons.sort(key=lambda r: (-r[0], _KIND_ORDER[r[1].kind]))
        return Recommendation(asset_id=c.id, slug=c.slug, title=c.title, type=c.type,
                              score=round(pick.score, 3), reasons=tuple(r for _w, r in reasons),
                              summary=c.summary)


def _phrase(weights: Mapping[str, float], context) -> tuple[str, str] | None:
    """The 1–3 consecutive context words that matched one asset most (the sum of their terms'
    BM25 weights in it), quoted as written, and the context field they are in; on a tie the
    earliest. A phrase's end words must each match at least PHRASE_EDGE_SHARE of its strongest
    word (a word's strength is its strongest term's weight, so a long Korean word does not
    drown a short one)."""
    best, best_total = None, 0.0
    get = weights.get
    edge = PHRASE_EDGE_SHARE
    for field_no, (_name, _text, _units, distinct) in enumerate(context):
        scores, strengths = [], []  # per word: its terms' weights summed, and its strongest term's
        for terms in distinct:
            if len(terms) == 1:
                w = get(terms[0], 0.0)
                scores.append(w)
                strengths.append(w)
            elif terms:
                ws = [get(t, 0.0) for t in terms]
                scores.append(sum(ws))
                strengths.append(max(ws))
            else:
                scores.append(0.0)
                strengths.append(0.0)
        count = len(scores)
        for first in range(count):
            first_strength = strengths[first]
            if first_strength <= 0:
                continue
            total = scores[first]
            if total > best_total:
                best, best_total = (field_no, first, first), total
            top = first_strength
            for last in range(first + 1, min(first + PHRASE_MAX_WORDS, count)):
                strength = strengths[last]
                total += scores[last]
                if strength > top:
                    top = strength
                if strength <= 0 or first_strength < edge * top or strength < edge * top:
                    continue
                if total > best_total:
                    best, best_total = (field_no, first, last), total
    if best is None:
        return None
    field_no, first, last = best
    name, text, units, _distinct = context[field_no]
    start = next(s for term, s, _e in units[first][2] if get(term, 0.0) > 0)
    end = [e for term, _s, e in units[last][2] if get(term, 0.0) > 0][-1]
    return text[start:end], name


def _pack(fields: array) -> int:
    """64-bit fields (document 0 lowest) as one big integer: adding two adds every field at once."""
    if sys.byteorder == "big":
        fields = array("Q", fields)
        fields.byteswap()
    return int.from_bytes(fields.tobytes(), "little")


def _unpack(packed: int, n: int) -> array:
    fields = array("Q", packed.to_bytes(8 * n, "little"))
    if sys.byteorder == "big":
        fields.byteswap()
    return fields


# --- the database side -------------------------------------------------------------------------

_MERGE_FIELD = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_LINK_TARGET = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _indexable(text: str) -> str:
    """Body text without merge fields ({{ account.name }}) and link targets."""
    return _LINK_TARGET.sub(r"\1", _MERGE_FIELD.sub(" ", text or ""))


def candidates_from_db() -> tuple[list[Candidate], dict[int, str]]:
    """Published assets as candidates, with their full text; two queries, no ORM objects."""
    from sqlalchemy import select

    from abmcontent.extensions import db
    from abmcontent.models import Asset, AssetTag

    published = Asset.status == "published"
    tags: dict[int, dict[str, set[str]]] = {}
    for asset_id, kind, value in db.session.execute(
            select(AssetTag.asset_id, AssetTag.kind, AssetTag.value)
            .join(Asset, Asset.id == AssetTag.asset_id).where(published)):
        tags.setdefault(asset_id, {}).setdefault(kind, set()).add(value)
    candidates, texts = [], {}
    rows = db.session.execute(
        select(Asset.id, Asset.slug, Asset.title, Asset.type, Asset.language, Asset.summary,
               Asset.body, Asset.published_at, Asset.updated_at).where(published).order_by(Asset.id))
    for asset_id, slug, title, type_, language, summary, body, published_at, updated_at in rows:
        own = tags.get(asset_id, {})
        candidates.append(Candidate(
            id=asset_id, slug=slug, title=title, type=type_, language=language or "",
            stages=frozenset(own.get("stage", ())), personas=frozenset(own.get("persona", ())),
            industries=frozenset(own.get("industry", ())), summary=summary or "",
            fresh_at=published_at or updated_at))
        texts[asset_id] = f"{title}\n{summary or ''}\n{_indexable(body)}"
    return candidates, texts


# engine → (signature, index): one entry per live app database, gone with its engine (a test's
# fresh app never sees the index of an earlier database that happens to look the same)
_cache: "weakref.WeakKeyDictionary[object, tuple[tuple, Index]]" = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def library_signature() -> tuple:
    """What changes whenever the library does: the version number that database triggers bump on
    every write to assets or their tags (migration 0006); one primary-key read."""
    from sqlalchemy import text

    from abmcontent.extensions import db

    return (db.session.execute(text("SELECT n FROM library_version WHERE id = 1")).scalar(),)


def index_for_app() -> Index:
    """The process-wide Index of the current app's database, rebuilt when the library version
    changed (checked on every call, so never stale)."""
    from abmcontent.extensions import db

    engine = db.engine
    signature = library_signature()
    cached = _cache.get(engine)
    if cached is not None and cached[0] == signature:
        return cached[1]
    with _cache_lock:  # one thread rebuilds; the others wait for its index rather than build too
        cached = _cache.get(engine)
        if cached is not None and cached[0] == signature:
            return cached[1]
        candidates, texts = candidates_from_db()
        index = Index.build(candidates, texts)
        _cache[engine] = (signature, index)
        return index
