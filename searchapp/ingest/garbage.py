"""Is a page's text layer garbage? Signs that a PDF's font maps decode to noise.

A PDF's text layer is only as good as its fonts' maps from glyphs to Unicode. When a
map is missing or wrong, the libraries still return "text", and without a check it would
be indexed and shown. Each sign below is judged on the page's non-blank characters,
before any cleaning, and only on pages with enough of them to judge:

- control characters (or U+FFFD): glyph ids passed through as character codes;
- private-use code points: a symbol or custom font without a Unicode map (Thai fonts
  use some for positioned marks, a few per cent, far below the bar);
- pypdf's glyph names ("/g18/g152"), which it writes for glyphs it cannot map;
- a Latin-1 soup ("â€œ", "Ñ\x81Ñ", "ÓÚ ºì ¾ü"): bytes of another encoding read as
  Latin-1, where text in any Latin-script language is mostly plain ASCII letters;
- a Hangul soup: Korean text is written almost wholly (>99.9%) with the 2,350 common
  syllables of KS X 1001 (EUC-KR); a font map shifted into the Hangul block gives
  mostly rare ones.

Text whose letters are consistently substituted by other ordinary letters (a shifted
font map that yields "Wkh txlfn") is not caught: that needs a language model.
"""

from __future__ import annotations

import re
import unicodedata

MIN_CHARS = 20
_SHARE = {"control": 0.2, "private": 0.3, "glyph": 0.5, "latin1": 0.4, "hangul": 0.3}
_GLYPH_NAME_RE = re.compile(r"(?:/g\d{1,5})+")
_WHITESPACE = frozenset(" \t\n\r\f\v\u00a0\u3000")


def garbage_reason(text: str) -> str | None:
    """Why `text` (a page's raw text layer) looks like garbage, or None if it does not."""
    chars = [ch for ch in text if ch not in _WHITESPACE and not ch.isspace()]
    total = len(chars)
    if total < MIN_CHARS:
        return None
    control = sum(1 for ch in chars if ch == "\ufffd" or unicodedata.category(ch) == "Cc")
    if control / total >= _SHARE["control"]:
        return f"{control / total:.0%} control characters (a broken font map)"
    private = sum(1 for ch in chars if _is_private(ch))
    if private / total >= _SHARE["private"]:
        return f"{private / total:.0%} private-use characters (a font without a Unicode map)"
    glyphs = sum(len(m.group()) for m in _GLYPH_NAME_RE.finditer(text))
    if glyphs / total >= _SHARE["glyph"]:
        return "glyph names instead of text (a font without a Unicode map)"
    latin1 = sum(1 for ch in chars if "\u0080" <= ch <= "\u00ff")
    if latin1 / total >= _SHARE["latin1"]:
        return f"{latin1 / total:.0%} Latin-1 symbols and accented letters (text in another encoding)"
    hangul = [ch for ch in chars if "\uac00" <= ch <= "\ud7a3"]
    if len(hangul) >= MIN_CHARS:
        rare = sum(1 for ch in hangul if not _is_common_hangul(ch))
        if rare / len(hangul) >= _SHARE["hangul"]:
            return f"{rare / len(hangul):.0%} rare Hangul syllables (a shifted font map)"
    return None


def _is_private(ch: str) -> bool:
    code = ord(ch)
    return 0xE000 <= code <= 0xF8FF or code >= 0xF0000


def _is_common_hangul(ch: str) -> bool:
    # Python's codec spells the other 8,822 syllables as 8-byte make-up sequences.
    return len(ch.encode("euc-kr")) == 2
