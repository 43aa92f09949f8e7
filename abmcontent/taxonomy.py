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

TARGET_LABELS = {"proposed": _l("Proposed"), "agreed": _l("Agreed"), "rejected": _l("Rejected")}

BANT_LABELS = {"budget": _l("Budget"), "authority": _l("Authority"), "need": _l("Need"),
               "timeline": _l("Timeline")}
BANT_STATUS_LABELS = {"unknown": _l("Unknown"), "confirmed": _l("Confirmed"), "partial": _l("Partly"),
                      "missing": _l("Not there")}
CONTEXT_LABELS = {"goals": _l("Goals"), "plans": _l("Plans"), "challenges": _l("Challenges"),
                  "stakes": _l("Stakes"), "timeline": _l("Timeline")}
REGION_LABELS = {
    "US-NORTHEAST": _l("US Northeast"), "US-MIDWEST": _l("US Midwest"), "US-SOUTH": _l("US South"),
    "US-WEST": _l("US West"), "US-CONTINENTAL": _l("Continental US"), "US": _l("United States"),
    "NORTH-AMERICA": _l("North America"), "EU": _l("European Union"), "GB": _l("United Kingdom"),
    "APAC": _l("Asia-Pacific"), "KR": _l("South Korea"), "JP": _l("Japan"),
}


ICP_ATTRIBUTE_LABELS = {
    "industry": _l("Industry"), "revenue": _l("Annual revenue"), "employees": _l("Employees"),
    "region": _l("Region"), "technologies": _l("Technologies used"),
    "competitor_products": _l("Competitor products used"),
}


IMPORT_STATUS_LABELS = {"queued": _l("Queued"), "running": _l("Running"), "done": _l("Done"),
                        "failed": _l("Failed"), "needs_mapping": _l("Needs a column mapping")}


SENIORITY_LABELS = {"c_level": _l("C-level"), "vp": _l("Vice president"), "director": _l("Director"),
                    "manager": _l("Manager"), "staff": _l("Individual contributor")}
AUTHORITY_LABELS = {"decision_maker": _l("Decision maker"), "influencer": _l("Influencer"),
                    "user": _l("User"), "blocker": _l("Blocker")}


IMPORT_FIELD_LABELS = {
    "name": _l("Company name"), "domain": _l("Domain"), "website": _l("Website"),
    "industry": _l("Industry"), "sub_industry": _l("Sub-industry"), "revenue": _l("Annual revenue"),
    "employees": _l("Employees"), "city": _l("City"), "region": _l("State / province"),
    "country": _l("Country"), "owner": _l("Owner (email or name)"), "technologies": _l("Technologies used"),
    "competitor_products": _l("Competitor products used"), "customer_base": _l("Customer base"),
    "tier": _l("Tier"), "journey_stage": _l("Journey stage"), "lost": _l("Lost account"),
    "deal_size": _l("Estimated deal size"), "external_id": _l("CRM record id"),
    "first_name": _l("First name"), "last_name": _l("Last name"), "full_name": _l("Full name"),
    "email": _l("Email"), "phone": _l("Phone"), "title": _l("Job title"), "seniority": _l("Seniority"),
    "persona": _l("Persona"), "buying_authority": _l("Buying role"), "language": _l("Language"),
    "timezone": _l("Time zone"), "street": _l("Street address"), "postal_code": _l("Postal code"),
    "account_name": _l("Company name"), "account_domain": _l("Company domain"),
    "unsubscribed": _l("Unsubscribed from email"), "consent_email": _l("Agreed to marketing email"),
    "account_external_id": _l("CRM company id"), "hq_location": _l("Headquarters (city, state)"),
}


SECTION_LABELS = {
    "hero": _l("Hero"), "recommended": _l("Recommended assets"), "case_study": _l("Case study"),
    "owner_card": _l("Account owner's card"), "cta": _l("Call to action"), "gated_form": _l("Gated-asset form"),
}
VARIANT_LABELS = {"personalized": _l("Personalized"), "control": _l("Control (generic page)"),
                  "": _l("Anonymous")}
RULE_LABELS = {"token": _l("Personalized link"), "cookie": _l("Returning visitor (cookie)"),
               "ip": _l("Company network (IP range)"), "email_domain": _l("Form email domain"),
               "utm": _l("Industry from the link's utm_ parameter"), "anonymous": _l("Anonymous")}
ENROLLMENT_LABELS = {"active": _l("Active"), "paused": _l("Paused"), "cancelled": _l("Cancelled"),
                     "stopped": _l("Stopped")}
CHANNEL_LABELS = {"email": _l("Email"), "event": _l("Event invitation"), "direct_mail": _l("Direct mail"),
                  "sales_task": _l("Sales task"), "ad_audience": _l("Ad audience")}
TOUCHPOINT_LABELS = {"planned": _l("Planned"), "claimed": _l("Sending"), "sent": _l("Sent"),
                     "failed": _l("Failed"), "skipped": _l("Skipped"), "missed": _l("Missed"),
                     "cancelled": _l("Cancelled")}
TASK_LABELS = {"open": _l("Open"), "done": _l("Done"), "skipped": _l("Skipped")}
EVENT_LABELS = {"page_view": _l("Page view"), "time_on_page": _l("Time on page"),
                "asset_open": _l("Asset opened"), "asset_download": _l("Asset downloaded"),
                "cta_click": _l("Call to action clicked"), "form_fill": _l("Form filled"),
                "meeting_booked": _l("Meeting booked"), "reply": _l("Replied"),
                "email_open": _l("Email opened"), "email_click": _l("Email link clicked"),
                "event_registered": _l("Registered for an event"), "event_declined": _l("Declined an event"),
                "event_attended": _l("Attended an event")}
MAIL_FORMAT_LABELS = {"letter": _l("Letter"), "postcard": _l("Postcard")}
DEAL_STAGE_LABELS = {"qualification": _l("Qualification"), "discovery": _l("Discovery"),
                     "proposal": _l("Proposal"), "negotiation": _l("Negotiation"),
                     "closed_won": _l("Closed won"), "closed_lost": _l("Closed lost")}


def region_options() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in REGION_LABELS.items()]


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
        "role": ROLE_LABELS, "target": TARGET_LABELS, "bant": BANT_LABELS,
        "bant_status": BANT_STATUS_LABELS, "context": CONTEXT_LABELS, "region": REGION_LABELS,
        "icp_attribute": ICP_ATTRIBUTE_LABELS, "import_status": IMPORT_STATUS_LABELS,
        "seniority": SENIORITY_LABELS, "authority": AUTHORITY_LABELS,
        "import_field": IMPORT_FIELD_LABELS, "section": SECTION_LABELS, "variant": VARIANT_LABELS,
        "rule": RULE_LABELS, "event": EVENT_LABELS, "enrollment": ENROLLMENT_LABELS, "channel": CHANNEL_LABELS,
        "touchpoint": TOUCHPOINT_LABELS, "task": TASK_LABELS, "mail_format": MAIL_FORMAT_LABELS,
        "deal_stage": DEAL_STAGE_LABELS,
    }[kind]
    found = table.get(value)
    return str(found) if found is not None else value.replace("_", " ").capitalize()
