""" "Text contains" from the trigram index equals Python's `needle.casefold() in text.casefold()`.

Every path (phrase of trigrams, short needles through the vocabulary, direct checks of a
few rows, the scan fallback) is compared with the definition on hand-picked edge cases
and on random texts, before and after deletions.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from searchapp.storage import contains_index
from searchapp.storage.contains_index import SENTINEL, ContainsIndex

TEXTS = [
    "Hello, World! The quick brown fox.",
    "STRASSE und Straße und STRAẞE",
    "İstanbul ve ISPARTA; ılık ırmak",
    "東京大学の研究者が中文と日本語を比較した。",
    "猫",
    "a",
    "ab",
    "",
    "aaaa",
    "quotes \"double\" and 'single' and (parens) [brackets] * ? % _",
    "line one\nline two\ttabbed   spaced",
    "ﬁnance ﬂow (ligatures) and ΣΊΣΥΦΟΣ ς σ",
    "café CAFÉ cafe\u0301 (combining accent)",
    "emoji 👍🏽 and math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "tail ends with xy",
    "ends with a single z",
    "Ǆemal ǅ ǆ titlecase digraphs",
]

NEEDLES = [
    "hello", "HELLO", "o, w", "lo, wo", "strasse", "STRASSE", "straße", "STRAẞE", "ss", "ß", "ẞ",
    "i̇stanbul", "İstanbul", "istanbul", "ılık", "ILIK", "ı", "i", "İ",
    "東京", "中文", "文", "猫", "日本語を", "。",
    "a", "ab", "b", "aa", "aaa", "aaaa", "aaaaa", '"double"', '"', "'", "*", "?", "%", "_", "(parens) [",
    "one\nline", "e\tt", "   ", " ", "\n",
    "fi", "ﬁ", "finance", "FLOW", "σίσυφος", "ΣΊΣΥΦΟΣ", "ς", "σ",
    "café", "CAFÉ", "cafe\u0301", "e\u0301", "\u0301",
    "👍", "👍🏽", "𝔘𝔫", "𝔲𝔫",
    "xy", "y", "z", "ǆemal", "ǅ",
    "not there", "zzzz", "ends with a single z and more",
    SENTINEL, "a" + SENTINEL, "\x00",
]  # fmt: skip


def make_db(path: Path, texts: list[str]) -> tuple[sqlite3.Connection, ContainsIndex]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE chunks (row INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    index = ContainsIndex(path)
    assert index.create(db) is True
    db.execute("BEGIN")
    db.executemany("INSERT INTO chunks (row, text) VALUES (?, ?)", enumerate(texts, start=10))
    index.insert(db, enumerate(texts, start=10))
    db.execute("COMMIT")
    return db, index


def expected(texts: dict[int, str], needle: str, within: np.ndarray | None = None) -> list[int]:
    rows = sorted(texts) if within is None else within.tolist()
    return [r for r in rows if needle.casefold() in texts[r].casefold()]


def check_all(index: ContainsIndex, texts: dict[int, str], needles: list[str], rng: random.Random) -> None:
    rows = np.array(sorted(texts), dtype=np.int64)
    for needle in needles:
        if not needle.casefold():
            continue
        assert index.rows_containing(needle).tolist() == expected(texts, needle), repr(needle)
        for size in (3, len(rows) // 2):  # a few rows (checked directly) and many (the index)
            within = np.sort(rng.sample(list(rows), k=min(size, len(rows)))).astype(np.int64)
            got = index.rows_containing(needle, within)
            assert got.tolist() == expected(texts, needle, within), (repr(needle), size)


@pytest.mark.parametrize("short_terms", [300, 2])  # 2: short needles fall back to scanning
def test_edge_cases_equal_python_casefold(tmp_path: Path, monkeypatch, short_terms: int) -> None:
    monkeypatch.setattr(contains_index, "CHECK_DIRECTLY", 5)
    monkeypatch.setattr(contains_index, "MAX_SHORT_TERMS", short_terms)
    texts = TEXTS * 3  # enough rows that "many" goes through the index
    db, index = make_db(tmp_path / "t.sqlite3", texts)
    by_row = dict(enumerate(texts, start=10))
    check_all(index, by_row, NEEDLES, random.Random(1))
    # Deleting from the contentless index takes the texts; the rest still answer exactly.
    gone = [10, 11, 13, 20, 25]
    db.execute("BEGIN")
    index.delete(db, [(r, by_row[r]) for r in gone])
    db.executemany("DELETE FROM chunks WHERE row = ?", [(r,) for r in gone])
    db.execute("COMMIT")
    for r in gone:
        del by_row[r]
    check_all(index, by_row, NEEDLES, random.Random(2))
    with pytest.raises(ValueError, match="non-empty"):
        index.rows_containing("")
    index.close()


def test_random_texts_and_needles_equal_python_casefold(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(contains_index, "CHECK_DIRECTLY", 10)
    rng = random.Random(5)
    alphabet = "abcABCßẞıİi̇σςΣ東京 .,\n\"'éE\u0301"
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(400)]
    db, index = make_db(tmp_path / "r.sqlite3", texts)
    by_row = dict(enumerate(texts, start=10))
    needles = ["".join(rng.choices(alphabet, k=rng.randint(1, 5))) for _ in range(150)]
    needles += [
        t[i : i + n] for t in rng.sample(texts, 50) for i, n in [(rng.randint(0, 5), rng.randint(1, 6))]
    ]
    check_all(index, by_row, needles, rng)
    db.execute("BEGIN")
    index.rebuild(db)  # delete-all and refill gives the same answers
    db.execute("COMMIT")
    check_all(index, by_row, needles[:40], rng)


def test_sqlite_has_fts5_trigram() -> None:
    version = tuple(int(p) for p in sqlite3.sqlite_version.split("."))
    assert version >= (3, 34, 0), sqlite3.sqlite_version
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'trigram case_sensitive 1', content = '')")


def test_the_sampled_share_of_a_needle_is_its_share_when_the_sample_holds_every_row(tmp_path: Path) -> None:
    texts = [f"{'apple ' if i % 4 else ''}text {i} " + ("ß" if i % 10 == 0 else "") for i in range(400)]
    _db, index = make_db(tmp_path / "x.sqlite3", texts)
    rows = np.arange(10, len(texts) + 10, dtype=np.int64)  # make_db numbers rows from 10
    for needle in ["APPLE", "ss", "ß", "text", "t", "zebra", "e\x00x", "3 "]:
        expected = sum(1 for t in texts if needle.casefold() in t.casefold()) / len(texts)
        assert index.share([needle], rows) == pytest.approx(expected), needle
        assert index.share([needle], rows) == pytest.approx(expected), needle  # from the cache
    # Several needles: the share of texts holding every one of them.
    both = sum(1 for t in texts if "apple" in t and "0 " in t) / len(texts)
    assert index.share(["Apple", "0 "], rows) == pytest.approx(both) and 0 < both < 0.5
    found = index.check(["APPLE"], rows[:40])
    assert found.tolist() == [r for r in range(10, 50) if (r - 10) % 4]
    expected_rows = [i + 10 for i, t in enumerate(texts[:40]) if "apple" in t and "1 " in t]
    assert index.check(["APPLE", "1 "], rows[:40]).tolist() == expected_rows and expected_rows
