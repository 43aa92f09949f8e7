"""The pages prospects see: landing pages, assets, the gated form, click and time-on-page tracking.

No login, no session: these views never touch the session cookie, so a visitor carries no cookie
of ours but the signed visitor cookie — and not even that under DNT: 1 / Sec-GPC: 1. Every
response says Referrer-Policy: same-origin (a token in the address never leaks to another site;
"no-referrer" would also make browsers send "Origin: null" with our own forms, which the
cross-site check must refuse), and
an unknown token gets byte-for-byte the page no token gets, apart from the random visit id.

Events are handed to abmcontent.tracking, which writes them in the background: a page never
waits on that write. Every endpoint counts its requests per client address against a named
limit (abmcontent.rate_limits, RATE_LIMITS); over it, pages and forms answer 429 in words, while
a tracked link, a call to action and a pixel answer as always and only the recording is skipped. Links on a page carry a signed visit id (``v``), so an asset opened, a
click or a beacon is attributed to the visit without a cookie and cannot be forged.
"""
from __future__ import annotations

import logging
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from contextlib import nullcontext
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from flask import (Blueprint, Response, abort, current_app, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import force_locale
from itsdangerous import BadSignature, Signer
from werkzeug.utils import redirect as _redirect

from abmcontent import attachments, gating, identification, landing, matching, rate_limits, taxonomy, tracking
from abmcontent.errors import NotFound, ValidationError
from abmcontent.extensions import csrf, db
from abmcontent.models import Asset

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)

COOKIE = "abm_visitor"
COOKIE_DAYS = 180
VISIT_SALT = "abmcontent-visit"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_industry")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def do_not_track() -> bool:
    return _dnt(request.environ)


def _dnt(environ) -> bool:
    """DNT: 1 or Sec-GPC: 1 (read afresh: tests keep one app context, and so one `g`, across requests)."""
    return environ.get("HTTP_DNT") == "1" or environ.get("HTTP_SEC_GPC") == "1"


# --- rate limits (abmcontent.rate_limits; RATE_LIMITS in config.py) ------------------------------

COUNTED = "abmcontent.rate_limit"  # environ: (name, allowed) as counted in front of Flask, not counted again


def client_ip(environ) -> str:
    """The visitor's address: the peer's, or the one TRUSTED_PROXIES hops of X-Forwarded-For name
    (ProxyFix has run: TrackingEndpoints sits behind it too)."""
    return environ.get("REMOTE_ADDR") or ""


def within_limit(app, environ, name: str) -> bool:
    """Count this request against limit `name` for its client address, once per request."""
    counted = environ.get(COUNTED)
    if counted is None or counted[0] != name:
        counted = environ[COUNTED] = (name, rate_limits.allowed(app, name, client_ip(environ)))
    return counted[1]


def _too_many(name: str, language: str | None = None) -> Response | None:
    """The 429 page, in words, when this visitor is over limit `name` (this request counted); else None."""
    app = current_app._get_current_object()
    if within_limit(app, request.environ, name):
        return None
    return _refused(rate_limits.peek(app, name, client_ip(request.environ)), language)


def _refused(decision: rate_limits.Decision, language: str | None = None) -> Response:
    now = time.time()
    seconds = max(1, math.ceil(decision.reset_at - now))
    with force_locale(language) if language else nullcontext():
        html = render_template("public/too_many.html", seconds=seconds, page={"language": language or "en"})
    return _finish(Response(html, 429, rate_limits.headers(decision, now)))


def token_missed(ip: str) -> None:
    """An unknown personalized-link (or invitation) token from this address (SECURITY.md)."""
    rate_limits.hit(current_app._get_current_object(), "token_miss", ip)


def too_many_token_misses(ip: str) -> rate_limits.Decision | None:
    """The refusal while this address is over the token_miss limit; None while it may try."""
    decision = rate_limits.peek(current_app._get_current_object(), "token_miss", ip)
    return None if decision.allowed else decision


