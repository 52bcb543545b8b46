"""GPU-hours of a suite's runs: from measured training throughput, else from time limits.

``hasbench suite NAME --dry-run`` prints, for every run, one of

- ``est=measured H h``: the training samples the run reads (the dataset's
  ``DatasetInfo.train_size`` x the run's epochs; CK+ x the folds it trains) divided by the
  training throughput per GPU that ``scripts/probe_throughput.py`` measured for the run's task
  and model, divided by 3,600. Several GPUs share the same samples, so the GPU-hours do not
  depend on the GPU count: this assumes linear multi-GPU scaling and leaves out data loading,
  validation and testing;
- ``est=limit H h``: the run's Slurm time limit x its GPUs (``resources``), where there is no
  measurement or no training-set size -- the upper bound the dry run always printed;
- ``est=none 0.0 h``: a method that trains nothing (``full-image``).

Measurements are read from every ``*.csv`` in :func:`perf_dir` (``$HASBENCH_PERF_DIR``, by
default ``results/perf/gpu``): rows on the run's device with its ``--amp`` setting, no error
and ``tiny`` false. For a run, the newest row (by its ``date``) of the run's task and model is
taken: its own method's if measured, else the baseline's; its own dataset's if measured, else
any dataset's (named in the note). Every task here schedules its training in epochs
(segmentation's 20k-iteration recipe is epoch-based, ``configs/segmentation/_base_``); an
iteration-based schedule would read iterations x batch samples (:func:`samples_of_schedule`).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.engine.paths import REPO_ROOT

#: Environment variable naming the folder of throughput CSVs the dry run reads.
PERF_DIR_ENV = "HASBENCH_PERF_DIR"
DEFAULT_PERF_DIR = REPO_ROOT / "results" / "perf" / "gpu"
SECONDS_PER_HOUR = 3600.0
#: What the measured estimates assume, printed under the totals.
ASSUMPTIONS = ("measured = training-set size x epochs / training samples per second per GPU "
               "(scripts/probe_throughput.py); assumes linear multi-GPU scaling, excludes data "
               "loading and evaluation")


def perf_dir() -> Path:
    """The folder of throughput CSVs: ``$HASBENCH_PERF_DIR``, else ``results/perf/gpu``."""
    env = os.environ.get(PERF_DIR_ENV)
    return Path(env).expanduser() if env else DEFAULT_PERF_DIR


@dataclass(frozen=True)
class Throughput:
    """One measured row of a throughput CSV.

    Attributes:
        task, dataset, model, method: What was timed (``model``: the suite's model).
        device: ``cuda`` or ``cpu``.
        amp: ``--amp`` dtype, or ``none``.
        samples_per_s: Training samples per second on one device.
        unit: What a sample is (``images``, ``clips``, ``sequences``).
        date: ISO date-time of the measurement.
        source: The CSV's file name.
    """

    task: str
    dataset: str
    model: str
    method: str
    device: str
    amp: str
    samples_per_s: float
    unit: str
    date: str
    source: str


def read_throughputs(folder: Path | None = None) -> list[Throughput]:
    """The usable rows of every ``*.csv`` in ``folder`` (default :func:`perf_dir`).

    Rows with an error, a ``tiny`` measurement, or no positive finite ``samples_per_s`` are
    skipped; so are CSVs without a ``samples_per_s`` column (other perf tables).
    """
    folder = Path(folder) if folder is not None else perf_dir()
    found = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                speed = _number(row.get("samples_per_s"))
                if (speed is None or speed <= 0 or row.get("error")
                        or str(row.get("tiny", "")).lower() == "true"):
                    continue
                found.append(Throughput(
                    task=row.get("task", ""), dataset=row.get("dataset", ""),
                    model=row.get("model", ""), method=row.get("method", ""),
                    device=row.get("device", ""), amp=row.get("amp") or "none",
                    samples_per_s=speed, unit=row.get("unit") or "samples",
                    date=row.get("date", ""), source=path.name))
    return found


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def find_throughput(measured: list[Throughput], spec: Any) -> Throughput | None:
    """The measurement a resolved spec is costed with (see the module docstring), or None."""
    amp = spec.option_dict.get("amp") or "none"
    rows = [m for m in measured if m.task == spec.task and m.model == spec.model
            and m.device == spec.device.split(":")[0] and m.amp == amp]
    for method in dict.fromkeys((spec.method, "baseline")):
        same_method = [m for m in rows if m.method == method]
        same_dataset = [m for m in same_method if m.dataset == spec.dataset]
        best = same_dataset or same_method
        if best:
            return max(best, key=lambda m: (m.date, m.source))
    return None


def samples_of_schedule(*, train_size: int | None = None, epochs: int | None = None,
                        iterations: int | None = None, batch_size: int | None = None,
                        gpus: int = 1) -> float | None:
    """Training samples a schedule reads (None when unknown).

    ``train_size x epochs``, or for an iteration-based schedule ``iterations x batch_size x
    gpus`` (``batch_size`` per GPU).
    """
    if iterations is not None and batch_size is not None:
        return float(iterations * batch_size * max(gpus, 1))
    if train_size is None or epochs is None:
        return None
    return float(train_size * epochs)


def fold_factor(spec: Any) -> float:
    """Models a run trains x the share of the dataset each trains on (CK+ folds; else 1)."""
    if (spec.task, spec.dataset) != ("emotion", "ckplus48"):
        return 1.0
    from tasks.emotion import fold_options

    folds, _ = fold_options(spec)
    return int(spec.option_dict.get("folds_to_run", folds)) * (folds - 1) / folds


@dataclass(frozen=True)
class Estimate:
    """A run's GPU-hours and where they come from.

    Attributes:
        gpu_hours: Estimated GPU-hours (hours x GPUs).
        source: ``measured``, ``limit`` or ``none`` (trains nothing).
        limit_gpu_hours: The time limit x GPUs (the upper bound).
        note: How ``measured`` was computed (samples, throughput, file); the reason for
            ``limit``.
        over_limit: The measured time per GPU exceeds the run's time limit.
    """

    gpu_hours: float
    source: str
    limit_gpu_hours: float
    note: str = ""
    over_limit: bool = False

    @property
    def label(self) -> str:
        """``est=measured 3.2 h`` / ``est=limit 72.0 h`` / ``est=none 0.0 h``."""
        flag = " OVER THE TIME LIMIT" if self.over_limit else ""
        return f"est={self.source} {self.gpu_hours:.1f} h{flag}"


def estimate(spec: Any, resources: dict[str, Any], measured: list[Throughput]) -> Estimate:
    """The GPU-hours of one resolved run.

    Args:
        spec: A resolved :class:`~benchmark.engine.spec.RunSpec` (epochs filled in).
        resources: The run's ``resources`` (``gpus``, ``hours`` = the time limit).
        measured: :func:`read_throughputs`'s rows.
    """
    from benchmark.methods import METHODS
    from tasks import get_task

    gpus = int(resources.get("gpus", 0) or 0)
    limit = gpus * float(resources.get("hours", 0) or 0)
    known = METHODS.get(spec.method)
    if known is not None and not known.trains:
        return Estimate(0.0, "none", limit, "trains nothing")
    info = get_task(spec.task).datasets.get(spec.dataset)
    size = info.train_size if info is not None else None
    samples = samples_of_schedule(train_size=size, epochs=spec.epochs)
    if samples is None:
        return Estimate(limit, "limit", limit, f"no training-set size for {spec.dataset}")
    throughput = find_throughput(measured, spec)
    if throughput is None:
        return Estimate(limit, "limit", limit, "no throughput measured")
    samples *= fold_factor(spec)
    hours = samples / throughput.samples_per_s / SECONDS_PER_HOUR
    borrowed = [text for differs, text in (
        (throughput.method != spec.method, f"{throughput.method}'s figure"),
        (throughput.dataset != spec.dataset, f"measured on {throughput.dataset}")) if differs]
    speed = throughput.samples_per_s
    note = (f"{samples:,.0f} {throughput.unit} / {speed:,.1f} per s" if speed >= 1
            else f"{samples:,.0f} {throughput.unit} / {speed:.3g} per s")
    if borrowed:
        note += f" ({', '.join(borrowed)})"
    note += f": {throughput.source} {throughput.date}"
    over = gpus > 0 and hours / gpus > float(resources.get("hours", math.inf))
    return Estimate(hours, "measured", limit, note, over)


def totals(estimates: list[Estimate]) -> tuple[float, float, int]:
    """The suite's totals.

    Returns:
        (GPU-hours measured where available and the time limit elsewhere, the time limits'
        upper bound, how many runs were costed by measurement).
    """
    return (sum(e.gpu_hours for e in estimates), sum(e.limit_gpu_hours for e in estimates),
            sum(e.source == "measured" for e in estimates))
