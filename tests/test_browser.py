"""The newcomer's path in a real Chromium, offline: samples, search, feedback, filters, links, uploads.

One app server started the way `searchapp ui` does (the launcher's command, with the
shipped config as flags) on 127.0.0.1 and a free port, with the real bundled model and a
fresh data directory; Debian's Chromium driven through Playwright. Every request the page
makes is recorded, and all must go to 127.0.0.1 (no font or icon from a CDN). A
screenshot of each state goes to `test-artifacts/` at the repository root (and to
pytest's tmp dir). The feedback round trip rides along: 👍/👎 on two cards and "None of
these are right" on an off-topic query, read back on the page and on the Tune page, and
found in the library once the app has stopped.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from searchapp import Settings
from searchapp.feedback import FeedbackLog
from searchapp.library import Library
from tests.app_server import Server, running_app
from tests.conftest import PDF_DIR, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
LOCKED_PDF = PDF_DIR / "pysample__libreoffice-writer-password.pdf"
LOCKED_PASSWORD = "openpassword"  # MANIFEST.tsv
CHROMIUM_FLAGS = [
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = ("data:", "blob:", "chrome-extension:", "chrome:", "about:")


def open_chromium(playwright: Any, tmp_path: Path, **options: Any) -> Any:
    """Debian's Chromium, headless, with a fresh profile under `tmp_path` and a tall window."""
    return playwright.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1280, "height": 1300},
        **options,
    )


HOSTILE_MD = (
    "# Tracking notes\n\n"
    'Shipping quirks: <script>window.__xss = 1</script> <img src=x onerror="window.__xss = 2">\n'
    "[click me](javascript:window.__xss=3) ![pixel](http://evil.invalid/t.png) $E=mc^2$ "
    "`rm -rf` **bold** <b>tag</b> www.evil.invalid\n"
)
SCORE_RE = re.compile(r"(Adaptive|Hybrid|Semantic|Keyword) score (\d\.\d{3})")


class Shots:
    """Numbered screenshots in test-artifacts/ (and pytest's tmp dir)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.count = 0
        ARTIFACTS.mkdir(exist_ok=True)
        for old in ARTIFACTS.glob("browser-*.png"):
            old.unlink()

    def __call__(self, page: Any, name: str, *, top: bool = True) -> None:
        if top:  # the results scroll inside the main area: show its top
            page.evaluate(
                "() => { const main = document.querySelector('[data-testid=\"stMain\"]');"
                " if (main) { main.scrollTo(0, 0); } window.scrollTo(0, 0); }"
            )
        self.count += 1
        target = ARTIFACTS / f"browser-{self.count:02d}-{name}.png"
        page.screenshot(path=str(target), full_page=True)
        (self.tmp_path / target.name).write_bytes(target.read_bytes())


def settle(page: Any, timeout: float = 120_000) -> None:
    """Wait for the script run to end and the stale elements of the last one to go."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')"
        " && !document.querySelector('[data-testid^=\"stSkeleton\"]')",
        timeout=timeout,
    )


def card_scores(page: Any) -> list[tuple[str, float]]:
    """(mode, big number) of each result card, top to bottom."""
    found = []
    for text in page.locator('[class*="st-key-hit-"]').all_inner_texts():
        match = SCORE_RE.search(text)
        assert match, text
        found.append((match.group(1), float(match.group(2))))
    return found


def ask(page: Any, query: str) -> None:
    box = page.get_by_label("Search query", exact=True)
    box.fill(query)
    box.press("Enter")
    settle(page)


def sidebar(page: Any) -> Any:
    return page.locator('[data-testid="stSidebar"]')


def pick_mode(page: Any, label: str) -> None:
    sidebar(page).get_by_text(label, exact=True).click()
    settle(page)


def app_background(page: Any) -> str:
    return str(
        page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')"
            " || document.querySelector('.stApp')).backgroundColor"
        )
    )


