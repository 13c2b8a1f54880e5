"""A newcomer in a real Chromium points the app at a folder, then edits, renames and deletes files
in it, and watches search follow (the app watches the folder: no button is pressed after adding it)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from searchapp import Settings
from tests.app_server import Server, running_app
from tests.conftest import write
from tests.test_browser import CHROMIUM, Shots, ask, open_chromium, settle

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings.load(environ={}, data_dir=tmp_path / "data")  # the real default model
    with running_app(settings, tmp_path) as running:
        yield running


def _old(path: Path) -> None:
    moment = time.time() - 60
    os.utime(path, (moment, moment))


def _hits(page: Any) -> str:
    return " ".join(page.locator('[class*="st-key-hit-"]').all_inner_texts())


def _until(page: Any, query: str, check: Any, timeout: float = 90) -> str:
    """Search again until `check(results text)` holds (the watcher syncs in the background)."""
    deadline = time.monotonic() + timeout
    ask(page, query)
    while True:
        found = _hits(page)
        if check(found):
            return found
        assert time.monotonic() < deadline, f"{query!r}: search never followed; last results: {found[:500]}"
        page.wait_for_timeout(1000)
        page.reload()  # the query is in the address bar: the reload searches again
        settle(page)


def test_a_newcomer_points_the_app_at_a_folder_and_search_follows_its_changes(
    server: Server, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (scripts/test.sh does this)")
    folder = tmp_path / "team-handbook"
    write(folder / "travel.md", "# Travel\n\nTravel expenses are claimed within thirty days, with receipts.")
    write(folder / "it" / "laptops.txt", "Laptops are replaced every four years by the IT service desk.")
    write(folder / "leave.txt", "Parental leave lasts sixteen weeks and can be split in two.")
    for path in folder.rglob("*.*"):
        _old(path)
    shot = Shots(tmp_path)
    with sync_playwright() as p:
        context = open_chromium(p, tmp_path)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(server.url)
            page.get_by_role("link", name="Sources").click()
            expect(page.get_by_text("No sources yet")).to_be_visible(timeout=180_000)
            page.get_by_role("textbox", name="Folder").fill(str(folder))
            page.get_by_role("textbox", name="Name").fill("handbook")
            page.get_by_role("button", name="Add and sync").click()
            # The notice; the source's own panel may show the same outcome at once.
            notice = page.get_by_test_id("stAlertContentSuccess").get_by_text("handbook: synced: 3 new")
            expect(notice).to_be_visible(timeout=180_000)
            settle(page)
            shot(page, "sources-added")

            page.get_by_role("link", name="Search").click()
            # The card's heading can render before its passage: wait for both.
            found = _until(
                page,
                "how long do I have to claim travel costs",
                lambda t: "handbook/travel.md" in t and "thirty days" in t,
            )
            assert "thirty days" in found

            # Edit, rename and delete in the folder; the app, watching it, follows.
            write(
                folder / "travel.md",
                "# Travel\n\nTravel expenses are now claimed within sixty days, receipts scanned.",
            )
            (folder / "it" / "laptops.txt").rename(folder / "it" / "hardware-policy.txt")
            (folder / "leave.txt").unlink()
            _until(page, "claim travel expenses", lambda t: "sixty days" in t and "thirty days" not in t)
            _until(
                page,
                "when are laptops replaced",
                lambda t: "handbook/it/hardware-policy.txt" in t and "laptops.txt" not in t,
            )
            _until(page, "parental leave weeks", lambda t: "handbook/leave.txt" not in t)
            shot(page, "search-followed")

            page.get_by_role("link", name="Sources").click()
            expect(page.get_by_text("Last sync")).to_be_visible(timeout=60_000)
            settle(page)
            shot(page, "sources-status")
        finally:
            context.close()
