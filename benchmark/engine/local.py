"""Executors run a suite's pending runs: ``local`` (sequential or N worker processes) here.

Every run goes through :func:`benchmark.engine.runner.run_one`, which writes its record atomically,
so executors only decide *where* runs happen; a crashed worker leaves no record and the run
shows as missing (and is retried by the next ``hasbench suite``).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time

from benchmark.engine.spec import RunSpec
from benchmark.engine.suite import Suite, SuiteRun


def _run_in_worker(args: tuple[RunSpec, str, str]) -> tuple[str, str, float]:
    from benchmark.engine.progress import quiet_known_warnings

    quiet_known_warnings()  # a spawned worker does not inherit the CLI's filters
    from benchmark.engine.runner import run_one

    spec, results_dir, suite_name = args
    return run_one(spec, results_dir, suite=suite_name).outcome


def run_local(suite: Suite, runs: list[SuiteRun], workers: int = 1) -> list[tuple[str, str, float]]:
    """Run ``runs`` on this machine; returns (run_id, status, wall seconds) per run.

    Args:
        suite: The suite (its name and results dir).
        runs: The pending runs, already validated.
        workers: Parallel worker processes (1 = sequential, in this process).
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
        with mp.get_context("spawn").Pool(workers) as pool:
            for outcome in pool.imap_unordered(_run_in_worker, jobs):
                outcomes.append(outcome)
                _report(outcome)
    print(f"[hasbench] {len(outcomes)} runs in {time.time() - start:.0f} s", file=sys.stderr)
    return outcomes


def _report(outcome: tuple[str, str, float]) -> None:
    run_id, status, seconds = outcome
    print(f"[hasbench]   {status:6s} {seconds:7.1f} s  {run_id}", file=sys.stderr, flush=True)

