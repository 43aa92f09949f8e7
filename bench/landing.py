"""Landing page throughput: hello-world vs. anonymous vs. personalized pages behind gunicorn.

What it builds (a fresh SQLite file in a temp folder, migrated like production):
  * the demo (`flask demo load`: users, sample accounts, the S&P 500 list, the starter library);
  * 10,000 more accounts through the real Salesforce importer, then made varied with one bulk
    UPDATE: journey stage, an owner (one of a dozen sales reps) for most, and written context
    (goals, plans, challenges, stakes, timeline; Korean for Korean accounts) for six in ten;
  * 2 contacts (distinct personas, titles, seniority) at each of 1,000 of those accounts;
  * published assets up to 2,000 in all: the starter library plus bench/recommend.py's
    generator (starter-library paragraphs, ~600 words, 1 in 10 Korean), with stage/persona/
    industry tags, inserted directly;
  * one published landing page with the default sections (abmcontent.landing.create_page,
    10% holdout) and 500 personalized URLs (identification.create_personal_url) for 500 contacts.

What it measures:
  * gunicorn, 2 sync workers, on a free loopback port; load from wrk in a second process
    (-t2 -c32 --latency, --seconds each, after a short warm-up) against, one after another:
      hello        GET /healthz — the same app, no database, no template
      anonymous    GET /p/<slug> — the generic page (identify, compose, render, track)
      personalized GET /p/<slug>?t=<token> — one personalized URL, as the issue asks: after its
                   first view it is served from the page cache, so this is the per-view cost
                   of identifying the visitor (token lookup, their stamp) and recording the view
      personalized_many  the same page rotating over the 500 token URLs (one in ten lands in the
                   control group and gets the generic page, as in production): about 20 views
                   per URL in a run, so one view in ten per worker is a visitor's first and is
                   composed (matching, case study, owner, template, ~10 ms). Not the issue's
                   target; printed so the cost of a first view is in plain sight.
    Throughput, p50 and p99 of each come from bench/landing_wrk.lua's done() (wrk's own latency
    histogram); every non-2xx response is counted. The ratios are throughput / hello-world.
  * one recommendation call in-process over the same database, before the server starts:
    matching.index_for_app().recommend(matching.request_for(account, contact), now) for 1,000
    (account, contact) pairs after one warm-up call; p50 and p95.

Targets: personalized ≥ 0.5 × hello-world throughput and p99 ≤ 50 ms; recommend p95 ≤ 5 ms.
On two cores, wrk and the two workers share the CPU: the ratios are the figures to compare.

Run: .venv/bin/python bench/landing.py [--seconds 15] [--tokens 500] [--keep]
It exits non-zero (after printing the figures and the server's log) if a landing page answers
anything but 200. The last line is one JSON object of the figures.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import _setup  # noqa: F401  (puts the repository on sys.path)
import recommend  # bench/recommend.py: the asset generator and the account context sentences

from sqlalchemy import bindparam, func, select, update  # noqa: E402

from abmcontent import demo, identification, landing, library, matching  # noqa: E402
from abmcontent.extensions import db  # noqa: E402
from abmcontent.models import Account, Asset, AssetTag, Contact, User  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "landing_wrk.lua"
GUNICORN = Path(sys.executable).parent / "gunicorn"
WRK = shutil.which("wrk") or "/usr/bin/wrk"

ACCOUNTS = 10_000
CONTACT_ACCOUNTS = 1_000
ASSETS = 2_000
SALES_REPS = 12
RECOMMEND_CALLS = 1_000
WORKERS = 2
THREADS, CONNECTIONS = 2, 32
SLUG = "modern-data-platform"

FIRST = ["Alex", "Jordan", "Priya", "Wei", "Maria", "Tom", "Aisha", "Lukas", "Sofia", "Daniel", "Emma",
         "Noah", "Hana", "Omar", "Chloe", "Mateo", "Grace", "Ivan", "Leila", "Ben"]
LAST = ["Smith", "Garcia", "Chen", "Müller", "Patel", "Nguyen", "Johnson", "Rossi", "Kowalski", "Silva",
        "Brown", "Tanaka", "Okafor", "Dubois", "Larsen", "Kim", "Lee", "Park", "Cohen", "Evans"]
FIRST_KO, LAST_KO = ["지훈", "서연", "민준", "지우", "현우", "수빈"], ["김", "이", "박", "최", "정"]
PERSONA_ROLES = {  # persona → (titles, seniorities)
    "economic_buyer": (["Chief Financial Officer", "CIO", "VP Finance"], ["c_level", "vp"]),
    "technical_evaluator": (["Head of Data Architecture", "Principal Data Engineer"], ["director", "staff"]),
    "end_user": (["Data Analyst", "BI Developer", "Analytics Engineer"], ["staff", "manager"]),
    "champion": (["Director of Analytics", "VP Data"], ["director", "vp"]),
    "procurement": (["Procurement Manager", "Strategic Sourcing Lead"], ["manager"]),
}
STAGE_WEIGHTS = {"awareness": 40, "consideration": 30, "decision": 15, "onboarding": 8, "expansion": 7}


def log(message: str) -> None:
    print(message, flush=True)


# --- data ----------------------------------------------------------------------------------------

def vary_accounts(rng: random.Random, now: datetime) -> list[int]:
    """Stage, owner and written context for the imported accounts (one executemany UPDATE)."""
    owners = [db.session.scalar(select(User.id).where(User.email == "sales@abmcontent.demo"))]
    for n in range(SALES_REPS - 1):
        user = User(email=f"rep{n}@cobaltdata.example", name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    phone=f"+1 415 555 {1200 + n:04d}", role="sales", password_hash="!", active=True,
                    created_at=now)
        db.session.add(user)
        db.session.flush()
        owners.append(user.id)
    stages, weights = list(STAGE_WEIGHTS), list(STAGE_WEIGHTS.values())
    rows = []
    ids = list(db.session.execute(select(Account.id, Account.country).where(Account.source == "sf.csv")))
    for account_id, country in ids:
        pools = recommend.CONTEXT_KO if country in ("KR", "South Korea") else recommend.CONTEXT_EN
        written = rng.random() < 0.6
        context = {name: (" ".join(rng.sample(sentences, min(len(sentences), rng.choice((1, 2)))))
                          if written and (name in ("goals", "challenges") or rng.random() < 0.5) else "")
                   for name, sentences in pools.items()}
        rows.append({"_id": account_id, "journey_stage": rng.choices(stages, weights)[0],
                     "owner_id": rng.choice(owners) if rng.random() < 0.85 else None,
                     "updated_at": now, **{f"_{k}": v for k, v in context.items()}})
    table = Account.__table__
    db.session.execute(
        update(table).where(table.c.id == bindparam("_id")).values(
            journey_stage=bindparam("journey_stage"), owner_id=bindparam("owner_id"),
            updated_at=bindparam("updated_at"), goals=bindparam("_goals"), plans=bindparam("_plans"),
            challenges=bindparam("_challenges"), stakes=bindparam("_stakes"),
            timeline=bindparam("_timeline")), rows)
    db.session.commit()
    return [account_id for account_id, _country in ids]


def add_contacts(rng: random.Random, account_ids: list[int], now: datetime) -> int:
    rows = []
    chosen = rng.sample(account_ids, min(CONTACT_ACCOUNTS, len(account_ids)))
    accounts = {a.id: a for a in db.session.scalars(select(Account).where(Account.id.in_(chosen)))}
    for n, account_id in enumerate(chosen):
        account = accounts[account_id]
        korean = account.country in ("KR", "South Korea")
        domain = account.domain or f"company{account_id}.example"
        for persona in rng.sample(list(PERSONA_ROLES), 2):
            titles, seniorities = PERSONA_ROLES[persona]
            first = rng.choice(FIRST_KO if korean else FIRST)
            last = rng.choice(LAST_KO if korean else LAST)
            rows.append(dict(account_id=account_id, first_name=first, last_name=last,
                             email=f"c{len(rows)}.{persona}@{domain}", phone="", title=rng.choice(titles),
                             seniority=rng.choice(seniorities), persona=persona, buying_authority="",
                             language="ko" if korean else "en", timezone="", street="", city=account.city,
                             region=account.region, postal_code="", country=account.country, crm_id="",
                             created_at=now, updated_at=now))
    db.session.execute(Contact.__table__.insert(), rows)
    db.session.commit()
    return len(rows)


def add_assets(rng: random.Random, now: datetime, author_id: int) -> int:
    """Published assets until there are ASSETS in all (bench/recommend.py's generator)."""
    published = db.session.scalar(select(func.count(Asset.id)).where(Asset.status == "published"))
    needed = ASSETS - published
    if needed <= 0:
        return published
    candidates, texts = recommend.assets(now, rng)
    next_id = (db.session.scalar(select(func.max(Asset.id))) or 0) + 1
    rows, tags = [], []
    for offset, c in enumerate(candidates[:needed]):
        asset_id = next_id + offset
        body = texts[c.id].split("\n\n", 2)[2]
        when = min(c.fresh_at, now)
        rows.append(dict(id=asset_id, slug=f"bench-asset-{asset_id}", title=c.title, type=c.type,
                         language=c.language, status="published", summary=c.summary, body=body,
                         gated=rng.random() < 0.05, cta_label="", cta_url="",
                         search_text=library.normalise(f"{c.title} {c.summary} {body}"),
                         created_at=when, updated_at=when, published_at=when,
                         created_by_id=author_id, updated_by_id=author_id))
        for kind, values in (("stage", c.stages), ("persona", c.personas), ("industry", c.industries)):
            tags += [dict(asset_id=asset_id, kind=kind, value=v) for v in sorted(values)]
    db.session.execute(Asset.__table__.insert(), rows)
    db.session.execute(AssetTag.__table__.insert(), tags)
    db.session.commit()
    return db.session.scalar(select(func.count(Asset.id)).where(Asset.status == "published"))


def build(folder: Path, tokens: int) -> dict:
    rng = random.Random(11)
    now = datetime.now(timezone.utc)
    app = _setup.app(folder)
    started = time.perf_counter()
    with app.app_context():
        report = demo.load(app.config["CONTENT_FOLDER"], now, app.config["UPLOAD_FOLDER"])
    log(f"demo loaded: {report.users_created} users, {report.accounts_created} accounts, "
        f"{len(report.content.added)} library files ({time.perf_counter() - started:.1f}s)")
    step = time.perf_counter()
    _setup.import_accounts(app, ACCOUNTS)
    log(f"imported {ACCOUNTS:,} accounts ({time.perf_counter() - step:.1f}s)")
    with app.app_context():
        step = time.perf_counter()
        imported = vary_accounts(rng, now)
        contacts = add_contacts(rng, imported, now)
        marketer = db.session.scalar(select(User).where(User.email == "marketer@abmcontent.demo"))
        assets = add_assets(rng, now, marketer.id)
        total_accounts = db.session.scalar(select(func.count(Account.id)))
        log(f"varied accounts, {contacts:,} contacts, {assets:,} published assets "
            f"({time.perf_counter() - step:.1f}s)")

        step = time.perf_counter()
        page = landing.create_page(landing.PageInput(title="The modern data platform", slug=SLUG,
                                                     language="en", holdout_percent="10"), marketer, now)
        landing.set_status(page.id, "published", marketer, now)
        people = list(db.session.execute(
            select(Contact.id, Contact.account_id).join(Account, Account.id == Contact.account_id)
            .where(Account.source == "sf.csv").order_by(Contact.id)))
        links = []
        for contact_id, account_id in rng.sample(people, min(tokens, len(people))):
            _link, token = identification.create_personal_url(account_id, contact_id, marketer, now)
            share = landing.bucket(app.config["SECRET_KEY"], page.id, account_id, contact_id)
            links.append({"token": token, "account_id": account_id, "contact_id": contact_id,
                          "control": share < page.holdout_percent})
        log(f"published /p/{SLUG} ({len(page.sections)} sections), {len(links)} personalized URLs "
            f"({time.perf_counter() - step:.1f}s)")

        step = time.perf_counter()
        figures = measure_recommend(rng, now, people)
        log(f"recommend: index built in {figures['recommend_index_build_s']}s; "
            f"{RECOMMEND_CALLS:,} calls in {time.perf_counter() - step:.1f}s")
        names = dict(db.session.execute(select(Account.id, Account.name).where(
            Account.id.in_({link["account_id"] for link in links}))).all())
    with app.app_context():
        db.engine.dispose()
    return {"app": app, "links": links, "names": names, "accounts": total_accounts, "assets": assets,
            "contacts": contacts, **figures}


def measure_recommend(rng: random.Random, now: datetime, people: list[tuple[int, int]]) -> dict:
    """p50/p95 of index_for_app().recommend(request_for(account, contact), now), in-process."""
    pairs = [people[rng.randrange(len(people))] for _ in range(RECOMMEND_CALLS)]
    contacts = {c.id: c for c in db.session.scalars(select(Contact).where(
        Contact.id.in_({contact_id for contact_id, _a in pairs})))}
    accounts = {a.id: a for a in db.session.scalars(select(Account).where(
        Account.id.in_({account_id for _c, account_id in pairs})))}
    started = time.perf_counter()
    first = matching.index_for_app().recommend(  # warm-up: builds the index
        matching.request_for(accounts[pairs[0][1]], contacts[pairs[0][0]]), now)
    build_s = time.perf_counter() - started
    assert first, "no recommendation at all"
    times = []
    for contact_id, account_id in pairs:
        account, contact = accounts[account_id], contacts[contact_id]
        start = time.perf_counter()
        results = matching.index_for_app().recommend(matching.request_for(account, contact), now)
        times.append((time.perf_counter() - start) * 1000)
        assert results
    pure = []
    index = matching.index_for_app()
    for contact_id, account_id in pairs[:300]:
        request = matching.request_for(accounts[account_id], contacts[contact_id])
        start = time.perf_counter()
        index.recommend(request, now)
        pure.append((time.perf_counter() - start) * 1000)
    return {"recommend_p50_ms": pct(times, 50), "recommend_p95_ms": pct(times, 95),
            "recommend_only_p95_ms": pct(pure, 95), "recommend_index_build_s": round(build_s, 2)}


def pct(values: list[float], p: int) -> float:
    return round(statistics.quantiles(values, n=100)[p - 1], 2)


# --- the server and the load ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, app) -> tuple[subprocess.Popen, str, Path]:
    config = {k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "UPLOAD_FOLDER", "SECRET_KEY")}
    config["instance_path"] = app.instance_path
    config["WTF_CSRF_ENABLED"] = False
    (folder / "bench_wsgi.py").write_text(
        "# written by bench/landing.py: the app on the benchmark's database\n"
        "from abmcontent import create_app\n\n"
        f"app = create_app({config!r})\n", encoding="utf-8")
    port = free_port()
    errors = folder / "gunicorn.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [str(GUNICORN), "--workers", str(WORKERS), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(folder), "--pythonpath", f"{folder},{ROOT}", "--log-level", "warning",
         "--error-logfile", str(errors), "bench_wsgi:app"],
        cwd=str(folder), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}:\n{tail(errors)}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return process, base, errors
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            stop_server(process)
            raise SystemExit(f"gunicorn did not answer /healthz within 60 s:\n{tail(errors)}")
        time.sleep(0.2)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) or "(empty)"
    except FileNotFoundError:
        return "(no log)"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def wrk(base: str, path: str, seconds: float, paths_file: Path | None = None, connections: int = CONNECTIONS,
        timeout: str = "10s") -> dict:
    env = dict(os.environ)
    env.pop("LANDING_WRK_PATHS", None)
    if paths_file is not None:
        env["LANDING_WRK_PATHS"] = str(paths_file)
    result = subprocess.run(
        [WRK, f"-t{THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
         "--timeout", timeout, "-s", str(LUA), base + path],
        env=env, capture_output=True, text=True, check=False)
    line = next((l for l in result.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    figures = json.loads(line[len("WRK_JSON "):])
    figures["errors"] = sum(figures[k] for k in ("non2xx", "connect_errors", "read_errors", "write_errors",
                                                 "timeouts"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="wrk duration of each run (default 15)")
    parser.add_argument("--tokens", type=int, default=500, help="personalized URLs to rotate over (default 500)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and print its path")
    args = parser.parse_args()
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="abm-bench-landing-"))
    process = None
    failed = ""
    try:
        data = build(folder, args.tokens)
        setup_s = time.perf_counter() - started
        links = data["links"]
        paths = [f"/p/{SLUG}?t={link['token']}" for link in links]
        paths_file = folder / "personalized_paths.txt"
        paths_file.write_text("\n".join(paths) + "\n", encoding="utf-8")

        process, base, errors_log = start_server(folder, data["app"])
        log(f"gunicorn ({WORKERS} sync workers) at {base}")
        # Sanity: both pages answer 200, and a personalized URL in the personalized group is personal.
        status, _body = get(f"{base}/p/{SLUG}")
        if status != 200:
            raise SystemExit(f"GET /p/{SLUG} answered {status}; server log:\n{tail(errors_log)}")
        sample = next((link for link in links if not link["control"]), links[0])
        status, body = get(f"{base}/p/{SLUG}?t={sample['token']}")
        if status != 200:
            raise SystemExit(f"GET a personalized URL answered {status}; server log:\n{tail(errors_log)}")
        name = data["names"][sample["account_id"]]
        personal = any(form in body for form in (html.escape(name), html.escape(name, quote=False),
                                                 name.replace("'", "&#39;").replace("&", "&amp;")))
        if not personal:
            log(f"WARNING: the personalized page does not mention its account {name!r}")

        load_before = os.getloadavg()[0]  # others' work on the machine skews everything: say so
        warm = min(3.0, max(1.0, args.seconds / 5))
        one = f"/p/{SLUG}?t={sample['token']}"
        for path, file in (("/healthz", None), (f"/p/{SLUG}", None), (one, None)):
            wrk(base, path, warm, file, timeout="30s")  # both workers build their index meanwhile
        runs = {}
        for name_, path, file in (("hello", "/healthz", None), ("anonymous", f"/p/{SLUG}", None),
                                  ("personalized", one, None), ("personalized_many", f"/p/{SLUG}", paths_file)):
            runs[name_] = wrk(base, path, args.seconds, file)
            r = runs[name_]
            log(f"  {name_:<12} {r['requests_per_s']:>9,.1f} req/s  p50 {r['p50_ms']:>7.2f} ms  "
                f"p99 {r['p99_ms']:>7.2f} ms  errors {r['errors']}")
        stop_server(process)
        landing_runs = ("anonymous", "personalized", "personalized_many")
        if any(runs[k]["errors"] for k in landing_runs):
            failed = "landing pages answered non-2xx or failed: " + ", ".join(
                f"{k} {runs[k]['errors']} (last status {runs[k]['last_bad_status']})"
                for k in landing_runs if runs[k]["errors"])

        hello = runs["hello"]["requests_per_s"]
        figures = {"accounts": data["accounts"], "assets": data["assets"], "contacts": data["contacts"],
                   "seconds_per_run": max(1, round(args.seconds)), "connections": CONNECTIONS,
                   "wrk_threads": THREADS, "gunicorn_workers": WORKERS}
        for name_, r in runs.items():
            figures[f"{name_}_rps"] = r["requests_per_s"]
            figures[f"{name_}_p50_ms"] = round(r["p50_ms"], 2)
            figures[f"{name_}_p99_ms"] = round(r["p99_ms"], 2)
            figures[f"{name_}_requests"] = r["requests"]
            figures[f"{name_}_errors"] = r["errors"]
            if name_ != "hello":
                figures[f"{name_}_vs_hello"] = round(r["requests_per_s"] / hello, 3) if hello else 0.0
        figures["distinct_personalized_urls"] = runs["personalized_many"]["distinct_paths"]
        # below ~1, nearly every personalized view was that visitor's first (nothing of theirs cached yet)
        figures["personalized_many_views_per_url"] = round(runs["personalized_many"]["requests"] / len(paths), 2)
        figures["personalized_urls_in_control"] = sum(link["control"] for link in links)
        figures["personalized_check"] = personal
        figures["errors"] = sum(r["errors"] for r in runs.values())
        for key in ("recommend_p50_ms", "recommend_p95_ms", "recommend_only_p95_ms", "recommend_index_build_s"):
            figures[key] = data[key]
        figures["loadavg_1m_before"] = round(load_before, 2)
        figures["setup_s"] = round(setup_s, 1)
        figures["total_s"] = round(time.perf_counter() - started, 1)

        print()
        print(f"{figures['accounts']:,} accounts, {figures['assets']:,} published assets, "
              f"{figures['contacts']:,} contacts; gunicorn {WORKERS} sync workers; "
              f"wrk -t{THREADS} -c{CONNECTIONS} {figures['seconds_per_run']} s per run")
        print(f"{'':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs hello':>10}{'errors':>8}")
        for name_ in runs:
            ratio = figures.get(f"{name_}_vs_hello", 1.0)
            print(f"{name_:<14}{figures[name_ + '_rps']:>10,.1f}{figures[name_ + '_p50_ms']:>10.2f}"
                  f"{figures[name_ + '_p99_ms']:>10.2f}{ratio:>10.3f}{figures[name_ + '_errors']:>8}")
        print(f"personalized_many: {figures['distinct_personalized_urls']} distinct URLs answered, "
              f"{figures['personalized_many_views_per_url']} views per URL; {figures['personalized_urls_in_control']} "
              f"of the {len(paths)} URLs fall in the 10% control group")
        print(f"recommend (in-process, {RECOMMEND_CALLS:,} calls): p50 {figures['recommend_p50_ms']} ms, "
              f"p95 {figures['recommend_p95_ms']} ms (Index.recommend alone: p95 "
              f"{figures['recommend_only_p95_ms']} ms)")
        ok = (figures["personalized_vs_hello"] >= 0.5, figures["personalized_p99_ms"] <= 50,
              figures["recommend_p95_ms"] <= 5)
        print("targets: personalized ≥ 0.5 × hello {}, personalized p99 ≤ 50 ms {}, recommend p95 ≤ 5 ms {}"
              .format(*("met" if o else "MISSED" for o in ok)))
        print(f"setup {figures['setup_s']} s, whole run {figures['total_s']} s; load average before the "
              f"runs {figures['loadavg_1m_before']} on {os.cpu_count()} cores")
        if failed:
            print(f"FAILED: {failed}\nserver log:\n{tail(errors_log)}", file=sys.stderr)
        if args.keep:
            print(f"kept {folder}")
        print(json.dumps(figures))
    finally:
        if process is not None:
            stop_server(process)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
