"""The Streamlit app driven by AppTest: every page, with real files and a real store.

Settings reach the app through SEARCHAPP_* variables, as in production. Most tests use
the hash embedder (fast, deterministic); `test_real_model_*` uses the bundled MiniLM.
`st.cache_resource` lives for the whole test process, so every test closes the cached
library and ingestor when it ends. The search page's newer parts (scores, grouping, more
like this, links, passwords, samples) are in tests/test_ui_search_page.py and
tests/test_ui_uploads.py; the helpers all three share are in tests/ui_helpers.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from searchapp import Library
from searchapp.ui import resources
from searchapp.ui.outcomes import SEEN_KEY
from searchapp.ui.render import escape_markdown
from tests.conftest import PDF_DIR, ROOT
from tests.ui_helpers import (
    FAQ_HTML,
    GUIDE_MD,
    MANUAL_DOCX,
    NOTES_TXT,
    POLICY_PDF,
    cards,
    doc_id,
    new_app,
    open_page,
    run,
    search,
    source_of,
    sources,
    texts,
    upload,
)

REAL_PDF = PDF_DIR / "pysample__pdflatex-4-pages.pdf"
PAPER_PDF = PDF_DIR / "unst__layout-parser-paper-fast.pdf"
HOSTILE_MD = (
    b"# <img src=x onerror=alert(1)> heading\n\n"
    b"Refunds <script>alert('xss')</script> [click](javascript:alert(1)) "
    b"![pixel](http://evil.invalid/t.png) `code` $x^2$ **bold** www.evil.invalid\n"
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def corpus_app(ui_corpus_env: Path) -> AppTest:
    return run(new_app())


# ------------------------------------------------------------------ empty states


def test_empty_library_guides_to_upload_on_search_and_library_pages(ui_env: Path) -> None:
    at = run(new_app())
    assert texts(at.title) == ["Search"]
    assert any("Your library is empty" in text for text in texts(at.info))
    assert [link.proto.label for link in at.get("page_link")] == ["Upload documents"]
    assert not at.text_input, "no query box before there is anything to search"
    open_page(at, "library")
    assert any("No documents yet" in text for text in texts(at.info))
    assert not at.dataframe
    open_page(at, "status")
    assert {m.label: m.value for m in at.metric}["Documents"] == "0"


# ------------------------------------------------------------------------ upload


def test_upload_several_files_with_tags_progress_and_summary(ui_env: Path) -> None:
    at = run(new_app())
    files = [
        ("policy.pdf", POLICY_PDF, "application/pdf"),
        (REAL_PDF.name, REAL_PDF.read_bytes(), "application/pdf"),
        ("notes.txt", NOTES_TXT, "text/plain"),
        ("guide.md", GUIDE_MD, "text/markdown"),
        ("faq.html", FAQ_HTML, "text/html"),
        ("manual.docx", MANUAL_DOCX, "application/octet-stream"),
        ("broken.pdf", b"%PDF-1.7 this is not really a PDF", "application/pdf"),
    ]
    upload(at, files, tags="hr, policy")
    uploader = at.file_uploader(key="uploads")
    assert set(uploader.proto.type) >= {".pdf", ".docx", ".txt", ".md", ".html"}
    assert uploader.proto.multiple_files

    (status,) = at.status
    assert status.state == "error"  # one file failed
    assert re.fullmatch(r"Done: 6 ingested \(\d+ chunks\), 0 unchanged, 1 failed", status.label), status.label
    bars = [n for n in status if type(n).__name__ == "Progress"]
    assert len(bars) == 1 + len(files)  # the batch, then one per file
    assert all(bar.value == 100 for bar in bars)
    assert any("broken\\.pdf · failed\\: damaged PDF" in bar.proto.text for bar in bars)

    (success,) = at.success
    assert success.value.startswith("**Ingested 6 files**")
    for name in ("policy.pdf", "notes.txt", "guide.md", "faq.html", "manual.docx", REAL_PDF.name):
        assert re.search(re.escape(f"**{escape_markdown(name)}**: ") + r"\d+ chunks?", success.value), name
    (error,) = at.error
    assert "**broken\\.pdf**: **damaged PDF**" in error.value
    assert texts(at.toast)[0].startswith("Indexed ")

    # A rerun does not process the same uploads again, and the summary stays.
    run(at)
    assert not at.status
    assert len(at.success) == 1 and len(at.error) == 1
    assert len(at.session_state[SEEN_KEY]) == len(files)

    # The files carry the tags; the Library lists them.
    open_page(at, "library")
    table = at.dataframe[0].value
    assert sorted(table["Name"]) == sorted(name for name, _, _ in files[:-1])
    assert all(list(tags) == ["hr", "policy"] for tags in table["Tags"])


def test_same_file_in_a_new_session_is_reported_unchanged(ui_env: Path) -> None:
    first = upload(run(new_app()), [("policy.pdf", POLICY_PDF, "application/pdf")])
    assert first.success and not first.info
    second = upload(run(new_app()), [("policy.pdf", POLICY_PDF, "application/pdf")])
    assert not second.success
    (info,) = second.info
    assert info.value.startswith("**Unchanged: 1 file**") and "**policy\\.pdf**: 3 chunks" in info.value


# ------------------------------------------------------------------------ search


def test_search_shows_ranked_cards_with_scores_locations_and_highlights(corpus_app: AppTest) -> None:
    at = corpus_app
    assert "5 documents in the library" in texts(at.caption)
    found = search(at, "refunds for damaged goods")
    # Grouped by document (the default): one card per document, numbered 1..n.
    assert [c.rank for c in found] == list(range(1, len(found) + 1))
    assert len(found) == len(sources(found)) == 5
    # The big number is the score the ranking used (adaptive, the default), 0-1, falling.
    assert {c.mode for c in found} == {"Adaptive"}
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert all(0 <= c.score <= 1 for c in found)
    assert all(c.details.startswith("cosine similarity ") for c in found)
    top = found[0]
    assert top.header == "**#1** · **policy\\.pdf** · page 3"
    assert top.more == 2  # the PDF's two other pages, in place
    assert ":yellow-background[**Refunds**]" in top.passage
    assert ":yellow-background[**damaged**]" in top.passage
    assert top.has_open_link  # a PDF hit with a page
    assert not next(c for c in found if source_of(c) == "notes.txt").has_open_link
    assert any("5 documents, 7 passages" in text for text in texts(at.caption))
    assert at.query_params["q"] == "refunds for damaged goods"

    # Ungrouped: one card per passage, top-k passages.
    at.toggle(key="group").set_value(False)
    found = cards(run(at))
    assert len(found) == 7 and len(sources(found)) == 5
    at.slider(key="top_k").set_value(2)
    assert len(cards(run(at))) == 2

    # Semantic mode ranks by the (clipped) cosine it shows.
    at.slider(key="top_k").set_value(10)
    at.radio(key="mode").set_value("dense")
    found = cards(run(at))
    scores = [c.score for c in found]
    assert len(scores) >= 5 and scores == sorted(scores, reverse=True)
    assert {c.mode for c in found} == {"Semantic"}


def test_context_and_open_at_page_load_when_opened(corpus_app: AppTest) -> None:
    at = corpus_app
    top = search(at, "refunds for damaged goods")[0]
    assert not at.get("iframe")
    assert not [c for c in at.caption if c.value in ("Before", "This passage")]

    at.session_state[f"ctx-{top.chunk_id}"] = True  # open the context expander
    at.session_state[f"open-{top.chunk_id}"] = True  # open "Open at page 3" (without the route)
    run(at)
    labels = [c.value for c in at.caption]
    assert "Before" in labels and "This passage" in labels
    (frame,) = at.get("iframe")
    snippet = frame.proto.srcdoc
    assert 'link.href = url + "#page=3"' in snippet
    assert "Open policy.pdf at page 3" in snippet
    encoded = re.search(r'atob\("([A-Za-z0-9+/=]+)"\)', snippet)
    assert encoded is not None and base64.b64decode(encoded.group(1)) == POLICY_PDF


def test_search_without_matches_says_so_and_suggests_loosening_filters(corpus_app: AppTest) -> None:
    at = corpus_app
    at.text_input(key="f_contains").input("zebra crossing")
    assert not search(at, "refunds")
    (info,) = at.info
    assert info.value.startswith("**No passages matched.**") and "text contains" in info.value
    assert "loosening" in info.value
    at.button(key="clear_from_results").click()
    run(at)
    assert cards(at) and at.text_input(key="f_contains").value == ""


def test_query_from_the_url_fills_the_box(corpus_app: AppTest) -> None:
    at = new_app()
    at.query_params["q"] = "damaged goods"
    run(at)
    assert at.text_input(key="query").value == "damaged goods"
    assert cards(at)[0].header.endswith("page 3")


# ----------------------------------------------------------------------- filters


def test_filter_documents(corpus_app: AppTest) -> None:
    at = corpus_app
    assert len(sources(search(at, "refunds"))) >= 4
    records = {r.source: r.doc_id for r in resources.get_library(resources.load_settings()).documents()}
    at.multiselect(key="f_docs").set_value([records["notes.txt"], records["guide.md"]])
    found = cards(run(at))
    assert found and sources(found) == {"notes.txt", "guide.md"}


def test_filter_file_types(corpus_app: AppTest) -> None:
    at = corpus_app
    search(at, "refunds")
    assert at.multiselect(key="f_types").options == ["PDF", "Text", "Markdown", "HTML", "Word (DOCX)"]
    at.multiselect(key="f_types").set_value(["html", "docx"])
    assert sources(cards(run(at))) == {"faq.html", "manual.docx"}


def test_filter_page_range(corpus_app: AppTest) -> None:
    at = corpus_app
    search(at, "refunds shipping")
    at.number_input(key="f_page_from").set_value(2)
    at.number_input(key="f_page_to").set_value(2)
    found = cards(run(at))
    assert [c.header for c in found] == ["**#1** · **policy\\.pdf** · page 2"]


def test_filter_tags(corpus_app: AppTest) -> None:
    at = corpus_app
    search(at, "refunds")
    assert at.multiselect(key="f_tags").options == ["docs", "finance", "ops"]
    at.multiselect(key="f_tags").set_value(["ops"])
    assert sources(cards(run(at))) == {"notes.txt", "guide.md"}
    at.multiselect(key="f_tags").set_value(["finance"])
    assert sources(cards(run(at))) == {"policy.pdf"}


def test_filter_ingested_dates(corpus_app: AppTest) -> None:
    at = corpus_app
    total = len(search(at, "refunds"))
    today = dt.date.today()
    at.date_input(key="f_dates").set_value((today, today))
    assert len(cards(run(at))) == total
    at.date_input(key="f_dates").set_value((dt.date(2001, 1, 1), dt.date(2001, 12, 31)))
    assert not cards(run(at))
    assert "ingested dates" in at.info[0].value


def test_filter_text_contains(corpus_app: AppTest) -> None:
    at = corpus_app
    search(at, "refunds")
    at.text_input(key="f_contains").input("FRONT DESK")
    found = cards(run(at))
    assert sources(found) == {"notes.txt"}
    assert "front desk" in re.sub(r"\\(.)", r"\1", found[0].passage).casefold()


def test_filter_minimum_score(corpus_app: AppTest) -> None:
    at = corpus_app
    everything = search(at, "refunds for damaged goods")
    floor = round((everything[0].score + everything[-1].score) / 2, 2)
    floor = round(floor - floor % 0.05, 2)
    at.slider(key="f_min_score").set_value(floor)
    kept = cards(run(at))
    assert 0 < len(kept) < len(everything)
    assert all(c.score >= floor for c in kept)


def test_invalid_filter_is_an_error_message(corpus_app: AppTest) -> None:
    at = corpus_app
    search(at, "refunds")
    at.number_input(key="f_page_from").set_value(5)
    at.number_input(key="f_page_to").set_value(2)
    run(at)
    (error,) = at.error
    assert error.value.startswith("**A filter is not valid.**") and "page range is empty" in error.value
    assert not cards(at)


def test_mode_selector_switches_between_the_four_modes(corpus_app: AppTest) -> None:
    at = corpus_app
    search(at, "refunds")
    assert at.radio(key="mode").options == ["Adaptive", "Hybrid", "Semantic", "Keyword"]
    assert at.radio(key="mode").value == "adaptive"  # SEARCHAPP_SEARCH_MODE's default
    found = cards(at)
    assert found and {c.mode for c in found} == {"Adaptive"}
    assert all(re.search(r"cosine similarity -?\d\.\d{3}", c.details) for c in found)

    at.radio(key="mode").set_value("hybrid")
    found = cards(run(at))
    assert found and {c.mode for c in found} == {"Hybrid"}
    assert all(re.search(r"cosine similarity -?\d\.\d{3} · semantic #\d+", c.details) for c in found)

    at.radio(key="mode").set_value("dense")
    found = cards(run(at))
    assert found and {c.mode for c in found} == {"Semantic"}
    assert not any("semantic #" in c.details for c in found)  # its own rank is the card's place

    at.radio(key="mode").set_value("keyword")
    keyword = cards(run(at))
    assert keyword and {c.mode for c in keyword} == {"Keyword"}
    assert all("refund" in card.passage.lower() for card in keyword)
    assert all("BM25 " in card.details for card in keyword)


# ---------------------------------------------------------------- untrusted text


def test_hostile_html_and_markdown_render_inert(ui_env: Path) -> None:
    at = run(new_app())
    hostile_name = "<img src=x onerror=alert(1)>[a](javascript:b).md"
    upload(
        at,
        [
            (hostile_name, HOSTILE_MD, "text/markdown"),
            ("page.html", b"<p>Refunds " + HOSTILE_MD + b"</p>", "text/html"),
        ],
    )
    assert at.success, texts(at.error)
    open_page(at, "search")
    found = search(at, "refunds")
    assert len(found) == 2
    for element in at.markdown:
        assert not element.proto.allow_html
    for card in found:
        for markdown in (card.header, card.passage):
            bare = re.sub(r":yellow-background\[\*\*[^\W_]+\*\*\]", "", markdown)
            bare = re.sub(r"\\.", "", bare.replace("**#", "").replace("**", ""))
            assert not re.search(r"[<>\[\]()!`$:]", bare), markdown  # no live markup left
        assert "\\[click\\]\\(javascript\\:alert\\(1\\)\\)" in card.passage
        assert "\\!\\[pixel\\]\\(http\\:\u2060\\/\\/evil" in card.passage  # no image, no autolink
        assert "www\u2060\\.evil" in card.passage  # no autolink
        assert "\\`code\\` \\$x\\^2\\$ \\*\\*bold\\*\\*" in card.passage
    by_name = {source_of(c): c for c in found}
    assert set(by_name) == {hostile_name, "page.html"}
    assert "\\<script\\>alert\\(\\'xss\\'\\)\\<\\/script\\>" in by_name[hostile_name].passage
    assert (
        "**\\<img src\\=x onerror\\=alert\\(1\\)\\>\\[a\\]\\(javascript\\:b\\)\\.md**"
        in by_name[hostile_name].header
    )
    assert "<script" not in by_name["page.html"].passage  # the HTML extractor keeps text only


# ----------------------------------------------------------------------- library


def test_library_table_delete_with_confirmation(ui_env: Path) -> None:
    at = upload(
        run(new_app()),
        [("policy.pdf", POLICY_PDF, "application/pdf"), ("notes.txt", NOTES_TXT, "text/plain")],
        tags="ops",
    )
    open_page(at, "library")
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "Name",
        "Type",
        "Pages",
        "Chunks",
        "Size",
        "Tags",
        "Visible to",
        "Ingested",
    ]
    row = table[table["Name"] == "policy.pdf"].iloc[0]
    assert (row["Type"], row["Pages"], row["Chunks"], list(row["Tags"])) == ("PDF", "3", 3, ["ops"])
    assert table[table["Name"] == "notes.txt"].iloc[0]["Pages"] == "—"  # a dash, not "None"
    assert row["Size"].endswith(" kB") and row["Ingested"].date() == dt.date.today()
    assert any("2 documents · 4 chunks" in text for text in texts(at.caption))

    at.selectbox(key="library_doc").set_value(doc_id("policy.pdf"))
    run(at)
    at.button(key="library_delete").click()
    run(at)
    (warning,) = at.warning
    assert warning.value.startswith("Delete **policy\\.pdf**?")
    at.button(key="library_delete_no").click()
    run(at)
    assert not at.warning and len(at.dataframe[0].value) == 2  # cancelled: nothing deleted

    at.button(key="library_delete").click()
    run(at)
    at.button(key="library_delete_yes").click()
    run(at)
    assert texts(at.success) == ["Deleted **policy\\.pdf**."]
    assert list(at.dataframe[0].value["Name"]) == ["notes.txt"]
    open_page(at, "search")
    assert sources(search(at, "refunds damaged goods")) == {"notes.txt"}


def test_library_reingest_and_edit_tags(ui_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = upload(run(new_app()), [("policy.pdf", POLICY_PDF, "application/pdf")])
    open_page(at, "library")
    assert at.dataframe[0].value["Chunks"].tolist() == [3]

    # Smaller chunks in the settings: re-ingest rebuilds the document from its original.
    resources.release_all()
    monkeypatch.setenv("SEARCHAPP_CHUNK_TOKENS", "8")
    monkeypatch.setenv("SEARCHAPP_CHUNK_OVERLAP", "2")
    run(at)
    at.button(key="library_reingest").click()
    run(at)
    (success,) = at.success
    assert success.value.startswith("**Ingested 1 file**")
    chunks = int(at.dataframe[0].value["Chunks"].tolist()[0])
    assert chunks > 3 and f"{chunks} chunks" in success.value

    at.text_input(key=f"library_tags_{doc_id('policy.pdf')}").input("legal, 2026")
    next(b for b in at.button if b.label == "Save tags").click()
    run(at)
    assert texts(at.success) == ["Saved the tags of **policy\\.pdf**."]
    assert list(at.dataframe[0].value["Tags"][0]) == ["legal", "2026"]

    # Without sign-in the page may restrict it to any groups; the table says who sees it.
    assert list(at.dataframe[0].value["Visible to"][0]) == ["everyone"]
    at.text_input(key=f"library_groups_{doc_id('policy.pdf')}").input("legal, board")
    next(b for b in at.button if b.label == "Save groups").click()
    run(at)
    assert texts(at.success) == ["Saved who may see **policy\\.pdf**."]
    assert list(at.dataframe[0].value["Visible to"][0]) == ["legal", "board"]
    assert "Visible to groups legal, board" in [c.value for c in at.caption]


# ------------------------------------------------------------------------ status


def test_status_page_shows_model_device_collection_counts_and_mode(corpus_app: AppTest) -> None:
    at = open_page(corpus_app, "status")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Documents"] == "5" and metrics["Device"] == "cpu"
    assert int(metrics["Chunks"]) >= 5
    details = at.markdown[0]  # the settings list; the model versions follow it
    text = re.sub(r"\\(.)", r"\1", details.value)
    for expected in (
        "**Model:** hash:64 (64 dimensions)",
        "**Device:** cpu",
        "**Collection:** documents",
        "**Mode:** Local (embedded Chroma",
        f"**Data directory:** {resources.load_settings().data_dir}",
        "**Sign-in:** off",
    ):
        assert expected in text, text


def test_status_health_check_reports_each_check(corpus_app: AppTest) -> None:
    at = open_page(corpus_app, "status")
    at.button(key="health_check").click()
    run(at)
    report = re.sub(r"\\(.)", r"\1", at.markdown[-1].value)
    for name in ("interrupted ingests", "chunk count", "vectors findable", "originals kept", "local index"):
        assert f"- :green[ok] **{name}:**" in report, report
    assert re.search(r"(\d+) of \1 sampled chunks are found by their own vector", report), report
    assert [s.value for s in at.success] == [f"Healthy: 5 documents, {at.metric[1].value} chunks."]


def test_status_health_check_finds_a_missing_original(ui_env: Path) -> None:
    at = upload(new_app(), [("notes.txt", NOTES_TXT, "text/plain")])
    originals = [
        p for p in resources.load_settings().originals_dir.rglob("*") if p.is_file() and not p.suffix
    ]
    assert len(originals) == 1
    originals[0].unlink()
    at = open_page(at, "status")
    at.button(key="health_check").click()
    run(at)
    report = re.sub(r"\\(.)", r"\1", at.markdown[-1].value)
    assert "- :red[problem] **originals kept:** 1 originals are missing (notes.txt)" in report, report
    (error,) = at.error
    assert "needs attention" in error.value


# ------------------------------------------------------------------------ errors


def test_store_locked_by_another_process_is_a_clear_error(ui_env: Path) -> None:
    ui_env.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from searchapp.storage.lock import DataDirLock;"
            "DataDirLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(60)",
            str(ui_env),
        ],
        stdout=subprocess.PIPE,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        at = run(new_app())
        (error,) = at.error
        assert error.value.startswith("**The library is in use by another program.**")
        assert f"process {holder.pid}" in error.value
        assert at.button(key="retry_open").label == "Try again"
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    at.button(key="retry_open").click()
    run(at)
    assert not at.error and any("Your library is empty" in text for text in texts(at.info))


def test_bad_setting_is_a_clear_error(ui_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHAPP_CHUNK_OVERLAP", "500")
    at = run(new_app())
    (error,) = at.error
    assert error.value.startswith("**A setting is wrong.**") and "SEARCHAPP\\_CHUNK\\_OVERLAP" in error.value


def test_unexpected_errors_are_shown_not_raised(corpus_app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom: secret detail")

    monkeypatch.setattr(Library, "documents", broken)
    at = run(corpus_app)
    (error,) = at.error
    assert "Something unexpected went wrong" in error.value and "RuntimeError" in error.value
    assert "secret detail" not in error.value


# -------------------------------------------------------------------------- auth

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "searchapp",
    "client_secret": "s",
    "server_metadata_url": "https://id.example/.well-known/openid-configuration",
}


def test_without_auth_the_app_is_open(ui_env: Path) -> None:
    at = run(new_app())
    assert texts(at.title) == ["Search"]
    assert all(not (button.key or "").startswith("auth_") for button in at.button)


def test_auth_configured_requires_login(ui_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("searchapp.ui.auth.authlib_available", lambda: True)
    at = new_app()
    at.secrets["auth"] = AUTH
    for _ in range(2):  # the gate holds on reruns too (the entry script always runs first)
        run(at)
        assert texts(at.title) == ["searchapp"]
        assert at.button(key="auth_login_default").label == "Log in"
        assert not at.text_input and not at.get("page_link")
    at.switch_page("views/library.py")
    run(at)
    assert texts(at.title) == ["searchapp"] and not at.dataframe

    at.user = {"is_logged_in": True, "email": "ada@example.com"}
    run(at)
    assert texts(at.title) == ["Library"]
    assert "Signed in as ada@example.com" in texts(at.sidebar.caption)


def test_auth_without_authlib_fails_closed(ui_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("searchapp.ui.auth.authlib_available", lambda: False)
    at = new_app()
    at.secrets["auth"] = AUTH
    run(at)
    (error,) = at.error
    assert "Authlib package is missing" in error.value
    assert not at.title


# -------------------------------------------------------------------- real model


@pytest.mark.model
def test_real_model_upload_real_pdf_and_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCHAPP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SEARCHAPP_MIN_FREE_MB", "1")
    try:
        at = run(new_app())  # loads all-MiniLM-L6-v2
        upload(at, [(PAPER_PDF.name, PAPER_PDF.read_bytes(), "application/pdf")])
        assert at.success and not at.error
        open_page(at, "status")
        assert {m.label: m.value for m in at.metric}["Device"] in ("cpu", "cuda")
        open_page(at, "search")
        found = search(at, "toolkit for deep learning based document image analysis")
        assert found and {source_of(c) for c in found} == {PAPER_PDF.name}
        cosine = re.match(r"cosine similarity (\d\.\d{3})", found[0].details)
        assert cosine and float(cosine.group(1)) > 0.4
        assert re.search(r"page [12]$", found[0].header)
        assert ":yellow-background[**" in found[0].passage
    finally:
        resources.release_all()