# --- the signed visit id -----------------------------------------------------------------------

_VARIANTS = {"personalized": "p", "control": "c", "": "a"}
_VARIANT_OF = {code: name for name, code in _VARIANTS.items()}


def _signer(app=None) -> Signer:
    app = app if app is not None else current_app
    signer = app.extensions.get("abm_visit_signer")
    if signer is None:
        signer = app.extensions.setdefault("abm_visit_signer", Signer(app.config["SECRET_KEY"], salt=VISIT_SALT))
    return signer


def sign_visit(page_id: int, account_id: int | None, contact_id: int | None, variant: str, key: str) -> str:
    """page.account.contact.group.key, signed: links carry it so a click, an asset opened or a
    beacon is attributed to the visit without a cookie, and nobody can claim another visit."""
    return _signer().sign(f"{page_id}.{account_id or ''}.{contact_id or ''}.{_VARIANTS[variant]}.{key}").decode()


def visit_id(page_id: int, visit: landing.Visit, key: str) -> str:
    account = visit.account.id if visit.account is not None else visit.identification.account_id
    contact = visit.contact.id if visit.contact is not None else None
    return sign_visit(page_id, account if visit.variant else None, contact if visit.variant else None,
                      visit.variant, key)


def read_visit(value: str | None, app=None) -> dict | None:
    if not value or len(value) > 200:
        return None
    try:
        page_id, account_id, contact_id, variant, key = _signer(app).unsign(value).decode().split(".")
        return {"page": int(page_id), "account": int(account_id) if account_id else None,
                "contact": int(contact_id) if contact_id else None, "variant": _VARIANT_OF[variant], "key": key}
    except (BadSignature, ValueError, KeyError):
        return None


def _again(found: dict) -> str:
    return sign_visit(found["page"], found["account"], found["contact"], found["variant"], found["key"])


# --- helpers -----------------------------------------------------------------------------------

def _utm() -> dict[str, str]:
    return {k: v[:100] for k, v in request.args.items() if v and k in UTM_KEYS}


def _utm_industry(utm: dict[str, str]) -> str | None:
    for key in ("utm_industry", "utm_content", "utm_term", "utm_campaign"):
        value = utm.get(key, "").strip().lower().replace("-", "_").replace(" ", "_")
        if value in taxonomy.INDUSTRIES:
            return value
    return None


def _identify(utm: dict[str, str] | None = None):
    """DESIGN 5 for this request; links and IP ranges may be PUBLIC_CACHE_SECONDS old."""
    return identification.identify(
        token=request.args.get("t"), cookie=None if do_not_track() else request.cookies.get(COOKIE),
        ip=request.remote_addr or None, email=None, utm_industry=_utm_industry(_utm() if utm is None else utm),
        do_not_track=do_not_track(), secret_key=current_app.config["SECRET_KEY"], max_age=_max_age())


def _record(kind: str, visit: dict | None, **fields) -> None:
    _visit_event(current_app._get_current_object(), kind, visit, request.headers.get("User-Agent", ""), **fields)


def _visit_event(app, kind: str, visit: dict | None, agent: str, **fields) -> None:
    visit = visit or {}
    tracking.record(type=kind, app=app, account_id=visit.get("account"), contact_id=visit.get("contact"),
                    landing_page_id=visit.get("page"), variant=visit.get("variant") or "",
                    visit=visit.get("key") or "", user_agent=agent, **fields)


