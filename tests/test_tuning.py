"""Tuning: examples from every source, hard negatives with a guard, training that moves the labelled
passage up, and a gate that refuses a tune that hurts (nothing changes then)."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import pytest

from searchapp.embedding.embedders import SentenceTransformerEmbedder
from searchapp.embedding.models import describe_model, resolve_model
from searchapp.errors import EvalDataError, ModelError
from searchapp.feedback import FeedbackLog
from searchapp.ingest import Ingestor, ingest_paths
from searchapp.ingest.types import SourceFile
from searchapp.library import Library
from searchapp.library.versions import ModelVersions
from searchapp.splits import split_by_query
from searchapp.tuning.examples import Example, from_feedback, from_structure
from searchapp.tuning.gate import check
from searchapp.tuning.labels import read_labels
from searchapp.tuning.measure import ModeDelta, SetComparison
from searchapp.tuning.mining import mine_negatives
from searchapp.tuning.run import TuneRequest, tune
from searchapp.tuning.train import TrainConfig, TrainResult, train
from searchapp.tuning.validation import Validation, evaluator
from tests.conftest import ROOT, write

CHECK = ROOT / "searchapp" / "tuning" / "checkset" / "xquad-en-check"


def test_split_by_query_is_seeded_disjoint_and_stable() -> None:
    keys = [f"q{i}" for i in range(100)]
    rest, held = split_by_query(keys, 0.3, seed=0)
    assert len(held) == 30 and not rest & held and rest | held == set(keys)
    assert split_by_query(list(reversed(keys)), 0.3, seed=0) == (rest, held)
    assert split_by_query(keys, 0.3, seed=1)[1] != held
    _, more = split_by_query([*keys, "q100"], 0.3, seed=0)
    assert len(held - more) <= 1  # adding a query moves at most the boundary


def test_labels_from_qrels_and_csv_with_clear_errors(tmp_path: Path) -> None:
    write(tmp_path / "queries.jsonl", '{"_id": "1", "text": "first"}\n{"_id": "2", "text": "second"}\n')
    write(tmp_path / "qrels.tsv", "query-id\tcorpus-id\tscore\n1\tdocA\t1\n1\tdocB\t0\n2\tdocC\t2\n")
    found = read_labels(tmp_path / "qrels.tsv")
    assert [(q.text, [(la.target, la.grade) for la in q.labels]) for q in found] == [
        ("first", [("docA", 1), ("docB", 0)]),
        ("second", [("docC", 2)]),
    ]
    assert [la.target for la in found[0].relevant] == ["docA"]
    write(tmp_path / "labels.csv", "query,passage\nwhere is it,abc:1\nwhere is it,def:2\n")
    (csv_query,) = read_labels(tmp_path / "labels.csv")
    assert csv_query.text == "where is it" and {la.kind for la in csv_query.labels} == {"passage"}
    write(tmp_path / "bad.csv", "question,answer\nx,y\n")
    with pytest.raises(EvalDataError, match="'query' column"):
        read_labels(tmp_path / "bad.csv")
    write(tmp_path / "bad.tsv", "query-id\tcorpus-id\tscore\n1\tdocA\tlots\n")
    with pytest.raises(EvalDataError, match=r"bad\.tsv:2"):
        read_labels(tmp_path / "bad.tsv", tmp_path / "queries.jsonl")


def _delta(name: str, base: float, tuned: float) -> ModeDelta:
    return ModeDelta(name, base, tuned, 0.5, 0.5)


def test_the_gate_needs_a_held_out_gain_and_no_loss_on_the_check_set() -> None:
    held = SetComparison("lib", 50, (_delta("adaptive", 0.50, 0.52), _delta("dense", 0.40, 0.45)))
    fine = SetComparison("xquad", 300, (_delta("adaptive", 0.90, 0.897),))
    worse = SetComparison("dbpedia", 10, (_delta("adaptive", 0.60, 0.59),))
    assert check(held, [fine], "adaptive").passed
    refused = check(held, [fine, worse], "adaptive")
    assert not refused.passed and "dbpedia lost 0.0100" in refused.reasons[0]
    small = SetComparison("lib", 50, (_delta("adaptive", 0.50, 0.505),))
    assert "at least +0.01" in check(small, [fine], "adaptive").reasons[0]
    assert not check(held, [], "adaptive", checked=False).passed


def test_feedback_and_structure_examples(hash_library: Library, tmp_path: Path) -> None:
    write(
        tmp_path / "docs" / "guide.md",
        "# Travel policy\n\nClaim expenses within thirty days.\n\n"
        "## Receipts\n\nKeep every receipt and scan it into the portal the same week.\n",
    )
    write(tmp_path / "docs" / "notes.txt", "Nothing with a heading here, just a plain note about parking.")
    ingest_paths(hash_library, [tmp_path / "docs"])
    log = FeedbackLog.of(hash_library)
    response = hash_library.search("scan receipts", k=3)
    log.add("scan receipts", "good", hit=response.hits[0], mode="adaptive", user="a")
    log.add("scan receipts", "bad", hit=response.hits[1], mode="adaptive", user="a")
    log.add("car park", "none", shown=response.hits, mode="adaptive")
    (example,) = from_feedback(log.list())
    assert example.positive == response.hits[0].text and example.negatives == (response.hits[1].text,)
    pairs = {e.query: e.positive for e in from_structure(hash_library)}
    assert "Receipts" in pairs and pairs["Receipts"].startswith("Keep every receipt")
    assert all(not q.startswith("notes") for q in pairs)  # a file name is not a title


def test_hard_negatives_skip_the_positive_document_and_what_the_model_likes_as_much(
    hash_library: Library, tmp_path: Path
) -> None:
    for index in range(8):
        write(
            tmp_path / "docs" / f"d{index}.txt", f"River crossing number {index} with a ferry and a bridge."
        )
    write(tmp_path / "docs" / "target.txt", "The ferry timetable for the river crossing changes in winter.")
    ingest_paths(hash_library, [tmp_path / "docs"])
    target = hash_library.find_by_source("target.txt")
    assert target is not None
    chunk = hash_library.search("ferry timetable winter", k=1).hits[0]
    example = Example("q", "ferry timetable winter", chunk.text, chunk.chunk_id, target.doc_id)
    (mined,), stats = mine_negatives(hash_library, [example], per_example=2)
    assert mined.negatives and chunk.text not in mined.negatives
    assert stats.guarded >= 1  # passages the model puts as close as the positive are never negatives
    query = hash_library.embedder.embed_query(example.query)
    floor = float(np.dot(query, hash_library.embedder.embed_query(chunk.text)))
    for text in mined.negatives:
        assert float(np.dot(query, hash_library.embedder.embed_query(text))) < floor + 1e-6
    assert stats.with_negative == 1


def test_training_columns_carry_every_negative_and_borrow_missing_ones() -> None:
    from searchapp.tuning.trainer_run import _columns

    one = [Example("a", "qa", "pa", negatives=("na",)), Example("b", "qb", "pb")]
    assert _columns(one, seed=0) == {
        "anchor": ["qa", "qb"],
        "positive": ["pa", "pb"],
        "negative": ["na", "na"],  # qb borrows from the pool, never its own positive
    }
    three = [
        Example("a", "qa", "pa", negatives=("n1", "n2", "n3")),
        Example("b", "qb", "pb", negatives=("m1",)),
    ]
    columns = _columns(three, seed=0)
    assert list(columns) == ["anchor", "positive", "negative_1", "negative_2", "negative_3"]
    assert [columns[f"negative_{i}"][0] for i in (1, 2, 3)] == ["n1", "n2", "n3"]
    assert columns["negative_1"][1] == "m1"
    assert all(columns[f"negative_{i}"][1] in {"n1", "n2", "n3", "m1"} for i in (2, 3))


def test_the_step_budget_gives_few_labels_more_epochs_and_many_fewer() -> None:
    from searchapp.tuning.train import planned_epochs

    config = TrainConfig()  # at most 6 epochs, 48 steps of 16 on a CPU
    assert planned_epochs(config, 120, "cpu") == 6  # 8 steps an epoch
    assert planned_epochs(config, 237, "cpu") == 3  # 15: the 300-query case, 45 steps
    assert planned_epochs(config, 2000, "cpu") == 1  # never none
    assert planned_epochs(config, 2000, "cuda") == 6  # a GPU is not held to the CPU's budget
    assert planned_epochs(TrainConfig(epochs=4, step_budget=0), 2000, "cpu") == 4
    assert (TrainConfig().rate, TrainConfig(lora=True).rate, TrainConfig(learning_rate=1e-4).rate) == (
        3e-5,
        5e-4,
        1e-4,
    )  # LoRA's few weights take a larger step (docs/quality.md)
    assert TrainConfig().blend == 1.0  # measured blended, not adopted (docs/quality.md)
    for share in (0.0, 1.5):
        with pytest.raises(ModelError, match=f"between 0 and 1.*got {share}"):
            TrainConfig(blend=share)
    assert TrainConfig().anchor == 0.0  # measured anchored, not adopted (docs/quality.md)
    with pytest.raises(ModelError, match="weight of 0 or more on the mnrl loss; got -1"):
        TrainConfig(anchor=-1)
    with pytest.raises(ModelError, match=r"got 1\.0 with 'gist'"):
        TrainConfig(anchor=1.0, loss="gist")


def test_the_cli_plans_asked_epochs_as_asked_and_refits_only_when_told_otherwise() -> None:
    from searchapp.cli.tuning import _train_config

    default = _train_config("mnrl", False, 0, None, None)
    assert default == TrainConfig()
    asked = _train_config("gist", True, 3, 4, False)
    assert (asked.loss, asked.lora, asked.seed, asked.epochs, asked.step_budget) == ("gist", True, 3, 4, 0)
    assert asked.refit is False and _train_config("mnrl", False, 0, None, True).refit is True
    assert _train_config("mnrl", False, 0, None, not TrainConfig().refit).refit != TrainConfig().refit
    blended = _train_config("mnrl", False, 0, None, None, 0.6, 1e-4)
    assert (blended.blend, blended.rate) == (0.6, 1e-4)  # the blended recipe of docs/quality.md


# Short passages, twelve with an internal code name the model cannot know, six without (filler).
POLICIES = (
    ("operation bluefin", "Salaries move to the new payroll provider in March and are paid on the 25th."),
    ("project quokka", "Every laptop must use full disk encryption and lock its screen after five minutes."),
    ("the zephyr rule", "Travel expenses are refunded only with receipts, within thirty days of the trip."),
    ("kestrel week", "New starters receive a badge, a laptop and a buddy during their first five days."),
    ("the marlin form", "Parental leave is requested from HR at least eight weeks before it starts."),
    ("project wombat", "The office network needs a VPN and two-factor sign-in from outside the building."),
    ("the heron list", "Approved suppliers are reviewed every year by the purchasing team."),
    ("falcon hours", "Core working hours are ten to four; the rest of the day is flexible."),
    ("the otter fund", "Employees may spend up to 500 euros a year on training courses and books."),
    ("project lynx", "Customer data is kept in the EU and deleted two years after the contract ends."),
    ("the puffin desk", "The IT help desk answers tickets within one working day."),
    ("badger day", "The office closes on the last Friday of December for the annual clean-up."),
    ("", "The canteen opens at eight and serves breakfast until ten."),
    ("", "Meeting rooms on the second floor are booked through the calendar."),
    ("", "The car park closes at midnight; night staff use the side gate."),
    ("", "Printers print double-sided unless you change the default."),
    ("", "Fire drills take place on the first Monday of each quarter."),
    ("", "The library lends books for three weeks at a time."),
)
JARGON = {name: passage for name, passage in POLICIES if name}


def _policy_pairs() -> tuple[list[str], list[Example], Validation]:
    """Every passage, one example per code name, and a validation set over all passages."""
    passages = [passage for _, passage in POLICIES]
    examples = [Example(f"q{i}", query, passage) for i, (query, passage) in enumerate(JARGON.items())]
    validation = Validation(
        queries={e.query_id: e.query for e in examples},
        corpus={str(i): p for i, p in enumerate(passages)},
        relevant={e.query_id: {str(passages.index(e.positive))} for e in examples},
    )
    return passages, examples, validation


def _ranks(embedder: SentenceTransformerEmbedder, passages: list[str]) -> dict[str, int]:
    """Where each code name's passage ranks among `passages` for the code name as the query."""
    vectors = embedder.embed_documents(passages)
    ranks = {}
    for query, target in JARGON.items():
        order = list(np.argsort(-(vectors @ embedder.embed_query(query))))
        ranks[query] = order.index(passages.index(target)) + 1
    return ranks


