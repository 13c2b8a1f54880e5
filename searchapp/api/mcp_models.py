"""What the MCP server's tools answer: passages with citations an assistant can quote.

The SDK publishes these models as the tools' output schemas and sends each answer twice,
as `structuredContent` and as its JSON in a text block: the MCP specification asks a tool
with structured content to send its JSON as text too, and many assistants show their
model the text block only, so it stays whole rather than a summary.

Every answer fits one server-sent event of the SDK's client (1 MiB, its
`max_sse_event_size`; a larger one fails the call and the session): `fitted` cuts the
texts of the passages (a search's) or of the neighbours (a fetched passage's) to the
length that fits `ANSWER_BYTES`, marks each cut with "…", and says so in `notices`.
Passages of ordinary text never come near it at the tools' `k` (at most 50): it takes
long passages of text that is several bytes a character (CJK, emoji) or that JSON
escapes (quotes, backslashes).
"""

from __future__ import annotations

import math
from typing import TypeVar

import pydantic_core
from pydantic import BaseModel, Field

from searchapp.api.searching import LIBRARY_EMPTY_HELP


class Citation(BaseModel):
    document: str = Field(..., description="the document's name")
    doc_id: str
    page: int | None = Field(None, description="PDF page, 1-based")
    heading: str = ""
    passage_id: str = Field(..., description="pass to fetch_passage or similar_passages")
    link: str | None = Field(
        None,
        description=(
            "the original file (PDFs at the page), opened with the same token; null where the "
            "server has no web address (stdio without SEARCHAPP_API_PUBLIC_URL)"
        ),
    )


class Passage(BaseModel):
    rank: int
    score: float = Field(..., description="0-1, the score the ranking used")
    text: str
    citation: Citation


class SearchResult(BaseModel):
    query: str = Field(..., description="the query searched for; for similar_passages, the passage id given")
    mode: str
    weak_match: bool = Field(..., description="even the best passage matches poorly")
    notices: list[str]
    passages: list[Passage]
    library_empty: bool = Field(False, description=LIBRARY_EMPTY_HELP)


class StoredText(BaseModel):
    """A passage fetched by id: not ranked by any search, so without rank or score."""

    text: str
    citation: Citation


class Neighbour(BaseModel):
    """A passage next to the one fetched, in the same document."""

    chunk: int = Field(..., description="its place in the document (0-based)")
    passage_id: str = Field(..., description="pass to fetch_passage for the passages around this one")
    text: str


class PassageWithContext(BaseModel):
    passage: StoredText
    before: list[Neighbour]
    after: list[Neighbour]
    notices: list[str] = Field(default_factory=list, description="what was left out, if anything")


# What one answer's two copies may take, with room under the client's 1 MiB for the
# JSON-RPC envelope and the event's framing.
ANSWER_BYTES = 900_000
MIN_CHARS = 200  # a cut passage keeps at least this much (50 of them fit whatever the text)
Answer = TypeVar("Answer", SearchResult, PassageWithContext)


def wire_bytes(answer: BaseModel) -> int:
    """The bytes `answer` takes in a tool's result: its JSON, and that JSON indented as a string
    (how the SDK writes the text block, `_convert_to_content`)."""
    structured = pydantic_core.to_json(answer.model_dump(mode="json"))
    text = pydantic_core.to_json(answer, indent=2).decode()
    return len(structured) + len(pydantic_core.to_json(text))


ECHO_CHARS = 2_000  # a query echoed back: enough to recognise it, never the answer's bulk


def echoed(query: str) -> str:
    """The query as an answer repeats it: a long one (a pasted page) cut, ending in …."""
    return query if len(query) <= ECHO_CHARS else query[: ECHO_CHARS - 1] + "…"


def fitted(answer: Answer) -> Answer:
    """`answer`, its passages' (or neighbours') texts cut short where it would not fit."""
    size = wire_bytes(answer)
    texts = [p.text for p in _cuttable(answer)]
    if size <= ANSWER_BYTES or not texts:
        return answer
    cap = max(len(t) for t in texts)
    cut: Answer = answer
    while size > ANSWER_BYTES and cap > MIN_CHARS:
        cap = max(MIN_CHARS, math.floor(cap * ANSWER_BYTES / size * 0.95))
        cut = _with_texts(answer, [t if len(t) <= cap else t[: cap - 1] + "…" for t in texts])
        size = wire_bytes(cut)
    if cut is answer:  # every text was short already: nothing was cut
        return answer
    what = "passage" if isinstance(answer, SearchResult) else "neighbouring passage"
    notice = (
        f"each {what}'s text is cut to {cap} characters (ending in …) to fit one answer; "
        "fetch_passage gives a passage in full"
    )
    return cut.model_copy(update={"notices": [*cut.notices, notice]})


def _cuttable(answer: SearchResult | PassageWithContext) -> list[Passage] | list[Neighbour]:
    if isinstance(answer, SearchResult):
        return answer.passages
    return [*answer.before, *answer.after]


def _with_texts(answer: Answer, texts: list[str]) -> Answer:
    if isinstance(answer, SearchResult):
        passages = [p.model_copy(update={"text": t}) for p, t in zip(answer.passages, texts, strict=True)]
        return answer.model_copy(update={"passages": passages})
    neighbours = [n.model_copy(update={"text": t}) for n, t in zip(_cuttable(answer), texts, strict=True)]
    return answer.model_copy(
        update={"before": neighbours[: len(answer.before)], "after": neighbours[len(answer.before) :]}
    )
