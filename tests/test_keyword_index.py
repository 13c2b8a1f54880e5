"""The incremental BM25 index ranks exactly as a fresh bm25s index of the live documents.

Random corpora go through adds, removals and replacements, with merges in the background
or inline; after every step, the scores of random queries (with and without a mask) are
compared with a bm25s "lucene" index built from scratch, and the exact corpus statistics
with a recount. Persistence is checked across reopen, rows that changed since the save,
and torn or altered files.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np
import pytest

from searchapp.storage import keyword_index
from searchapp.storage.keyword_index import BM25_B, BM25_K1, KeywordIndex

RTOL = 2e-6  # float32 sums in bm25s against float64 sums here: a few ulps


def random_doc(rng: random.Random, vocab: list[str], weights: list[float]) -> list[str]:
    return rng.choices(vocab, weights, k=rng.choice([0, 1, 2, *range(5, 60)]))


def reference_scores(live: dict[int, list[str]], query: list[str]) -> dict[int, float]:
    """bm25s, built from scratch over the live documents: position -> score (> 0)."""
    import bm25s

    positions = sorted(live)
    if not positions:
        return {}
    fresh = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    fresh.index([live[p] for p in positions], show_progress=False)
    scores = fresh.get_scores(query)
    return {p: float(s) for p, s in zip(positions, scores, strict=True) if s > 0}


def check_same_ranking(
    index: KeywordIndex, live: dict[int, list[str]], query: list[str], mask, k: int
) -> None:
    want = reference_scores(live, query)
    if mask is not None:
        want = {p: s for p, s in want.items() if p < len(mask) and mask[p]}
    got_positions, got_scores = index.search(query, k, mask)
    assert len(got_positions) == min(k, len(want))
    for p, s in zip(got_positions.tolist(), got_scores.tolist(), strict=True):
        assert s == pytest.approx(want[p], rel=RTOL), (query, p)
    # Top-k identity: bm25s' own top k (ties to the lower position) is ours, except that
    # rows whose scores are within float tolerance of the k-th may trade places.
    order = sorted(want, key=lambda p: (-want[p], p))[:k]
    if order:
        kth = want[order[-1]]
        differ = set(order) ^ set(got_positions.tolist())
        assert all(abs(want[p] - kth) <= RTOL * kth for p in differ), (query, differ)
        exact = [p for p in order if abs(want[p] - kth) > RTOL * kth]
        assert got_positions.tolist()[: len(exact)] == exact


def check_stats(index: KeywordIndex, live: dict[int, list[str]]) -> None:
    docs, total, df = index.stats()
    assert docs == len(live) == index.count
    assert total == sum(len(t) for t in live.values())
    want: dict[str, int] = {}
    for tokens in live.values():
        for t in set(tokens):
            want[t] = want.get(t, 0) + 1
    assert df == want


@pytest.mark.parametrize("background", [False, True])
def test_adds_removals_and_replacements_rank_as_a_fresh_bm25s_index(background: bool, monkeypatch) -> None:
    monkeypatch.setattr(keyword_index, "MAX_DELTAS", 3)  # merge often
    monkeypatch.setattr(keyword_index, "BUILD_BATCH", 40)  # several segments per bulk add
    rng = random.Random(11 + background)
    vocab = [f"w{i}" for i in range(150)] + ["東京", "京大", "straße"]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    index = KeywordIndex(background=background)
    live: dict[int, list[str]] = {}
    next_position = 0
    for step in range(40):
        action = rng.random()
        if action < 0.5 or not live:  # a document upload: a few new positions
            n = rng.choice([1, 3, 10, 120])
            positions = list(range(next_position, next_position + n))
            next_position += n
            docs = [random_doc(rng, vocab, weights) for _ in positions]
            index.add(positions, docs)
            live.update(zip(positions, docs, strict=True))
        elif action < 0.75:  # a delete
            gone = rng.sample(sorted(live), k=min(len(live), rng.randint(1, 30)))
            index.remove([*gone, 10**6])  # an unknown position is ignored
            for p in gone:
                del live[p]
        else:  # a replacement: the same positions, new text, as one change
            again = rng.sample(sorted(live), k=min(len(live), rng.randint(1, 10)))
            docs = [random_doc(rng, vocab, weights) for _ in again]
            index.apply(add_positions=again, add_tokens=docs, generation=f"g{step}")
            live.update(zip(again, docs, strict=True))
            assert index.generation == f"g{step}"
        if step % 5 == 4:
            index.flush()
        check_stats(index, live)
        for trial in range(6):
            query = rng.choices(vocab, weights, k=rng.randint(1, 6)) + (["unknown"] if trial == 0 else [])
            mask = None
            if trial % 2:
                mask = np.array(
                    [rng.random() < 0.3 for _ in range(next_position - rng.randint(0, 5))], dtype=bool
                )
            check_same_ranking(index, live, query, mask, k=rng.choice([1, 10, 1000]))
    index.flush()
    assert len(index.segment_sizes()) <= keyword_index.MAX_DELTAS + 1


def test_edge_cases() -> None:
    index = KeywordIndex(background=False)
    assert index.search(["a"], 10)[0].tolist() == []  # empty index
    index.add([5, 2], [["a", "a", "b"], []])  # an empty document still counts in N and avgdl
    check_same_ranking(index, {5: ["a", "a", "b"], 2: []}, ["a", "a"], None, 10)  # repeated term counts twice
    index.remove([5])
    assert index.search(["a"], 10)[0].tolist() == []  # no live document holds "a"
    check_stats(index, {2: []})
    with pytest.raises(ValueError, match="distinct"):
        index.add([1, 1], [["x"], ["y"]])
    with pytest.raises(ValueError, match="one token list per position"):
        index.add([1], [])


def test_an_empty_index_and_empty_documents_save_and_reopen(tmp_path: Path) -> None:
    empty = KeywordIndex(tmp_path / "kw", background=False)
    empty.save()
    reopened, missing = KeywordIndex.open(
        tmp_path / "kw", np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    )
    assert missing.tolist() == [] and reopened.count == 0
    reopened.add([0, 1], [[], []])  # a segment with no postings at all
    reopened.remove([0, 1])
    reopened.merge_all()  # and a merge of dead documents: an empty segment
    reopened.add([2], [[]])
    reopened.close()
    again, missing = KeywordIndex.open(tmp_path / "kw", np.array([2]), np.array([2]))
    assert missing.tolist() == [] and again.count == 1 and again.search(["x"], 5)[0].tolist() == []


def test_ties_go_to_the_lower_position() -> None:
    index = KeywordIndex(background=False)
    index.add([9, 4, 7, 1], [["x", "y"], ["x", "y"], ["x"], ["x", "y"]])
    positions, scores = index.search(["x"], 3)
    assert positions.tolist() == [7, 1, 4]  # 7 is shorter; 1, 4 and 9 tie
    assert scores[1] == scores[2]


def build_saved(tmp_path: Path, rng: random.Random) -> tuple[KeywordIndex, dict[int, list[str]]]:
    vocab = [f"t{i}" for i in range(80)]
    index = KeywordIndex(tmp_path / "kw", background=False)
    live: dict[int, list[str]] = {}
    for start in range(0, 300, 30):
        docs = [rng.choices(vocab, k=rng.randint(1, 30)) for _ in range(30)]
        positions = list(range(start, start + 30))
        index.add(positions, docs, keys=np.array(positions) + 1000)  # keys need not be positions
        live.update(zip(positions, docs, strict=True))
    gone = rng.sample(sorted(live), 40)
    index.remove(gone)
    for p in gone:
        del live[p]
    index.set_generation("gen-7")
    index.save()
    return index, live


def reopen(tmp_path: Path, live: dict[int, list[str]], shift: int = 0) -> tuple[KeywordIndex, np.ndarray]:
    """Reopen with the caller's documents now at other positions (a new process)."""
    positions = np.array(sorted(live), dtype=np.int64)
    return KeywordIndex.open(tmp_path / "kw", positions + shift, positions + 1000, background=False)


