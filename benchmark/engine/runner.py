"""Turns a RunSpec into a Record: resolve, check, seed, train, time, capture failures.

The runner is the only writer of records. Layout of a results dir::

    <results>/records/<run_id>.json   one record per run (atomic)
    <results>/work/<run_id>/          the run's work dir: spec.json, checkpoints, logs, figures
    <results>/data/<dataset>-synth/   generated datasets (``synthetic`` specs without a root)
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import socket
import subprocess
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.engine import records
from benchmark.engine.mmrun import torch_threads
from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import PRETRAINED_OPTION, RunSpec, TaskOutput

#: Packages whose versions are recorded with every run.
TRACKED_PACKAGES = (
    "torch", "torchvision", "numpy", "mmengine", "mmcv-lite", "mmcv", "mmpretrain",
    "mmsegmentation", "mmaction2", "torchreid", "grad-cam", "pandas",
)


#: File in a run's work dir while the run is in progress (``hasbench status`` reads it).
RUNNING_MARKER = "running.json"


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`TRACKED_PACKAGES` (missing ones are left out)."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository, or (None, None) outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def config_hash(spec: RunSpec) -> str:
    """Hash of everything that defines the run except the seed and the data location."""
    fields = asdict(spec)
    for key in ("seed", "data_root"):
        fields.pop(key)
    return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:12]


def built_config_hash(task: Any, spec: RunSpec) -> str | None:
    """Hash of the config the current code builds for ``spec`` (None: it cannot be built).

    Unlike :func:`config_hash` (the spec), this changes when the code changes what a spec
    trains (a default, a pipeline stage, a schedule): ``hasbench status`` then calls the
    run ``stale``.
    """
    try:
        return task.config_fingerprint(spec)
    except Exception:  # a config that cannot be built here (data absent): no fingerprint
        return None


def cpu_state(threads: Any = None) -> dict[str, Any]:
    """What reproducing a CPU number takes: thread counts, the CPU model, torch's CPU kernels.

    Another thread count or CPU sums floats in another order, which changes results at the
    suite's small scales.
    """
    import torch

    return {
        "torch_threads": int(threads) if threads else torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare(spec: RunSpec, results_dir: Path) -> tuple[Any, RunSpec]:
    """Resolve and validate a spec before anything is trained.

    Generates synthetic data when the spec is synthetic and has no data root.

    Returns:
        (task, resolved spec).

    Raises:
        ValueError: naming the problem and the fix (unknown task/method/dataset/model,
            missing data root, wrong layout, unwritable results dir).
    """
    from benchmark.methods import method_for
    from benchmark.user_methods import check_run_options
    from tasks import get_task

    check_run_numbers(spec)
    check_creatable(Path(results_dir))
    task = get_task(spec.task)
    check_execution_options(spec, task.framework)
    if spec.option_dict.get("amp"):
        from benchmark.engine.amp import check_amp

        check_amp(str(spec.option_dict["amp"]), spec.device)
    check_run_options(task, spec)  # --cfg-options / --method-file: well-formed, taken here
    task.check_options(spec)
    method_for(spec.method, spec.option_dict)  # the method, and its HaS options, checked
    resolved = task.resolve(spec)
    task.check_method(resolved)  # before any generated data is written
    if spec.synthetic and spec.data_root is None:
        info = task.dataset_info(resolved.dataset)
        if info.synth is None:
            raise ValueError(f"dataset {resolved.dataset!r} has no generator; pass --data-root")
        root = Path(results_dir) / "data" / resolved.dataset_label
        ensure_synthetic(info, root, seed=0)
        resolved = RunSpec(**{**asdict(resolved), "data_root": str(root)})
    task.check(resolved)
    check_writable(Path(results_dir))
    return task, resolved


#: Seeds numpy, torch and Python all take: [0, 2**32).
SEED_LIMIT = 2**32


def check_run_numbers(spec: RunSpec) -> None:
    """Raise ``ValueError`` for epochs below 1 or a seed outside [0, 2**32)."""
    if spec.epochs is not None and (isinstance(spec.epochs, bool)
                                    or not isinstance(spec.epochs, int) or spec.epochs < 1):
        raise ValueError(f"--epochs must be a whole number >= 1, got {spec.epochs!r}; "
                         "leave it out for the task's default schedule")
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int) or not (
            0 <= spec.seed < SEED_LIMIT):
        raise ValueError(f"--seed must be a whole number in [0, 2**32), got {spec.seed!r} "
                         "(numpy, torch and Python's random all take such seeds)")


#: Levels the ``log_level`` option takes (of the work dir's log; the console stays quiet).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_execution_options(spec: RunSpec, framework: str) -> None:
    """Raise ``ValueError`` for a bad execution option (``spec.EXECUTION_OPTIONS``)."""
    from benchmark.engine.mmrun import check_vis_backend
    from benchmark.engine.progress import check_progress

    options = spec.option_dict
    if "log_level" in options and str(options["log_level"]) not in LOG_LEVELS:
        raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}, got "
                         f"{options['log_level']!r} (--log-level)")
    if "progress" in options:
        check_progress(str(options["progress"]))
    backend = str(options.get("vis_backend", "local"))
    check_vis_backend(backend)
    if framework == "torchreid" and backend not in ("local", "tensorboard"):
        raise ValueError(f"--vis-backend {backend} is for the OpenMMLab tasks; re-ID runs write "
                         "torchreid's own TensorBoard events (--vis-backend tensorboard)")
    threads = options.get("threads", 1)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r} (--threads)")
    workers = options.get("num_workers", 0)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"num_workers must be a whole number >= 0, got {workers!r}")


def ensure_synthetic(info: Any, root: Path, seed: int) -> None:
    """Generate ``info``'s synthetic dataset at ``root`` unless a complete one is there.

    Generation writes to a sibling temp folder and renames it, so concurrent runs and killed
    runs never leave a half-written dataset behind.
    """
    if (root / ".complete").exists():
        return
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    info.synth(tmp, seed)
    (tmp / ".complete").write_text("generated by hasbench\n")
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, root)
    except OSError:  # another process won the race: use theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def check_creatable(results_dir: Path) -> None:
    """Create ``results_dir`` (only the folder) or raise ``ValueError`` naming why not."""
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"results dir {results_dir} is not writable: it cannot be created ({err.strerror}); "
            "pass --results DIR pointing to a writable folder"
        ) from err


def check_writable(results_dir: Path) -> None:
    """Raise ``ValueError`` when records cannot be written under ``results_dir``."""
    folder = results_dir / records.RECORDS_SUBDIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"results dir {results_dir} is not writable ({err.strerror}); "
            "pass --results DIR pointing to a writable folder"
        ) from err


def run_one(
    spec: RunSpec,
    results_dir: str | Path,
    *,
    suite: str | None = None,
    work_root: str | Path | None = None,
    raise_errors: bool = False,
) -> records.Record:
    """Run one spec and write its record.

    Validation errors (bad input, a work dir the task cannot resume from included:
    ``Task.check_resume``) are raised before anything is trained and no record is
    written. Failures during training are recorded as ``status="failed"`` with the reason
    (and re-raised when ``raise_errors``).

    Args:
        spec: What to run.
        results_dir: Where records go.
        suite: Suite name to record.
        work_root: Parent of the run's work dir (default ``<results_dir>/work``).
        raise_errors: Re-raise training failures after recording them.
    """
    results_dir = Path(results_dir)
    task, resolved = prepare(spec, results_dir)
    weights = (task.check_pretrained(resolved).as_record()
               if PRETRAINED_OPTION in resolved.option_dict else None)
    work_dir = Path(work_root or results_dir / "work") / resolved.run_id()
    task.check_resume(resolved, work_dir)  # a work dir it cannot resume from: bad input
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "spec.json").write_text(json.dumps(asdict(resolved), indent=1, default=str))
    commit, dirty = git_state()
    provenance = {
        "git_commit": commit, "git_dirty": dirty, "config_hash": config_hash(resolved),
        "packages": package_versions(), "device": resolved.device,
        "hostname": socket.gethostname(), "python": platform.python_version(),
        "epochs": resolved.epochs, "data_root": resolved.data_root,
        "options": dict(resolved.options), "work_dir": str(work_dir),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "built_config_hash": built_config_hash(task, resolved),
        **cpu_state(resolved.option_dict.get("threads")),
    }
    start = time.time()
    provenance["start_time"] = _iso(start)
    running = work_dir / RUNNING_MARKER
    running.write_text(json.dumps({"host": provenance["hostname"], "pid": os.getpid(),
                                   "start_time": provenance["start_time"]}))
    seed_everything(resolved.seed)
    output: TaskOutput | None = None
    error: BaseException | None = None
    try:
        with torch_threads(resolved.option_dict.get("threads")):
            output = task.run(resolved, work_dir)
    except Exception as err:  # recorded, then optionally re-raised
        error = err
        reason = f"{type(err).__name__}: {err}"
        (work_dir / "error.txt").write_text(traceback.format_exc())
    end = time.time()
    provenance.update(end_time=_iso(end), wall_seconds=round(end - start, 3))
    record = _make_record(task, resolved, output, provenance, suite,
                          None if error is None else reason)
    record.pretrained = weights
    records.write_record(results_dir, record)
    running.unlink(missing_ok=True)
    if error is not None and raise_errors:
        raise error
    return record


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _make_record(
    task: Any,
    spec: RunSpec,
    output: TaskOutput | None,
    provenance: dict[str, Any],
    suite: str | None,
    reason: str | None,
) -> records.Record:
    common = dict(
        run_id=spec.run_id(), task=spec.task, dataset=spec.dataset_label, method=spec.method,
        seed=spec.seed, higher_is_better=dict(task.metrics), suite=suite, provenance=provenance,
    )
    if output is None:
        return records.Record(
            **common, model=spec.model or "default", status="failed",
            metrics=dict.fromkeys(task.metrics), reason=reason,
        )
    unknown = sorted(set(output.metrics) - set(task.metrics))
    if unknown:
        raise ValueError(f"task {task.name!r} returned undeclared metrics {unknown}")
    return records.Record(
        **common, model=output.model, status="ok", metrics=dict(output.metrics),
        method_params=output.method_params, split=output.split, history=output.history,
        artifacts=output.artifacts, extra=output.extra,
    )
