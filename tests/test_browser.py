"""The newcomer path in a real Chromium: upload a real PDF, search, open it at the page.

Starts the app the way `searchapp ui` does (the launcher's command, with the shipped
config as flags) on 127.0.0.1 and a free port, with the real bundled model and a fresh
data directory, and drives Debian's Chromium through Playwright. Screenshots go to
`test-artifacts/` at the repository root and to pytest's tmp dir.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from searchapp import Settings
from tests.app_server import Server, running_app
from tests.conftest import PDF_DIR, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
PDF = PDF_DIR / "pdfjs__tracemonkey.pdf"
QUERY = "trace trees for loops in a JavaScript just-in-time compiler"
CHROMIUM_FLAGS = [
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
]
HOSTILE_MD = (
    "# Tracking notes\n\n"
    'Shipping quirks: <script>window.__xss = 1</script> <img src=x onerror="window.__xss = 2">\n'
    "[click me](javascript:window.__xss=3) ![pixel](http://evil.invalid/t.png) $E=mc^2$ "
    "`rm -rf` **bold** <b>tag</b> www.evil.invalid\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings.load(environ={}, data_dir=tmp_path / "data")  # the real default model
    with running_app(settings, tmp_path) as running:
        yield running


def _pdf_viewer_frame(tab: Any, timeout: float = 30) -> Any:
    """The frame of Chromium's built-in PDF viewer, once it has attached."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in tab.frames:
            if frame.url.startswith("chrome-extension://"):
                return frame
        tab.wait_for_timeout(250)
    pytest.fail(f"no PDF viewer frame in {tab.url} after {timeout:.0f} s: {[f.url for f in tab.frames]}")


def _save(page: object, name: str, tmp_path: Path) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    page.screenshot(path=str(target), full_page=True)  # type: ignore[attr-defined]
    (tmp_path / name).write_bytes(target.read_bytes())
    return target


