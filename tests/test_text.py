"""`ingest.text`: decoding with a recorded encoding, binary rejection, clean-up, display names."""

from __future__ import annotations

import bz2
import codecs
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.extract import extract
from searchapp.ingest.text import clean_text, decode_text, display_name, meaningful_chars, sniff_binary
from searchapp.ingest.types import Limits

SAMPLE = "naïve café – “quotes” … €5"  # cp1252 has every one of these; latin-1 lacks the last five

PROPERTY = settings(deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def reason_of(data: bytes) -> FailureReason:
    with pytest.raises(IngestError) as caught:
        decode_text(data)
    return caught.value.reason


# ------------------------------------------------------------------ decoding


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SAMPLE.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + SAMPLE.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF16_LE + SAMPLE.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF32_LE + SAMPLE.encode("utf-32-le"), "utf-32-le"),
        (codecs.BOM_UTF32_BE + SAMPLE.encode("utf-32-be"), "utf-32-be"),
        (SAMPLE.encode("cp1252"), "cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf32le-bom", "utf32be-bom", "cp1252"],
)
def test_decodes_and_records_the_encoding(data: bytes, encoding: str) -> None:
    text, used = decode_text(data)
    assert used == encoding
    # Exactly the text: in particular no U+FEFF left over from the byte-order mark.
    assert text == SAMPLE


def test_python_utf16_codec_output_with_its_own_bom_decodes() -> None:
    # "utf-16" writes a native-order BOM; whatever the order, the text comes back clean.
    text, used = decode_text("# Title\nbody".encode("utf-16"))
    assert text == "# Title\nbody"
    assert used in ("utf-16-le", "utf-16-be")


def test_latin1_text_decodes_as_cp1252() -> None:
    latin1 = "Größe: naïve façade, déjà vu, £3 ±1 °C".encode("latin-1")
    # Strict UTF-8 must fail on it, so this really exercises the fallback.
    with pytest.raises(UnicodeDecodeError):
        latin1.decode("utf-8")
    assert decode_text(latin1) == ("Größe: naïve façade, déjà vu, £3 ±1 °C", "cp1252")


# Real text in the legacy encodings text files still come in: the opening of Pushkin's
# "Eugene Onegin" (Russian, cp1251), of Natsume Soseki's "I Am a Cat" (Japanese, Shift-JIS)
# and of Goethe's "Wanderers Nachtlied" with a line of Proust (German and French, Latin-1).
ONEGIN = (
    "Мой дядя самых честных правил,\nКогда не в шутку занемог,\nОн уважать себя заставил\n"
    "И лучше выдумать не мог.\nЕго пример другим наука;\nНо, боже мой, какая скука\n"
    "С больным сидеть и день и ночь,\nНе отходя ни шагу прочь!"
)
NEKO = (
    "吾輩は猫である。名前はまだ無い。\nどこで生れたかとんと見当がつかぬ。"
    "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
    "吾輩はここで始めて人間というものを見た。"
)
NACHTLIED = (
    "Über allen Gipfeln\nIst Ruh,\nIn allen Wipfeln\nSpürest du\nKaum einen Hauch;\n"
    "Die Vögelein schweigen im Walde.\nWarte nur, balde\nRuhest du auch.\n"
    "Longtemps, je me suis couché de bonne heure. Parfois, à peine ma bougie éteinte, "
    "mes yeux se fermaient si vite que je n'avais pas le temps de me dire : « Je m'endors. »"
)


@pytest.mark.parametrize(
    ("text", "codec", "named"),
    [
        (ONEGIN, "cp1251", "cp1251"),
        (NEKO, "shift_jis", "cp932"),  # Windows' superset of Shift-JIS: the same text here
        (NACHTLIED, "latin-1", "cp1252"),  # cp1252 reads every Latin-1 letter the same
    ],
    ids=["cp1251-russian", "shift-jis-japanese", "latin1-german-french"],
)
def test_legacy_encodings_are_detected_not_misread(tmp_path: Path, text: str, codec: str, named: str) -> None:
    data = text.encode(codec)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # so detection, not the UTF-8 path, reads it
    if codec != "latin-1":  # the old cp1252 fallback misread these
        assert data.decode("cp1252", errors="replace") != text
    assert decode_text(data) == (text, named)
    # The same through a file and the whole extractor, as an upload would go.
    path = tmp_path / "legacy.txt"
    path.write_bytes(data)
    document = extract(path.read_bytes(), "legacy.txt", Limits())
    assert document.encoding == named
    assert clean_text(text) in "\n".join(section.text for section in document.sections)


