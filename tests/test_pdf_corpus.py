"""Every real-world PDF in the shared corpus (`shared/eval/pdfs`), through the real code.

`EXPECTED` is written by hand from each file's MANIFEST category and notes, not from
what the code returns: a file whose outcome changes fails here until someone looks.
Extraction runs in the `WorkerPool` with the real MiniLM tokenizer, as ingestion does, so
a parser that hangs or crashes costs one file and a bounded time.

The end-to-end test at the bottom ingests the whole directory into a real Chroma store
with the real model, twice.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from searchapp import Library
from searchapp.embedding.models import resolve_model
from searchapp.embedding.tokens import TokenizerSpec
from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.chunking import ChunkerConfig
from searchapp.ingest.extract import extract
from searchapp.ingest.files import discover
from searchapp.ingest.garbage import garbage_reason
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.prepare import Prepared, PrepareJob, init_worker, prepare
from searchapp.ingest.types import Limits
from searchapp.ingest.workers import WorkerPool

INGESTED = "ingested"
NO_TEXT = FailureReason.NO_TEXT
PASSWORD = FailureReason.PASSWORD_PROTECTED
DAMAGED = FailureReason.DAMAGED_PDF


@dataclass(frozen=True)
class Expect:
    category: str  # the MANIFEST's category, checked against it
    outcome: str | FailureReason  # INGESTED, or the failure reason
    phrases: tuple[str, ...] = ()  # text that must be found (case-insensitive)
    pages: int | None = None
    warning: str = ""  # a substring one of the warnings must contain; "" = no warnings at all
    why: str = ""
    ocr: bool = False  # OCR is needed (and run) for this outcome; the table runs the rest with OCR off


EXPECTED: dict[str, Expect] = {
    # text
    "pysample__002-trivial-libre-office-writer.pdf": Expect("text", INGESTED, ("lorem ipsum dolor",), 1),
    "pysample__google-doc-document.pdf": Expect("text", INGESTED, ("beautiful is better than ugly",), 1),
    "pysample__pdflatex-4-pages.pdf": Expect("text", INGESTED, ("some text without a meaning",), 4),
    "pysample__crazyones-pdfa.pdf": Expect("text", INGESTED, ("the crazy ones", "misfits"), 1),
    "pdfjs__TAMReview.pdf": Expect(
        "text",
        INGESTED,
        ("technology acceptance model",),
        23,
        warning="21 of 23 pages have a garbled text layer (",
        why="pages 2-22 decode to control characters (pdfium) or glyph names (pypdf); OCR off here",
    ),
    "pdfjs__issue11913.pdf": Expect("text", INGESTED, ("supreme court",), 1),
    "pdfjs__issue13201.pdf": Expect("text", INGESTED, ("peer-to-peer", "electronic cash"), 1),
    "pdfjs__prefilled_f1040.pdf": Expect("text", INGESTED, ("internal revenue service",), 2),
    "unst__fake-memo.pdf": Expect("text", INGESTED, ("bottles of water",), 1),
    "unst__reliance.pdf": Expect("text", INGESTED, ("digital transformation",), 3),
    "unst__embedded-images-tables.pdf": Expect("text", INGESTED, ("inhibitor concentration",), 1),
    "unst__layout-parser-paper-fast.pdf": Expect(
        "text", INGESTED, ("layoutparser", "document image analysis"), 2
    ),
    # multicolumn
    "pdfjs__tracemonkey.pdf": Expect(
        "multicolumn", INGESTED, ("trace", "just-in-time", "type specialization"), 14
    ),
    "unst__multi-column-2p.pdf": Expect("multicolumn", INGESTED, ("dense passage retrieval",), 2),
    "pysample__multicolumn.pdf": Expect("multicolumn", INGESTED, ("two-column document",), 3),
    # scanned: image-only pages have no text layer and are read with OCR
    "unst__loremipsum-flat.pdf": Expect(
        "scanned",
        INGESTED,
        ("lorem ipsum dolor sit amet",),
        1,
        warning="1 of 1 pages had no text layer and was read with OCR: page 1",
        ocr=True,
    ),
    "unst__pdf-with-ocr-text.pdf": Expect(
        "scanned", INGESTED, ("foundation",), 1, why="has an OCR text layer"
    ),
    "pdfjs__issue7229.pdf": Expect(
        "scanned",
        INGESTED,
        ("диагностическая карта", "certificate of periodic technical inspection"),
        2,
        warning="2 of 2 pages had no text layer and were read with OCR: pages 1-2",
        ocr=True,
    ),
    "unst__table-multi-row-column-cells.pdf": Expect(
        "scanned",
        INGESTED,
        ("low vision", "dexterity"),
        1,
        warning="1 of 1 pages had no text layer and was read with OCR: page 1",
        why="the blue header row is lost: Tesseract reads the body rows only",
        ocr=True,
    ),
    # encrypted
    "pysample__libreoffice-writer-password.pdf": Expect("encrypted", PASSWORD, why="RC4, user password"),
    "unst__copy-protected.pdf": Expect(
        "encrypted", INGESTED, ("layoutparser",), 2, why="AES, empty user password"
    ),
    "pdfjs__issue6010_1.pdf": Expect("encrypted", PASSWORD, why="AES-256 R6, user password"),
    "pdfjs__issue21579.pdf": Expect("encrypted", PASSWORD, why="AES-256 R5, non-ASCII user password"),
    "pdfjs__issue9972-1.pdf": Expect(
        "encrypted", INGESTED, ("personal vitality rebate",), 1, why="empty password"
    ),
    # malformed
    "pdfjs__poppler-742-0-fuzzed.pdf": Expect("malformed", DAMAGED, why="neither library opens it"),
    "pdfjs__helloworld-bad.pdf": Expect(
        "malformed", INGESTED, ("hello, world!",), 1, why="xref repaired by pypdf"
    ),
    "pdfjs__issue6069.pdf": Expect(
        "malformed",
        INGESTED,
        ("missing value for startxref",),
        1,
        warning="repaired: ",
        why="pdfium skips the junk before %PDF (said in a warning); pypdf cannot open it, and falls back to pdfium",
    ),
    "pdfjs__Pages-tree-refs.pdf": Expect(
        "malformed",
        INGESTED,
        ("pages loop",),
        2,
        warning="1 of 2 pages could not be read (damaged?): page 2",
        why="pypdf refuses the cyclic page tree; pdfium reads page 1 and fails on page 2",
    ),
    "unst__invalid-pdf-structure-pdfminer-one-page.pdf": Expect("malformed", INGESTED, ("cybersecurity",), 2),
    "pdfjs__issue11549_reduced.pdf": Expect(
        "malformed",
        INGESTED,
        ("flags and paving",),
        1,
        why="MANIFEST expects garbage control characters (bad ToUnicode); pypdf 7.1 reads a real title",
    ),
    # large
    "pdfjs__freeculture.pdf": Expect(
        "large",
        INGESTED,
        ("free culture", "lessig"),
        352,
        warning="1 of 352 pages has no text layer; OCR is off (SEARCHAPP_OCR=off): page 1",
        why="the cover is an image",
    ),
    "pysample__GeoTopo-komprimiert.pdf": Expect("large", INGESTED, ("geometrie und topologie",), 117),
    # nonlatin
    "pdfjs__issue19971.pdf": Expect("nonlatin", INGESTED, ("implementation", "arial"), 6),
    "pdfjs__issue13211.pdf": Expect("nonlatin", INGESTED, ("เวกเตอร์", "นิ้ว"), 1),
    "unst__korean-text-with-tables.pdf": Expect("nonlatin", INGESTED, ("적립 제외 대상",), 1),
    "pysample__habibi.pdf": Expect("nonlatin", INGESTED, ("habibi", "حَبيبي"), 1),
    "pdfjs__XiaoBiaoSong.pdf": Expect(
        "nonlatin",
        INGESTED,
        ("红军作战",),
        1,
        why="pypdf's text is mojibake: the page is taken from pdfium, see test_xiaobiaosong_*",
    ),
    "pdfjs__issue20232.pdf": Expect(
        "nonlatin",
        INGESTED,
        ("a4",),
        1,
        warning="1 of 1 pages had a garbled text layer (",
        why="both libraries decode its Cyrillic to garbage (Hangul, mojibake): read with OCR",
        ocr=True,
    ),
}

# Scripts each non-Latin file must really contain (Unicode name prefixes), so that
# mojibake in a script we claim to support fails the test.
SCRIPTS = {
    "pdfjs__issue19971.pdf": ("ARABIC", "HIRAGANA", "CJK"),
    "pdfjs__issue13211.pdf": ("THAI",),
    "unst__korean-text-with-tables.pdf": ("HANGUL",),
    "pysample__habibi.pdf": ("ARABIC",),
    "pdfjs__issue7229.pdf": ("CYRILLIC",),
    "pdfjs__issue20232.pdf": ("CYRILLIC",),
}


def manifest(directory: Path) -> dict[str, str]:
    with (directory / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return {row["file"]: row["category"] for row in csv.DictReader(handle, delimiter="\t")}


def scripts_of(text: str) -> set[str]:
    return {unicodedata.name(ch, "?").split()[0] for ch in text if ch.isalpha() and ord(ch) > 0x24F}


def test_the_table_covers_every_pdf_and_agrees_with_the_manifest(shared_pdfs: Path) -> None:
    on_disk = {p.name for p in shared_pdfs.glob("*.pdf")}
    assert on_disk == set(EXPECTED), "add new corpus files to EXPECTED"
    assert manifest(shared_pdfs) == {name: expect.category for name, expect in EXPECTED.items()}


# ------------------------------------------------------------ one file at a time

SPEC = TokenizerSpec.for_model(resolve_model("all-MiniLM-L6-v2"))
CHUNKING = ChunkerConfig(chunk_tokens=200, overlap_tokens=32, tokenizer=SPEC)
FILE_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool[PrepareJob, Prepared]]:
    with WorkerPool(
        prepare, workers=1, cpu_limit_s=FILE_TIMEOUT_S, initializer=partial(init_worker, CHUNKING)
    ) as workers:
        yield workers


@pytest.mark.timeout(FILE_TIMEOUT_S + 60)
@pytest.mark.parametrize("extractor", ["pdfium", "pypdf"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_pdf_has_its_expected_outcome(
    name: str, extractor: str, shared_pdfs: Path, pool: WorkerPool[PrepareJob, Prepared]
) -> None:
    """Both extractors pass the same table: pdfium is the default only because it does."""
    expect = EXPECTED[name]
    # The same time limit as the pool's, as in ingestion: OCR stops before the pool kills the file.
    limits = Limits(pdf_extractor=extractor, ocr="auto" if expect.ocr else "off", timeout_s=FILE_TIMEOUT_S)
    job = PrepareJob(data=(shared_pdfs / name).read_bytes(), source=name, limits=limits)
    [(_, result)] = list(pool.map([job]))
    if expect.outcome != INGESTED:
        assert isinstance(result, IngestError), f"expected {expect.outcome}, got {result!r}"
        assert result.reason == expect.outcome, repr(result)
        assert result.detail
        return
    assert isinstance(result, Prepared), repr(result)
    text = "\n".join(chunk.text for chunk in result.chunks).lower()
    for phrase in expect.phrases:
        assert phrase.lower() in text, f"{phrase!r} not in {name}"
    if expect.pages is not None:
        assert result.pages == expect.pages
    if expect.warning:
        assert any(expect.warning in w for w in result.warnings), result.warnings
    else:
        assert result.warnings == (), result.warnings
    assert result.title.strip()
    chunks = result.chunks
    assert chunks and [c.index for c in chunks] == list(range(len(chunks)))
    assert all(c.tokens <= 256 for c in chunks)
    assert all(c.page is not None and 1 <= c.page <= result.pages for c in chunks)
    assert any(c.ocr for c in chunks) == expect.ocr
    for script in SCRIPTS.get(name, ()):
        assert script in scripts_of(text), f"no {script} letters in {name}"


def test_password_messages_are_clear_and_say_nothing_secret(shared_pdfs: Path) -> None:
    for name, password in [
        ("pysample__libreoffice-writer-password.pdf", "openpassword"),
        ("pdfjs__issue6010_1.pdf", "abc"),
    ]:
        with pytest.raises(IngestError) as caught:
            extract((shared_pdfs / name).read_bytes(), name, Limits())
        message = str(caught.value)
        assert "needs a password" in message and "--password" in message and "`" not in message
        assert password not in message.replace("password", "")


@pytest.mark.parametrize("extractor", ["pdfium", "pypdf"])
@pytest.mark.parametrize(
    ("name", "password", "text"),
    [
        ("pysample__libreoffice-writer-password.pdf", "openpassword", "Lorem ipsum"),  # RC4-128
        ("pdfjs__issue21579.pdf", "pässwört", "AES-256 R5"),  # non-ASCII password
    ],
)
def test_an_encrypted_pdf_opens_with_its_password_and_a_wrong_one_is_named(
    shared_pdfs: Path, extractor: str, name: str, password: str, text: str
) -> None:
    data = (shared_pdfs / name).read_bytes()
    document = extract(data, name, Limits(pdf_extractor=extractor), password=password)
    assert text in document.sections[0].text
    with pytest.raises(IngestError) as caught:
        extract(data, name, Limits(pdf_extractor=extractor), password=password + "x")
    assert caught.value.reason is FailureReason.PASSWORD_PROTECTED
    assert "the password is not right" in str(caught.value) and password not in str(caught.value)


def test_a_pdf_whose_pages_hold_nothing_is_damaged_not_scanned() -> None:
    blank = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
    )
    with pytest.raises(IngestError) as caught:
        extract(blank, "blank.pdf", Limits())
    assert caught.value.reason is FailureReason.DAMAGED_PDF
    assert str(caught.value) == (
        "damaged PDF: its one page is empty (no text, no images, no drawing): the file is damaged or blank"
    )


def test_the_fuzzed_file_says_why_it_cannot_be_opened(shared_pdfs: Path) -> None:
    name = "pdfjs__poppler-742-0-fuzzed.pdf"
    with pytest.raises(IngestError) as caught:
        extract((shared_pdfs / name).read_bytes(), name, Limits())
    assert "cannot be opened" in str(caught.value)


def test_scanned_files_with_ocr_off_say_so(shared_pdfs: Path) -> None:
    with pytest.raises(IngestError) as caught:
        extract((shared_pdfs / "pdfjs__issue7229.pdf").read_bytes(), "scan.pdf", Limits(ocr="off"))
    assert caught.value.reason == NO_TEXT
    assert caught.value.detail == "its 2 pages have no text layer, and OCR is off (SEARCHAPP_OCR=off)"


def test_a_340_byte_pdf_whose_page_content_is_missing_is_damaged_not_scanned() -> None:
    """Catalog, page tree and one page whose /Contents object is not in the file."""
    body = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
    ]
    data = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(body, start=1):
        offsets.append(len(data))
        data += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(data)
    data += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    data += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    assert 300 < len(data) < 400
    for extractor in ("pdfium", "pypdf"):
        with pytest.raises(IngestError) as caught:
            extract(data, "tiny.pdf", Limits(pdf_extractor=extractor))
        assert caught.value.reason == DAMAGED, caught.value
        assert caught.value.detail == "the content of its page is missing or cannot be decoded"


def brotli_pdf(source: bytes) -> bytes:
    """`source` with every Flate stream recompressed as /BrotliDecode (what some new tools write)."""
    import io

    import brotli
    import pypdf
    from pypdf.generic import NameObject, NumberObject, StreamObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(source)))
    converted = 0
    for obj in writer._objects:
        if (
            isinstance(obj, StreamObject)
            and obj.get("/Filter") == "/FlateDecode"
            and "/DecodeParms" not in obj
        ):
            data = obj.get_data()
            obj._data = brotli.compress(data)
            obj[NameObject("/Filter")] = NameObject("/BrotliDecode")
            obj[NameObject("/Length")] = NumberObject(len(obj._data))
            converted += 1
    assert converted >= 4  # page contents and fonts
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("extractor", ["pdfium", "pypdf"])
def test_a_brotli_compressed_pdf_ingests(extractor: str, shared_pdfs: Path) -> None:
    import pypdfium2

    data = brotli_pdf((shared_pdfs / "pysample__pdflatex-4-pages.pdf").read_bytes())
    assert b"/BrotliDecode" in data and b"/FlateDecode" not in data
    page = pypdfium2.PdfDocument(data)[0]
    assert page.get_textpage().get_text_range() == ""  # pdfium cannot decode Brotli: why pypdf reads it
    doc = extract(data, "brotli.pdf", Limits(pdf_extractor=extractor))
    assert doc.pages == 4 and doc.warnings == ()
    assert "some text without a meaning" in " ".join(s.text for s in doc.sections)


# ------------------------------------------------- the two extractors compared


def cjk(text: str) -> int:
    return sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")


def test_xiaobiaosong_pypdf_gives_mojibake_so_the_page_comes_from_pdfium(shared_pdfs: Path) -> None:
    """pypdf shows this file's GBK bytes as Latin-1; the garbage check catches it."""
    import pypdf

    data = (shared_pdfs / "pdfjs__XiaoBiaoSong.pdf").read_bytes()
    raw = pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert cjk(raw) == 0 and "Ô" in raw and "¡" in raw  # the defect, kept as a check
    assert garbage_reason(raw) is not None
    doc = extract(data, "x.pdf", Limits(pdf_extractor="pypdf", ocr="off"))
    text = "\n".join(s.text for s in doc.sections)
    assert cjk(text) > 150 and "红军作战" in text
    assert doc.warnings == ()


