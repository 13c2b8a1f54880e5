"""A child process that switches a library to a model (for the SIGKILL test).

    python -m tests.model_switch_child DATA_DIR MODEL      # a version id, or "base"

Re-embeds one document per batch and prints a line after each, then pauses a moment, so
the parent can kill it in the middle of the work.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from searchapp.config import Settings
from searchapp.ingest import model_use
from searchapp.library import Library
from searchapp.progress import Progress


def main() -> None:
    data_dir, model = Path(sys.argv[1]), sys.argv[2]
    model_use.BATCH_CHUNKS = 1

    def committed(event: Progress) -> None:
        print(f"batch {event.chunks_embedded}", flush=True)
        time.sleep(0.5)

    with Library.open(Settings.load(environ={}, data_dir=data_dir, workers=1, min_free_mb=1)) as library:
        report = model_use.use_model(library, model, progress=committed)
        print("done", report.resumed, flush=True)


if __name__ == "__main__":
    main()
