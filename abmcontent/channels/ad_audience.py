"""Ad audiences: an ad-audience touchpoint puts its account on the plan's audience, exported as
a company list in the layout ad platforms take for company matching (LinkedIn's Matched
Audiences company template: name, website domain, email domain, page URL, ticker, industry,
city, state, country, postal code)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from abmcontent import taxonomy
from abmcontent.channels import Outcome
from abmcontent.extensions import db
from abmcontent.models import Account, Enrollment, Touchpoint

HEADERS = ["companyname", "companywebsitedomain", "companyemaildomain", "linkedincompanypageurl", "stocksymbol",
           "industry", "city", "state", "companycountry", "zipcode"]


class AdAudienceChannel:
    name = "ad_audience"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def deliver(self, touchpoint, now: datetime) -> Outcome:
        if not (touchpoint.account.domain or touchpoint.account.name):
            return Outcome("skipped", "the account has neither a name nor a domain to match on")
        return Outcome("sent", "", "on the plan's ad audience")


def audience_rows(plan_id: int):
    """The plan's accounts whose ad-audience touchpoint went out, as CSV rows."""
    # an IN, not SELECT DISTINCT: PostgreSQL cannot compare the account's json columns
    on_audience = select(Touchpoint.account_id).join(Enrollment, Enrollment.id == Touchpoint.enrollment_id).where(
        Enrollment.plan_id == plan_id, Touchpoint.channel == "ad_audience", Touchpoint.status == "sent",
        Enrollment.status.in_(("active", "paused")))
    accounts = db.session.scalars(select(Account).where(Account.id.in_(on_audience)).order_by(Account.name))
    for account in accounts:
        yield [account.name, account.domain, account.domain, "", "",
               taxonomy.label("industry", account.industry) if account.industry else "", account.city,
               account.region, account.country, ""]
