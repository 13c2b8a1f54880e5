"""A request made ready to score: its words cut to the model's window, embedded (cached), analysed."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import numpy.typing as npt

from searchapp.embedding.embedders import Embedder, Vectors
from searchapp.embedding.readability import piece_stats, readable_share
from searchapp.errors import EmptyQueryError
from searchapp.request import MAX_QUERY_CHARS, PreparedQuery, SearchRequest
from searchapp.storage.terms import keyword_tokens

QUERY_CACHE_SIZE = 512


class QueryEmbeddingCache:
    """A small thread-safe LRU of query vectors: UI reruns repeat the same query."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Vectors | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: str, vector: Vectors) -> None:
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def embedded(text: str, embedder: Embedder, cache: QueryEmbeddingCache) -> tuple[str, bool, Vectors]:
    """(the text cut to the model's window, whether it was cut, its vector).

    Raises:
        EmptyQueryError: the text has no words.
    """
    text = " ".join(text.split())
    if not text:
        raise EmptyQueryError("the query is empty: type a few words to search for")
    truncated = False
    if len(text) > MAX_QUERY_CHARS:
        text, truncated = text[:MAX_QUERY_CHARS], True
    tokens = embedder.tokens
    cut = tokens.cut_offset(text, tokens.max_tokens)
    if cut < len(text):
        text, truncated = text[:cut].rstrip(), True
    vector = cache.get(text)
    if vector is None:
        vector = embedder.embed_query(text)
        cache.put(text, vector)
    return text, truncated, vector


def prepare(request: SearchRequest, embedder: Embedder, cache: QueryEmbeddingCache) -> PreparedQuery:
    """The request's words, cut to the model's window and embedded, with their BM25 terms.

    Raises:
        EmptyQueryError: the request has no words to search for.
    """
    if not request.text.strip() and request.query.strip():
        raise EmptyQueryError("the query holds only filters or exclusions: add a few words to search for")
    text, truncated, vector = embedded(request.text, embedder, cache)
    return _analysed(request, text, vector, embedder, truncated=truncated)


def from_passage(
    request: SearchRequest, text: str, vector: npt.NDArray[np.float32], embedder: Embedder
) -> PreparedQuery:
    """A stored passage as the query of a "more like this" request: its text and its own vector."""
    return _analysed(request, text, vector, embedder, truncated=False)


def _analysed(
    request: SearchRequest, text: str, vector: Vectors, embedder: Embedder, *, truncated: bool
) -> PreparedQuery:
    exclude_terms: list[str] = []
    notices: list[str] = []
    for word in request.parsed.exclude:
        terms = keyword_tokens(word)
        if not terms:
            notices.append(
                f"-{word} keeps nothing out: the keyword index leaves out words this common; "
                f'use -"{word}" to leave out passages containing it'
            )
        exclude_terms += terms
    if truncated:
        notices.append(
            "The query was longer than the embedding model can read; only its first "
            f"{len(text)} characters were used."
        )
    return PreparedQuery(
        text=text,
        vector=vector,
        terms=tuple(keyword_tokens(text)),
        exclude_terms=tuple(dict.fromkeys(exclude_terms)),
        readable=readable_share(piece_stats(embedder.tokens.pieces(text))),
        truncated=truncated,
        notices=tuple(notices),
    )
