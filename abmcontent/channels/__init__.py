"""Channels: one small protocol, one adapter per channel (DESIGN.md: channels behind one interface).

The dispatcher hands a claimed touchpoint to its channel and gets an Outcome back; it never
knows how an email, an invitation or a letter is made. An adapter may hold a connection for a
batch: ``open()`` before the first delivery, ``close()`` after the last.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Outcome:
    status: str            # sent, retry (a temporary problem), failed, skipped
    reason: str = ""
    provider_id: str = ""  # e.g. the Message-ID sent


class Channel(Protocol):
    name: str

    def open(self) -> None: ...

    def deliver(self, touchpoint, now: datetime) -> Outcome: ...

    def close(self) -> None: ...


def for_app(app) -> dict[str, Channel]:
    """The channels this app can deliver on, by name."""
    from abmcontent.channels.ad_audience import AdAudienceChannel
    from abmcontent.channels.direct_mail import DirectMailChannel
    from abmcontent.channels.email import EmailChannel
    from abmcontent.channels.event import EventChannel
    from abmcontent.channels.sales_task import SalesTaskChannel

    return {"email": EmailChannel(app.config), "sales_task": SalesTaskChannel(), "ad_audience": AdAudienceChannel(),
            "event": EventChannel(app.config), "direct_mail": DirectMailChannel()}
