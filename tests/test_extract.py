"""`ingest.extract` and the extractors behind it: Markdown, HTML, DOCX, plain text and PDF.

Every file is built here (`tests/helpers.py`), so each expectation is known by construction.
The fuzz tests at the end check the one promise `extract` makes to the pipeline: whatever
the bytes, it returns text or raises `IngestError`, nothing else.
"""

from __future__ import annotations

import base64
import codecs
import io
import re
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import searchapp.ingest.markup
import searchapp.ingest.pdf
import searchapp.ingest.word
import searchapp.ingest.word_xml
from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.extract import extract, file_type_of
from searchapp.ingest.text import clean_text, meaningful_chars
from searchapp.ingest.types import ExtractedDocument, Limits
from tests.helpers import make_docx, make_pdf

LIMITS = Limits()
FUZZ = settings(
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def failure(data: bytes, source: str, limits: Limits = LIMITS) -> IngestError:
    with pytest.raises(IngestError) as caught:
        extract(data, source, limits)
    return caught.value


def headings(doc: ExtractedDocument) -> list[str]:
    return [s.heading for s in doc.sections]


def section_with(doc: ExtractedDocument, needle: str) -> str:
    found = [s for s in doc.sections if needle in s.text]
    assert found, f"{needle!r} is in no section"
    return found[0].heading


def all_text(doc: ExtractedDocument) -> str:
    return "\n".join(s.text for s in doc.sections)


# ------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(
    ("name", "file_type"),
    [
        ("a.pdf", "pdf"),
        ("A.PDF", "pdf"),
        ("notes.txt", "txt"),
        ("readme.md", "md"),
        ("x.markdown", "md"),
        ("page.html", "html"),
        ("page.htm", "html"),
        ("report.docx", "docx"),
        ("dir.v2/archive.tar.md", "md"),
    ],
)
def test_file_type_by_extension(name: str, file_type: str) -> None:
    assert file_type_of(name) == file_type


@pytest.mark.parametrize("name", ["a.exe", "a.doc", "a.pptx", "noextension", "a.pdf.zip", "a.", ".bashrc"])
def test_unsupported_extension(name: str) -> None:
    error = failure(b"some content", name)
    assert error.reason == FailureReason.UNSUPPORTED_TYPE
    assert ".pdf" in error.detail  # says what is supported


@pytest.mark.parametrize("name", ["a.pdf", "a.txt", "a.md", "a.html", "a.docx"])
def test_zero_bytes_is_empty_file_for_every_type(name: str) -> None:
    assert failure(b"", name).reason == FailureReason.EMPTY_FILE


def test_more_bytes_than_the_limit_is_too_large() -> None:
    error = failure(b"x" * 2000, "a.txt", Limits(max_bytes=1000))
    assert error.reason == FailureReason.TOO_LARGE


# ----------------------------------------------------------------- plain text


def test_plain_text() -> None:
    doc = extract("Café menu\r\n\r\n\r\n\r\nFish and chips – £5".encode("cp1252"), "dir/menu.txt", LIMITS)
    assert doc.file_type == "txt"
    assert doc.title == "menu"
    assert doc.encoding == "cp1252"
    assert doc.pages == 0
    assert len(doc.sections) == 1
    section = doc.sections[0]
    assert section.text == "Café menu\n\nFish and chips – £5"
    assert (section.page, section.heading, section.offset) == (None, "", 0)


def test_plain_text_is_cleaned_and_keeps_its_encoding() -> None:
    doc = extract(
        codecs.BOM_UTF16_LE + "ﬁrst line\r\n\r\n\r\n\r\nsecond".encode("utf-16-le"), "a.txt", LIMITS
    )
    assert doc.encoding == "utf-16-le"
    assert doc.sections[0].text == "first line\n\nsecond"


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html"])
def test_binary_named_as_text_is_not_text(name: str) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert failure(png, name).reason == FailureReason.NOT_TEXT


@pytest.mark.parametrize("name", ["a.txt", "a.md"])
def test_text_without_letters_is_empty(name: str) -> None:
    assert failure(b"  ...  \n --- \n", name).reason == FailureReason.EMPTY_FILE


def test_too_many_characters_is_too_large() -> None:
    for name in ("a.txt", "a.md", "a.html"):
        assert failure(b"word " * 1000, name, Limits(max_chars=1000)).reason == FailureReason.TOO_LARGE


# ------------------------------------------------------------------- markdown

NESTED_MD = """\
# Guide

Intro paragraph.

## Install

How to install.

### On Linux

apt-get it.

### On macOS

brew it.

## Usage

Run it.

# Appendix

Extra notes.
"""