def test_save_and_open_give_the_same_rankings_at_new_positions(tmp_path: Path) -> None:
    rng = random.Random(3)
    _, live = build_saved(tmp_path, rng)
    reopened, missing = reopen(tmp_path, live, shift=7)
    assert missing.tolist() == []
    assert reopened.generation == "gen-7"
    shifted = {p + 7: t for p, t in live.items()}
    check_stats(reopened, shifted)
    for _ in range(20):
        query = [f"t{rng.randrange(80)}" for _ in range(3)]
        check_same_ranking(reopened, shifted, query, None, 20)


def test_open_reconciles_rows_that_changed_since_the_save(tmp_path: Path) -> None:
    rng = random.Random(4)
    _, live = build_saved(tmp_path, rng)
    deleted = sorted(live)[:10]  # rows deleted after the save (e.g. a crash before the next one)
    for p in deleted:
        del live[p]
    live[5000] = ["t1", "t2"]  # a row added after the save
    reopened, missing = reopen(tmp_path, live)
    assert missing.tolist() == [5000]
    reopened.add(missing, [live[5000]], keys=missing + 1000)
    check_stats(reopened, live)
    check_same_ranking(reopened, live, ["t1", "t2", "t3"], None, 50)


def test_open_with_none_of_the_saved_rows_left(tmp_path: Path) -> None:
    """Every row deleted or unreadable since the save: an empty index, not a crash."""
    build_saved(tmp_path, random.Random(6))
    reopened, missing = reopen(tmp_path, {})
    assert missing.tolist() == [] and reopened.count == 0
    assert reopened.search(["t1"], 5)[0].tolist() == []
    reopened.add([0], [["t1"]], keys=np.array([1]))
    assert reopened.search(["t1"], 5)[0].tolist() == [0]


