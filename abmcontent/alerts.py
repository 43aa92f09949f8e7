"""Alerts to the account owner (issue 6): an account became an MQA, it surges, or a senior
stakeholder engaged. In the app, and by email in a digest.

``evaluate(now)`` looks at the accounts that had human engagement in the last day and writes an
alert per fact, keyed so the fact is told once however often it runs and from however many
processes (a unique key, inserted with the conflict ignored): an MQA once per account, a surge
once per account and week, a senior stakeholder once per person and day. ``send_digests(now)``
emails each owner what they have not been emailed yet, in one message, and marks it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from abmcontent import engagement_scoring, milestones, taxonomy
from abmcontent.extensions import db
from abmcontent.models import Account, Alert, Contact, EngagementEvent, User

SENIOR = ("c_level", "vp")
WINDOW = timedelta(days=1)


def _add(key: str, user_id: int, account_id: int, kind: str, params: dict, now: datetime,
         contact_id: int | None = None) -> bool:
    """Insert an alert unless its key exists; True if it was new. Its own transaction: a
    duplicate from another process only loses that one row."""
    try:
        with db.engine.begin() as conn:
            conn.execute(Alert.__table__.insert().values(
                key=key[:120], user_id=user_id, account_id=account_id, contact_id=contact_id, kind=kind,
                params=params, created_at=now))
        return True
    except IntegrityError:
        return False


def news(owner_id: int, account_id: int, item_id: int, title: str, feed: str, now: datetime) -> bool:
    """A news item about one of the owner's accounts (abmcontent.news); told once per item."""
    return _add(f"news:{item_id}", owner_id, account_id, "news", {"title": title[:300], "feed": feed[:300]}, now)


@dataclass
class Evaluation:
    accounts: int = 0
    created: int = 0


def evaluate(now: datetime) -> Evaluation:
    e = EngagementEvent
    recent = (e.occurred_at > now - WINDOW) & (e.occurred_at <= now) & engagement_scoring.by_people()
    first_seen = select(e.account_id, func.min(e.occurred_at).label("first")) \
        .where(recent, e.account_id.is_not(None)).group_by(e.account_id).subquery()
    rows = db.session.execute(select(Account.id, Account.owner_id, Account.tier, first_seen.c.first)
                              .join(first_seen, first_seen.c.account_id == Account.id)).all()
    report = Evaluation(accounts=len(rows))
    if not rows:
        return report
    config = engagement_scoring.settings()
    ids = [row.id for row in rows]
    scores = engagement_scoring.account_scores(ids, now, config)
    surges = engagement_scoring.surges(ids, now, config)
    milestones.reach("engaged", {row.id: row.first for row in rows})
    milestones.reach("mqa", {row.id: now for row in rows if engagement_scoring.is_mqa(row.tier, scores[row.id], config)},
                     scores, now)
    year, week, _weekday = now.isocalendar()
    for account_id, owner_id, tier, _first in rows:
        if owner_id is None:  # milestones count for the KPIs; alerts need someone to tell
            continue
        score = scores[account_id]
        if engagement_scoring.is_mqa(tier, score, config):
            report.created += _add(f"mqa:{account_id}", owner_id, account_id, "mqa",
                                   {"score": round(score, 1), "tier": tier}, now)
        found = surges[account_id]
        if found.surging:
            report.created += _add(f"surge:{account_id}:{year}-W{week:02d}", owner_id, account_id, "surge",
                                   {"this_week": found.this_week, "usual": found.usual}, now)
    seniors = db.session.execute(
        select(Contact.id, Contact.account_id, Contact.first_name, Contact.last_name, Contact.title,
               func.min(e.type), Account.owner_id)
        .join(e, e.contact_id == Contact.id).join(Account, Account.id == Contact.account_id)
        .where(recent, Contact.seniority.in_(SENIOR), Account.owner_id.is_not(None))
        .group_by(Contact.id, Contact.account_id, Contact.first_name, Contact.last_name, Contact.title,
                  Account.owner_id)).all()
    for contact_id, account_id, first, last, title, kind, owner_id in seniors:
        report.created += _add(f"senior:{contact_id}:{now.date().isoformat()}", owner_id, account_id,
                               "senior_engaged", {"name": f"{first} {last}".strip(), "title": title,
                                                  "event": kind}, now, contact_id)
    db.session.rollback()
    return report


def say(alert: Alert) -> str:
    """The alert in the reader's language."""
    p, name = alert.params or {}, alert.account.name
    if alert.kind == "mqa":
        return _("%(account)s is now a marketing-qualified account (engagement %(score)s, tier %(tier)s).",
                 account=name, score=p.get("score"), tier=p.get("tier"))
    if alert.kind == "surge":
        return _("%(account)s is surging: %(now)s points this week, %(usual)s in a usual week.", account=name,
                 now=p.get("this_week"), usual=p.get("usual"))
    if alert.kind == "news":
        return _("News about %(account)s: %(title)s", account=name, title=p.get("title", ""))
    return _("%(person)s (%(title)s) at %(account)s engaged: %(event)s.", person=p.get("name", ""),
             title=p.get("title", ""), account=name, event=taxonomy.label("event", p.get("event", "")))


