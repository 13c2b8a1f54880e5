"""Keyword analysis: what a query and a passage must share to match in keyword search."""

from __future__ import annotations

import shutil
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchapp import Library
from searchapp.ingest.files import ingest_paths
from searchapp.storage.terms import TERMS_VERSION, fold, keyword_tokens
from searchapp.ui.render import highlight, query_terms
from tests.conftest import make_settings, write


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("cafe creme", "Café crème"),
        ("naive resume", "naïve résumé"),
        ("cafe", unicodedata.normalize("NFD", "café")),  # macOS file names, some PDFs
        ("finance", "ﬁnance"),  # a ligature from a PDF's text layer
        ("abc", "ＡＢＣ"),  # full-width
        ("straße", "strasse"),
        ("елка", "Ёлка"),  # Cyrillic: ё is е with a diaeresis
        ("aero", "Ærø"),
        ("lodz", "Łódź"),
        ("ελληνικα", "Ελληνικά"),
        ("كتب الولد الدرس", "كَتَبَ الوَلَدُ الدَّرْسَ"),  # vocalised Arabic
        ("احمد الي اخر", "أحمد إلى آخر"),  # hamza on alef, alef maksura
        ("בראשית ברא", "בְּרֵאשִׁית בָּרָא"),  # Hebrew points
    ],
)
def test_what_people_type_matches_what_is_written(typed: str, written: str) -> None:
    assert keyword_tokens(typed) == keyword_tokens(written) != []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("भारत की राजधानी नई दिल्ली है", ["भारत", "की", "राजधानी", "नई", "दिल्ली", "है"]),
        ("தமிழ் மொழி", ["தமிழ்", "மொழி"]),
        ("বাংলা ভাষা", ["বাংলা", "ভাষা"]),
    ],
)
def test_vowel_signs_are_part_of_the_word(text: str, expected: list[str]) -> None:
    """Version 1 split Devanagari at every vowel sign and kept the consonant fragments."""
    assert keyword_tokens(text) == expected


def test_marks_that_change_the_word_are_kept() -> None:
    assert keyword_tokens("がっこう") != keyword_tokens("かっこう")  # Japanese voicing
    assert keyword_tokens("東京大学") == ["東京", "京大", "大学"]
    assert keyword_tokens("한국어") == ["한국", "국어"]  # Hangul decomposes and recomposes


@pytest.mark.parametrize(
    ("sentence", "word"),
    [
        ("ภาษาไทยเป็นภาษาราชการ", "ภาษาราชการ"),  # Thai
        ("ភាសាខ្មែរគឺជាភាសាផ្លូវការ", "ផ្លូវការ"),  # Khmer
        ("ພາສາລາວແມ່ນພາສາທາງການ", "ທາງການ"),  # Lao
        ("မြန်မာဘာသာစကားသည်ရုံးသုံးဘာသာဖြစ်သည်", "ရုံးသုံး"),  # Myanmar
    ],
)
def test_a_word_inside_an_unspaced_sentence_matches(sentence: str, word: str) -> None:
    """No spaces between words: the sentence's bigrams hold every bigram of the word."""
    assert set(keyword_tokens(word)) <= set(keyword_tokens(sentence))


def test_english_analysis_is_unchanged() -> None:
    assert keyword_tokens("The Running of the Bulls, 2026!") == ["run", "bull", "2026"]
    assert keyword_tokens("snake_case x 7") == ["snake", "case", "7"]


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_ascii_text_reads_the_same_on_both_paths(text: str) -> None:
    """Plain ASCII takes a faster pattern; with one non-ASCII word after it, the other one."""
    assert keyword_tokens(text + " über") == [*keyword_tokens(text), "uber"]


def test_highlighting_matches_as_keyword_search_does() -> None:
    terms = query_terms("cafe दिल्ली")
    assert terms == [fold("दिल्ली"), "cafe"] or terms == ["cafe", fold("दिल्ली")]
    marked = highlight("Le Café de दिल्ली", terms)
    assert "**Café**" in marked and "**दिल्ली**" in marked


def test_a_library_indexed_by_the_old_analysis_is_indexed_again(tmp_path: Path) -> None:
    """An index whose terms another analysis made is rebuilt from Chroma at open."""
    settings = make_settings(tmp_path / "lib", model="hash:64")
    with Library.open(settings) as library:
        ingest_paths(library, [write(tmp_path / "menu.txt", "Le café crème du matin.")])
        assert [h.source for h in library.search("cafe", mode="keyword").hits] == ["menu.txt"]
        database = library.local.directory / "index.sqlite3"
    with sqlite3.connect(database) as db:  # as version 1 left it: accented terms, no stamp
        db.execute("UPDATE chunks SET tokens = 'café crème matin'")
        db.execute("DELETE FROM meta WHERE key = 'terms'")
    for saved in database.parent.glob("keyword-*"):  # so BM25 would be read from those terms
        shutil.rmtree(saved)
    with Library.open(settings) as library:
        assert [h.source for h in library.search("cafe", mode="keyword").hits] == ["menu.txt"]
        assert library.local.count == 1
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'terms'").fetchone() == (str(TERMS_VERSION),)
        assert db.execute("SELECT tokens FROM chunks").fetchone() == ("le cafe creme du matin",)


def test_real_model_library_finds_vocalised_arabic_and_hindi(tmp_path: Path) -> None:
    """The bundled model cannot read either script; keyword search is what finds them."""
    with Library.open(make_settings(tmp_path / "lib")) as library:
        ingest_paths(
            library,
            [
                write(tmp_path / "ar.txt", "ذَهَبَ الوَلَدُ إِلَى المَدْرَسَةِ صَبَاحًا."),
                write(tmp_path / "hi.txt", "भारत की राजधानी नई दिल्ली है।"),
                write(tmp_path / "en.txt", "The committee approved the annual budget."),
            ],
        )
        for query, source in [("المدرسة", "ar.txt"), ("राजधानी दिल्ली", "hi.txt")]:
            for mode in ("keyword", "adaptive"):
                assert library.search(query, mode=mode).hits[0].source == source, (query, mode)
