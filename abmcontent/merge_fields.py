"""Merge fields: a fixed allow-list substituted by our own small renderer (DESIGN.md decision 3).

Author text is never handed to a template engine. `{{ account.name }}` and
`{{ contact.first_name | "there" }}` are the only forms; anything else between
braces is a validation error on save, and nothing is ever evaluated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from flask_babel import gettext as _

FIELDS = (
    "account.name", "account.industry", "account.city", "account.country", "account.domain",
    "contact.first_name", "contact.last_name", "contact.title",
    "owner.name", "owner.email", "owner.phone",
)
_ALLOWED = frozenset(FIELDS)

_OPEN_CLOSE = re.compile(r"\{\{(.*?)\}\}", re.S)
_FIELD = re.compile(r'^\s*([a-z_]+\.[a-z_]+)\s*(?:\|\s*"([^"{}\r\n]*)"\s*)?$')
_TEMPLATE_TAGS = re.compile(r"\{%|%\}|\{#|#\}|\$\{")


@dataclass(frozen=True)
class MergeError:
    line: int
    text: str
    message: str

    def __str__(self) -> str:
        return _("Line %(line)d: %(message)s", line=self.line, message=self.message)


@dataclass(frozen=True)
class Field:
    name: str
    default: str


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def validate(text: str) -> list[MergeError]:
    """Every problem with the merge fields in text, in order; an empty list means valid."""
    errors: list[MergeError] = []
    for match in _TEMPLATE_TAGS.finditer(text):
        errors.append(MergeError(
            _line_of(text, match.start()), match.group(0),
            _("“%(tag)s” is template syntax, which content cannot use. "
              "Use a merge field such as {{ account.name }}.", tag=match.group(0)),
        ))
    end = 0
    for match in _OPEN_CLOSE.finditer(text):
        # A "{{" left open before this match (e.g. "{{ {{ x }}") is caught below.
        end = match.end()
        parsed = _FIELD.match(match.group(1))
        snippet = match.group(0)[:80]
        line = _line_of(text, match.start())
        if "{{" in match.group(1):
            errors.append(MergeError(line, snippet, _("A merge field is opened with “{{” but never closed.")))
        elif not parsed:
            errors.append(MergeError(line, snippet, _(
                "“%(field)s” is not a merge field. Write one like {{ account.name }} "
                "or {{ contact.first_name | \"there\" }}.", field=snippet)))
        elif parsed.group(1) not in _ALLOWED:
            errors.append(MergeError(line, snippet, _(
                "Unknown merge field “%(name)s”. Available: %(fields)s.",
                name=parsed.group(1), fields=", ".join(FIELDS))))
    rest = text[end:]
    if "{{" in rest:
        errors.append(MergeError(
            _line_of(text, end + rest.index("{{")), "{{",
            _("A merge field is opened with “{{” but never closed.")))
    if "}}" in _OPEN_CLOSE.sub("", text):
        index = _OPEN_CLOSE.sub(lambda m: " " * len(m.group(0)), text).index("}}")
        errors.append(MergeError(_line_of(text, index), "}}",
                                 _("“}}” closes a merge field that was never opened.")))
    errors.sort(key=lambda e: e.line)
    return errors


def fields_in(text: str) -> list[Field]:
    """The valid merge fields in text, in order of appearance."""
    found = []
    for match in _OPEN_CLOSE.finditer(text):
        parsed = _FIELD.match(match.group(1))
        if parsed and parsed.group(1) in _ALLOWED:
            found.append(Field(parsed.group(1), parsed.group(2) or ""))
    return found


def render(text: str, values: dict[str, str], escape: Callable[[str], str] = str) -> str:
    """Substitute merge fields; a missing or empty value takes the field's fallback.

    `escape` is applied to every substituted value (html.escape for HTML output).
    Invalid fields are left as written: validation rejects them before they are saved.
    """
    def substitute(match: re.Match) -> str:
        parsed = _FIELD.match(match.group(1))
        if not parsed or parsed.group(1) not in _ALLOWED:
            return match.group(0)
        value = values.get(parsed.group(1)) or parsed.group(2) or ""
        return escape(value)

    return _OPEN_CLOSE.sub(substitute, text)


def values_for(account=None, contact=None, owner=None) -> dict[str, str]:
    """Merge values from an account, a contact and the account owner (any may be None)."""
    from abmcontent import taxonomy

    values: dict[str, str] = {}
    if account is not None:
        industry = account.industry or ""
        values.update({
            "account.name": account.name or "",
            "account.industry": taxonomy.label("industry", industry) if industry else "",
            "account.city": account.city or "",
            "account.country": account.country or "",
            "account.domain": account.domain or "",
        })
        owner = owner or account.owner
    if contact is not None:
        values.update({
            "contact.first_name": contact.first_name or "",
            "contact.last_name": contact.last_name or "",
            "contact.title": contact.title or "",
        })
    if owner is not None:
        values.update({
            "owner.name": owner.display_name,
            "owner.email": owner.email or "",
            "owner.phone": owner.phone or "",
        })
    return values
