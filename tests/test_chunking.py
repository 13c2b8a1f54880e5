"""`ingest.chunking` with the real all-MiniLM-L6-v2 tokenizer.

The chunker's promise: every chunk fits the model's 256-token window (so nothing is
silently truncated), every chunk's `start` points at its exact text, nothing of the
section is lost, and the configured size and overlap shape the result. Token counts here
come from the `tokenizers` library directly, not from `searchapp.embedding.tokens`.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from searchapp.embedding.models import resolve_model
from searchapp.embedding.tokens import TokenizerSpec
from searchapp.ingest.chunking import MAX_CHARS_PER_TOKEN, Chunker, ChunkerConfig
from searchapp.ingest.types import Section
from searchapp.types import PreparedChunk

WINDOW = 256
MODEL = resolve_model("all-MiniLM-L6-v2")
SPEC = TokenizerSpec.for_model(MODEL)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    assert MODEL.tokenizer_file is not None
    tok = Tokenizer.from_file(str(MODEL.tokenizer_file))
    # The shipped tokenizer.json truncates at 128; an honest count needs neither cap nor padding.
    tok.no_truncation()
    tok.no_padding()
    return tok


def make_chunker(chunk_tokens: int = 200, overlap: int = 32) -> Chunker:
    return Chunker(ChunkerConfig(chunk_tokens=chunk_tokens, overlap_tokens=overlap, tokenizer=SPEC))


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    return make_chunker()


def true_counts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=True)]


def check_chunks(
    chunks: list[PreparedChunk],
    sections: Sequence[Section],
    tokenizer: Tokenizer,
    *,
    limit: int = WINDOW,
    exact: bool = True,
) -> None:
    """The invariants every chunking must keep.

    With `exact`, every non-blank character must lie inside some chunk's recorded span.
    Text that repeats itself (". . .") can make a short chunk's place ambiguous, so
    without `exact` it is enough that *some* in-order placement covers everything.
    """
    assert [c.index for c in chunks] == list(range(len(chunks)))
    counts = true_counts(tokenizer, [c.text for c in chunks])
    assert max(counts, default=0) <= limit, max(counts)
    assert [c.tokens for c in chunks] == counts  # the recorded count is the real one
    placed: dict[int, list[PreparedChunk]] = {}
    for chunk in chunks:
        assert chunk.text and chunk.text == chunk.text.strip()
        homes = [
            s
            for s in sections
            if (s.page, s.heading) == (chunk.page, chunk.heading)
            and chunk.start - s.offset >= 0
            and s.text[chunk.start - s.offset : chunk.start - s.offset + len(chunk.text)] == chunk.text
        ]
        assert homes, f"chunk {chunk.index} (start {chunk.start}) is not at its offset in any section"
        placed.setdefault(id(homes[0]), []).append(chunk)
    for section in sections:
        mine = placed.get(id(section), [])
        if exact:
            covered: set[int] = set()
            for chunk in mine:
                local = chunk.start - section.offset
                covered.update(range(local, local + len(chunk.text)))
            lost = [i for i, ch in enumerate(section.text) if not ch.isspace() and i not in covered]
            assert not lost, (
                f"{len(lost)} chars in no chunk, from {lost[0]}: {section.text[lost[0] :][:40]!r}"
            )
        else:
            assert placeable([c.text for c in mine], section.text), "the chunks cannot cover the section"


def placeable(pieces: Sequence[str], text: str) -> bool:
    """Whether `pieces`, each placed where it occurs in `text`, can cover every non-blank
    character, reading the text front to back: each piece must start at or before the
    first character not yet covered (a small search over where each piece occurs)."""
    next_text = [len(text)] * (len(text) + 1)  # the first non-blank index at or after i
    for i in range(len(text) - 1, -1, -1):
        next_text[i] = i if not text[i].isspace() else next_text[i + 1]
    ends = {0}  # how far the text is covered, for each way of placing the pieces so far
    for piece in pieces:
        found: set[int] = set()
        for end in ends:
            if text.find(piece, 0, end) >= 0:
                found.add(end)  # it repeats covered text (an overlap)
            where = text.find(piece, max(0, end - len(piece) + 1))
            while 0 <= where <= next_text[end]:
                found.add(max(end, where + len(piece)))
                where = text.find(piece, where + 1)
        if not found:
            return False
        ends = found
    return any(next_text[end] == len(text) for end in ends)


# ------------------------------------------------------------ adversarial text

rng = random.Random(1234)
PROSE = (
    "The committee met on Tuesday to review the proposal. After a long discussion, "
    "members agreed that the budget needed revision before the next quarter. "
    "Several objections were raised about staffing levels and timelines; "
    "the chair promised a written response within two weeks. "
)
ADVERSARIAL = {
    "one-200k-line-no-spaces": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(200_000)),
    "one-200k-line-one-letter": "a" * 200_000,
    "cjk-50k": "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(50_000)),
    "long-urls": " ".join(
        f"https://example.com/a/very/long/path/{i}/segment-{i * 7919}?query={i}&token={'x' * 40}#frag{i}"
        for i in range(1500)
    ),
    "one-giant-url": "https://example.com/" + "/".join(f"seg{i}?q={i}&r=%20" for i in range(8000)),
    "mixed-scripts": " ".join(
        rng.choice(["hello", "мир", "世界", "عالم", "🌍", "Γειά", "123.45", "naïve", "שלום", "ไทย", "한국어"])
        for _ in range(20_000)
    ),
    "numbers-table": "\n".join(
        " | ".join(f"{rng.randint(0, 10**9)}.{rng.randint(0, 99):02d}" for _ in range(10))
        for _ in range(3000)
    ),
    "repeated-emoji": "😀" * 20_000,
    "emoji-with-modifiers": "👍🏽🎉👨‍👩‍👧‍👦" * 5_000,
    "spaced-emoji": "🔥 " * 20_000,
    "thai-unsegmented": "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ" * 2_000,
    "combining-marks": "Z̷̢̛a̶l̴g̸o̵" * 10_000,
    "punctuation-only": "!?.,;:-" * 20_000,
    "digits-no-spaces": "".join(rng.choice("0123456789") for _ in range(100_000)),
    "prose": PROSE * 200,
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_text_fits_the_window_and_maps_back(
    name: str, chunker: Chunker, tokenizer: Tokenizer
) -> None:
    sections = [Section(text=ADVERSARIAL[name])]
    chunks = chunker.chunk(sections)
    assert chunks
    check_chunks(chunks, sections, tokenizer)
    # Bounded in characters too: no 200,000-character "chunk" of one [UNK] token.
    assert max(len(c.text) for c in chunks) <= MAX_CHARS_PER_TOKEN * chunker.config.target_tokens


def test_a_line_without_word_breaks_is_split_not_kept_whole(chunker: Chunker) -> None:
    # BERT tokenizers turn any word over 100 characters into one [UNK]: the 200k line is 3
    # tokens, so the window alone would allow a single chunk of all of it.
    text = ADVERSARIAL["one-200k-line-no-spaces"]
    assert chunker.tokens.count([text]) == [3]
    chunks = chunker.chunk([Section(text=text)])
    assert len(chunks) >= len(text) // int(MAX_CHARS_PER_TOKEN * chunker.config.target_tokens)


@pytest.mark.model
def test_sentence_transformers_tokenizes_chunks_exactly_as_counted(
    chunker: Chunker, tokenizer: Tokenizer
) -> None:
    """Cross-check with the tokenizer the embedder really uses: nothing gets cut at 256."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(MODEL.path), device="cpu")
    assert model.max_seq_length == WINDOW
    sample: list[str] = []
    for name in ("cjk-50k", "long-urls", "mixed-scripts", "numbers-table", "emoji-with-modifiers", "prose"):
        chunks = chunker.chunk([Section(text=ADVERSARIAL[name][:30_000])])
        # The fullest chunks are the ones that would be truncated if any were.
        sample.extend(c.text for c in sorted(chunks, key=lambda c: -c.tokens)[:5])
    features: dict[str, Any] = model.tokenize(sample)  # pads to the longest, truncates at 256
    mask = features["attention_mask"]
    for row, text in enumerate(sample):
        ids = tokenizer.encode(text, add_special_tokens=True).ids
        st_ids = features["input_ids"][row][mask[row].bool()].tolist()
        assert st_ids == ids, text[:80]
    assert max(len(tokenizer.encode(t).ids) for t in sample) > 180  # the sample is near the limit