def test_markdown_atx_heading_paths() -> None:
    doc = extract(NESTED_MD.encode(), "guide.md", LIMITS)
    assert doc.file_type == "md"
    assert doc.title == "Guide"
    assert headings(doc) == [
        "Guide",
        "Guide > Install",
        "Guide > Install > On Linux",
        "Guide > Install > On macOS",
        "Guide > Usage",
        "Appendix",
    ]
    assert section_with(doc, "brew it") == "Guide > Install > On macOS"
    assert section_with(doc, "Extra notes") == "Appendix"


def test_markdown_section_offsets_point_into_the_cleaned_text() -> None:
    doc = extract(NESTED_MD.encode(), "guide.md", LIMITS)
    text = clean_text(NESTED_MD)
    for section in doc.sections:
        assert text[section.offset : section.offset + len(section.text)] == section.text


def test_markdown_setext_headings() -> None:
    source = "Big Title\n=========\n\nIntro.\n\nA Part\n------\n\nPart text.\n\nOther Part\n---\n\nMore.\n"
    doc = extract(source.encode(), "s.md", LIMITS)
    assert doc.title == "Big Title"
    assert section_with(doc, "Intro.") == "Big Title"
    assert section_with(doc, "Part text.") == "Big Title > A Part"
    assert section_with(doc, "More.") == "Big Title > Other Part"


def test_markdown_headings_in_fenced_code_are_not_headings() -> None:
    source = (
        "Some intro text.\n\n"
        "```bash\n# install the dependencies\npip install x\n```\n\n"
        "~~~\n## also not a heading\nTitle-ish\n===\n~~~\n\n"
        "```\n~~~\n# still code: a ~~~ line does not close a ``` fence\n```\n\n"
        "## Real Heading\n\nafter code.\n"
    )
    doc = extract(source.encode(), "code.md", LIMITS)
    assert doc.title == "code"  # no H1 outside code: the title is the file's stem
    assert headings(doc) == ["", "Real Heading"]
    assert "# install the dependencies" in doc.sections[0].text
    assert section_with(doc, "still code") == ""
    assert section_with(doc, "after code") == "Real Heading"


def test_markdown_title_is_the_first_h1_even_after_h2() -> None:
    doc = extract(b"## Preface\n\ntext\n\n# The Real Title\n\nbody\n\n# Second H1\n\nmore", "t.md", LIMITS)
    assert doc.title == "The Real Title"
    assert headings(doc) == ["Preface", "The Real Title", "Second H1"]


def test_markdown_heading_text_and_closing_hashes() -> None:
    source = (
        "# Learn C#\n\na\n\n## F# Basics ##\n\nb\n\n### [Link text](http://x.y) and *emphasis* ###\n\nc\n"
    )
    doc = extract(source.encode(), "h.md", LIMITS)
    assert doc.title == "Learn C#"
    assert headings(doc) == [
        "Learn C#",
        "Learn C# > F# Basics",
        "Learn C# > F# Basics > Link text and emphasis",
    ]


def test_markdown_not_headings() -> None:
    source = "#hashtag is not a heading\n\n####### seven is too many\n\ntext"
    doc = extract(source.encode(), "n.md", LIMITS)
    assert headings(doc) == [""]


def test_markdown_indented_code_is_not_a_heading() -> None:
    source = (
        "# Setup\n\nRun this:\n\n    # install the tools\n    make install\n\n"
        "\t## tab-indented, also code\n\nand\n    ---\n\n## Next\n\nmore\n\n   # three spaces is a heading\n"
    )
    doc = extract(source.encode(), "i.md", LIMITS)
    assert headings(doc) == ["Setup", "Setup > Next", "three spaces is a heading"]
    assert section_with(doc, "install the tools") == "Setup"
    assert section_with(doc, "tab-indented") == "Setup"


def test_markdown_indented_fence_markers_are_code() -> None:
    # "    ```" is indented code, so it does not open a fence that would hide the heading.
    source = "intro\n\n    ```\n    code\n\n## After\n\ntext\n"
    assert headings(extract(source.encode(), "f.md", LIMITS)) == ["", "After"]


def test_markdown_yaml_front_matter_is_not_a_heading() -> None:
    source = "---\ntitle: My Post\ntags: [a, b]\ndate: 2020-01-01\n---\n\nIntro text.\n\n## Part\n\nbody\n"
    doc = extract(source.encode(), "post.md", LIMITS)
    assert headings(doc) == ["", "Part"]
    assert section_with(doc, "Intro text.") == ""
    assert "title:" not in all_text(doc)  # metadata, not text (tests/test_markup_cleanup.py)
    assert doc.title == "My Post"


def test_markdown_a_thematic_break_later_on_is_still_setext() -> None:
    # Only a block at the very top is front matter.
    source = "Intro.\n\n---\n\nTitle line\n---\n\nbody\n"
    assert headings(extract(source.encode(), "b.md", LIMITS)) == ["", "Title line"]


