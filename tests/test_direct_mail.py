"""Direct mail: addresses checked per country, pieces queued once per touchpoint, print batches
as one PDF (pages, fonts, Korean text, the address in the envelope window) with a manifest that
matches it, batches that never share a piece, failures that lose nothing, hostile text escaped."""
from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from abmcontent import direct_mail, touchpoints
from abmcontent.extensions import db
from abmcontent.models import Account, Contact, DirectMailBatch, DirectMailPiece
from tests.conftest import NOW, make_asset, make_user

MM = 72 / 25.4  # PDF points per millimetre


# --- factories ----------------------------------------------------------------------------------

def make_recipient(account_name: str = "Harborview Bank", account_country: str = "US", **overrides) -> Contact:
    address = {"street": "100 Federal Street", "city": "Boston", "region": "MA", "postal_code": "02110",
               "country": "US"}
    address.update({key: overrides.pop(key) for key in list(overrides) if key in address})
    account = Account(name=account_name, country=account_country, industry="financials")
    contact = Contact(account=account, first_name=overrides.pop("first_name", "Priya"),
                      last_name=overrides.pop("last_name", "Raman"), title=overrides.pop("title", "CFO"),
                      email=overrides.pop("email", f"{account_name[:5].lower().replace(' ', '')}@example.com"),
                      **address, **overrides)
    db.session.add_all([account, contact])
    db.session.commit()
    return contact


def make_korean_recipient() -> Contact:
    return make_recipient("한빛 데이터", "KR", first_name="지우", last_name="김", title="이사", language="ko",
                          street="테헤란로 152", city="강남구", region="서울특별시", postal_code="06236",
                          country="대한민국")


def direct_mail_touchpoint(contact: Contact, key: str | None = None):
    return touchpoints.schedule(account_id=contact.account_id, contact_id=contact.id, channel="direct_mail",
                                due_at=NOW, window_end_at=NOW + timedelta(hours=8),
                                key=key or f"dm-{contact.id}", now=NOW)


def queue(contact: Contact, fmt: str = "letter", body: str | None = None, asset=None):
    asset = asset or make_asset(status="published", title="A plan for {{ account.name }}",
                                body=body or "Dear {{ contact.first_name | \"reader\" }},\n\n"
                                             "**{{ account.name }}** could close its books in half the time.")
    return direct_mail.queue_piece(direct_mail_touchpoint(contact), contact, asset, fmt, NOW)


def pdf_fonts(reader: PdfReader) -> dict[str, bool]:
    """BaseFont name → embedded (a font file in its descriptor, or in its descendant's)."""
    found: dict[str, bool] = {}
    for page in reader.pages:
        for ref in (page["/Resources"].get("/Font") or {}).values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            found[str(font["/BaseFont"])] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return found


def text_positions(page) -> dict[str, list[tuple[float, float]]]:
    """Each text run → where it is drawn: (x, y from the top) in millimetres."""
    height = float(page.mediabox.height)
    found: dict[str, list[tuple[float, float]]] = {}

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            x = tm[4] * cm[0] + cm[4]
            y = tm[5] * cm[3] + cm[5]
            found.setdefault(text.strip(), []).append((x / MM, (height - y) / MM))

    page.extract_text(visitor_text=visit)
    return found


