import re

import pytest

from abmcontent import markup


@pytest.mark.parametrize("body, forbidden", [
    ("<script>alert(1)</script>", "<script"),
    ('<img src=x onerror="alert(1)">', "<img"),
    ("[click](javascript:alert(1))", "javascript:"),
    ("![x](javascript:alert(1))", "javascript:"),
    ('<a href="/x" hx-get="/admin" hx-trigger="load">x</a>', "<a href=\"/x\" hx-get"),
    ('<div hx-post="/library/1/status" hx-vals=\'{"to":"published"}\'>x</div>', "<div hx-post"),
    ("<iframe src=https://evil.example></iframe>", "<iframe"),
    ('<svg onload="alert(1)"></svg>', "<svg"),
    ("[x](data:text/html;base64,PHNjcmlwdD4=)", "data:text/html"),
])
def test_raw_html_and_dangerous_links_never_reach_the_page(body, forbidden):
    html = markup.render(body)
    assert forbidden not in html
    assert not re.search(r"<[^>]*\son\w+=", html)  # no live event handler on any tag
    assert not re.search(r"<[^>]*\shx-", html)


def test_markdown_features_survive_sanitizing():
    html = markup.render("## Plan\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n\n[site](https://x.example)")
    assert "<h2>Plan</h2>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<li>one</li>" in html
    assert 'href="https://x.example"' in html and 'rel="noopener noreferrer nofollow"' in html


def test_merge_values_are_escaped_not_interpreted():
    html = markup.render("Welcome, **{{ account.name }}**", {"account.name": '<img src=x onerror=alert(1)> & "Co"'})
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp;" in html
    assert "<strong>" in html


def test_merge_value_cannot_smuggle_markdown_links():
    html = markup.render("{{ account.name }}", {"account.name": "[win](javascript:alert(1))"})
    assert "<a" not in html


def test_merge_field_inside_a_link_keeps_the_link_safe():
    html = markup.render("[Your page](https://x.example/{{ account.domain }})",
                         {"account.domain": 'acme.example" onclick="x'})
    assert "onclick" not in html.replace("&quot; onclick=&quot;", "")
    assert 'href="https://x.example/acme.example' in html


def test_placeholder_characters_in_author_text_are_harmless():
    assert "\ue000" not in markup.render("odd \ue0000\ue001 text {{ account.name }}", {"account.name": "A"})


def test_render_text_fills_fields_without_markup():
    assert markup.render_text('For {{ account.name | "your team" }}', {}) == "For your team"