def _finish(response: Response, *, cookie: tuple[int, int | None] | None = None) -> Response:
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, no-store"
    if cookie is not None and not do_not_track():
        response.set_cookie(COOKIE, identification.cookie_value(current_app.config["SECRET_KEY"], *cookie),
                            max_age=COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def _page_or_404(slug: str):
    page = landing.published_page(slug) if len(slug) <= 120 else None
    if page is None:
        abort(404)
    return page


@bp.errorhandler(404)
def _not_found_page(error):
    """Prospects get our own plain page in words, never the staff layout or a sign-in link."""
    return _finish(Response(render_template("public/error.html", status=404), 404))


# --- routes ------------------------------------------------------------------------------------

# --- the page cache ------------------------------------------------------------------------------
#
# A personalized page costs ~10 ms to compose (matching, the owner, the case study, the template);
# the same visitor's next view, or the next control-group or anonymous visitor, gets the HTML
# composed last time for as long as nothing it depends on changed. The page's definition and the
# published library are re-read at most every PUBLIC_CACHE_SECONDS (default 1 s; 0 in tests);
# the visitor's own stamp (account, contact, owner, what they consumed) is read on every view
# with the token, in one query. Only the visit id differs between views: it is a placeholder in
# the cached HTML.

PLACEHOLDER = "__ABMVISIT__"


class PublicCache:
    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.pages: dict[str, tuple[float, object]] = {}
        self.library: tuple[float, tuple | None] = (0.0, None)
        self.html: OrderedDict = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key, stamp):
        with self.lock:
            entry = self.html.get(key)
            if entry is not None and entry[0] == stamp:
                self.html.move_to_end(key)
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def put(self, key, stamp, html: str) -> None:
        with self.lock:
            self.html[key] = (stamp, html)
            self.html.move_to_end(key)
            while len(self.html) > self.size:
                self.html.popitem(last=False)


def _cache() -> PublicCache:
    cache = current_app.extensions.get("abm_public_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("abm_public_cache",
                                                   PublicCache(current_app.config.get("PUBLIC_CACHE_SIZE", 4096)))
    return cache


def _max_age() -> float:
    return float(current_app.config.get("PUBLIC_CACHE_SECONDS", 1.0))


def _page_info(slug: str) -> landing.PublishedPage | None:
    """The published page at this address with its sections (plain values), re-read at most every
    PUBLIC_CACHE_SECONDS; None when there is none."""
    if len(slug) > 120:
        return None
    cache, now = _cache(), time.monotonic()
    found = cache.pages.get(slug)
    if found is not None and now - found[0] < _max_age():
        return found[1]
    info = landing.published_snapshot(slug)
    if len(cache.pages) > 1000:
        cache.pages.clear()
    cache.pages[slug] = (now, info)
    return info


def _library_stamp() -> tuple:
    cache, now = _cache(), time.monotonic()
    checked, signature = cache.library
    if signature is None or now - checked >= _max_age():
        signature = matching.library_signature()
        cache.library = (now, signature)
    return signature


@bp.get("/p/<slug>")
def page(slug: str):
    info = _page_info(slug)
    if info is None:
        abort(404)
    refused = _too_many("page", info.language)
    if refused is not None:
        return refused
    ip = client_ip(request.environ)
    token = request.args.get("t")
    misses = too_many_token_misses(ip) if token else None
    if misses is not None:
        now = time.time()
        with force_locale(info.language):
            return _finish(Response(render_template("public/error.html", status=429), 429,
                                    rate_limits.headers(misses, now)))
    secret = current_app.config["SECRET_KEY"]
    utm = _utm()
    ident = _identify(utm)
    had = None if do_not_track() else request.cookies.get(COOKIE)
    if token and ident.rule != "token":
        token_missed(ip)

    # who sees what, decided without loading anything: the holdout is a hash of ids
    variant, visitor = "", ()
    if ident.account_id is not None and ident.rule in landing.IDENTIFIED:
        visitor = ident.stamp if ident.stamp is not None else landing.visitor_stamp(ident.account_id,
                                                                                    ident.contact_id)
        if visitor is not None:
            share = landing.bucket(secret, info.id, ident.account_id, ident.contact_id)
            variant = "control" if share < info.holdout_percent else "personalized"
    account_id = ident.account_id if variant else None
    contact_id = ident.contact_id if variant else None
    if variant == "personalized":
        key = (info.id, variant, account_id, contact_id)
    else:
        key = (info.id, variant, "" if variant else ident.industry)
    stamp = (info.updated_at, _library_stamp(), visitor if variant == "personalized" else ())
    cache = _cache()
    html = cache.get(key, stamp)
    if html is None:
        page = info
        visit = landing.visit_for(page, ident, secret, variant=variant or None) if variant else \
            landing.visit_for(page, ident, secret)
        with force_locale(page.language):
            blocks = landing.compose(page, visit, _now())
            html = render_template("public/landing.html", page=page, visit=visit, blocks=blocks, v=PLACEHOLDER,
                                   values=landing.merge_values(visit))
        cache.put(key, stamp, html)
    visit_key = secrets.token_urlsafe(12)
    v = sign_visit(info.id, account_id, contact_id, variant, visit_key)
    _record("page_view", {"page": info.id, "account": account_id, "contact": contact_id, "variant": variant,
                          "key": visit_key}, detail={"rule": ident.rule, **({"utm": utm} if utm else {})})
    cookie = None
    wanted = (ident.account_id, ident.contact_id, ident.link_id)
    if ident.set_cookie and identification.read_cookie(secret, had) != wanted:
        cookie = wanted  # new, or someone else's: (re)set it
    return _finish(Response(html.replace(PLACEHOLDER, v)), cookie=cookie)


