"""Feedback round trip in a real Chromium: 👍/👎 on result cards and "None of these are right",
kept with the library, shown again on reload and counted on the Tune page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from searchapp import Settings
from searchapp.feedback import FeedbackLog
from searchapp.ingest import ingest_paths
from searchapp.library import Library
from tests.app_server import Server, running_app
from tests.conftest import write
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, ask, settle

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]

DOCS = {
    "travel.md": "# Travel\n\nClaim travel expenses within thirty days, with the receipts attached.",
    "security.md": "# Security\n\nLaptops need full disk encryption and a screen lock after five minutes.",
    "leave.md": "# Leave\n\nEvery employee has twenty-five days of paid leave a year.",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings.load(environ={}, data_dir=tmp_path / "data", workers=1)
    for name, text in DOCS.items():
        write(tmp_path / "docs" / name, text)
    with Library.open(settings) as library:
        ingest_paths(library, [tmp_path / "docs"])
    return settings


@pytest.mark.timeout(900)
def test_feedback_round_trip_in_chromium(settings: Settings, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (scripts/test.sh does this)")
    with running_app(settings, tmp_path) as server:
        _vote_in_the_browser(server, tmp_path)
    with Library.open(settings) as library:  # the app has stopped: what it kept is in the library
        items = FeedbackLog.of(library).list()
    assert [(i.verdict, i.query) for i in items] == [
        ("good", "how do I claim travel expenses"),
        ("bad", "how do I claim travel expenses"),
        ("none", "parking for visitors"),
    ]
    good, bad, none = items
    assert good.source == "travel.md" and good.rank == 1 and "receipts" in good.passage
    assert bad.rank == 2 and bad.chunk_id != good.chunk_id
    assert len(none.shown) == len(DOCS) and all(i.mode == "adaptive" and i.user == "" for i in items)


def _vote_in_the_browser(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1300})
            page.goto(server.url)
            expect(page.get_by_label("Search query")).to_be_visible(timeout=180_000)
            ask(page, "how do I claim travel expenses")
            first = page.locator('[class*="st-key-hit-1"]')
            second = page.locator('[class*="st-key-hit-2"]')
            expect(first).to_contain_text("receipts")
            first.get_by_role("radio", name="Thumbs up").click()
            settle(page)
            second.get_by_role("radio", name="Thumbs down").click()
            settle(page)
            page.screenshot(path=str(tmp_path / "votes.png"), full_page=True)

            ask(page, "parking for visitors")
            page.get_by_role("button", name="None of these are right").click()
            settle(page)
            expect(page.get_by_text("You said none of these passages answers this query")).to_be_visible()

            # A reload shows this browser's earlier verdicts (read back from the library).
            ask(page, "how do I claim travel expenses")
            expect(first.get_by_role("radio", name="Thumbs up")).to_have_attribute("aria-checked", "true")

            page.get_by_role("link", name="Tune").click()
            settle(page)
            expect(page.get_by_text("👍 passages", exact=True)).to_be_visible(timeout=60_000)
            main = " ".join(page.locator('[data-testid="stMain"]').inner_text().split())
            for label in ("👍 passages", "👎 passages", "None right"):
                assert re.search(rf"{label} 1\b", main), main[:500]
        finally:
            browser.close()
