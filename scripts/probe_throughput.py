"""Training throughput of every (task, dataset, model) row of a suite: baseline and HaS.

For each distinct row of the suite manifest (``configs/suites/paper.yaml`` by default) the
probe builds the run's own config, as ``hasbench run`` would, on data generated in the
dataset's real layout (``DatasetInfo.synth``), takes a few training batches from the task's
own training pipeline, keeps them in memory and times the training step on them:

- OpenMMLab tasks: ``model.train_step(batch, optim_wrapper)`` of the model and optimizer
  wrapper mmengine's ``Runner`` builds from the config (data preprocessor, forward, backward,
  optimizer step; with ``--amp`` mmengine's ``AmpOptimWrapper``, or the CPU bfloat16 one);
- re-ID: torchreid's ``ImageSoftmaxEngine.forward_backward`` on batches of its
  ``ImageDataManager`` (with ``--amp``: the same step under autocast, as ``tasks.reid.train``).

So a row measures model + data-preprocessor compute per training sample (images; clips for
video; feature sequences for action localization), not data loading or evaluation. HaS is
measured in the placement the suite gives it (``has_options``): in the data preprocessor it
runs inside the timed step (``has_in_timed_loop=True``); in the data pipeline (re-ID, action
localization) it does not, and its own CPU cost per sample in a data worker is timed apart
(``has_pipeline_us_per_sample``, on the batches' samples, one thread).

The batch is the config's per-GPU batch (``--tiny``: at most 2); the input shape is the
paper config's (e.g. ``RandomResizedCrop`` 224), whatever size the generated images have.
Datasets without a generator take a generated layout with the same pipeline (column
``generated_from``): CIFAR-100 is timed on generated CIFAR-10 with the 100-class head,
ImageNet on generated image folders in ImageNet's layout, UCF101 on generated clips in the
same video-list layout. Heads get the real dataset's class count (``num_classes``), not the
generated data's. CUDA is synchronized before every reading of the clock; warm-up steps
(cuDNN autotuning, allocator) are excluded.

``--tiny`` is the CPU fallback that tests run: the tasks' small models (``measured_model``)
and inputs where they have them (WSOL's 224-px rows at 64 px on Tiny ImageNet's layout),
batches of at most 2, a fraction of a second per measurement. Its rows are marked
``tiny=True``, and ``hasbench suite --dry-run`` (``benchmark.engine.gpu_hours``) ignores them.

Rows are written to ``--out`` as they are measured (a probe cut short by a time limit keeps
what it measured); a row that fails records its error and the probe goes on (exit 1).

Usage::

    .venv/bin/python scripts/probe_throughput.py [--suite configs/suites/paper.yaml]
        [--out results/perf/gpu/throughput.csv] [--device cuda|cpu] [--seconds 25]
        [--tiny] [--only task=wsol,model=resnet50] [--amp bfloat16|float16]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import datetime as dt
import gc
import importlib
import math
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import EXECUTION_OPTIONS, PRETRAINED_OPTION, RunSpec

COLUMNS = ("task", "dataset", "model", "measured_model", "method", "placement",
           "has_in_timed_loop", "has_pipeline_us_per_sample", "device", "device_name", "amp",
           "batch_size", "unit", "input_shape", "num_classes", "warmup_iterations", "iterations",
           "seconds", "samples_per_s", "torch_version", "generated_from", "tiny", "date",
           "error")
#: The methods the probe measures (every other method is costed at the baseline's figure).
METHODS = ("baseline", "has")
#: What one training sample is, per task (the default: an image).
UNITS = {"video": "clips", "action_localization": "sequences"}
#: The real dataset's class (identity) count, where the generated data has fewer classes.
REAL_CLASSES = {("classification", "cifar100"): 100, ("classification", "imagenet"): 1000,
                ("wsol", "ilsvrc"): 1000, ("wsol", "cub"): 200, ("wsol", "tiny-imagenet"): 200,
                ("video", "ucf101"): 101, ("reid", "market1501"): 751,
                ("reid", "dukemtmc-reid"): 702}
#: ``--tiny``: (task, model) -> the task's small model timed instead.
TINY_MODELS = {("classification", "resnet18-cifar"): "resnet-tiny-cifar",
               ("emotion", "resnet18-cifar"): "resnet-tiny",
               ("age_gender", "resnet18"): "resnet-tiny",
               ("segmentation", "fcn-r50-d8"): "fcn-r18-tiny",
               ("segmentation", "deeplabv3-r50-d8"): "fcn-r18-tiny",
               ("wsss", "resnet50-deeplabv3"): "resnet-tiny-fcn",
               ("action_localization", "wtalc"): "wtalc-tiny",
               ("video", "i3d-r50"): "i3d-tiny", ("reid", "resnet50"): "osnet_x0_25"}
#: ``--tiny``: (task, dataset) -> a dataset whose config has smaller inputs, same models.
TINY_DATASETS = {("wsol", "ilsvrc"): "tiny-imagenet", ("wsol", "cub"): "tiny-imagenet"}
TINY_BATCH = 2
#: Distinct batches kept in memory and cycled through.
BATCHES = 2
#: Videos per subset written for action localization (the pipeline resamples each to the
#: config's training length, so more videos would only cost disk).
THUMOS_VIDEOS = 12


@dataclass(frozen=True)
class Measurement:
    """One (row, method) to time: the suite's spec and what is built for it."""

    task: str
    dataset: str
    model: str
    method: str
    spec: RunSpec  # the spec actually built: generated data root, options for the probe
    generated_from: str
    tiny: bool = False