def _visit_for_request(page) -> tuple[dict, landing.Visit]:
    """The visit a follow-on request (an asset, a download, the form) belongs to: the signed visit
    id its link carried, else the visitor identified afresh as on the page itself."""
    secret = current_app.config["SECRET_KEY"]
    found = read_visit(request.args.get("v") or request.form.get("v"))
    if found is None or found["page"] != page.id:
        visit = landing.visit_for(page, _identify(), secret)
        found = read_visit(visit_id(page.id, visit, secrets.token_urlsafe(12)))
        return found, visit
    ident = identification.Identification("visit", found["account"], found["contact"])
    if found["variant"]:  # the group it was put in on the page stays for the whole visit
        return found, landing.visit_for(page, ident, secret, variant=found["variant"])
    return found, landing.Visit(ident, "", stage=taxonomy.stages()[0], language=page.language)


def _gate_section(page, asset_id: int):
    for section in page.sections:
        if section.kind == "gated_form" and section.settings.get("asset_id") == asset_id:
            return section
    return None


@lru_cache(maxsize=1)
def _asset_query():
    """Built once. The asset with its files in one read; its tags (an eager second query on every
    load) are not shown here."""
    from sqlalchemy import bindparam
    from sqlalchemy.orm import joinedload, lazyload

    return (db.select(Asset).where(Asset.slug == bindparam("slug"), Asset.status == "published")
            .options(lazyload(Asset.tags), joinedload(Asset.files)))


def _published_asset(asset_slug: str) -> Asset | None:
    return db.session.scalars(_asset_query(), {"slug": asset_slug[:120]}).unique().one_or_none()


def _published_within(name: str, slug: str):
    """(the published page, None), or (None, the 429 page for limit `name` in the page's language);
    404 when there is no such page."""
    page = _page_info(slug)
    refused = _too_many(name, page.language if page is not None else None)
    if refused is None and page is None:
        abort(404)
    return page, refused


@bp.get("/p/<slug>/a/<asset_slug>")
def asset(slug: str, asset_slug: str):
    page, refused = _published_within("asset", slug)
    if refused is not None:
        return refused
    item = _published_asset(asset_slug)
    if item is None:
        abort(404)
    found, visit = _visit_for_request(page)
    v = _again(found)
    secret = current_app.config["SECRET_KEY"]
    open_ = not item.gated or gating.unlocked(secret, item.id, request.args.get("k"))
    values = landing.merge_values(visit)
    if open_:
        _record("asset_open", found, asset_id=item.id)
    with force_locale(page.language):
        html = render_template("public/asset.html", page=page, asset=item, visit=visit, v=v, open=open_,
                               values=values, gate=_gate_section(page, item.id), k=request.args.get("k", ""),
                               default_consent=landing.default_settings("gated_form", page.language)["consent_text"])
    return _finish(Response(html))


