"""Training-data throughput with and without HaS in mmpretrain's real data loader.

Two real pipelines, each built from the classification task's configs and the method overlay:

- ``imagenet``: ``configs/classification/resnet50_imagenet.py`` (mmpretrain's ImageNet recipe:
  ``LoadImageFromFile`` → ``RandomResizedCrop(224)`` → ``RandomFlip`` → [``HideAndSeek``] →
  ``PackInputs``) on real JPEGs (the Tiny ImageNet subset's train images);
- ``cifar``: the 32x32 ``cifar10-jpeg`` image folders (``RandomCrop(32, padding=4)``) -- the
  worst case for a per-image stage, since everything else is tiny.

mmengine's collate and the model's data preprocessor (normalization) are included. Baseline and
HaS (uint8 kept, the default), HaS with ``keep_dtype=False`` (float32, exact 0) and HaS in the
data preprocessor (``has_placement=preprocessor``: the normalized batch, exact 0) are
interleaved batch by batch in one process on one core (torch and OpenCV single-threaded, as
mmengine's runner sets OpenCV up for training; a machine whose speed drifts -- ±25%
from one pass to the next was seen here on virtual CPUs -- then slows every case alike);
images/s is CPU time of this thread (like ``bench_has_speed.py``). Reported: each HaS case's
extra time per image in percent, with and without the data preprocessor (``_loader_only``:
what the CPU data workers pay when the preprocessor runs on the GPU), and the HaS stage's own
CPU time (timed around the stage inside the same batches) as a share of everything else --
with ``keep_dtype=True`` the stage writes into the image, so nothing downstream changes.

Usage::

    .venv/bin/python scripts/bench_pipeline_throughput.py [--passes 5] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf_common import machine_meta

from benchmark.engine import compat
from benchmark.engine.spec import RunSpec
from benchmark.reporting.document import markdown_table

#: Cases: (name, method, run options, HideAndSeek keep_dtype). ``has_float32`` is the exact-0
#: pipeline variant; ``has_preprocessor`` hides the normalized batch in the data preprocessor.
CASES = (
    ("baseline", "baseline", {}, None),
    ("has", "has", {}, True),
    ("has_float32", "has", {}, False),
    ("has_preprocessor", "has", {"has_placement": "preprocessor"}, None),
)


def _set_keep_dtype(cfg, keep_dtype: bool | None) -> None:
    """Set ``keep_dtype`` on the training pipeline's HideAndSeek stage (if any)."""
    if keep_dtype is None:
        return
    for stage in cfg.train_dataloader.dataset.pipeline:
        if str(stage["type"]).endswith("HideAndSeek"):
            stage["keep_dtype"] = keep_dtype