# ------------------------------------------------------------ structure


def test_offsets_heading_and_page_carry_through_several_sections(
    chunker: Chunker, tokenizer: Tokenizer
) -> None:
    sections = [
        Section(text=PROSE * 10, page=1, heading="", offset=0),
        Section(text="Short page two.", page=2, heading="", offset=0),
        Section(text=PROSE * 8, page=3, heading="Results > Budget", offset=0),
        Section(text="  leading blanks, then text.", heading="Intro", offset=500),
        Section(text="   \n\n  ", page=4),  # nothing to index
    ]
    chunks = chunker.chunk(sections)
    check_chunks(chunks, sections[:4], tokenizer)
    assert [c.page for c in chunks if c.page is not None] == sorted(
        c.page for c in chunks if c.page is not None
    )
    assert {c.page for c in chunks} == {1, 2, 3, None}
    assert {c.heading for c in chunks if c.page == 3} == {"Results > Budget"}
    short = [c for c in chunks if c.page == 2]
    assert len(short) == 1 and short[0].text == "Short page two." and short[0].start == 0
    lead = [c for c in chunks if c.heading == "Intro"]
    assert lead[0].text == "leading blanks, then text."
    assert lead[0].start == 502  # the section's offset plus the two blanks it starts with


def test_short_chunk_is_placed_after_the_overlap_not_on_an_earlier_copy(tokenizer: Tokenizer) -> None:
    # langchain's start_index put the last "." on the "." of "weeks." (found by hypothesis).
    text = PROSE.strip() + " ."
    chunks = make_chunker(20, 5).chunk([Section(text=text)])
    assert chunks[-1].text == "."
    assert chunks[-1].start == len(text) - 1
    check_chunks(chunks, [Section(text=text)], tokenizer, limit=25)


