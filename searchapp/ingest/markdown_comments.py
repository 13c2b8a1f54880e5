"""HTML comments in Markdown (``<!-- ... -->``): invisible when rendered, so not indexed.

Inside fenced or indented code and inline code spans they are literal text, and stay.
"""

from __future__ import annotations

import bisect
import re

_FENCE_LINE_RE = re.compile(r"^ {0,3}(```|~~~)")
_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"
_BACKTICKS_RE = re.compile(r"`+")
_INLINE_TOKEN_RE = re.compile(r"`+|<!--")


def without_html_comments(raw: str) -> str:
    """`raw` without its HTML comments (`<!-- ... -->`), which a Markdown page never shows.

    Comments in fenced or indented code and in code spans are text and stay. Each line
    stays a line (a comment's lines become blank), so indentation still lines up. A
    comment that is never closed is left as it is.
    """
    if _COMMENT_OPEN not in raw:
        return raw
    lines = raw.split("\n")
    out: list[str] = []
    fence: str | None = None
    in_comment = -1  # the index in `out` where an open comment started, or -1
    code_block = False  # inside an indented code block
    for line in lines:
        if in_comment >= 0:
            close = line.find(_COMMENT_CLOSE)
            if close < 0:
                out.append("")
                continue
            line, carried = _inline_without_comments(line[close + len(_COMMENT_CLOSE) :])
            out.append(line)
            in_comment = len(out) - 1 if carried else -1
            continue
        marker = _FENCE_LINE_RE.match(line)
        if marker and indent_width(line) < 4:
            fence = None if fence == marker.group(1) else (fence or marker.group(1))
            out.append(line)
            continue
        blank = not line.strip()
        prior_blank = not out or not out[-1].strip()
        code_block = not blank and indent_width(line) >= 4 and (prior_blank or code_block)
        if fence is not None or code_block or _COMMENT_OPEN not in line:
            out.append(line)
            continue
        line, carried = _inline_without_comments(line)
        out.append(line)
        if carried:
            in_comment = len(out) - 1
    if in_comment >= 0:  # never closed: not a comment after all, so from there on as it was
        out[in_comment:] = lines[in_comment:]
    return "\n".join(out)


def _inline_without_comments(line: str) -> tuple[str, bool]:
    """`line` without its comments (not inside code spans), and whether a comment runs on.

    A code span runs from a run of backticks to the next run of as many; a run that has
    none is literal backticks. Linear in the line, however its backticks fall.
    """
    runs: dict[int, list[int]] = {}  # the starts of the backtick runs, by length
    for run in _BACKTICKS_RE.finditer(line):
        runs.setdefault(len(run.group()), []).append(run.start())
    parts: list[str] = []
    i = 0
    while (token := _INLINE_TOKEN_RE.search(line, i)) is not None:
        if token.group() == _COMMENT_OPEN:
            parts.append(line[i : token.start()])
            close = line.find(_COMMENT_CLOSE, token.end())
            if close < 0:
                return "".join(parts), True
            i = close + len(_COMMENT_CLOSE)
            continue
        size = len(token.group())
        starts = runs[size]
        after = bisect.bisect_right(starts, token.start())
        end = starts[after] + size if after < len(starts) else token.end()
        parts.append(line[i:end])
        i = end
    parts.append(line[i:])
    return "".join(parts), False


# ---------------------------------------------------------------------- html


def indent_width(line: str) -> int:
    """Columns of leading blanks, tabs as 4 (from 4 on, a Markdown line is code)."""
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))