def markup_of(html: str) -> list[tuple[str, list]]:
    """Every element in the HTML with its attributes, as a browser or WeasyPrint would see them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


# --- address checks -----------------------------------------------------------------------------

GOOD = {
    "US": ("Boston", "MA", "02110-1234"), "CA": ("Toronto", "ON", "M5V 2T6"), "GB": ("London", "", "SW1A 1AA"),
    "IE": ("Dublin", "", "D02 X285"), "DE": ("Berlin", "", "10117"), "FR": ("Paris", "", "75008"),
    "NL": ("Amsterdam", "", "1012 AB"), "BE": ("Brussels", "", "1000"), "ES": ("Madrid", "", "28013"),
    "IT": ("Roma", "RM", "00144"), "CH": ("Zürich", "", "8001"), "AT": ("Wien", "", "1010"),
    "SE": ("Stockholm", "", "111 22"), "NO": ("Oslo", "", "0150"), "DK": ("København", "", "1050"),
    "FI": ("Helsinki", "", "00100"), "PL": ("Warszawa", "", "00-950"), "JP": ("Chiyoda-ku", "Tokyo", "100-0005"),
    "KR": ("강남구", "서울특별시", "06236"), "CN": ("Shanghai", "", "200120"), "SG": ("Singapore", "", "018956"),
    "IN": ("New Delhi", "DL", "110001"), "AU": ("Sydney", "NSW", "2000"), "NZ": ("Auckland", "", "1010"),
    "BR": ("São Paulo", "SP", "01310-100"), "MX": ("Ciudad de México", "CDMX", "06600"),
}


@pytest.mark.parametrize("country", sorted(GOOD))
def test_a_well_formed_address_in_each_supported_country_passes(app, country):
    city, region, postal = GOOD[country]
    assert direct_mail.address_problems("Alex Kim", "Acme", "1 Main Street", city, region, postal, country) == []


@pytest.mark.parametrize("country, postal", [
    ("US", "2110"), ("CA", "M5V 2T"), ("GB", "SW1A"), ("DE", "1011"), ("FR", "7500"), ("NL", "1012"),
    ("ES", "99001"), ("SE", "11122X"), ("PL", "00950"), ("JP", "1000005X"), ("KR", "135-080"), ("CN", "20012"),
    ("SG", "01895"), ("IN", "011001"), ("AU", "20000"), ("BR", "0131"), ("MX", "066"), ("CH", "0800"),
])
def test_a_postal_code_not_in_the_countrys_format_is_named_with_an_example(app, country, postal):
    city, region, _good = GOOD[country]
    problems = direct_mail.address_problems("Alex Kim", "Acme", "1 Main Street", city, region, postal, country)
    assert len(problems) == 1 and f"“{postal}” is not a postal code of" in problems[0]
    assert direct_mail.POSTAL_FORMATS[country][1] in problems[0]


def test_missing_name_street_city_and_postal_code_are_each_named(app):
    problems = direct_mail.address_problems("", "Acme", " ", "", "", "", "DE")
    assert problems == ["the recipient's name is missing", "the street is missing", "the city is missing",
                        "the postal code is missing (Germany addresses need one, e.g. 10115)"]


def test_country_names_in_english_and_korean_are_understood_and_unknown_ones_named(app):
    for name in ("United States", "USA", "united states of america"):
        assert direct_mail.country_code(name) == "US"
    for name in ("South Korea", "Republic of Korea", "대한민국", "한국", "kr"):
        assert direct_mail.country_code(name) == "KR"
    assert direct_mail.country_code("Deutschland") == "DE" and direct_mail.country_code("Atlantis") == ""
    assert direct_mail.address_problems("Alex", "", "1 Main St", "Boston", "MA", "02110", "United States") == []
    problems = direct_mail.address_problems("Alex", "", "1 Main St", "Poseidonia", "", "1234", "Atlantis")
    assert problems == ["“Atlantis” is not a country we know: use a two-letter code such as US, KR or DE"]
    assert direct_mail.address_problems("Alex", "", "1 Main St", "Boston", "MA", "02110", "") == [
        "the country is missing"]


def test_korean_addresses_are_checked_in_korean_with_the_five_digit_postal_code(app):
    assert direct_mail.address_problems("김지우", "한빛 데이터", "테헤란로 152", "강남구", "서울특별시", "06236",
                                        "대한민국") == []
    [problem] = direct_mail.address_problems("김지우", "한빛 데이터", "테헤란로 152", "강남구", "서울특별시",
                                             "135-080", "대한민국")
    assert "“135-080” is not a postal code of South Korea (expected like 06236)" == problem
    # full-width characters take two columns: 25 Hangul syllables overflow a 40-column window line
    [too_long] = direct_mail.address_problems("김지우", "한빛" * 13, "테헤란로 152", "강남구", "서울특별시", "06236", "KR")
    assert "is too long for an envelope window" in too_long


def test_the_us_canada_and_australia_need_a_known_state_or_province(app):
    assert direct_mail.address_problems("Alex", "", "1 Main St", "Boston", "", "02110", "US") == [
        "the state is missing (US addresses need one, e.g. MA)"]
    assert direct_mail.address_problems("Alex", "", "1 Main St", "Boston", "Massachusetts", "02110", "US") == []
    assert direct_mail.address_problems("Alex", "", "1 Main St", "Toronto", "Ontario", "M5V 2T6", "CA") == []
    [problem] = direct_mail.address_problems("Alex", "", "1 Main St", "Sydney", "Sydney", "2000", "AU")
    assert "“Sydney” is not a state or province of Australia" in problem
    assert direct_mail.address_problems("Alex", "", "1 Main St", "Toronto", "", "M5V 2T6", "CA") == [
        "the province is missing (Canadian addresses need one, e.g. ON)"]


def test_countries_without_postal_codes_may_leave_it_empty(app):
    assert direct_mail.address_problems("Alex Kim", "Acme", "1 Queen's Road", "Central", "", "", "HK") == []
    assert direct_mail.address_problems("Alex Kim", "Acme", "Sheikh Zayed Rd", "Dubai", "", "", "AE") == []


def test_a_line_too_long_for_the_envelope_window_is_named(app):
    company = "The International Consolidated Widget Manufacturing Company"
    [problem] = direct_mail.address_problems("Alex", company, "1 Main St", "Boston", "MA", "02110", "US")
    assert problem.startswith(f"the line “{company}” is too long for an envelope window (at most 40")


def test_address_lines_follow_the_destination_post(app):
    assert direct_mail.address_lines("Priya Raman", "Harborview Bank", "100 Federal Street", "Boston", "MA",
                                     "02110", "US", home_country="US") == [
        "Priya Raman", "Harborview Bank", "100 Federal Street", "Boston MA 02110"]
    assert direct_mail.address_lines("Hans Müller", "Rheinwerk AG", "Unter den Linden 5", "Berlin", "", "10117",
                                      "DE", home_country="US") == [
        "Hans Müller", "Rheinwerk AG", "Unter den Linden 5", "10117 Berlin", "GERMANY"]
    assert direct_mail.address_lines("김지우", "한빛 데이터", "테헤란로 152", "강남구", "서울특별시", "06236", "KR",
                                     honorific="님", home_country="KR") == [
        "06236", "서울특별시 강남구", "테헤란로 152", "한빛 데이터", "김지우 님"]


# --- queueing -----------------------------------------------------------------------------------

def test_a_piece_copies_the_address_and_fills_the_merge_fields_keeping_markdown(app):
    piece = queue(make_recipient(country="United States", region="Massachusetts"), fmt="postcard")
    assert (piece.status, piece.format, piece.batch_id) == ("queued", "postcard", None)
    assert (piece.recipient_name, piece.recipient_title, piece.company) == ("Priya Raman", "CFO", "Harborview Bank")
    assert (piece.street, piece.city, piece.region, piece.postal_code, piece.country) == (
        "100 Federal Street", "Boston", "MA", "02110", "US")
    assert piece.subject == "A plan for Harborview Bank"
    assert piece.body.startswith("Dear Priya,\n\n**Harborview Bank** could close")


def test_a_retried_touchpoint_never_queues_a_second_piece(app):
    contact = make_recipient()
    touchpoint = direct_mail_touchpoint(contact)
    asset = make_asset(status="published")
    first = direct_mail.queue_piece(touchpoint, contact, asset, "letter", NOW)
    again = direct_mail.queue_piece(touchpoint, contact, asset, "letter", NOW + timedelta(minutes=5))
    assert first.id == again.id
    assert db.session.scalar(select(func.count()).select_from(DirectMailPiece)) == 1


def test_a_korean_recipient_gets_the_korean_name_order_and_language(app):
    piece = queue(make_korean_recipient())
    assert (piece.recipient_name, piece.language, piece.country, piece.postal_code) == ("김지우", "ko", "KR", "06236")


# --- batches ------------------------------------------------------------------------------------

def test_a_batch_is_one_pdf_in_print_order_and_its_manifest_matches_the_pages(app, tmp_path):
    germany = queue(make_recipient("Rheinwerk AG", "DE", first_name="Hans", last_name="Müller", street="Unter den Linden 5",
                                   city="Berlin", region="", postal_code="10117", country="DE",
                                   title="=HYPERLINK(\"http://evil.example\")"), fmt="postcard")
    korea = queue(make_korean_recipient(), body="{{ contact.last_name }}{{ contact.first_name }} 님, 안녕하세요.\n\n"
                                                "**{{ account.name }}**의 월말 결산을 절반으로 줄이는 방법을 소개합니다.")
    boston = queue(make_recipient())
    batch = direct_mail.start_batch(make_user("campaign"), NOW)
    assert (batch.status, batch.pieces_count) == ("building", 3)
    built = direct_mail.build_batch(batch.id, str(tmp_path), NOW)
    assert built.status == "ready", built.error
    reader = PdfReader(tmp_path / built.pdf_path)
    # postcard 2 sides + two one-page letters
    assert built.pages == len(reader.pages) == 4
    with open(tmp_path / built.manifest_path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # print order: country, then postal code (DE, KR, US)
    assert [int(r["piece id"]) for r in rows] == [germany.id, korea.id, boston.id]
    assert [r["pages"] for r in rows] == ["1-2", "3", "4"]
    assert [r["sequence"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["format"] == "postcard" and rows[0]["country"] == "DE" and rows[0]["postal code"] == "10117"
    assert rows[0]["title"].startswith("'=HYPERLINK")  # formula injection neutralised
    assert rows[1]["name"] == "김지우" and rows[1]["touchpoint id"] == str(korea.touchpoint_id)
    # the pages: 6 × 4 in postcard sides, A4 for Korea, US Letter for Boston
    sizes = [(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages]
    assert sizes == [(432, 288), (432, 288), (595, 842), (612, 792)]
    assert "Hans Müller" in reader.pages[1].extract_text() and "10117 Berlin" in reader.pages[1].extract_text()
    korean = reader.pages[2].extract_text()
    assert "김지우 님, 안녕하세요." in korean and "2026년 11월 2일" in korean and "06236" in korean
    fonts = pdf_fonts(reader)
    assert any("NotoSansCJK" in name.replace("-", "") and embedded for name, embedded in fonts.items()), fonts
    assert all(fonts.values()), fonts
    # the pieces are batched, the batch is done
    assert {p.status for p in db.session.scalars(select(DirectMailPiece))} == {"batched"}
    assert built.finished_at == NOW and built.pieces_count == 3


def test_the_recipient_address_sits_in_the_envelope_window(app, tmp_path):
    queue(make_recipient())
    queue(make_recipient("Rheinwerk AG", "DE", first_name="Hans", last_name="Müller", street="Unter den Linden 5",
                         city="Berlin", region="", postal_code="10117", country="DE"))
    pieces = direct_mail.print_order(db.session.scalars(select(DirectMailPiece)))
    pdf, ranges = direct_mail.render_pdf(pieces, NOW)
    reader = PdfReader(io.BytesIO(pdf))
    assert ranges == [(1, 1), (2, 2)]
    # DIN 5008 form B: window 20 mm from the left, 45–90 mm from the top; the text 25 mm in
    germany = text_positions(reader.pages[0])
    for line in ("Hans Müller", "Rheinwerk AG", "10117 Berlin", "GERMANY"):
        assert any(24 <= x <= 26 and 62 <= y <= 90 for x, y in germany[line]), (line, germany[line])
    # #10 window envelope: the window from ⅞ in left, about 2⅛–3¼ in from the top
    boston = text_positions(reader.pages[1])
    for line in ("Priya Raman", "Harborview Bank", "Boston MA 02110"):
        assert any(0.85 * 25.4 <= x <= 0.95 * 25.4 and 2.125 * 25.4 <= y <= 3.25 * 25.4
                   for x, y in boston[line]), (line, boston[line])


def test_two_batch_runs_at_once_never_share_a_piece(any_db_app):
    app = any_db_app
    contact = make_recipient()
    asset = make_asset(status="published")
    for n in range(40):
        direct_mail.queue_piece(direct_mail_touchpoint(contact, key=f"race-{n}"), contact, asset, "letter", NOW)
    barrier = threading.Barrier(2)
    taken: dict[int, set[int]] = {}
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                batch = direct_mail.start_batch(None, NOW)
                taken[number] = set() if batch is None else {p.id for p in batch.pieces}
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert taken[0].isdisjoint(taken[1]) and len(taken[0] | taken[1]) == 40
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(DirectMailPiece)
                             .where(DirectMailPiece.status == "queued")) == 0


def test_a_large_run_is_split_into_batches_in_print_order(app):
    asset = make_asset(status="published")
    contacts = [make_recipient(f"Company {n}", postal_code=code) for n, code in enumerate(["02139", "02110", "02116"])]
    for contact in contacts:
        direct_mail.queue_piece(direct_mail_touchpoint(contact), contact, asset, "letter", NOW)
    first = direct_mail.start_batch(None, NOW, limit=2)
    assert [p.postal_code for p in direct_mail.print_order(first.pieces)] == ["02110", "02116"]
    assert first.pieces_count == 2
    assert [p.postal_code for p in direct_mail.start_batch(None, NOW, limit=2).pieces] == ["02139"]


def test_nothing_queued_starts_no_batch(app):
    assert direct_mail.start_batch(None, NOW) is None
    assert db.session.scalar(select(func.count()).select_from(DirectMailBatch)) == 0


def test_a_failing_render_fails_the_batch_in_words_and_puts_the_pieces_back(app, tmp_path, monkeypatch):
    piece = queue(make_recipient())
    batch = direct_mail.start_batch(None, NOW)

    def broken(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(direct_mail, "render_pdf", broken)
    folder = tmp_path / "print"
    failed = direct_mail.build_batch(batch.id, str(folder), NOW)
    assert failed.status == "failed" and "no space left on device" in failed.error
    assert failed.error.startswith("the PDF could not be made")
    db.session.refresh(piece)
    assert (piece.status, piece.batch_id) == ("queued", None)
    assert list(folder.iterdir()) == []  # no half-written files
    assert direct_mail.start_batch(None, NOW).pieces_count == 1  # printed with the next batch


def test_a_batch_another_run_is_building_is_not_built_twice(app, tmp_path, monkeypatch):
    queue(make_recipient())
    batch = direct_mail.start_batch(None, NOW)
    assert direct_mail._claim(batch.id, NOW) is not None  # another process took it a moment ago
    monkeypatch.setattr(direct_mail, "render_pdf", lambda *a, **k: pytest.fail("rendered twice"))
    assert direct_mail.build_batch(batch.id, str(tmp_path), NOW + timedelta(minutes=1)).status == "building"
    # …but one whose builder died long ago is taken over
    monkeypatch.undo()
    later = NOW + direct_mail.STALE_BUILD + timedelta(minutes=1)
    assert direct_mail.build_batch(batch.id, str(tmp_path), later).status == "ready"


def test_hostile_merge_values_and_markdown_are_escaped_in_the_print_html(app):
    contact = make_recipient("<script>alert('co')</script>", first_name="<img src=x onerror=alert(1)>",
                             last_name="**bold** [x](javascript:alert(1)) {{ owner.email }}")
    piece = queue(contact, body="Hi {{ contact.first_name }} {{ contact.last_name }}\n\n"
                                "<script>alert('author')</script>\n\n[click](javascript:alert(2)) "
                                "<a href=\"#\" hx-get=\"/x\" onclick=\"evil()\">x</a>")
    html = direct_mail.print_html([piece], NOW)
    tags = markup_of(html)
    assert not [tag for tag, _attrs in tags if tag in ("script", "img", "iframe", "object")]
    assert not [name for _tag, attrs in tags for name, _value in attrs if name.startswith(("on", "hx-"))]
    assert not [value for _tag, attrs in tags for _name, value in attrs if "javascript" in (value or "")]
    assert "&lt;script&gt;alert(" in html           # shown as text, in the address and the letter
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "**bold**" in html and "<strong>bold</strong>" not in html  # a CRM name is never markdown
    assert "{{ owner.email }}" in html               # nor a merge field of its own


def test_the_pdf_renderer_fetches_nothing_from_the_network(app):
    hits: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/pixel.png"
        piece = queue(make_recipient(), body=f"Hello ![pixel]({url})\n\n[site]({url})")
        pdf, _ranges = direct_mail.render_pdf([piece], NOW)
    finally:
        server.shutdown()
    assert pdf.startswith(b"%PDF") and hits == []


def test_a_single_piece_previews_as_its_own_pdf(app):
    piece = queue(make_recipient(), fmt="postcard")
    reader = PdfReader(io.BytesIO(direct_mail.piece_pdf(piece.id, NOW)))
    assert len(reader.pages) == 2 and "Boston MA 02110" in reader.pages[1].extract_text()


def test_the_cli_builds_a_batch_in_the_foreground_and_prints_where_the_files_are(app, runner, tmp_path):
    app.config["PRINT_FOLDER"] = str(tmp_path / "print")
    assert "Nothing to print" in runner.invoke(args=["directmail", "batch"]).output
    queue(make_recipient())
    result = runner.invoke(args=["directmail", "batch"])
    assert result.exit_code == 0, result.output
    batch = db.session.scalar(select(DirectMailBatch))
    assert f"Batch {batch.id} ready: 1 pieces, 1 pages in " in result.output and "pieces/s" in result.output
    assert str(tmp_path / "print" / batch.pdf_path) in result.output
    assert str(tmp_path / "print" / batch.manifest_path) in result.output


def test_an_old_batch_claimed_a_moment_ago_is_not_taken_over(app, tmp_path, monkeypatch):
    """The lease runs from the claim, not from when the batch was started (the scheduler may
    have been down for an hour before it picked the batch up)."""
    queue(make_recipient())
    batch = direct_mail.start_batch(None, NOW)
    an_hour_later = NOW + timedelta(hours=1)
    assert direct_mail._claim(batch.id, an_hour_later) is not None
    monkeypatch.setattr(direct_mail, "render_pdf", lambda *a, **k: pytest.fail("rendered twice"))
    assert direct_mail.build_batch(batch.id, str(tmp_path), an_hour_later + timedelta(minutes=1)).status == "building"
