"""The demo's outbox: with MAIL_URL=outbox://folder every email is written there as a .eml file
instead of going to an SMTP server; the UI lists and shows them, so a demo can see what a plan
sent without a mail server."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import unquote, urlsplit

from abmcontent.errors import NotFound


@dataclass(frozen=True)
class Letter:
    name: str
    subject: str
    to: str
    at: datetime


def folder(mail_url: str) -> Path | None:
    url = urlsplit(mail_url)
    return Path(unquote(url.netloc + url.path)) if url.scheme == "outbox" else None


def letters(mail_url: str, limit: int = 200) -> list[Letter]:
    where = folder(mail_url)
    if where is None or not where.is_dir():
        return []
    files = sorted(where.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    found = []
    for path in files:
        with path.open("rb") as handle:
            headers = message_from_bytes(handle.read(16_384), policy=policy.default)
        found.append(Letter(path.stem, str(headers.get("Subject", "")), str(headers.get("To", "")),
                            datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)))
    return found


def letter(mail_url: str, name: str):
    """(headers, text, html) of one message; NotFound for anything but a file in the outbox."""
    where = folder(mail_url)
    if where is None or "/" in name or "\\" in name or name.startswith(".") or len(name) > 120:
        raise NotFound("That message is not in the outbox.")
    path = where / f"{name}.eml"
    if not path.is_file():
        raise NotFound("That message is not in the outbox.")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return message, text.get_content() if text else "", html.get_content() if html else ""
