"""Helpers for the AppTest suites: run the app, read its result cards, upload files.

Settings reach the app through SEARCHAPP_* variables, as in production. `st.cache_resource`
lives for the whole test process, so every fixture built on these closes the cached
library and ingestor when it ends (`ui.resources.release_all`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from searchapp import Library, Settings
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import SourceFile
from searchapp.ui import resources
from tests.conftest import ROOT
from tests.helpers import make_docx, make_pdf

APP = str(ROOT / "searchapp" / "ui" / "app.py")
ENV = {"SEARCHAPP_MODEL": "hash:64", "SEARCHAPP_WORKERS": "1", "SEARCHAPP_MIN_FREE_MB": "1"}

POLICY_PDF = make_pdf(
    [
        "Refund policy. Customers receive refunds within thirty days of purchase.",
        "Shipping policy. Parcels ship within five working days. Refunds for shipping fees are not possible.",
        "Damaged goods. Refunds for damaged goods are paid in full after inspection.",
    ]
)
NOTES_TXT = b"Team notes. The refund desk is open on Mondays. Ask about refunds at the front desk."
GUIDE_MD = b"# Refund guide\n\nHow refunds work: open a ticket and the refund is processed within a week."
FAQ_HTML = b"<html><body><h1>FAQ</h1><p>Refunds take a week to appear on your card.</p></body></html>"
MANUAL_DOCX = make_docx([("Heading 1", "Returns"), ("Normal", "Returned items are refunded once checked.")])
SCORE_RE = re.compile(r"(Adaptive|Semantic|Keyword|Hybrid) score (\d\.\d{3})")


@dataclass(frozen=True)
class Card:
    rank: int  # the card's number on the page
    header: str  # the Markdown of the card's first line
    mode: str  # the mode named on the score: Adaptive, Semantic, Keyword or Hybrid
    score: float  # the big number
    details: str  # the caption under it: cosine similarity, ranks
    passage: str  # the passage Markdown
    chunk_id: str
    has_open_link: bool  # "Open at page" (a link, or the popover fallback)
    more: int  # "N more passages in this document"


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"views/{name}.py")
    return run(at)


def search(at: AppTest, query: str) -> list[Card]:
    at.text_input(key="query").input(query)
    run(at)
    return cards(at)


def cards(at: AppTest) -> list[Card]:
    found: list[Card] = []
    for node in at.main:  # iterating a block walks all of its descendants
        key = getattr(node, "key", None)
        if not key or not re.fullmatch(r"hit-\d+", key):
            continue
        markdown = [n.value for n in node if type(n).__name__ == "Markdown"]
        progress = [n.proto.text for n in node if type(n).__name__ == "Progress"]
        captions = [n.value for n in node if type(n).__name__ == "Caption"]
        links = [n for n in node if type(n).__name__ == "LinkButton"]
        downloads = [n.key for n in node if type(n).__name__ == "DownloadButton"] + [
            n.key for n in links if n.proto.label == "Download original"
        ]
        popovers = [n for n in node if getattr(n, "type", "") == "popover"]
        expanders = [n.label for n in node if type(n).__name__ == "Expander"]
        more = [
            int(m.group(1)) for e in expanders if (m := re.match(r"(\d+) more passages? in this document", e))
        ]
        score = SCORE_RE.fullmatch(progress[0])
        assert score, progress
        found.append(
            Card(
                rank=int(key.split("-")[1]),
                header=markdown[0],
                mode=score.group(1),
                score=float(score.group(2)),
                details=captions[0] if captions else "",
                passage=markdown[1],
                chunk_id=downloads[0].removeprefix("dl-"),
                has_open_link=any(n.proto.label.startswith("Open at page") for n in links) or bool(popovers),
                more=more[0] if more else 0,
            )
        )
    return found


def texts(elements: Any) -> list[str]:
    return [str(e.value) for e in elements]


def source_of(card: Card) -> str:
    match = re.match(r"\*\*#\d+\*\* · \*\*(.+?)\*\*", card.header)
    assert match, card.header
    return re.sub(r"\\(.)", r"\1", match.group(1))


def sources(found: list[Card]) -> set[str]:
    return {source_of(c) for c in found}


def upload(at: AppTest, files: list[tuple[str, bytes, str]], tags: str = "") -> AppTest:
    open_page(at, "upload")
    if tags:
        at.text_input(key="upload_tags").input(tags)
    at.file_uploader(key="uploads").set_value(files)
    return run(at)


def build_corpus(data_dir: Path) -> Path:
    """Five documents of every type, tagged, ingested once with the hash embedder."""
    settings = Settings.load(environ={**ENV, "SEARCHAPP_DATA_DIR": str(data_dir)})
    files = [
        SourceFile("policy.pdf", data=POLICY_PDF, tags=("finance",)),
        SourceFile("notes.txt", data=NOTES_TXT, tags=("ops",)),
        SourceFile("guide.md", data=GUIDE_MD, tags=("ops", "docs")),
        SourceFile("faq.html", data=FAQ_HTML),
        SourceFile("manual.docx", data=MANUAL_DOCX),
    ]
    with Library.open(settings) as library, Ingestor(library) as ingestor:
        report = ingestor.ingest(files)
    assert [o.status for o in report.outcomes] == ["ingested"] * 5, report.outcomes
    return data_dir


def doc_id(source: str) -> str:
    records = resources.get_library(resources.load_settings()).documents()
    return next(r.doc_id for r in records if r.source == source)