def test_utf8_is_tried_before_cp1252() -> None:
    # These UTF-8 bytes also decode as cp1252 (to mojibake "Ã©"): UTF-8 must win.
    data = "café résumé".encode()
    assert data.decode("cp1252") != "café résumé"
    assert decode_text(data) == ("café résumé", "utf-8")


def test_bom_wins_over_the_nul_heuristic() -> None:
    # UTF-16 ASCII text is half NUL bytes; without the BOM check it would look binary.
    data = codecs.BOM_UTF16_LE + ("plain ascii words " * 50).encode("utf-16-le")
    assert data.count(0) > len(data) // 3
    assert decode_text(data)[1] == "utf-16-le"


def test_utf16_without_bom_is_read_by_where_its_nuls_fall() -> None:
    # More in tests/test_encodings_legacy.py; this was refused as binary before.
    assert decode_text("hello world".encode("utf-16-le")) == ("hello world", "utf-16-le")


def test_bad_bytes_after_a_bom_are_not_text() -> None:
    assert reason_of(codecs.BOM_UTF8 + b"ok \xff\xfe\xfd bad") == FailureReason.NOT_TEXT
    assert reason_of(codecs.BOM_UTF16_LE + b"\x00\xd8a") == FailureReason.NOT_TEXT  # lone surrogate


def test_bytes_no_encoding_reads_are_not_text() -> None:
    # Every high byte in turn: no single-byte code page makes prose of it, and 0x81, 0x8d,
    # 0x8f, 0x90 and 0x9d are undefined in cp1252, the fallback.
    assert reason_of(b"plain words " + bytes(range(128, 256)) * 3) == FailureReason.NOT_TEXT


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"word/document.xml"


@pytest.mark.parametrize(
    ("data", "named"),
    [(PNG, "PNG"), (PDF, "PDF"), (ZIP, "ZIP"), (b"\x1f\x8b\x08\x00" + b"x" * 40, "gzip")],
    ids=["png", "pdf", "zip", "gzip"],
)
def test_binary_formats_named_txt_are_rejected_by_magic(data: bytes, named: str) -> None:
    with pytest.raises(IngestError) as caught:
        decode_text(data)
    assert caught.value.reason == FailureReason.NOT_TEXT
    assert named in caught.value.detail
    assert sniff_binary(data) is not None


def test_text_that_starts_like_a_magic_number_is_text() -> None:
    # "MZ", "GIF8" and "BZh" are also how prose can start.
    for text in ("MZ-80K: notes on a 1978 computer", "GIF89a explained: the header", "BZh is a postcode"):
        assert decode_text(text.encode()) == (text, "utf-8")


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 4,
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,",
        bz2.compress(b"some text that compresses " * 200),
    ],
    ids=["exe", "gif", "bz2"],
)
def test_real_files_with_text_like_magic_are_still_binary(data: bytes) -> None:
    assert reason_of(data) == FailureReason.NOT_TEXT


def test_nul_bytes_are_binary() -> None:
    # A lone NUL in text is dropped (tests/test_encodings_legacy.py); runs of them are binary.
    assert reason_of(b"mostly text " * 100 + b"\x00\x00\x00\x00" + b"more text") == FailureReason.NOT_TEXT


def test_control_character_soup_is_binary() -> None:
    soup = bytes(range(1, 9)) + bytes(range(14, 32)) + b"\x7f"
    assert reason_of((b"some text " + soup) * 20) == FailureReason.NOT_TEXT


def test_a_few_control_characters_are_tolerated() -> None:
    # Under 5 %: a stray escape code in a log file does not make it binary.
    data = b"line of ordinary log text\x1b[0m\n" * 20
    text, used = decode_text(data)
    assert used == "utf-8"
    assert "ordinary log text" in text


