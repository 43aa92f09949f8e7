"""Recommendation reasons in the reader's language.

matching keeps its reasons as a sentence key and values (taxonomy keys, a quote, a number) so
the domain stays free of request locale; this is where they become English or Korean.
"""
from __future__ import annotations

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


def init_app(app) -> None:
    app.jinja_env.filters["reasons"] = say_all