def luminance(css_color: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def _pdf_viewer_frame(tab: Any, timeout: float = 30) -> Any:
    """The frame of Chromium's built-in PDF viewer, once it has attached."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in tab.frames:
            if frame.url.startswith("chrome-extension://"):
                return frame
        tab.wait_for_timeout(250)
    pytest.fail(f"no PDF viewer frame in {tab.url} after {timeout:.0f} s: {[f.url for f in tab.frames]}")


@pytest.mark.timeout(1500)
def test_newcomer_path_offline(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (scripts/test.sh does this)")
    if not LOCKED_PDF.is_file():
        pytest.fail(f"the shared PDF corpus is missing: {LOCKED_PDF}")
    settings = Settings.load(environ={}, data_dir=tmp_path / "data")  # the real default model
    with running_app(settings, tmp_path) as server:
        _walk(server, tmp_path)
    # The 👍, 👎 and "None of these are right" given in the walk are kept with the library.
    with Library.open(settings) as library:
        items = FeedbackLog.of(library).list()
    assert [(i.verdict, i.query) for i in items] == [
        ("good", "how long is the term of a senator"),
        ("bad", "how long is the term of a senator"),
        ("none", "recipe for chocolate cake"),
    ]
    good, bad, none = items
    assert good.source == "us-constitution.pdf" and good.rank == 1 and "senator" in good.passage.lower()
    assert bad.rank > 1 and bad.chunk_id != good.chunk_id and bad.source != good.source
    assert none.shown and all(i.mode == "adaptive" and i.user == "" for i in items)


def _walk(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    hostile = tmp_path / "tracking-notes [x](javascript:window.__xss=4) <img src=x onerror=window.__xss=5>.md"
    hostile.write_text(HOSTILE_MD, encoding="utf-8")
    shot = Shots(tmp_path)
    requests: list[str] = []

    with sync_playwright() as p:
        context = open_chromium(p, tmp_path, accept_downloads=True, color_scheme="light")
        context.on("request", lambda request: requests.append(request.url))
        context.on("page", lambda tab: tab.on("websocket", lambda ws: requests.append(ws.url)))
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.on("websocket", lambda ws: requests.append(ws.url))

            # 1. An empty library: the guide, and a way to try it at once. First render loads the model.
            page.goto(server.url)
            expect(page.get_by_text("Your library is empty")).to_be_visible(timeout=180_000)
            samples = page.get_by_role("button", name="Try it with sample documents")
            expect(samples).to_be_visible()
            assert luminance(app_background(page)) > 0.9, app_background(page)
            shot(page, "empty-library")

            # 2. The theme follows the OS: dark when the OS asks for dark.
            page.emulate_media(color_scheme="dark")
            page.reload()
            expect(page.get_by_text("Your library is empty")).to_be_visible(timeout=60_000)
            assert luminance(app_background(page)) < 0.2, app_background(page)
            shot(page, "dark-theme")
            page.emulate_media(color_scheme="light")
            page.reload()

            # 3. The sample documents, one click.
            page.get_by_role("button", name="Try it with sample documents").click()
            expect(page.get_by_text("Sample documents added")).to_be_visible(timeout=900_000)
            settle(page)
            shot(page, "samples-added")

            # 4. On load the search box has the focus.
            page.reload()
            box = page.get_by_label("Search query", exact=True)
            expect(box).to_be_visible(timeout=60_000)
            page.wait_for_function(
                "() => document.activeElement && document.activeElement.getAttribute('aria-label') === 'Search query'",
                timeout=30_000,
            )

            # 5. Grouped by document (the default): one card per document, the others in place.
            page.keyboard.type("how long is the term of a senator")
            page.keyboard.press("Enter")
            settle(page)
            cards = page.locator('[class*="st-key-hit-"]')
            expect(cards.first).to_contain_text("us-constitution.pdf", timeout=60_000)
            names = [re.search(r"#\d+ · (\S+)", t).group(1) for t in cards.all_inner_texts()]  # type: ignore[union-attr]
            assert len(names) == len(set(names)) == 3, names
            more = cards.first.get_by_text(re.compile(r"\d+ more passages? in this document"))
            expect(more).to_be_visible()
            more.click()
            expect(cards.first.get_by_text(re.compile(r"^page \d+"))).not_to_have_count(0)
            more.scroll_into_view_if_needed()
            shot(page, "grouped-results", top=False)
            more.click()  # fold it again

            # 5b. 👍 on the first card, 👎 on the second: kept with the library, never reordering.
            cards.nth(0).get_by_role("radio", name="Thumbs up").click()
            settle(page)
            cards.nth(1).get_by_role("radio", name="Thumbs down").click()
            settle(page)
            assert [re.search(r"#\d+ · (\S+)", t).group(1) for t in cards.all_inner_texts()] == names  # type: ignore[union-attr]
            shot(page, "votes")

            # 6. The big number falls down the page in every mode and names the mode.
            for label in ("Adaptive", "Hybrid", "Semantic", "Keyword"):
                pick_mode(page, label)
                scores = card_scores(page)
                assert scores and {mode for mode, _ in scores} == {label}, scores
                numbers = [score for _, score in scores]
                assert numbers == sorted(numbers, reverse=True), (label, numbers)
                assert all(0 <= n <= 1 for n in numbers)
                shot(page, f"scores-{label.lower()}")
            pick_mode(page, "Adaptive")

            # 7. Group toggle off: one card per passage, the same document several times.
            sidebar(page).get_by_text("Group by document").click()
            settle(page)
            texts = cards.all_inner_texts()
            assert len(texts) == 10, len(texts)
            assert sum("us-constitution.pdf" in t for t in texts) > 1
            numbers = [score for _, score in card_scores(page)]
            assert numbers == sorted(numbers, reverse=True), numbers
            shot(page, "ungrouped")
            sidebar(page).get_by_text("Group by document").click()
            settle(page)

            # 8. A document filter lives in the URL: a reload restores it.
            documents = sidebar(page).locator('[data-testid="stMultiSelect"]').filter(has_text="Documents")
            documents.click()
            page.keyboard.type("the-modern-orchestra")
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            # The run that applies the filter writes it to the URL; on a busy machine it may not
            # have started within settle's first 300 ms, so wait for it before settling.
            page.wait_for_url(re.compile(r"doc="), timeout=120_000)
            settle(page)
            assert {re.search(r"#\d+ · (\S+)", t).group(1) for t in cards.all_inner_texts()} == {  # type: ignore[union-attr]
                "the-modern-orchestra.txt"
            }
            assert "doc=" in page.url and "q=how+long" in page.url
            page.reload()
            expect(cards.first).to_contain_text("the-modern-orchestra.txt", timeout=60_000)
            settle(page)
            expect(documents.locator("[data-tag]")).to_have_count(1)
            assert (
                page.get_by_label("Search query", exact=True).input_value()
                == "how long is the term of a senator"
            )
            shot(page, "filter-restored-from-url")

            # 9. Clear filters: one click, and it stays cleared when the mode changes.
            sidebar(page).get_by_role("button", name="Clear filters").click()
            settle(page)
            expect(documents.locator("[data-tag]")).to_have_count(0)
            assert "us-constitution.pdf" in cards.first.inner_text()
            pick_mode(page, "Semantic")
            expect(documents.locator("[data-tag]")).to_have_count(0)
            assert "us-constitution.pdf" in cards.first.inner_text()
            assert "doc=" not in page.url
            shot(page, "filters-cleared-after-mode-change")
            pick_mode(page, "Adaptive")

            # 10. A page range says what it leaves out (the text and HTML samples have no pages).
            from_page = sidebar(page).get_by_role("spinbutton", name="From page")
            from_page.fill("1")
            from_page.press("Enter")
            settle(page)
            expect(
                page.get_by_text(re.compile("The page range leaves out 2 documents without pages"))
            ).to_be_visible()
            shot(page, "page-range-notice")
            sidebar(page).get_by_role("button", name="Clear filters").click()
            settle(page)

            # 11. An off-topic query says there is no good match.
            ask(page, "recipe for chocolate cake")
            expect(page.get_by_text("No good match.")).to_be_visible(timeout=60_000)
            page.get_by_role("button", name="None of these are right").click()
            settle(page)
            expect(page.get_by_text("You said none of these passages answers this query")).to_be_visible()
            shot(page, "no-good-match")
            ask(page, "how long is the term of a senator")
            expect(page.get_by_text("No good match.")).to_have_count(0)
            # The verdict given in 5b is read back from the library for this query.
            up = cards.first.get_by_role("radio", name="Thumbs up")
            expect(up).to_have_attribute("aria-checked", "true")

            # 12. More like this: the passage's neighbours in meaning, without the passage itself.
            ask(page, "which instruments play in an orchestra")
            # The passage is the card's longest piece of text.
            seed = max(cards.first.locator('[data-testid="stMarkdownContainer"]').all_inner_texts(), key=len)
            cards.first.get_by_role("button", name="More like this").first.click()
            settle(page)
            expect(page.get_by_text("More like this:")).to_be_visible()
            similar = cards.all_inner_texts()
            assert similar and not any(seed[:80] in text for text in similar)
            assert "like=" in page.url
            shot(page, "more-like-this")
            page.get_by_role("button", name="Back to the search").click()
            settle(page)

            # 13. Open at page: one click on a link; the PDF was not in the page before.
            ask(page, "the senate shall have the sole power to try all impeachments")
            card = cards.filter(has_text="us-constitution.pdf").first
            link = card.get_by_role("link", name=re.compile(r"Open at page \d+"))
            expect(link).to_be_visible()
            page_number = int(re.search(r"Open at page (\d+)", link.inner_text()).group(1))  # type: ignore[union-attr]
            href = link.get_attribute("href") or ""
            assert re.fullmatch(
                rf"/searchapp/original/[\w.-]+/us-constitution\.pdf#page={page_number}", href
            ), href
            assert not [url for url in requests if "/searchapp/original/" in url]
            with context.expect_page(timeout=30_000) as opened:
                link.click()
            pdf_tab = opened.value
            pdf_tab.wait_for_load_state()
            assert pdf_tab.url == f"{server.url}{href}"
            viewer = _pdf_viewer_frame(pdf_tab)
            expect(viewer.locator("#pageSelector")).to_have_value(str(page_number), timeout=30_000)
            shot(pdf_tab, "pdf-open-at-page")
            pdf_tab.close()

            # 14. Compare two texts.
            page.get_by_text("Compare two texts").click()
            page.get_by_label("First text").fill("The President may be removed from office on impeachment.")
            page.get_by_label("Second text").fill("Congress can impeach the president.")
            page.get_by_role("button", name=re.compile(r"Compare$")).click()
            settle(page)
            similarity = page.get_by_text(re.compile(r"^Similarity \d\.\d{3}$"))
            expect(similarity).to_be_visible()
            assert float(similarity.inner_text().split()[1]) > 0.5
            shot(page, "compare-two-texts")

            # 15. An encrypted PDF asks for its password; hostile Markdown goes in inert.
            page.get_by_role("link", name="Upload").first.click()
            uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
            expect(uploader).to_have_count(1, timeout=30_000)
            uploader.set_input_files([str(LOCKED_PDF), str(hostile)])
            password = page.locator(f'input[aria-label="Password for {LOCKED_PDF.name}"]')
            expect(password).to_be_visible(timeout=300_000)
            shot(page, "password-asked")
            password.fill(LOCKED_PASSWORD)
            page.get_by_role("button", name="Unlock and index").click()
            unlocked = page.get_by_text(re.compile(rf"{re.escape(LOCKED_PDF.name)}: \d+ chunks?"))
            expect(unlocked).to_be_visible(timeout=300_000)
            settle(page)
            expect(password).to_have_count(0)
            expect(page.get_by_text("Failed: 1 file")).to_have_count(0)  # the summary was updated
            shot(page, "encrypted-pdf-unlocked")

            page.get_by_role("link", name="Search").first.click()
            ask(page, "lorem ipsum dolor sit amet")
            expect(cards.filter(has_text=LOCKED_PDF.name).first).to_be_visible(timeout=60_000)
            ask(page, "tracking pixel shipping quirks")
            hostile_card = cards.filter(has_text="tracking-notes").first
            expect(hostile_card).to_contain_text("[click me](javascript:window.__xss=3)", timeout=60_000)
            expect(hostile_card).to_contain_text("<script>window.__xss = 1</script>")
            # Its text makes no markup: the card's only links are its own "Download original"
            # (our checked route, tests/test_original_routes.py), none from the document.
            assert hostile_card.locator("img, script, b").count() == 0
            hrefs = hostile_card.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
            assert hrefs and all(h.startswith("/searchapp/download/") for h in hrefs), hrefs
            assert page.evaluate("() => window.__xss") is None
            link = hostile_card.get_by_role("link", name="Download original").first
            original = page.request.get(f"{server.url}{link.get_attribute('href')}")
            assert original.ok and original.headers["content-disposition"].startswith("attachment")
            assert original.text() == HOSTILE_MD

            page.get_by_role("link", name="Library").first.click()
            library_summary = page.get_by_role("main").get_by_text(re.compile(r"^5 documents · \d+ chunks"))
            expect(library_summary).to_be_visible(timeout=60_000)
            expect(page.locator('[data-testid="stDataFrame"]')).to_be_visible(timeout=60_000)
            settle(page)
            page.wait_for_timeout(1000)  # the table is a canvas: let it paint
            shot(page, "library")

            # The Tune page counts the verdicts given above.
            page.get_by_role("link", name="Tune").first.click()
            expect(page.get_by_text("👍 passages", exact=True)).to_be_visible(timeout=60_000)
            settle(page)
            main = " ".join(page.locator('[data-testid="stMain"]').inner_text().split())
            for label in ("👍 passages", "👎 passages", "None right"):
                assert re.search(rf"{label} 1\b", main), main[:500]
            shot(page, "tune")
        finally:
            context.close()

    # 16. Nothing left 127.0.0.1 during the whole test.
    assert requests, "no request was recorded"
    remote = [
        url for url in requests if not url.startswith(LOCAL_SCHEMES) and urlsplit(url).hostname != "127.0.0.1"
    ]
    assert remote == [], remote
