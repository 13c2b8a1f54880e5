"""The UI's pure helpers: inert Markdown, highlighting, the PDF link snippet, summaries."""

from __future__ import annotations

import base64
import re

import pytest
from streamlit.runtime.scriptrunner import StopException

from searchapp.errors import FailureReason
from searchapp.ingest.types import FileOutcome
from searchapp.progress import Progress
from searchapp.ui.outcomes import summary_lines, upload_key
from searchapp.ui.pdf_link import open_pdf_html
from searchapp.ui.progress import IngestProgress, batch_text, stage_fraction
from searchapp.ui.render import (
    WORD_JOINER,
    escape_markdown,
    flow,
    format_size,
    format_time,
    highlight,
    location_label,
    one_line,
    parse_tags,
    passage_markdown,
    query_terms,
    score_fraction,
)
from tests.helpers import make_pdf

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
HOSTILE = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "![img](http://evil/t.png)",
    "`code` and ```fence```",
    "$x^2$ and $$\\int$$",
    "<img src=x onerror=alert(1)>",
    "**bold** _em_ ~~strike~~ # heading\n> quote\n- item\n1. item",
    "| a | b |\n|---|---|",
    ":red[colour] :material/home: :smile:",
    "&lt;script&gt; &amp; &#x3C;",
    "<https://evil.invalid> www.evil.invalid http://evil.invalid a@evil.invalid",
]


def _unescaped_punctuation(markdown: str) -> list[str]:
    """Punctuation characters not preceded by a backslash escape."""
    found: list[str] = []
    index = 0
    while index < len(markdown):
        char = markdown[index]
        if char == "\\" and index + 1 < len(markdown):
            index += 2
            continue
        if char in PUNCTUATION:
            found.append(char)
        index += 1
    return found


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_leaves_no_markup(text: str) -> None:
    escaped = escape_markdown(text)
    assert _unescaped_punctuation(escaped) == []
    # Removing the escapes and joiners gives back the text: nothing was lost or added.
    assert re.sub(r"\\(.)", r"\1", escaped).replace(WORD_JOINER, "") == text


def test_escape_markdown_defuses_autolink_literals() -> None:
    escaped = escape_markdown("see http://evil.invalid, WWW.evil.invalid and a@evil.invalid")
    plain = re.sub(r"\\(.)", r"\1", escaped)
    assert "http://" not in plain and "http:\u2060//" in plain
    assert "WWW." not in plain and "WWW\u2060." in plain
    assert "a@" not in plain and "a\u2060@" in plain
    assert escape_markdown(plain) == escape_markdown(escaped.replace("\\", "")), "defusing is idempotent"


def test_escape_markdown_drops_control_and_bidi_characters() -> None:
    assert escape_markdown("a\x00b\x1bc\u202ed\ne\tf") == "abcd\ne\tf"


@pytest.mark.parametrize("text", HOSTILE)
def test_highlight_escapes_first_and_only_adds_its_own_markup(text: str) -> None:
    terms = query_terms("script javascript evil img code bold item red")
    text += " (evil)"
    marked = highlight(text, terms)
    ours = re.findall(r":yellow-background\[\*\*([^\W_]+)\*\*\]", marked)
    assert ours, "some term was highlighted"
    assert all(word.casefold().startswith(tuple(terms)) for word in ours)
    stripped = re.sub(r"\u2060?:yellow-background\[\*\*([^\W_]+)\*\*\]", r"\1", marked)
    assert _unescaped_punctuation(stripped) == []
    assert re.sub(r"\\(.)", r"\1", stripped).replace(WORD_JOINER, "") == text


def test_highlight_matches_word_starts_case_insensitively() -> None:
    marked = highlight("Refunds, prefund and REFUND.", ["refund"])
    assert marked == (":yellow-background[**Refunds**]\\, prefund and :yellow-background[**REFUND**]\\.")


def test_highlight_after_a_colon_keeps_the_directive_parseable() -> None:
    assert highlight("key:refund", ["refund"]) == "key\\:\u2060:yellow-background[**refund**]"


def test_highlight_without_terms_is_plain_escaping() -> None:
    assert highlight("[a](b)", []) == escape_markdown("[a](b)")


def test_query_terms_drop_stopwords_short_words_and_duplicates() -> None:
    assert query_terms("How do I get a REFUND for the refund of X?") == ["refund", "get"]
    assert query_terms("<script>") == ["script"]
    assert query_terms("   ") == []


def test_flow_joins_lines_and_keeps_paragraphs() -> None:
    assert flow("one\ntwo  three\n\n   four\r\nfive\n \n") == ["one two three", "four five"]


def test_passage_markdown_is_paragraphs_of_escaped_text() -> None:
    text = "    indented code?\n# not a heading\n\n> not a quote"
    assert passage_markdown(text, []) == "indented code\\? \\# not a heading\n\n\\> not a quote"
    assert passage_markdown("  \n ", []) == "*(empty passage)*"


def test_labels_escape_untrusted_names_and_headings() -> None:
    label = location_label("[x](javascript:1).pdf", 3, "## <b>Intro</b>")
    assert label.startswith("**\\[x\\]\\(javascript\\:1\\)\\.pdf** · page 3 · ")
    assert "\\<b\\>Intro\\<\\/b\\>" in label
    assert location_label("notes.md", None, "") == "**notes\\.md**"
    assert one_line("a\n\n b\tc") == "a b c"