@settings(deadline=2000)
@given(
    st.lists(
        st.one_of(
            st.text(st.characters(exclude_characters="\r\n\f"), max_size=40),
            st.sampled_from(["/g1/g2/g3", " /g12/g34/g56 x", "ﬁ", "①", "\u00a8", "_", "\x00\x01"]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_property_indentation_lines_up_with_the_cleaned_lines(lines: list[str], newline: str) -> None:
    # Whatever the lines hold (controls, blanks, ligatures, glyph noise), when all are
    # indented every line left after cleaning is known to be indented.
    for line in lines:
        assert searchapp.ingest.markup._cleans_to_text(line) == bool(clean_text(line)), repr(line)
    raw = newline.join("    " + line for line in lines)
    cleaned = clean_text(raw).split("\n")
    assert searchapp.ingest.markup._indented_lines(raw, cleaned) == {
        i for i, line in enumerate(cleaned) if line
    }


def test_markdown_with_a_utf16_bom_keeps_its_first_heading() -> None:
    data = codecs.BOM_UTF16_LE + "# Title\n\nBody text.\n".encode("utf-16-le")
    doc = extract(data, "bom.md", LIMITS)
    assert doc.title == "Title"
    assert doc.encoding == "utf-16-le"
    assert headings(doc) == ["Title"]


def test_markdown_records_cp1252() -> None:
    doc = extract("# Café\n\n“Quoted” – text".encode("cp1252"), "c.md", LIMITS)
    assert doc.encoding == "cp1252"
    assert doc.title == "Café"


# ----------------------------------------------------------------------- html

HTML = """<!DOCTYPE html>
<html><head><title>  The   Page Title </title>
<style>body { color: red } .secretstyle {}</style>
<script>var secretScript = "do not index";</script>
</head>
<body>
<p>Lead paragraph.</p>
<h1>Main</h1>
<p>Under main.</p>
<script>document.write("secretInlineScript")</script>
<h2>Sub <em>section</em></h2>
<div><p>Deep <b>bold</b> text.</p><!-- secretComment --></div>
<noscript>secretNoscript</noscript>
<h3>Third</h3><ul><li>item one</li><li>item two</li></ul>
<h2>Another</h2><table><tr><td>cell a</td><td>cell b</td></tr></table>
<style>.secretBodyStyle { }</style>
<template><p>secretTemplate</p></template>
</body></html>
"""


def test_html_heading_paths_and_title() -> None:
    doc = extract(HTML.encode(), "page.html", LIMITS)
    assert doc.file_type == "html"
    assert doc.title == "The Page Title"
    assert section_with(doc, "Lead paragraph") == ""
    assert section_with(doc, "Under main") == "Main"
    assert section_with(doc, "Deep bold text") == "Main > Sub section"
    assert section_with(doc, "item two") == "Main > Sub section > Third"
    assert section_with(doc, "cell b") == "Main > Another"


def test_html_never_indexes_scripts_styles_comments_or_templates() -> None:
    doc = extract(HTML.encode(), "page.html", LIMITS)
    text = all_text(doc)
    assert "secret" not in text.lower()
    assert "color" not in text


def test_html_title_falls_back_to_first_h1_then_to_the_name() -> None:
    doc = extract(b"<html><body><h2>Two</h2><p>x</p><h1>One</h1><p>y</p></body></html>", "f.html", LIMITS)
    assert doc.title == "One"
    doc = extract(b"<p>just a paragraph</p>", "dir/fragment.htm", LIMITS)
    assert doc.title == "fragment"


def test_html_blocks_become_lines() -> None:
    doc = extract(b"<p>alpha</p><p>beta</p><div>gamma<br>delta</div>", "b.html", LIMITS)
    assert [line for line in all_text(doc).split("\n") if line] == ["alpha", "beta", "gamma", "delta"]


def test_html_without_text_is_empty() -> None:
    error = failure(b"<html><head><title>t</title><script>x()</script></head><body> </body></html>", "e.html")
    assert error.reason == FailureReason.EMPTY_FILE


def test_html_long_flat_page_is_read() -> None:
    # 30,000 sibling paragraphs (a long book page) is wide, not deep.
    body = "".join(f"<p>paragraph number {i}</p>\n" for i in range(30_000))
    doc = extract(f"<html><body>{body}</body></html>".encode(), "book.html", LIMITS)
    text = all_text(doc)
    assert "paragraph number 0" in text and "paragraph number 29999" in text


def test_html_moderately_deep_nesting_is_read() -> None:
    html = "<div>" * 300 + "deep words here" + "</div>" * 300
    doc = extract(f"<html><body><p>top</p>{html}</body></html>".encode(), "deep.html", LIMITS)
    assert "deep words here" in all_text(doc)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_html_absurd_nesting_fails_cleanly(depth: int) -> None:
    html = "<div>" * depth + "deep words" + "</div>" * depth
    error = failure(f"<html><body>{html}</body></html>".encode(), "deep.html")
    assert error.reason == FailureReason.UNREADABLE
    assert "nested" in error.detail


# ----------------------------------------------------------------------- docx


def test_docx_heading_paths_tables_and_core_title() -> None:
    data = make_docx(
        [
            ("Normal", "Preamble text."),
            ("Heading 1", "Chapter One"),
            ("Normal", "First chapter text."),
            ("Heading 2", "Section A"),
            ("Normal", "Section A text."),
            ("table", "Name|Q1|Q2|Total\nWidgets|10|10|20\nGadgets|3|4|7"),
            ("Heading 1", "Chapter Two"),
            ("Normal", "Second chapter text."),
        ],
        title="Core Title",
    )
    doc = extract(data, "report.docx", LIMITS)
    assert doc.file_type == "docx"
    assert doc.title == "Core Title"
    assert section_with(doc, "Preamble") == ""
    assert section_with(doc, "First chapter") == "Chapter One"
    assert section_with(doc, "Section A text") == "Chapter One > Section A"
    assert section_with(doc, "Second chapter") == "Chapter Two"
    # Tables come out one row per line, cells joined; equal values in different cells all stay.
    lines = all_text(doc).split("\n")
    assert "Name | Q1 | Q2 | Total" in lines
    assert "Widgets | 10 | 10 | 20" in lines
    assert "Gadgets | 3 | 4 | 7" in lines
    assert section_with(doc, "Widgets") == "Chapter One > Section A"


def test_docx_merged_cells_appear_once() -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    for r in range(2):
        for c in range(3):
            table.cell(r, c).text = f"r{r}c{c}"
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "wide header"
    buffer = io.BytesIO()
    document.save(buffer)
    doc = extract(buffer.getvalue(), "m.docx", LIMITS)
    lines = all_text(doc).split("\n")
    assert lines == ["wide header | r0c2", "r1c0 | r1c1 | r1c2"]


def test_docx_vertically_merged_cells_appear_once() -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=3, cols=2)
    for r in range(3):
        table.cell(r, 0).text = f"row {r}"
    table.cell(0, 1).merge(table.cell(2, 1)).text = "tall cell"
    buffer = io.BytesIO()
    document.save(buffer)
    lines = all_text(extract(buffer.getvalue(), "v.docx", LIMITS)).split("\n")
    assert lines == ["row 0 | tall cell", "row 1", "row 2"]


def _docx_with(member: str, old: bytes, new: bytes) -> bytes:
    seed = make_docx([("Heading 1", "Chapter"), ("Normal", "Body text here."), ("table", "a|b\n1|2")])
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed)) as source, zipfile.ZipFile(buffer, "w") as out:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == member:
                assert old in body
                body = body.replace(old, new, 1)
            out.writestr(item, body)
    return buffer.getvalue()


@pytest.mark.timeout(30)
def test_docx_huge_grid_span_is_read_without_expanding_it() -> None:
    # python-docx's row.cells makes one object per spanned grid column: 10^8 here.
    data = _docx_with(
        "word/document.xml", b"<w:tc>", b'<w:tc><w:tcPr><w:gridSpan w:val="99999999"/></w:tcPr>'
    )
    assert len(data) < 50_000
    doc = extract(data, "span.docx", LIMITS)
    assert "a | b" in all_text(doc).split("\n")


def test_docx_with_damaged_styles_is_read_unstyled() -> None:
    # Found by the fuzz test below: a bad type on the default style raised ValueError out
    # of extract() for every paragraph that uses the default style.
    data = _docx_with("word/styles.xml", b'w:type="paragraph"', b'w:type="aragraph"')
    doc = extract(data, "styles.docx", LIMITS)
    assert section_with(doc, "Body text here.") == "Chapter"  # explicit styles still work


def test_docx_failure_while_reading_blocks_is_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, p: object) -> tuple[str, list[str]]:
        raise KeyError("w:t")

    monkeypatch.setattr(searchapp.ingest.word_xml.StoryReader, "paragraph", broken)
    error = failure(make_docx([("Normal", "text")]), "broken.docx")
    assert error.reason == FailureReason.UNREADABLE
    assert "KeyError" in error.detail


