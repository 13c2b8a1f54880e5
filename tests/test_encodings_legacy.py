"""Legacy 8-bit encodings, UTF-16 without a byte-order mark and stray NUL bytes (`ingest.text`).

Each case was misread or refused by the "cp1252 first" tie-break and the NUL check that
came before it: found by an exploratory tester.
"""

from __future__ import annotations

import pytest

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.text import decode_text, decode_text_with_warnings

CZECH = (
    "Příliš žluťoučký kůň úpěl ďábelské ódy. Nechť již hříšné saxofony ďáblů rozezvučí síň "
    "úděsnými tóny waltzu, tanga a quickstepu. Loď čeří kýlem tůň obzvlášť v Grónské úžině. "
    "Hleď, toto je ta vyšší úroveň: žádné řeřichy, jen čerstvé kuřecí řízky a dušené brambory."
)
POLISH = (
    "Zażółć gęślą jaźń. W Szczebrzeszynie chrząszcz brzmi w trzcinie i Szczebrzeszyn z tego słynie. "
    "Pchnąć w tę łódź jeża lub ośm skrzyń fig. Mężny bądź, chroń pułk twój i sześć flag. "
    "Stróż pchnął kość w quiz gędźb vel fax myjń."
)


@pytest.mark.parametrize(
    ("text", "codec", "named"),
    [
        (CZECH, "iso8859_2", "iso8859_2"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy.", "iso8859_2", "iso8859_2"),
        (POLISH, "iso8859_2", "iso8859_2"),
        (CZECH, "cp1250", "cp1250"),  # the Windows spelling of the same letters still reads
        (POLISH, "cp1250", "cp1250"),
    ],
    ids=["czech-iso8859-2", "czech-pangram-iso8859-2", "polish-iso8859-2", "czech-cp1250", "polish-cp1250"],
)
def test_central_european_paragraphs_read_right(text: str, codec: str, named: str) -> None:
    data = text.encode(codec)
    assert decode_text_with_warnings(data) == (text, named, ())


@pytest.mark.parametrize(
    ("text", "codec", "named"),
    [
        ("Ångström", "latin-1", "cp1252"),  # cp1252 reads every Latin-1 letter the same
        ("日本語のテキストです。", "euc_jp", "euc_jp"),
        ("שלום עולם, זה מסמך קצר.", "cp1255", "cp1255"),
    ],
    ids=["latin1-angstrom", "euc-jp-note", "cp1255-hebrew"],
)
def test_short_legacy_texts_read_right_with_a_warning(text: str, codec: str, named: str) -> None:
    decoded, encoding, warnings = decode_text_with_warnings(text.encode(codec))
    assert (decoded, encoding) == (text, named)
    assert decode_text(text.encode(codec)) == (text, named)
    # So few characters leave other readings possible: a Western reading of "Ångström" is
    # also Cyrillic; the document says so rather than staying silent.
    if warnings:
        assert "guessed" in warnings[0] and named in warnings[0]


def test_a_two_letter_guess_is_flagged() -> None:
    _, _, warnings = decode_text_with_warnings("Ångström".encode("latin-1"))
    assert len(warnings) == 1 and "cp1252" in warnings[0]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_text(codec: str) -> None:
    text = "# Notes\r\nplain words and a café, 5 € — on two lines\n"
    data = text.encode(codec)  # no byte-order mark: every other byte is a NUL
    assert not data.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert decode_text_with_warnings(data) == (text, codec, ())


def test_a_stray_nul_in_ascii_text_is_dropped_with_a_warning() -> None:
    data = b"mostly text " * 100 + b"\x00" + b"more text"
    text, encoding, warnings = decode_text_with_warnings(data)
    assert (text, encoding) == ("mostly text " * 100 + "more text", "utf-8")
    assert warnings == ("1 stray NUL byte dropped from the text",)


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 8,  # every byte value: NULs in a run of other non-text bytes
        b"".join(i.to_bytes(4, "little") for i in range(2000)),  # an array of integers
        b"header\x00\x00\x00\x01\x00\x00\x00\x02" + b"record text " * 50,  # a record file
        b"text\x00" * 200,  # NULs far too many to be a glitch
    ],
    ids=["all-bytes", "int-array", "records", "nul-separated"],
)
def test_real_binary_is_still_refused(data: bytes) -> None:
    with pytest.raises(IngestError) as caught:
        decode_text(data)
    assert caught.value.reason == FailureReason.NOT_TEXT
