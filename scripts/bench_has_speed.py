"""Speed of Hide-and-Seek next to a plain copy, random erasing and the original cell loop.

Everything runs side by side in one process on one core (``torch.set_num_threads(1)``); the
cases are interleaved round by round so that load from other processes hits them alike, and
the median over rounds of this thread's CPU time per call is reported (wall time on a shared
machine mostly measures waiting for a core). Two groups:

- ``image``: one 224x224x3 uint8 image (numpy HWC; torch CHW for torchvision) -- a plain
  copy, torchvision ``RandomErasing`` (v1 and v2), mmpretrain ``RandomErasing``, a cell-by-cell
  Python loop like the original ``hide_patch.py`` of Hide-and-Seek, and ours
  (``hide_patches``), and our mmpretrain ``HideAndSeek`` stage called on a results dict as
  the data loader calls it (uint8 kept with the rounded mean, the default; and
  ``keep_dtype=False``, which converts to float32 for an exact 0 after normalization). The
  other transforms return a new image (the in-place ones get a copy); the stage writes into
  the image, as it does in the loader.
- ``batch``: an N x 3 x 224 x 224 float32 tensor -- ``clone()`` and ``hide_patches_batch`` (new
  tensor, and in place as the data preprocessors run it); on a CUDA device too when there
  is one (wall time after ``torch.cuda.synchronize``; GB/s counts the batch's bytes read once
  and written once). ``--bandwidth-device`` picks that device (``cpu`` runs the same group on
  the CPU, which is how the tests check it on machines without a GPU).

Usage::

    .venv/bin/python scripts/bench_has_speed.py [--rounds 40] [--out results/perf/has_speed.csv]
        [--bandwidth-device cuda:1]

Prints a Markdown table; ``--out`` also writes a tidy CSV (one row per case).
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf_common import machine_meta

from benchmark.engine import compat
from benchmark.hide_and_seek import DEFAULT_GRID_SIZES, hide_patches, hide_patches_batch
from benchmark.reporting.document import markdown_table

compat.apply()
from benchmark.pipelines.mm import HideAndSeek  # noqa: E402

#: The ImageNet mean pixel (RGB, 0-255): the fill every transform uses.
MEAN_RGB = (123.675, 116.28, 103.53)
MEAN_RGB_UINT8 = tuple(round(v) for v in MEAN_RGB)


def cell_loop_hide(img: np.ndarray, grid_sizes=DEFAULT_GRID_SIZES, hide_prob=0.5, fill=0):
    """Reference: the original algorithm, one Python iteration per cell (on a copy)."""
    out = img.copy()
    height, width = out.shape[:2]
    size = grid_sizes[random.randrange(len(grid_sizes))]
    if size == 0:
        return out
    for top in range(0, height, size):
        for left in range(0, width, size):
            if random.random() < hide_prob:
                out[top:top + size, left:left + size, :] = fill
    return out


def image_cases(img: np.ndarray) -> list[tuple[str, Callable[[], object]]]:
    """(name, call) for the single-image group; the first is the reference (copy)."""
    import torchvision.transforms as tv1
    import torchvision.transforms.v2 as tv2
    from mmpretrain.datasets.transforms import RandomErasing as MMRandomErasing

    chw = torch.from_numpy(img).permute(2, 0, 1).contiguous()
    rng = np.random.default_rng(0)
    tv1_always = tv1.RandomErasing(p=1.0, value=MEAN_RGB_UINT8)
    tv1_default = tv1.RandomErasing(p=0.5, value=MEAN_RGB_UINT8)
    tv2_always = tv2.RandomErasing(p=1.0, value=list(MEAN_RGB_UINT8))
    mm_always = MMRandomErasing(erase_prob=1.0, fill_color=MEAN_RGB_UINT8)
    fill = np.array(MEAN_RGB_UINT8, dtype=np.uint8)
    stage = HideAndSeek(mean=MEAN_RGB)
    stage_float = HideAndSeek(mean=MEAN_RGB, keep_dtype=False)
    cases = [
        ("copy (numpy)", img.copy),
        ("clone (torch CHW)", chw.clone),
        ("torchvision v1 RandomErasing p=1 (CHW)", lambda: tv1_always(chw)),
        ("torchvision v1 RandomErasing p=0.5 (CHW)", lambda: tv1_default(chw)),
        ("torchvision v2 RandomErasing p=1 (CHW)", lambda: tv2_always(chw)),
        ("mmpretrain RandomErasing p=1 (HWC, on a copy)",
         lambda: mm_always({"img": img.copy()})),
        ("cell loop like hide_patch.py (HWC)", lambda: cell_loop_hide(img, fill=fill)),
        ("ours hide_patches (HWC numpy)", lambda: hide_patches(img, fill=MEAN_RGB, rng=rng)),
        ("ours HideAndSeek stage (mmpretrain, uint8 kept)", lambda: stage({"img": img})),
        ("ours HideAndSeek stage (keep_dtype=False, float32)",
         lambda: stage_float({"img": img})),
        ("ours hide_patches (CHW torch)",
         lambda: hide_patches(chw, fill=MEAN_RGB, rng=rng, channel_axis=0)),
        ("cell loop, grid 16 only (HWC)",
         lambda: cell_loop_hide(img, grid_sizes=(16,), fill=fill)),
        ("ours hide_patches, grid 16 only (HWC numpy)",
         lambda: hide_patches(img, grid_sizes=(16,), fill=MEAN_RGB, rng=rng)),
    ]
    return cases


def batch_cases(batch: torch.Tensor) -> list[tuple[str, Callable[[], object]]]:
    """(name, call) for the batch group; the first is the reference (clone)."""
    generator = torch.Generator(device=batch.device).manual_seed(0)
    scratch = batch.clone()  # the in-place case writes here
    return [
        ("clone (batch)", batch.clone),
        ("ours hide_patches_batch", lambda: hide_patches_batch(batch, generator=generator)),
        ("ours hide_patches_batch, grid 16 only",
         lambda: hide_patches_batch(batch, grid_sizes=(16,), generator=generator)),
        ("ours hide_patches_batch in place (has_placement=preprocessor)",
         lambda: hide_patches_batch(scratch, generator=generator, inplace=True)),
    ]


#: CPU time of this thread: on a shared, loaded machine wall time mostly measures waiting.
CLOCK = time.thread_time


def time_interleaved(
    cases: list[tuple[str, Callable[[], object]]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Per-call CPU seconds of each case, one block of ``calls`` per case per round."""
    for _, call in cases:  # warm-up (imports, caches, allocator)
        for _ in range(min(calls, 3)):
            call()
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):
        for name, call in cases:
            start = CLOCK()
            for _ in range(calls):
                call()
            times[name].append((CLOCK() - start) / calls)
    return times


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU, whose calls return when done)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_device(
    cases: list[tuple[str, Callable[[], object]]], rounds: int, device: torch.device
) -> dict[str, list[float]]:
    """Per-call wall seconds of each case on ``device`` (synchronized before and after)."""
    for _, call in cases:
        call()
    _synchronize(device)
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):
        for name, call in cases:
            _synchronize(device)
            start = time.perf_counter()
            call()
            _synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def bandwidth_device(name: str | None) -> torch.device | None:
    """The device of the GB/s group: ``name``, else the GPU when there is one, else None.

    Raises:
        ValueError: when ``name`` is not a device torch knows or is a GPU this machine lacks.
    """
    if name is None:
        return torch.device("cuda") if torch.cuda.is_available() else None
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"--bandwidth-device {name!r} is not a torch device ({error}); "
                         "use e.g. cuda, cuda:1 or cpu") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--bandwidth-device {name}: this machine has no CUDA device; "
                         "leave the option out, or use cpu to check the group")
    return device


