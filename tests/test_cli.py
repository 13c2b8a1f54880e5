"""The `searchapp` command: real commands over a real store, their output and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from searchapp.cli.main import app
from tests.conftest import ROOT, write
from tests.helpers import make_pdf


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {
        "SEARCHAPP_DATA_DIR": str(tmp_path / "data"),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
    }

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env=env)

    return invoke


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    write(folder / "guide.md", "# Guide\n\n## Packing\nBring a raincoat and walking shoes for the trails.\n")
    write(folder / "sub" / "memo.txt", "Invoices must be paid within thirty days of receipt.")
    write(
        folder / "report.pdf",
        make_pdf(["Revenue grew in the third quarter.", "Costs fell in the fourth quarter."]),
    )
    write(folder / "broken.pdf", b"%PDF-1.7 this is not really a pdf")
    write(folder / "picture.png", b"\x89PNG\r\n\x1a\n")
    return folder


def test_ingest_reports_each_file_and_fails_with_exit_1(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", str(corpus), "--recursive", "--tag", "team", "--json")
    assert result.exit_code == 1  # broken.pdf failed; the others went in
    report = json.loads(result.stdout)
    by_source = {f["source"]: f for f in report["files"]}
    assert by_source["guide.md"]["status"] == "ingested"
    assert by_source["sub/memo.txt"]["status"] == "ingested"
    assert by_source["report.pdf"]["status"] == "ingested"
    assert by_source["broken.pdf"]["reason"] == "damaged_pdf"
    assert "picture.png" not in by_source
    assert "skipping 1 files of unsupported types: picture.png (supported" in result.stderr

    again = run("ingest", str(corpus), "--recursive")
    assert again.exit_code == 1
    assert "= guide.md: unchanged" in again.stdout
    assert "0 ingested (0 chunks), 3 unchanged, 1 failed" in again.stderr


def test_search_json_filters_and_exit_codes(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(corpus), "-r", "--tag", "team")
    result = run("search", "when are invoices due", "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["k"] == 2 and data["mode"] == "adaptive"
    assert data["results"][0]["source"] == "sub/memo.txt"
    assert data["results"][0]["rank"] == 1 and -1 <= data["results"][0]["score"] <= 1

    pages = json.loads(run("search", "quarter", "--pages", "2", "--type", "pdf", "--json").stdout)
    assert [(r["source"], r["page"]) for r in pages["results"]] == [("report.pdf", 2)]
    by_doc = json.loads(run("search", "quarter", "--doc", "guide.md", "--json").stdout)
    assert {r["source"] for r in by_doc["results"]} == {"guide.md"}
    # --doc takes what doc: takes: part of a name names every document that holds it.
    for args in (["invoices", "--doc", "sub/"], ["invoices doc:sub/"]):
        in_sub = json.loads(run("search", *args, "--json").stdout)
        assert {r["source"] for r in in_sub["results"]} == {"sub/memo.txt"}, args
    tagged = run("search", "quarter", "--tag", "nobody-uses-this", "--json")
    assert tagged.exit_code == 1 and json.loads(tagged.stdout)["results"] == []
    contains = json.loads(run("search", "anything", "--contains", "RAINCOAT", "--json").stdout)
    assert [r["source"] for r in contains["results"]] == ["guide.md"]

    for mode in ("dense", "keyword", "hybrid"):
        moded = json.loads(run("search", "invoices paid", "--mode", mode, "--json").stdout)
        assert moded["mode"] == mode and moded["results"][0]["source"] == "sub/memo.txt"
    hybrid = run("search", "invoices paid", "--mode", "hybrid").stdout
    assert re.search(r"hybrid score · cosine -?\d\.\d{3} · semantic #\d+", hybrid), hybrid
    assert run("search", "invoices", "--mode", "telepathy").exit_code == 2

    human = run("search", "when are invoices due", "-k", "1", "--after", "2000-01-01")
    assert human.exit_code == 0
    assert "1. " in human.stdout and "sub/memo.txt" in human.stdout

    assert run("search", "   ").exit_code == 2
    assert "the query is empty" in run("search", "   ").stderr
    assert run("search", "x", "--pages", "nine").exit_code == 2
    assert run("search", "x", "--pages", "9-1").exit_code == 2
    assert run("search", "x", "--after", "notadate").exit_code == 2
    assert run("search", "x", "--doc", "no-such-doc").exit_code == 3
    assert run("search", "x", "-k", "0").exit_code == 2

    # The query syntax: filters typed in the query, added to the options; bad syntax is a usage error.
    typed = json.loads(run("search", "quarter type:pdf page:2", "--json").stdout)
    assert [(r["source"], r["page"]) for r in typed["results"]] == [("report.pdf", 2)]
    assert typed["query"] == "quarter type:pdf page:2"
    both = json.loads(run("search", "quarter doc:guide", "--doc", "report.pdf", "--json").stdout)
    assert {r["source"] for r in both["results"]} == {"guide.md", "report.pdf"}
    excluded = json.loads(run("search", 'quarter -revenue "costs fell"', "--json").stdout)
    assert [r["page"] for r in excluded["results"]] == [2]
    assert json.loads(run("search", "ratio: 3 to 1", "--json").stdout)["query"] == "ratio: 3 to 1"
    unclosed = run("search", 'quarter "costs fell')
    assert unclosed.exit_code == 2 and "a phrase is not closed" in unclosed.stderr
    assert run("search", "quarter type:xls").exit_code == 2
    twice = run("search", "quarter page:2", "--pages", "1")  # given twice, differently
    assert twice.exit_code == 2 and "given twice" in twice.stderr


def test_docs_stats_delete(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(corpus), "-r")
    docs = json.loads(run("docs", "--json").stdout)
    assert sorted(d["source"] for d in docs) == ["guide.md", "report.pdf", "sub/memo.txt"]
    assert all(d["chunks"] >= 1 for d in docs)
    table = run("docs").stdout
    assert table.splitlines()[0].split()[:4] == ["document", "type", "pages", "chunks"]

    stats = json.loads(run("stats", "--json").stdout)
    assert stats["documents"] == 3 and stats["mode"] == "local" and stats["model"] == "hash:64"
    assert stats["chunks"] == sum(d["chunks"] for d in docs)

    deleted = run("delete", "guide.md", "--yes")
    assert deleted.exit_code == 0 and "deleted guide.md" in deleted.stderr
    assert sorted(d["source"] for d in json.loads(run("docs", "--json").stdout)) == [
        "report.pdf",
        "sub/memo.txt",
    ]
    assert run("delete", "guide.md", "--yes").exit_code == 3


def test_groups_at_ingest_in_docs_and_changed_later(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("ingest", str(corpus / "guide.md"), "--groups", "legal", "-g", "hr")
    assert result.exit_code == 0, result.output
    run("ingest", str(corpus / "sub" / "memo.txt"))
    docs = {d["source"]: d["groups"] for d in json.loads(run("docs", "--json").stdout)}
    assert docs == {"guide.md": ["legal", "hr"], "memo.txt": []}
    table = run("docs").stdout.splitlines()
    assert table[0].split()[:7] == ["document", "type", "pages", "chunks", "size", "tags", "groups"]
    assert "legal,hr" in next(line for line in table if line.startswith("guide.md"))
    assert run("groups", "guide.md").stdout.strip() == "legal, hr"
    assert run("groups", "memo.txt").stdout.strip() == "(everyone)"
    assert run("groups", "memo.txt", "board").stdout.strip() == "board"
    assert run("groups", "guide.md", "--clear").stdout.strip() == "(everyone)"
    docs = {d["source"]: d["groups"] for d in json.loads(run("docs", "--json").stdout)}
    assert docs == {"guide.md": [], "memo.txt": ["board"]}
    assert run("groups", "memo.txt", "x", "--clear").exit_code == 2
    bad = run("ingest", str(corpus / "report.pdf"), "--groups", " ")
    assert bad.exit_code == 3 and "group name" in bad.stderr


def test_reindex_rebuilds_everything(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(corpus), "-r")
    before = json.loads(run("stats", "--json").stdout)
    result = run("reindex", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ingested"] == 3
    after = json.loads(run("stats", "--json").stdout)
    assert (after["documents"], after["chunks"]) == (before["documents"], before["chunks"])


def test_bad_settings_are_one_clear_line(run) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["stats"], env={"SEARCHAPP_CHUNK_TOKENS": "lots"})
    assert result.exit_code == 3
    assert (
        result.stderr.strip()
        == "error: SEARCHAPP_CHUNK_TOKENS must be an integer; got 'lots' (from environment)"
    )
    assert run("search", "x", "--collection", "x").exit_code == 3


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys, searchapp.cli.main as c\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(c.app, ['--help'])\n"
        "assert r.exit_code == 0 and 'ingest' in r.stdout\n"
        "heavy = [m for m in ('torch', 'chromadb', 'sentence_transformers', 'pypdf', 'streamlit') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_search_group_similar_and_compare(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(corpus), "-r")
    grouped = json.loads(run("search", "quarter revenue costs", "--group", "-k", "1", "--json").stdout)
    (group,) = grouped["groups"]
    assert group["source"] == "report.pdf" and len(group["others"]) == 1
    assert all(0 <= r["score"] <= 1 for r in grouped["results"])
    human = run("search", "quarter revenue costs", "--group", "-k", "1")
    assert "1 more passage in this document:" in human.stdout

    text = run("search", "revenue third quarter", "-k", "1", "--mode", "dense").stdout
    short = re.search(r"id ([0-9a-f]{12}:\d+)", text)
    assert short and "semantic score" in text, text
    similar = run("similar", short.group(1), "--json")
    assert similar.exit_code == 0, similar.output
    data = json.loads(similar.stdout)
    assert data["results"] and data["mode"] == "adaptive"
    seed_id = json.loads(
        run("search", "revenue third quarter", "-k", "1", "--mode", "dense", "--json").stdout
    )["results"][0]["chunk_id"]
    assert seed_id.startswith(short.group(1).split(":")[0]) and seed_id.endswith(
        ":" + short.group(1).split(":")[1]
    )
    assert seed_id not in {r["chunk_id"] for r in data["results"]}
    only_md = json.loads(run("similar", seed_id, "--type", "md", "--json").stdout)
    assert {r["source"] for r in only_md["results"]} == {"guide.md"}
    unknown = run("similar", seed_id.split(":")[0] + ":99")
    assert unknown.exit_code == 3 and "no stored passage has the id" in unknown.stderr

    same = run("compare", "invoices are due", "invoices are due")
    assert same.exit_code == 0 and same.stdout.strip() == "similarity 1.000 (cosine 1.000)"
    apart = json.loads(run("compare", "invoices are due", "zebra xylophone", "--json").stdout)
    assert apart == {"similarity": 0.0, "cosine": apart["cosine"]} and apart["cosine"] <= 0
    assert run("compare", "x", " ").exit_code == 2  # an empty text is a usage error


def test_off_topic_search_notes_the_weak_match(run, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(corpus), "-r")
    weak = run("search", "zebra xylophone", "--mode", "dense")
    assert weak.exit_code == 0 and "note: no passage matches the query well" in weak.stderr
    assert (
        json.loads(run("search", "zebra xylophone", "--mode", "dense", "--json").stdout)["weak_match"] is True
    )
    strong = run("search", "invoices paid within thirty days", "--mode", "dense")
    assert "no passage matches" not in strong.stderr


def test_ingest_password_option_and_prompt(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    locked = write(
        tmp_path / "in" / "locked.pdf", make_pdf(["Travel budget doubles."], encrypt_user_password="pw1")
    )
    failed = run("ingest", str(locked))
    assert failed.exit_code == 1 and "needs a password" in failed.stdout and "--password" in failed.stdout
    wrong = run("ingest", str(locked), "--password", "nope")
    assert wrong.exit_code == 1 and "the password is not right" in wrong.stdout
    ok = run("ingest", str(locked), "--password", "pw1")
    assert ok.exit_code == 0 and "+ locked.pdf: ingested" in ok.stdout
    assert "pw1" not in ok.output

    # On a terminal, a hidden prompt asks for each encrypted file (Enter skips).
    other = write(tmp_path / "in" / "other.pdf", make_pdf(["Meeting notes."], encrypt_user_password="pw2"))
    monkeypatch.setattr("searchapp.cli.documents._interactive", lambda: True)
    runner = CliRunner()
    env = {
        "SEARCHAPP_DATA_DIR": str(tmp_path / "data"),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
    }
    prompted = runner.invoke(app, ["ingest", str(other)], env=env, input="wrong\npw2\n")
    assert prompted.exit_code == 0, prompted.output
    assert prompted.stderr.count("Password for other.pdf") == 2
    assert "the password is not right" in prompted.stderr
    assert "+ other.pdf: ingested" in prompted.stdout
    assert "pw2" not in prompted.output
    skipped = runner.invoke(
        app,
        ["ingest", str(write(tmp_path / "in" / "third.pdf", make_pdf(["x y z"], encrypt_user_password="p")))],
        env=env,
        input="\n",
    )
    assert skipped.exit_code == 1 and "! third.pdf: failed: password-protected" in skipped.stdout


def test_ui_demo_loads_the_samples_before_starting(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    started: list[list[str]] = []

    def fake_exec(path: str, argv: list[str], env: dict[str, str]) -> None:
        started.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execvpe", fake_exec)
    result = run("ui", "--demo", "--port", "8599")
    assert result.exit_code == 0, result.output
    assert "sample documents: 3 ingested" in result.stderr
    assert started and started[0][-1] == "--server.port=8599" and started[0][4].endswith("server.py")
    docs = json.loads(run("docs", "--json").stdout)
    assert sorted(d["source"] for d in docs) == [
        "introduction-to-mathematics.html",
        "the-modern-orchestra.txt",
        "us-constitution.pdf",
    ]
    assert all(d["tags"] == ["sample"] for d in docs)
    again = run("ui", "--demo")
    assert "sample documents: 0 ingested (0 chunks), 3 unchanged" in again.stderr


@pytest.mark.model
@pytest.mark.timeout(600)
def test_real_model_cli_ingest_then_search(tmp_path: Path, shared_pdfs: Path) -> None:
    """The issue's 'done when', on a slice of the real corpus, through the installed command."""
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in (
        "unst__multi-column-2p.pdf",
        "pdfjs__issue13201.pdf",
        "pysample__libreoffice-writer-password.pdf",
    ):
        (folder / name).write_bytes((shared_pdfs / name).read_bytes())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEARCHAPP_DATA_DIR": str(tmp_path / "data")}
    cli = [sys.executable, "-m", "searchapp.cli"]
    ingest = subprocess.run(
        [*cli, "ingest", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=500,
        stdin=subprocess.DEVNULL,  # no terminal: no password prompt
    )
    assert ingest.returncode == 1, ingest.stderr  # the password-protected file fails, clearly
    assert "! pysample__libreoffice-writer-password.pdf: failed: password-protected" in ingest.stdout
    assert "2 ingested" in ingest.stderr
    unlocked = subprocess.run(
        [*cli, "ingest", str(folder), "--password", "openpassword"],
        capture_output=True,
        text=True,
        env=env,
        timeout=500,
        stdin=subprocess.DEVNULL,
    )
    assert unlocked.returncode == 0, unlocked.stderr
    assert "+ pysample__libreoffice-writer-password.pdf: ingested" in unlocked.stdout
    assert "openpassword" not in unlocked.stdout + unlocked.stderr
    search = subprocess.run(
        [
            *cli,
            "search",
            "dense vector retrieval for answering open-domain questions",
            "-k",
            "3",
            "--type",
            "pdf",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert search.returncode == 0, search.stderr
    results = json.loads(search.stdout)["results"]
    assert results[0]["source"] == "unst__multi-column-2p.pdf"
    assert [r["rank"] for r in results] == [1, 2, 3]
    assert results[0]["score"] > results[-1]["score"] > 0
