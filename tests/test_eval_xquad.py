"""The committed XQuAD retrieval sets and the checks of the script that builds them."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest

from searchapp.evaluation import load_beir
from tests.conftest import ROOT

DATASETS = ROOT / "searchapp" / "evaluation" / "datasets"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_xquad", DATASETS / "build_xquad.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _qa(qid: str, question: str, answer: str, start: int) -> dict[str, Any]:
    return {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": start}]}


def test_build_keeps_only_checked_questions_and_counts_the_rest() -> None:
    squad = {
        "data": [
            {
                "title": "Rivers",
                "paragraphs": [
                    {
                        "context": " The Nile flows north into the Mediterranean. ",
                        "qas": [
                            _qa("q1", "Where does the  Nile flow?", "north", 16),
                            _qa("q2", "What sea?", "Black Sea", 0),  # not in the paragraph
                            _qa("q3", "   ", "Nile", 5),  # blank question
                            _qa("q4", "Which river?", "Nile", 3),  # verbatim, but at another offset
                        ],
                    },
                    {
                        "context": "The Amazon is the largest river by discharge.",
                        "qas": [_qa("q5", "Which river?", "Amazon", 4)],  # same text, other paragraph
                    },
                ],
            }
        ]
    }
    corpus, queries, counts = _builder().build(squad)
    assert [d["_id"] for d in corpus] == ["p000", "p001"]
    assert corpus[0]["text"] == "The Nile flows north into the Mediterranean." and corpus[0]["title"] == ""
    assert corpus[0]["metadata"] == {"article": "Rivers"}
    assert queries == [{"_id": "q1", "text": "Where does the Nile flow?", "doc": "p000"}]
    assert counts == {
        "paragraphs": 2,
        "questions": 5,
        "dropped_blank_question": 1,
        "dropped_answer_not_in_paragraph": 1,
        "answer_at_given_offset": 2,
        "dropped_duplicate_question": 2,
        "queries_kept": 1,
    }


@pytest.mark.parametrize("lang", ["ar", "de", "en", "hi", "ru", "th", "zh"])
def test_committed_sets_load_and_judge_one_paragraph_per_question(lang: str) -> None:
    data = load_beir(DATASETS / f"xquad-{lang}")
    assert len(data.corpus) == 240 and len(data.queries) == 1190
    assert all(len(judged) == 1 and set(judged.values()) == {1} for judged in data.qrels.values())
    assert {d for judged in data.qrels.values() for d in judged} == set(data.corpus)
    assert data.unknown_qrel_docs == 0


def test_the_languages_are_parallel() -> None:
    english = load_beir(DATASETS / "xquad-en")
    arabic = load_beir(DATASETS / "xquad-ar")
    assert english.qrels == arabic.qrels  # same question ids judge the same paragraph ids
    assert english.corpus["p000"].text != arabic.corpus["p000"].text
