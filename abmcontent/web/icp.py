"""ICP criteria editor: weighted criteria with graded bands, tier thresholds, a preview before saving."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from abmcontent import icp, scoring
from abmcontent.web.rendering import roles_required

bp = Blueprint("icp", __name__, url_prefix="/icp")
LIST_ATTRIBUTES = ("industry", "region", "technologies", "competitor_products")
_BAND_FIELD = re.compile(r"^c-(\d+)-b-(\d+)-(values|min|max|score|label)$")
_CRITERION_FIELD = re.compile(r"^c-(\d+)-(attribute|label|weight)$")


def _number(raw: str, errors: list[str], what: str) -> float | None:
    raw = raw.replace(",", "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        errors.append(_("%(what)s: “%(value)s” is not a number.", what=what, value=raw))
        return None


def _from_form(form) -> tuple[list[icp.Criterion], icp.Thresholds, list[str]]:
    """The editor's fields back into criteria; blank band rows are ignored."""
    problems: list[str] = []
    criteria: dict[int, dict] = {}
    for name in form:
        if m := _CRITERION_FIELD.match(name):
            criteria.setdefault(int(m.group(1)), {"bands": {}})[m.group(2)] = form.get(name, "")
        elif m := _BAND_FIELD.match(name):
            # values come as ticked boxes (industries) or one comma-separated field (places, products)
            value = ",".join(form.getlist(name)) if m.group(3) == "values" else form.get(name, "")
            criteria.setdefault(int(m.group(1)), {"bands": {}})["bands"].setdefault(int(m.group(2)), {})[m.group(3)] = value
    result = []
    for index in sorted(criteria):
        spec = criteria[index]
        if form.get(f"c-{index}-remove"):
            continue
        attribute = spec.get("attribute", "")
        bands = []
        for band_index in sorted(spec["bands"]):
            raw = spec["bands"][band_index]
            values = tuple(v.strip() for v in raw.get("values", "").split(",") if v.strip())
            if attribute == "region":
                values = tuple(v.upper() for v in values)
            low, high = _number(raw.get("min", ""), problems, _("Minimum")), _number(raw.get("max", ""), problems, _("Maximum"))
            score = _number(raw.get("score", ""), problems, _("Score"))
            if score is None and not values and low is None and high is None:
                continue  # an empty row
            bands.append(icp.Band(score=score if score is not None else 0.0, label=raw.get("label", "").strip(),
                                  values=values, min=low, max=high))
        weight = _number(spec.get("weight", ""), problems, _("Weight"))
        result.append(icp.Criterion(attribute=attribute, weight=weight if weight is not None else 0.0,
                                    bands=tuple(bands), label=spec.get("label", "").strip()))
    if form.get("add_criterion"):
        result.append(icp.Criterion(attribute=form["add_criterion"], weight=1.0, bands=()))
    tiers = [_number(form.get(f"tier{n}", ""), problems, _("Tier %(n)s threshold", n=n)) for n in (1, 2, 3)]
    thresholds = icp.Thresholds(*(t if t is not None else 0.0 for t in tiers))
    return result, thresholds, problems


def _render(criteria, thresholds, errors, preview=None, status=200):
    return render_template("icp/edit.html", criteria=criteria, thresholds=thresholds, errors=errors,
                           preview=preview, attributes=icp.ATTRIBUTES, list_attributes=LIST_ATTRIBUTES,
                           can_edit=current_user.has_role(*scoring.EDITOR_ROLES),
                           band_label=icp.band_label), status


@bp.get("")
@login_required
def edit():
    criteria, thresholds = scoring.load()
    return _render(criteria, thresholds, {}, preview=scoring.preview(criteria, thresholds))


@bp.post("/preview")
@login_required
def preview():
    criteria, thresholds, problems = _from_form(request.form)
    errors = icp.validate(criteria, thresholds)
    if problems:
        errors["form"] = problems
    counts = None if errors else scoring.preview(criteria, thresholds)
    return render_template("icp/_preview.html", preview=counts, errors=errors)


@bp.post("")
@roles_required(*scoring.EDITOR_ROLES)
def save():
    criteria, thresholds, problems = _from_form(request.form)
    if request.form.get("add_criterion") or any(k.endswith("-remove") for k in request.form) \
            or request.form.get("add_band"):
        if request.form.get("add_band", "").isdigit():
            index = int(request.form["add_band"])
            if index < len(criteria):
                c = criteria[index]
                criteria[index] = icp.Criterion(c.attribute, c.weight, c.bands + (icp.Band(score=0.0),), c.label)
        return _render(criteria, thresholds, {}, preview=None)
    errors = icp.validate(criteria, thresholds)
    if problems:
        errors["form"] = problems
    if errors:
        return _render(criteria, thresholds, errors, status=422)
    count = scoring.save(criteria, thresholds, current_user, datetime.now(timezone.utc))
    flash(_("ICP saved; %(num)s accounts rescored.", num=count), "success")
    return redirect(url_for("icp.edit"), 303)