def test_tabs_newlines_and_form_feeds_are_text() -> None:
    data = b"col1\tcol2\r\nrow\x0cnext page\n" * 50
    assert decode_text(data)[1] == "utf-8"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b" \n\t\r\n  ",
        codecs.BOM_UTF8,
        codecs.BOM_UTF8 + b"  \n ",
        codecs.BOM_UTF16_LE,
        codecs.BOM_UTF16_LE + "  \n\t ".encode("utf-16-le"),
        "\u3000\u00a0 \u2003".encode(),  # Unicode blanks only
    ],
    ids=[
        "zero",
        "spaces",
        "mixed-ws",
        "utf8-bom-only",
        "utf8-bom-ws",
        "utf16-bom-only",
        "utf16-ws",
        "uni-ws",
    ],
)
def test_empty_and_whitespace_only_is_empty_file(data: bytes) -> None:
    assert reason_of(data) == FailureReason.EMPTY_FILE


@PROPERTY
@given(st.binary(max_size=4096))
def test_decode_arbitrary_bytes_returns_text_or_raises_ingest_error(data: bytes) -> None:
    try:
        text, encoding = decode_text(data)
    except IngestError as exc:
        assert exc.reason in (FailureReason.NOT_TEXT, FailureReason.EMPTY_FILE)
        return
    assert isinstance(text, str) and text.strip()
    assert codecs.lookup(encoding)  # a codec Python knows, as recorded in the catalog
    assert not text.startswith("\ufeff")


@PROPERTY
@given(st.text(max_size=2000), st.sampled_from(["utf-8", "utf-16", "utf-8-sig", "utf-32"]))
def test_any_text_with_a_bom_or_in_utf8_round_trips(text: str, codec: str) -> None:
    if text.startswith(("\ufeff", "\x00")):
        return  # a leading U+FEFF *is* a BOM in UTF-8; a leading NUL turns a UTF-16 BOM into UTF-32's
    try:
        data = text.encode(codec)
    except UnicodeEncodeError:  # lone surrogates
        return
    try:
        decoded, _ = decode_text(data)
    except IngestError as exc:
        if exc.reason == FailureReason.EMPTY_FILE:
            assert not text.strip()
        else:  # control-code soup, NUL characters (without a BOM), or a binary magic number
            assert exc.reason == FailureReason.NOT_TEXT
            assert any(unicodedata.category(ch) == "Cc" for ch in text) or sniff_binary(data)
        return
    if "\x00" in text and codec == "utf-8":  # a few stray NULs, without a BOM, are dropped
        assert decoded == text.replace("\x00", "")
        return
    assert decoded == text


# ----------------------------------------------------------------- clean-up


def test_clean_text_folds_ligatures_and_compatibility_forms() -> None:
    assert clean_text("ﬁnd the ﬂow, ﬀ") == "find the flow, ff"
    assert clean_text("ｆｕｌｌｗｉｄｔｈ １２３") == "fullwidth 123"
    assert clean_text("x²") == "x2"


def test_clean_text_removes_control_characters() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x7fe\x85f") == "a b c d e f"
    assert clean_text("keep\ttabs") == "keep tabs"


def test_clean_text_drops_glyph_name_noise() -> None:
    assert clean_text("before /g123/g45/g67 after") == "before after"
    assert clean_text("x/g1/g2/g3/g4/g5y") == "x y"
    # Two in a row is not noise (could be a path), and neither is one.
    assert clean_text("see /g12/g34 here") == "see /g12/g34 here"


def test_clean_text_normalises_line_ends_and_blank_runs() -> None:
    assert clean_text("one\r\ntwo\rthree\n") == "one\ntwo\nthree"
    assert clean_text("para one\n\n\n\n\npara two") == "para one\n\npara two"
    assert clean_text("a\n \t \n  \n\nb") == "a\n\nb"
    assert clean_text("page one\fpage two") == "page one\n\npage two"


def test_clean_text_squeezes_spaces_and_strips_lines() -> None:
    assert clean_text("  lots    of\u00a0\u00a0 space \u3000 here  ") == "lots of space here"
    assert clean_text("  indented\n    line  ") == "indented\nline"


def test_clean_text_of_blank_text_is_empty() -> None:
    assert clean_text(" \n\t\r\n\x00\x01 ") == ""