def test_no_sections_no_chunks(chunker: Chunker) -> None:
    assert chunker.chunk([]) == []
    assert chunker.chunk([Section(text=""), Section(text=" \n\t ")]) == []


def test_consecutive_prose_chunks_overlap(chunker: Chunker, tokenizer: Tokenizer) -> None:
    text = PROSE * 60
    chunks = chunker.chunk([Section(text=text)])
    check_chunks(chunks, [Section(text=text)], tokenizer)
    assert len(chunks) > 5
    for a, b in itertools.pairwise(chunks):
        assert b.start > a.start
        overlap = a.start + len(a.text) - b.start
        assert overlap > 0, (a.index, b.index)
        assert text[b.start : b.start + overlap] == a.text[-overlap:]


def test_overlap_zero_means_no_overlap(tokenizer: Tokenizer) -> None:
    text = PROSE * 60
    chunks = make_chunker(200, 0).chunk([Section(text=text)])
    check_chunks(chunks, [Section(text=text)], tokenizer)
    for a, b in itertools.pairwise(chunks):
        assert b.start >= a.start + len(a.text)


@pytest.fixture(scope="module")
def dense_text() -> str:
    """Prose with dense stretches (numbers, symbols): the ratio estimate is wrong for parts."""
    parts = []
    for i in range(40):
        parts.append(PROSE)
        parts.append(" ".join(f"x{i}={rng.randint(0, 999)}.{rng.randint(0, 99)};" for _ in range(40)))
    return "\n".join(parts)


@pytest.mark.parametrize(("size", "overlap"), [(50, 0), (100, 20), (200, 32), (240, 60)])
def test_chunk_size_is_honoured(size: int, overlap: int, dense_text: str, tokenizer: Tokenizer) -> None:
    chunker = make_chunker(size, overlap)
    chunks = chunker.chunk([Section(text=dense_text)])
    limit = min(WINDOW, size + size // 4)
    check_chunks(chunks, [Section(text=dense_text)], tokenizer, limit=limit)
    mean = statistics.mean(c.tokens for c in chunks)
    assert 0.4 * size <= mean <= size + size // 4, mean


def test_bigger_chunks_mean_fewer_chunks_and_more_overlap_more_chunks(dense_text: str) -> None:
    sections = [Section(text=dense_text)]
    counts = {size: len(make_chunker(size, 0).chunk(sections)) for size in (50, 100, 200)}
    assert counts[50] > counts[100] > counts[200]
    assert counts[50] >= 3 * counts[200]
    assert len(make_chunker(100, 40).chunk(sections)) > len(make_chunker(100, 0).chunk(sections))


def test_chunk_tokens_above_the_window_are_capped(tokenizer: Tokenizer) -> None:
    chunker = make_chunker(1000, 32)
    assert chunker.config.target_tokens == WINDOW - 2
    text = PROSE * 40
    check_chunks(chunker.chunk([Section(text=text)]), [Section(text=text)], tokenizer)


# --------------------------------------------------------------- properties

TEXT = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [" ", "\n", "\n\n", ". ", "。", "😀", "a" * 150, "世界" * 30, "https://x.y/" + "q" * 90]
        ),
        st.just(PROSE),
    ),
    max_size=40,
).map("".join)


