"""Markdown and HTML text that a reader never sees is not indexed: front matter, HTML
comments, page navigation, headers and footers; HTML tables keep their rows; and the
decoder's warnings reach the document (found by an exploratory tester)."""

from __future__ import annotations

import pytest

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.extract import extract
from searchapp.ingest.types import ExtractedDocument, Limits

LIMITS = Limits()


def all_text(doc: ExtractedDocument) -> str:
    return "\n".join(s.text for s in doc.sections)


def heading_of(doc: ExtractedDocument, needle: str) -> str:
    found = [s for s in doc.sections if needle in s.text]
    assert found, f"{needle!r} is in no section"
    return found[0].heading


def empty(data: bytes, source: str) -> None:
    with pytest.raises(IngestError) as caught:
        extract(data, source, LIMITS)
    assert caught.value.reason == FailureReason.EMPTY_FILE


# ------------------------------------------------------------ front matter

YAML_POST = """\
---
title: "Release notes: 2.0"
author: Jane Doe
tags: [release, notes]
date: 2024-05-01
---

Intro paragraph about the release.

# Changes

Many changes.
"""


def test_yaml_front_matter_is_not_text_and_gives_the_title() -> None:
    doc = extract(YAML_POST.encode(), "notes.md", LIMITS)
    text = all_text(doc)
    assert "author" not in text and "Jane Doe" not in text and "2024-05-01" not in text
    assert doc.sections[0].text.startswith("Intro paragraph")
    assert doc.title == "Release notes: 2.0"  # not "Changes", the heading in the middle
    assert heading_of(doc, "Many changes.") == "Changes"


def test_toml_front_matter_is_not_text_and_gives_the_title() -> None:
    source = '+++\ntitle = "Hugo Post"\ndraft = false\n[params]\nkey = "value"\n+++\n\nBody text.\n\n# Heading\n\nmore\n'
    doc = extract(source.encode(), "post.md", LIMITS)
    assert doc.title == "Hugo Post"
    text = all_text(doc)
    assert "draft" not in text and "+++" not in text and "value" not in text
    assert doc.sections[0].text == "Body text."


def test_front_matter_with_crlf_and_yaml_dots_closer() -> None:
    source = "---\r\ntitle: Windows Post\r\nlayout: post\r\n...\r\n\r\nBody.\r\n"
    doc = extract(source.encode(), "w.markdown", LIMITS)
    assert doc.title == "Windows Post"
    assert all_text(doc) == "Body."


def test_a_title_that_is_not_a_plain_string_is_not_the_title() -> None:
    source = "---\ntitle:\n  en: English\n  fr: Francais\n---\n\nText.\n\n# First Heading\n\nx\n"
    doc = extract(source.encode(), "t.md", LIMITS)
    assert doc.title == "First Heading"
    assert "English" not in all_text(doc)


def test_malformed_front_matter_never_fails_the_file() -> None:
    yaml_broken = "---\ntitle: [unclosed\nauthor: x: y: z\n---\n\nBody text.\n"
    doc = extract(yaml_broken.encode(), "broken.md", LIMITS)
    assert all_text(doc) == "Body text."
    assert doc.title == "broken"
    toml_broken = "+++\ntitle = = nope\n+++\n\nBody text.\n"
    doc = extract(toml_broken.encode(), "broken.md", LIMITS)
    assert all_text(doc) == "Body text."


def test_a_dashed_block_that_is_not_metadata_stays_text() -> None:
    # A thematic break, a paragraph, a thematic break: not front matter.
    source = "---\nJust a paragraph between two rules.\n---\n\nMore text.\n"
    doc = extract(source.encode(), "rules.md", LIMITS)
    assert "Just a paragraph between two rules." in all_text(doc)
    # An empty block ("---" twice, as Jekyll allows) is front matter.
    doc = extract(b"---\n---\n\nOnly body.\n", "jekyll.md", LIMITS)
    assert all_text(doc) == "Only body."


def test_a_file_of_front_matter_alone_is_empty() -> None:
    empty(b"---\ntitle: Nothing Else\ntags: [a]\n---\n", "only.md")
    empty(b'+++\ntitle = "Nothing Else"\n+++\n\n', "only.md")


def test_markdown_html_comments_are_not_indexed() -> None:
    source = (
        "# Guide\n\n"
        "Visible text. <!-- TODO: remove internal note --> More visible.\n\n"
        "<!--\nA multi-line\ninternal comment\n-->\n\n"
        "## Part\n\nPart text.<!-- trailing secret -->\n"
    )
    doc = extract(source.encode(), "c.md", LIMITS)
    text = all_text(doc)
    assert "TODO" not in text and "internal" not in text and "secret" not in text
    assert "<!--" not in text and "-->" not in text
    assert "Visible text." in text and "More visible." in text
    assert heading_of(doc, "Part text.") == "Guide > Part"


def test_markdown_comments_in_code_are_text() -> None:
    source = (
        "Intro.\n\n"
        "```html\n<!-- fenced comment -->\n# not a heading\n```\n\n"
        "Use `<!-- span comment -->` in HTML. <!-- hidden -->\n\n"
        "    <!-- indented code comment -->\n\n"
        "End.\n"
    )
    doc = extract(source.encode(), "code.md", LIMITS)
    text = all_text(doc)
    assert "<!-- fenced comment -->" in text
    assert "<!-- span comment -->" in text
    assert "<!-- indented code comment -->" in text
    assert "hidden" not in text
    assert [s.heading for s in doc.sections] == [""]


