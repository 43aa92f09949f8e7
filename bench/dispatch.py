"""Dispatch speed: 10,000 due emails through the real dispatcher to aiosmtpd on loopback.

Builds a fresh SQLite database (or uses --postgres URL, an empty database), 10,000 stakeholders
and one email touchpoint each, due times spread evenly over --spread seconds from the start
(an offered load of 10,000 / spread per second). --workers dispatcher processes run
dispatch_once() in a loop, as `flask touchpoints dispatch` does; an aiosmtpd server in another
process counts what arrives by Message-ID.

Figures: per_second (emails sent ÷ time from the first due time to the last send), lag_p50_s and
lag_p99_s (sent_at − due_at), duplicates (Message-IDs received more than once) and lost (due
touchpoints never received). Targets (issue 5): ≥ 300/s, lag p99 ≤ 5 s, 0 duplicates, 0 lost.

Run: .venv/bin/python bench/dispatch.py [--emails 10000] [--workers 2] [--spread 30] [--postgres URL]
The last line is one JSON object of the figures.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import _setup
from sqlalchemy import func, insert, select

from abmcontent.extensions import db
from abmcontent.models import Account, Contact, Touchpoint


def smtp_server(port: int, log_path: str, ready) -> None:
    from aiosmtpd.controller import Controller

    class Counter_:
        def __init__(self) -> None:
            self.log = open(log_path, "a", buffering=1)

        async def handle_DATA(self, server, session, envelope):
            for line in envelope.content.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    self.log.write(line.split(b":", 1)[1].strip().decode() + "\n")
                    break
            return "250 OK"

    controller = Controller(Counter_(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def dispatcher(url: str, folder: str, mail_url: str, name: str, until: float) -> int:
    from abmcontent import create_app, dispatch

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "instance_path": folder, "SECRET_KEY": "bench",
                      "MAIL_URL": mail_url, "BASE_URL": "https://abm.example"})
    sent = 0
    with app.app_context():
        while time.time() < until:
            report = dispatch.dispatch_once(datetime.now(timezone.utc), name, batch=50)
            sent += report.counts.get("sent", 0)
            if report.claimed == 0:
                time.sleep(0.1)
        db.engine.dispose()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spread", type=float, default=30.0,
                        help="due times spread over this many seconds (30: 333/s offered, above the 300/s target)")
    parser.add_argument("--postgres", default="", help="an empty PostgreSQL database URL instead of SQLite")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="abm-bench-dispatch-"))
    if args.postgres:
        from flask_migrate import upgrade

        from abmcontent import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": args.postgres, "instance_path": str(folder),
                          "SECRET_KEY": "bench"})
        with app.app_context():
            upgrade()
        url = args.postgres
    else:
        app = _setup.app(folder)
        url = f"sqlite:///{folder / 'bench.db'}"
    port = _setup.free_port()
    log_path = folder / "received.txt"
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=smtp_server, args=(port, str(log_path), ready), daemon=True)
    server.start()
    ready.wait(10)

    start = datetime.now(timezone.utc) + timedelta(seconds=3)
    with app.app_context():
        # three stakeholders per account: one email each stays within the frequency cap (3 a week)
        db.session.execute(insert(Account), [
            {"name": f"Bench Corp {n}", "domain": f"bench{n}.example", "created_at": start, "updated_at": start}
            for n in range((args.emails + 2) // 3)])
        accounts = list(db.session.scalars(select(Account.id).order_by(Account.id)))
        db.session.execute(insert(Contact), [
            {"account_id": accounts[n // 3], "first_name": f"P{n}", "last_name": "Bench",
             "email": f"p{n}@bench{n // 3}.example", "language": "en", "created_at": start, "updated_at": start}
            for n in range(args.emails)])
        db.session.commit()
        people = list(db.session.execute(select(Contact.id, Contact.account_id).order_by(Contact.id)))
        step = args.spread / max(1, args.emails - 1)
        db.session.execute(insert(Touchpoint), [
            {"account_id": account_id, "contact_id": contact_id, "channel": "email", "subject": "Hello {{ account.name }}",
             "due_at": start + timedelta(seconds=n * step), "window_end_at": start + timedelta(hours=8),
             "status": "planned", "attempts": 0, "claimed_by": "", "provider_id": "", "last_error": "",
             "idempotency_key": f"bench-{contact_id}", "created_at": start, "updated_at": start}
            for n, (contact_id, account_id) in enumerate(people)])
        db.session.commit()
        db.engine.dispose()

    until = time.time() + 3 + args.spread + 60
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.workers) as pool:
        jobs = [pool.apply_async(dispatcher, (url, str(folder), f"smtp://127.0.0.1:{port}", f"d{n}", until))
                for n in range(args.workers)]
        # stop the workers as soon as everything is out
        with app.app_context():
            while time.time() < until:
                left = db.session.scalar(select(func.count(Touchpoint.id)).where(Touchpoint.status != "sent"))
                db.session.rollback()
                if left == 0:
                    break
                time.sleep(0.5)
        pool.terminate()
        sent_by = [job.get(1) if job.ready() else None for job in jobs]
    time.sleep(0.5)
    received = Counter(line.strip() for line in log_path.read_text().splitlines() if line.strip())
    with app.app_context():
        rows = db.session.execute(select(Touchpoint.due_at, Touchpoint.sent_at, Touchpoint.provider_id)
                                  .where(Touchpoint.status == "sent")).all()
        statuses = dict(db.session.execute(select(Touchpoint.status, func.count()).group_by(Touchpoint.status)).all())
    lags = sorted((sent - due).total_seconds() for due, sent, _p in rows)
    last = max(sent for _d, sent, _p in rows) if rows else start
    expected = {f"<tp-bench-{contact_id}@cobaltdata.example>" for contact_id, _a in people}
    figures = {
        "emails": args.emails, "workers": args.workers, "spread_s": args.spread,
        "database": "postgresql" if args.postgres else "sqlite",
        "per_second": round(len(rows) / max((last - start).total_seconds(), 1e-6), 1),
        "lag_p50_s": round(statistics.median(lags), 3) if lags else None,
        "lag_p99_s": round(lags[int(0.99 * (len(lags) - 1))], 3) if lags else None,
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "lost": len(expected - set(received)),
        "statuses": statuses, "sent_by_worker": sent_by,
    }
    print(f"{len(rows):,} emails sent by {args.workers} dispatchers ({figures['database']}), "
          f"{figures['per_second']}/s; lag p50 {figures['lag_p50_s']} s, p99 {figures['lag_p99_s']} s; "
          f"duplicates {figures['duplicates']}, lost {figures['lost']}")
    print(json.dumps(figures))
    server.terminate()


if __name__ == "__main__":
    main()