# ----------------------------------------------------------------------------- the suite
def suite_measurements(suite: str, only: str | None, device: str, tiny: bool,
                       amp: str | None, data: Callable[[str, str, RunSpec], tuple]
                       ) -> list[Measurement]:
    """The (row, method) pairs of a suite to time, each built on generated data.

    Args:
        suite: Suite name or manifest path.
        only: ``--only`` filter (``task=...,dataset=...,model=...,method=...``).
        device: ``cuda`` or ``cpu``.
        tiny: Swap in small models/inputs and cap the batch (see module docstring).
        amp: ``--amp`` dtype or None.
        data: ``data(task, dataset, spec)`` -> (dataset for the spec, data root,
            generated_from); see :class:`GeneratedData`.
    """
    from benchmark.engine import suite as suites
    from tasks import get_task

    runs = suites.select(suites.load_suite(suite).runs, suites.parse_only(only))
    chosen: dict[tuple[str, str, str, str], RunSpec] = {}
    for run in runs:
        spec = run.spec
        if spec.method in METHODS:  # a row naming no dataset or model gets the task's default
            filled = get_task(spec.task).resolve(replace(spec, options=()))
            chosen.setdefault((spec.task, filled.dataset, filled.model, spec.method), spec)
    out = []
    for (task, dataset, model, method), spec in chosen.items():
        measured_model = TINY_MODELS.get((task, model), model) if tiny else model
        measured_dataset = TINY_DATASETS.get((task, dataset), dataset) if tiny else dataset
        probe = _probe_spec(spec, measured_dataset, measured_model, device, tiny, amp)
        spec_dataset, root, generated_from = data(task, measured_dataset, probe)
        probe = replace(probe, dataset=spec_dataset, data_root=str(root))
        out.append(Measurement(task, dataset, model, method, probe, generated_from, tiny))
    return out


def _probe_spec(spec: RunSpec, dataset: str, model: str, device: str, tiny: bool,
                amp: str | None) -> RunSpec:
    """The suite's spec for timing: no weights file, no data-loader workers, quiet logs."""
    options = {k: v for k, v in spec.option_dict.items()
               if not k.startswith(PRETRAINED_OPTION) and k not in EXECUTION_OPTIONS}
    options.update(num_workers=0, log_level="WARNING")
    if amp:
        options["amp"] = amp
    if tiny and spec.task == "reid":
        options["train.batch_size"] = TINY_BATCH
    elif tiny:
        options["batch_size"] = TINY_BATCH
    return replace(spec, dataset=dataset, model=model, device=device, synthetic=True,
                   seed=0, options=tuple(sorted(options.items())))


