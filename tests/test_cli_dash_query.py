"""A CLI query may start with an exclusion (-word), as the query syntax allows.

Found by an exploratory tester: ``searchapp search "-microsoft privacy data collection"``
failed with "No such option: -m", and ``searchapp search -- "-microsoft ..." -k 2`` with
"Got unexpected extra argument(s) (-k 2)", neither saying what would work.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from searchapp.cli.main import app
from tests.conftest import write

QUERY = "-microsoft privacy data collection"


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        "SEARCHAPP_DATA_DIR": str(tmp_path / "data"),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
    }
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env=env)

    write(tmp_path / "docs" / "ms.md", "# Privacy\n\nMicrosoft collects privacy data about your use.\n")
    write(tmp_path / "docs" / "contoso.md", "# Privacy\n\nContoso collects privacy data about your use.\n")
    assert invoke("ingest", str(tmp_path / "docs"), "-r").exit_code == 0
    return invoke


def found(result) -> list[str]:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return [hit["source"] for hit in json.loads(result.stdout)["results"]]


def test_a_quoted_query_that_starts_with_an_exclusion_is_a_query(run) -> None:  # type: ignore[no-untyped-def]
    for args in ([QUERY, "-k", "2"], ["-k", "2", QUERY], ["-k", "2", "--", QUERY]):
        assert found(run("search", "--json", *args)) == ["contoso.md"], args
    # -k is an option: a query word that starts with it is not its value.
    assert sorted(found(run("search", "-kubernetes privacy", "--json"))) == ["contoso.md", "ms.md"]
    # The value of an option stays its value, spaces and all.
    assert run("search", "privacy", "--contains", "-not there", "--json").exit_code == 1


def test_a_dash_word_alone_or_options_after_double_dash_are_told_the_form_that_works(run) -> None:  # type: ignore[no-untyped-def]
    alone = run("search", "-microsoft", "-k", "2")
    assert alone.exit_code == 2
    assert "No such option: -m" in alone.stderr and "search -k 2 -- -microsoft" in alone.stderr, alone.stderr
    after = run("search", "--", QUERY, "-k", "2")
    assert after.exit_code == 2
    assert f"search -k 2 -- '{QUERY}'" in after.stderr and "before '--'" in after.stderr, after.stderr
    split = run("search", "privacy", "-microsoft")  # two arguments: one query, quoted
    assert split.exit_code == 2 and "search -- 'privacy -microsoft'" in split.stderr, split.stderr
    typo = run("search", "privacy", "--jsn")  # a mistyped option is not taken for a query
    assert typo.exit_code == 2 and " -- " not in typo.stderr, typo.stderr
    wrong_k = run("search", "-k", "0", "--", QUERY)  # rightly after "--": the error is -k's alone
    assert wrong_k.exit_code == 2 and " -- " not in wrong_k.stderr, wrong_k.stderr
