"""The two values that cross the task boundary: what to run, and what a run produced."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Options that say how a run is executed, not what it computes. They are left out of the run
#: id, so a run keeps its id and record whichever executor runs it and however it is watched:
#: ``launcher`` (mmengine's distributed launcher, set by the slurm executor for multi-GPU
#: jobs), ``log_level`` (of the work dir's log), ``num_workers`` (data-loader processes),
#: ``vis_backend`` (``--vis-backend``), ``progress`` (``--progress``), ``threads`` (torch
#: CPU threads, ``--threads``; recorded in the record's provenance).
EXECUTION_OPTIONS = frozenset({"launcher", "log_level", "num_workers", "vis_backend",
                               "progress", "threads"})
#: The option naming a local pretrained-weights file (``--pretrained``); the run id holds the
#: file's content (``pretrained_sha256``, which :meth:`Task.resolve` adds), not its location.
PRETRAINED_OPTION = "pretrained"
#: Options naming a file that the run id holds by content (``<option>_sha256``, added at
#: resolution), not by location: pretrained weights and ``--method-file``.
FILE_OPTIONS = (PRETRAINED_OPTION, "method_file")


@dataclass(frozen=True)
class RunSpec:
    """One run of the benchmark: a task, a dataset, a model, a method and a seed.

    Attributes:
        task: Task name, e.g. ``"classification"``.
        method: Method name, e.g. ``"baseline"``, ``"random_erasing"``, ``"has"``, ``"has-32"``.
        dataset: Dataset name known to the task; ``None`` means the task's default.
        data_root: Folder holding the dataset in its original layout; ``None`` means the
            task's default location (under ``$HASBENCH_DATA``, see ``benchmark.engine.paths``).
        model: Model name known to the task; ``None`` means the task's default for the dataset.
        seed: Random seed for everything the run samples.
        epochs: Training epochs; ``None`` means the task's default for the dataset.
        device: ``"cpu"`` or ``"cuda"``.
        options: Extra task-specific settings as sorted ``(key, value)`` pairs (hashable),
            e.g. ``(("batch_size", 32),)``. They are part of the run id, except
            :data:`EXECUTION_OPTIONS`.
        synthetic: The data is generated (``hasbench synth``) in the dataset's real layout;
            the results table then names the dataset ``<dataset>-synth``.
    """

    task: str
    method: str = "baseline"
    dataset: str | None = None
    data_root: str | None = None
    model: str | None = None
    seed: int = 0
    epochs: int | None = None
    device: str = "cpu"
    options: tuple[tuple[str, Any], ...] = ()
    synthetic: bool = False

    @property
    def option_dict(self) -> dict[str, Any]:
        """The options as a plain dict."""
        return dict(self.options)

    def with_options(self, **options: Any) -> RunSpec:
        """Return a copy with ``options`` merged in (kept sorted so equal specs hash equal)."""
        merged = {**self.option_dict, **options}
        return RunSpec(**{**asdict(self), "options": tuple(sorted(merged.items()))})

    @property
    def dataset_label(self) -> str:
        """The dataset name shown in the results table (``-synth`` marks generated data)."""
        name = self.dataset or "default"
        return f"{name}-synth" if self.synthetic else name

    @property
    def label(self) -> str:
        """``task/dataset/model/method/seedN``, for progress lines."""
        return (f"{self.task}/{self.dataset_label}/{self.model or 'default'}/{self.method}/"
                f"seed{self.seed}")

    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> RunSpec:
        """The spec a finished run wrote to ``<run_dir>/spec.json`` (the runner writes it).

        Raises:
            ValueError: when ``run_dir`` is not a run's work dir.
        """
        spec_file = Path(run_dir) / "spec.json"
        if not spec_file.is_file():
            raise ValueError(
                f"{run_dir} is not a run work dir (no spec.json); pass RESULTS/work/<run_id>"
            )
        fields = json.loads(spec_file.read_text())
        fields["options"] = tuple(tuple(kv) for kv in fields.get("options", ()))
        return cls(**fields)

    def run_id(self) -> str:
        """A stable, file-name-safe identifier of this run (the data root is not part of it)."""
        options = [self._id_item(key, value) for key, value in self.options
                   if key not in EXECUTION_OPTIONS
                   and key not in {f"{name}_sha256" for name in FILE_OPTIONS}]
        settings = json.dumps(
            {"epochs": self.epochs, "options": options, "synthetic": self.synthetic},
            sort_keys=True,
            default=str,
        )
        digest = hashlib.sha1(settings.encode()).hexdigest()[:8]
        parts = [self.task, self.dataset_label, self.model or "default", self.method]
        safe = "__".join(p.replace("/", "-") for p in parts)
        return f"{safe}__seed{self.seed}__{digest}"

    def _id_item(self, key: str, value: Any) -> tuple[str, Any]:
        """An option as the run id sees it: a file (:data:`FILE_OPTIONS`) by its sha256."""
        if key not in FILE_OPTIONS:
            return key, value
        digest = self.option_dict.get(f"{key}_sha256")
        return key, f"sha256:{digest}" if digest else Path(str(value)).name


@dataclass
class TaskOutput:
    """What a task returns from one run. Tasks never write result records themselves.

    Attributes:
        metrics: Metric name (lower_snake_case, e.g. ``"top1"``, ``"map@0.5"``) -> value.
        dataset: The dataset actually used (resolved default).
        model: The model actually used (resolved default).
        method_params: The method's parameters as applied (grid sizes in pixels, fill, ...),
            recorded in the table so a number always says what produced it.
        history: Per-epoch validation values, e.g. ``[{"epoch": 1, "top1": 41.2}, ...]``.
        artifacts: Name -> path (relative to the run's work dir) of files worth keeping,
            e.g. CAM figures or checkpoints.
        split: The evaluation split the metrics come from (e.g. ``"test"``, ``"val"``).
        extra: Anything else worth recording (number of images, skipped files, ...).
    """

    metrics: dict[str, float]
    dataset: str
    model: str
    method_params: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    split: str = "test"
    extra: dict[str, Any] = field(default_factory=dict)