def test_docx_title_falls_back_to_title_style_then_name() -> None:
    doc = extract(make_docx([("Title", "Styled Title"), ("Normal", "body text")]), "x.docx", LIMITS)
    assert doc.title == "Styled Title"
    doc = extract(make_docx([("Normal", "body text")]), "dir/plain-name.docx", LIMITS)
    assert doc.title == "plain-name"


def test_docx_that_is_not_a_zip_is_unreadable() -> None:
    error = failure(b"this is plain text, not a docx", "fake.docx")
    assert error.reason == FailureReason.UNREADABLE
    error = failure(make_pdf(["a pdf named docx"]), "fake.docx")
    assert error.reason == FailureReason.UNREADABLE
    assert "PDF" in error.detail


def test_docx_zip_without_a_document_is_unreadable() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word file")
    error = failure(buffer.getvalue(), "z.docx")
    assert error.reason == FailureReason.UNREADABLE
    assert "word/document.xml" in error.detail


def test_docx_with_broken_xml_is_unreadable() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_docx([("Normal", "x")]))) as source,
        zipfile.ZipFile(buffer, "w") as out,
    ):
        for item in source.infolist():
            body = source.read(item)
            out.writestr(item, b"<w:document><unclosed" if item.filename == "word/document.xml" else body)
    assert failure(buffer.getvalue(), "broken.docx").reason == FailureReason.UNREADABLE