@bp.get("/p/<slug>/a/<asset_slug>/files/<int:file_id>")
def download(slug: str, asset_slug: str, file_id: int):
    page, refused = _published_within("asset", slug)
    if refused is not None:
        return refused
    item = _published_asset(asset_slug)
    if item is None:
        abort(404)
    if item.gated and not gating.unlocked(current_app.config["SECRET_KEY"], item.id, request.args.get("k")):
        return redirect(url_for("public.asset", slug=page.slug, asset_slug=item.slug, v=request.args.get("v")))
    try:
        record, path = attachments.get_file(item.id, file_id, current_app.config["UPLOAD_FOLDER"])
    except NotFound:
        abort(404)
    found, _visit = _visit_for_request(page)
    _record("asset_download", found, asset_id=item.id, detail={"file": record.original_name[:200]})
    response = send_file(path, as_attachment=True, download_name=record.original_name,
                         mimetype="application/octet-stream")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return _finish(response)


@bp.get("/p/<slug>/go/<int:section_id>/<stage>")
def go(slug: str, section_id: int, stage: str):
    """A call-to-action click: recorded, then on to the address stored for that stage (never one
    from the query string: no open redirect)."""
    page = _page_info(slug)
    if page is None:
        abort(404)
    section = next((s for s in page.sections if s.id == section_id and s.kind == "cta"), None)
    if section is None or (stage != "default" and stage not in taxonomy.stages()):
        abort(404)
    label, url, _which = landing.cta_choice(section.settings, stage)
    if within_limit(current_app._get_current_object(), request.environ, "cta"):  # over it: on all the same
        found = read_visit(request.args.get("v"))
        if found is None or found["page"] != page.id:
            found = {"page": page.id}
        _record("cta_click", found, detail={"section": section.id, "stage": stage, "label": label[:80]})
    return _finish(redirect(url, 303))


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc == request.host


@bp.post("/p/<slug>/form/<int:section_id>")
@csrf.exempt  # public: no session to protect; the Origin check below stops cross-site posts
def gate(slug: str, section_id: int):
    _published, refused = _published_within("form", slug)
    if refused is not None:
        return refused
    page = _page_or_404(slug)  # the model itself: what the form stores refers to it
    if section_id == 0:  # the page's own form for a gated asset reached from its recommendations
        raw = request.form.get("asset", "")
        item = db.session.get(Asset, int(raw)) if raw.isdigit() and len(raw) < 10 else None
        section = None
        consent_text = landing.default_settings("gated_form", page.language)["consent_text"]
        if item is None or not item.gated:
            abort(404)
    else:
        section = next((s for s in page.sections if s.id == section_id and s.kind == "gated_form"), None)
        item = db.session.get(Asset, section.settings.get("asset_id")) if section is not None else None
        consent_text = section.settings.get("consent_text", "") if section is not None else ""
    if item is None or item.status != "published":
        abort(404)
    if not _same_origin():
        abort(403)
    found, visit = _visit_for_request(page)
    form = request.form
    data = gating.GateInput(email=form.get("email", ""), first_name=form.get("first_name", ""),
                            last_name=form.get("last_name", ""), company=form.get("company", ""),
                            title=form.get("title", ""), persona=form.get("persona", ""),
                            consent=form.get("consent") == "yes", website=form.get("website", ""))
    v = _again(found)
    if data.website:  # the honeypot was filled: a bot; answer like a success, keep nothing
        return _finish(redirect(url_for("public.asset", slug=page.slug, asset_slug=item.slug, v=v), 303))
    with force_locale(page.language):
        try:
            result = gating.submit(page, item, data, consent_text, found.get("account"), _now())
        except ValidationError as error:
            db.session.rollback()
            html = render_template("public/asset.html", page=page, asset=item, visit=visit, v=v, open=False,
                                   values={}, gate=section, errors=error.errors, form=form, k="",
                                   default_consent=consent_text)
            return _finish(Response(html, 422))
    contact_id = result.contact.id if result.contact is not None and not do_not_track() else None
    account_id = result.account.id if result.account is not None else found.get("account")
    variant = found["variant"]
    if not variant and account_id is not None:
        # identified by the form (DESIGN 5, the email domain): from now on in the test like anyone else
        ident = identification.Identification("email_domain", account_id, contact_id)
        variant = landing.visit_for(page, ident, current_app.config["SECRET_KEY"]).variant
    attributed = dict(found, account=account_id, contact=contact_id, variant=variant)
    _record("form_fill", attributed, asset_id=item.id,
            detail={"section": section.id if section else 0, "consent": result.consent_recorded,
                    "new_contact": result.created_contact})
    v = sign_visit(page.id, account_id, contact_id, variant, found["key"])
    target = url_for("public.asset", slug=page.slug, asset_slug=item.slug, v=v,
                     k=gating.unlock_key(current_app.config["SECRET_KEY"], item.id))
    cookie = (account_id, contact_id) if account_id is not None else None
    return _finish(redirect(target, 303), cookie=cookie)


