"""Train and test one OpenMMLab config for one RunSpec with mmengine's own Runner.

Shared by every OpenMMLab task (mmpretrain, mmsegmentation, mmaction2): the task builds the
config (inheriting the upstream one, with the method inserted by :mod:`benchmark.methods`);
this module applies the spec (seed, device, epochs, work dir, resume), trains, collects the
per-epoch validation metrics and returns the test metrics with mmengine's keys.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.engine import compat
from benchmark.engine.progress import ConsoleNoiseFilter, ProgressLine
from benchmark.engine.spec import RunSpec


@dataclass
class MMRunResult:
    """The outcome of :func:`run_mm`.

    Attributes:
        metrics: Test metrics with mmengine's keys (e.g. ``"accuracy/top1"``).
        history: One dict per validation, ``{"epoch": n, <metric key>: value, ...}``.
        runner: The mmengine Runner (its model holds the trained weights).
    """

    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    runner: Any = None


class NonFiniteLossError(RuntimeError):
    """Raised when the training loss becomes NaN or infinite."""


HISTORY_FILE = "history.jsonl"


def read_history(work_dir: Path) -> list[dict[str, Any]]:
    """Per-epoch validation rows of a run, across resumptions (the last row per epoch wins)."""
    path = Path(work_dir) / HISTORY_FILE
    if not path.exists():
        return []
    rows: dict[int, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        rows[int(row["epoch"])] = row
    return [rows[e] for e in sorted(rows)]


def _history_hook(work_dir: Path, progress: Any) -> Any:
    """A hook: per-epoch validation rows, the console progress line, a stop on a NaN/inf loss.

    Rows are appended to ``history.jsonl`` in the work dir, so a resumed run keeps the epochs
    trained before the interruption. ``progress`` is a
    :class:`benchmark.engine.progress.ProgressLine`.
    """
    from mmengine.hooks import Hook

    class _Progress(Hook):
        priority = "LOW"

        def before_train(self, runner):
            # Resumed from a checkpoint whose epoch was never validated (killed during
            # validation): validate it now so the history has no gap.
            done = {row["epoch"] for row in read_history(work_dir)}
            if runner.epoch > 0 and runner.epoch not in done and runner.val_loop is not None:
                runner.val_loop.run()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            loss = (outputs or {}).get("loss")
            value = None
            if loss is not None:
                value = float(loss.detach()) if hasattr(loss, "detach") else float(loss)
                if not math.isfinite(value):
                    raise NonFiniteLossError(
                        f"training loss became {value} at epoch {runner.epoch + 1}, "
                        f"iteration {runner.iter + 1}; lower the learning rate or check the data"
                    )
            progress.iteration(runner.epoch + 1, batch_idx + 1, len(runner.train_dataloader),
                               runner.iter + 1, value)

        def after_val_epoch(self, runner, metrics=None):
            row = {"epoch": runner.epoch}
            row.update({k: float(v) for k, v in (metrics or {}).items() if _is_number(v)})
            with open(Path(work_dir) / HISTORY_FILE, "a") as f:
                f.write(json.dumps(row) + "\n")
            progress.epoch_summary(runner.epoch, {k: v for k, v in row.items() if k != "epoch"})

        def after_train(self, runner):
            progress.close()

    return _Progress()


def _pretrained_hook(path: str, new_layer_prefixes: tuple[str, ...]) -> Any:
    """A hook that loads local pretrained weights before the first training iteration.

    It runs after mmengine's own weight init and after ``load_or_resume``: a run resumed from
    its checkpoint (``runner.iter > 0``) keeps the checkpoint's weights.
    """
    from mmengine.hooks import Hook
    from mmengine.model import is_model_wrapper

    class _Pretrained(Hook):
        priority = "VERY_HIGH"

        def before_train(self, runner):
            if runner.iter > 0:
                return
            from benchmark.engine.pretrained import load_pretrained

            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            load_pretrained(model, path, new_prefixes=new_layer_prefixes)

    return _Pretrained()


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def latest_checkpoint(work_dir: str | Path) -> Path:
    """The checkpoint mmengine saved last in a run's work dir.

    Raises:
        ValueError: when the run saved none.
    """
    work_dir = Path(work_dir)
    pointer = work_dir / "last_checkpoint"
    if pointer.is_file() and Path(pointer.read_text().strip()).is_file():
        return Path(pointer.read_text().strip())
    found = sorted(work_dir.glob("epoch_*.pth"), key=lambda p: int(p.stem.split("_")[1]))
    if not found:
        raise ValueError(f"{work_dir} has no checkpoint (epoch_*.pth); did the run finish?")
    return found[-1]


def load_trained_model(task: Any, run_dir: str | Path, *, scope: str) -> tuple[Any, Any, RunSpec]:
    """The trained model of a finished run (its spec.json and last checkpoint), on CPU.

    Args:
        task: The run's task; its ``build_config(spec)`` gives the run's config.
        run_dir: The run's work dir.
        scope: Registry scope the model lives in (``"mmpretrain"``, ``"mmaction"``...).

    Returns:
        (model in eval mode, config, spec).
    """
    compat.apply()
    from mmengine.logging import MMLogger
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    # Explanations run outside any Runner (e.g. in `hasbench suite`'s main process): keep the
    # datasets' and checkpoints' notes off the console there too.
    quiet_console(MMLogger.get_current_instance())

    spec = RunSpec.from_run_dir(run_dir)
    cfg, _ = task.build_config(spec)
    init_default_scope(scope)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, str(latest_checkpoint(run_dir)), map_location="cpu", logger="silent")
    return model.eval(), cfg, spec


def scale_epoch_schedule(cfg: Any, epochs: int) -> None:
    """Rescale epoch-based LR schedules of ``cfg`` in place from its max_epochs to ``epochs``.

    Milestones, ``T_max``, ``begin``/``end`` keep their fraction of training, so a short CPU
    run follows the same schedule shape as the upstream full-length one.
    """
    original = cfg.train_cfg.get("max_epochs")
    if not original or original == epochs:
        return
    ratio = epochs / original
    schedulers = cfg.get("param_scheduler") or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for sched in schedulers:
        if not sched.get("by_epoch", True):
            continue
        if "milestones" in sched:
            sched["milestones"] = sorted({max(1, round(m * ratio)) for m in sched["milestones"]})
        for key in ("T_max", "begin", "end"):
            if key in sched and isinstance(sched[key], (int, float)) and sched[key] < 10**6:
                sched[key] = max(0 if key == "begin" else 1, round(sched[key] * ratio))


#: Training iterations between two lines of mmengine's log (the ``LoggerHook`` interval).
LOG_INTERVAL_ITERS = 10

#: ``vis_backend`` option -> (mmengine backend type, the package it needs).
VIS_BACKENDS = {
    "local": ("LocalVisBackend", None),
    "tensorboard": ("TensorboardVisBackend", "tensorboard"),
    "wandb": ("WandbVisBackend", "wandb"),
    "mlflow": ("MLflowVisBackend", "mlflow"),
}


def check_vis_backend(name: str) -> None:
    """Raise ``ValueError`` when ``name`` is unknown or its package is not installed."""
    import importlib.util

    if name not in VIS_BACKENDS:
        raise ValueError(f"unknown visualizer backend {name!r}; use one of "
                         f"{', '.join(VIS_BACKENDS)} (--vis-backend)")
    package = VIS_BACKENDS[name][1]
    if package and importlib.util.find_spec(package) is None:
        raise ValueError(f"--vis-backend {name} needs the {package!r} package, which is not "
                         f"installed; `.venv/bin/pip install {package}` or pick another backend")


def vis_backends(name: str) -> list[dict[str, Any]]:
    """The mmengine visualizer backends for ``name``: the local one, plus ``name``'s own."""
    check_vis_backend(name)
    backends = [dict(type="LocalVisBackend")]
    if name != "local":
        backends.append(dict(type=VIS_BACKENDS[name][0]))
    return backends


