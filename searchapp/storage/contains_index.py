""" "Text contains" from a trigram index: exactly `needle.casefold() in text.casefold()`.

The index is an SQLite FTS5 table with the `trigram` tokenizer (SQLite 3.34+), contentless,
in the same database as the rows it indexes and written in the same transactions. It
indexes each text case-folded by Python (`str.casefold`: full folding, so "ß" is "ss";
SQLite's own folding is simpler) with case-sensitive trigrams, plus two sentinel
characters at the end, and a needle is folded the same way. Then:

- a needle of 3+ characters is an FTS5 phrase of its trigrams at consecutive positions,
  which holds exactly where the folded text contains the folded needle;
- a needle of 1-2 characters has no trigram of its own: the rows containing it are those
  holding a trigram that starts with it (the sentinels give every character of a text
  two successors), found in the index's vocabulary; when too many trigrams do, or when
  the needle holds a sentinel or NUL, the texts are scanned instead;
- when another filter leaves only a few rows, their texts are checked directly.

A needle that most rows hold ("e", "the", "cell") costs the index what decoding all those
rows' positions costs (hundreds of milliseconds at 1M rows), and the answer is most of the
collection anyway. `share` estimates a needle's share of rows from a fixed random sample
of texts held in memory (a few hundred microseconds), so that search can rank the other
filters' rows first and `check` only the best of them (`searchapp.storage.chunk_index`).

Every path gives the same rows as the Python check, which the tests compare on edge cases.
"""

from __future__ import annotations

import bisect
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

SENTINEL = "\uffff"  # a Unicode noncharacter: absent from real text, valid UTF-8
_PAD = SENTINEL * 2
CHECK_DIRECTLY = 300  # admitted rows up to which reading their texts beats the index
MAX_SHORT_TERMS = 300  # trigrams a 1-2 character needle may expand to before a scan
_BATCH = 500  # SQL parameters per statement
SAMPLE_ROWS = 2000  # texts held in memory to estimate a needle's share of rows


def folded(text: str) -> str:
    """What the index stores for a text."""
    return text.casefold() + _PAD