@bp.post("/p/beacon")
@csrf.exempt  # navigator.sendBeacon cannot send a token; the signed visit id is the proof
def beacon():
    """Answered by TrackingEndpoints below; here only what it hands on (e.g. a multipart form)."""
    app = current_app._get_current_object()
    if not within_limit(app, request.environ, "beacon"):
        decision = rate_limits.peek(app, "beacon", client_ip(request.environ))
        return Response(status=429, headers=rate_limits.headers(decision))
    form = request.form
    time_on_page(current_app._get_current_object(), request.headers.get("User-Agent", ""), form.get("v"),
                 form.get("s", "0"), form.get("a", ""))
    return Response(status=204)


def time_on_page(app, agent: str, v: str | None, s: str | None, a: str | None) -> None:
    """Seconds a visitor saw a page (or an asset), from the beacon; forged or garbled: nothing."""
    found = read_visit(v, app)
    if found is None:
        return
    try:
        seconds = float(s or "0")
    except ValueError:
        return
    if math.isnan(seconds):  # it would poison every average time on page ("inf" meets the cap below)
        return
    a = a or ""
    _visit_event(app, "time_on_page", found, agent, value=round(min(max(seconds, 0.0), 4 * 3600.0), 1),
                 asset_id=int(a) if a.isdigit() and len(a) < 10 else None)


PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


@lru_cache(maxsize=1)
def _link_query():
    """The stored link and the email it was in, in one read."""
    from sqlalchemy import bindparam

    from abmcontent.models import TrackedLink, Touchpoint

    return (db.select(TrackedLink.url, TrackedLink.touchpoint_id, Touchpoint.id, Touchpoint.account_id,
                      Touchpoint.contact_id, Touchpoint.asset_id, Touchpoint.sent_at)
            .outerjoin(Touchpoint, Touchpoint.id == TrackedLink.touchpoint_id)
            .where(TrackedLink.id == bindparam("id")))


def _email_click(app, link, agent: str, method: str, dnt: bool) -> None:
    """A click, flagged in `machine` when a link scanner made it (opens: tracking.record_open)."""
    from abmcontent import machines

    machine = machines.click_reason(agent, method, link.sent_at, datetime.now(timezone.utc))
    tracking.record(type="email_click", app=app, account_id=link.account_id,
                    contact_id=None if dnt else link.contact_id, asset_id=link.asset_id,
                    channel="email", user_agent=agent, machine=machine or "", touchpoint_id=link.id,
                    detail={"url": link.url[:500]})


def email_open(app, token: str, agent: str, dnt: bool) -> None:
    """Record the open a pixel token stands for (nothing for a forged one, nor, once the writer
    looks, for an unknown one). No query here: the writer reads the touchpoints of a batch at once."""
    from abmcontent.channels.email import tracked_id

    touchpoint_id = tracked_id(app.config["SECRET_KEY"], token)
    if touchpoint_id is not None:
        tracking.record_open(app=app, touchpoint_id=touchpoint_id, user_agent=agent, do_not_track=dnt)


