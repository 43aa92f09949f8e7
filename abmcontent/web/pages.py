"""Top-level pages; accounts, plans and the dashboard grow with their own issues."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy import func, select

from abmcontent import accounts, library
from abmcontent.extensions import db
from abmcontent.models import Asset

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return redirect(url_for("pages.dashboard"))


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/dashboard")
@login_required
def dashboard():
    counts = dict(db.session.execute(select(Asset.status, func.count()).group_by(Asset.status)).all())
    coverage = library.coverage()
    return render_template("pages/dashboard.html", counts=counts, coverage=coverage,
                           tiers=accounts.tier_counts(), targets=accounts.target_counts())