def with_bandwidth(rows: list[dict], n_bytes: int) -> list[dict]:
    """Add GB/s: the batch read once and written once per call."""
    for row in rows:
        row["gb_per_s"] = round(2 * n_bytes / (row["median_us"] * 1e-6) / 1e9, 1)
    return rows


def bandwidth_rows(batch: torch.Tensor, rounds: int, meta: dict) -> list[dict]:
    """The batch cases on ``batch``'s device, in wall time, with GB/s."""
    device = batch.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else meta["cpu"]
    device_meta = {**meta, "clock": f"perf_counter ({device.type} synchronized)",
                   "device": name, "calls_per_round": 1}
    rows = summarize(f"{device.type} batch {'x'.join(map(str, batch.shape))} float32",
                     time_device(batch_cases(batch), rounds, device), device_meta)
    return with_bandwidth(rows, batch.numel() * batch.element_size())


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile), within the values; one value is all three."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def summarize(group: str, times: dict[str, list[float]], meta: dict) -> list[dict]:
    """Tidy rows: median and quartiles in microseconds, ratio to the group's first case.

    ``ratio_to_reference`` is the ratio of the medians; ``ratio_q1``/``ratio_q3`` are the
    quartiles of the per-round ratios (each case against the reference timed in the same
    round, milliseconds apart), which show how much the machine's load moved the ratio.
    """
    names = list(times)
    reference = names[0]
    ref_median = statistics.median(times[reference])
    rows = []
    for name in names:
        q1, median, q3 = _quartiles(times[name])
        per_round = [t / ref for t, ref in zip(times[name], times[reference], strict=True)]
        ratio_q1, _, ratio_q3 = _quartiles(per_round)
        rows.append({
            "group": group, "case": name, "median_us": round(median * 1e6, 2),
            "q1_us": round(q1 * 1e6, 2), "q3_us": round(q3 * 1e6, 2),
            "reference": reference, "ratio_to_reference": round(median / ref_median, 3),
            "ratio_q1": round(ratio_q1, 3), "ratio_q3": round(ratio_q3, 3), **meta,
        })
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    return markdown_table(
        ("group", "case", "median µs", "IQR µs", "× reference", "IQR of × per round"),
        [(r["group"], r["case"], f"{r['median_us']:.1f}", f"{r['q1_us']:.1f}–{r['q3_us']:.1f}",
          f"{r['ratio_to_reference']:.2f}", f"{r['ratio_q1']:.2f}–{r['ratio_q3']:.2f}")
         for r in rows], align="llrrrr")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (median)")
    parser.add_argument("--image-calls", type=int, default=20, help="calls per round, image")
    parser.add_argument("--batch-calls", type=int, default=1, help="calls per round, batch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, help="write a tidy CSV here")
    parser.add_argument(
        "--bandwidth-device", help="device of the wall-clock GB/s batch group (default: the "
        "GPU when there is one, else the group is left out; cpu runs it there, as a check)")
    args = parser.parse_args(argv)
    try:
        device = bandwidth_device(args.bandwidth_device)
    except ValueError as error:
        parser.error(str(error))

    torch.set_num_threads(1)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    img = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    batch = torch.rand(args.batch_size, 3, 224, 224)
    meta = {
        "threads": torch.get_num_threads(), "rounds": args.rounds, **machine_meta(),
        "numpy": np.__version__, "torch": torch.__version__, "clock": "thread_time",
    }
    rows = summarize(
        "image 224x224x3 uint8",
        time_interleaved(image_cases(img), args.rounds, args.image_calls),
        {**meta, "calls_per_round": args.image_calls},
    )
    rows += summarize(
        f"batch {args.batch_size}x3x224x224 float32",
        time_interleaved(batch_cases(batch), args.rounds, args.batch_calls),
        {**meta, "calls_per_round": args.batch_calls},
    )
    if device is not None:
        rows += bandwidth_rows(batch.to(device), args.rounds, meta)
    else:
        print("no CUDA device: the GPU batch group (GB/s) is not measured", file=sys.stderr)
    fields = list(dict.fromkeys(key for row in rows for key in row))
    rows = [{key: row.get(key, "") for key in fields} for row in rows]
    print(markdown(rows), end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
