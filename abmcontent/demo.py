"""Demo data: a user per role, sample accounts with stakeholders, and the starter library.

Idempotent: loading twice changes nothing the first load made.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from pathlib import Path

from abmcontent import accounts, content_sync, crm_import, users
from abmcontent.extensions import db
from abmcontent.models import Account, AccountDomain, Contact, User

SP500_FILE = Path(__file__).resolve().parent / "demo_data" / "sp500_constituents.csv"

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = (
    ("admin@abmcontent.demo", "admin", "Ada Admin", "+1 415 555 0100"),
    ("marketer@abmcontent.demo", "marketer", "Mina Marketer", "+1 415 555 0101"),
    ("campaign@abmcontent.demo", "campaign", "Carlos Campaign", "+1 415 555 0102"),
    ("sales@abmcontent.demo", "sales", "Sam Seller", "+1 415 555 0103"),
)
DEMO_ACCOUNTS = (
    {"name": "Harborview Bank", "domains": ["harborviewbank.example"], "industry": "financials",
     "sub_industry": "Regional Banks", "city": "Boston", "region": "MA", "country": "US",
     "address": ("1 Federal Street, 20th floor", "02110"),
     "revenue": 1_400_000_000, "employees": 5200, "technologies": ["Teradata", "Tableau"],
     "competitor_products": ["Snowflake"], "journey_stage": "consideration", "deal_size": 850_000,
     "ip_ranges": ["198.51.100.0/24"], "target": "agreed",
     "bant": {"budget": {"status": "partial", "note": "FY27 data modernisation line item, not yet approved"},
              "authority": {"status": "confirmed", "note": "CFO sponsors; CIO signs"},
              "need": {"status": "confirmed", "note": "Teradata renewal in 14 months"},
              "timeline": {"status": "partial", "note": "Decision before Q3"}},
     "goals": "Close the books two days faster; one source of truth for regulatory reporting.",
     "plans": "Retire the Teradata appliance before its 2027 renewal.",
     "challenges": "Data migration risk during month-end; legacy ETL nobody fully understands.",
     "stakes": "A failed close delays filings; the CFO has promised the board a faster close.",
     "timeline": "Vendor shortlist by March, pilot in Q2, decision before Q3.",
     "contacts": [
         ("Priya", "Raman", "priya.raman@harborviewbank.example", "Chief Financial Officer", "economic_buyer", "c_level"),
         ("Tom", "Becker", "tom.becker@harborviewbank.example", "Head of Data Architecture", "technical_evaluator", "director"),
         ("Lena", "Ortiz", "lena.ortiz@harborviewbank.example", "Director of Analytics", "champion", "director"),
     ]},
    {"name": "St. Aurelia Health", "domains": ["staurelia.example"], "industry": "health_care",
     "sub_industry": "Health Care Facilities", "city": "Minneapolis", "region": "MN", "country": "US",
     "address": ("800 Nicollet Mall", "55402"),
     "revenue": 3_100_000_000, "employees": 14000, "technologies": ["Oracle Exadata"],
     "journey_stage": "awareness", "target": "proposed",
     "goals": "Unify clinical and operational reporting under one governance model.",
     "challenges": "PHI scattered across 40 systems; audit findings on data access.",
     "contacts": [
         ("Marcus", "Hill", "marcus.hill@staurelia.example", "CIO", "economic_buyer", "c_level"),
         ("Grace", "Liu", "grace.liu@staurelia.example", "Clinical Data Analyst", "end_user", "staff"),
     ]},
    {"name": "한빛정밀", "domains": ["hanbit-precision.example"], "industry": "industrials",
     "sub_industry": "자동차 부품", "city": "창원", "region": "경남", "country": "KR",
     "address": ("성산구 창원대로 1144", "51538"),
     "revenue": 420_000_000, "employees": 1800, "technologies": ["Netezza"],
     "journey_stage": "decision", "target": "agreed",
     "goals": "공장 품질 데이터를 실시간으로 분석해 불량률을 낮추는 것.",
     "challenges": "노후한 Netezza 장비, 야간 배치로 인한 하루 지연.",
     "contacts": [
         ("지훈", "김", "jihoon.kim@hanbit-precision.example", "데이터플랫폼팀장", "technical_evaluator", "manager"),
         ("서연", "박", "seoyeon.park@hanbit-precision.example", "구매팀 과장", "procurement", "manager"),
     ]},
    {"name": "Northwind Outfitters", "domains": ["northwind-outfitters.example"],
     "industry": "consumer_discretionary", "sub_industry": "Apparel Retail", "city": "Portland",
     "region": "OR", "country": "US", "address": ("1200 NW Naito Parkway", "97209"), "revenue": 650_000_000, "employees": 3100,
     "technologies": ["Teradata"], "journey_stage": "decision", "lost": True,
     "challenges": "Chose a competitor in 2025 on price; their contract renews next year.",
     "contacts": [
         ("Dana", "Kim", "dana.kim@northwind-outfitters.example", "VP Merchandising Analytics", "champion", "vp"),
     ]},
)


@dataclass
class DemoReport:
    users_created: int
    accounts_created: int
    contacts_created: int
    content: content_sync.SyncReport


def load(content_folder: str, now: datetime, upload_folder: str) -> DemoReport:
    created_users = 0
    for email, role, name, phone in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.email == email)) is None:
            users.create_user(email, role, DEMO_PASSWORD, now, name=name, phone=phone)
            created_users += 1
    owner = db.session.scalar(select(User).where(User.email == "sales@abmcontent.demo"))
    campaign = db.session.scalar(select(User).where(User.email == "campaign@abmcontent.demo"))
    created_accounts = created_contacts = 0
    for spec in DEMO_ACCOUNTS:
        if db.session.get(AccountDomain, spec["domains"][0]) is not None:
            continue
        details = {k: spec.get(k, default) for k, default in (
            ("sub_industry", ""), ("revenue", None), ("employees", None), ("technologies", []),
            ("competitor_products", []), ("journey_stage", "awareness"), ("lost", False),
            ("deal_size", None), ("ip_ranges", []))}
        account = accounts.save_firmographics(None, accounts.Firmographics(
            name=spec["name"], domains=spec["domains"], industry=spec["industry"], city=spec["city"],
            region=spec["region"], country=spec["country"], owner_id=owner.id, **details), campaign, now)
        accounts.update_qualification(account.id, spec.get("bant", {}), {
            k: spec.get(k, "") for k in accounts.CONTEXT_KEYS}, campaign, now)
        if spec.get("target"):
            accounts.decide_target(account.id, "proposed", "Strong ICP fit and an active project.", campaign, now)
            if spec["target"] == "agreed":
                accounts.decide_target(account.id, "agreed", "Agreed in the weekly pipeline review.", owner, now)
        created_accounts += 1
        for first, last, email, title, persona, seniority in spec["contacts"]:
            if db.session.scalar(select(Contact.id).where(Contact.email == email)) is None:
                street, postal_code = spec["address"]  # the office they work at: where letters go
                db.session.add(Contact(account=account, first_name=first, last_name=last, email=email,
                                       title=title, persona=persona, seniority=seniority,
                                       language="ko" if spec["country"] == "KR" else "en",
                                       street=street, city=spec["city"], region=spec["region"],
                                       postal_code=postal_code, country=spec["country"],
                                       created_at=now, updated_at=now))
                created_contacts += 1
    db.session.commit()
    if not db.session.scalar(select(Account.id).where(Account.source == SP500_FILE.name).limit(1)):
        job = crm_import.create_job("accounts", SP500_FILE.name, SP500_FILE.read_bytes(), campaign, now,
                                    upload_folder)
        crm_import.run_job(crm_import.claim_next() or job.id, now, upload_folder)
        created_accounts += crm_import.get_job(job.id).report.get("added", 0)
    report = content_sync.sync(content_folder, now)
    _landing_pages(db.session.scalar(select(User).where(User.email == "marketer@abmcontent.demo")), now)
    from abmcontent import plans

    plans.install_templates(None, now)
    _event_and_plan(campaign, now)
    _results(owner, now)
    return DemoReport(created_users, created_accounts, created_contacts, report)


def _results(owner: User, now: datetime) -> None:
    """Four months of what the results page shows: people engaging at the target accounts (and
    a few others), first engagement and MQA dates, deals won, lost and open, and monthly spend.
    Fixed by a seeded random generator, so every demo looks the same; added once."""
    import random
    from datetime import date, timedelta

    from abmcontent.models import AccountMilestone, Deal, EngagementEvent, Spend

    if db.session.scalar(select(Deal.id).limit(1)) is not None:
        return
    rng = random.Random(6)
    targets = list(db.session.scalars(select(Account).where(Account.target_status == "agreed").order_by(Account.id)))
    others = list(db.session.scalars(select(Account).where(Account.target_status.is_(None))
                                     .order_by(Account.id).limit(12)))
    kinds = ["page_view"] * 6 + ["time_on_page"] * 5 + ["asset_open"] * 2 + ["email_open"] * 3 + \
        ["email_click", "form_fill", "cta_click", "meeting_booked"]
    events, milestones = [], []
    for account, busy in [(a, 40) for a in targets] + [(a, 6) for a in others]:
        people = [c.id for c in account.contacts] or [None]
        times = sorted(now - timedelta(days=rng.random() * 120, hours=rng.random() * 8) for _ in range(busy))
        for n, when in enumerate(times):
            kind = rng.choice(kinds)
            events.append(EngagementEvent(key=f"demo{account.id:06d}{n:04d}".ljust(32, "0"), type=kind, occurred_at=when,
                                          account_id=account.id, contact_id=rng.choice(people),
                                          value=rng.uniform(20, 300) if kind == "time_on_page" else None,
                                          channel="email" if kind.startswith("email") else "web"))
        milestones.append(AccountMilestone(account_id=account.id, kind="engaged", reached_at=times[0]))
        if busy > 10:
            milestones.append(AccountMilestone(account_id=account.id, kind="mqa", reached_at=times[len(times) // 3]))
    today = now.date()
    deals = []
    for n, account in enumerate(targets + others[:4]):
        created = today - timedelta(days=150 - 20 * n)
        stage, closed, reason = [("closed_won", created + timedelta(days=60), "Chose us for month-end close speed"),
                                 ("closed_lost", created + timedelta(days=45), "Budget moved to next fiscal year"),
                                 ("proposal", None, ""), ("discovery", None, "")][n % 4]
        if closed and closed > today:
            stage, closed, reason = "negotiation", None, ""
        deals.append(Deal(account_id=account.id, name=f"{account.name} — data platform", stage=stage,
                          amount=rng.randrange(60, 400) * 1000, created_on=created,
                          proposal_sent_on=created + timedelta(days=20) if stage != "discovery" else None,
                          meetings=rng.randrange(1, 6), closed_on=closed, close_reason=reason, owner_id=owner.id,
                          created_at=now, updated_at=now))
    spends = []
    month = date(today.year, today.month, 1)
    for _ in range(6):
        for program, category, amount in (("abm", "content", 6000), ("abm", "advertising", 4000),
                                          ("abm", "contact_discovery", 1500), ("general", "advertising", 12000),
                                          ("general", "content", 3000)):
            spends.append(Spend(program=program, category=category, month=month, amount=amount, created_at=now))
        month = (month - timedelta(days=1)).replace(day=1)
    db.session.add_all(events + milestones + deals + spends)
    db.session.commit()
    from flask import current_app

    from abmcontent import kpi_rollups

    kpi_rollups.roll(current_app.config["BABEL_DEFAULT_TIMEZONE"], now)  # the results page reads them


DEMO_EVENT = "Data leaders roundtable: closing the books faster"


def _event_and_plan(campaign: User, now: datetime) -> None:
    """An executive roundtable four weeks out, invited to by the tier-1 template, and that plan
    started for the agreed target accounts, so the calendar, the outbox and the print queue fill
    as the embedded scheduler runs."""
    from datetime import timedelta

    from flask import current_app

    from abmcontent import events, plans
    from abmcontent.models import Event, Plan

    event = db.session.scalar(select(Event).where(Event.title == DEMO_EVENT))
    if event is None:
        day = (now + timedelta(days=28)).date()
        event = events.create_event(events.EventInput(
            title=DEMO_EVENT, timezone="America/New_York", capacity="40",
            description="Finance and data leaders from regional banks and insurers compare how they moved "
                        "month-end reporting off legacy warehouses. Breakfast from 8:30.",
            starts_at=f"{day}T09:00", ends_at=f"{day}T11:30",
            location="The Langham, 250 Franklin Street, Boston, MA"), campaign, now, current_app.config["MAIL_FROM"])
    tier1 = db.session.scalar(select(Plan).where(Plan.name.like("Tier 1 executive%")))
    if tier1 is None:
        return
    for step in tier1.steps:
        if step.channel == "event" and step.event_id is None:
            step.event_id = event.id
    db.session.commit()
    agreed = list(db.session.scalars(select(Account.id).where(Account.target_status == "agreed", Account.tier == 1)))
    if agreed:
        plans.apply(tier1.id, agreed, now, campaign, now)


DEMO_PAGES = (
    ("data-platform", "Data platform for target accounts", "en", "data-governance-blueprint"),
    ("data-platform-ko", "타깃 고객사용 데이터 플랫폼", "ko", "migration-checklist-ko"),
)


def _landing_pages(marketer: User, now: datetime) -> None:
    """One published landing page per language, with a gated form for a published whitepaper."""
    from abmcontent import landing
    from abmcontent.models import Asset, LandingPage

    for slug, title, language, gated_slug in DEMO_PAGES:
        if db.session.scalar(select(LandingPage.id).where(LandingPage.slug == slug)) is not None:
            continue
        page = landing.create_page(landing.PageInput(title=title, slug=slug, language=language), marketer, now)
        asset = db.session.scalar(select(Asset).where(Asset.slug == gated_slug, Asset.status == "published"))
        if asset is not None:
            section = landing.add_section(page.id, "gated_form", marketer, now)
            settings = landing.default_settings("gated_form", language)
            landing.update_section(page.id, section.id, {
                "heading": settings["heading"], "asset_id": str(asset.id), "button": settings["button"],
                "consent_text": settings["consent_text"]}, marketer, now)
        landing.set_status(page.id, "published", marketer, now)
