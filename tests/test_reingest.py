"""`Ingestor.reingest`: rebuild one document from its kept original, in place."""

from __future__ import annotations

from pathlib import Path

from searchapp import Library
from searchapp.errors import FailureReason
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.reindex import reindex
from searchapp.ingest.types import SourceFile
from tests.conftest import make_settings
from tests.helpers import make_pdf

TEXT = " ".join(f"word{i} refunds are paid within thirty days of the request." for i in range(40))


def test_reingest_re_extracts_with_current_settings_and_keeps_tags(tmp_path: Path) -> None:
    pdf = make_pdf([TEXT[:900], TEXT[900:1800]])
    coarse = make_settings(tmp_path, model="hash:64", chunk_tokens=200, chunk_overlap=5)
    with Library.open(coarse) as library, Ingestor(library) as ingestor:
        first = ingestor.ingest([SourceFile(source="policy.pdf", data=pdf, tags=("hr",))]).outcomes[0]
        assert first.status == "ingested"
        coarse_chunks = first.chunks

    # Smaller chunks: a plain ingest says "unchanged"; reingest really re-chunks.
    fine = coarse.with_overrides(chunk_tokens=30)
    with Library.open(fine) as library, Ingestor(library) as ingestor:
        assert ingestor.ingest([SourceFile(source="policy.pdf", data=pdf)]).outcomes[0].status == "unchanged"
        report = ingestor.reingest([first.doc_id])
        (outcome,) = report.outcomes
        assert outcome.status == "ingested"
        assert outcome.chunks > coarse_chunks
        (record,) = library.documents()
        assert record.doc_id == first.doc_id
        assert record.chunks == outcome.chunks
        assert record.tags == ("hr",)
        assert library.stats().chunks == outcome.chunks  # the old chunks are gone
        assert library.original(first.doc_id) == pdf
        hits = library.search("refunds thirty days", k=3).hits
        assert hits and all(hit.tags == ("hr",) for hit in hits)


def test_reingest_reports_unknown_and_missing_originals(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library, Ingestor(library) as ingestor:
        done = ingestor.ingest([SourceFile(source="a.txt", data=b"alpha beta gamma")]).outcomes[0]
        library.originals.delete(done.doc_id)
        report = ingestor.reingest([done.doc_id, "f" * 64])
        assert [o.status for o in report.outcomes] == ["failed", "failed"]
        assert all(o.reason is FailureReason.UNREADABLE for o in report.outcomes)
        assert "no kept original" in report.outcomes[0].detail
        assert "not in the library" in report.outcomes[1].detail
        assert [r.source for r in library.documents()] == ["a.txt"]  # nothing was removed


def test_a_rebuild_keeps_a_document_it_cannot_read_again(tmp_path: Path) -> None:
    """An encrypted PDF needs its password to be read; its original is kept encrypted, so a
    reindex cannot re-read it. It keeps its stored passages (embedded again) instead of vanishing."""
    settings = make_settings(tmp_path, model="hash:64")
    locked = make_pdf(["The vault code is written in the ledger."], encrypt_user_password="pw")
    with Library.open(settings) as library, Ingestor(library) as ingestor:
        report = ingestor.ingest(
            [
                SourceFile("vault.pdf", data=locked, password="pw"),
                SourceFile("note.txt", data=b"An open note."),
            ]
        )
        assert [o.status for o in report.outcomes] == ["ingested", "ingested"]
        before = {r.source: r.chunks for r in library.documents()}
        library, rebuilt = reindex(library, model="hash:32")
    with library:
        by_source = {o.source: o for o in rebuilt.outcomes}
        assert by_source["note.txt"].status == "ingested" and not by_source["note.txt"].warnings
        vault = by_source["vault.pdf"]
        assert vault.status == "ingested" and "password" in vault.warnings[0]
        assert "its stored passages were kept" in vault.warnings[0]
        assert {r.source: r.chunks for r in library.documents()} == before
        assert library.model.dimension == 32
        hit = library.search("vault code ledger", k=1, mode="keyword").hits[0]
        assert hit.source == "vault.pdf" and hit.page == 1