def test_xiaobiaosong_pdfium_gives_chinese(shared_pdfs: Path) -> None:
    doc = extract(
        (shared_pdfs / "pdfjs__XiaoBiaoSong.pdf").read_bytes(), "x.pdf", Limits(pdf_extractor="pdfium")
    )
    text = "\n".join(s.text for s in doc.sections)
    assert cjk(text) > 150
    assert "红军作战" in text  # pdfium letter-spaces this font; the spaces are closed up
    assert doc.title.startswith("关于红军")


def test_right_to_left_pages_come_out_in_reading_order(shared_pdfs: Path) -> None:
    """pdfium gives Arabic in visual order (reversed); such pages are read with pypdf."""
    import pypdfium2

    data = (shared_pdfs / "pysample__habibi.pdf").read_bytes()
    page = pypdfium2.PdfDocument(data)[0]
    raw = page.get_textpage().get_text_range()
    assert "حَبيبي" not in raw and "حَبيبي"[::-1] in raw  # the defect being worked around
    doc = extract(data, "h.pdf", Limits(pdf_extractor="pdfium"))
    assert doc.sections[0].text == "حَبيبي habibi حَبيبي"  # and without pdfium's stray Greek glyphs


def test_wrapped_japanese_lines_are_joined_by_both_extractors(shared_pdfs: Path) -> None:
    """pypdf breaks this file's Japanese after every character and pdfium at the margin;
    CJK has no spaces between words, so both are joined and a phrase is found whole."""
    data = (shared_pdfs / "pdfjs__issue19971.pdf").read_bytes()
    for extractor in ("pdfium", "pypdf"):
        doc = extract(data, "q.pdf", Limits(pdf_extractor=extractor))
        text = "\n".join(s.text for s in doc.sections)
        assert "地理を学ぶことの重要性について詳しく説明します" in text, extractor
        assert "الإنسانیة" in text, extractor  # Arabic in reading order (with a Persian yeh, as in the file)


