"""APScheduler as the clock (DESIGN.md decision 1): a few recurring jobs, state in the database.

`flask scheduler run` is its own process; `flask serve` (the demo) may embed it.
Never started by create_app or in web workers. Jobs have fixed ids and
replace_existing, so restarting any number of times leaves one of each.
"""
from __future__ import annotations

import importlib
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

log = logging.getLogger(__name__)

# id → (textual reference, seconds between runs)
RECURRING = {
    "run_imports": ("abmcontent.scheduler.jobs:run_imports", 2),
    "dispatch_touchpoints": ("abmcontent.scheduler.jobs:dispatch_touchpoints", 5),
    "direct_mail_batches": ("abmcontent.scheduler.jobs:direct_mail_batches", 10),
    "event_updates": ("abmcontent.scheduler.jobs:send_event_updates", 30),
    "engagement_alerts": ("abmcontent.scheduler.jobs:engagement_alerts", 60),
    "alert_digests": ("abmcontent.scheduler.jobs:alert_digests", 3600),
    "account_news": ("abmcontent.scheduler.jobs:read_account_news", 300),
    "kpi_rollups": ("abmcontent.scheduler.jobs:roll_up_kpis", 60),
    "deliver_webhooks": ("abmcontent.scheduler.jobs:deliver_webhooks", 10),
}


def run_in_app(app: Flask, reference: str) -> None:
    """Run one job function inside the app's context; a failing run is logged, never fatal."""
    module_name, _, name = reference.partition(":")
    job = getattr(importlib.import_module(module_name), name)
    with app.app_context():
        try:
            job()
        except Exception:  # the next run tries again
            log.exception("scheduled job %s failed", reference)
            from abmcontent.extensions import db

            db.session.rollback()


def configure(scheduler, app: Flask):
    for job_id, (reference, seconds) in RECURRING.items():
        scheduler.add_job(run_in_app, "interval", seconds=seconds, args=[app, reference], id=job_id,
                          replace_existing=True, max_instances=1, coalesce=True)
    return scheduler


def start_background(app: Flask) -> BackgroundScheduler:
    scheduler = configure(BackgroundScheduler(timezone="UTC"), app)
    scheduler.start()
    return scheduler


def run_blocking(app: Flask) -> None:
    configure(BlockingScheduler(timezone="UTC"), app).start()
