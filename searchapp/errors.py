"""Every error searchapp raises on purpose.

Messages say what was expected and what was got, and what to do next.

    SearchAppError
    ├── ConfigError                a setting has a wrong value
    ├── ModelError                 the embedding model cannot be found or loaded
    ├── StoreError                 the vector store cannot be used
    │   ├── StoreLockedError       another process holds the local data directory
    │   ├── StoreUnavailableError  the Chroma server cannot be reached
    │   ├── ModelMismatchError     the collection was built with another model
    │   └── StorageFullError       the disk holding the data directory is full
    ├── QueryError                 a search request is invalid
    │   ├── EmptyQueryError        the query has no text
    │   └── InvalidFilterError     a filter key or value is not allowed
    ├── DocumentNotFoundError      no document matches the given name or id
    ├── AccessDeniedError          the caller may not use this library, or not this way
    ├── IngestError                one file could not be ingested (carries a FailureReason)
    ├── SourceError                a synced folder or bucket is unknown, badly given, or unreachable
    ├── EvalDataError              evaluation data is missing or malformed
    ├── AuthError                  a caller of the API or MCP server could not be authenticated
    └── RateLimitedError           a caller sent more requests than its rate limit allows
"""

from __future__ import annotations

from enum import StrEnum


class SearchAppError(Exception):
    """Base class of every error searchapp raises on purpose."""


class ConfigError(SearchAppError, ValueError):
    """A setting has a wrong value."""


class ModelError(SearchAppError):
    """The embedding model cannot be found or loaded."""


class StoreError(SearchAppError):
    """The vector store cannot be used."""


class StoreLockedError(StoreError):
    """Another process holds the local data directory."""


class StoreUnavailableError(StoreError):
    """The Chroma server cannot be reached."""


class ModelMismatchError(StoreError):
    """The collection was built with a different embedding model."""


class StorageFullError(StoreError):
    """The disk holding the data directory is full."""


class QueryError(SearchAppError, ValueError):
    """A search request is invalid."""


class EmptyQueryError(QueryError):
    """The query has no text to search for."""


class InvalidFilterError(QueryError):
    """A filter key or value is not allowed."""


class DocumentNotFoundError(SearchAppError, KeyError):
    """No document matches the given name or id."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class AmbiguousDocumentError(DocumentNotFoundError):
    """An id prefix that several documents start with: not one document."""


class SourceError(SearchAppError, ValueError):
    """A source (a synced folder or bucket) is unknown, badly given, or cannot be reached."""


class AccessDeniedError(SearchAppError):
    """The caller may not use this library (no team, an unusable identity), or not this way.

    A document the caller may not see is never reported with this error: to them it does
    not exist (`DocumentNotFoundError`), so nothing reveals that it does.
    """


class EvalDataError(SearchAppError):
    """Evaluation data is missing or malformed."""


class AuthError(SearchAppError):
    """No credentials, or credentials that are malformed, unknown, expired or revoked."""


class RateLimitedError(SearchAppError):
    """Too many requests from one caller; `retry_after` says how many seconds to wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[RateLimitedError], tuple[str, float]]:
        return (RateLimitedError, (str(self), self.retry_after))


class FailureReason(StrEnum):
    """Why one file could not be ingested. The value is stable and machine-readable."""

    DAMAGED_PDF = "damaged_pdf"
    PASSWORD_PROTECTED = "password_protected"
    NO_TEXT = "no_text"
    EMPTY_FILE = "empty_file"
    UNSUPPORTED_TYPE = "unsupported_type"
    NOT_TEXT = "not_text"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    UNREADABLE = "unreadable"
    STORAGE_FULL = "storage_full"
    NOT_ALLOWED = "not_allowed"
    INTERNAL = "internal_error"

    @property
    def label(self) -> str:
        return _REASON_LABELS[self]


_REASON_LABELS = {
    FailureReason.DAMAGED_PDF: "damaged PDF",
    FailureReason.PASSWORD_PROTECTED: "password-protected",
    FailureReason.NO_TEXT: "no text layer (scanned?)",
    FailureReason.EMPTY_FILE: "empty file",
    FailureReason.UNSUPPORTED_TYPE: "unsupported type",
    FailureReason.NOT_TEXT: "not text",
    FailureReason.TOO_LARGE: "too large",
    FailureReason.TIMEOUT: "took too long",
    FailureReason.UNREADABLE: "unreadable file",
    FailureReason.STORAGE_FULL: "storage full",
    FailureReason.NOT_ALLOWED: "not allowed",
    FailureReason.INTERNAL: "internal error",
}


class IngestError(SearchAppError):
    """One file could not be ingested.

    Args:
        reason: the machine-readable category.
        detail: a human-readable sentence with the specifics.
    """

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason.label}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[IngestError], tuple[FailureReason, str]]:
        # Pickled across worker processes; the default would lose `reason`.
        return (IngestError, (self.reason, self.detail))