class GeneratedData:
    """Data roots generated once per layout under ``folder``.

    Each dataset's own generator where it has one; for the datasets without a generator, a
    generated layout read by the same pipeline (named in ``generated_from``).
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.made: dict[str, Path] = {}

    def __call__(self, task_name: str, dataset: str, spec: RunSpec) -> tuple[str, Path, str]:
        """(dataset the spec names, its data root, what the root was generated as)."""
        from tasks import get_task

        if (task_name, dataset) == ("classification", "cifar100"):
            return "cifar10", self._root("cifar10", lambda out: get_task(task_name)
                                         .datasets["cifar10"].synth(out, 0)), "cifar10"
        if (task_name, dataset) == ("classification", "imagenet"):
            return dataset, self._root("imagenet", _write_imagenet_layout), (
                "cifar10-jpeg generator in imagenet's train/val layout")
        if (task_name, dataset) == ("video", "ucf101"):
            return dataset, self._root("clips", lambda out: get_task("video")
                                       .datasets["clips"].synth(out, 0)), "clips"
        if task_name == "action_localization":
            dim = int(get_task(task_name).load_config(spec).model.feature_dim)
            return dataset, self._root(f"{dataset}-{dim}d", lambda out: _write_thumos(out, dim)), (
                f"{dataset} ({dim}-D features)")
        info = get_task(task_name).dataset_info(dataset)
        if info.synth is None:
            raise ValueError(f"dataset {dataset!r} of task {task_name!r} has no generator and "
                             "no stand-in in scripts/probe_throughput.py; add one there")
        return dataset, self._root(dataset, lambda out: info.synth(out, 0)), dataset

    def _root(self, key: str, write: Callable[[Path], Any]) -> Path:
        if key not in self.made:
            out = self.folder / key
            write(out)
            self.made[key] = out
        return self.made[key]


def _write_imagenet_layout(out: Path) -> None:
    from tasks.classification.synth import write_image_folder_layout

    write_image_folder_layout(out, seed=0, train_per_class=8, test_per_class=2,
                              splits=("train", "val"), ext=".JPEG")


def _write_thumos(out: Path, dim: int) -> None:
    from tasks.action_localization.synth import write_thumos14_features

    write_thumos14_features(out, seed=0, feature_dim=dim, max_videos_per_subset=THUMOS_VIDEOS)


# ----------------------------------------------------------------------------- timing
def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for the device's queued work (nothing on the CPU)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def time_steps(step: Callable[[Any], Any], batches: list[Any], seconds: float, warmup: int,
               sync: Callable[[], None], min_iterations: int = 2) -> tuple[int, float]:
    """Run ``step`` on ``batches`` in turn: ``warmup`` untimed calls, then timed ones.

    Each timed call is clocked on its own between two synchronizations, until the timed calls
    add up to ``seconds`` and there are at least ``min_iterations`` of them.

    Returns:
        (timed iterations, their total wall-clock seconds).
    """
    for index in range(warmup):
        step(batches[index % len(batches)])
    sync()
    iterations, total = 0, 0.0
    while total < seconds or iterations < min_iterations:
        batch = batches[(warmup + iterations) % len(batches)]
        sync()
        start = time.perf_counter()
        step(batch)
        sync()
        total += time.perf_counter() - start
        iterations += 1
    return iterations, total


def time_stage(stage: Callable[[Any], Any], inputs: list[Any], prepare: Callable[[Any], Any]
               ) -> float:
    """Mean microseconds per call of a pipeline stage on ``inputs``.

    ``prepare`` makes a fresh copy of each input (outside the clock): stages may write in place.
    """
    total = 0.0
    for item in inputs:
        fresh = prepare(item)
        start = time.perf_counter()
        stage(fresh)
        total += time.perf_counter() - start
    return 1e6 * total / len(inputs)


def _shape(inputs: Any) -> str:
    """``CxHxW``-style shape of one sample of a batch's model inputs."""
    first = inputs[0] if isinstance(inputs, list | tuple) else inputs
    dims = first.shape if isinstance(inputs, list | tuple) else first.shape[1:]
    return "x".join(str(int(d)) for d in dims)


# ----------------------------------------------------------------------------- OpenMMLab
def _set_classes(cfg: Any, count: int | None) -> None:
    """Give the config's classification head (and batch augments) ``count`` classes."""
    if count is None:
        return
    for key in ("head", "cls_head"):
        if key in cfg.model and "num_classes" in cfg.model[key]:
            cfg.model[key]["num_classes"] = count
    for preprocessor in (cfg.get("data_preprocessor"), cfg.model.get("data_preprocessor")):
        if preprocessor and "num_classes" in preprocessor:
            preprocessor["num_classes"] = count


