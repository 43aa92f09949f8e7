"""The pages prospects see: landing pages, assets, the gated form, click and time-on-page tracking.

No login, no session: these views never touch the session cookie, so a visitor carries no cookie
of ours but the signed visitor cookie — and not even that under DNT: 1 / Sec-GPC: 1. Every
response says Referrer-Policy: same-origin (a token in the address never leaks to another site;
"no-referrer" would also make browsers send "Origin: null" with our own forms, which the
cross-site check must refuse), and
an unknown token gets byte-for-byte the page no token gets, apart from the random visit id.

Events are handed to abmcontent.tracking, which writes them in the background: a page never
waits on that write. Links on a page carry a signed visit id (``v``), so an asset opened, a
click or a beacon is attributed to the visit without a cookie and cannot be forged.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import (Blueprint, Response, abort, current_app, g, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import force_locale
from itsdangerous import BadSignature, Signer

from abmcontent import attachments, gating, identification, landing, matching, taxonomy, tracking
from abmcontent.errors import NotFound, ValidationError
from abmcontent.extensions import csrf, db
from abmcontent.models import Asset

bp = Blueprint("public", __name__)

COOKIE = "abm_visitor"
COOKIE_DAYS = 180
VISIT_SALT = "abmcontent-visit"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_industry")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def do_not_track() -> bool:
    dnt = getattr(g, "abm_dnt", None)
    if dnt is None:
        dnt = g.abm_dnt = request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"
    return dnt


# --- repeated token misses ---------------------------------------------------------------------

class MissCounter:
    """Per client address, how many unknown tokens it tried in the last window (per process)."""

    def __init__(self) -> None:
        self._misses: dict[str, deque] = {}
        self._lock = threading.Lock()

    def limited(self, ip: str, limit: int, window: float) -> bool:
        with self._lock:
            seen = self._misses.get(ip)
            if not seen:
                return False
            cutoff = time.monotonic() - window
            while seen and seen[0] < cutoff:
                seen.popleft()
            return len(seen) >= limit

    def add(self, ip: str) -> None:
        with self._lock:
            if len(self._misses) > 100_000:  # a flood of addresses: forget the oldest half
                for key in list(self._misses)[:50_000]:
                    del self._misses[key]
            self._misses.setdefault(ip, deque(maxlen=1000)).append(time.monotonic())


def _misses() -> MissCounter:
    return current_app.extensions.setdefault("abm_token_misses", MissCounter())


# --- the signed visit id -----------------------------------------------------------------------

_VARIANTS = {"personalized": "p", "control": "c", "": "a"}
_VARIANT_OF = {code: name for name, code in _VARIANTS.items()}


def _signer() -> Signer:
    signer = current_app.extensions.get("abm_visit_signer")
    if signer is None:
        signer = current_app.extensions.setdefault(
            "abm_visit_signer", Signer(current_app.config["SECRET_KEY"], salt=VISIT_SALT))
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


def read_visit(value: str | None) -> dict | None:
    if not value or len(value) > 200:
        return None
    try:
        page_id, account_id, contact_id, variant, key = _signer().unsign(value).decode().split(".")
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
    visit = visit or {}
    tracking.record(type=kind, account_id=visit.get("account"), contact_id=visit.get("contact"),
                    landing_page_id=visit.get("page"), variant=visit.get("variant") or "",
                    visit=visit.get("key") or "", user_agent=request.headers.get("User-Agent", ""), **fields)


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


def _page_info(slug: str):
    """(id, updated_at, language, holdout_percent) of a published page, re-read at most every
    PUBLIC_CACHE_SECONDS; None when there is none."""
    from abmcontent.models import LandingPage

    if len(slug) > 120:
        return None
    cache, now = _cache(), time.monotonic()
    found = cache.pages.get(slug)
    if found is not None and now - found[0] < _max_age():
        return found[1]
    info = db.session.execute(
        db.select(LandingPage.id, LandingPage.updated_at, LandingPage.language, LandingPage.holdout_percent)
        .where(LandingPage.slug == slug, LandingPage.status == "published")).first()
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
    ip = request.remote_addr or ""
    token = request.args.get("t")
    limit = current_app.config.get("TOKEN_MISS_LIMIT", 20)
    if token and _misses().limited(ip, limit, current_app.config.get("TOKEN_MISS_WINDOW", 600)):
        with force_locale(info.language):
            return _finish(Response(render_template("public/error.html", status=429), 429,
                                    {"Retry-After": "600"}))
    secret = current_app.config["SECRET_KEY"]
    utm = _utm()
    ident = _identify(utm)
    had = None if do_not_track() else request.cookies.get(COOKIE)
    if token and ident.rule != "token":
        _misses().add(ip)

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
        page = landing.published_page(slug)
        if page is None:
            abort(404)
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


@bp.get("/p/<slug>/a/<asset_slug>")
def asset(slug: str, asset_slug: str):
    page = _page_or_404(slug)
    item = db.session.query(Asset).filter_by(slug=asset_slug[:120], status="published").one_or_none()
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
    page = _page_or_404(slug)
    item = db.session.query(Asset).filter_by(slug=asset_slug[:120], status="published").one_or_none()
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
    page = _page_or_404(slug)
    section = next((s for s in page.sections if s.id == section_id and s.kind == "cta"), None)
    if section is None or (stage != "default" and stage not in taxonomy.stages()):
        abort(404)
    label, url, _which = landing.cta_choice(section.settings, stage)
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
    page = _page_or_404(slug)
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
    found = read_visit(request.form.get("v"))
    if found is None:
        return Response(status=204)
    try:
        seconds = min(max(float(request.form.get("s", "0")), 0.0), 4 * 3600.0)
    except ValueError:
        return Response(status=204)
    asset_id = request.form.get("a", "")
    _record("time_on_page", found, value=round(seconds, 1),
            asset_id=int(asset_id) if asset_id.isdigit() and len(asset_id) < 10 else None)
    return Response(status=204)


PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _email_event(kind: str, touchpoint_id: int, **detail) -> None:
    """An open or a click, flagged in `machine` when a proxy or a link scanner made it."""
    from datetime import datetime, timezone

    from abmcontent import machines
    from abmcontent.models import Touchpoint

    row = db.session.execute(db.select(Touchpoint.account_id, Touchpoint.contact_id, Touchpoint.asset_id,
                                       Touchpoint.sent_at).where(Touchpoint.id == touchpoint_id)).first()
    if row is None:
        return
    agent, now = request.headers.get("User-Agent", ""), datetime.now(timezone.utc)
    machine = machines.open_reason(agent, row.sent_at, now) if kind == "email_open" else \
        machines.click_reason(agent, request.method, row.sent_at, now)
    tracking.record(type=kind, account_id=row.account_id, contact_id=None if do_not_track() else row.contact_id,
                    asset_id=row.asset_id, channel="email", user_agent=agent, machine=machine or "",
                    touchpoint_id=touchpoint_id, detail=detail or None)


@bp.get("/o/<token>.gif")
def open_pixel(token: str):
    """An email was opened (or an image proxy fetched it: flagged by agent and timing, see
    abmcontent.machines). Always the same transparent GIF, whatever the token."""
    from abmcontent.channels.email import tracked_id

    touchpoint_id = tracked_id(current_app.config["SECRET_KEY"], token)
    if touchpoint_id is not None:
        _email_event("email_open", touchpoint_id)
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store, max-age=0"})


@bp.get("/r/<token>")
def click(token: str):
    """A tracked email link: recorded, then on to the stored URL (only ever a stored one)."""
    from abmcontent.channels.email import tracked_id
    from abmcontent.models import TrackedLink

    link_id = tracked_id(current_app.config["SECRET_KEY"], token)
    link = db.session.get(TrackedLink, link_id) if link_id is not None else None
    if link is None:
        abort(404)
    _email_event("email_click", link.touchpoint_id, url=link.url[:500])
    return _finish(redirect(link.url, 302))


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click unsubscribe: the mail client POSTs with no session (SECURITY.md)
def unsubscribe(token: str):
    """GET asks (a link scanner must not unsubscribe anyone); POST — the button, or the mail
    client's one-click List-Unsubscribe-Post — does it."""
    from abmcontent import contacts
    from abmcontent.channels.email import contact_for_token

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
