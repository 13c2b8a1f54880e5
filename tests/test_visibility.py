"""Per-group visibility inside a collection, against real Chroma (hash embedder).

A document restricted to groups is, for a caller outside them, not there: not in any
search mode (and the k best are the k best it may see, none dropped afterwards), not in
`similar`, the document list, counts, originals, neighbours or the filter notices, and
not writable. Groups survive a reopen, a reindex, a rebuild from the originals and the
re-embedding of a model switch.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from searchapp import Library, SearchFilters, SearchRequest, Settings
from searchapp.errors import AccessDeniedError, DocumentNotFoundError, InvalidFilterError, QueryError
from searchapp.ingest import Ingestor, SourceFile
from searchapp.ingest.reindex import rebuild_from_originals, reindex, stored_documents
from searchapp.library.view import LibraryView
from tests import servers
from tests.conftest import make_settings
from tests.helpers import make_pdf

NOBODY = frozenset[str]()
HR = frozenset({"hr"})
# Restricted documents say "refund" more often than the open ones, so they would rank first.
RESTRICTED = {
    f"hr-{i}.md": (
        f"# Refunds {i}\n\n" + "Refund refund refund: the hr refund desk pays refunds. " * 3,
        ("hr",),
    )
    for i in range(6)
}
RESTRICTED["board.md"] = (
    "# Board\n\nRefund refund refund, board minutes on the refund reserve.",
    ("board", "legal"),
)
OPEN = {
    f"open-{i}.md": (f"# Policy {i}\n\nA refund is paid within {i + 10} days of a claim.", ())
    for i in range(4)
}


def ingest(library: Library, docs: dict[str, tuple[str, tuple[str, ...]]]) -> None:
    files = [SourceFile(name, data=text.encode(), groups=groups) for name, (text, groups) in docs.items()]
    with Ingestor(library) as ingestor:
        report = ingestor.ingest(files)
    assert {o.status for o in report.outcomes} == {"ingested"}, report.outcomes


@pytest.fixture
def library(hash_settings: Settings) -> Iterator[Library]:
    with Library.open(hash_settings) as opened:
        ingest(opened, {**RESTRICTED, **OPEN})
        yield opened


def sources(view: LibraryView, query: str = "refund", **kwargs: object) -> list[str]:
    return [hit.source for hit in view.search(query, **kwargs).hits]  # type: ignore[arg-type]


def doc_id(library: Library, source: str) -> str:
    return library.document(source).doc_id


@pytest.mark.parametrize("mode", ["adaptive", "hybrid", "dense", "keyword"])
def test_every_mode_returns_the_k_best_visible_passages(library: Library, mode: str) -> None:
    everyone = sources(library.view(None), k=3, mode=mode)
    assert set(everyone) & set(RESTRICTED)  # unrestricted, the restricted ones rank first
    nobody = sources(library.view(NOBODY), k=3, mode=mode)
    assert len(nobody) == 3 and set(nobody) <= set(OPEN)  # k is filled from what may be seen
    hr = sources(library.view(HR), k=20, mode=mode)
    assert set(hr) <= set(OPEN) | {n for n in RESTRICTED if n.startswith("hr-")} and "board.md" not in hr
    assert {n for n in hr if n.startswith("hr-")}
    legal = sources(library.view(frozenset({"legal"})), k=20, mode=mode)
    assert "board.md" in legal and not {n for n in legal if n.startswith("hr-")}
    grouped = library.view(NOBODY).search("refund", k=3, mode=mode, group=True)
    assert grouped.groups is not None and len(grouped.groups) == 3
    assert {g.best.source for g in grouped.groups} <= set(OPEN)


def test_a_caller_cannot_widen_its_visibility_through_filters(library: Library) -> None:
    view = library.view(NOBODY)
    sneaky = SearchFilters(visible_to=("hr", "board"))
    assert set(sources(view, k=20, filters=sneaky)) <= set(OPEN)
    with pytest.raises(InvalidFilterError, match="unknown filter 'visible_to'"):
        SearchFilters.from_mapping({"visible_to": ["hr"]})
    assert set(sources(view, k=20, filters={"file_types": ["md"]})) <= set(OPEN)
    # Someone who sees everything may narrow it, like any filter.
    assert set(sources(library.view(None), k=20, filters=sneaky)) <= set(OPEN) | set(RESTRICTED)


def refusal(view: LibraryView, request: SearchRequest) -> str:
    with pytest.raises(DocumentNotFoundError) as caught:
        view.find(request)
    return str(caught.value)


@pytest.mark.parametrize("mode", ["adaptive", "hybrid", "dense", "keyword"])
def test_the_query_syntax_cannot_reach_a_hidden_document(library: Library, mode: str) -> None:
    """Filters typed in the query merge with the view's visibility; `doc:` resolves only among
    what the caller sees, so naming a hidden document answers exactly as naming none."""
    view, hidden = library.view(NOBODY), doc_id(library, "hr-0.md")
    for query in ("refund type:md", "refund after:2000-01-01", '"refund" -minutes', "refund doc:.md"):
        found = sources(view, query, k=20, mode=mode)
        assert found and set(found) <= set(OPEN), query
    assert set(sources(library.view(None), "refund doc:.md", k=20, mode=mode)) & set(RESTRICTED)
    # By name, part of a name, id and id prefix: as if the document did not exist.
    for ref in ("hr-0.md", "board", hidden, hidden[:10]):
        request = SearchRequest(query=f"refund doc:{ref}", mode=mode)
        none = SearchRequest(query="refund doc:nowhere-at-all", mode=mode)
        assert refusal(view, request) == refusal(view, none).replace("nowhere-at-all", ref)
    assert sources(library.view(HR), "refund doc:hr-0.md", k=20, mode=mode) == ["hr-0.md"]
    # A hidden document's id among the filters finds what an id that exists nowhere finds.
    for ids in ([hidden], ["0" * 64]):
        assert view.find(SearchRequest(query="refund", filters=SearchFilters(doc_ids=tuple(ids)))).hits == ()
    # `like` a hidden passage, with a query that narrows it: as if it did not exist.
    like = SearchRequest(like=f"{hidden}:0", query="type:md", mode=mode)
    nowhere = SearchRequest(like=f"{'0' * 64}:0", query="type:md", mode=mode)
    assert refusal(view, like).replace(hidden, "X") == refusal(view, nowhere).replace("0" * 64, "X")


def test_a_request_cannot_carry_its_own_visibility(library: Library) -> None:
    view = library.view(NOBODY)
    with pytest.raises(QueryError, match="unknown search request key 'visible_to'"):
        SearchRequest.from_mapping({"query": "refund", "visible_to": ["hr"]})
    with pytest.raises(InvalidFilterError, match="unknown filter 'visible_to'"):
        SearchRequest.from_mapping({"query": "refund", "filters": {"visible_to": ["hr"]}})
    # Built in Python with a wider visibility, the view's own replaces it, typed filters or not.
    for query in ("refund", "refund type:md"):
        sneaky = SearchRequest(query=query, k=20, filters=SearchFilters(visible_to=("hr", "board")))
        assert {h.source for h in view.find(sneaky).hits} <= set(OPEN)
        grouped = view.find(dataclasses.replace(sneaky, group=True, k=3))
        assert grouped.groups is not None and {g.best.source for g in grouped.groups} <= set(OPEN)


def test_similar_never_starts_from_or_returns_a_hidden_passage(library: Library) -> None:
    hidden = f"{doc_id(library, 'hr-0.md')}:0"
    visible = f"{doc_id(library, 'open-0.md')}:0"
    view = library.view(NOBODY)
    with pytest.raises(DocumentNotFoundError) as hidden_error:
        view.similar(hidden)
    with pytest.raises(DocumentNotFoundError) as missing_error:
        view.similar(f"{'0' * 64}:0")
    assert str(hidden_error.value).replace(hidden, "X") == str(missing_error.value).replace(
        f"{'0' * 64}:0", "X"
    )
    with pytest.raises(DocumentNotFoundError):
        view.similar(f"{hidden[:12]}:0")  # the short form does not find it either
    for mode in library.search_modes:
        found = [h.source for h in view.similar(visible, k=3, mode=mode).hits]
        assert found and set(found) <= set(OPEN), mode
    assert {h.source for h in library.view(HR).similar(hidden, k=20).hits} & set(RESTRICTED)


def test_documents_counts_originals_and_neighbours_see_only_what_is_visible(library: Library) -> None:
    view, hidden = library.view(NOBODY), doc_id(library, "hr-0.md")
    assert [r.source for r in view.documents()] == sorted(OPEN)
    assert view.find_by_id(hidden) is None and view.find_by_id(doc_id(library, "open-1.md")) is not None
    for ref in ("hr-0.md", hidden, hidden[:10]):
        with pytest.raises(DocumentNotFoundError):
            view.document(ref)
    for read in (lambda: view.original(hidden), lambda: view.neighbours(hidden, 0)):
        with pytest.raises(DocumentNotFoundError):
            read()
    stats, everything = view.stats(), library.stats()
    assert (stats.documents, everything.documents) == (4, 11)
    assert stats.chunks == sum(r.chunks for r in view.documents()) < everything.chunks
    assert stats.originals_bytes == sum(r.size for r in view.documents())
    assert library.view(None).stats() == everything
    assert view.original(doc_id(library, "open-1.md")).startswith(b"# Policy 1")
    assert [r.source for r in library.view(HR).documents()] == sorted(
        [*OPEN, *(n for n in RESTRICTED if "hr" in n)]
    )


def test_writes_through_a_view_treat_hidden_documents_as_missing(library: Library) -> None:
    view, hidden = library.view(HR), doc_id(library, "board.md")
    for write in (
        lambda: view.delete("board.md"),
        lambda: view.update_tags(hidden, ["x"]),
        lambda: view.update_groups(hidden, ["hr"]),
    ):
        with pytest.raises(DocumentNotFoundError):
            write()
    open_doc = doc_id(library, "open-0.md")
    with pytest.raises(AccessDeniedError, match="only to groups you are in"):
        view.update_groups(open_doc, ["board"])
    assert library.find_by_id(open_doc).groups == ()  # type: ignore[union-attr]
    assert view.update_groups(open_doc, ["hr"]).groups == ("hr",)
    assert "open-0.md" not in [r.source for r in library.view(NOBODY).documents()]
    with pytest.raises(AccessDeniedError, match="no longer see"):
        library.view(frozenset({"legal"})).update_groups(doc_id(library, "board.md"), ["board"])
    assert view.delete("open-1.md").source == "open-1.md"


def test_changing_groups_moves_a_document_in_and_out_of_sight_in_every_store(
    library: Library, hash_settings: Settings
) -> None:
    target = doc_id(library, "open-2.md")
    library.update_groups(target, ["legal"])
    nobody = library.view(NOBODY)
    for mode in library.search_modes:
        assert "open-2.md" not in sources(nobody, "refund 12 days", k=20, mode=mode), mode
    chunks = library.store.get_chunks(where={"doc_id": target})["metadatas"]
    assert all(m["groups"] == ["legal"] and m["restricted"] is True for m in chunks)
    assert library.originals.info(target).groups == ("legal",)  # type: ignore[union-attr]
    library.close()
    # Reopened from the saved columns, then from the rows alone: still restricted.
    with Library.open(hash_settings) as reopened:
        assert "open-2.md" not in sources(reopened.view(NOBODY), "refund 12 days", k=20)
        assert "open-2.md" in sources(reopened.view(frozenset({"legal"})), "refund 12 days", k=20)
        reopened.update_groups(target, [])
        chunks = reopened.store.get_chunks(where={"doc_id": target})["metadatas"]
        assert all("groups" not in m and "restricted" not in m for m in chunks)
    (hash_settings.index_dir / "columns.bin").unlink()
    with Library.open(hash_settings) as again:
        assert "open-2.md" in sources(again.view(NOBODY), "refund 12 days", k=20)
        assert "hr-0.md" not in sources(again.view(NOBODY), "refund", k=20)


def test_chroma_filters_the_same_way_as_the_local_mask(library: Library) -> None:
    """Server mode searches Chroma's index with the `where` clause; check it on the real store."""
    vector = library.embedder.embed_query("refund")
    for visible, allowed in ((NOBODY, set(OPEN)), (HR, set(OPEN) | {n for n in RESTRICTED if "hr" in n})):
        where = SearchFilters(visible_to=tuple(visible)).to_where()
        ids, _ = library.store.query_ids(np.asarray(vector, dtype=np.float32), 50, where=where)
        found = {library.find_by_id(cid.rpartition(":")[0]).source for cid in ids}  # type: ignore[union-attr]
        assert found == allowed