def test_docx_zip_bomb_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(searchapp.ingest.word, "MAX_UNPACKED_BYTES", 1024 * 1024)
    buffer = io.BytesIO()
    seed = io.BytesIO(make_docx([("Normal", "x")]))
    with zipfile.ZipFile(seed) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            out.writestr(item, source.read(item))
        out.writestr("word/media/zeros.bin", b"\0" * (2 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 100_000
    error = failure(data, "bomb.docx")
    assert error.reason == FailureReason.TOO_LARGE


def test_docx_without_text_is_empty() -> None:
    assert failure(make_docx([("Normal", "   ")]), "blank.docx").reason == FailureReason.EMPTY_FILE


def test_docx_too_many_characters_is_too_large() -> None:
    data = make_docx([("Normal", "word " * 500)] * 10)
    assert failure(data, "big.docx", Limits(max_chars=2000)).reason == FailureReason.TOO_LARGE


# ------------------------------------------------------------------------ pdf

PAGES = [
    "Page one talks about apples and orchards.",
    "Page two is about bananas and plantations.",
    "Page three covers cherries and their blossoms.",
]


@pytest.mark.parametrize("extractor", ["pypdf", "pdfium"])
def test_pdf_pages_are_numbered_from_one(extractor: str) -> None:
    doc = extract(make_pdf(PAGES, title="Fruit Report"), "fruit.pdf", Limits(pdf_extractor=extractor))
    assert doc.file_type == "pdf"
    assert doc.pages == 3
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert ["apples" in doc.sections[0].text, "bananas" in doc.sections[1].text] == [True, True]
    assert "cherries" in doc.sections[2].text
    assert doc.title == "Fruit Report"
    assert all(s.offset == 0 for s in doc.sections)  # PDF offsets are within the page
    assert doc.warnings == ()


@pytest.mark.parametrize("extractor", ["pypdf", "pdfium"])
def test_pdf_blank_page_is_skipped_silently(extractor: str) -> None:
    """A page with nothing on it has nothing to read or to warn about; OCR is not tried."""
    doc = extract(make_pdf([PAGES[0], "", PAGES[2]]), "gap.pdf", Limits(pdf_extractor=extractor))
    assert [s.page for s in doc.sections] == [1, 3]
    assert doc.pages == 3
    assert doc.warnings == ()


@pytest.mark.parametrize("extractor", ["pypdf", "pdfium"])
def test_pdf_page_with_marks_but_no_text_is_named_in_a_warning(extractor: str) -> None:
    doc = extract(make_pdf([PAGES[0], ".", PAGES[2]]), "gap.pdf", Limits(pdf_extractor=extractor, ocr="off"))
    assert [s.page for s in doc.sections] == [1, 3]
    assert doc.warnings == ("1 of 3 pages has no text layer; OCR is off (SEARCHAPP_OCR=off): page 2",)


def test_pdf_title_from_first_line_without_metadata_or_with_junk_metadata() -> None:
    doc = extract(make_pdf(["Quarterly Results\nRevenue grew by ten percent."]), "q.pdf", LIMITS)
    assert doc.title == "Quarterly Results"
    doc = extract(
        make_pdf(["Quarterly Results\nmore text here"], title="Microsoft Word - q3.docx"), "q.pdf", LIMITS
    )
    assert doc.title == "Quarterly Results"


def test_pdf_too_many_pages_is_too_large() -> None:
    error = failure(
        make_pdf([f"page {i} has some text on it" for i in range(6)]), "p.pdf", Limits(max_pages=5)
    )
    assert error.reason == FailureReason.TOO_LARGE
    assert "6 pages" in error.detail


def test_pdf_too_many_characters_is_too_large() -> None:
    data = make_pdf(["lots of words on this page " * 20] * 4)
    assert failure(data, "c.pdf", Limits(max_chars=1000)).reason == FailureReason.TOO_LARGE
    assert extract(data, "c.pdf", Limits(max_chars=100_000)).pages == 4


def test_pdf_aes_encrypted_with_an_empty_user_password_opens() -> None:
    data = make_pdf(["Permissions only; anyone may read this text."], encrypt_user_password="")
    assert b"/Encrypt" in data
    doc = extract(data, "open.pdf", LIMITS)
    assert "anyone may read" in all_text(doc)


@pytest.mark.parametrize("extractor", ["pypdf", "pdfium"])
def test_pdf_with_a_user_password_is_password_protected(extractor: str) -> None:
    data = make_pdf(["Top secret text."], encrypt_user_password="hunter2")
    error = failure(data, "locked.pdf", Limits(pdf_extractor=extractor))
    assert error.reason == FailureReason.PASSWORD_PROTECTED
    assert "hunter2" not in str(error)


@pytest.mark.parametrize("fraction", [0.05, 0.25, 0.5, 0.75, 0.9, 0.97])
def test_truncated_pdf_is_damaged(fraction: float) -> None:
    data = make_pdf(PAGES)
    error = failure(data[: int(len(data) * fraction)], "cut.pdf")
    assert error.reason == FailureReason.DAMAGED_PDF


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 20,
        b"%PDF-1.7\n",
        b"%PDF-1.4\n%%EOF\n",
        b"%PDF-" + b"\xff" * 3000,
        b"hello, I am a text file named .pdf",
    ],
    ids=["random", "header-only", "header-eof", "header-junk", "text"],
)
def test_not_really_a_pdf_is_damaged(data: bytes) -> None:
    assert failure(data, "bad.pdf").reason == FailureReason.DAMAGED_PDF