@pytest.mark.timeout(420)
def test_upload_search_and_open_pdf_at_page(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (scripts/test.sh does this)")
    if not PDF.is_file():
        pytest.fail(f"the shared PDF corpus is missing: {PDF}")
    hostile = tmp_path / "tracking-notes [x](javascript:window.__xss=4) <img src=x onerror=window.__xss=5>.md"
    hostile.write_text(HOSTILE_MD, encoding="utf-8")

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000},
            accept_downloads=True,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(server.url)
            # First render waits for the model to load (under a spinner).
            expect(page.get_by_text("Your library is empty")).to_be_visible(timeout=120_000)

            # The empty state leads to Upload; upload a real PDF and a hostile Markdown file.
            page.get_by_role("link", name="Upload documents").click()
            uploader = page.locator('[data-testid="stFileUploader"] input[type="file"]')
            uploader.set_input_files([str(PDF), str(hostile)])
            summary = page.get_by_role("status").filter(has_text="Ingested 2 files")
            expect(summary).to_be_visible(timeout=180_000)
            expect(summary).to_contain_text(re.compile(r"pdfjs__tracemonkey\.pdf: \d+ chunks"))

            # Search from the link under the summary.
            page.get_by_role("link", name="Search your documents").click()
            box = page.get_by_label("Search query")
            expect(box).to_be_visible(timeout=30_000)
            box.fill(QUERY)
            box.press("Enter")
            first = page.locator(".st-key-hit-1")
            expect(first).to_contain_text("pdfjs__tracemonkey.pdf", timeout=60_000)
            expect(first).to_contain_text(re.compile(r"Score 0\.\d{3}"))
            cards = page.locator('[class*="st-key-hit-"]')
            expect(cards).to_have_count(10)  # the default number of passages
            expect(cards.last).to_contain_text(re.compile(r"Score -?\d\.\d{3}"))
            texts = [cards.nth(i).inner_text() for i in range(cards.count())]
            assert len(texts) >= 3
            scores = [float(re.search(r"Score (-?\d\.\d{3})", t).group(1)) for t in texts]  # type: ignore[union-attr]
            assert all(-1 <= score <= 1 for score in scores), scores
            # Hybrid (the default) ranks by fused score; each card shows it beside the cosine.
            fused = [float(re.search(r"Fused rank score (\d\.\d{4})", t).group(1)) for t in texts]  # type: ignore[union-attr]
            assert fused == sorted(fused, reverse=True), fused
            assert scores[0] > 0.3, scores
            assert all(f"#{i}" in text for i, text in enumerate(texts, start=1))
            assert re.search(r"page \d+", texts[0])
            assert re.search(r"trace|loop", texts[0], re.IGNORECASE), texts[0]
            # Query words are highlighted in the passage.
            marked = first.locator(".stMarkdownColoredBackground strong")
            assert marked.count() > 0
            assert {m.lower() for m in marked.all_inner_texts()} & {
                "trace",
                "trees",
                "loops",
                "javascript",
                "compiler",
            }
            _save(page, "browser-search-results.png", tmp_path)

            # The original downloads as it was uploaded.
            with page.expect_download(timeout=30_000) as download:
                first.get_by_role("button", name="Download original").click()
            assert download.value.suggested_filename == PDF.name
            assert Path(download.value.path()).read_bytes() == PDF.read_bytes()

            # The context expander shows the passages around the hit.
            first.get_by_text("Context: the passages around this one").click()
            expect(first).to_contain_text("This passage", timeout=30_000)

            # Open the top PDF hit at its page: the link carries a Blob URL with #page=N.
            page_number = int(re.search(r"page (\d+)", texts[0]).group(1))  # type: ignore[union-attr]
            first.get_by_role("button", name=re.compile(rf"Open at page {page_number}")).click()
            frame = page.frame_locator('iframe[title="st.iframe"], [data-testid="stIFrame"]').first
            link = frame.locator("a#open-pdf:not([aria-disabled])")
            expect(link).to_be_visible(timeout=30_000)
            expect(link).to_have_text(re.compile(rf"Open pdfjs__tracemonkey\.pdf at page {page_number}"))
            _save(page, "browser-open-at-page.png", tmp_path)
            href = link.get_attribute("href") or ""
            assert href.startswith(f"blob:{server.url}/"), href
            assert href.endswith(f"#page={page_number}"), href
            with context.expect_page(timeout=30_000) as opened:
                link.click()
            pdf_tab = opened.value
            pdf_tab.wait_for_load_state()
            assert pdf_tab.url == href
            magic = pdf_tab.evaluate(
                "async () => { const r = await fetch(location.href.split('#')[0]);"
                " const b = new Uint8Array(await r.arrayBuffer());"
                " return String.fromCharCode(...b.slice(0, 5)); }"
            )
            assert magic == "%PDF-"
            # Chromium's PDF viewer (an extension frame) shows that page.
            viewer = _pdf_viewer_frame(pdf_tab)
            expect(viewer.locator("#pageSelector")).to_have_value(str(page_number), timeout=30_000)
            _save(pdf_tab, "browser-pdf-at-page.png", tmp_path)
            pdf_tab.close()

            # Hostile Markdown renders as literal text: no script ran, no link, no image.
            box.fill("tracking pixel shipping quirks")
            box.press("Enter")
            hostile_card = page.locator('[class*="st-key-hit-"]', has_text="tracking-notes").first
            expect(hostile_card).to_contain_text(hostile.name, timeout=60_000)
            expect(hostile_card).to_contain_text("[click me](javascript:window.__xss=3)", timeout=60_000)
            expect(hostile_card).to_contain_text("<script>window.__xss = 1</script>")
            expect(hostile_card).to_contain_text("$E=mc^2$")
            assert hostile_card.locator("a, img, script, b").count() == 0
            assert page.evaluate("() => window.__xss") is None
        finally:
            context.close()
