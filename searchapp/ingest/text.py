"""Bytes to clean text: decoding with a recorded encoding, binary rejection, clean-up.

Decoding order: a byte-order mark; UTF-16 without one when the NUL bytes fall on every
other byte; strict UTF-8; then the legacy encoding charset-normalizer ranks best (cp1251
Russian, Shift-JIS Japanese, cp1252 Western European, ISO-8859-2 Central European, GBK,
Big5, EUC-KR...). A few stray NUL bytes in otherwise ordinary text are dropped with a
warning; many are binary data. charset-normalizer's own shortcuts skip single-byte code
pages once a multi-byte reading looks clean, and on a short text every reading looks
clean, so the single-byte code pages are ranked as well, and a reading the bytes'
structure contradicts (see `_implausible`) drops behind. Exact ties go to the commonest
encoding. A guess made from few non-ASCII characters, with another reading as good,
comes with a warning. Anything that still looks binary (magic numbers of common
formats, NUL or control characters) is rejected as "not text" rather than indexed as
noise.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from typing import NamedTuple

from searchapp.errors import FailureReason, IngestError

log = logging.getLogger(__name__)

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


class DecodedText(NamedTuple):
    """Decoded text, the encoding it was read in, and what a reader should know about it."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode file bytes to text and name the encoding used (warnings are logged).

    Raises:
        IngestError: EMPTY_FILE for no text at all, NOT_TEXT for binary data.
    """
    text, encoding, warnings = decode_text_with_warnings(data)
    for warning in warnings:
        log.warning("%s", warning)
    return text, encoding


def decode_text_with_warnings(data: bytes) -> DecodedText:
    """`decode_text`, with the warnings a document should carry (stray NULs, an unsure guess).

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
            return DecodedText(_checked(text), encoding)
    binary = sniff_binary(data)
    if binary and not data.startswith(_TEXT_LIKE_MAGIC):
        raise IngestError(FailureReason.NOT_TEXT, f"the content is {binary}, not text")
    warnings: list[str] = []
    nuls = data.count(0)
    if nuls:
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return DecodedText(_checked(utf16[0]), utf16[1])
        if not _stray(nuls, data):
            raise IngestError(FailureReason.NOT_TEXT, "the content contains NUL bytes: binary data, not text")
        data = data.replace(b"\x00", b"")
        warnings.append(f"{nuls} stray NUL byte{'s' if nuls > 1 else ''} dropped from the text")
    try:
        return DecodedText(_checked(data.decode("utf-8")), "utf-8", tuple(warnings))
    except UnicodeDecodeError:
        pass
    guess = _guess_encoding(data)
    if guess is None:
        raise IngestError(
            FailureReason.NOT_TEXT, "the bytes are not text in UTF-8 or any encoding charset-normalizer knows"
        )
    encoding, doubt = guess
    if doubt:
        warnings.append(doubt)
    return DecodedText(_checked(data.decode(encoding, errors="replace")), encoding, tuple(warnings))