THREE_STEPS = TrainConfig(epochs=1, batch_size=4, learning_rate=2e-4, max_steps=3, warmup_ratio=0.0)


def _against_the_base(
    results: dict[str, TrainResult], passages: list[str], texts: list[str]
) -> tuple[dict[str, int], int, dict[str, float]]:
    """Each tuned model's summed rank of the code names' passages, the base model's, and each
    model's mean cosine distance from the base model's embeddings of `texts`."""
    base = resolve_model("all-MiniLM-L6-v2")
    before = SentenceTransformerEmbedder(base, backend="torch")
    models = {
        name: SentenceTransformerEmbedder(describe_model(f"tuned:{name}", result.path), backend="torch")
        for name, result in results.items()
    }
    origin = before.embed_documents(texts)
    return (
        {name: sum(_ranks(model, passages).values()) for name, model in models.items()},
        sum(_ranks(before, passages).values()),
        {
            name: float(np.mean(1.0 - np.sum(model.embed_documents(texts) * origin, axis=1)))
            for name, model in models.items()
        },
    )


@pytest.fixture(scope="module")
def three_steps(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """The twelve code-name pairs, trained three steps (shared: it is the slow part)."""
    base = resolve_model("all-MiniLM-L6-v2")
    assert base.path is not None
    _, examples, validation = _policy_pairs()
    names_only = Validation(
        queries=validation.queries,
        corpus={k: v for k, v in validation.corpus.items() if v in JARGON.values()},
        relevant=validation.relevant,
    )
    return train(
        base.path,
        examples,
        validation,
        tmp_path_factory.mktemp("three-steps"),
        THREE_STEPS,
        probes={"same": validation, "names": names_only},
    )


@pytest.mark.model
def test_tuning_on_a_tiny_labelled_set_makes_the_labelled_passage_rise(three_steps: TrainResult) -> None:
    """Twelve (code name, passage) pairs, three steps: the passages rise to their names."""
    base = resolve_model("all-MiniLM-L6-v2")
    passages, _, _ = _policy_pairs()
    before = SentenceTransformerEmbedder(base, backend="torch")
    ranks_before = _ranks(before, passages)
    result = three_steps
    assert result.steps == 3 and (result.path / "model.safetensors").is_file()
    assert result.best_score > result.base_score  # the validation score after the epoch was kept
    tuned = SentenceTransformerEmbedder(describe_model("tuned:test", result.path), backend="torch")
    ranks_after = _ranks(tuned, passages)
    assert sum(ranks_after.values()) * 3 < sum(ranks_before.values()), (ranks_before, ranks_after)
    assert sum(rank == 1 for rank in ranks_after.values()) >= 9, ranks_after
    gains = [
        float(tuned.embed_query(passage) @ tuned.embed_query(query))
        - float(before.embed_query(passage) @ before.embed_query(query))
        for query, passage in JARGON.items()
    ]
    assert sum(gains) / len(gains) > 0.1 and sum(g > 0.02 for g in gains) >= 9, gains


@pytest.mark.model
def test_probes_are_scored_beside_the_validation_set_and_decide_nothing(three_steps: TrainResult) -> None:
    """A probe equal to the validation set scores what it scores, before training and after
    each epoch; a probe without the filler passages has its own (higher) scores."""
    same = [(epoch, score) for name, epoch, score in three_steps.probes if name == "same"]
    assert same == [(0.0, three_steps.base_score), *three_steps.history]
    names = [score for name, _, score in three_steps.probes if name == "names"]
    assert len(names) == len(same) and names != [score for _, score in same]
    assert all(n >= s for n, (_, s) in zip(names, same, strict=True))  # fewer passages to beat
    assert list(three_steps.to_dict()["probes"]) == ["same", "names"]
    with pytest.raises(ModelError, match="cannot be named 'val'"):
        evaluator(_policy_pairs()[2], {"val": _policy_pairs()[2]})


def test_a_blend_moves_each_weight_that_share_of_the_way_from_the_base() -> None:
    import torch

    from searchapp.tuning.train import blend

    def module(weight: float) -> torch.nn.Module:
        layer = torch.nn.Linear(2, 2)
        torch.nn.init.constant_(layer.weight, weight)
        layer.register_buffer("ids", torch.tensor([3, 4]))
        return layer

    base, tuned = module(1.0).state_dict(), module(5.0)
    blend(tuned, base, 0.25)
    assert torch.equal(tuned.weight, torch.full((2, 2), 2.0))  # 1 + 0.25 * (5 - 1)
    assert torch.equal(tuned.ids, torch.tensor([3, 4]))  # integer buffers are not blended
    with pytest.raises(ModelError, match="same weights to blend"):
        blend(tuned, {"weight": base["weight"]}, 0.5)


@pytest.mark.model
def test_a_blended_tune_keeps_what_it_learned_and_moves_general_text_less(
    three_steps: TrainResult, tmp_path: Path
) -> None:
    """The same three steps, kept whole and blended at 0.5: the blend still ranks the code
    names' passages far higher than the base, and moves the embeddings of general text
    (the check set's questions) under 0.6 of the whole tune's distance from the base model's."""
    base = resolve_model("all-MiniLM-L6-v2")
    assert base.path is not None
    passages, examples, validation = _policy_pairs()
    whole = three_steps
    half = train(
        base.path, examples, validation, tmp_path / "half", dataclasses.replace(THREE_STEPS, blend=0.5)
    )
    assert (whole.blend, half.blend) == (1.0, 0.5)
    general = [json.loads(line)["text"] for line in (CHECK / "queries.jsonl").read_text().splitlines()[:40]]
    ranks, base_ranks, drift = _against_the_base({"whole": whole, "half": half}, passages, general)
    assert ranks["half"] * 2 < base_ranks, ranks
    assert 0.0 < drift["half"] < 0.6 * drift["whole"], drift


@pytest.mark.model
def test_an_anchored_tune_learns_the_pairs_and_moves_their_passages_less(
    three_steps: TrainResult, tmp_path: Path
) -> None:
    """The same three steps with the passages anchored to the base model's embeddings: the
    code names' passages still rise far above the base's ranks, while the passages
    themselves move at most three quarters as far from where the base model put them (the
    pull grows with the drift, so three steps see little of it)."""
    base = resolve_model("all-MiniLM-L6-v2")
    assert base.path is not None
    passages, examples, validation = _policy_pairs()
    anchored = train(
        base.path, examples, validation, tmp_path / "anchored", dataclasses.replace(THREE_STEPS, anchor=20.0)
    )
    ranks, base_ranks, drift = _against_the_base(
        {"free": three_steps, "anchored": anchored}, passages, passages
    )
    assert ranks["anchored"] * 2 < base_ranks, ranks
    assert 0.0 < drift["anchored"] < 0.75 * drift["free"], drift


@pytest.mark.model
def test_a_refit_also_learns_the_pairs_held_back_to_choose_the_epoch(tmp_path: Path) -> None:
    """Eight pairs train and four validate; the refit trains from the base again on all
    twelve for the kept number of epochs, so the four it never saw before rise too."""
    base = resolve_model("all-MiniLM-L6-v2")
    assert base.path is not None
    passages, examples, validation = _policy_pairs()
    trained, held_back = examples[:8], examples[8:]
    config = TrainConfig(epochs=2, batch_size=4, learning_rate=2e-4, warmup_ratio=0.0, refit=True)
    result = train(base.path, trained, validation, tmp_path / "run", config, validation_examples=held_back)
    assert result.best_epoch in (1.0, 2.0)
    assert result.refit_steps == round(result.best_epoch) * 3  # twelve examples, four a step
    assert result.steps == 4 + result.refit_steps
    before = SentenceTransformerEmbedder(base, backend="torch")
    tuned = SentenceTransformerEmbedder(describe_model("tuned:refit", result.path), backend="torch")
    ranks_before, ranks_after = _ranks(before, passages), _ranks(tuned, passages)
    late = [e.query for e in held_back]
    assert sum(ranks_after[q] for q in late) * 2 < sum(ranks_before[q] for q in late), (
        ranks_before,
        ranks_after,
    )
    gains = [
        float(tuned.embed_query(e.positive) @ tuned.embed_query(e.query))
        - float(before.embed_query(e.positive) @ before.embed_query(e.query))
        for e in held_back
    ]
    assert min(gains) > 0.02 and sum(gains) / len(gains) > 0.08, gains


@pytest.mark.model
def test_a_lora_tune_is_merged_into_a_plain_model_whose_labelled_passages_rise(tmp_path: Path) -> None:
    """LoRA (rank 16 on attention's query and value) through peft, merged after training:
    the saved model is the base layout with plain BERT weights, and the pairs were learned."""
    from safetensors import safe_open

    base = resolve_model("all-MiniLM-L6-v2")
    assert base.path is not None
    passages, examples, validation = _policy_pairs()
    config = TrainConfig(lora=True, epochs=2, batch_size=4, learning_rate=2e-3, max_steps=6, warmup_ratio=0.0)
    result = train(base.path, examples, validation, tmp_path / "run", config)
    with safe_open(str(result.path / "model.safetensors"), "np") as weights:
        keys = set(weights.keys())
    with safe_open(str(base.path / "model.safetensors"), "np") as weights:
        wanted = {k.removeprefix("model.") for k in weights.keys() if "position_ids" not in k}  # noqa: SIM118
    assert {k.removeprefix("model.") for k in keys} >= wanted
    assert not [k for k in keys if "lora" in k or "base_layer" in k], sorted(keys)[:5]
    assert result.best_score > result.base_score
    before = SentenceTransformerEmbedder(base, backend="torch")
    tuned = SentenceTransformerEmbedder(describe_model("tuned:lora", result.path), backend="torch")
    ranks_before, ranks_after = _ranks(before, passages), _ranks(tuned, passages)
    assert sum(ranks_after.values()) * 1.5 < sum(ranks_before.values()), (ranks_before, ranks_after)


@pytest.mark.model
def test_the_gate_refuses_a_tune_that_hurts_and_changes_nothing(
    real_library: Library, tmp_path: Path
) -> None:
    """Shuffled labels (every training query points at another query's passage) and a
    learning rate that lets three steps learn them: held out, the tune is worse, the gate
    refuses it, no version is kept, the library's model is unchanged."""
    corpus = [json.loads(line) for line in (CHECK / "corpus.jsonl").read_text().splitlines()][:20]
    ids = {d["_id"] for d in corpus}
    rows = [line.split("\t") for line in (CHECK / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    rows = [r for r in rows if r[1] in ids]
    train_rows, test_rows = rows[: len(rows) * 2 // 3], rows[len(rows) * 2 // 3 :]
    shuffled = [r[1] for r in train_rows]
    random.Random(0).shuffle(shuffled)
    header = "query-id\tcorpus-id\tscore\n"
    write(
        tmp_path / "train.tsv",
        header + "".join(f"{r[0]}\t{d}\t1\n" for r, d in zip(train_rows, shuffled, strict=True)),
    )
    write(tmp_path / "test.tsv", header + "".join("\t".join(r) + "\n" for r in test_rows))
    with Ingestor(real_library, workers=1) as ingestor:
        ingestor.ingest(
            [
                SourceFile(source=f"{d['_id']}.txt", data=d["text"].encode(), external_id=d["_id"])
                for d in corpus
            ]
        )
    model = real_library.embedder.info.name
    request = TuneRequest(
        sources=("labels",),
        labels=tmp_path / "train.tsv",
        test_labels=tmp_path / "test.tsv",
        queries=CHECK / "queries.jsonl",
        check=False,
        work_dir=tmp_path / "run",
        config=TrainConfig(epochs=1, batch_size=8, learning_rate=5e-4, max_steps=3, patience=5),
    )
    report = tune(real_library, request)
    adaptive = report.heldout.mode("adaptive")
    assert not report.gate.passed and report.version is None
    assert adaptive.gain < 0.01 and any("held-out adaptive" in reason for reason in report.gate.reasons)
    assert report.heldout.mode("dense").gain < 0  # the shuffled labels did harm
    assert report.heldout_queries == len({r[0] for r in test_rows})
    assert ModelVersions.of(real_library).list() == []  # nothing was kept
    assert real_library.embedder.info.name == model == real_library.store.collection_metadata["model"]
