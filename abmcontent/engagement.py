"""What prospects did: an account's engagement timeline, read from the events tracking stores."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from abmcontent.extensions import db
from abmcontent.models import Asset, Contact, EngagementEvent, LandingPage
from abmcontent.models.engagement import CONSUMED_TYPES


def consumed_assets(contact_id: int | None = None, account_id: int | None = None) -> frozenset[int]:
    """Assets a contact (else an account) already opened, downloaded or got through a form."""
    if contact_id is not None:
        who = EngagementEvent.contact_id == contact_id
    elif account_id is not None:
        who = EngagementEvent.account_id == account_id
    else:
        return frozenset()
    return frozenset(db.session.scalars(select(EngagementEvent.asset_id).where(
        who, EngagementEvent.type.in_(CONSUMED_TYPES), EngagementEvent.asset_id.is_not(None)).distinct()))


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    type: str
    who: str            # the contact's name, or "" when only the company is known
    asset: str          # the asset's title, if the event was about one
    page: str           # the landing page's title, if it happened on one
    seconds: float | None
    variant: str
    machine: str = ""   # why a proxy or a link scanner made it, not a person (abmcontent.machines)
    title: str = ""     # type "news": the headline, plain text (abmcontent.news)
    link: str = ""      # type "news": where it was published, http(s) only
    source: str = ""    # type "news": the feed it came from


def timeline(account_id: int, limit: int = 25, news: bool = True) -> list[TimelineItem]:
    """The newest events of an account, and news about it, newest first, with names instead of ids."""
    rows = db.session.execute(
        select(EngagementEvent.occurred_at, EngagementEvent.type, Contact.first_name, Contact.last_name,
               Asset.title, LandingPage.title, EngagementEvent.value, EngagementEvent.variant, EngagementEvent.machine)
        .outerjoin(Contact, Contact.id == EngagementEvent.contact_id)
        .outerjoin(Asset, Asset.id == EngagementEvent.asset_id)
        .outerjoin(LandingPage, LandingPage.id == EngagementEvent.landing_page_id)
        .where(EngagementEvent.account_id == account_id)
        .order_by(EngagementEvent.occurred_at.desc(), EngagementEvent.id.desc()).limit(limit))
    items = [TimelineItem(at, type_, f"{first or ''} {last or ''}".strip(), asset or "", page or "", value,
                          variant, machine)
             for at, type_, first, last, asset, page, value, variant, machine in rows]
    if not news:
        return items
    from abmcontent import news as account_news

    items += [TimelineItem(account_news.shown_at(n), "news", "", "", "", None, "", title=n.title, link=n.link,
                           source=account_news.feed_name(n.feed))
              for n in account_news.items_for(account_id, limit)]
    return sorted(items, key=lambda item: item.at, reverse=True)[:limit]  # stable: ties keep their order


def events(account_id: int | None = None, contact_id: int | None = None, type: str = "",
           since: datetime | None = None):
    """Engagement events matching every filter given, as a statement to page: newest first."""
    e = EngagementEvent
    query = select(e)
    if account_id is not None:
        query = query.where(e.account_id == account_id)
    if contact_id is not None:
        query = query.where(e.contact_id == contact_id)
    if type:
        query = query.where(e.type == type)
    if since is not None:
        query = query.where(e.occurred_at >= since)
    return query.order_by(e.occurred_at.desc(), e.id.desc())
