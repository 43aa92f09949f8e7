"""Recommendation reasons in the reader's language.

matching keeps its reasons as a sentence key and values (taxonomy keys, a quote, a number) so
the domain stays free of request locale; this is where they become English or Korean.
"""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import ngettext

from abmcontent import taxonomy
from abmcontent.matching import Reason

CONTEXT_FIELDS = {
    "goals": lambda: _("goals"), "plans": lambda: _("plans"), "challenges": lambda: _("challenges"),
    "stakes": lambda: _("stakes"), "timeline": lambda: _("timeline"),
}


def say(reason: Reason) -> str:
    a = reason.args
    key = reason.key
    if key == "stage":
        return _("stage: %(stage)s", stage=taxonomy.label("stage", a["stage"]))
    if key == "stage_near":
        return _("stage: %(stage)s (next to %(wanted)s)", stage=taxonomy.label("stage", a["stage"]),
                 wanted=taxonomy.label("stage", a["wanted"]))
    if key == "persona":
        return _("persona: %(persona)s", persona=taxonomy.label("persona", a["persona"]))
    if key == "persona_any":
        return _("persona: any")
    if key == "industry":
        return _("industry: %(industry)s", industry=taxonomy.label("industry", a["industry"]))
    if key == "industry_any":
        return _("industry: any")
    if key == "text":
        field = CONTEXT_FIELDS.get(a["field"])
        return _("matches “%(quote)s” in the account's %(field)s", quote=a["quote"],
                 field=field() if field else a["field"])
    if key == "language":
        return _("language: %(language)s (nothing in %(wanted)s fits)",
                 language=taxonomy.label("language", a["language"]),
                 wanted=taxonomy.label("language", a["wanted"]))
    if key == "fresh_today":
        return _("fresh: new today")
    if key == "fresh_days":
        days = int(a["days"])
        return ngettext("fresh: %(num)d day old", "fresh: %(num)d days old", days)
    return reason.text


def say_all(reasons) -> str:
    return "; ".join(say(r) for r in reasons)


# Why a touchpoint was skipped, deferred, missed or failed. The dispatcher and the channels keep
# their reasons as plain English in the transition log (the record an operator greps); the UI
# says the known ones in the reader's language and shows anything else (a mail server's own
# reply) as it is.
OUTCOMES = [
    (re.compile(r"frequency cap: (?P<cap>\d+) touches in (?P<days>\d+) days for this account"
                r"(?P<missed>; the next free slot is past the send window)?$"),
     lambda m: (_("Held back by the frequency cap: %(cap)s touches in %(days)s days for this account; the "
                  "next free slot is past the send window.", cap=m["cap"], days=m["days"]) if m["missed"] else
                _("Held back by the frequency cap: %(cap)s touches in %(days)s days for this account.",
                  cap=m["cap"], days=m["days"]))),
    (re.compile(r"the plan stopped for this account: (?P<event>\w[\w ]*)$"),
     lambda m: _("The plan stopped for this account: %(event)s.",
                 event=taxonomy.label("event", m["event"].replace(" ", "_")))),
    (re.compile(r"the stakeholder already engaged with this asset$"),
     lambda m: _("Skipped: this stakeholder already read the asset.")),
    (re.compile(r"no stakeholder with an email address$"), lambda m: _("Skipped: no email address.")),
    (re.compile(r"the stakeholder unsubscribed$"), lambda m: _("Skipped: the stakeholder unsubscribed.")),
    (re.compile(r"the address is suppressed"),
     lambda m: _("Skipped: the address bounced, complained or unsubscribed before.")),
    (re.compile(r"Korean advertising email needs recorded prior consent"),
     lambda m: _("Skipped: Korean advertising email needs the recipient's recorded prior consent.")),
    (re.compile(r"send window passed$"), lambda m: _("Missed: its send window passed.")),
    (re.compile(r"no published asset fits this stakeholder$"),
     lambda m: _("Skipped: no published asset fits this stakeholder.")),
    (re.compile(r"send rate to (?P<domain>\S+): (?P<limit>\d+) a minute$"),
     lambda m: _("Waiting: at most %(limit)s messages a minute to %(domain)s.", limit=m["limit"],
                 domain=m["domain"])),
    (re.compile(r"mail server unreachable: (?P<detail>.*)$", re.S),
     lambda m: _("The mail server could not be reached; it is tried again later (%(detail)s).",
                 detail=m["detail"])),
    (re.compile(r"SMTP (?P<code>[45]\d\d) (?P<detail>.*)$", re.S),
     lambda m: _("The mail server answered %(code)s: %(detail)s", code=m["code"], detail=m["detail"])),
    (re.compile(r"the plan step names no event$"), lambda m: _("Skipped: the plan step names no event.")),
    (re.compile(r"the event was cancelled$"), lambda m: _("Skipped: the event was cancelled.")),
    (re.compile(r"the event has already started$"), lambda m: _("Skipped: the event had already started.")),
    (re.compile(r"already (?P<status>\w+) for this event$"),
     lambda m: _("Skipped: already %(status)s for this event.", status=_registration_label(m["status"]).lower())),
    (re.compile(r"already invited to this event by another touchpoint$"),
     lambda m: _("Skipped: already invited to this event by another step.")),
    (re.compile(r"no stakeholder to write to$"), lambda m: _("Skipped: no stakeholder to write to.")),
    (re.compile(r"the stakeholder withdrew consent to direct mail$"),
     lambda m: _("Skipped: the stakeholder withdrew consent to direct mail.")),
    (re.compile(r"address: (?P<problems>.+)$", re.S),
     lambda m: _("Not printed: fix the postal address (%(problems)s).", problems=m["problems"])),
    (re.compile(r"nothing to print: the step has no asset$"),
     lambda m: _("Not printed: no asset fits this stakeholder.")),
    (re.compile(r"released unsent: its dispatcher was stopping$"),
     lambda m: _("Back in line: its dispatcher was stopping.")),
    (re.compile(r"plan cancelled for the account by (?P<who>.+)$"),
     lambda m: _("Cancelled with the account's plan by %(who)s.", who=m["who"])),
    (re.compile(r"step removed from the plan by (?P<who>.+)$"),
     lambda m: _("Cancelled: its step was removed from the plan by %(who)s.", who=m["who"])),
]


def _registration_label(status: str) -> str:
    from abmcontent.events import registration_label

    return registration_label(status)


def say_outcome(text: str | None) -> str:
    """A stored touchpoint reason in the reader's language (unknown reasons as they are)."""
    text = (text or "").strip()
    for pattern, say_it in OUTCOMES:
        found = pattern.match(text)
        if found:
            return say_it(found)
    return text


def init_app(app) -> None:
    app.jinja_env.filters["reasons"] = say_all
    app.jinja_env.filters["outcome"] = say_outcome
