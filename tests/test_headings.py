"""Headings stay with the text under them: no heading-only chunks, a run of headings with
no text costs one chunk at most, and a file of headings alone gets chunks bounded by its
text, not by its line count (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchapp import Library
from searchapp.embedding.models import resolve_model
from searchapp.embedding.tokens import TokenizerSpec
from searchapp.ingest import Ingestor, SourceFile
from searchapp.ingest.chunking import Chunker, ChunkerConfig
from searchapp.ingest.extract import extract
from searchapp.ingest.markup import MAX_HEADING_RUN_CHARS
from searchapp.ingest.types import Limits
from tests.conftest import make_settings
from tests.helpers import make_docx

MARKDOWN = b"""# Guide
## Install
Run the installer.
## Upgrade
### On Linux
### On macOS
Use the package manager.
# Appendix
"""


def test_a_heading_stays_with_the_text_under_it_in_markdown() -> None:
    doc = extract(MARKDOWN, "guide.md", Limits())
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Guide > Install", "# Guide\n\n## Install\nRun the installer."),
        (
            "Guide > Upgrade > On macOS",
            "## Upgrade\n\n### On Linux\n\n### On macOS\nUse the package manager.",
        ),
        ("Appendix", "# Appendix"),  # a heading at the very end has nothing to join: one section
    ]


def test_a_heading_stays_with_the_text_under_it_in_html_and_docx() -> None:
    html = b"<h1>Guide</h1><h2>Install</h2><p>Run the installer.</p><h2>Upgrade</h2><h3>Linux</h3><p>Use apt.</p>"
    doc = extract(html, "guide.html", Limits())
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Guide > Install", "Guide\n\nInstall\n\nRun the installer."),
        ("Guide > Upgrade > Linux", "Upgrade\n\nLinux\n\nUse apt."),
    ]
    assert doc.warnings == ()
    data = make_docx([("Heading 1", "Guide"), ("Heading 2", "Install"), ("Normal", "Run the installer.")])
    doc = extract(data, "guide.docx", Limits())
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Guide > Install", "Guide\n\nInstall\nRun the installer."),
    ]


SPEC = TokenizerSpec.for_model(resolve_model("all-MiniLM-L6-v2"))


def test_a_long_run_of_headings_keeps_those_nearest_the_text_and_says_what_it_left_out() -> None:
    run = "".join(f"## Empty heading number {i}\n" for i in range(100))
    doc = extract(f"# Top\n{run}## Last\nThe only text.\n".encode(), "run.md", Limits())
    [section] = doc.sections
    assert section.heading == "Top > Last"
    assert section.text.endswith("## Empty heading number 99\n\n## Last\nThe only text.")
    assert len(section.text) <= MAX_HEADING_RUN_CHARS + len("## Last\nThe only text.") + 2
    kept = section.text.count("## Empty heading")
    assert 10 < kept < 100
    assert doc.warnings == (
        f"{101 - kept} of 101 headings with no text under them were left out "
        f"(a run of headings is kept to about {MAX_HEADING_RUN_CHARS:,} characters)",
    )


@pytest.mark.timeout(300)
def test_a_file_of_200k_headings_and_no_text_is_one_chunk(tmp_path: Path) -> None:
    """Timing is in docs/benchmarks.md (benchmarks/bench_headings.py); here: counts and content."""
    data = "".join(f"{'#' * (1 + i % 4)} Step {i} heading node\n" for i in range(200_000)).encode()
    assert 4_500_000 < len(data) < 6_000_000
    doc = extract(data, "headings.md", Limits())
    [section] = doc.sections
    assert section.text.startswith("# Step 0 heading node\n\n## Step 1 heading node")
    chunks = Chunker(ChunkerConfig(chunk_tokens=200, overlap_tokens=32, tokenizer=SPEC)).chunk(doc.sections)
    assert len(chunks) == 1 and chunks[0].tokens <= 256
    assert doc.warnings[0].startswith(
        f"{200_000 - section.text.count('Step'):,} of 200,000 headings with no text"
    )

    with Library.open(make_settings(tmp_path, model="hash:64")) as library:
        with Ingestor(library, workers=1) as ingestor:
            report = ingestor.ingest([SourceFile(source="headings.md", data=data)])
        [outcome] = report.outcomes
        assert (outcome.status, outcome.chunks) == ("ingested", 1), outcome.message
        assert outcome.warnings == doc.warnings
        assert library.stats().chunks == 1