def _classes_of(cfg: Any) -> int | None:
    for key in ("head", "cls_head", "decode_head"):
        if key in cfg.model and "num_classes" in cfg.model[key]:
            return int(cfg.model[key]["num_classes"])
    return int(cfg.model["num_classes"]) if "num_classes" in cfg.model else None


def _collated(loader: Any, batch_size: int, count: int) -> list[Any]:
    """``count`` batches of ``batch_size`` samples from the loader's dataset, in order.

    Indices wrap around, so a generated dataset smaller than a batch still fills one.
    """
    dataset = loader.dataset
    return [loader.collate_fn([dataset[(b * batch_size + i) % len(dataset)]
                               for i in range(batch_size)]) for b in range(count)]


def _has_stage_index(pipeline: Any) -> int | None:
    names = [type(t).__name__ for t in pipeline.transforms]
    return next((i for i, n in enumerate(names) if n in ("HideAndSeek", "HideAndSeekFrames")),
                None)


def _pipeline_stage_us(dataset: Any, count: int) -> float | None:
    """Mean microseconds of the training pipeline's HaS stage per sample (None: none there).

    A wrapped dataset (mmengine's ``ConcatDataset``, ``RepeatDataset``) is timed on its first
    part, whose pipeline the other parts share.
    """
    while not hasattr(dataset, "pipeline"):
        dataset = dataset.datasets[0] if hasattr(dataset, "datasets") else dataset.dataset
    index = _has_stage_index(dataset.pipeline)
    if index is None:
        return None
    before, stage = dataset.pipeline.transforms[:index], dataset.pipeline.transforms[index]
    inputs = []
    for i in range(count):
        results = copy.deepcopy(dataset.get_data_info(i % len(dataset)))
        for transform in before:
            results = transform(results)
        inputs.append(results)
    return time_stage(stage, inputs, copy.deepcopy)


def measure_mm(task: Any, item: Measurement, work_dir: Path, seconds: float, warmup: int
               ) -> dict[str, Any]:
    """Time ``train_step`` of an OpenMMLab run's model on batches of its training pipeline."""
    import torch
    from mmengine.runner import Runner

    import benchmark.pipelines  # noqa: F401  (registers the HaS stages and preprocessors)
    from benchmark.engine import amp, compat, mmrun

    compat.apply()
    amp.register()
    for module in task.registers:
        importlib.import_module(module)
    spec = task.resolve(item.spec)
    cfg, _ = task.build_config(spec)
    _set_classes(cfg, REAL_CLASSES.get((item.task, item.dataset)))
    cfg = mmrun.apply_spec(cfg, spec, work_dir, scope=task.scope)
    cfg.experiment_name = f"probe_{work_dir.name}"  # one logger/scope instance per build
    batch_size = int(cfg.train_dataloader.batch_size)
    runner = Runner.from_cfg(cfg)
    # mmengine only ever switches cuDNN autotuning on: each row gets its own config's setting.
    torch.backends.cudnn.benchmark = bool(cfg.get("env_cfg", {}).get("cudnn_benchmark", False))
    model = runner.model.to(spec.device)
    model.train()
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    loader = Runner.build_dataloader(dict(cfg.train_dataloader, num_workers=0,
                                          persistent_workers=False), seed=0)
    batches = _collated(loader, batch_size, BATCHES)
    with torch.no_grad():
        shape = _shape(model.data_preprocessor(copy.copy(batches[0]), True)["inputs"])
    in_loop = type(model.data_preprocessor).__name__.startswith("HideAndSeek")
    iterations, total = time_steps(lambda b: model.train_step(b, optim_wrapper), batches,
                                   seconds, warmup, synchronizer(spec.device))
    stage_us = _pipeline_stage_us(loader.dataset, max(batch_size, 4))
    return dict(batch_size=batch_size, input_shape=shape, num_classes=_classes_of(cfg),
                has_in_timed_loop=in_loop, has_pipeline_us_per_sample=stage_us,
                iterations=iterations, seconds=total)


