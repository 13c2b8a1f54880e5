"""The Sources and Duplicates pages through AppTest: a newcomer adds a folder, edits, renames and
deletes files, syncs, and search follows; the mass-delete guard asks first; a near-duplicate is hidden."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from searchapp.ui import resources
from tests.conftest import write
from tests.sources_helpers import backdate, prose
from tests.ui_helpers import ENV, doc_id, new_app, open_page, run, search, sources, texts


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SEARCHAPP_DATA_DIR", str(tmp_path / "data"))
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    yield tmp_path
    resources.release_all()


def _settle(root: Path) -> None:
    rng = random.Random(1)
    for path in root.rglob("*"):
        if path.is_file():
            backdate(path, rng)


def _add(at: AppTest, folder: Path, name: str, *, watch: bool = False) -> AppTest:
    at.text_input(key="source_location").input(str(folder))
    at.text_input(key="source_name").input(name)
    at.checkbox(key="source_watch").set_value(watch)
    at.button(key="FormSubmitter:add_source-Add and sync").click()
    return run(at)


def plain(elements: object) -> str:
    """The elements' text, without the Markdown escapes the page adds."""
    return " ".join(texts(elements)).replace("\\", "")


def _sync_now(at: AppTest, name: str) -> AppTest:
    at.button(key=f"sync_{name}").click()
    return run(at)


def test_a_folder_added_on_the_sources_page_is_followed_by_search(app_env: Path) -> None:
    root = app_env / "handbook"
    write(root / "travel.md", "# Travel\n\nExpenses are claimed within thirty days with receipts.")
    write(root / "it/laptops.txt", "Laptops are replaced every four years by the IT desk.")
    write(root / "leave.txt", "Parental leave lasts sixteen weeks.")
    _settle(root)
    at = open_page(run(new_app()), "sources")
    assert any("No sources yet" in t for t in texts(at.info))
    at = _add(at, root, "handbook")
    assert "handbook: synced: 3 new" in plain(at.success), plain(at.success)
    assert "3 files · 3 documents" in plain(at.markdown)

    (root / "it/laptops.txt").rename(root / "it/hardware.txt")
    write(root / "travel.md", "# Travel\n\nExpenses are now claimed within sixty days, receipts scanned.")
    write(root / "broken.pdf", b"%PDF-1.7 cut off")
    _settle(root)
    at = _sync_now(at, "handbook")
    flash = plain(at.success)
    assert "1 changed, 1 moved or renamed" in flash and "1 failed" in flash
    assert at.expander and "files need attention" in at.expander[0].label

    at = open_page(at, "search")
    assert sources(search(at, "replaced every four years laptops")) >= {"handbook/it/hardware.txt"}
    found = search(at, "sixty days expenses")
    assert "now claimed within" in found[0].passage and "handbook/travel.md" in found[0].header.replace(
        "\\", ""
    )

    (root / "leave.txt").unlink()
    at = _sync_now(open_page(at, "sources"), "handbook")
    at = open_page(at, "search")
    assert "handbook/leave.txt" not in sources(search(at, "parental leave sixteen weeks"))

    # Deleting a synced document by hand: the page says the next sync brings it back.
    at = open_page(at, "library")
    at.selectbox(key="library_doc").set_value(doc_id("handbook/travel.md"))
    at.button(key="library_delete").click()
    warning = plain(run(at).warning)
    assert "It will come back" in warning and "handbook/travel.md still holds it" in warning, warning


def test_the_page_asks_before_a_sync_empties_a_source_and_toggles_watching(app_env: Path) -> None:
    root = app_env / "share"
    for i in range(4):
        write(root / f"f{i}.txt", prose(random.Random(i), 40))
    _settle(root)
    at = _add(open_page(run(new_app()), "sources"), root, "share")
    for path in root.iterdir():
        path.unlink()
    at = _sync_now(at, "share")
    assert "would remove 4 of the 4 documents" in plain(at.warning)
    assert resources.get_library(resources.load_settings()).documents()  # nothing removed
    at.button(key="sync_anyway_share").click()
    at = run(at)
    assert resources.get_library(resources.load_settings()).documents() == []
    at.toggle(key="watch_share").set_value(True)
    at = run(at)
    assert "watching on" in plain(at.success)
    assert resources.get_sources(resources.load_settings()).get("share").spec.watch
    at.button(key="remove_share").click()
    at = run(at)
    at.button(key="remove_all_share").click()
    at = run(at)
    assert resources.get_sources(resources.load_settings()).all() == []


def test_a_near_duplicate_is_hidden_from_search_on_the_duplicates_page(app_env: Path) -> None:
    root = app_env / "policies"
    text = prose(random.Random(5), 300)
    words = text.split()
    for i in range(0, len(words), 30):
        words[i] = "revised"
    write(root / "policy.txt", text)
    write(root / "policy-v2.txt", " ".join(words))
    write(root / "z-copy/policy.txt", text)
    _settle(root)
    at = _add(open_page(run(new_app()), "sources"), root, "pol")
    at = open_page(at, "duplicates")
    body = plain(at.markdown)
    assert "alike" in body and "pol/policy-v2.txt" in body and "pol/z-copy/policy.txt" in body
    at.button(key="hide_0_a").click()  # the first of the pair: pol/policy-v2.txt
    at = run(at)
    assert "hidden from search" in plain(at.markdown)
    at = open_page(at, "search")
    assert "pol/policy-v2.txt" not in sources(search(at, " ".join(words[40:50])))
