"""The ``slurm`` executor: a suite's pending runs as Slurm job arrays, through submitit.

Runs whose resources are identical (GPUs, CPUs, memory, time limit, tasks) go into one job
array; each array task calls :func:`benchmark.engine.runner.run_one`, which writes the run's record
atomically, exactly as the local executor does. ``hasbench suite NAME --executor slurm``
prints the job ids and the log folder, then waits (one progress line per change) unless
``--no-wait``.

Resources per run come from the suite entry's ``resources`` (see :mod:`benchmark.engine.suite`):
``gpus`` -> ``--gpus-per-node``, ``cpus`` -> ``--cpus-per-task`` (the job's total, shared
among its tasks), ``mem_gb`` -> ``--mem``, ``hours`` -> ``--time`` (minutes, rounded up).

Settings (a command-line flag wins over its environment variable; unset means the cluster's
default):

=================================== ==================== =====================================
Environment variable                 Flag                 Meaning
=================================== ==================== =====================================
``HASBENCH_SLURM_PARTITION``         ``--partition``      partition (``-p``)
``HASBENCH_SLURM_ACCOUNT``           ``--account``        account to charge (``-A``)
``HASBENCH_SLURM_QOS``               ``--qos``            quality of service
``HASBENCH_SLURM_TIME_MIN``          ``--time-min``       time limit of every job in minutes
                                                          (overrides the runs' ``hours``)
``HASBENCH_SLURM_ARRAY_PARALLELISM`` -                    max array tasks running at once
                                                          (default 256)
``HASBENCH_SLURM_LOG_DIR``           -                    submitit folder: job scripts, pickles,
                                                          stdout/stderr; default
                                                          ``<results>/slurm_logs/%j``
=================================== ==================== =====================================

Preemption and time limits: each job is a :class:`submitit.helpers.Checkpointable`, so on
Slurm's warning signal (``USR2``, 90 s before the limit) or preemption submitit requeues the
same run, which resumes from the latest checkpoint in its work dir (mmengine ``resume``);
after three time-outs it gives up and the run is recorded as failed.

Multi-GPU runs (``resources: {gpus: N}``, N > 1) of OpenMMLab tasks use mmengine's own
launcher: the job starts N tasks (one per GPU) and the run gets the option
``launcher: slurm``, from which mmengine builds the process group out of Slurm's environment
(``launcher`` is an execution option: it is not part of the run id, so the record is the
same run whichever executor ran it). A ``launcher`` set in the suite entry is kept as given.
torchreid runs get all GPUs in one task (torchreid's own DataParallel).

Outcome of each run, after the jobs end: the run's record is authoritative (``ok`` /
``failed``); without a record a cancelled job gives ``cancelled``, a failed/timed-out/
out-of-memory job gives ``failed`` (its stderr path is printed), anything else ``missing``.
With ``--no-wait`` every run reads ``submitted``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from benchmark.engine import records
from benchmark.engine.runner import RUNNING_MARKER
from benchmark.engine.spec import RunSpec
from benchmark.engine.suite import Suite, SuiteRun

ENV_PREFIX = "HASBENCH_SLURM_"
#: Frameworks whose multi-GPU runs need mmengine's launcher (one Slurm task per GPU).
MMENGINE_FRAMEWORKS = {"mmpretrain", "mmseg", "mmaction2"}
#: Slurm job states (first word of sacct's State) that mean the job ran and failed.
FAILED_STATES = {"FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE",
                 "PREEMPTED"}
DEFAULT_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class SlurmSettings:
    """Cluster-wide settings of a submission (flags over ``HASBENCH_SLURM_*`` variables)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_min: int | None = None
    log_dir: str | None = None
    array_parallelism: int | None = None

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None, **flags: Any) -> SlurmSettings:
        """Settings from ``flags`` (non-None values win) and ``HASBENCH_SLURM_*`` variables.

        Raises:
            ValueError: when a time limit or array parallelism is not a positive integer,
                naming the flag or variable to fix.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = flags.get(name)
            source = f"--{name.replace('_', '-')}"
            if value is None:
                value = environ.get(ENV_PREFIX + name.upper()) or None
                source = ENV_PREFIX + name.upper()
            if value is not None and name in {"time_min", "array_parallelism"}:
                value = _positive_int(value, source)
            values[name] = value
        return cls(**values)


def _positive_int(value: Any, source: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0 or str(value).strip() != str(number):
        raise ValueError(f"{source}={value!r} is not a positive whole number of "
                         f"{'minutes' if 'time' in source.lower() else 'jobs'}; fix or unset it")
    return number


def tasks_per_node(run: SuiteRun, framework: str = "") -> int:
    """Slurm tasks of a run's job: one per GPU when mmengine's slurm launcher runs it."""
    gpus = int(run.resources.get("gpus", 0) or 0)
    launcher = run.spec.option_dict.get("launcher")
    if launcher == "slurm" or (launcher is None and framework in MMENGINE_FRAMEWORKS):
        return max(gpus, 1)
    return 1


def job_spec(run: SuiteRun, framework: str = "") -> RunSpec:
    """The spec the job runs: with ``launcher: slurm`` when it has one task per GPU."""
    if tasks_per_node(run, framework) > 1 and "launcher" not in run.spec.option_dict:
        return run.spec.with_options(launcher="slurm")
    return run.spec


def job_parameters(run: SuiteRun, settings: SlurmSettings, framework: str = "") -> dict[str, Any]:
    """Parameters of submitit's ``SlurmExecutor`` for one run.

    Args:
        run: The run and its resources (``gpus``, ``cpus``, ``mem_gb``, ``hours``).
        settings: Partition, account, qos, time limit override, array parallelism.
        framework: The run's task framework (decides how multi-GPU runs are launched).

    Raises:
        ValueError: on negative or non-numeric resources, naming the run and the fix.
    """
    res = run.resources
    try:
        gpus = int(res.get("gpus", 0) or 0)
        cpus = int(res.get("cpus", 1) or 1)
        mem_gb = float(res.get("mem_gb", 0) or 0)
        hours = float(res.get("hours", 1) or 0)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{run.spec.label}: bad resources {res} ({err}); use numbers, e.g. "
                         "resources: {gpus: 1, cpus: 4, mem_gb: 16, hours: 2}") from err
    if gpus < 0 or cpus < 1 or mem_gb < 0 or hours <= 0:
        raise ValueError(f"{run.spec.label}: resources {res} need gpus >= 0, cpus >= 1, "
                         "mem_gb >= 0 and hours > 0")
    tasks = tasks_per_node(run, framework)
    params: dict[str, Any] = {
        "job_name": "hasbench",
        "time": settings.time_min or max(1, math.ceil(hours * 60)),
        "cpus_per_task": max(1, cpus // tasks),
        "ntasks_per_node": tasks,
        "nodes": 1,
    }
    if gpus:
        params["gpus_per_node"] = gpus
    if mem_gb:
        params["mem"] = f"{int(mem_gb)}GB" if mem_gb == int(mem_gb) else f"{int(mem_gb * 1024)}MB"
    for name in ("partition", "account", "qos", "array_parallelism"):
        if getattr(settings, name) is not None:
            params[name] = getattr(settings, name)
    return params


def group_runs(runs: list[SuiteRun], settings: SlurmSettings,
               frameworks: Mapping[str, str] | None = None) -> list[tuple[dict, list[SuiteRun]]]:
    """Group runs with identical job parameters (one job array each), in first-seen order."""
    groups: dict[tuple, tuple[dict, list[SuiteRun]]] = {}
    for run in runs:
        params = job_parameters(run, settings, (frameworks or {}).get(run.spec.task, ""))
        key = tuple(sorted(params.items()))
        groups.setdefault(key, (params, []))[1].append(run)
    return list(groups.values())


class SuiteJob(submitit.helpers.Checkpointable):
    """One suite run inside a Slurm job.

    On a time-out warning or preemption submitit calls :meth:`checkpoint` (inherited), which
    resubmits the same call; the run then resumes from its work dir's latest checkpoint.
    """

    def __call__(self, spec: RunSpec, results_dir: str, suite_name: str) -> tuple[str, str, float]:
        """Run ``spec`` and return (run id, record status, wall seconds)."""
        from benchmark.engine.progress import quiet_known_warnings

        quiet_known_warnings()
        from benchmark.engine.runner import prepare, run_one

        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        if cpus and "OMP_NUM_THREADS" not in os.environ:
            import torch

            torch.set_num_threads(int(cpus))
        rank = int(os.environ.get("SLURM_PROCID", "0"))
        if rank == 0:
            record = run_one(spec, results_dir, suite=suite_name)
        else:  # other ranks train with rank 0 but keep their copy of the record to themselves
            _, resolved = prepare(spec, Path(results_dir))
            scratch = Path(results_dir) / "work" / resolved.run_id() / f"rank{rank}"
            record = run_one(resolved, scratch, suite=suite_name,
                             work_root=Path(results_dir) / "work")
        return record.outcome


@dataclass
class Submission:
    """One submitted run: its resolved run id and its submitit job."""

    run: SuiteRun
    run_id: str
    job: Any
    record_before: tuple[int, int] | None = None

    def new_record(self, results_dir: Path) -> records.Record | None:
        """The run's record if this job wrote it (it changed since submission), else None."""
        if _file_stamp(records.record_path(results_dir, self.run_id)) in (None, self.record_before):
            return None
        return records.find_record(results_dir, self.run_id)


