"""A query made ready to search: cleaned, cut to the model's window, embedded (cached), analysed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from searchapp.embedding.embedders import Embedder, Vectors
from searchapp.embedding.readability import piece_stats, readable_share
from searchapp.errors import EmptyQueryError, QueryError
from searchapp.storage.terms import keyword_tokens

MAX_QUERY_CHARS = 20_000  # cut before tokenizing, so a pasted book cannot stall a query
QUERY_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class PreparedQuery:
    text: str
    truncated: bool
    vector: Vectors
    terms: tuple[str, ...]  # what BM25 matches
    readable: float = 1.0  # how much of it the embedding model can read (0-1)


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


def prepare(query: str, embedder: Embedder, cache: QueryEmbeddingCache) -> PreparedQuery:
    """Validate the query, cut it to the model's window, and embed it (cached).

    Raises:
        EmptyQueryError: the query has no text.
    """
    if not isinstance(query, str):
        raise QueryError(f"the query must be text; got {type(query).__name__}")
    text = " ".join(query.split())
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
    return PreparedQuery(
        text=text,
        truncated=truncated,
        vector=vector,
        terms=tuple(keyword_tokens(text)),
        readable=readable_share(piece_stats(tokens.pieces(text))),
    )
