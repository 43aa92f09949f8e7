"""Demo data: a user per role, sample accounts with stakeholders, and the starter library.

Idempotent: loading twice changes nothing the first load made.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from abmcontent import content_sync, users
from abmcontent.extensions import db
from abmcontent.models import Account, Contact, User

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = (
    ("admin@abmcontent.demo", "admin", "Ada Admin", "+1 415 555 0100"),
    ("marketer@abmcontent.demo", "marketer", "Mina Marketer", "+1 415 555 0101"),
    ("campaign@abmcontent.demo", "campaign", "Carlos Campaign", "+1 415 555 0102"),
    ("sales@abmcontent.demo", "sales", "Sam Seller", "+1 415 555 0103"),
)
DEMO_ACCOUNTS = (
    {"name": "Harborview Bank", "domain": "harborviewbank.example", "industry": "financials",
     "city": "Boston", "country": "United States", "contacts": [
         ("Priya", "Raman", "priya.raman@harborviewbank.example", "Chief Financial Officer", "economic_buyer"),
         ("Tom", "Becker", "tom.becker@harborviewbank.example", "Head of Data Architecture", "technical_evaluator"),
         ("Lena", "Ortiz", "lena.ortiz@harborviewbank.example", "Director of Analytics", "champion"),
     ]},
    {"name": "St. Aurelia Health", "domain": "staurelia.example", "industry": "health_care",
     "city": "Minneapolis", "country": "United States", "contacts": [
         ("Marcus", "Hill", "marcus.hill@staurelia.example", "CIO", "economic_buyer"),
         ("Grace", "Liu", "grace.liu@staurelia.example", "Clinical Data Analyst", "end_user"),
     ]},
    {"name": "한빛정밀", "domain": "hanbit-precision.example", "industry": "industrials",
     "city": "창원", "country": "대한민국", "contacts": [
         ("지훈", "김", "jihoon.kim@hanbit-precision.example", "데이터플랫폼팀장", "technical_evaluator"),
         ("서연", "박", "seoyeon.park@hanbit-precision.example", "구매팀 과장", "procurement"),
     ]},
)


@dataclass
class DemoReport:
    users_created: int
    accounts_created: int
    contacts_created: int
    content: content_sync.SyncReport


def load(content_folder: str, now: datetime) -> DemoReport:
    created_users = 0
    for email, role, name, phone in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.email == email)) is None:
            users.create_user(email, role, DEMO_PASSWORD, now, name=name, phone=phone)
            created_users += 1
    owner = db.session.scalar(select(User).where(User.email == "sales@abmcontent.demo"))
    created_accounts = created_contacts = 0
    for spec in DEMO_ACCOUNTS:
        account = db.session.scalar(select(Account).where(Account.domain == spec["domain"]))
        if account is None:
            account = Account(name=spec["name"], domain=spec["domain"], industry=spec["industry"],
                              city=spec["city"], country=spec["country"], owner=owner)
            db.session.add(account)
            created_accounts += 1
        for first, last, email, title, persona in spec["contacts"]:
            if db.session.scalar(select(Contact.id).where(Contact.email == email)) is None:
                language = "ko" if spec["country"] == "대한민국" else "en"
                db.session.add(Contact(account=account, first_name=first, last_name=last, email=email,
                                       title=title, persona=persona, language=language))
                created_contacts += 1
    db.session.commit()
    report = content_sync.sync(content_folder, now)
    return DemoReport(created_users, created_accounts, created_contacts, report)
