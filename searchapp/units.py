"""Sizes for people, in one unit system everywhere: SI (1 kB = 1000 bytes).

SI because that is what the browser's file picker and Streamlit's uploader show on
Linux and macOS ("50MB per file" means 50,000,000 bytes there), so a size or a limit
reads the same on every page, in the CLI and in every message.
"""

from __future__ import annotations

KB = 1000
MB = 1000 * KB
GB = 1000 * MB


def format_size(size: int | float) -> str:
    """980 B, 12.3 kB, 4.1 MB, 2.0 GB."""
    value = float(size)
    if value < KB:
        return f"{value:.0f} B"
    for unit, scale in (("kB", KB), ("MB", MB)):
        if value < scale * 1000 * 0.9995:  # 999.96 kB would print as 1000.0 kB
            return f"{value / scale:.1f} {unit}"
    return f"{value / GB:.1f} GB"


def megabytes(size: int | float) -> str:
    """A size in whole-ish megabytes for limits and disk space: '50 MB', '1.5 MB'."""
    value = size / MB
    return f"{value:,.0f} MB" if value >= 10 or value == int(value) else f"{value:,.1f} MB"
