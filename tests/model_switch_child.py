"""A child process that switches a library to a model version (for the SIGKILL test).

    python -m tests.model_switch_child DATA_DIR VERSION

Re-embeds a few passages per batch and prints one line per batch, so the parent can kill
it in the middle of the work.
"""

from __future__ import annotations

import sys
from pathlib import Path

from searchapp.config import Settings
from searchapp.ingest import model_use
from searchapp.library import Library


def main() -> None:
    data_dir, version = Path(sys.argv[1]), sys.argv[2]
    model_use.BATCH_CHUNKS = 2
    with Library.open(Settings.load(environ={}, data_dir=data_dir, workers=1, min_free_mb=1)) as library:
        report = model_use.use_model(
            library, version, progress=lambda e: print(f"batch {e.chunks_embedded}", flush=True)
        )
        print("done", report.resumed, flush=True)


if __name__ == "__main__":
    main()
