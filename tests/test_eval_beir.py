"""The BEIR loader: what it accepts, and the exact error for each kind of broken file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from searchapp.errors import EvalDataError
from searchapp.evaluation.beir import load_beir

CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr."},
    {"_id": "d2", "text": "Dogs bark."},  # no title
    {"_id": 3, "title": None, "text": "Rockets fly."},  # numeric id, null title
]
QUERIES = [
    {"_id": "q1", "text": "purring"},
    {"_id": "q2", "text": "unjudged"},
    {"_id": 3, "text": "flying"},
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n3\t3\t1\n3\tmissing-doc\t1\n"


def make_dataset(
    root: Path,
    *,
    corpus: str | None = None,
    queries: str | None = None,
    qrels: str | None = QRELS,
    split: str = "test",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text(
        corpus if corpus is not None else "".join(json.dumps(d) + "\n" for d in CORPUS), encoding="utf-8"
    )
    (root / "queries.jsonl").write_text(
        queries if queries is not None else "".join(json.dumps(q) + "\n" for q in QUERIES), encoding="utf-8"
    )
    if qrels is not None:
        (root / "qrels").mkdir(exist_ok=True)
        (root / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return root


def test_loads_a_valid_dataset(tmp_path: Path) -> None:
    data = load_beir(make_dataset(tmp_path / "tiny"))
    assert data.name == "tiny" and data.split == "test"
    assert list(data.corpus) == ["d1", "d2", "3"]  # ids as strings, file order
    assert data.corpus["d2"].title == "" and data.corpus["3"].title == ""
    assert data.corpus["d1"].title == "Cats" and data.corpus["d1"].text == "Cats purr."
    # Only judged queries, in file order; the numeric id matches the qrels' "3".
    assert data.queries == {"q1": "purring", "3": "flying"}
    assert data.qrels == {"q1": {"d1": 2, "d2": 0}, "3": {"3": 1, "missing-doc": 1}}
    assert data.unknown_qrel_docs == 1
    assert data.corpus_file == tmp_path / "tiny" / "corpus.jsonl"


def test_qrels_without_header_blank_lines_and_crlf_are_accepted(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d", qrels="q1\td1\t1\r\n\r\n3\t3\t2\r\n")
    assert load_beir(root).qrels == {"q1": {"d1": 1}, "3": {"3": 2}}


def test_other_split(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d", qrels="query-id\tcorpus-id\tscore\nq2\td2\t1\n", split="dev")
    data = load_beir(root, "dev")
    assert data.queries == {"q2": "unjudged"} and data.split == "dev"


def _error(root: Path, split: str = "test") -> str:
    with pytest.raises(EvalDataError) as info:
        load_beir(root, split)
    return str(info.value)


def test_missing_directory_and_files(tmp_path: Path) -> None:
    assert "is not a directory" in _error(tmp_path / "nowhere")
    root = make_dataset(tmp_path / "d")
    (root / "queries.jsonl").unlink()
    message = _error(root)
    assert f"{root / 'queries.jsonl'} is missing" in message
    assert "corpus.jsonl, queries.jsonl and qrels/<split>.tsv" in message


def test_missing_split_names_the_available_ones(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d")
    message = _error(root, "train")
    assert "qrels/train.tsv is missing" in message
    assert "available splits: test" in message


@pytest.mark.parametrize(
    ("corpus", "expected"),
    [
        (
            '{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": "broken\n',
            r"corpus.jsonl:2: expected one JSON object per line; got '\{\"_id\": \"d2\", \"text\": \"broken' "
            r"\(Unterminated string",
        ),
        ('["d1", "text"]\n', r"corpus.jsonl:1: expected a JSON object; got list"),
        (
            '{"title": "t", "text": "x"}\n',
            r'corpus.jsonl:1: expected "_id" to be a non-empty string; got None',
        ),
        ('{"_id": "d1"}\n', r'corpus.jsonl:1: expected "text" to be a string; got nothing'),
        ('{"_id": "d1", "text": 5}\n', r'corpus.jsonl:1: expected "text" to be a string; got int 5'),
        (
            '{"_id": "d1", "title": ["a"], "text": "x"}\n',
            r"corpus.jsonl:1: expected \"title\" to be a string; got list \['a'\]",
        ),
        (
            '{"_id": "d1", "text": "x"}\n\n{"_id": "d1", "text": "y"}\n',
            r"corpus.jsonl:3: duplicate _id 'd1'",
        ),
        ("\n\n", r"corpus.jsonl has no documents"),
    ],
)
def test_corpus_errors_name_file_line_expected_and_got(tmp_path: Path, corpus: str, expected: str) -> None:
    assert re.search(expected, _error(make_dataset(tmp_path / "d", corpus=corpus)))


def test_non_utf8_line_is_named(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "d")
    with (root / "corpus.jsonl").open("ab") as handle:
        handle.write(b'{"_id": "d9", "text": "caf\xe9"}\n')
    assert re.search(r"corpus.jsonl:4: expected UTF-8 text; invalid continuation byte", _error(root))


@pytest.mark.parametrize(
    ("qrels", "expected"),
    [
        (
            "query-id\tcorpus-id\tscore\nq1\td1\n",
            r"test.tsv:2: expected 3 tab-separated fields .* got 2: 'q1\\td1'",
        ),
        ("q1\td1\t1\textra\n", r"test.tsv:1: expected 3 tab-separated fields .* got 4"),
        ("q1\td1\t1.5\n", r"test.tsv:1: expected the score to be an integer >= 0; got '1.5'"),
        ("q\tc\tscore\nq1\td1\t-1\n", r"test.tsv:2: expected the score to be an integer >= 0; got '-1'"),
        (
            "q1\td1\t1\nq1\td1\t2\n",
            r"test.tsv:2: query 'q1' and document 'd1' are judged twice \(also on line 1\)",
        ),
        ("query-id\tcorpus-id\tscore\n", r"test.tsv has no judgements"),
        (
            "q1\td1\t1\nq-x\td1\t1\nq-y\td2\t1\n",
            r"test.tsv:2: query 'q-x' is judged but not in queries.jsonl; 2 judged queries are missing "
            r"from it \('q-x', 'q-y'\)",
        ),
    ],
)
def test_qrels_errors_name_file_line_expected_and_got(tmp_path: Path, qrels: str, expected: str) -> None:
    assert re.search(expected, _error(make_dataset(tmp_path / "d", qrels=qrels)))


def test_empty_text_of_a_judged_query_is_an_error(tmp_path: Path) -> None:
    queries = '{"_id": "q1", "text": "ok"}\n{"_id": "3", "text": "  "}\n'
    message = _error(make_dataset(tmp_path / "d", queries=queries))
    assert re.search(r"queries.jsonl:2: query '3' has empty text", message)
