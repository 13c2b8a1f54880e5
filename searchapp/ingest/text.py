"""Bytes to clean text: decoding with a recorded encoding, binary rejection, clean-up.

Decoding order: a byte-order mark, then strict UTF-8, then the legacy encoding
charset-normalizer finds (cp1251 Russian, Shift-JIS Japanese, Latin-1 / cp1252 Western
European, GBK, Big5, EUC-KR...). The BOM comes first because UTF-16 text is half NUL bytes
and would otherwise look binary. Where the detector's best guesses are near ties (short
texts, related code pages that decode the same letters), the commonest encoding among them
wins, cp1252 first: a German text is not read as Baltic because both fit. Anything that
still looks binary (magic numbers of common formats, NUL or control characters) is
rejected as "not text" rather than indexed as noise.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from searchapp.errors import FailureReason, IngestError

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office file)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0", "an old Office file"),
)
# Magic numbers that are also how ordinary text can start ("MZ-80K notes", "GIF89a
# explained"). Real files of these kinds hold NUL or non-text bytes, which the checks
# below reject anyway, so for text these are not proof of binary data.
_TEXT_LIKE_MAGIC = (b"GIF8", b"MZ", b"BZh")
_ALLOWED_CONTROLS = {"\n", "\r", "\t", "\f"}
_MAX_CONTROL_RATIO = 0.05


def sniff_binary(data: bytes) -> str | None:
    """Name the binary format `data` starts with, or None."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode file bytes to text and name the encoding used.

    Raises:
        IngestError: EMPTY_FILE for no text at all, NOT_TEXT for binary data.
    """
    if not data.strip():
        raise IngestError(FailureReason.EMPTY_FILE, "the file has no content")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                # Decode after the mark: the "utf-16-le" codec would keep it as U+FEFF.
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    FailureReason.NOT_TEXT, f"starts with a {encoding} mark but does not decode"
                ) from exc
            return _checked(text), encoding
    binary = sniff_binary(data)
    if binary and not data.startswith(_TEXT_LIKE_MAGIC):
        raise IngestError(FailureReason.NOT_TEXT, f"the content is {binary}, not text")
    if b"\x00" in data[:65536]:
        raise IngestError(FailureReason.NOT_TEXT, "the content contains NUL bytes: binary data, not text")
    try:
        return _checked(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    detected = detect_encoding(data)
    if detected is None:
        raise IngestError(
            FailureReason.NOT_TEXT, "the bytes are not text in UTF-8 or any encoding charset-normalizer knows"
        )
    return _checked(data.decode(detected, errors="replace")), detected


# Among near ties, the commonest encodings first: Western and Central European, Cyrillic,
# then the CJK ones, then the rest of Windows and ISO.
_PREFERRED = (
    "cp1252",
    "cp1251",
    "cp1250",
    "cp932",
    "shift_jis",
    "gb18030",
    "gbk",
    "big5",
    "euc_kr",
    "cp949",
    "euc_jp",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "latin_1",
)
_CHAOS_TIE = 0.1  # mess ratios this close are a tie
_COHERENCE_TIE = 0.05


def detect_encoding(data: bytes) -> str | None:
    """The legacy encoding `data` is most likely in (None: none fits); see the module docstring."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            return None
        return "cp1252"
    best = min(m.chaos for m in matches)
    near = [m for m in matches if m.chaos <= best + _CHAOS_TIE]
    coherent = max(m.coherence for m in near)
    near = [m for m in near if m.coherence >= coherent - _COHERENCE_TIE]
    for name in _PREFERRED:
        if any(name in m.could_be_from_charset for m in near):
            return name
    return str(near[0].encoding)


def _checked(text: str) -> str:
    if not text.strip():
        raise IngestError(FailureReason.EMPTY_FILE, "the file has no text, only a byte-order mark or blanks")
    sample = text[:100_000]
    controls = sum(1 for ch in sample if (ch < " " and ch not in _ALLOWED_CONTROLS) or ch == "\x7f")
    if controls / len(sample) > _MAX_CONTROL_RATIO:
        raise IngestError(
            FailureReason.NOT_TEXT,
            f"{controls / len(sample):.0%} of the characters are control codes: binary data, not text",
        )
    return text


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# pypdf spells glyphs it cannot map as /g123; three or more in a row are noise.
_GLYPH_NOISE_RE = re.compile(r"(?:/g\d{1,5}){3,}")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_BLANK_LINES_RE = re.compile(r"\n\s*\n\s*\n+")


def clean_text(text: str) -> str:
    """Normalise extracted text for indexing and display.

    NFKC folds ligatures and compatibility forms ("ﬁ" -> "fi"), so searching for what
    the page shows finds it; control characters and glyph-name noise go; runs of
    spaces and blank lines shrink; line breaks stay (they carry structure).
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = _CONTROL_RE.sub(" ", text)
    text = _GLYPH_NOISE_RE.sub(" ", text)
    text = _SPACES_RE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


def meaningful_chars(text: str) -> int:
    """Letters and digits: what is left of a page once layout and noise are gone."""
    return sum(1 for ch in text if ch.isalnum())


_UNSAFE_NAME_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def printable_name(name: str) -> str:
    """A name the OS gave as bytes that are not UTF-8 (an old zip, a Samba share) holds each
    such byte as a lone surrogate (PEP 383), which cannot be stored or printed: each becomes
    the byte's Windows-1252 (else Latin-1) character, so "bad\\xe9name" reads "badéname"."""
    if not _SURROGATE_RE.search(name):
        return name

    def byte(match: re.Match[str]) -> str:
        code = ord(match.group())
        if not 0xDC80 <= code <= 0xDCFF:
            return "\ufffd"
        raw = bytes([code - 0xDC00])
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    return _SURROGATE_RE.sub(byte, name)


def display_name(name: str, *, keep_dirs: bool = False, max_bytes: int = 255) -> str:
    """A safe display name for an uploaded or ingested file.

    NFC, no control characters, no `..` segments, at most `max_bytes` UTF-8 bytes. With
    `keep_dirs` a relative path such as ``docs/a.md`` keeps its folders (for directory
    ingests); otherwise only the last component stays. The result is only ever a label.
    """
    name = printable_name(name)
    # Controls go before NFC: "e<NUL><combining acute>" must still compose to "é".
    name = unicodedata.normalize("NFC", _UNSAFE_NAME_RE.sub("", name)).replace("\\", "/")
    parts = _safe_parts(name)
    if not keep_dirs:
        parts = parts[-1:]
    cleaned = "/".join(parts) or "unnamed"
    encoded = cleaned.encode("utf-8")
    if len(encoded) > max_bytes:
        stem, dot, ext = cleaned.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            room = max_bytes - len(ext.encode("utf-8")) - 1
            cleaned = stem.encode("utf-8")[:room].decode("utf-8", "ignore") + "." + ext
        else:
            cleaned = encoded[:max_bytes].decode("utf-8", "ignore")
        # A cut can leave a "..", "." or empty segment at the end ("dir/..." -> "dir/..").
        cleaned = "/".join(_safe_parts(cleaned)) or "unnamed"
    return cleaned


def _safe_parts(name: str) -> list[str]:
    return [p.strip() for p in name.split("/") if p.strip() not in ("", ".", "..")]