@pytest.mark.parametrize("extractor", ["pypdf", "pdfium"])
def test_pdf_without_text_is_no_text(extractor: str) -> None:
    error = failure(make_pdf(["", "  ", "."]), "scan.pdf", Limits(pdf_extractor=extractor))
    assert error.reason == FailureReason.NO_TEXT
    assert "its 3 pages have no text layer, and OCR found no text" in error.detail
    assert str(error).count("scanned") == 1  # the label says it; the detail does not repeat it


@pytest.mark.parametrize("extractor", ["pypdf", "pdfium"])
def test_pdf_of_blank_pages_is_damaged_or_blank_not_scanned(extractor: str) -> None:
    error = failure(make_pdf(["", ""]), "blank.pdf", Limits(pdf_extractor=extractor))
    assert error.reason == FailureReason.DAMAGED_PDF
    assert (
        error.detail
        == "all of its 2 pages are empty (no text, no images, no drawing): the file is damaged or blank"
    )


def repairable_pdf() -> bytes:
    """Junk before the header and no startxref offset: pypdf refuses it, pdfium repairs it."""
    return b"junk before the header\n" + re.sub(rb"startxref\n\d+\n", b"startxref\n\n", make_pdf(PAGES[:1]))


def test_pdf_pdfium_repairs_silently_damaged_files_and_says_so() -> None:
    doc = extract(repairable_pdf(), "repair.pdf", Limits(pdf_extractor="pdfium"))
    assert "apples" in all_text(doc)
    assert doc.warnings == ("repaired: skipped 23 bytes of junk before the %PDF header",)


def test_pdf_pypdf_cannot_open_falls_back_to_pdfium_with_a_warning() -> None:
    doc = extract(repairable_pdf(), "repair.pdf", Limits(pdf_extractor="pypdf"))
    assert "apples" in all_text(doc)
    assert len(doc.warnings) == 1
    assert doc.warnings[0].startswith("repaired: read with pdfium after")


PAGE_READERS = {"pypdf": "_pypdf_page_text", "pdfium": "_pdfium_page_text"}