# ----------------------------------------------------------------------------- torchreid
def measure_reid(task: Any, item: Measurement, seconds: float, warmup: int) -> dict[str, Any]:
    """Time torchreid's softmax training step on batches of its training data manager."""
    from benchmark.engine.amp import autocast
    from benchmark.pipelines.torchreid import HideAndSeekTensor
    from tasks.reid import build_datamanager
    from tasks.reid.data import LAYOUTS, register_offline_datasets
    from tasks.reid.train import import_torchreid, set_random_seed

    torchreid = import_torchreid()
    spec = task.resolve(item.spec)
    cfg = task.build_config(spec)
    register_offline_datasets()
    set_random_seed(0)
    use_gpu = spec.device.startswith("cuda")
    datamanager, _ = build_datamanager(cfg, spec, LAYOUTS[spec.dataset].source, use_gpu)
    classes = REAL_CLASSES.get((item.task, item.dataset), datamanager.num_train_pids)
    model = torchreid.models.build_model(name=cfg["model"]["name"], num_classes=classes,
                                         loss="softmax", pretrained=False, use_gpu=use_gpu)
    model = model.to(spec.device)
    optimizer = torchreid.optim.build_optimizer(
        model, optim=cfg["train"]["optim"], lr=float(cfg["train"]["lr"]),
        weight_decay=float(cfg["train"]["weight_decay"]))
    engine = torchreid.engine.ImageSoftmaxEngine(
        datamanager, model, optimizer, use_gpu=use_gpu,
        label_smooth=bool(cfg["loss"]["softmax"]["label_smooth"]))
    model.train()
    batches = []
    for batch in datamanager.train_loader:
        batches.append(batch)
        if len(batches) == BATCHES:
            break
    dtype = spec.option_dict.get("amp")
    scaler = None
    if dtype == "float16":
        import torch

        scaler = torch.amp.GradScaler("cuda")

    def step(data: dict) -> None:
        if dtype is None:  # torchreid's own step
            engine.forward_backward(data)
            return
        imgs, pids = engine.parse_data_for_train(data)
        imgs, pids = imgs.to(spec.device), pids.to(spec.device)
        with autocast(dtype, spec.device):
            loss = engine.compute_loss(engine.criterion, model(imgs), pids)
        optimizer.zero_grad()
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        loss.item()

    iterations, total = time_steps(step, batches, seconds, warmup, synchronizer(spec.device))
    stage = next((t for t in datamanager.transform_tr.transforms
                  if isinstance(t, HideAndSeekTensor)), None)
    stage_us = None
    if stage is not None:
        stage_us = time_stage(stage, list(batches[0]["img"]), lambda img: img.clone())
    return dict(batch_size=int(batches[0]["img"].shape[0]), input_shape=_shape(batches[0]["img"]),
                num_classes=classes, has_in_timed_loop=False, has_pipeline_us_per_sample=stage_us,
                iterations=iterations, seconds=total)