# --------------------------------------------------------------- end to end


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ingest_the_whole_corpus_twice_then_search(real_library: Library, shared_pdfs: Path) -> None:
    found = discover([shared_pdfs])
    assert {f.source for f in found.files} == set(EXPECTED)
    assert [p.name for p in found.skipped] == ["MANIFEST.tsv"]

    with Ingestor(real_library, workers=2) as ingestor:
        first = ingestor.ingest(found.files)
        by_source = {o.source: o for o in first.outcomes}
        assert set(by_source) == set(EXPECTED)
        for name, expect in EXPECTED.items():
            outcome = by_source[name]
            if expect.outcome == INGESTED:
                assert outcome.status == "ingested", (name, outcome.message)
                assert outcome.chunks > 0
            else:
                assert (outcome.status, outcome.reason) == ("failed", expect.outcome), (name, outcome.message)
        stats = real_library.stats()
        records = {r.source: r for r in real_library.documents()}
        ingested = [name for name, e in EXPECTED.items() if e.outcome == INGESTED]
        assert sorted(records) == sorted(ingested)
        assert stats.chunks == sum(r.chunks for r in records.values()) == first.chunks_written
        assert records["pdfjs__freeculture.pdf"].pages == 352
        assert any("could not be read" in w for w in records["pdfjs__Pages-tree-refs.pdf"].warnings)

        # The same files again: nothing is written, failures fail the same way.
        second = ingestor.ingest(found.files)
        for outcome in second.outcomes:
            expect = EXPECTED[outcome.source]
            if expect.outcome == INGESTED:
                assert outcome.status == "unchanged", (outcome.source, outcome.message)
                assert outcome.chunks == records[outcome.source].chunks
            else:
                assert (outcome.status, outcome.reason) == ("failed", expect.outcome)
        assert second.chunks_written == 0
        assert {r.source: r for r in real_library.documents()} == records  # same ingested_at: not rewritten
        assert real_library.stats().chunks == stats.chunks

    response = real_library.search(
        "a peer-to-peer version of electronic cash without a financial institution", k=3
    )
    assert response.hits[0].metadata["source"] == "pdfjs__issue13201.pdf"
    assert "peer-to-peer" in response.hits[0].text.lower()
    response = real_library.search("trace-based just-in-time compilation of JavaScript loops", k=5)
    assert "pdfjs__tracemonkey.pdf" in [hit.metadata["source"] for hit in response.hits]