def test_reingest_sets_groups_and_a_new_version_keeps_them(library: Library) -> None:
    data = OPEN["open-3.md"][0].encode()
    with Ingestor(library) as ingestor:
        outcome = ingestor.ingest([SourceFile("open-3.md", data=data, groups=("hr",))]).outcomes[0]
        assert (outcome.status, outcome.detail) == ("unchanged", "groups updated")
        edited = ingestor.ingest([SourceFile("open-3.md", data=data + b" Edited.")]).outcomes[0]
    assert edited.status == "ingested"
    assert library.document("open-3.md").groups == ("hr",)
    assert "open-3.md" not in [r.source for r in library.view(NOBODY).documents()]


def test_passages_re_embedded_for_a_model_switch_keep_their_groups(library: Library) -> None:
    """`searchapp model use` re-embeds the stored passages (`stored_documents`) into the new
    index: each document goes there with its groups, never opened to everyone."""
    records = library.documents()
    prepared = stored_documents(library, records, library.embedder)
    assert {p.source: p.groups for p in prepared} == {r.source: r.groups for r in records}
    assert {p.source: p.groups for p in prepared}["board.md"] == ("board", "legal")


def test_groups_survive_a_reindex_and_a_rebuild_from_originals(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64", chunk_tokens=40, chunk_overlap=5)
    pdf = make_pdf(["Refund ledger for the board, page one."], title="Ledger")
    library = Library.open(settings)
    ingest(library, dict(list(OPEN.items())[:1]))
    with Ingestor(library) as ingestor:
        ingestor.ingest([SourceFile("ledger.pdf", data=pdf, groups=("board",))])
    library, _ = reindex(library)
    try:
        assert library.document("ledger.pdf").groups == ("board",)
        assert [r.source for r in library.view(NOBODY).documents()] == ["open-0.md"]
    finally:
        library.close()
    shutil.rmtree(settings.chroma_dir)  # an unreadable store: rebuilt from originals and sidecars
    settings.chroma_dir.mkdir()
    rebuilt, _ = rebuild_from_originals(settings)
    try:
        assert rebuilt.document("ledger.pdf").groups == ("board",)
        assert sources(rebuilt.view(NOBODY), "ledger board", k=20) == ["open-0.md"]
    finally:
        rebuilt.close()


def test_the_page_range_notice_counts_only_visible_documents(library: Library) -> None:
    notice = library.view(NOBODY).search("refund", filters={"pages": "1-2"}).notices
    assert any("leaves out 4 documents" in n for n in notice), notice
    everyone = library.view(None).search("refund", filters={"pages": "1-2"}).notices
    assert any("leaves out 11 documents" in n for n in everyone), everyone


def test_a_view_without_visibility_is_the_library(library: Library) -> None:
    view = library.view(None)
    assert view.visibility is None and view.settings is library.settings
    assert [r.source for r in view.documents()] == [r.source for r in library.documents()]
    assert dataclasses.asdict(view.stats()) == dataclasses.asdict(library.stats())


@pytest.mark.server
@pytest.mark.timeout(300)
def test_server_mode_filters_in_chroma_and_follows_another_clients_group_change(tmp_path: Path) -> None:
    """With a server the dense list comes from Chroma's own index (no local vectors), and a
    group change by one client reaches the others through the change log."""
    with servers.chroma_server(tmp_path / "chroma") as url:
        first = make_settings(
            tmp_path / "a", model="hash:64", chunk_tokens=40, chunk_overlap=5, server_url=url
        )
        second = first.with_overrides(data_dir=tmp_path / "b" / "data")
        with Library.open(first) as a, Library.open(second) as b:
            ingest(a, {**dict(list(RESTRICTED.items())[:3]), **OPEN})
            assert not a.local.mirror_vectors
            for mode in a.search_modes:
                found = sources(a.view(NOBODY), k=3, mode=mode)
                assert len(found) == 3 and set(found) <= set(OPEN), mode
                typed = sources(a.view(NOBODY), "refund type:md -minutes", k=3, mode=mode)
                assert len(typed) == 3 and set(typed) <= set(OPEN), mode
            deadline = time.monotonic() + 30
            while len(b.documents()) < 7 or "hr-0.md" in sources(b.view(NOBODY), k=20, mode="keyword"):
                assert time.monotonic() < deadline, "the second client never saw the first one's documents"
                time.sleep(0.2)
            b.update_groups(doc_id(b, "open-0.md"), ["legal"])
            deadline = time.monotonic() + 30
            while "open-0.md" in sources(a.view(NOBODY), "refund 10 days", k=20, mode="keyword"):
                assert time.monotonic() < deadline, "the group change never reached the first client"
                time.sleep(0.2)
            for mode in a.search_modes:
                assert "open-0.md" not in sources(a.view(NOBODY), "refund 10 days", k=20, mode=mode), mode
            assert "open-0.md" in sources(a.view(frozenset({"legal"})), "refund 10 days", k=20)
