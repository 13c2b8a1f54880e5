"""OCR for PDF pages without a usable text layer: Tesseract, one process a page.

Tesseract (Debian's `tesseract-ocr` and its language packs, installed by
scripts/setup.sh) was chosen over RapidOCR by measurement (docs/benchmarks.md, "OCR"):
a lower character error rate at 300 dpi, a reading order that keeps the columns of a
two-column page apart, Cyrillic and other scripts through language packs, and several
times the pages per second on this CPU.

Each page is rendered with pdfium (grayscale, `DPI`) and read by one `tesseract`
process, limited to one thread: the extraction workers already use every core, and
Tesseract's own threads cost more CPU than they save. Pages run concurrently (a few
processes at once), so a single large scan still uses the machine. OCR's time is counted
in CPU time (`searchapp.ingest.cpu_time`), so a busy machine reads the same pages as an
idle one: a page is not started once the file's OCR budget is spent, and a page's
process is stopped when it uses its share of what is left (on Linux, where the kernel
enforces it); either way the page is named in the file's warnings.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from searchapp.ingest.cpu_time import CpuBudget, ocr_cores

logger = logging.getLogger(__name__)

DPI = 300
# Tesseract model names (Debian packages tesseract-ocr-eng, tesseract-ocr-rus, ...).
DEFAULT_LANGUAGES = "eng+rus"
# --psm 3 (automatic page segmentation) finds columns; the default OEM is the LSTM. Not
# trying each doubtful line again inverted (white on black) saves 10-14% of Tesseract's
# CPU at the same error rate on the benchmark's pages (docs/benchmarks.md, "OCR").
TESSERACT_CONFIG = ("--psm", "3", "-c", "tessedit_do_invert=0")
TIME_LIMIT = "not read: OCR reached the file's time limit (raise SEARCHAPP_FILE_TIMEOUT_S to read it)"
_DARK = 160  # gray levels below this are ink
_RULE_SHARE = 0.5


class OcrUnavailable(Exception):
    """Tesseract or the wrapper is not installed, or none of the wanted languages is."""


class OcrTimeLimit(Exception):
    """Tesseract used the CPU time it was given for a page and was stopped."""


@dataclass(frozen=True, slots=True)
class OcrPage:
    """OCR's raw text for one page (0-based `index`), or why there is none."""

    index: int
    text: str = ""
    error: str = ""


@functools.cache
def installed_languages() -> frozenset[str]:
    """The Tesseract models on this machine; empty when Tesseract is missing."""
    if shutil.which("tesseract") is None:
        return frozenset()
    try:
        import pytesseract

        return frozenset(pytesseract.get_languages(config="")) - {"osd", "equ"}
    except Exception:  # not installed, or the binary does not run
        return frozenset()


def usable_languages(wanted: str) -> str:
    """`wanted` ("eng+rus") reduced to the installed models, in the same order.

    Raises:
        OcrUnavailable: Tesseract is missing, or none of the wanted models is installed.
    """
    have = installed_languages()
    if not have:
        raise OcrUnavailable("Tesseract is not installed (Debian: apt-get install tesseract-ocr)")
    chosen = [lang for lang in wanted.split("+") if lang in have]
    if not chosen:
        raise OcrUnavailable(
            f"none of the OCR languages {wanted!r} is installed; installed: {', '.join(sorted(have))}"
        )
    return "+".join(chosen)


def tesseract_text(image: Any, languages: str, cpu_limit_s: float | None = None) -> str:
    """The text Tesseract reads in one PIL image (raw, not cleaned).

    `cpu_limit_s`: the CPU time its process may use (enforced on Linux), then it is stopped.

    Raises:
        OcrTimeLimit: it used `cpu_limit_s` and was stopped.
        RuntimeError: Tesseract failed.
    """
    png = io.BytesIO()
    image.save(png, format="PNG")  # what pytesseract hands it too: the same text
    process = subprocess.Popen(
        ["tesseract", "stdin", "stdout", "-l", languages, *TESSERACT_CONFIG],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # one thread: see the module docstring
    )
    if cpu_limit_s is not None and hasattr(resource, "prlimit"):
        seconds = max(1, math.ceil(cpu_limit_s))
        with contextlib.suppress(OSError, ValueError):  # ValueError: already ended
            # SIGXCPU at the soft limit, SIGKILL a second later.
            resource.prlimit(process.pid, resource.RLIMIT_CPU, (seconds, seconds + 1))
    out, err = process.communicate(png.getvalue())
    if cpu_limit_s is not None and process.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise OcrTimeLimit(f"stopped after {cpu_limit_s:.0f} s of CPU time")
    if process.returncode:
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"tesseract exited with code {process.returncode}")
    return out.decode("utf-8", "replace")