_UTF16_NUL_SHARE = 0.3  # of the code units: ASCII-heavy UTF-16 has a NUL in most


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text without a byte-order mark, told by where its NUL bytes fall."""
    sample = data[:65536]
    units = len(sample) // 2
    if len(data) % 2 or units < _UTF16_MIN_UNITS:
        return None  # "0<NUL><C2><80>" is UTF-8 with a NUL as much as one UTF-16 character
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= units * _UTF16_NUL_SHARE and even == 0:
        encoding = "utf-16-le"  # "A\0": the high byte, second, is the NUL
    elif even >= units * _UTF16_NUL_SHARE and odd == 0:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        return None


_MAX_STRAY_NUL_SHARE = 0.001
_UTF16_MIN_UNITS = 8


def _stray(nuls: int, data: bytes) -> bool:
    """A few lone NUL bytes (a glitch in a text file), not the runs of binary data."""
    return (nuls == 1 or nuls <= len(data) * _MAX_STRAY_NUL_SHARE) and b"\x00\x00" not in data


# The encodings text files are really written in, commonest first: exact ties between
# readings go to the first. charset-normalizer also tries rarer ones (Nordic, Celtic or
# Baltic ISO-8859 parts, DOS and Mac code pages...), which on a short Czech or Polish text
# can read as clean as the right one; they are left out.
_PREFERRED = (
    "cp1252",
    "cp1251",
    "cp1250",
    "iso8859_2",
    "cp932",
    "shift_jis",
    "gb18030",
    "gbk",
    "big5",
    "cp950",
    "euc_kr",
    "cp949",
    "euc_jp",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "cp874",
    "iso8859_5",
    "iso8859_7",
    "iso8859_8",
    "iso8859_9",
    "iso8859_13",
    "iso8859_15",
    "latin_1",
)
_MULTI_BYTE = frozenset(
    {"cp932", "shift_jis", "gb18030", "gbk", "big5", "cp950", "euc_kr", "cp949", "euc_jp"}
)
_SINGLE_BYTE = [name for name in _PREFERRED if name not in _MULTI_BYTE]
_CHINESE = frozenset({"gb18030", "gbk", "big5", "cp950"})
_IMPLAUSIBLE = 0.5  # added to a reading's mess ratio: behind any clean reading
_DOUBT_CHARS = 32  # charset-normalizer judges no language on fewer letters
_DOUBT_TIE = 0.05


def detect_encoding(data: bytes) -> str | None:
    """The legacy encoding `data` is most likely in (None: none fits); see the module docstring."""
    guess = _guess_encoding(data)
    return guess[0] if guess else None


_HEURISTIC_SAMPLE = 65536
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
_CP1250_ONLY_RE = re.compile(rb"[\x80-\x9f]")


def _guess_encoding(data: bytes) -> tuple[str, str] | None:
    """The encoding, and a warning when a short text left another reading as likely ("" if sure)."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    tried = {m.encoding for m in matches}
    # The single-byte code pages too: charset-normalizer skips them once a multi-byte
    # reading looks clean, which two accented letters can make "Ångström" do in GB18030.
    matches += [m for m in from_bytes(data, cp_isolation=_SINGLE_BYTE) if m.encoding not in tried]
    ranked: list[tuple[float, float, int, str, str]] = []
    for match in matches:
        names = {match.encoding, *match.could_be_from_charset}
        name = next((n for n in _PREFERRED if n in names), None)
        if name is None:
            continue
        text = str(match)
        score = match.chaos + (_IMPLAUSIBLE if _implausible(name, text, data) else 0.0)
        ranked.append((score, -match.coherence, _PREFERRED.index(name), name, text))
    if not ranked:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            return None
        return "cp1252", ""
    ranked.sort()
    score, coherence, _, name, text = ranked[0]
    non_ascii = len(_NON_ASCII_RE.findall(text, 0, _HEURISTIC_SAMPLE))
    rivals = [
        r[3]
        for r in ranked[1:]
        if r[0] <= score + _DOUBT_TIE and r[1] <= coherence + _DOUBT_TIE and r[4] != text
    ]
    if rivals and non_ascii < _DOUBT_CHARS:
        return name, (
            f"the encoding was guessed from only {non_ascii} non-ASCII characters: read as {name}, "
            f"but {', '.join(dict.fromkeys(rivals[:3]))} would fit as well"
        )
    return name, ""


def _implausible(name: str, text: str, data: bytes) -> bool:
    """Whether the bytes' structure contradicts reading them as `text` in `name`.

    - A multi-byte reading where most non-ASCII bytes stand alone between ASCII ones: CJK
      text has its characters' bytes side by side, accented Latin letters stand alone.
    - A Chinese reading with kana in it: GB and EUC-JP share the kana rows, so Japanese
      reads as Chinese characters among Japanese syllables.
    - A Cyrillic or Greek reading all in one case: Hebrew (caseless) in cp1255 reads as
      lower-case Russian in cp1251 and upper-case in KOI8-R.
    - cp1250 where no byte is in 0x80-0x9F: cp1250 puts š, ž, ś, ź there, ISO-8859-2 (which
      reads the rest the same) has only controls, so the text is ISO-8859-2 (where both
      read alike, as in Hungarian, the tie goes to cp1250 anyway).
    """
    # These loops are Python and files can be megabytes: they read a sample.
    sample, text = data[:_HEURISTIC_SAMPLE], text[:_HEURISTIC_SAMPLE]
    if name in _MULTI_BYTE:
        high = [i for i, byte in enumerate(sample) if byte >= 0x80]
        alone = sum(
            1
            for i in high
            if (i == 0 or sample[i - 1] < 0x80) and (i + 1 == len(sample) or sample[i + 1] < 0x80)
        )
        if alone * 2 > len(high):
            return True
    if name in _CHINESE and any("\u3040" <= ch <= "\u30ff" for ch in text):
        return True
    letters = [ch for ch in text if ch.isalpha() and ord(ch) > 127]
    cased = [
        ch for ch in letters if ch.lower() != ch.upper() and not unicodedata.name(ch, "").startswith("LATIN")
    ]
    one_case = all(ch.islower() for ch in cased) or all(ch.isupper() for ch in cased)
    if len(cased) >= 4 and len(cased) == len(letters) and one_case:
        return True
    return name == "cp1250" and _CP1250_ONLY_RE.search(data) is None


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
    the byte's Windows-1252 character (else U+FFFD), so "bad\\xe9name" reads "badéname"."""
    if not _SURROGATE_RE.search(name):
        return name

    def byte(match: re.Match[str]) -> str:
        code = ord(match.group())
        if not 0xDC80 <= code <= 0xDCFF:
            return "\ufffd"
        try:
            return bytes([code - 0xDC00]).decode("cp1252")
        except UnicodeDecodeError:  # the five bytes cp1252 leaves unassigned
            return "\ufffd"

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