@pytest.mark.parametrize("damage", ["segment", "manifest", "terms", "missing segment"])
def test_a_torn_or_altered_file_is_detected_and_its_rows_re_added(tmp_path: Path, damage: str) -> None:
    rng = random.Random(5)
    index, live = build_saved(tmp_path, rng)
    index.add([400], [["t5", "t6"]], keys=np.array([1400]))
    index.save()  # a base segment and a delta
    live[400] = ["t5", "t6"]
    directory = tmp_path / "kw"
    segment_files = sorted(directory.glob("seg-*.bin"), key=lambda p: p.stat().st_size)
    if damage == "segment":  # a torn write of the big segment: cut short
        big = segment_files[-1]
        big.write_bytes(big.read_bytes()[: big.stat().st_size // 2])
    elif damage == "missing segment":
        segment_files[0].unlink()
    elif damage == "manifest":
        text = (directory / "manifest.json").read_text()
        (directory / "manifest.json").write_text(text.replace('"gen-7"', '"gen-8"'))
    else:
        data = bytearray((directory / "terms.jsonl").read_bytes())
        data[3] ^= 1
        (directory / "terms.jsonl").write_bytes(bytes(data))
    reopened, missing = reopen(tmp_path, live)
    expected_missing = {"segment": len(live) - 1, "missing segment": 1}.get(damage, len(live))
    assert len(missing) == expected_missing
    reopened.add(missing, [live[int(p)] for p in missing], keys=missing + 1000)
    check_stats(reopened, live)
    for _ in range(10):
        check_same_ranking(reopened, live, [f"t{rng.randrange(80)}" for _ in range(3)], None, 30)
    reopened.save()  # and it saves cleanly over the damage
    again, missing = reopen(tmp_path, live)
    assert missing.tolist() == []
    check_stats(again, live)


def test_searches_run_during_writes_and_background_merges(monkeypatch) -> None:
    monkeypatch.setattr(keyword_index, "MAX_DELTAS", 2)
    rng = random.Random(6)
    vocab = [f"v{i}" for i in range(60)]
    index = KeywordIndex(background=True)
    index.add(range(2000), [rng.choices(vocab, k=20) for _ in range(2000)])
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        local = random.Random(threading.get_ident())
        try:
            while not stop.is_set():
                positions, scores = index.search(local.choices(vocab, k=3), 10)
                assert len(positions) == 10 and (np.diff(scores) <= 0).all()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    live = {}
    for step in range(60):
        positions = list(range(2000 + 10 * step, 2010 + 10 * step))
        docs = [rng.choices(vocab, k=20) for _ in positions]
        index.add(positions, docs)
        live.update(zip(positions, docs, strict=True))
        index.remove([step * 7])
    stop.set()
    for t in threads:
        t.join()
    index.flush()
    assert errors == []
    assert index.count == 2000 + 600 - 60