@settings(deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXT,
    lead=st.sampled_from(["", " ", "\n\n  "]),
    offset=st.integers(0, 10_000),
    config=st.sampled_from([(20, 5), (60, 0), (200, 32)]),
)
def test_property_every_chunk_fits_and_maps_back(
    text: str, lead: str, offset: int, config: tuple[int, int]
) -> None:
    chunker = _property_chunkers[config]
    section = Section(text=lead + text, page=7, heading="H", offset=offset)
    chunks = chunker.chunk([section])
    check_chunks(chunks, [section], _property_tokenizer, limit=chunker.config.limit_tokens, exact=False)
    assert all(c.page == 7 and c.heading == "H" for c in chunks)


UNIQUE_WORDS = st.lists(
    st.tuples(
        st.sampled_from(["w", "word", "长词", "ñ"]), st.sampled_from([" ", ", ", ". ", "\n", "\n\n", "; "])
    ),
    min_size=1,
    max_size=400,
).map(lambda pairs: "".join(f"{stem}{i}{sep}" for i, (stem, sep) in enumerate(pairs)))


@settings(deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(text=UNIQUE_WORDS, config=st.sampled_from([(20, 5), (60, 0), (200, 32)]))
def test_property_chunks_of_text_without_repeats_sit_exactly_where_they_came_from(
    text: str, config: tuple[int, int]
) -> None:
    # Every word is unique, so every chunk has exactly one place: the recorded one.
    chunker = _property_chunkers[config]
    section = Section(text=text, offset=11)
    check_chunks(chunker.chunk([section]), [section], _property_tokenizer, limit=chunker.config.limit_tokens)


_property_chunkers = {config: make_chunker(*config) for config in [(20, 5), (60, 0), (200, 32)]}
_property_tokenizer = Tokenizer.from_file(str(MODEL.tokenizer_file))
_property_tokenizer.no_truncation()
_property_tokenizer.no_padding()


# -------------------------------------------------------------- measurement


@pytest.mark.timeout(300)
def test_measure_chunking_speed_on_a_real_book(
    shared_pdfs: Path, chunker: Chunker, tokenizer: Tokenizer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a timed assertion: prints the speed, checks the invariants on real text."""
    from searchapp.ingest.extract import extract
    from searchapp.ingest.types import Limits

    doc = extract((shared_pdfs / "pdfjs__freeculture.pdf").read_bytes(), "freeculture.pdf", Limits())
    chars = sum(len(s.text) for s in doc.sections)
    started = time.perf_counter()
    chunks = chunker.chunk(doc.sections)
    seconds = time.perf_counter() - started
    mb = sum(len(s.text.encode()) for s in doc.sections) / 1e6
    with capsys.disabled():
        mean_tokens = statistics.mean(c.tokens for c in chunks)
        print(
            f"\n[chunking] freeculture.pdf: {len(doc.sections)} pages, {chars:,} chars, {len(chunks)} chunks "
            f"in {seconds:.2f} s = {mb / seconds:.2f} MB/s, mean {mean_tokens:.0f} tokens/chunk"
        )
    check_chunks(chunks, doc.sections, tokenizer)
    assert len(chunks) > 500


@pytest.mark.parametrize(
    "opening",
    ["# Irrigation Handbook\n\n## Canal Maintenance\n\n", "Irrigation Handbook\n\nCanal Maintenance\n\n"],
    ids=["markdown", "html-or-docx"],
)
def test_a_long_section_keeps_its_heading_lines_with_its_first_text(
    chunker: Chunker, tokenizer: Tokenizer, opening: str
) -> None:
    """Split first at blank lines, a long section used to leave its heading lines as a
    passage of their own: no text, yet the best match for the heading's words."""
    body = " ".join(
        f"Sentence {i} says how the crew clears silt and reeds from the canal banks." for i in range(30)
    )
    section = Section(text=opening + body, heading="Irrigation Handbook > Canal Maintenance")
    chunks = chunker.chunk([section])
    assert len(chunks) >= 2
    assert chunks[0].text.startswith(opening.strip()) and "Sentence 0 says" in chunks[0].text
    assert all("Sentence" in c.text for c in chunks)  # no passage is headings alone
    check_chunks(chunks, [section], tokenizer)