def test_an_unclosed_comment_is_kept_and_a_file_of_comments_is_empty() -> None:
    doc = extract(b"Text before <!-- never closed\n\nand after.\n", "u.md", LIMITS)
    assert "and after." in all_text(doc)
    empty(b"<!-- only a comment -->\n\n<!--\nanother\n-->\n", "c.md")


# -------------------------------------------------------------------- html

PAGE = b"""<!DOCTYPE html>
<html><head><title>Durian prices</title></head>
<body>
<header><div>Site Header Banner Acme Corp</div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About</a></li>
<li><a href="/contact">Contact us</a></li></ul></nav></header>
<main>
<article>
<header><h1>Durian prices this week</h1><p>By the market desk</p></header>
<p>Durian is expensive this season.</p>
<aside>Related: mangosteen recipes</aside>
<table>
<caption>Prices per kg</caption>
<thead><tr><th>Fruit</th><th>Price</th></tr></thead>
<tbody><tr><td>Durian</td><td>12.50</td></tr><tr><td>Mango <b>(ripe)</b></td><td>3.20</td></tr></tbody>
</table>
</article>
</main>
<footer><p>Copyright 2024 Acme Corp. <a href="/privacy">Privacy policy</a>. Cookie settings.</p></footer>
</body></html>
"""


def test_html_navigation_page_header_aside_and_footer_are_not_indexed() -> None:
    doc = extract(PAGE, "prices.html", LIMITS)
    text = all_text(doc)
    for boilerplate in ("Home", "Contact us", "Site Header Banner", "Copyright", "Cookie", "mangosteen"):
        assert boilerplate not in text
    # A header inside an article is the article's own: kept, with its heading.
    assert "By the market desk" in text
    assert heading_of(doc, "Durian is expensive") == "Durian prices this week"


def test_html_boilerplate_is_kept_when_it_is_all_there_is() -> None:
    page = (
        b"<html><body><nav><a href='/'>Home</a> <a href='/docs'>Documentation index</a></nav></body></html>"
    )
    doc = extract(page, "nav.html", LIMITS)
    assert "Documentation index" in all_text(doc)
    page = b"<html><body><header><h1>Coming soon</h1></header><footer>Contact: a@b.c</footer></body></html>"
    doc = extract(page, "soon.html", LIMITS)
    assert "Coming soon" in all_text(doc) and "Contact" in all_text(doc)


def test_html_tables_keep_their_rows() -> None:
    doc = extract(PAGE, "prices.html", LIMITS)
    lines = all_text(doc).split("\n")
    assert "Prices per kg" in lines
    assert "Fruit | Price" in lines
    assert "Durian | 12.50" in lines
    assert "Mango (ripe) | 3.20" in lines


def test_html_layout_tables_keep_their_blocks() -> None:
    page = (
        b"<table><tr><td><h1>Old Site</h1><p>First paragraph.</p><p>Second paragraph.</p></td>"
        b"<td><h2>Menu</h2><table><tr><td>a</td><td>b</td></tr></table></td></tr></table>"
    )
    doc = extract(page, "old.html", LIMITS)
    assert heading_of(doc, "Second paragraph.") == "Old Site"
    assert "First paragraph.\n\nSecond paragraph." in all_text(doc)
    assert "a | b" in all_text(doc)  # the inner table holds data


def test_html_table_cells_skip_scripts_and_comments() -> None:
    page = b"<table><tr><td>one<script>secret()</script></td><td><!-- hidden -->two<br>lines</td><td></td></tr></table>"
    doc = extract(page, "t.html", LIMITS)
    assert all_text(doc) == "one | two lines"


# ----------------------------------------------------------- decoder warnings


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"Plain text with a stray\x00 NUL byte in it.", "a.txt"),
        (b"# Title\n\nMarkdown with a stray\x00 NUL byte.", "a.md"),
        (b"<html><body><p>HTML with a stray\x00 NUL byte.</p></body></html>", "a.html"),
    ],
)
def test_decoder_warnings_reach_the_document(data: bytes, name: str) -> None:
    doc = extract(data, name, LIMITS)
    assert any("NUL" in warning for warning in doc.warnings), doc.warnings
    assert "\x00" not in all_text(doc)


def test_an_unsure_encoding_guess_is_a_warning_on_the_document() -> None:
    doc = extract("# Caf\xe9\n\nna\xefve".encode("latin-1"), "guess.md", LIMITS)
    assert any("guessed" in warning for warning in doc.warnings), doc.warnings


def test_a_dashed_block_of_prose_that_is_not_yaml_stays_text() -> None:
    """A first line like "Summary: ..." does not make two rules around prose metadata."""
    page = (
        "---\nSummary: refunds changed in 2024.\nCustomers now get 30 days to ask.\n---\n# Refunds\n\nBody.\n"
    )
    doc = extract(page.encode(), "refunds.md", LIMITS)
    assert "Customers now get 30 days" in all_text(doc)
