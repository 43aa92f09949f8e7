"""All models, imported so Alembic and the app see every table."""
from abmcontent.models.alerts import ALERT_KINDS, Alert, Handoff
from abmcontent.models.api import TOKEN_SCOPES, ApiToken
from abmcontent.models.accounts import (TARGET_STATUSES, Account, AccountDomain, Consent, Contact,
                                        TargetDecision)
from abmcontent.models.deals import CLOSED_STAGES, DEAL_STAGES, OPEN_STAGES, Deal
from abmcontent.models.icp import IcpCriterion, IcpSettings
from abmcontent.models.imports import ImportJob, ImportMapping
from abmcontent.models.direct_mail import MAIL_FORMATS, DirectMailBatch, DirectMailPiece
from abmcontent.models.events import EVENT_STATUSES, REGISTRATION_STATUSES, Event, EventRegistration
from abmcontent.models.engagement import EVENT_TYPES, EngagementEvent, ScoringSettings
from abmcontent.models.kpis import MILESTONES, SPEND_CATEGORIES, SPEND_PROGRAMS, AccountMilestone, Spend
from abmcontent.models.kpi_rollups import (KpiAccountDay, KpiAccountMonth, KpiDay, KpiEmail, KpiLeadDay, KpiRollupGap,
                                           KpiRollupState)
from abmcontent.models.landing import LandingPage, LandingSection
from abmcontent.models.plans import (CHANNELS, TOUCHPOINT_STATUSES, Enrollment, Plan, PlanStep, SalesTask,
                                     Suppression, Touchpoint, TouchpointTransition, TrackedLink)
from abmcontent.models.library import Asset, AssetFile, AssetRevision, AssetTag, AssetTransition
from abmcontent.models.news import FEED_STATUSES, AccountFeed, NewsItem
from abmcontent.models.users import ROLES, User
from abmcontent.models.visitors import PersonalUrl
from abmcontent.models.webhooks import (DELIVERY_STATUSES, WEBHOOK_EVENTS, WebhookAttempt, WebhookDelivery,
                                        WebhookEndpoint)

__all__ = [
    "ALERT_KINDS", "Alert", "Handoff", "TOKEN_SCOPES", "ApiToken",
    "DELIVERY_STATUSES", "WEBHOOK_EVENTS", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint",
    "TARGET_STATUSES", "Account", "AccountDomain", "Consent", "Contact", "TargetDecision",
    "IcpCriterion", "IcpSettings", "ImportJob", "ImportMapping",
    "Asset", "AssetFile", "AssetRevision", "AssetTag", "AssetTransition", "ROLES", "User", "PersonalUrl",
    "EVENT_TYPES", "EngagementEvent", "ScoringSettings", "LandingPage", "LandingSection",
    "CHANNELS", "TOUCHPOINT_STATUSES", "Enrollment", "Plan", "PlanStep", "Suppression", "Touchpoint",
    "TouchpointTransition", "SalesTask", "TrackedLink",
    "MAIL_FORMATS", "DirectMailBatch", "DirectMailPiece",
    "EVENT_STATUSES", "REGISTRATION_STATUSES", "Event", "EventRegistration",
    "CLOSED_STAGES", "DEAL_STAGES", "OPEN_STAGES", "Deal",
    "MILESTONES", "SPEND_CATEGORIES", "SPEND_PROGRAMS", "AccountMilestone", "Spend",
    "KpiAccountDay", "KpiAccountMonth", "KpiDay", "KpiEmail", "KpiLeadDay", "KpiRollupGap", "KpiRollupState",
    "FEED_STATUSES", "AccountFeed", "NewsItem",
]