# ----------------------------------------------------------------------------- rows
def device_name(device: str) -> str:
    """The GPU's name, or the CPU's model."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    from benchmark.engine.runner import cpu_model

    return cpu_model()


def placement_of(item: Measurement) -> str:
    """Where the method hides: ``pipeline``, ``preprocessor``, or ``-`` (it does not)."""
    from benchmark.methods import method_for

    method = method_for(item.method, item.spec.option_dict)
    return method.placement if method.hides else "-"


def measure(item: Measurement, work_root: Path, seconds: float, warmup: int) -> dict[str, Any]:
    """One CSV row (``error`` set and no figures when the measurement failed)."""
    import torch

    from tasks import get_task
    from tasks.base import MMTask

    spec = item.spec
    row = dict(task=item.task, dataset=item.dataset, model=item.model,
               measured_model=spec.model, method=item.method, placement=placement_of(item),
               device=spec.device, device_name=device_name(spec.device),
               amp=spec.option_dict.get("amp") or "none", unit=UNITS.get(item.task, "images"),
               warmup_iterations=warmup, torch_version=torch.__version__,
               generated_from=item.generated_from, tiny=item.tiny,
               date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), error="")
    task = get_task(item.task)
    work_dir = Path(tempfile.mkdtemp(prefix=f"{item.task}-{item.method}-", dir=work_root))
    try:
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the libraries' deprecation notes
            figures = (measure_mm(task, item, work_dir, seconds, warmup)
                       if isinstance(task, MMTask) else measure_reid(task, item, seconds, warmup))
        row.update(figures)
        row["samples_per_s"] = round(row["batch_size"] * row["iterations"] / row["seconds"], 3)
        row["seconds"] = round(row["seconds"], 4)
        if row["has_pipeline_us_per_sample"] is not None:
            row["has_pipeline_us_per_sample"] = round(row["has_pipeline_us_per_sample"], 1)
    except Exception as err:  # one failing row must not lose the others' figures
        row["error"] = f"{type(err).__name__}: {err}".replace("\n", " ")[:500]
        traceback.print_exc()
    finally:
        gc.collect()  # the row's model and optimizer state, before the next row builds its own
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return row


def _table(rows: list[dict[str, Any]]) -> str:
    from benchmark.reporting.document import markdown_table

    header = ("task", "dataset", "model", "method", "placement", "in loop", "batch", "input",
              "samples/s", "HaS µs/sample (pipeline)")
    cells = [(r["task"], r["dataset"], r["model"] if r["model"] == r["measured_model"]
              else f"{r['model']} (timed: {r['measured_model']})", r["method"], r["placement"],
              str(r.get("has_in_timed_loop", "")), str(r.get("batch_size", "")),
              str(r.get("input_shape", "")),
              r.get("samples_per_s", "") or f"error: {r['error'][:60]}",
              "" if r.get("has_pipeline_us_per_sample") is None
              else str(r["has_pipeline_us_per_sample"])) for r in rows]
    return markdown_table(header, [tuple(str(c) for c in row) for row in cells],
                          align="llllllrlrr")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="configs/suites/paper.yaml",
                        help="suite name or manifest path (default configs/suites/paper.yaml)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results/perf/gpu/throughput.csv",
                        help="CSV to write (default results/perf/gpu/throughput.csv, which "
                             "`hasbench suite --dry-run` reads)")
    parser.add_argument("--device", choices=["cuda", "cpu"],
                        help="default: cuda where available, else cpu")
    parser.add_argument("--seconds", type=float,
                        help="timed seconds per measurement (default 25 on CUDA, 10 on the "
                             "CPU, 0.2 with --tiny)")
    parser.add_argument("--tiny", action="store_true",
                        help="CPU fallback: small models and inputs, batches of 2")
    parser.add_argument("--only", help="filter the suite's rows, e.g. task=classification")
    parser.add_argument("--amp", choices=["bfloat16", "float16"],
                        help="time mixed-precision training (mmengine's AmpOptimWrapper)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Time every row of the suite; write the CSV row by row and print a Markdown table."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ValueError as err:
        print(f"probe_throughput: error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    import torch

    from benchmark.engine.amp import check_amp
    from benchmark.engine.progress import quiet_known_warnings

    quiet_known_warnings()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but CUDA is not available; use --device cpu")
    if args.amp:
        check_amp(args.amp, device)
    seconds = args.seconds if args.seconds is not None else (
        0.2 if args.tiny else 25.0 if device == "cuda" else 10.0)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"--seconds must be a positive number, got {args.seconds}")
    warmup = 1 if args.tiny else 5 if device == "cuda" else 2
    if args.tiny:
        torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="hasbench-probe-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "work").mkdir()
        suite = args.suite
        if not Path(suite).exists() and (REPO_ROOT / suite).is_file():
            suite = str(REPO_ROOT / suite)  # the default, from another working directory
        items = suite_measurements(suite, args.only, device, args.tiny, args.amp,
                                   GeneratedData(tmp_path / "data"))
        if not items:
            raise ValueError(f"no baseline or has runs in suite {args.suite!r} match --only "
                             f"{args.only!r}; check the filter against the manifest")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for item in items:
                row = measure(item, tmp_path / "work", seconds, warmup)
                writer.writerow(row)
                f.flush()
                rows.append(row)
                print(f"[probe] {item.task}/{item.dataset}/{row['measured_model']}/"
                      f"{item.method}: {row.get('samples_per_s') or row['error']}",
                      file=sys.stderr, flush=True)
    print(f"{device_name(device)}, torch {torch.__version__}, "
          f"{seconds:g} s per measurement -> {args.out}")
    print(_table(rows), end="")
    return 1 if any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
