"""Executors run a suite's pending runs: ``local`` (sequential or N worker processes) here.

Every run goes through :func:`benchmark.engine.runner.run_one`, which writes its record atomically,
so executors only decide *where* runs happen; a run that crashes outside the runner's own
error handling (its traceback printed, status ``crashed``) leaves no record, shows as missing
and is retried by the next ``hasbench suite``, while the suite's other runs go on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback

from benchmark.engine.spec import RunSpec
from benchmark.engine.suite import Suite, SuiteRun


def _run_in_worker(args: tuple[RunSpec, str, str]) -> tuple[str, str, float]:
    from benchmark.engine.progress import quiet_known_warnings

    quiet_known_warnings()  # a spawned worker does not inherit the CLI's filters
    spec, results_dir, suite_name = args
    start = time.time()
    try:
        from benchmark.engine.runner import run_one

        return run_one(spec, results_dir, suite=suite_name).outcome
    except Exception:  # e.g. a module that does not import: the other runs go on
        traceback.print_exc(file=sys.stderr)
        return spec.run_id(), "crashed", time.time() - start


def worker_threads(workers: int) -> int | None:
    """Torch CPU threads per worker: this process's cores shared out (None: leave torch's own).

    A worker that keeps torch's default (every core) contends with the others for the same
    cores. ``OMP_NUM_THREADS`` set by the user wins; a run's own ``threads`` option wins over
    both (:func:`benchmark.engine.mmrun.torch_threads`).
    """
    if "OMP_NUM_THREADS" in os.environ:
        return None
    return max(1, len(os.sched_getaffinity(0)) // max(1, workers))


def _start_worker(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def run_local(suite: Suite, runs: list[SuiteRun], workers: int = 1) -> list[tuple[str, str, float]]:
    """Run ``runs`` on this machine; returns (run_id, status, wall seconds) per run.

    Args:
        suite: The suite (its name and results dir).
        runs: The pending runs, already validated.
        workers: Parallel worker processes (1 = sequential, in this process), each with
            :func:`worker_threads` torch threads.
    """
    jobs = [(r.spec, str(suite.results_dir), suite.name) for r in runs]
    outcomes = []
    start = time.time()
    if workers <= 1:
        for i, job in enumerate(jobs, 1):
            print(f"[hasbench] run {i}/{len(jobs)}: {job[0].label}", file=sys.stderr, flush=True)
            outcomes.append(_run_in_worker(job))
            _report(outcomes[-1])
    else:
        with mp.get_context("spawn").Pool(workers, initializer=_start_worker,
                                          initargs=(worker_threads(workers),)) as pool:
            for outcome in pool.imap_unordered(_run_in_worker, jobs):
                outcomes.append(outcome)
                _report(outcome)
    print(f"[hasbench] {len(outcomes)} runs in {time.time() - start:.0f} s", file=sys.stderr)
    return outcomes


def _report(outcome: tuple[str, str, float]) -> None:
    run_id, status, seconds = outcome
    print(f"[hasbench]   {status:6s} {seconds:7.1f} s  {run_id}", file=sys.stderr, flush=True)