def _file_stamp(path: Path) -> tuple[int, int] | None:
    """(mtime ns, inode) of a file, None when absent; a replaced record changes it."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_ino


def submit_slurm(suite: Suite, runs: list[SuiteRun], settings: SlurmSettings | None = None
                 ) -> list[Submission]:
    """Submit ``runs`` as job arrays (one per distinct resource set); returns one per run.

    Raises:
        ValueError: when Slurm is not reachable (no ``srun``/``sbatch``) or a run's resources
            are invalid, before anything is submitted.
    """
    from tasks import get_task

    settings = settings or SlurmSettings.resolve()
    if not runs:
        return []
    frameworks = {r.spec.task: get_task(r.spec.task).framework for r in runs}
    groups = group_runs(runs, settings, frameworks)
    folder = settings.log_dir or str(Path(suite.results_dir) / "slurm_logs" / "%j")
    try:
        executor = submitit.SlurmExecutor(folder=folder)
    except RuntimeError as err:
        raise ValueError("the slurm executor needs Slurm's srun/sbatch on PATH; run from a "
                         "cluster login node or use --executor local") from err
    submissions = []
    for params, group in groups:
        executor.update_parameters(**params)
        job_fn = SuiteJob()
        run_ids = [get_task(r.spec.task).resolve(r.spec).run_id() for r in group]
        stamps = {i: _file_stamp(records.record_path(suite.results_dir, i)) for i in run_ids}
        with executor.batch():
            jobs = [executor.submit(job_fn, job_spec(r, frameworks[r.spec.task]),
                                    str(suite.results_dir), suite.name) for r in group]
        for run, job, run_id in zip(group, jobs, run_ids, strict=True):
            submissions.append(Submission(run, run_id, job, stamps[run_id]))
        array = jobs[0].job_id.split("_")[0]
        kind = "job array" if len(group) > 1 else "job"
        _say(f"slurm: {kind} {array} with {len(group)} run(s) [{_describe(params)}]; "
             f"logs: {folder} (%j = job id, e.g. {jobs[0].paths.stderr})")
        for job, run in zip(jobs, group, strict=True):
            _say(f"  {job.job_id:>12s}  {run.spec.label}")
    return submissions


def job_state(job: Any, mode: str = "cache") -> str:
    """First word of the job's Slurm state (``RUNNING``, ``CANCELLED``, ``UNKNOWN``...)."""
    state = job.watcher.get_state(job.job_id, mode=mode)
    return (state.split() or ["UNKNOWN"])[0].upper()