def render_page(document: Any, index: int, dpi: int = DPI) -> Any:
    """One page of an open pypdfium2 document as a grayscale PIL image, table rules removed."""
    from PIL import Image

    page = document[index]
    try:
        pixels = page.render(scale=dpi / 72, grayscale=True).to_numpy()
    finally:
        page.close()
    return Image.fromarray(remove_rules(pixels.reshape(pixels.shape[:2]), max_width=max(2, dpi // 40)))


def remove_rules(pixels: npt.NDArray[np.uint8], max_width: int) -> npt.NDArray[np.uint8]:
    """Whiten thin lines that run across most of the page (table rules, frames).

    Tesseract's page layout analysis takes a ruled table for one picture and drops most
    of its cells. A rule is a band of at most `max_width` rows (or columns) in which
    more than half the pixels are dark; thicker bands (a dark banner, a photo) stay.
    """
    dark = pixels < _DARK
    rows = _thin_runs(dark.mean(axis=1) > _RULE_SHARE, max_width)
    cols = _thin_runs(dark.mean(axis=0) > _RULE_SHARE, max_width)
    if not rows.any() and not cols.any():
        return pixels
    out = pixels.copy()
    out[rows, :] = 255
    out[:, cols] = 255
    return out


def _thin_runs(mask: npt.NDArray[np.bool_], max_width: int) -> npt.NDArray[np.bool_]:
    """The runs of True in `mask` that are at most `max_width` long."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros_like(mask)
    for start, end in zip(starts, ends, strict=True):
        if end - start <= max_width:
            out[start:end] = True
    return out


def ocr_pages(
    document: Any,
    indexes: Sequence[int],
    *,
    languages: str,
    budget: CpuBudget,
    read: Callable[[Any, str, float | None], str] = tesseract_text,
) -> Iterator[OcrPage]:
    """OCR the given pages of an open pypdfium2 document, yielding each in page order.

    Rendering stays on this thread (pdfium is not thread-safe); the `tesseract`
    processes run a few at a time. Pages not started before `budget` is spent, or whose
    process used all it was given (an equal share of what was left when it started), come
    back with the error `TIME_LIMIT`.
    """
    parallel = max(1, min(ocr_cores(), len(indexes)))
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        pending: list[tuple[int, Future[str] | str]] = []
        queue = iter(indexes)
        for index in queue:
            left = budget.left()
            if left <= 1:
                pending.append((index, TIME_LIMIT))
                pending.extend((rest, TIME_LIMIT) for rest in queue)
                break
            try:
                image = render_page(document, index)
            except Exception as exc:
                pending.append((index, f"could not be rendered ({type(exc).__name__})"))
                continue
            pending.append((index, pool.submit(read, image, languages, left / parallel)))
            # Keep at most `parallel` rendered pages waiting: each is ~8 MB at 300 dpi.
            while sum(1 for _, f in pending if isinstance(f, Future) and not f.done()) >= parallel:
                yield from _ready(pending, block=True)
            yield from _ready(pending, block=False)
        while pending:
            yield from _ready(pending, block=True)


def _ready(pending: list[tuple[int, Future[str] | str]], *, block: bool) -> Iterator[OcrPage]:
    """Yield finished pages from the front of `pending`, in order; wait for the first if `block`."""
    while pending:
        index, work = pending[0]
        if isinstance(work, Future):
            if not block and not work.done():
                return
            try:
                result = OcrPage(index, text=work.result())
            except OcrTimeLimit:
                result = OcrPage(index, error=TIME_LIMIT)
            except Exception as exc:
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                result = OcrPage(index, error=f"OCR failed ({message[:120]})")
            block = False
        else:
            result = OcrPage(index, error=work)
        pending.pop(0)
        yield result
