"""Public-domain sample documents shipped with searchapp (sources and licences: README.md).

Only the paths live here; the UI and the CLI ingest them with the tag `SAMPLE_TAG`.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_TAG = "sample"
SAMPLE_DIR = Path(__file__).resolve().parent
SAMPLE_FILES = ("us-constitution.pdf", "the-modern-orchestra.txt", "introduction-to-mathematics.html")
# Questions the samples answer, offered to newcomers.
EXAMPLE_QUERIES = (
    "who has the power to declare war",
    "how long is the term of a senator",
    "which instruments play in an orchestra",
    "why is mathematics an abstract science",
)


def sample_paths() -> list[Path]:
    """The sample files, in a fixed order."""
    return [SAMPLE_DIR / name for name in SAMPLE_FILES]
