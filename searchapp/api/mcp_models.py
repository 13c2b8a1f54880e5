"""What the MCP server's tools answer: passages with citations an assistant can quote.

The SDK publishes these models as the tools' output schemas and sends each answer twice,
as `structuredContent` and as its JSON in a text block (for clients that read only
text, as the MCP specification recommends).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from searchapp.api.searching import LIBRARY_EMPTY_HELP


class Citation(BaseModel):
    document: str = Field(..., description="the document's name")
    doc_id: str
    page: int | None = Field(None, description="PDF page, 1-based")
    heading: str = ""
    passage_id: str = Field(..., description="pass to fetch_passage or similar_passages")
    link: str = Field(..., description="the original file (PDFs at the page); needs the same token")


class Passage(BaseModel):
    rank: int
    score: float = Field(..., description="0-1, the score the ranking used")
    text: str
    citation: Citation


class SearchResult(BaseModel):
    query: str
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
    chunk: int
    text: str


class PassageWithContext(BaseModel):
    passage: StoredText
    before: list[Neighbour]
    after: list[Neighbour]