@PROPERTY
@given(st.text(max_size=500))
def test_clean_text_is_idempotent_and_free_of_controls(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once
    assert "\r" not in once
    assert all(ch in "\n" or unicodedata.category(ch) != "Cc" for ch in once)
    assert once == once.strip()


def test_meaningful_chars_counts_letters_and_digits() -> None:
    assert meaningful_chars("a1 - ! ß 中") == 4
    assert meaningful_chars(" ... \n -- ") == 0


# ------------------------------------------------------------- display names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("rep\x00ort\x1f\x7f.pdf", "report.pdf"),
        ("new\nline\r.txt", "newline.txt"),
        ("..", "unnamed"),
        ("", "unnamed"),
        ("\x00\x01", "unnamed"),
        ("../", "unnamed"),
        ("  spaced name.md  ", "spaced name.md"),
        ("emoji 📄 file.txt", "emoji 📄 file.txt"),
    ],
)
def test_display_name(name: str, expected: str) -> None:
    assert display_name(name) == expected


def test_display_name_is_nfc() -> None:
    decomposed = "cafe\u0301.txt"
    assert display_name(decomposed) == "caf\u00e9.txt"
    # A control character between the letter and its accent must not block composition.
    assert display_name("cafe\x00\u0301.txt") == "caf\u00e9.txt"


def test_display_name_caps_at_255_bytes_and_keeps_the_extension() -> None:
    long = "é" * 300 + ".pdf"
    name = display_name(long)
    assert len(name.encode("utf-8")) <= 255
    assert name.endswith(".pdf")
    assert name.startswith("éééé")
    name.encode("utf-8").decode("utf-8")  # no split character
    emoji = display_name("📄" * 100 + ".markdown")
    assert len(emoji.encode("utf-8")) <= 255 and emoji.endswith(".markdown")


def test_display_name_without_a_short_extension_is_cut() -> None:
    name = display_name("x" * 400)
    assert name == "x" * 255
    assert len(display_name("a" * 300 + ".thisisnotanextension").encode()) == 255


def test_display_name_keep_dirs() -> None:
    assert display_name("docs/guide/intro.md", keep_dirs=True) == "docs/guide/intro.md"
    assert display_name("docs/../../etc/passwd", keep_dirs=True) == "docs/etc/passwd"
    assert display_name("/abs/./path//x.md", keep_dirs=True) == "abs/path/x.md"
    assert display_name("docs\\sub\\a.md", keep_dirs=True) == "docs/sub/a.md"
    assert display_name("docs/guide/intro.md") == "intro.md"


def test_display_name_cut_never_leaves_a_parent_segment() -> None:
    # 252 + "/..." is 256 bytes; a byte cut at 255 used to leave "aaa.../..".
    name = display_name("a" * 252 + "/...", keep_dirs=True)
    assert ".." not in name.split("/")
    assert len(name.encode()) <= 255


def _check_display_name(result: str, *, keep_dirs: bool) -> None:
    assert result
    assert len(result.encode("utf-8")) <= 255
    assert "\\" not in result
    assert not any(unicodedata.category(ch) == "Cc" for ch in result)
    assert unicodedata.is_normalized("NFC", result)
    segments = result.split("/")
    assert all(s.strip() not in ("", ".", "..") for s in segments), segments
    if not keep_dirs:
        assert len(segments) == 1


# Arbitrary text, salted with the pieces that matter: separators, dots, controls, accents.
NAME_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            ["/", "\\", ".", "..", "...", " ", "\x00", "\n", "\x7f", "\x85", "\u0301", "é", "📄"]
        ),
        st.text(max_size=8),
        st.just("x" * 100),
    ),
    max_size=60,
).map("".join)


@PROPERTY
@given(NAME_TEXT)
def test_display_name_property(name: str) -> None:
    _check_display_name(display_name(name), keep_dirs=False)


@PROPERTY
@given(NAME_TEXT)
def test_display_name_keep_dirs_property(name: str) -> None:
    _check_display_name(display_name(name, keep_dirs=True), keep_dirs=True)


@PROPERTY
@given(st.lists(st.sampled_from(["a" * 60, "..", ".", "b" * 7, "…", "é" * 20]), max_size=12))
def test_display_name_keep_dirs_long_paths(parts: list[str]) -> None:
    # Paths that cross the 255-byte cap at every kind of segment boundary.
    _check_display_name(display_name("/".join(parts) + "/...", keep_dirs=True), keep_dirs=True)
