"""`--sample N --seed S`: a seeded slice of a BEIR set (queries, their judged documents, distractors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from searchapp.cli.main import app
from searchapp.config import Settings
from searchapp.errors import EvalDataError
from searchapp.evaluation import load_beir, run_evaluation, sample_dataset
from searchapp.evaluation.sampling import DISTRACTORS_PER_JUDGED
from searchapp.evaluation.scratch import STATE_FILE, read_state
from tests.conftest import ROOT, make_settings

WORDS = "amber basil cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon".split()


def write_big_dataset(root: Path, documents: int = 60, queries: int = 12) -> Path:
    """Document i talks about two words; query j judges documents 3j (grade 2) and 3j+1 (grade 0)."""
    (root / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": f"d{i}", "title": "", "text": f"{WORDS[i % 12]} {WORDS[(i * 5 + 1) % 12]} item {i}"}
        for i in range(documents)
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    lines = [json.dumps({"_id": f"q{j}", "text": f"{WORDS[j % 12]} item {3 * j}"}) for j in range(queries)]
    (root / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    qrels = ["query-id\tcorpus-id\tscore"]
    for j in range(queries):
        qrels += [f"q{j}\td{3 * j}\t2", f"q{j}\td{3 * j + 1}\t0"]
    qrels.append("q0\tmissing-doc\t1")
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def big(tmp_path: Path) -> Path:
    return write_big_dataset(tmp_path / "big")


def test_sample_keeps_the_drawn_queries_their_judged_documents_and_four_distractors_each(big: Path) -> None:
    data = load_beir(big)
    sample = sample_dataset(data, 3, seed=7)
    assert len(sample.queries) == 3 and set(sample.queries) <= set(data.queries)
    assert list(sample.queries) == [q for q in data.queries if q in sample.queries]  # file order
    judged = {d for q in sample.queries for d in data.qrels[q] if d in data.corpus}
    assert len(judged) == 6  # grade 0 judgements are kept: they are the hard negatives
    assert judged <= set(sample.corpus)
    assert len(sample.corpus) == len(judged) * (1 + DISTRACTORS_PER_JUDGED) == 30
    assert list(sample.corpus) == [d for d in data.corpus if d in sample.corpus]
    assert sample.qrels == {q: data.qrels[q] for q in sample.queries}
    assert sample.sample is not None
    assert (sample.sample.queries, sample.sample.seed) == (3, 7)
    assert (sample.sample.judged_documents, sample.sample.distractors) == (6, 24)
    assert (sample.sample.of_queries, sample.sample.of_documents) == (12, 60)
    assert sample.label == "big-s3-seed7" and data.label == "big"


def test_same_seed_same_sample_other_seed_other_sample(big: Path) -> None:
    data = load_beir(big)
    first, again = sample_dataset(data, 4, seed=1), sample_dataset(data, 4, seed=1)
    assert (list(first.queries), list(first.corpus)) == (list(again.queries), list(again.corpus))
    others = {tuple(sample_dataset(data, 4, seed=s).queries) for s in range(2, 8)}
    assert any(drawn != tuple(first.queries) for drawn in others)


def test_distractors_are_capped_by_the_corpus_and_a_large_n_takes_every_query(big: Path) -> None:
    data = load_beir(big)
    sample = sample_dataset(data, 100, seed=0)
    assert list(sample.queries) == list(data.queries)
    assert sample.corpus == data.corpus  # 24 judged, 36 others < 96 wanted: all of them
    assert sample.sample is not None and sample.sample.distractors == 36
    assert sample.unknown_qrel_docs == 1  # q0's judgement of a document not in the corpus


def test_bad_sample_sizes_are_clear_errors(big: Path) -> None:
    data = load_beir(big)
    with pytest.raises(EvalDataError, match="at least 1 query; got 0"):
        sample_dataset(data, 0)


def test_sampled_run_uses_its_own_scratch_index(big: Path, tmp_path: Path) -> None:
    settings: Settings = make_settings(tmp_path, model="hash:64")
    root = tmp_path / "eval"
    full = run_evaluation(big, settings, data_dir=root, modes=["dense"])
    sampled = run_evaluation(
        sample_dataset(load_beir(big), 3, seed=7), settings, data_dir=root, modes=["dense"]
    )
    assert full.index.collection == "eval-big" and sampled.index.collection == "eval-big-s3-seed7"
    assert (full.index.documents, sampled.index.documents) == (60, 30)
    assert sampled.queries == 3 and sampled.corpus_documents == 30
    assert sampled.to_dict()["sample"]["distractors"] == 24 and full.to_dict()["sample"] is None
    # The full set's index is untouched by the sample, and reused afterwards.
    again = run_evaluation(big, settings, data_dir=root, modes=["dense"])
    assert again.index.reused and again.index.documents == 60
    state = read_state(root / "eval-big-s3-seed7")
    assert state is not None and state.complete and state.documents == 30


def test_cli_several_datasets_one_table_and_a_json_list(big: Path, tmp_path: Path) -> None:
    from tests.eval_data import write_dataset

    tiny = write_dataset(tmp_path / "tiny")
    args = ["eval", str(tiny), str(big), "--model", "hash:64", "--data-dir", str(tmp_path / "eval")]
    env = {"SEARCHAPP_WORKERS": "1", "SEARCHAPP_MIN_FREE_MB": "1"}
    result = CliRunner().invoke(app, [*args, "--mode", "dense"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tiny (test): 4 queries") and lines[1].startswith("big (test): 12 queries")
    assert lines[2].split()[:3] == ["dataset", "mode", "nDCG@10"]
    assert [line.split()[:2] for line in lines[3:]] == [["tiny", "dense"], ["big", "dense"]]
    assert lines[3].split()[2] == "0.9400"  # the hand-computed score of the tiny set

    result = CliRunner().invoke(
        app, [*args, "--mode", "dense", "--json", "--sample", "3", "--seed", "7"], env=env
    )
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert [r["dataset"] for r in reports] == ["tiny", "big"]
    assert [r["queries"] for r in reports] == [3, 3]
    assert reports[1]["sample"] == {
        "queries": 3,
        "seed": 7,
        "judged_documents": 6,
        "distractors": 24,
        "of_queries": 12,
        "of_documents": 60,
    }
    assert (tmp_path / "eval" / "eval-big-s3-seed7" / STATE_FILE).is_file()


def test_cli_checks_every_dataset_before_building_and_refuses_one_collection_for_several(
    big: Path, tmp_path: Path
) -> None:
    from tests.eval_data import write_dataset

    broken = write_dataset(tmp_path / "broken")
    (broken / "queries.jsonl").write_text("not json\n", encoding="utf-8")
    env = {"SEARCHAPP_WORKERS": "1", "SEARCHAPP_MIN_FREE_MB": "1"}
    base = ["eval", "--model", "hash:64", "--data-dir", str(tmp_path / "eval")]
    result = CliRunner().invoke(app, [*base, str(big), str(broken)], env=env)
    assert result.exit_code == 3 and "queries.jsonl:1: expected one JSON object per line" in result.stderr
    assert not (tmp_path / "eval").exists()  # the good first set was not built either
    result = CliRunner().invoke(app, [*base, str(big), str(big), "--collection", "mine"], env=env)
    assert result.exit_code == 2 and "cannot be used with several datasets" in result.stderr


@pytest.mark.model
def test_sampled_arabic_xquad_keyword_beats_the_blind_model(tmp_path: Path) -> None:
    """The committed Arabic set, sampled, with the bundled model: BM25 reads Arabic, MiniLM cannot."""
    data = sample_dataset(load_beir(ROOT / "searchapp" / "evaluation" / "datasets" / "xquad-ar"), 20, seed=0)
    assert data.sample is not None and len(data.corpus) == data.sample.judged_documents * 5
    report = run_evaluation(
        data, make_settings(tmp_path), data_dir=tmp_path / "eval", modes=["dense", "keyword"]
    )
    dense, keyword = report.mode("dense").ndcg, report.mode("keyword").ndcg
    assert keyword > 0.6 and keyword > dense + 0.2, (dense, keyword)