def _job_done(job: Any) -> bool:
    return job.paths.result_pickle.exists() or job.watcher.is_done(job.job_id, mode="cache")


def wait_slurm(submissions: list[Submission], poll_seconds: float = DEFAULT_POLL_SECONDS,
               ) -> None:
    """Block until every job has ended, printing a progress line whenever the counts change.

    Args:
        submissions: What :func:`submit_slurm` returned.
        poll_seconds: Longest pause between two ``sacct`` queries (shorter at first).
    """
    if not submissions:
        return
    watcher = submissions[0].job.watcher
    start = time.time()
    last = ""
    while True:
        elapsed = time.time() - start
        watcher.update()  # one sacct call for all jobs
        states: dict[str, int] = {}
        for s in submissions:
            state = "DONE" if _job_done(s.job) else job_state(s.job)
            states[state] = states.get(state, 0) + 1
        done = states.get("DONE", 0)
        line = ", ".join(f"{n} {state.lower()}" for state, n in sorted(states.items()))
        if line != last:
            _say(f"slurm: {done}/{len(submissions)} done ({line}) after {elapsed:.0f} s")
            last = line
        if done == len(submissions):
            return
        # short jobs are seen soon; long ones do not hammer sacct
        time.sleep(min(poll_seconds, max(1.0, elapsed / 5)))