def email_click(app, engine, token: str, agent: str, method: str, dnt: bool, record: bool = True) -> str | None:
    """The stored URL of a tracked link, and its click recorded (unless `record` is false: over the
    rate limit); None for a forged or unknown one."""
    from abmcontent.channels.email import tracked_id

    link_id = tracked_id(app.config["SECRET_KEY"], token)
    if link_id is None:
        return None
    with engine.connect() as conn:
        link = conn.execute(_link_query(), {"id": link_id}).first()
    if link is None:
        return None
    if link.id is not None and record:  # the email it was sent in still exists
        _email_click(app, link, agent, method, dnt)
    return link.url


@bp.get("/o/<token>.gif")
def open_pixel(token: str):
    """An email was opened (or an image proxy fetched it: flagged by agent and timing, see
    abmcontent.machines). Always the same transparent GIF, whatever the token. Answered by
    TrackingEndpoints below; this view serves what it hands on."""
    app = current_app._get_current_object()
    if within_limit(app, request.environ, "pixel"):  # over it: the same GIF, nothing recorded
        email_open(app, token, request.headers.get("User-Agent", ""), do_not_track())
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store, max-age=0"})


@bp.get("/r/<token>")
def click(token: str):
    """A tracked email link: recorded, then on to the stored URL (only ever a stored one)."""
    app = current_app._get_current_object()
    url = email_click(app, db.engine, token, request.headers.get("User-Agent", ""), request.method, do_not_track(),
                      record=within_limit(app, request.environ, "click"))  # over it: still on to the URL
    if url is None:
        abort(404)
    return _finish(redirect(url, 302))


# --- the tracking endpoints, in front of Flask ----------------------------------------------------
#
# The open pixel, a tracked email link and the time-on-page beacon are most of what this server is
# asked (every email opened, every link clicked, a beacon a minute per reader), and their own work
# (check a signature, one indexed read, queue an event) costs less than Flask's request cycle
# around it: context, session, URL matching, after_request hooks, teardown. bench/ingest.py
# measured a pixel at ~2.0 ms of server CPU through Flask and ~0.9 ms answered here. So these
# three are answered straight from the WSGI environ, by the same functions the views above call,
# with the headers the views' responses get (tests compare both paths byte for byte). Anything out
# of the ordinary (another method, an unknown link and its 404 page, a beacon that is not a small
# urlencoded form, an error) goes on to Flask and the views, unchanged.

_TOKEN = re.compile(r"[A-Za-z0-9_.\-]{1,200}\Z")  # what channels.email.tracking_token makes
BEACON_MAX_BYTES = 4096


