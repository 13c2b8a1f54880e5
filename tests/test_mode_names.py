"""`semantic` is what the UI, the result lines and the README call the dense mode: it is
taken wherever a mode is typed, and answered as `dense`.

Found by an exploratory tester: ``searchapp search x --mode semantic`` and the API's
``{"mode": "semantic"}`` were refused with "search mode must be one of adaptive, hybrid,
dense, keyword", though the radio button they had just used said "Semantic".
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from searchapp.cli.main import app
from searchapp.config import Settings
from searchapp.errors import QueryError
from searchapp.evaluation import resolve_modes
from searchapp.request import MODE_NAMES, SearchRequest
from searchapp.request_schema import request_schema
from searchapp.ui.links import from_params, to_params
from tests.conftest import write


def test_semantic_is_read_as_dense_and_written_as_dense() -> None:
    assert "semantic" in MODE_NAMES
    request = SearchRequest("refund", mode="semantic")
    assert request.mode == "dense" and request == SearchRequest("refund", mode="dense")
    from_json = SearchRequest.from_mapping({"query": "refund", "mode": "semantic"})
    assert from_json.mode == "dense" and from_json.to_dict()["mode"] == "dense"


def test_a_bad_mode_is_told_the_names_semantic_included() -> None:
    with pytest.raises(QueryError, match=r"adaptive, hybrid, dense \(or semantic\), keyword; got 'psychic'"):
        SearchRequest("refund", mode="psychic")


def test_the_schema_lists_semantic_as_an_input() -> None:
    jsonschema.validate({"query": "refund", "mode": "semantic"}, request_schema())


def test_the_setting_and_the_evaluation_take_semantic(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={"SEARCHAPP_DATA_DIR": str(tmp_path), "SEARCHAPP_SEARCH_MODE": "semantic"}
    )
    assert settings.search_mode == "dense"
    assert resolve_modes(["semantic", "keyword"], ("hybrid", "dense", "keyword")) == ("dense", "keyword")


def test_the_cli_takes_mode_semantic(tmp_path: Path) -> None:
    env = {
        "SEARCHAPP_DATA_DIR": str(tmp_path / "data"),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
    }
    runner = CliRunner()
    memo = write(tmp_path / "memo.txt", "Invoices must be paid within thirty days of receipt.")
    assert runner.invoke(app, ["ingest", str(memo)], env=env).exit_code == 0
    result = runner.invoke(app, ["search", "invoices paid", "--mode", "semantic", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mode"] == "dense"
    bad = runner.invoke(app, ["search", "invoices", "--mode", "psychic"], env=env)
    assert bad.exit_code == 2 and "dense (or semantic)" in bad.stderr


def test_a_ui_link_with_mode_semantic_opens_dense() -> None:
    request = from_params({"q": ["refund"], "mode": ["semantic"]})
    assert request.mode == "dense" and to_params(request)["mode"] == ["dense"]