def outcome(submission: Submission, results_dir: Path) -> tuple[str, str, float]:
    """(run id, status, wall seconds) of an ended job; the run's record is authoritative.

    A job that ended without writing a record leaves its ``running`` marker behind; it is
    removed here so ``hasbench status``/``suite`` see the run as missing, not running.
    """
    record = submission.new_record(results_dir)
    if record is not None:
        return record.outcome
    state = job_state(submission.job)
    (Path(results_dir) / "work" / submission.run_id / RUNNING_MARKER).unlink(missing_ok=True)
    if state == "CANCELLED":
        status = "cancelled"
    elif state in FAILED_STATES or submission.job.paths.result_pickle.exists():
        status = "failed"
        _say(f"slurm: {submission.job.job_id} {state}; see {submission.job.paths.stderr}")
    else:
        status = "missing"
    return submission.run_id, status, 0.0


def run_slurm(
    suite: Suite,
    runs: list[SuiteRun],
    *,
    partition: str | None = None,
    account: str | None = None,
    qos: str | None = None,
    time_min: int | None = None,
    log_dir: str | None = None,
    array_parallelism: int | None = None,
    poll: bool = True,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
) -> list[tuple[str, str, float]]:
    """Run ``runs`` on Slurm; returns (run_id, status, wall seconds) per run.

    Args:
        suite: The suite (its name and results dir).
        runs: The pending runs, already validated.
        partition: Slurm partition; overrides ``HASBENCH_SLURM_PARTITION``.
        account: Account to charge; overrides ``HASBENCH_SLURM_ACCOUNT``.
        qos: Quality of service; overrides ``HASBENCH_SLURM_QOS``.
        time_min: Time limit of every job in minutes (instead of the runs' ``hours``);
            overrides ``HASBENCH_SLURM_TIME_MIN``.
        log_dir: submitit folder (may hold ``%j``); overrides ``HASBENCH_SLURM_LOG_DIR``,
            default ``<results>/slurm_logs/%j``.
        array_parallelism: Max array tasks running at once; overrides
            ``HASBENCH_SLURM_ARRAY_PARALLELISM``.
        poll: Wait for the jobs and report each run's outcome; ``False`` returns right after
            submission with status ``submitted``.
        poll_seconds: Seconds between two state queries (``sacct``) while waiting.
    """
    settings = SlurmSettings.resolve(
        partition=partition, account=account, qos=qos, time_min=time_min, log_dir=log_dir,
        array_parallelism=array_parallelism,
    )
    start = time.time()
    submissions = submit_slurm(suite, runs, settings)
    if not poll:
        _say(f"slurm: {len(submissions)} run(s) submitted; not waiting (see `squeue`, and "
             "`hasbench status` for finished runs)")
        return [(s.run_id, "submitted", 0.0) for s in submissions]
    wait_slurm(submissions, poll_seconds)
    outcomes = [outcome(s, Path(suite.results_dir)) for s in submissions]
    for run_id, status, seconds in outcomes:
        _say(f"  {status:9s} {seconds:7.1f} s  {run_id}")
    _say(f"slurm: {len(outcomes)} run(s) ended in {time.time() - start:.0f} s")
    return outcomes


def _describe(params: dict[str, Any]) -> str:
    keys = ("gpus_per_node", "ntasks_per_node", "cpus_per_task", "mem", "time", "partition",
            "account", "qos")
    return " ".join(f"{k}={params[k]}" for k in keys if k in params)


def _say(message: str) -> None:
    print(f"[hasbench] {message}", file=sys.stderr, flush=True)