def _loader_and_preprocessor(method: str, pipeline: str, batch_size: int, limit: int,
                             options: dict | None = None, keep_dtype: bool | None = None):
    import mmpretrain.models  # noqa: F401  (registers the data preprocessors)
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules

    import benchmark.pipelines  # noqa: F401
    from tasks import get_task

    register_all_modules(init_default_scope=True)
    from benchmark.engine.paths import data_dir
    from benchmark.methods import apply_method_to_mm_config, method_for
    from tasks.classification import CONFIG_DIR

    if pipeline == "imagenet":
        from mmengine import Config

        cfg = Config.fromfile(str(CONFIG_DIR / "resnet50_imagenet.py"))
        cfg.train_dataloader.dataset = dict(
            type="CustomDataset", data_root=str(data_dir() / "tiny-imagenet-10"),
            data_prefix="train", pipeline=cfg.train_dataloader.dataset.pipeline)
        cfg, _ = apply_method_to_mm_config(cfg, method_for(method, options), scope="mmpretrain",
                                           image_hw=(224, 224))
    else:
        task = get_task("classification")
        spec = task.resolve(RunSpec("classification", method=method, dataset="cifar10-jpeg",
                                    model="resnet-tiny-cifar").with_options(**(options or {})))
        cfg, _ = task.build_config(spec)
    _set_keep_dtype(cfg, keep_dtype)
    cfg.train_dataloader.dataset["indices"] = limit
    loader_cfg = dict(cfg.train_dataloader, batch_size=batch_size, num_workers=0,
                      persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    preprocessor = MODELS.build({"type": "ClsDataPreprocessor", **cfg.data_preprocessor})
    return loader, preprocessor


def _timer_seconds(samples: int = 5000) -> float:
    """What reading the thread's CPU clock adds to an interval it times (median)."""
    gaps = []
    for _ in range(samples):
        start = time.thread_time()
        gaps.append(time.thread_time() - start)
    return statistics.median(gaps)


class _TimedStage:
    """A pipeline stage that adds its own CPU time to ``seconds`` on every call.

    The clock's own cost (``timer_seconds`` per call: 0.7-3 us on this VM, a tenth to a third of
    the stage) is taken off ``seconds`` here and off the loader's time by the caller.
    """

    def __init__(self, stage):
        self.stage, self.seconds, self.calls = stage, 0.0, 0
        self.timer_seconds = _timer_seconds()

    def __call__(self, results):
        start = time.thread_time()
        out = self.stage(results)
        self.seconds += time.thread_time() - start - self.timer_seconds
        self.calls += 1
        return out


def _time_has_stage(loader) -> _TimedStage:
    """Wrap the loader's HideAndSeek stage in a :class:`_TimedStage` and return it."""
    transforms = loader.dataset.pipeline.transforms
    index = next(i for i, t in enumerate(transforms) if type(t).__name__ == "HideAndSeek")
    transforms[index] = _TimedStage(transforms[index])
    return transforms[index]


def _interleaved_pass(loaders: dict, timed: _TimedStage) -> dict[str, dict[str, float]]:
    """One pass over every loader, batch by batch in turn (drift hits all cases alike).

    Returns:
        Per case: images, loader seconds (transforms + collate), preprocessor seconds, and for
        ``has`` the HaS stage's own seconds (inside the loader seconds).
    """
    iterators = {name: iter(loader) for name, (loader, _) in loaders.items()}
    sums = {name: dict(images=0, loader=0.0, preprocessor=0.0, stage=0.0) for name in loaders}
    while iterators:
        for name in list(iterators):
            before_stage, before_calls = timed.seconds, timed.calls
            start = time.thread_time()
            batch = next(iterators[name], None)
            loaded = time.thread_time()
            if batch is None:
                del iterators[name]
                continue
            out = loaders[name][1](batch, training=True)
            done = time.thread_time()
            case = sums[name]
            case["images"] += out["inputs"].shape[0]
            case["loader"] += loaded - start - (timed.calls - before_calls) * timed.timer_seconds
            case["preprocessor"] += done - loaded
            case["stage"] += timed.seconds - before_stage if name == "has" else 0.0
    return sums


def _rows(pipeline: str, passes: list[dict[str, dict[str, float]]]) -> list[tuple]:
    """Images/s and overheads (percent of the baseline's time per image) over all passes."""
    names = list(passes[0])
    total = {n: {k: sum(p[n][k] for p in passes) for k in passes[0][n]} for n in names}
    rows = []
    for name in names:
        case = total[name]
        seconds = case["loader"] + case["preprocessor"]
        rows.append((pipeline, name, f"{case['images'] / seconds:.1f}", "images/s"))
    base = total["baseline"]
    for name in names[1:]:
        case = total[name]
        with_pre = (case["loader"] + case["preprocessor"]) / (base["loader"] + base["preprocessor"])
        rows.append((pipeline, f"{name}_overhead", f"{100 * (with_pre - 1):.2f}", "percent"))
        rows.append((pipeline, f"{name}_overhead_loader_only",
                     f"{100 * (case['loader'] / base['loader'] - 1):.2f}", "percent"))
    has = total["has"]
    rest = has["loader"] + has["preprocessor"] - has["stage"]
    rows.append((pipeline, "has_stage_share", f"{100 * has['stage'] / rest:.2f}", "percent"))
    rows.append((pipeline, "has_stage_share_loader_only",
                 f"{100 * has['stage'] / (has['loader'] - has['stage']):.2f}", "percent"))
    rows.append((pipeline, "has_stage_us_per_image",
                 f"{1e6 * has['stage'] / has['images']:.1f}", "microseconds"))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Time the loader passes and print/write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--pipelines", default="imagenet,cifar")
    parser.add_argument("--images", type=int, default=512, help="images per pass")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    # As mmengine's runner sets up training (mmpretrain's env_cfg: opencv_num_threads=0):
    # OpenCV's own threads would also hide the resize from this thread's CPU clock.
    cv2.setNumThreads(0)
    compat.apply()
    rows = []
    for pipeline in args.pipelines.split(","):
        loaders = {name: _loader_and_preprocessor(method, pipeline, args.batch_size,
                                                  args.images, options, keep_dtype)
                   for name, method, options, keep_dtype in CASES}
        timed = _time_has_stage(loaders["has"][0])
        _interleaved_pass(loaders, timed)  # warm-up: file cache, allocator
        rows += _rows(pipeline, [_interleaved_pass(loaders, timed) for _ in range(args.passes)])
    print(markdown_table(("pipeline", "case", "value", "unit"), rows, align="llrl"), end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            writer = csv.writer(f)
            meta = machine_meta()
            writer.writerow(["benchmark", "pipeline", "case", "value", "unit", "passes",
                             "images_per_pass", "threads", *meta, "torch"])
            machine = (args.passes, args.images, torch.get_num_threads(), *meta.values(),
                       torch.__version__)
            writer.writerows(("mmpretrain_train_loader", *row, *machine) for row in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
