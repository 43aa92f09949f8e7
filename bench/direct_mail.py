"""Direct mail: how fast a print batch is laid out (one PDF + manifest), in pieces a second.

    .venv/bin/python bench/direct_mail.py [pieces]

A mix like a real run: letters and postcards, US, German and Korean recipients (Korean ones pull
Noto Sans CJK KR into the PDF), a body of a few paragraphs each.
"""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _setup import app as make_app  # noqa: E402  (puts the project on sys.path)

from abmcontent import direct_mail, touchpoints  # noqa: E402
from abmcontent.extensions import db  # noqa: E402
from abmcontent.models import Account, Asset, Contact  # noqa: E402

PLACES = [
    ("US", "en", "Boston", "MA", "02110", "100 Federal Street"),
    ("US", "en", "Seattle", "WA", "98101", "1201 3rd Avenue"),
    ("DE", "de", "Berlin", "", "10117", "Unter den Linden 5"),
    ("KR", "ko", "강남구", "서울특별시", "06236", "테헤란로 152"),
]
BODY = ("Dear {{ contact.first_name | \"reader\" }},\n\n"
        "Finance teams at companies like **{{ account.name }}** close their books in half the time "
        "with a shared data platform. " * 3 + "\n\n"
        "- One ledger for every subsidiary\n- Reconciliations that run overnight\n- Audit trails by default\n\n"
        "We would be glad to show you how. Reply to this letter or call us.\n\nKind regards,\n\nThe Cobalt Data team")


def main(count: int = 100) -> None:
    application = make_app()
    now = datetime.now(timezone.utc)
    with application.app_context():
        asset = Asset(slug="bench-letter", title="A plan for {{ account.name }}", type="letter", language="en",
                      body=BODY, status="published", created_at=now, updated_at=now)
        db.session.add(asset)
        db.session.commit()
        for n in range(count):
            country, language, city, region, postal, street = PLACES[n % len(PLACES)]
            account = Account(name=f"Company {n}", country=country)
            contact = Contact(account=account, first_name=f"Person{n}", last_name="Kim", language=language,
                              street=street, city=city, region=region, postal_code=postal, country=country)
            db.session.add_all([account, contact])
            db.session.commit()
            touchpoint = touchpoints.schedule(account_id=account.id, contact_id=contact.id, channel="direct_mail",
                                              due_at=now, window_end_at=now + timedelta(hours=8), key=f"b{n}",
                                              now=now)
            direct_mail.queue_piece(touchpoint, contact, asset, "postcard" if n % 5 == 4 else "letter", now)
        folder = Path(application.instance_path) / "print"
        started, cpu = time.perf_counter(), time.process_time()
        batch = direct_mail.start_batch(None, now)
        batch = direct_mail.build_batch(batch.id, str(folder), now)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        size = (folder / batch.pdf_path).stat().st_size
        print(f"{batch.status}: {batch.pieces_count} pieces, {batch.pages} pages, {size / 1e6:.1f} MB "
              f"in {seconds:.1f}s = {batch.pieces_count / seconds:.1f} pieces/s "
              f"(CPU {cpu:.1f}s = {batch.pieces_count / cpu:.1f} pieces per CPU-second)")
        print(json.dumps({"pieces": batch.pieces_count, "pages": batch.pages, "seconds": round(seconds, 2),
                          "pieces_per_second": round(batch.pieces_count / seconds, 1),
                          "pdf_mb": round(size / 1e6, 2), "status": batch.status}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