def for_user(user: User, limit: int = 100) -> list[Alert]:
    return list(db.session.scalars(select(Alert).where(Alert.user_id == user.id)
                                   .order_by(Alert.id.desc()).limit(limit)))


def unread_count(user: User) -> int:
    return db.session.scalar(select(func.count(Alert.id)).where(Alert.user_id == user.id,
                                                                Alert.read_at.is_(None))) or 0


def mark_read(user: User, now: datetime) -> int:
    done = db.session.execute(update(Alert).where(Alert.user_id == user.id, Alert.read_at.is_(None))
                              .values(read_at=now)).rowcount
    db.session.commit()
    return done


def send_digests(now: datetime) -> int:
    """One email per owner with every alert not yet emailed; how many emails went. An alert is
    marked emailed only after its message was accepted (a mail failure leaves it for next time)."""
    from email.mime.text import MIMEText
    from email.utils import format_datetime, formataddr

    from abmcontent.channels.email import Transport

    pending = db.session.scalars(select(Alert).where(Alert.emailed_at.is_(None)).order_by(Alert.user_id, Alert.id)
                                 .limit(5000)).all()
    by_user: dict[int, list[Alert]] = {}
    for alert in pending:
        by_user.setdefault(alert.user_id, []).append(alert)
    transport, sent = Transport(current_app.config["MAIL_URL"]), 0
    base = (current_app.config.get("BASE_URL") or "").rstrip("/")
    try:
        for user_id, items in by_user.items():
            user = db.session.get(User, user_id)
            if user is None or not user.email:
                continue
            with force_locale(getattr(user, "locale", None) or "en"):
                lines = [f"- {say(a)}" + (f"\n  {base}/accounts/{a.account_id}" if base else "") for a in items]
                subject = _("abmcontent: %(num)s new alerts", num=len(items))
                body = _("New since your last digest:") + "\n\n" + "\n".join(lines) + "\n"
            message = MIMEText(body, "plain", "utf-8")
            message["Subject"] = subject
            message["From"] = current_app.config["MAIL_FROM"]
            message["To"] = formataddr((getattr(user, "name", "") or "", user.email), charset="utf-8")
            message["Date"] = format_datetime(now)
            message["Message-ID"] = f"<digest-{user_id}-{items[-1].id}@abmcontent.local>"
            try:
                transport.send(message, user.email)
            except Exception:  # noqa: BLE001 - the mail server's trouble: these stay for the next run
                current_app.logger.exception("alert digest to %s failed", user.email)
                continue
            db.session.execute(update(Alert).where(Alert.id.in_([a.id for a in items])).values(emailed_at=now))
            db.session.commit()
            sent += 1
    finally:
        transport.close()
    return sent


# --- hand-off: sales accepts or rejects an MQA ------------------------------------------------------

HANDOFF_STATUSES = ("accepted", "rejected")


def decide(account_id: int, status: str, reason: str, user: User, now: datetime):
    """The account's owner (or a campaign manager) accepts the MQA, or rejects it with a reason
    marketing can act on. Each decision is kept; the newest is in force."""
    from abmcontent import accounts as accounts_module
    from abmcontent.errors import NotFound, PermissionDenied, ValidationError
    from abmcontent.models import Handoff

    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound(_("That account does not exist."))
    if not accounts_module.can_qualify(user, account):
        raise PermissionDenied(_("Only the account's owner or a campaign manager can accept or reject it."))
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if status not in HANDOFF_STATUSES:
        errors["status"] = [_("Accept or reject the account.")]
    if status == "rejected" and not reason:
        errors["reason"] = [_("Say why, so marketing can do better: e.g. no budget this year, wrong contact.")]
    if len(reason) > 1000 or "\x00" in reason:
        errors["reason"] = [_("Keep the reason under 1,000 characters.")]
    if errors:
        raise ValidationError(errors)
    score = engagement_scoring.account_scores([account.id], now)[account.id]
    decision = Handoff(account_id=account.id, status=status, reason=reason, score=round(score, 1),
                       user_id=user.id, at=now)
    db.session.add(decision)
    db.session.commit()
    return decision


def handoffs(account_id: int | None = None, limit: int = 200) -> list:
    """Decisions, newest first: one account's history, or everyone's for marketing."""
    from abmcontent.models import Handoff

    query = select(Handoff).order_by(Handoff.at.desc(), Handoff.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(Handoff.account_id == account_id)
    return list(db.session.scalars(query))


def acceptance(since: datetime) -> dict[str, int]:
    """How many MQAs sales accepted and rejected since a date (each account's newest decision)."""
    from abmcontent.models import Handoff

    newest = select(Handoff.account_id, func.max(Handoff.id).label("id")).where(Handoff.at >= since) \
        .group_by(Handoff.account_id).subquery()
    rows = db.session.execute(select(Handoff.status, func.count()).join(newest, newest.c.id == Handoff.id)
                              .group_by(Handoff.status)).all()
    return {status: 0 for status in HANDOFF_STATUSES} | dict(rows)
