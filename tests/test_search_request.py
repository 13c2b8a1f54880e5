"""Search requests through a real library (hash embedder, real Chroma): the query syntax as
exact filters in every mode, ``doc:`` names, grouping that fills k documents, and the
shape of the default query's conversation with storage."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from searchapp import DocumentNotFoundError, EmptyQueryError, Library
from searchapp.ingest import Ingestor, SourceFile
from searchapp.request import SEARCH_MODES, SearchRequest
from searchapp.storage.terms import keyword_tokens

TOPICS = ["orchard", "harbour", "rocket", "violin", "glacier", "bakery"]
FRUIT = ["apples", "pears", "plums", "cherries"]


def _passage(i: int) -> str:
    topic, fruit = TOPICS[i % len(TOPICS)], FRUIT[i % len(FRUIT)]
    return f"Note {i}: the {topic} keeps {fruit} and apples in store for the winter season."


@pytest.fixture
def library(hash_library: Library) -> Library:
    """Twelve documents of four passages each (one passage per chunk)."""
    files = [
        SourceFile(
            f"note-{d}.md",
            data="\n\n".join(f"## Part {p}\n\n{_passage(4 * d + p)}" for p in range(4)).encode(),
        )
        for d in range(12)
    ]
    with Ingestor(hash_library) as ingestor:
        assert not ingestor.ingest(files).failed
    return hash_library


def _every_passage(library: Library) -> list[tuple[str, str]]:
    hits = library.find(SearchRequest("apples", k=1000, mode="dense")).hits
    return [(h.chunk_id, h.text) for h in hits]


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_exclusions_and_phrases_are_exact_filters_that_keep_k(library: Library, mode: str) -> None:
    every = _every_passage(library)
    admitted = [
        cid
        for cid, text in every
        if "pear" not in " ".join(keyword_tokens(text)).split()
        and "winter season" in text.casefold()
        and "the bakery" not in text.casefold()
    ]
    request = SearchRequest('apples -pears "Winter Season" -"the bakery"', k=10, mode=mode)
    hits = library.find(request).hits
    for hit in hits:
        assert "pear" not in keyword_tokens(hit.text), hit.text
        assert "winter season" in hit.text.casefold() and "the bakery" not in hit.text.casefold()
    # Every admitted passage holds "apples", so every mode has at least k of them to give.
    assert len(admitted) > 10 and len(hits) == 10
    if mode == "dense":  # the exact scan over the admitted rows: the unfiltered top, less the rest
        order = library.find(SearchRequest("apples Winter Season", k=1000, mode=mode)).hits
        best = [round(h.cosine or 0, 5) for h in order if h.chunk_id in admitted][:10]
        assert [round(h.cosine or 0, 5) for h in hits] == best  # equal up to ties


def test_an_exclusion_the_index_cannot_hold_says_so(library: Library) -> None:
    response = library.find(SearchRequest("apples -the", k=5, mode="keyword"))
    assert len(response.hits) == 5
    assert any("-the keeps nothing out" in n and '-"the"' in n for n in response.notices)


def test_field_filters_in_the_query_filter_as_options_do(library: Library) -> None:
    typed = library.find(SearchRequest("apples doc:note-3.md", k=20)).hits
    assert {h.source for h in typed} == {"note-3.md"} and len(typed) == 4
    # Part of a name matches every document it is part of; an id prefix one document.
    part = library.find(SearchRequest("apples doc:note-1", k=50)).hits
    assert {h.source for h in part} == {"note-1.md", "note-10.md", "note-11.md"}
    doc_id = typed[0].doc_id
    assert {h.doc_id for h in library.find(SearchRequest(f"apples doc:{doc_id[:10]}", k=20)).hits} == {doc_id}
    with pytest.raises(DocumentNotFoundError, match="doc:nothing-like-it names no document"):
        library.find(SearchRequest("apples doc:nothing-like-it"))
    assert not library.find(SearchRequest("apples type:pdf")).hits
    assert len(library.find(SearchRequest("apples type:md after:2000", k=3)).hits) == 3
    assert not library.find(SearchRequest("apples before:2001-01")).hits
    # The same through the wrapper every caller already uses.
    assert {h.source for h in library.search("apples doc:note-3.md", k=20).hits} == {"note-3.md"}


def test_many_doc_names_read_the_catalog_once(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a server the catalog is not cached: a read per name made 1000 doc: names 2000 reads."""
    reads: list[int] = []
    documents = library.documents
    monkeypatch.setattr(library, "documents", lambda **kw: reads.append(1) or documents(**kw))
    names = " ".join(f"doc:note-{d}.md" for d in range(12))
    assert len({h.source for h in library.find(SearchRequest(f"apples {names}", k=100)).hits}) == 12
    assert len(reads) == 1


def test_a_query_of_filters_alone_asks_for_words(library: Library) -> None:
    with pytest.raises(EmptyQueryError, match="only filters or exclusions"):
        library.find(SearchRequest("type:md -pears"))


def test_more_like_this_keeps_the_query_filters(library: Library) -> None:
    seed = library.find(SearchRequest("orchard apples", k=1, mode="dense")).hits[0]
    response = library.find(SearchRequest('"winter" -pears', like=seed.chunk_id, k=5, mode="dense"))
    assert response.hits and seed.chunk_id not in {h.chunk_id for h in response.hits}
    assert all("pear" not in keyword_tokens(h.text) for h in response.hits)


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_grouping_goes_deep_enough_to_show_every_document(hash_library: Library, mode: str) -> None:
    """A long document whose every passage outranks a short one's still leaves room for it."""
    long_text = "\n\n".join(f"## Part {i}\n\nOrchard apples orchard apples harvest {i}." for i in range(80))
    files = [
        SourceFile("long.md", data=long_text.encode()),
        SourceFile("short.txt", data=b"A single line that mentions an orchard once, among other things."),
    ]
    with Ingestor(hash_library) as ingestor:
        assert not ingestor.ingest(files).failed
    assert hash_library.stats().chunks > 60
    response = hash_library.find(SearchRequest("orchard apples", k=10, mode=mode, group=True))
    assert response.groups is not None
    assert {g.best.source for g in response.groups} == {"long.md", "short.txt"}
    assert len(response.groups[0].hits) > 1  # the long one keeps its other passages


def test_the_default_query_asks_storage_twice_and_returns_four_times(library: Library) -> None:
    """From `Searcher.search`: prepare (query.py), candidates and read (chunk_index.py), rank
    (ranking.py): four calls into three other modules, each returning once; nothing else
    of searchapp's is called from search.py (value constructors are generated code)."""
    request = SearchRequest("orchard apples")
    library.find(request)  # warm: model, numba, caches
    search_py = sys.modules["searchapp.retrieval.search"].__file__
    package = str(Path(search_py or "").parent.parent)
    calls: list[tuple[str, str]] = []

    def profile(frame: FrameType, event: str, _: Any) -> None:
        caller = frame.f_back
        if event == "call" and caller is not None and caller.f_code.co_filename == search_py:
            name = frame.f_code.co_filename
            if name.startswith(package) and name != search_py:
                calls.append((name[len(package) + 1 :], frame.f_code.co_name))

    resolved = request.with_defaults(mode=library.settings.search_mode)
    sys.setprofile(profile)
    try:
        library.searcher.search(resolved)
    finally:
        sys.setprofile(None)
    assert calls == [
        ("retrieval/query.py", "prepare"),
        ("storage/chunk_index.py", "candidates"),
        ("retrieval/ranking.py", "rank"),
        ("storage/chunk_index.py", "read"),
    ]