class ContainsIndex:
    """The trigram table `<table>_trigram` over `<table>.<text_column>`, keyed by its rowid.

    Writes go through the caller's connection, inside the caller's transaction; reads use
    one read-only connection per thread, so searches never wait for each other or see a
    write half done (WAL mode).
    """

    def __init__(self, path: Path, table: str = "chunks", row: str = "row", text: str = "text") -> None:
        self.path = path
        self.table, self.row, self.text = table, row, text
        self.fts = f"{table}_trigram"
        self._local = threading.local()
        # (rows when drawn, the folded texts joined by NUL, where each starts)
        self._sample: tuple[int, str, list[int]] = (0, "", [])
        self._shares: dict[tuple[str, ...], float] = {}  # folded needles -> share, for this sample
        self._sample_lock = threading.Lock()

    def create(self, db: sqlite3.Connection) -> bool:
        """Create the tables if missing; True if they were created (then fill them: `rebuild`)."""
        exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (self.fts,)).fetchone()
        db.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.fts} USING fts5("
            "folded, tokenize = 'trigram case_sensitive 1', content = '')"
        )
        db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.fts}_vocab USING fts5vocab({self.fts}, 'row')")
        return exists is None

    def insert(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str]]) -> None:
        db.executemany(
            f"INSERT INTO {self.fts} (rowid, folded) VALUES (?, ?)", ((r, folded(t)) for r, t in rows)
        )

    def delete(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str]]) -> None:
        """Remove rows, given the texts they were inserted with (a contentless table needs them)."""
        db.executemany(
            f"INSERT INTO {self.fts} ({self.fts}, rowid, folded) VALUES ('delete', ?, ?)",
            ((r, folded(t)) for r, t in rows),
        )

    def rebuild(self, db: sqlite3.Connection) -> None:
        """Index every row of the table afresh (inside the caller's transaction)."""
        db.execute(f"INSERT INTO {self.fts} ({self.fts}) VALUES ('delete-all')")
        self.insert(db, db.execute(f"SELECT {self.row}, {self.text} FROM {self.table}"))

    # ----------------------------------------------------------------- reads

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection: it sees committed transactions only."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            self._local.db = db
        return db

    def rows_containing(self, needle: str, within: IntArray | None = None) -> IntArray:
        """The rows (sorted) whose text contains `needle`, ignoring case; only rows in
        `within` (sorted) when given."""
        wanted = needle.casefold()
        if not wanted:
            raise ValueError("expected a non-empty needle")
        if within is not None and len(within) <= CHECK_DIRECTLY:
            return self._check([wanted], within)
        rows: IntArray | None = None
        if SENTINEL not in wanted and "\x00" not in wanted:
            rows = self._match([_phrase(wanted)]) if len(wanted) >= 3 else self._short(wanted)
        if rows is None:
            return self._check([wanted], within)
        return rows if within is None else rows[np.isin(rows, within, assume_unique=True)]

    def share(self, needles: Sequence[str], rows: IntArray) -> float:
        """The estimated share of `rows` (every live row, sorted) whose text contains every
        one of `needles`.

        From up to `SAMPLE_ROWS` texts drawn at random from `rows`, drawn again when the
        rows have doubled or halved since; a text deleted since it was drawn still stands
        for the kind of text the collection holds.
        """
        wanted = tuple(sorted({needle.casefold() for needle in needles}))
        with self._sample_lock:
            drawn, joined, starts = self._sample
            if not starts or not drawn / 2 <= len(rows) <= drawn * 2:
                texts = self._draw(rows)
                # One string, texts apart by NUL: a rare needle costs one `find` over it.
                joined = "\x00".join(texts)
                starts = list(itertools.accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
                self._sample = (len(rows), joined, starts)
                self._shares.clear()
            known = self._shares.get(wanted)
            if known is not None:
                return known
        if not starts:
            return 0.0
        if len(wanted) != 1 or "\x00" in wanted[0]:
            found = sum(1 for text in joined.split("\x00") if all(w in text for w in wanted))
        else:
            found, at = 0, joined.find(wanted[0])
            while at >= 0:
                found += 1
                following = bisect.bisect_right(starts, at)  # the first text after this one
                at = joined.find(wanted[0], starts[following]) if following < len(starts) else -1
        share = found / len(starts)
        with self._sample_lock:
            if len(self._shares) > 256:
                self._shares.clear()
            self._shares[wanted] = share
        return share

    def _draw(self, rows: IntArray) -> list[str]:
        if not len(rows):
            return []
        rng = np.random.default_rng(len(rows))
        picked = rows if len(rows) <= SAMPLE_ROWS else rng.choice(rows, SAMPLE_ROWS, replace=False)
        db = self.reader()
        texts: list[str] = []
        for start in range(0, len(picked), _BATCH):
            part = [int(r) for r in picked[start : start + _BATCH]]
            texts += [
                str(text).casefold()
                for (text,) in db.execute(
                    f"SELECT {self.text} FROM {self.table} WHERE {self.row} IN ({','.join('?' * len(part))})",
                    part,
                )
            ]
        return texts

    def check(self, needles: Sequence[str], rows: IntArray) -> IntArray:
        """Those of `rows` whose text contains every one of `needles` (sorted), read and
        tested one by one."""
        return self._check([needle.casefold() for needle in needles], np.sort(rows))

    def _match(self, expressions: Sequence[str]) -> IntArray:
        db = self.reader()
        found = [
            np.fromiter(
                (r for (r,) in db.execute(f"SELECT rowid FROM {self.fts} WHERE {self.fts} MATCH ?", (e,))),
                dtype=np.int64,
            )
            for e in expressions
        ]
        rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        return np.unique(rows) if len(expressions) > 1 else np.sort(rows)

    def _short(self, wanted: str) -> IntArray | None:
        """Rows holding a trigram that starts with a 1-2 character needle; None: too many."""
        last = "\U0010ffff" * (3 - len(wanted))
        terms = [
            term
            for (term,) in self.reader().execute(
                f"SELECT term FROM {self.fts}_vocab WHERE term >= ? AND term <= ? LIMIT ?",
                (wanted, wanted + last, MAX_SHORT_TERMS + 1),
            )
            if term.startswith(wanted)
        ]
        if len(terms) > MAX_SHORT_TERMS:
            return None
        return self._match(
            [" OR ".join(_phrase(t) for t in terms[i : i + _BATCH]) for i in range(0, len(terms), _BATCH)]
        )

    def _check(self, wanted: Sequence[str], within: IntArray | None) -> IntArray:
        """Read the texts and test each for every needle (the exact definition)."""
        db = self.reader()
        select = f"SELECT {self.row}, {self.text} FROM {self.table}"
        if within is None:
            batches: Iterable[Iterable[tuple[int, str]]] = [db.execute(select)]
        else:
            batches = (
                db.execute(
                    f"{select} WHERE {self.row} IN ({','.join('?' * len(part))})", [int(r) for r in part]
                )
                for part in (within[i : i + _BATCH] for i in range(0, len(within), _BATCH))
            )
        hits = [row for batch in batches for row, text in batch if _holds(text.casefold(), wanted)]
        return np.sort(np.asarray(hits, dtype=np.int64))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _holds(text: str, needles: Sequence[str]) -> bool:
    return all(needle in text for needle in needles)


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
