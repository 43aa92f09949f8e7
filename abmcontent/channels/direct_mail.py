"""Direct mail: a touchpoint becomes a piece in the print queue, once its postal address is
checked; the print batch (abmcontent.direct_mail) turns queued pieces into one PDF for the
print house."""
from __future__ import annotations

from datetime import datetime

from abmcontent import direct_mail
from abmcontent.channels import Outcome
from abmcontent.extensions import db
from abmcontent.models import Asset


class DirectMailChannel:
    name = "direct_mail"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def deliver(self, touchpoint, now: datetime) -> Outcome:
        contact = touchpoint.contact if touchpoint.contact_id else None
        if contact is None:
            return Outcome("skipped", "no stakeholder to write to")
        if direct_mail.withdrew_consent(contact):
            return Outcome("skipped", "the stakeholder withdrew consent to direct mail")
        problems = direct_mail.problems_for(contact)
        if problems:
            return Outcome("failed", "address: " + "; ".join(problems))
        asset = db.session.get(Asset, touchpoint.asset_id) if touchpoint.asset_id else None
        if asset is None:
            return Outcome("failed", "nothing to print: the step has no asset")
        fmt = touchpoint.step.mail_format if touchpoint.step is not None else "letter"
        piece = direct_mail.queue_piece(touchpoint, contact, asset, fmt or "letter", now)
        return Outcome("sent", "", f"piece-{piece.id}")
