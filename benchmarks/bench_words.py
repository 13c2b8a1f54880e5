"""Whole words: how many tokens of extracted PDF text are not words, before and after repair.

For the English born-digital PDFs of the shared corpus (MANIFEST categories text,
multicolumn and large, without the German GeoTopo, the two "lorem ipsum" files and
TAMReview, whose text layer is garbage on 21 of 23 pages), each page's raw text from pdfium and
from pypdf is turned into page text twice: as before (`clean_text`, CJK wraps joined)
and as now (`ingest.pdf._page_text`: line-end hyphenation and split words joined first).

  non-words   the share of tokens (runs of two or more ASCII letters, lower case or
              capitalised; acronyms and MixedCase names left out) that are not in the
              word list (Debian's wamerican)
  agreement   pdfium and pypdf, page by page: Dice overlap of their multisets of
              lower-cased tokens, 2|A∩B| / (|A|+|B|), over all pages; the two libraries
              split words differently, so a repair that finds the real words raises it

It also prints a sample of the joins made, to check by eye that real words were not
glued together.

    python benchmarks/bench_words.py [--pdfs DIR]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SHARED, table
from searchapp.ingest.pdf import _join_cjk_wraps, _page_text, _read_pdfium, _read_pypdf
from searchapp.ingest.text import clean_text
from searchapp.ingest.types import Limits
from searchapp.ingest.words import WordList, system_words

DEFAULT_PDFS = SHARED / "eval" / "pdfs"
CATEGORIES = ("text", "multicolumn", "large")
# German; Latin placeholder text ("lorem ipsum"); a text layer that is mostly garbage.
LEFT_OUT = {
    "pysample__GeoTopo-komprimiert.pdf",
    "pysample__002-trivial-libre-office-writer.pdf",
    "pysample__multicolumn.pdf",
    "pdfjs__TAMReview.pdf",
}
_TOKEN_RE = re.compile(r"(?<![A-Za-z])[A-Za-z][a-z]+(?![A-Za-z])")


def before(raw: str) -> str:
    return _join_cjk_wraps(clean_text(raw))


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def non_words(text: str, words: WordList) -> tuple[int, int]:
    found = tokens(text)
    return sum(1 for t in found if t not in words), len(found)


def dice(a: str, b: str) -> tuple[int, int]:
    ca, cb = Counter(t.lower() for t in tokens(a)), Counter(t.lower() for t in tokens(b))
    return 2 * sum((ca & cb).values()), sum(ca.values()) + sum(cb.values())


def english_files(pdfs: Path) -> list[str]:
    with (pdfs / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [r["file"] for r in rows if r["category"] in CATEGORIES and r["file"] not in LEFT_OUT]


def page_texts(data: bytes) -> tuple[list[str], list[str]]:
    """Raw page texts from pdfium and pypdf (pages either cannot read become '')."""
    limits = Limits()
    _, pdfium_pages = _read_pdfium(data, limits)
    _, pypdf_pages = _read_pypdf(data, limits)
    return [p or "" for p in pdfium_pages], [p or "" for p in pypdf_pages]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pdfs", type=Path, default=DEFAULT_PDFS)
    args = parser.parse_args()
    words = system_words()
    if not words:
        sys.exit("no word list: apt-get install wamerican")
    rows = []
    totals: Counter[str] = Counter()
    joins: list[str] = []
    for name in english_files(args.pdfs):
        pdfium_raw, pypdf_raw = page_texts((args.pdfs / name).read_bytes())
        counts: Counter[str] = Counter()
        for fium, ppdf in zip(pdfium_raw, pypdf_raw, strict=False):
            for stage, make in (("before", before), ("after", _page_text)):
                a, b = make(fium), make(ppdf)
                for lib, text in (("pdfium", a), ("pypdf", b)):
                    bad, total = non_words(text, words)
                    counts[f"{lib} {stage} bad"] += bad
                    counts[f"{lib} {stage} all"] += total
                common, size = dice(a, b)
                counts[f"{stage} common"] += common
                counts[f"{stage} size"] += size
            old, new = set(tokens(before(fium))), set(tokens(_page_text(fium)))
            joins.extend(sorted(new - old))
        totals.update(counts)
        rows.append(_row(name, counts))
    rows.append(_row("**all**", totals))
    print(f"word list: {len(words.lower):,} lower-case words and {len(words.names):,} names")
    print()
    print(
        table(
            [
                "file",
                "pdfium non-words before",
                "after",
                "pypdf non-words before",
                "after",
                "agreement before",
                "after",
            ],
            rows,
        )
    )
    print()
    random.seed(17)
    print(f"{len(joins)} distinct new tokens on pdfium pages; a sample:")
    print(", ".join(random.sample(joins, min(40, len(joins)))))


def _row(name: str, c: Counter[str]) -> list[str]:
    def share(key: str) -> str:
        return f"{c[key + ' bad'] / max(1, c[key + ' all']):.2%}"

    return [
        name,
        share("pdfium before"),
        share("pdfium after"),
        share("pypdf before"),
        share("pypdf after"),
        f"{c['before common'] / max(1, c['before size']):.2%}",
        f"{c['after common'] / max(1, c['after size']):.2%}",
    ]


if __name__ == "__main__":
    main()
