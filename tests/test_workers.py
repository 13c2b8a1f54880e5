"""`ingest.workers.WorkerPool`: order, CPU time limits, stalls, crashes and exceptions, for real.

Every test starts real worker processes (`python -m ingest.workers`); the task functions
live in `tests/worker_tasks.py` so the workers can import them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.cpu_time import ocr_cores
from searchapp.ingest.workers import TaskTimeout, WorkerCrashed, WorkerPool
from tests import worker_tasks
from tests.worker_tasks import PlainError, run

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(120)


def run_all(jobs: list[tuple[str, Any]], *, workers: int = 2, cpu_limit_s: float = 30) -> list[Any]:
    with WorkerPool(run, workers=workers, cpu_limit_s=cpu_limit_s) as pool:
        return [result for _, result in pool.map(jobs)]


def test_results_come_back_in_input_order() -> None:
    # Later jobs finish first; the output order must still be the input order.
    jobs: list[tuple[str, Any]] = [("sleep", 0.8), ("value", 1), ("sleep", 0.3), ("value", 3), ("value", 4)]
    jobs += [("value", i) for i in range(5, 12)]
    with WorkerPool(run, workers=2, cpu_limit_s=30) as pool:
        pairs = list(pool.map(jobs))
    assert [job for job, _ in pairs] == jobs
    assert [result for _, result in pairs] == ["slept 0.8", 1, "slept 0.3", 3, 4, *range(5, 12)]


def test_unordered_results_come_back_as_they_finish_and_idle_is_called_while_waiting() -> None:
    # A slow first job holds up nothing behind it; `idle` runs while the pool waits.
    jobs: list[tuple[str, Any]] = [("sleep", 1.5), *[("value", i) for i in range(6)]]
    idle_calls: list[float] = []
    with WorkerPool(run, workers=2, cpu_limit_s=30) as pool:
        pairs = list(pool.map(jobs, ordered=False, idle=lambda: idle_calls.append(time.monotonic())))
    assert sorted(map(str, (job for job, _ in pairs))) == sorted(map(str, jobs))
    assert [result for _, result in pairs][-1] == "slept 1.5"
    assert [result for _, result in pairs][:6] == list(range(6))
    # Called again every tick while the slow job runs, not only once.
    assert len(idle_calls) >= 3


def test_no_jobs_no_results() -> None:
    with WorkerPool(run, workers=2, cpu_limit_s=5) as pool:
        assert list(pool.map([])) == []


def test_jobs_are_pulled_lazily() -> None:
    pulled: list[int] = []

    def jobs() -> Iterator[tuple[str, Any]]:
        for i in range(50):
            pulled.append(i)
            yield ("value", i)

    with WorkerPool(run, workers=2, cpu_limit_s=30) as pool:
        results = pool.map(jobs())
        assert next(results) == (("value", 0), 0)
        # At most two jobs per worker in flight or waiting, plus the one being handed out.
        assert len(pulled) <= 2 * 2 + 1
        assert [r for _, r in results] == list(range(1, 50))


def test_a_task_past_its_cpu_time_is_killed_and_the_others_succeed() -> None:
    limit = 2.0
    jobs: list[tuple[str, Any]] = [
        ("value", "a"),
        ("spin", 120),
        ("value", "b"),
        ("pid", None),
        ("value", "c"),
    ]
    with WorkerPool(run, workers=2, cpu_limit_s=limit) as pool:
        results = [result for _, result in pool.map(jobs)]
    assert results[0] == "a" and results[2] == "b" and results[4] == "c"
    assert isinstance(results[3], int)
    assert isinstance(results[1], TaskTimeout)
    assert "s of CPU time, past the limit of 2 s" in str(results[1])


def test_waiting_is_not_counted_but_a_task_that_stalls_is_stopped() -> None:
    # Two seconds asleep use no CPU: within a 1-second CPU limit (a busy machine makes a
    # task wait, not work more); a task that makes no progress at all is stopped.
    with WorkerPool(run, workers=1, cpu_limit_s=1.0, stall_s=4.0) as pool:
        pairs = list(pool.map([("sleep", 2), ("sleep", 120), ("value", "after")]))
    slept, stalled, after = (result for _, result in pairs)
    assert slept == "slept 2" and after == "after"
    assert isinstance(stalled, TaskTimeout) and "no progress for 4 s" in str(stalled)


def test_cpu_time_of_the_processes_a_task_starts_counts_too() -> None:
    # The worker only waits; its child does the work (as Tesseract does for OCR). The
    # limit with children is per core OCR may use (`ocr_cores`).
    limit = 1.0
    spins = limit * ocr_cores() + 3
    with WorkerPool(run, workers=1, cpu_limit_s=limit) as pool:
        pairs = list(pool.map([("spin-in-child", 0.3), ("spin-in-child", spins)]))
    small, big = (result for _, result in pairs)
    assert small == "child spun 0.3"
    assert isinstance(big, TaskTimeout) and "with its OCR processes" in str(big)


def test_timeout_kills_the_process_and_the_processes_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    with WorkerPool(run, workers=1, cpu_limit_s=1.5) as pool:
        pairs = list(pool.map([("pid", None), ("sleeping-child", str(marker)), ("pid", None)]))
    first, timed_out, second = (result for _, result in pairs)
    assert isinstance(timed_out, TaskTimeout)
    # The spinning worker was killed and replaced (the job after it ran on a new process) ...
    assert first != second
    # ... and neither it, nor the child it started, nor any worker outlives the pool.
    for pid in (first, second, int(marker.read_text())):
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid), pid


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize(
    ("job", "words"),
    [(("exit", 3), "exit code 3"), (("segfault", None), f"signal {int(signal.SIGSEGV)}")],
    ids=["os._exit", "SIGSEGV"],
)
def test_a_task_that_kills_its_process_is_a_crash_and_later_tasks_run(
    job: tuple[str, Any], words: str
) -> None:
    with WorkerPool(run, workers=1, cpu_limit_s=30) as pool:
        pairs = list(pool.map([("pid", None), job, ("value", "after"), ("pid", None)]))
    before, crashed, after, pid_after = (result for _, result in pairs)
    assert isinstance(crashed, WorkerCrashed)
    assert words in str(crashed)
    assert after == "after"
    assert isinstance(before, int) and isinstance(pid_after, int) and before != pid_after


def test_many_crashes_in_a_row_do_not_stop_the_pool() -> None:
    jobs: list[tuple[str, Any]] = [("exit", 1), ("segfault", None)] * 3 + [("value", "ok")]
    results = run_all(jobs)
    assert all(isinstance(r, WorkerCrashed) for r in results[:-1])
    assert results[-1] == "ok"


def test_exceptions_come_back_as_exceptions() -> None:
    results = run_all(
        [
            ("value-error", "bad value"),
            ("plain-error", "plain"),
            ("ingest-error", "nothing here"),
            ("memory", "too big"),
            ("value", "still fine"),
        ]
    )
    assert isinstance(results[0], ValueError) and str(results[0]) == "bad value"
    assert type(results[1]) is PlainError and str(results[1]) == "plain"
    assert isinstance(results[2], IngestError)
    assert results[2].reason == FailureReason.NO_TEXT and results[2].detail == "nothing here"
    assert isinstance(results[3], MemoryError)
    assert results[4] == "still fine"


def test_unpicklable_exception_comes_back_as_an_internal_error() -> None:
    results = run_all([("lock-error", "holding a lock"), ("value", 1)], workers=1)
    assert isinstance(results[0], IngestError)
    assert results[0].reason == FailureReason.INTERNAL
    assert "LockHoldingError" in results[0].detail and "holding a lock" in results[0].detail
    assert results[1] == 1


def test_exception_that_pickles_but_does_not_unpickle_is_an_internal_error() -> None:
    # Used to raise TypeError out of `map` and end the whole batch.
    with WorkerPool(run, workers=1, cpu_limit_s=30) as pool:
        pairs = list(pool.map([("pid", None), ("two-argument-error", "odd"), ("pid", None), ("value", 2)]))
    pid_before, error, pid_after, value = (result for _, result in pairs)
    assert isinstance(error, IngestError)
    assert error.reason == FailureReason.INTERNAL
    assert value == 2
    assert pid_before == pid_after  # the worker is fine and keeps serving


def test_unpicklable_result_is_an_exception() -> None:
    results = run_all([("unpicklable-result", None), ("value", "next")], workers=1)
    assert isinstance(results[0], BaseException)
    assert "lock" in str(results[0]).lower()
    assert results[1] == "next"


def test_sys_exit_in_a_task_is_that_task_s_result_not_a_crash() -> None:
    with WorkerPool(run, workers=1, cpu_limit_s=30) as pool:
        pairs = list(pool.map([("pid", None), ("sys-exit", 4), ("pid", None)]))
    before, exited, after = (result for _, result in pairs)
    assert isinstance(exited, SystemExit) and exited.code == 4
    assert before == after


def test_initializer_runs_once_per_worker() -> None:
    with WorkerPool(
        worker_tasks.report_init,
        workers=1,
        cpu_limit_s=30,
        initializer=partial(worker_tasks.init_marker, "x"),
    ) as pool:
        results = [r for _, r in pool.map([None, None, None])]
    assert results == [["x"], ["x"], ["x"]]


def test_failing_initializer_fails_every_job_without_hanging() -> None:
    with WorkerPool(run, workers=2, cpu_limit_s=30, initializer=worker_tasks.failing_init) as pool:
        results = [r for _, r in pool.map([("value", i) for i in range(4)])]
    assert all(isinstance(r, WorkerCrashed) for r in results), results


def test_leaving_map_early_stops_the_workers() -> None:
    started = time.monotonic()
    with WorkerPool(run, workers=2, cpu_limit_s=60) as pool:
        results = pool.map([("value", 0), ("sleep", 60), ("sleep", 60)])
        assert next(results)[1] == 0
    # close() asks, waits briefly, then kills: far sooner than the 60 s sleeps.
    assert time.monotonic() - started < 15


def test_works_from_a_script_without_a_main_guard(tmp_path: Path) -> None:
    """multiprocessing's "spawn" would re-run this script in every child; ours must not."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            from searchapp.ingest.workers import WorkerPool
            from tests.worker_tasks import run

            print("script body ran in", os.getpid(), flush=True)
            with WorkerPool(run, workers=2, cpu_limit_s=30) as pool:
                results = [r for _, r in pool.map([("value", i) for i in range(6)] + [("pid", None)])]
            print("results", results[:6], flush=True)
            assert results[6] != os.getpid()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("script body ran") for line in lines) == 1, done.stdout
    assert "results [0, 1, 2, 3, 4, 5]" in lines
