"""Markdown to safe HTML (DESIGN.md decision 4): raw HTML off, output sanitized with nh3.

Merge fields are swapped for inert placeholders before markdown runs, so markdown
never mangles them, and values are substituted HTML-escaped before the sanitizer,
so nothing a CRM or a visitor put in a name can add markup.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache

import markdown
import nh3
from markupsafe import Markup

from abmcontent import merge_fields

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"}, "th": {"align"},
    "abbr": {"title"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    # Raw HTML is off: without these processors markdown escapes tags as text.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


def sanitize(html_text: str) -> str:
    return nh3.clean(
        html_text, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer nofollow",
    )


@lru_cache(maxsize=4096)
def _compile(body: str) -> tuple[str, tuple[str, ...]]:
    """Markdown → HTML with merge fields as placeholders; cached, it is the slow step."""
    fields: list[str] = []

    def hold(match: re.Match) -> str:
        fields.append(match.group(0))
        return f"\ue000{len(fields) - 1}\ue001"

    held = re.sub(r"\{\{.*?\}\}", hold, body.replace("\ue000", "").replace("\ue001", ""), flags=re.S)
    return _markdown().convert(held), tuple(fields)


def render(body: str, values: dict[str, str] | None = None) -> Markup:
    """Markdown body → sanitized HTML with merge fields filled from values (None: fallbacks)."""
    compiled, fields = _compile(body)
    values = values or {}

    def fill(match: re.Match) -> str:
        return merge_fields.render(fields[int(match.group(1))], values, escape=html.escape)

    return Markup(sanitize(_PLACEHOLDER.sub(fill, compiled)))


def render_text(text: str, values: dict[str, str] | None = None) -> str:
    """Merge fields in a plain-text line such as a title or a subject (escaped later by Jinja)."""
    return merge_fields.render(text, values or {})
