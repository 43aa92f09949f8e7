"""Sales tasks: a touchpoint becomes a task in the account owner's "My tasks" queue, with the
account's goals and challenges (and what its people read lately) as talking points."""
from __future__ import annotations

from datetime import datetime

from abmcontent import engagement, taxonomy
from abmcontent.channels import Outcome
from abmcontent.extensions import db
from abmcontent.models import SalesTask


def talking_points(account) -> str:
    lines = []
    for key in ("goals", "challenges", "plans", "stakes", "timeline"):
        value = (getattr(account, key) or "").strip()
        if value:
            lines.append(f"{taxonomy.label('context', key)}: {value}")
    read = [item for item in engagement.timeline(account.id, limit=50) if item.asset][:5]
    if read:
        lines.append("Recently engaged: " + "; ".join(
            f"{item.who or account.name} — {item.asset}" for item in read))
    return "\n".join(lines)


class SalesTaskChannel:
    name = "sales_task"

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def deliver(self, touchpoint, now: datetime) -> Outcome:
        account = touchpoint.account
        if account.owner_id is None:
            return Outcome("failed", "the account has no owner to give the task to")
        existing = db.session.query(SalesTask).filter_by(touchpoint_id=touchpoint.id).one_or_none()
        if existing is None:  # a retried delivery never makes a second task
            title = touchpoint.subject or f"Call {account.name}"
            db.session.add(SalesTask(touchpoint_id=touchpoint.id, account_id=account.id, owner_id=account.owner_id,
                                     title=title[:300], talking_points=talking_points(account), status="open",
                                     due_at=touchpoint.due_at))
            db.session.commit()
        return Outcome("sent", "", f"task for user {account.owner_id}")
