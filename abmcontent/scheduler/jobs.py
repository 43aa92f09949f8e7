"""The recurring jobs. Each is small, idempotent and safe to run from several processes."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app


def run_imports() -> int:
    from abmcontent import crm_import

    return crm_import.run_queued(datetime.now(timezone.utc), current_app.config["UPLOAD_FOLDER"])


def dispatch_touchpoints() -> int:
    """One dispatcher pass (more dispatchers may run as `flask touchpoints dispatch`)."""
    from abmcontent import dispatch

    return dispatch.dispatch_once(datetime.now(timezone.utc)).claimed


def direct_mail_batches() -> int:
    """Build the print batches the UI started (status building): one PDF and manifest each."""
    from abmcontent import direct_mail

    return direct_mail.build_waiting(current_app.config["PRINT_FOLDER"], datetime.now(timezone.utc))


def send_event_updates() -> int:
    """Changed and cancelled events to everyone invited, once per change."""
    from abmcontent import events

    return events.send_updates(datetime.now(timezone.utc)).claimed


def engagement_alerts() -> int:
    """MQA, surge and senior-stakeholder alerts for accounts with fresh engagement."""
    from abmcontent import alerts

    return alerts.evaluate(datetime.now(timezone.utc)).created


def alert_digests() -> int:
    """Each owner's new alerts by email, in one message (hourly)."""
    from abmcontent import alerts

    return alerts.send_digests(datetime.now(timezone.utc))


def roll_up_kpis() -> int:
    """The KPI dashboard's daily rollups, brought up to the newest events and sends (one roller at a time)."""
    from abmcontent import kpi_rollups

    return kpi_rollups.roll(current_app.config["BABEL_DEFAULT_TIMEZONE"], datetime.now(timezone.utc)).events


def read_account_news() -> int:
    """Accounts' news feeds that are due (each about hourly): new items to the timeline and owners."""
    from abmcontent import news

    return news.read_due(datetime.now(timezone.utc)).claimed


def deliver_webhooks() -> int:
    """Signed webhook deliveries that are due (new events and retries); several schedulers share them."""
    from abmcontent import webhooks

    return webhooks.deliver_due(datetime.now(timezone.utc)).claimed
