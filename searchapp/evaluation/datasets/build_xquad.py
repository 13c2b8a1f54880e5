"""Build BEIR-format retrieval sets from XQuAD (standard library only).

    python searchapp/evaluation/datasets/build_xquad.py [--repo PATH] [--commit SHA] [--out DIR] [LANG ...]

Reads ``xquad.<lang>.json`` from a clone of github.com/google-deepmind/xquad at a pinned
commit (``git show COMMIT:xquad.<lang>.json``) and writes ``<out>/xquad-<lang>/``:

- ``corpus.jsonl``: one document per paragraph (240), ``_id`` ``p000``..``p239`` in file
  order (the same id names the same paragraph in every language), ``title`` empty (XQuAD's
  article titles are English in every language and would give an English model a
  crutch), ``text`` the paragraph with outer whitespace stripped, ``metadata.article``
  the SQuAD article name.
- ``queries.jsonl``: the questions that pass the checks below, ``_id`` the SQuAD id.
- ``qrels/test.tsv``: ``query-id<TAB>corpus-id<TAB>score`` after that header; each
  question judges its own paragraph 1 and nothing else.

A question is kept only if (1) its text is not blank, (2) it has an answer whose text is
not blank and occurs verbatim in its paragraph, and (3) no other question in the same
language has the same text (after whitespace folding) but another paragraph. The counts
of each check are printed as JSON and written to ``<out>/xquad-build.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = "/work/.mirror/google-deepmind+xquad/repo"
COMMIT = "7d30520c717524000f0d9d2f9c10a069acd9d285"
LANGUAGES = ("ar", "de", "en", "hi", "ru", "zh")


def load_squad(repo: str, commit: str, lang: str) -> dict[str, Any]:
    raw = subprocess.run(
        ["git", "-C", repo, "show", f"{commit}:xquad.{lang}.json"],
        check=True,
        capture_output=True,
    ).stdout
    data: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return data


def fold(text: str) -> str:
    return " ".join(text.split())


def build(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]], dict[str, int]]:
    """(corpus, kept queries with their paragraph id, counts) for one language."""
    corpus: list[dict[str, Any]] = []
    candidates: list[dict[str, str]] = []
    counts = {
        "paragraphs": 0,
        "questions": 0,
        "dropped_blank_question": 0,
        "dropped_answer_not_in_paragraph": 0,
        "answer_at_given_offset": 0,
        "dropped_duplicate_question": 0,
    }
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            doc_id = f"p{len(corpus):03d}"
            context = paragraph["context"]
            text = context.strip()
            corpus.append(
                {"_id": doc_id, "title": "", "text": text, "metadata": {"article": article["title"]}}
            )
            for qa in paragraph["qas"]:
                counts["questions"] += 1
                question = fold(qa["question"])
                if not question:
                    counts["dropped_blank_question"] += 1
                    continue
                answers = [a for a in qa["answers"] if a["text"].strip() and a["text"].strip() in text]
                if not answers:
                    counts["dropped_answer_not_in_paragraph"] += 1
                    continue
                first = qa["answers"][0]
                start = int(first["answer_start"])
                if context[start : start + len(first["text"])] == first["text"]:
                    counts["answer_at_given_offset"] += 1
                candidates.append({"_id": str(qa["id"]), "text": question, "doc": doc_id})
    counts["paragraphs"] = len(corpus)
    by_text: dict[str, set[str]] = {}
    for query in candidates:
        by_text.setdefault(query["text"].casefold(), set()).add(query["doc"])
    queries = []
    for query in candidates:
        if len(by_text[query["text"].casefold()]) > 1:
            counts["dropped_duplicate_question"] += 1
            continue
        queries.append(query)
    counts["queries_kept"] = len(queries)
    return corpus, queries, counts


def write(out: Path, corpus: list[dict[str, Any]], queries: list[dict[str, str]]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for doc in corpus:
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for query in queries:
            handle.write(json.dumps({"_id": query["_id"], "text": query["text"]}, ensure_ascii=False) + "\n")
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query in queries:
            handle.write(f"{query['_id']}\t{query['doc']}\t1\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES))
    parser.add_argument("--repo", default=REPO, help="a git clone (or bare repo) of google-deepmind/xquad")
    parser.add_argument("--commit", default=COMMIT)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"source": "github.com/google-deepmind/xquad", "commit": args.commit}
    reference: list[str] | None = None
    for lang in args.languages:
        corpus, queries, counts = build(load_squad(args.repo, args.commit, lang))
        # XQuAD is parallel: every language must list the same paragraphs' questions in order.
        order = [q["doc"] for q in queries]
        ids = [c["metadata"]["article"] for c in corpus]
        if reference is None:
            reference = ids
        elif ids != reference:
            print(
                f"error: xquad.{lang}.json does not have the paragraphs in the same articles", file=sys.stderr
            )
            return 1
        counts["distinct_paragraphs_judged"] = len(set(order))
        write(args.out / f"xquad-{lang}", corpus, queries)
        report[lang] = counts
    (args.out / "xquad-build.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