def apply_spec(cfg: Any, spec: RunSpec, work_dir: Path, *, scope: str) -> Any:
    """Return a copy of ``cfg`` set up for ``spec`` (see module docstring)."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(work_dir)
    cfg.default_scope = scope
    # One seed on every rank, so the data order is the seed's for every method (mmengine's
    # diff_rank_seed=True would shuffle with a seed drawn at run time instead); the HaS data
    # preprocessor draws its masks per rank itself.
    cfg.randomness = dict(seed=spec.seed, deterministic=False, diff_rank_seed=False)
    cfg.launcher = spec.option_dict.get("launcher", "none")
    cfg.log_level = spec.option_dict.get("log_level", "INFO")
    if cfg.train_cfg.get("by_epoch", True) and "max_epochs" in cfg.train_cfg:
        scale_epoch_schedule(cfg, spec.epochs)
        cfg.train_cfg.max_epochs = spec.epochs
    hooks = cfg.setdefault("default_hooks", {})
    hooks["checkpoint"] = dict(type="CheckpointHook", interval=1, max_keep_ckpts=1, save_last=True)
    hooks["logger"] = dict(type="LoggerHook", interval=LOG_INTERVAL_ITERS)
    hooks.pop("visualization", None)
    cfg.visualizer = dict(type="Visualizer", vis_backends=vis_backends(
        spec.option_dict.get("vis_backend", "local")))
    cfg.resume = True  # resumes from work_dir's latest checkpoint; none -> trains from scratch
    cfg.load_from = None
    if "lr" in spec.option_dict:
        cfg.optim_wrapper.optimizer.lr = float(spec.option_dict["lr"])
    if spec.option_dict.get("amp"):
        from benchmark.engine.amp import optim_wrapper_type

        cfg.optim_wrapper.type = optim_wrapper_type(spec.device)
        cfg.optim_wrapper.dtype = spec.option_dict["amp"]
    workers = int(spec.option_dict.get("num_workers", 0 if spec.device == "cpu" else 4))
    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg.get(name)
        if loader:
            loader["num_workers"] = workers
            loader["persistent_workers"] = workers > 0
            if "batch_size" in spec.option_dict and name == "train_dataloader":
                loader["batch_size"] = int(spec.option_dict["batch_size"])
    return cfg


def quiet_console(logger: Any) -> None:
    """Keep ``logger``'s console handlers at WARNING and free of :data:`progress.NOISE`.

    The file handlers keep the logger's own level (INFO by default), so the work dir's log
    holds everything, as ``tools/train.py`` users know it.
    """
    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler):
            handler.setLevel(max(handler.level, logging.WARNING))
            if not any(isinstance(f, ConsoleNoiseFilter) for f in handler.filters):
                handler.addFilter(ConsoleNoiseFilter())


def _console_runner_class(runner_class: Any) -> Any:
    """``runner_class`` whose logger is quiet on the console from its first line on."""

    class ConsoleRunner(runner_class):
        def build_logger(self, *args: Any, **kwargs: Any) -> Any:
            logger = super().build_logger(*args, **kwargs)
            quiet_console(logger)
            # Warnings while the model and datasets are built (mmseg's deprecations) go through
            # the logger too; run_mm's catch_warnings restores the hook afterwards.
            warnings.showwarning = _warning_to_log(logger)
            return logger

    return ConsoleRunner


class _LogStream:
    """A text stream that sends each printed line to ``logger`` at INFO (the log file)."""

    def __init__(self, logger: Any):
        self.logger = logger

    def write(self, text: str) -> int:
        """Log each non-empty line of ``text``."""
        for line in text.splitlines():
            if line.strip():
                self.logger.info(line)
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


def _warning_to_log(logger: Any) -> Any:
    """A ``warnings.showwarning`` sending warnings through ``logger`` (log, console minus noise)."""

    def show(message, category, filename, lineno, file=None, line=None):
        logger.warning(f"{category.__name__}: {message} ({filename}:{lineno})")

    return show


@contextlib.contextmanager
def _device(device: str) -> Iterator[None]:
    """Make mmengine place the model on ``device`` (it otherwise picks CUDA when present)."""
    import torch
    from mmengine.device import utils as device_utils

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but CUDA is not available; use --device cpu")
    previous = device_utils.DEVICE
    device_utils.DEVICE = "cpu" if device == "cpu" else previous
    try:
        yield
    finally:
        device_utils.DEVICE = previous


def run_mm(cfg: Any, spec: RunSpec, work_dir: Path, *, scope: str, pretrained: str | None = None,
           new_layer_prefixes: tuple[str, ...] = ()) -> MMRunResult:
    """Train ``cfg`` for ``spec`` in ``work_dir`` and test it.

    Args:
        cfg: An ``mmengine.Config`` with train/val/test dataloaders and evaluators.
        spec: The resolved spec (seed, device, epochs, options ``num_workers``,
            ``batch_size``, ``lr``, ``amp``, ``launcher``, ``log_level``, ``vis_backend``,
            ``progress``).
        work_dir: The run's folder (checkpoints, logs).
        scope: Default registry scope (``"mmpretrain"``, ``"mmseg"``, ``"mmaction"``).
        pretrained: A local weights file loaded before the first iteration (converted to
            the model's keys by ``benchmark.engine.pretrained.load_pretrained``).
        new_layer_prefixes: The model's keys ``pretrained`` leaves to random init.

    Returns:
        The test metrics, per-epoch validation history and the Runner.

    Raises:
        NonFiniteLossError: when the loss becomes NaN/inf (the run is recorded as failed).
    """
    compat.apply()
    from mmengine.runner import Runner

    import benchmark.pipelines  # noqa: F401  (registers the HaS stages)
    from benchmark.engine import amp

    amp.register()
    if scope == "mmaction" and spec.option_dict.get("amp") == "bfloat16":
        amp.patch_mmaction_bfloat16_scores()

    cfg = apply_spec(cfg, spec, work_dir, scope=scope)
    os.makedirs(work_dir, exist_ok=True)
    progress = ProgressLine(spec.label, spec.epochs, spec.option_dict.get("progress", "auto"))
    with _device(spec.device), warnings.catch_warnings():
        runner = _console_runner_class(Runner).from_cfg(cfg)
        runner.register_hook(_history_hook(work_dir, progress), priority="LOW")
        if pretrained:
            runner.register_hook(_pretrained_hook(pretrained, tuple(new_layer_prefixes)),
                                 priority="VERY_HIGH")
        # mmengine prints some notes with print() (no logger): they go to the log file only.
        with contextlib.redirect_stdout(_LogStream(runner.logger)):
            runner.train()
            metrics = runner.test()
    return MMRunResult(
        metrics={k: float(v) for k, v in metrics.items() if _is_number(v)},
        history=read_history(work_dir),
        runner=runner,
    )


def use_plain_batchnorm(node: Any) -> None:
    """Replace every ``SyncBN`` norm config in ``node`` (nested dicts/lists) by ``BN``."""
    if isinstance(node, dict):
        if node.get("type") == "SyncBN":
            node["type"] = "BN"
        for value in node.values():
            use_plain_batchnorm(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            use_plain_batchnorm(value)


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` torch CPU threads (None: unchanged), restoring the previous count.

    The models here are tiny: on a shared few-core machine one thread per run is faster than
    several contending ones.
    """
    import torch

    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


