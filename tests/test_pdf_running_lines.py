"""A running header or footer that opens, or closes, most of a PDF's pages is not indexed
(`searchapp.ingest.running_lines`). Found by an exploratory tester: on TAMReview's OCR'd
pages the journal's running head became a passage of its own and ranked first for "what
is the technology acceptance model"."""

from __future__ import annotations

import pytest

import searchapp.ingest.ocr
from searchapp.ingest.extract import extract
from searchapp.ingest.running_lines import drop_running_lines
from searchapp.ingest.types import Limits, Section
from tests.helpers import join_pdfs, make_pdf, make_scan_pdf

HEAD = "Overview of the Technology Acceptance Model: Origins, Developments and Future Directions MY Chuttur"
BODIES = (
    "Davis proposed the technology acceptance model in 1985.",
    "Perceived usefulness is the degree to which a person believes that using a system helps.",
    "Perceived ease of use is the degree to which using a system is free of effort.",
    "Later work added subjective norms and experience to the model.",
    "Critics found that self-reported use was not actual use.",
)


def pages_of(texts: list[str]) -> list[Section]:
    return [Section(text=text, page=number) for number, text in enumerate(texts, start=1)]


def test_a_running_head_and_a_page_footer_are_dropped_from_born_digital_pages() -> None:
    pages = [f"{HEAD}\n{body}\nPage {n} of 5" for n, body in enumerate(BODIES, start=1)]
    doc = extract(make_pdf(pages), "tam.pdf", Limits())
    assert [s.text for s in doc.sections] == list(BODIES)
    assert [s.page for s in doc.sections] == [1, 2, 3, 4, 5]


def test_a_running_head_is_dropped_from_ocr_pages() -> None:
    if not searchapp.ingest.ocr.installed_languages():
        pytest.fail("Tesseract is not installed: run scripts/setup.sh (apt-get install tesseract-ocr)")
    cover = make_pdf(["Working Papers on Information Systems\nOverview of the Technology Acceptance Model"])
    scans = make_scan_pdf([f"Running head of the review\n\n{body}" for body in BODIES[:4]])
    doc = extract(join_pdfs(cover, scans), "tam.pdf", Limits())
    assert [s.ocr for s in doc.sections] == [False, True, True, True, True]
    for section in doc.sections[1:]:
        assert "Running head" not in section.text
        assert section.text.split()[0] in {"Davis", "Perceived", "Later"}
    assert "Working Papers" in doc.sections[0].text


def test_what_stays() -> None:
    # Fewer than 4 pages: a head on each of 3 pages may be the content (slides, forms).
    three = [f"{HEAD}\n{body}" for body in BODIES[:3]]
    assert [s.text for s in drop_running_lines(pages_of(three))] == three
    # A line that opens fewer than half of the pages is the content.
    some = [f"{HEAD}\n{BODIES[0]}", f"{HEAD}\n{BODIES[1]}", *BODIES[2:], "Notes\nnone", "Index\nnone"]
    assert [s.text for s in drop_running_lines(pages_of(some))] == some
    # A page with nothing but the head keeps it: a page is never emptied.
    alone = [HEAD, f"{HEAD}\n* * *", *(f"{HEAD}\n{body}" for body in BODIES[:3])]
    assert [s.text for s in drop_running_lines(pages_of(alone))] == [HEAD, f"{HEAD}\n* * *", *BODIES[:3]]
    # A line in the middle of a page is left alone, and so are long lines.
    long_line = "word " * 50
    middle = [f"{body}\n{HEAD}\nmore about {body.split()[0]}" for body in BODIES] + [
        f"{long_line}\n{b}" for b in BODIES
    ]
    assert [s.text for s in drop_running_lines(pages_of(middle))] == middle


def test_a_two_line_header_and_page_numbers_are_dropped() -> None:
    texts = [f"Journal of Examples\n{n}\n{body}\n{n + 100}" for n, body in enumerate(BODIES, start=1)]
    out = drop_running_lines(pages_of(texts))
    assert [s.text for s in out] == list(BODIES)


def test_the_rows_of_a_numeric_table_stay() -> None:
    """Rows of numbers share one shape from page to page ("2001 222,817 42.3%"); only a bare
    page number among lines without letters is a running line (found by review)."""
    rows = [f"{2001 + i} {222_817 + 1_000 * i:,} {42.3 + i:.1f}%" for i in range(5)]
    captions = ["Revenue", "Costs", "Staff", "Offices", "Clients", "Taxes"]
    texts = ["\n".join(rows) + f"\n{caption} by year\n- {n} -" for n, caption in enumerate(captions, 1)]
    out = [s.text for s in drop_running_lines(pages_of(texts))]
    assert out == ["\n".join(rows) + f"\n{caption} by year" for caption in captions], out


@pytest.mark.parametrize("footer", ["{n} / 6", "[{n}]", "({n})", "{n}.", "· {n} ·"])
def test_letterless_page_number_footers_are_dropped(footer: str) -> None:
    """Found by the second review: only digits with dashes counted as a bare page number."""
    texts = [f"{body}\n{footer.format(n=n)}" for n, body in enumerate(BODIES, start=1)]
    assert [s.text for s in drop_running_lines(pages_of(texts))] == list(BODIES)
