"""Direct mail pages: who may see them, the queue with a PDF preview per piece, the build button
starting a batch whose row polls until the scheduler's job has built it, downloads served as
attachments by batch id only, and the empty state."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from abmcontent.extensions import db
from abmcontent.models import DirectMailBatch
from abmcontent.scheduler import jobs
from tests.conftest import NOW, csrf_token_from, login, make_user
from tests.test_direct_mail import make_recipient, queue

HX = {"HX-Request": "true"}


@pytest.fixture
def print_folder(app, tmp_path):
    app.config["PRINT_FOLDER"] = str(tmp_path / "print")
    return tmp_path / "print"


def test_only_marketing_roles_reach_direct_mail(app, client):
    piece = queue(make_recipient())
    assert client.get("/direct-mail").status_code == 302  # anonymous: to the sign-in page
    login(client, make_user("sales"))
    assert client.get("/direct-mail").status_code == 403
    assert client.get(f"/direct-mail/pieces/{piece.id}/preview.pdf").status_code == 403
    assert client.post("/direct-mail/batches").status_code == 403
    assert db.session.scalar(select(DirectMailBatch.id)) is None
    assert "/direct-mail" not in client.get("/dashboard").text  # no nav link either
    client.post("/logout")
    for role in ("marketer", "campaign", "admin"):
        login(client, make_user(role))
        page = client.get("/direct-mail")
        assert page.status_code == 200 and 'href="/direct-mail"' in page.text
        client.post("/logout")


def test_with_nothing_queued_the_page_says_to_add_a_direct_mail_step_to_a_plan(app, client):
    login(client, make_user("marketer"))
    html = client.get("/direct-mail").text
    assert "No direct mail yet" in html and "add a direct-mail step to a plan" in html
    assert "Build print batch" not in html and 'href="/plans"' in html


def test_the_queue_lists_pieces_with_a_pdf_preview(app, client):
    piece = queue(make_recipient(first_name="<b>Priya</b>"), fmt="postcard")
    login(client, make_user("marketer"))
    html = client.get("/direct-mail").text
    assert "1 piece is queued" in html and "Postcards 1" in html
    assert "&lt;b&gt;Priya&lt;/b&gt; Raman" in html and "Harborview Bank" in html
    assert f'href="/direct-mail/pieces/{piece.id}/preview.pdf"' in html and "Preview PDF" in html
    preview = client.get(f"/direct-mail/pieces/{piece.id}/preview.pdf")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert preview.headers["Content-Disposition"].startswith("attachment;")
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    assert len(PdfReader(io.BytesIO(preview.data)).pages) == 2
    assert client.get("/direct-mail/pieces/9999/preview.pdf").status_code == 404


@pytest.mark.csrf
def test_build_starts_a_batch_that_polls_until_the_job_builds_it_then_offers_downloads(app, client, print_folder):
    queue(make_recipient())
    login(client, make_user("campaign"))
    page = client.get("/direct-mail").text
    assert "Build print batch" in page
    assert client.post("/direct-mail/batches").status_code == 400  # no CSRF token: refused
    response = client.post("/direct-mail/batches", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    batch = db.session.scalar(select(DirectMailBatch))
    assert (batch.status, batch.pieces_count) == ("building", 1)
    html = client.get("/direct-mail").text
    assert f'hx-get="/direct-mail/batches/{batch.id}"' in html and 'hx-trigger="every 2s"' in html
    assert "Building" in html and "1 piece is queued" not in html
    assert client.get(f"/direct-mail/batches/{batch.id}/batch.pdf").status_code == 404  # not ready yet

    assert jobs.direct_mail_batches() == 1  # the scheduler's recurring job
    db.session.expire_all()
    row = client.get(f"/direct-mail/batches/{batch.id}", headers=HX)
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="batch-{batch.id}"')
    assert "hx-trigger" not in row.text and "Ready to print" in row.text and "HX-Request" in row.headers["Vary"]
    assert "Download PDF" in row.text and "Download manifest (CSV)" in row.text

    pdf = client.get(f"/direct-mail/batches/{batch.id}/batch.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f"attachment; filename=direct-mail-batch-{batch.id}.pdf"
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    manifest = client.get(f"/direct-mail/batches/{batch.id}/manifest.csv")
    assert manifest.status_code == 200 and manifest.mimetype == "text/csv"
    assert manifest.headers["Content-Disposition"].startswith("attachment;")
    text = manifest.data.decode("utf-8-sig")
    assert text.startswith("sequence,piece id,pages,format,name") and "Priya Raman" in text
    # files live under the print folder, never under static/
    assert sorted(p.suffix for p in print_folder.iterdir()) == [".csv", ".pdf"]
    assert client.get(f"/direct-mail/batches/{batch.id}").text.count("Download PDF") == 1  # full page too


def test_a_failed_batch_shows_the_error_in_words(app, client, print_folder):
    queue(make_recipient())
    from abmcontent import direct_mail

    batch = direct_mail.start_batch(None, NOW)
    batch.status, batch.error = "failed", "the postcard for Priya Raman does not fit on its two sides"
    db.session.commit()
    login(client, make_user("marketer"))
    html = client.get("/direct-mail").text
    assert "Failed" in html and "does not fit on its two sides" in html and "back in the queue" in html
    assert client.get(f"/direct-mail/batches/{batch.id}/manifest.csv").status_code == 404


def test_an_address_failure_is_listed_with_its_reason(app, client):
    from datetime import timedelta

    from abmcontent import dispatch, touchpoints
    from tests.conftest import make_asset

    contact = make_recipient(postal_code="")
    asset = make_asset(status="published")
    touchpoints.schedule(account_id=contact.account_id, contact_id=contact.id, channel="direct_mail", due_at=NOW,
                         window_end_at=NOW + timedelta(hours=8), key="bad", now=NOW, asset_id=asset.id)
    dispatch.dispatch_once(NOW, "w1")
    login(client, make_user("marketer"))
    html = client.get("/direct-mail").text
    assert "Not printed: addresses to fix" in html and "the postal code is missing" in html
