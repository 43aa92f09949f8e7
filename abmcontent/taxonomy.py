"""The marketer's vocabulary: journey stages, personas, asset types, industries, statuses.

Stages and personas are ordered and configurable (JOURNEY_STAGES / PERSONAS settings);
their labels are translated here so every page shows the same words.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

STAGE_LABELS = {
    "awareness": _l("Awareness"),
    "consideration": _l("Consideration"),
    "decision": _l("Decision"),
    "onboarding": _l("Onboarding & retention"),
    "expansion": _l("Expansion & advocacy"),
}

PERSONA_LABELS = {
    "economic_buyer": _l("Economic buyer"),
    "technical_evaluator": _l("Technical evaluator"),
    "end_user": _l("End user"),
    "champion": _l("Champion"),
    "procurement": _l("Procurement"),
}

ASSET_TYPES = {
    "article": _l("Article"),
    "case_study": _l("Case study"),
    "whitepaper": _l("Whitepaper"),
    "webinar": _l("Webinar"),
    "roi_calculator": _l("ROI calculator"),
    "event": _l("Event"),
    "letter": _l("Letter"),
    "email": _l("Email"),
}

# GICS sectors: the classification CRM exports and the S&P 500 list use.
INDUSTRIES = {
    "communication_services": _l("Communication services"),
    "consumer_discretionary": _l("Consumer discretionary"),
    "consumer_staples": _l("Consumer staples"),
    "energy": _l("Energy"),
    "financials": _l("Financials"),
    "health_care": _l("Health care"),
    "industrials": _l("Industrials"),
    "information_technology": _l("Information technology"),
    "materials": _l("Materials"),
    "real_estate": _l("Real estate"),
    "utilities": _l("Utilities"),
}

STATUSES = {
    "draft": _l("Draft"),
    "review": _l("In review"),
    "published": _l("Published"),
    "archived": _l("Archived"),
}

CONTENT_LANGUAGES = {"en": _l("English"), "ko": _l("Korean")}

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "marketer": _l("Content marketer"),
    "campaign": _l("Campaign manager"),
    "sales": _l("Sales"),
}

TAG_KINDS = ("stage", "persona", "industry")


def stages() -> tuple[str, ...]:
    return tuple(current_app.config["JOURNEY_STAGES"])


def personas() -> tuple[str, ...]:
    return tuple(current_app.config["PERSONAS"])


def tag_values(kind: str) -> tuple[str, ...]:
    if kind == "stage":
        return stages()
    if kind == "persona":
        return personas()
    if kind == "industry":
        return tuple(INDUSTRIES)
    raise KeyError(kind)


def label(kind: str, value: str) -> str:
    """The translated label of a vocabulary value; unknown values show as they are."""
    table = {
        "stage": STAGE_LABELS, "persona": PERSONA_LABELS, "industry": INDUSTRIES,
        "type": ASSET_TYPES, "status": STATUSES, "language": CONTENT_LANGUAGES,
        "role": ROLE_LABELS,
    }[kind]
    found = table.get(value)
    return str(found) if found is not None else value.replace("_", " ").capitalize()
