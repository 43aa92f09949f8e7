"""Stored touchpoint reasons, said in the reader's language; unknown ones shown as they are."""
from __future__ import annotations

import pytest
from flask_babel import force_locale

from abmcontent.web.reasons import say_outcome


@pytest.mark.parametrize("stored,english", [
    ("frequency cap: 3 touches in 7 days for this account",
     "Held back by the frequency cap: 3 touches in 7 days for this account."),
    ("frequency cap: 3 touches in 7 days for this account; the next free slot is past the send window",
     "Held back by the frequency cap: 3 touches in 7 days for this account; the next free slot is past the send "
     "window."),
    ("the plan stopped for this account: meeting booked", "The plan stopped for this account: Meeting booked."),
    ("send rate to bank.example: 120 a minute", "Waiting: at most 120 messages a minute to bank.example."),
    ("SMTP 550 5.1.1 no such user", "The mail server answered 550: 5.1.1 no such user"),
    ("step removed from the plan by cm@x.example", "Cancelled: its step was removed from the plan by cm@x.example."),
])
def test_known_reasons_are_said_in_words(app, stored, english):
    with app.test_request_context():
        assert say_outcome(stored) == english


def test_reasons_are_said_in_korean_to_a_korean_reader(app):
    with app.test_request_context(), force_locale("ko"):
        said = say_outcome("frequency cap: 3 touches in 7 days for this account")
    assert "3" in said and "7" in said and "frequency" not in said


def test_an_unknown_reason_is_shown_as_it_is(app):
    with app.test_request_context():
        assert say_outcome("the printer caught fire") == "the printer caught fire"
        assert say_outcome(None) == ""


def test_channel_reasons_for_events_and_letters_are_said_in_words(app):
    with app.test_request_context():
        assert say_outcome("already registered for this event") == "Skipped: already registered for this event."
        assert say_outcome("address: no postal code") == "Not printed: fix the postal address (no postal code)."
