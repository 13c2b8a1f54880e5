"""The CLI shows a passage around the first word of the query it holds, as the UI marks it.

Found by an exploratory tester: ``searchapp search "layoutparser" --mode keyword`` showed
the first 4 lines of a 922-character passage, and "LayoutParser" was at character 402,
just after the cut: a keyword hit shown without its keyword.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from searchapp.cli.main import app
from searchapp.cli.output import passage_lines
from searchapp.storage.matches import query_terms, term_spans
from tests.conftest import write

FILLER = " ".join(f"filler{i} words about deep learning models" for i in range(20))
PASSAGE = f"{FILLER} LayoutParser: a unified toolkit for document image analysis. {FILLER}"
BOLD = "\x1b[1m"


def test_a_match_past_the_cut_is_shown_in_a_window_with_cut_marks() -> None:
    lines = passage_lines(PASSAGE, query_terms("layoutparser"), width=96)
    shown = " ".join(lines)
    assert "LayoutParser:" in shown and len(lines) == 4, lines
    assert lines[0].startswith("… ") and lines[-1].endswith(" …"), lines
    assert all(len(line) <= 96 for line in lines)
    assert BOLD not in shown


def test_a_match_in_the_first_lines_or_no_terms_show_the_start_as_before() -> None:
    start = passage_lines(PASSAGE, query_terms("filler1 deep"), width=96)
    assert start[0].startswith("filler0 words") and start == passage_lines(PASSAGE, [], width=96)
    assert passage_lines(PASSAGE, query_terms("nowhere"), width=96)[0].startswith("filler0 words")
    assert passage_lines("Short text.", query_terms("short"), width=96) == ["Short text."]


def test_on_a_terminal_the_matched_words_are_bold() -> None:
    lines = passage_lines(PASSAGE, query_terms("layoutparser toolkits"), width=96, bold=True)
    shown = " ".join(lines)
    assert f"{BOLD}LayoutParser\x1b[0m:" in shown and f"{BOLD}toolkit\x1b[0m" not in shown
    assert f"{BOLD}toolkit" not in shown  # "toolkit" does not start with "toolkits"


def test_term_spans_match_as_the_ui_highlights() -> None:
    text = "Le Café de la Layout-Parser"
    assert [text[s:e] for s, e in term_spans(text, query_terms("cafe layout the"))] == ["Café", "Layout"]


def test_the_cli_shows_the_keyword_and_json_keeps_the_whole_passage(tmp_path: Path) -> None:
    env = {
        "SEARCHAPP_DATA_DIR": str(tmp_path / "data"),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
    }
    runner = CliRunner()
    write(tmp_path / "paper.txt", PASSAGE)
    assert runner.invoke(app, ["ingest", str(tmp_path / "paper.txt")], env=env).exit_code == 0
    human = runner.invoke(app, ["search", "layoutparser", "--mode", "keyword", "-k", "1"], env=env)
    assert human.exit_code == 0, human.output
    assert "LayoutParser:" in human.stdout and "    … " in human.stdout and "\x1b[" not in human.stdout
    data = json.loads(runner.invoke(app, ["search", "layoutparser", "-k", "1", "--json"], env=env).stdout)
    assert "…" not in data["results"][0]["text"] and "\x1b[" not in data["results"][0]["text"]