def test_score_fraction_and_number_formats() -> None:
    assert score_fraction(0.42) == 0.42
    assert score_fraction(-0.3) == 0.0
    assert score_fraction(1.0000001) == 1.0
    assert format_size(980) == "980 B"
    assert format_size(12_300) == "12.3 kB"  # SI, like the file picker and the uploader
    assert format_size(5_000_000) == "5.0 MB"
    assert format_size(999_999_999) == "1.0 GB"
    assert format_time(0) == "—"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", format_time(1_700_000_000))


def test_parse_tags() -> None:
    assert parse_tags(" hr, policy ,,hr, 2026 ") == ("hr", "policy", "2026")
    assert parse_tags("") == ()


def test_open_pdf_html_carries_the_bytes_the_page_and_an_escaped_name() -> None:
    pdf = make_pdf(["one", "two"])
    snippet = open_pdf_html(pdf, name='<img src=x onerror="alert(1)">.pdf', page=2)
    encoded = re.search(r'atob\("([A-Za-z0-9+/=]+)"\)', snippet)
    assert encoded is not None and base64.b64decode(encoded.group(1)) == pdf
    assert 'link.href = url + "#page=2"' in snippet
    assert 'target="_blank"' in snippet
    assert "<img" not in snippet and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.pdf" in snippet
    with pytest.raises(ValueError):
        open_pdf_html(pdf, name="a.pdf", page=0)


def test_upload_key_changes_with_name_and_content() -> None:
    assert upload_key("a.pdf", b"x") == upload_key("a.pdf", b"x")
    assert upload_key("a.pdf", b"x") != upload_key("b.pdf", b"x")
    assert upload_key("a.pdf", b"x") != upload_key("a.pdf", b"y")


def test_summary_lines_group_outcomes_with_counts_and_reasons() -> None:
    outcomes = [
        FileOutcome("a.pdf", "ingested", chunks=12, warnings=("2 pages had no text",)),
        FileOutcome("b.md", "unchanged", chunks=1, detail="same content as 'c.md', already indexed"),
        FileOutcome("[x](y).pdf", "failed", reason=FailureReason.DAMAGED_PDF, detail="cannot be opened"),
    ]
    lines = summary_lines(outcomes)
    assert lines["ingested"] == ["- **a\\.pdf**: 12 chunks"]
    assert lines["unchanged"][0].startswith("- **b\\.md**: 1 chunk (same content as")
    assert lines["failed"] == ["- **\\[x\\]\\(y\\)\\.pdf**: **damaged PDF**: cannot be opened"]
    assert lines["warnings"] == ["- **a\\.pdf**: 2 pages had no text"]


def test_progress_fractions_rise_through_the_stages() -> None:
    def event(stage: str) -> Progress:
        return Progress(stage, "a.pdf", 1, 3, 10, 40)  # type: ignore[arg-type]

    fractions = [stage_fraction(event(s)) for s in ("read", "extract", "embed", "write", "done")]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert batch_text(event("embed")) == "1 of 3 files done · 10 of 40 passages embedded"


def test_a_rerun_during_ingest_is_deferred_until_the_batch_is_done() -> None:
    progress = IngestProgress(["a.pdf"], label="Indexing")  # bare mode: no script running
    calls: list[float] = []

    class Interrupted:
        def progress(self, value: float, text: str = "") -> None:
            calls.append(value)
            raise StopException()

    progress.batch = Interrupted()  # type: ignore[assignment]
    progress(Progress("read", "a.pdf", 0, 1, 0, 0))  # must not raise inside the pipeline
    progress(Progress("done", "a.pdf", 1, 1, 3, 3))
    assert calls == [0.0] and progress.events == 2
    with pytest.raises(StopException):
        progress.raise_deferred()


def test_score_label_names_the_mode_and_details_say_how_the_hit_got_there() -> None:
    from searchapp.types import Hit
    from searchapp.ui.render import score_details, score_label

    assert score_label(0.9841, "hybrid") == "Hybrid score 0.984"
    assert score_label(0.5, "dense") == "Semantic score 0.500"
    assert score_label(0.25, "keyword") == "Keyword score 0.250"
    hybrid = Hit(
        1,
        0.98,
        "c",
        "t",
        {},
        fused_score=0.032,
        dense_rank=1,
        keyword_rank=3,
        keyword_score=7.214,
        cosine=0.61,
    )
    assert score_details(hybrid, "hybrid") == "cosine similarity 0.610 · semantic #1 · keyword #3 · BM25 7.21"
    dense_only = Hit(2, 0.9, "c", "t", {}, fused_score=0.016, dense_rank=2, cosine=0.55)
    assert score_details(dense_only, "hybrid") == "cosine similarity 0.550 · semantic #2 · no keyword match"
    assert (
        score_details(Hit(1, 0.7, "c", "t", {}, dense_rank=1, cosine=0.7), "dense")
        == "cosine similarity 0.700"
    )
    keyword = Hit(1, 0.4, "c", "t", {}, keyword_rank=1, keyword_score=3.5, cosine=0.2)
    assert score_details(keyword, "keyword") == "cosine similarity 0.200 · BM25 3.50"
