"""Uploads through AppTest: passwords for encrypted PDFs, failed uploads kept, samples, sizes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from searchapp.samples import EXAMPLE_QUERIES, SAMPLE_FILES
from searchapp.ui import failed_uploads
from tests.helpers import make_pdf
from tests.ui_helpers import (
    NOTES_TXT,
    cards,
    new_app,
    open_page,
    run,
    search,
    source_of,
    sources,
    texts,
    upload,
)

PASSWORD = "s3cret pässwort"
LOCKED_PDF = make_pdf(
    ["Quarterly budget. The travel budget doubles next year."], encrypt_user_password=PASSWORD
)
BROKEN_PDF = b"%PDF-1.7 this is not really a PDF"


def _password_box(at: AppTest, where: str) -> str:
    keys = [t.key for t in at.text_input if (t.key or "").startswith(f"{where}-pw-")]
    assert len(keys) == 1, keys
    return str(keys[0])


def _submit(at: AppTest, label: str) -> None:
    at.button[[b.label for b in at.button].index(label)].click()
    run(at)


def _secret_anywhere(at: AppTest) -> bool:
    """Whether the password is still held in the session (widget states included)."""
    return any(PASSWORD in repr(value) for value in at.session_state.values())


def test_an_encrypted_upload_asks_for_its_password_and_goes_in_with_it(ui_env: Path) -> None:
    at = upload(run(new_app()), [("budget.pdf", LOCKED_PDF, "application/pdf")], tags="finance")
    (error,) = at.error
    assert "**budget\\.pdf**: **password\\-protected**" in error.value
    box = _password_box(at, "upload")
    assert at.text_input(key=box).label == "Password for budget.pdf"
    assert at.text_input(key=box).proto.type == at.text_input(key=box).proto.PASSWORD

    at.text_input(key=box).input("wrong")
    _submit(at, "Unlock and index")
    assert any("the password is not right" in e.value for e in at.error)
    assert _password_box(at, "upload")  # still asking

    at.text_input(key=_password_box(at, "upload")).input(PASSWORD)
    _submit(at, "Unlock and index")
    # The batch's summary now says it went in (no stale "failed" beside it).
    (success,) = at.success
    assert success.value.startswith("**Ingested 1 file**") and "**budget\\.pdf**: 1 chunk" in success.value
    assert not at.error
    assert at.session_state[failed_uploads.STORE_KEY] == {}
    assert not [t for t in at.text_input if (t.key or "").startswith("upload-pw-")]
    assert not _secret_anywhere(at)  # the form cleared it

    open_page(at, "search")
    found = search(at, "travel budget")
    assert sources(found) == {"budget.pdf"}
    open_page(at, "library")
    row = at.dataframe[0].value.iloc[0]
    assert (row["Name"], list(row["Tags"])) == ("budget.pdf", ["finance"])


def test_failed_uploads_stay_on_the_library_page_until_dismissed(ui_env: Path) -> None:
    at = upload(
        run(new_app()),
        [
            ("budget.pdf", LOCKED_PDF, "application/pdf"),
            ("broken.pdf", BROKEN_PDF, "application/pdf"),
            ("notes.txt", NOTES_TXT, "text/plain"),
        ],
    )
    open_page(at, "search")  # the page changes: the failures are still kept
    open_page(at, "library")
    assert "Failed uploads" in texts(at.subheader)
    listed = [m.value for m in at.markdown if ":red[" in m.value]
    assert len(listed) == 2
    assert any(line.startswith("**budget\\.pdf** · ") and "password\\-protected" in line for line in listed)
    assert any(line.startswith("**broken\\.pdf** · 33 B · ") and "damaged PDF" in line for line in listed)

    # The encrypted one goes in from here, with its password; the page says so.
    at.text_input(key=_password_box(at, "library")).input(PASSWORD)
    _submit(at, "Unlock and index")
    assert any("**budget\\.pdf**: 1 chunk" in s.value for s in at.success)
    assert sorted(at.dataframe[0].value["Name"]) == ["budget.pdf", "notes.txt"]
    listed = [m.value for m in at.markdown if ":red[" in m.value]
    assert len(listed) == 1 and listed[0].startswith("**broken\\.pdf**")

    # A retry of the damaged one fails the same way; Dismiss removes it.
    (retry,) = [b for b in at.button if (b.key or "").startswith("library-retry-")]
    retry.click()
    run(at)
    assert len([m for m in at.markdown if ":red[" in m.value]) == 1
    (dismiss,) = [b for b in at.button if (b.key or "").startswith("library-dismiss-")]
    dismiss.click()
    run(at)
    assert "Failed uploads" not in texts(at.subheader)
    assert not [m for m in at.markdown if ":red[" in m.value]


def test_a_damaged_pdf_is_named_damaged_not_scanned(ui_env: Path) -> None:
    blank = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
    )
    at = upload(run(new_app()), [("blank.pdf", blank, "application/pdf")])
    (error,) = at.error
    assert "**blank\\.pdf**: **damaged PDF**" in error.value
    assert "scanned" not in error.value


def test_the_sample_documents_button_fills_an_empty_library(ui_env: Path) -> None:
    at = run(new_app())
    assert any("Your library is empty" in text for text in texts(at.info))
    at.button(key="samples_search").click()
    run(at)
    assert any(s.value.startswith("**Sample documents added** (3 ingested") for s in at.success)
    examples = [b.label for b in at.button if (b.key or "").startswith("example_")]
    assert examples == list(EXAMPLE_QUERIES)
    at.button(key="example_0").click()
    run(at)
    assert at.text_input(key="query").value == EXAMPLE_QUERIES[0]
    assert cards(at)

    open_page(at, "library")
    table = at.dataframe[0].value
    assert sorted(table["Name"]) == sorted(SAMPLE_FILES)
    assert all(list(tags) == ["sample"] for tags in table["Tags"])
    pages = dict(zip(table["Name"], table["Pages"], strict=True))
    assert pages["us-constitution.pdf"] == "20"
    assert pages["the-modern-orchestra.txt"] == pages["introduction-to-mathematics.html"] == "—"
    # Sizes in one unit system (SI), as the uploader shows them.
    assert all(re.fullmatch(r"\d+\.\d (kB|MB)", size) for size in table["Size"])
    assert any(re.search(r"· \d+\.\d kB of originals", c) for c in texts(at.caption))


def test_the_library_page_offers_the_samples_too(ui_env: Path) -> None:
    at = open_page(run(new_app()), "library")
    at.button(key="samples_library").click()
    run(at)
    open_page(at, "library")
    assert len(at.dataframe[0].value) == 3


@pytest.mark.timeout(300)
def test_a_scanned_pdf_uploaded_in_the_ui_is_found_by_its_words(ui_env: Path, shared_pdfs: Path) -> None:
    name = "unst__loremipsum-flat.pdf"  # an image-only page: no text layer at all
    at = upload(run(new_app()), [(name, (shared_pdfs / name).read_bytes(), "application/pdf")])
    assert any(re.search(r"loremipsum\S*\*\*: \d+ chunks?", s.value) for s in at.success), texts(at.success)
    open_page(at, "search")
    found = search(at, "consectetur adipiscing elit")
    assert found and source_of(found[0]) == name and "page 1" in found[0].header, found
    assert "adipiscing" in found[0].passage.lower()
    assert any(c.value.startswith("Text read by OCR from the page image") for c in at.caption)
