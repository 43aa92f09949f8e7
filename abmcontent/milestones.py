"""The first time an account engaged and first became an MQA (issue 6 KPIs).

Kept as rows because they are history: a score fades and the MQA rule can be edited, but "became an
MQA in March" must stay true for March's dashboard. Written by the alert evaluation job; a milestone
already reached keeps its first date (insert, conflict ignored), so any number of evaluators agree.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from abmcontent.extensions import db
from abmcontent.models import MILESTONES, AccountMilestone


def reach(kind: str, reached: dict[int, datetime], scores: dict[int, float] | None = None,
          now: datetime | None = None) -> int:
    """Record `kind` for each account at its time unless it was reached before; returns how many
    were new. A new "mqa" is told to webhooks (with its score) in the same transaction, so once."""
    if kind not in MILESTONES:
        raise ValueError(f"unknown milestone {kind!r}")
    if not reached:
        return 0
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    rows = [{"account_id": account_id, "kind": kind, "reached_at": at} for account_id, at in reached.items()]
    with db.engine.begin() as conn:
        stored = conn.execute(insert(AccountMilestone).on_conflict_do_nothing()
                              .returning(AccountMilestone.account_id), rows).all()
        if kind == "mqa" and stored:
            from abmcontent import webhooks

            webhooks.emit_mqa_reached({account_id: reached[account_id] for (account_id,) in stored}, scores,
                                      now or max(reached.values()), connection=conn)
    return len(stored)