class TrackingEndpoints:
    """WSGI middleware for GET/HEAD /o/<token>.gif, GET/HEAD /r/<token> and POST /p/beacon."""

    def __init__(self, app, wsgi_app) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self._engine = None
        self._headers: dict[str, list[tuple[str, str]]] | None = None

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if method in ("GET", "HEAD") and path.startswith("/o/") and path.endswith(".gif") \
                and _TOKEN.match(path, 3, len(path) - 4):
            try:
                if within_limit(self.app, environ, "pixel"):  # over it: the same GIF, nothing recorded
                    email_open(self.app, path[3:-4], environ.get("HTTP_USER_AGENT", ""), _dnt(environ))
            except Exception:  # nothing is recorded yet: the view tries again
                return self.wsgi_app(environ, start_response)
            start_response("200 OK", self._answers()["pixel"])
            return [] if method == "HEAD" else [PIXEL]
        if method in ("GET", "HEAD") and path.startswith("/r/") and _TOKEN.match(path, 3):
            try:
                url = email_click(self.app, self._db(), path[3:], environ.get("HTTP_USER_AGENT", ""), method,
                                  _dnt(environ), record=within_limit(self.app, environ, "click"))
            except Exception:
                url = None
            if url is None:  # unknown (our 404 page), or an error before anything was recorded
                return self.wsgi_app(environ, start_response)
            response = _redirect(url, 302, Response=self.app.response_class)
            for name, value in self._answers()["click"]:
                response.headers[name] = value
            return response(environ, start_response)
        if method == "POST" and path == "/p/beacon":
            answer = self._beacon(environ, start_response)
            if answer is not None:
                return answer
        return self.wsgi_app(environ, start_response)

    def _beacon(self, environ, start_response):
        kind = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        if kind != "application/x-www-form-urlencoded" or not length.isdigit() or int(length) > BEACON_MAX_BYTES:
            return None
        if not within_limit(self.app, environ, "beacon"):
            return None  # the view answers the 429 (rare: no hurry)
        body = environ["wsgi.input"].read(int(length)).decode("utf-8", "replace")
        form: dict[str, str] = {}
        for name, value in parse_qsl(body, keep_blank_values=True):
            form.setdefault(name, value)  # the first, as request.form.get does
        try:
            time_on_page(self.app, environ.get("HTTP_USER_AGENT", ""), form.get("v"), form.get("s", "0"),
                         form.get("a", ""))
        except Exception:  # the body is read: whatever happens, this answer is ours
            log.exception("time-on-page beacon failed")
        start_response("204 NO CONTENT", self._answers()["beacon"])
        return []

    def _db(self):
        if self._engine is None:
            with self.app.app_context():
                self._engine = db.engine
        return self._engine

    def _answers(self) -> dict[str, list[tuple[str, str]]]:
        """The headers Flask gives these answers: the view's own, then web.security_headers' defaults
        and the Vary: Cookie that Flask-Login's after_request hook causes."""
        if self._headers is None:
            from abmcontent.web import CSP

            common = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                      ("Content-Security-Policy", CSP), ("Vary", "Cookie")]
            self._headers = {
                "pixel": [("Cache-Control", "no-store, max-age=0"), ("Content-Type", "image/gif"),
                          ("Content-Length", str(len(PIXEL))),
                          ("Referrer-Policy", "strict-origin-when-cross-origin")] + common,
                "click": [("Referrer-Policy", "same-origin"), ("Cache-Control", "private, no-store")] + common,
                "beacon": [("Content-Type", "text/html; charset=utf-8"),
                           ("Referrer-Policy", "strict-origin-when-cross-origin")] + common,
            }
        return self._headers


@bp.record_once
def _answer_tracking_in_front(state) -> None:
    """Registering the blueprint puts TrackingEndpoints in front of the app (once per app), but
    behind ProxyFix: its rate limits count the client address ProxyFix resolved."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = state.app
    if isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app.app = TrackingEndpoints(app, app.wsgi_app.app)
    else:
        app.wsgi_app = TrackingEndpoints(app, app.wsgi_app)


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click unsubscribe: the mail client POSTs with no session (SECURITY.md)
def unsubscribe(token: str):
    """GET asks (a link scanner must not unsubscribe anyone); POST — the button, or the mail
    client's one-click List-Unsubscribe-Post — does it."""
    from abmcontent import contacts
    from abmcontent.channels.email import contact_for_token

    refused = _too_many("unsubscribe")
    if refused is not None:
        return refused
    contact_id = contact_for_token(current_app.config["SECRET_KEY"], token)
    if contact_id is None:
        abort(404)
    from abmcontent.models import Contact

    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404)
    language = contact.language if contact.language in current_app.config["LANGUAGES"] else "en"
    done = False
    if request.method == "POST":
        contacts.unsubscribe(contact_id, "one-click" if request.form.get("List-Unsubscribe") else "unsubscribe page",
                             _now())
        done = True
    with force_locale(language):
        html = render_template("public/unsubscribe.html", token=token, done=done or contact.unsubscribed_at is not None,
                               page=None)
    return _finish(Response(html))


def init_app(app) -> None:
    app.register_blueprint(bp)