@pytest.mark.parametrize("extractor", ["pdfium", "pypdf"])
def test_pdf_unreadable_pages_are_skipped_with_a_warning(
    extractor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = getattr(searchapp.ingest.pdf, PAGE_READERS[extractor])

    def flaky(document: object, index: int) -> str:
        if index == 1:
            raise ValueError("corrupt content stream")
        return str(original(document, index))

    monkeypatch.setattr(searchapp.ingest.pdf, PAGE_READERS[extractor], flaky)
    doc = extract(make_pdf(PAGES), "flaky.pdf", Limits(pdf_extractor=extractor))
    assert [s.page for s in doc.sections] == [1, 3]
    assert doc.warnings == ("1 of 3 pages could not be read (damaged?): page 2",)


@pytest.mark.parametrize("extractor", ["pdfium", "pypdf"])
def test_pdf_with_no_readable_page_is_damaged(extractor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(document: object, index: int) -> str:
        raise KeyError("/Contents")

    monkeypatch.setattr(searchapp.ingest.pdf, PAGE_READERS[extractor], broken)
    error = failure(make_pdf(PAGES), "broken.pdf", Limits(pdf_extractor=extractor))
    assert error.reason == FailureReason.DAMAGED_PDF
    assert "none of its 3 pages could be read" in error.detail


def test_pdf_right_to_left_pages_are_read_by_pypdf_and_others_by_pdfium(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only pages where pdfium found Hebrew or Arabic pay for pypdf."""
    read_by_pypdf: list[int] = []
    original = searchapp.ingest.pdf._pypdf_page_text

    def counting(reader: object, index: int) -> str:
        read_by_pypdf.append(index)
        return str(original(reader, index))

    monkeypatch.setattr(searchapp.ingest.pdf, "_pypdf_page_text", counting)
    monkeypatch.setattr(
        searchapp.ingest.pdf,
        "_pdfium_page_text",
        lambda document, index: "טקסט הפוך עברית" if index == 1 else f"page {index} plain English text",
    )
    doc = extract(make_pdf(PAGES), "rtl.pdf", Limits(pdf_extractor="pdfium"))
    assert read_by_pypdf == [1]
    assert doc.sections[1].text == PAGES[1]  # pypdf's text replaced pdfium's for that page
    assert doc.sections[0].text == "page 0 plain English text"


def test_pdf_cjk_letter_spacing_is_closed_up_but_word_spacing_is_kept() -> None:
    assert searchapp.ingest.pdf._unspace_cjk("红 军 作 战 的 原 则") == "红军作战的原则"
    assert (
        searchapp.ingest.pdf._unspace_cjk("山田 太郎は東京に住んでいます") == "山田 太郎は東京に住んでいます"
    )
    assert searchapp.ingest.pdf._unspace_cjk("적립 제외 대상") == "적립 제외 대상"  # Hangul spaces words


def test_pdf_cjk_line_wraps_are_joined_but_headings_stay() -> None:
    wrapped = "目 录\n这是一个很长的段落它在页面的边缘\n被折行了。\nこ\nれ\nは\n本"
    assert (
        searchapp.ingest.pdf._join_cjk_wraps(wrapped)
        == "目 录\n这是一个很长的段落它在页面的边缘被折行了。\nこれは本"
    )
    assert searchapp.ingest.pdf._join_cjk_wraps("English line\nnext line") == "English line\nnext line"


def test_pdf_glyph_noise_and_spacing_are_cleaned() -> None:
    doc = extract(make_pdf(["The office /g12/g34/g56   report\n\n\n\nends here."]), "g.pdf", LIMITS)
    text = all_text(doc)
    assert "/g12" not in text
    assert "office report" in text


# ----------------------------------------------------------------------- fuzz

SEED_PDF = make_pdf(PAGES[:2], title="Seed")
SEED_DOCX = make_docx([("Heading 1", "Seed heading"), ("Normal", "Seed body text."), ("table", "a|b\n1|2")])
PDF_TOKENS = [b"<<", b">>", b"[", b"]", b" 0 R", b"/Kids", b"/Count 99999999", b"-1", b"obj", b"endobj"]
PDF_TOKENS += [
    b"stream\n",
    b"endstream",
    b"/Length 0",
    b"/Filter /FlateDecode",
    b"/Encrypt",
    b"xref",
    b"%%EOF",
]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """The seed with 1-6 edits: changed bytes, cuts, random insertions, PDF tokens, truncation."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["set", "set", "set", "cut", "insert", "token", "token", "truncate"]))
        if kind == "set" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "token":
            data[pos:pos] = draw(st.sampled_from(PDF_TOKENS))
        elif kind == "truncate":
            del data[pos:]
    return bytes(data)


def check_extract_contract(data: bytes, source: str, limits: Limits = LIMITS) -> None:
    try:
        doc = extract(data, source, limits)
    except IngestError as exc:
        event(f"failed: {exc.reason.value}")
        assert isinstance(exc.reason, FailureReason)
        assert exc.detail
        return
    event("extracted")
    # Success never means silently empty.
    assert doc.sections
    assert any(meaningful_chars(s.text) for s in doc.sections)
    if doc.file_type == "pdf":
        assert all(1 <= (s.page or 0) <= doc.pages for s in doc.sections)


@pytest.mark.timeout(600)
@FUZZ
@given(data=mutated(SEED_PDF), extractor=st.sampled_from(["pypdf", "pdfium"]))
def test_fuzz_mutated_pdf_raises_only_ingest_error(data: bytes, extractor: str) -> None:
    check_extract_contract(data, "fuzz.pdf", Limits(pdf_extractor=extractor))


# A mutated PDF whose one text page pypdf reads as U+FFFD only (found by the fuzz test
# above): garbled, and OCR could not render it, so its "text" became a passage of nothing.
REPLACEMENT_PAGE_PDF = (
    "eNqtk91u00AQhcutn+LcRGqRqL3+j1RVIpAIRCuqxhIXFRebeJJuMbvR7gYKL8kFb1BehF07f8KlEhK2ZdlnzszsfGsPrl5P"
    "XhydpsHg4dePnwFDBDW7C87OEFbfVoTwFbe8UUuEV3xJBrEzXOP8PCBZe2PcS+h84TtRG9xkLnyEwid9dLXUWlpXYp+e9NIn"
    "ylnC6Xpm21cvMoQjbqiLvKHmC1kx5wjHcq5qId3aPgj5UhqxE/YN0oMGFySX9hYl83FjNfHPwahyLRkYQ7UAS1FdIItQlBGq"
    "Gsd+FihJcAw+GfCZWlvw1apxE3JZQ+n5Lde1OT1BdYfqOcaVb7ypvVlC9igif9fU4vBEw0uqBR+pe9xETshZjDKNW2bSOptB"
    "2vmuyai1nrsF+Hotk/aBIdlsTXdtu+ePAIj/DYD9qiC208+4dGc3/qrh0nIrlHyaQPF/CORPEHj2dwLlYXdhG8LxlKg+ObDc"
    "a1oEEYZBtDuQZ1mSYYGdxtxGthG51/K0p7G46Glx3PclWb9e6r7NP7WcJT2tSIZ7zWouGtLtfFPxnTB0jJSyYB2vt3KhUG7/"
    "W2O5tu28ReH++sH4/ST4DRvfFVk="
)


def test_a_page_of_replacement_characters_is_no_text() -> None:
    data = zlib.decompress(base64.b64decode(REPLACEMENT_PAGE_PDF))
    with pytest.raises(IngestError) as caught:
        extract(data, "fuzz.pdf", Limits(pdf_extractor="pypdf"))
    assert caught.value.reason is FailureReason.NO_TEXT, caught.value


@pytest.mark.timeout(600)
@FUZZ
@given(data=st.binary(max_size=3000), name=st.sampled_from(["f.md", "f.html", "f.txt", "f.docx", "f.pdf"]))
def test_fuzz_arbitrary_bytes_raise_only_ingest_error(data: bytes, name: str) -> None:
    check_extract_contract(data, name)


@pytest.mark.timeout(600)
@FUZZ
@given(
    text=st.lists(
        st.one_of(
            st.text(max_size=6),
            st.sampled_from(["<", ">", "/", "#", "=", "-", "```", "~~~", "\n", " ", "word", "<h1>", "</h2>"]),
            st.sampled_from(["<script>", "</script>", "<div>", "<title>", "<!--", "-->", "&amp;", "\r\n"]),
        ),
        max_size=150,
    ).map("".join),
    name=st.sampled_from(["f.md", "f.html", "f.txt"]),
)
def test_fuzz_arbitrary_markup_text_raises_only_ingest_error(text: str, name: str) -> None:
    check_extract_contract(text.encode("utf-8", "surrogatepass"), name)


@pytest.mark.timeout(600)
@FUZZ
@given(data=mutated(SEED_DOCX))
def test_fuzz_mutated_docx_raises_only_ingest_error(data: bytes) -> None:
    check_extract_contract(data, "fuzz.docx")


def _rezip(seed: bytes, member: str, body: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed)) as source, zipfile.ZipFile(buffer, "w") as out:
        for item in source.infolist():
            out.writestr(item, body if item.filename == member else source.read(item))
    return buffer.getvalue()


with zipfile.ZipFile(io.BytesIO(SEED_DOCX)) as _archive:
    SEED_DOCUMENT_XML = _archive.read("word/document.xml")
    SEED_STYLES_XML = _archive.read("word/styles.xml")


@pytest.mark.timeout(600)
@FUZZ
@given(
    member=st.sampled_from(["word/document.xml", "word/styles.xml"]),
    edit=st.data(),
)
def test_fuzz_docx_with_mutated_xml_raises_only_ingest_error(member: str, edit: st.DataObject) -> None:
    # A valid ZIP around damaged XML gets past the archive checks into python-docx.
    seed = SEED_DOCUMENT_XML if member == "word/document.xml" else SEED_STYLES_XML
    check_extract_contract(_rezip(SEED_DOCX, member, edit.draw(mutated(seed))), "fuzz.docx")
