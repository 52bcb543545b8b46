"""The comparison report of a results dir: ``REPORT.md``, ``report.html`` and ``figures/``.

``write_report(results_dir)`` reads the run records (never anything else of the runs but the
artifacts they list) and writes, next to them:

- ``REPORT.md`` and ``report.html`` (self-contained: inline CSS, no scripts, no server; figures
  and run artifacts referenced by relative path): a summary table (per task and dataset, the
  headline metric, HaS Δ and random-erasing Δ vs baseline, the paper's HaS Δ), then per task a
  table whose rows are (dataset, model, metric) and whose columns are baseline | random
  erasing | HaS | other methods — ``mean ± std (n=seeds)`` over the ok seeds, Δ vs baseline
  with a Welch's t-test mark, the paper's Δ beside ours — the task's figures and the run
  artifacts; then runs a suite names that have no record, failed runs with their reasons,
  unreadable records, the paper's reference values and a provenance summary (commits,
  package versions; no timestamps).
- ``figures/``: per task Δ vs baseline with ±1 SE error bars, a summary Δ figure (HaS vs
  random erasing on each task's headline metric) and per-epoch validation curves per method,
  each as PNG and SVG (see :mod:`benchmark.reporting.figures`).

Everything is ordered deterministically and formatted with fixed decimals, so regenerating
from the same records gives byte-identical files. The report is built as a list of blocks and
written by :mod:`benchmark.reporting.document` (Markdown and HTML).

Significance: Welch's two-sided t-test over seeds (``scipy.stats.ttest_ind(...,
equal_var=False)``) between a method's ok seeds and the baseline's; ``*`` p < 0.05, ``**`` p <
0.01, ``***`` p < 0.001, ``ns`` otherwise; ``n/a`` (never a made-up p) when either side has
fewer than 2 ok seeds or both sides have zero variance.

The paper's numbers come from ``results/paper.csv`` (columns task, dataset, model, method,
metric, value, source), a copy of ``../shared/paper_results.csv`` normalized to hasbench's
names: task names as in ``tasks/`` (``weak_segmentation`` kept as the paper names it), metric
names lower_snake_case as in the results table (``mIoU`` -> ``miou``, ``mAP@0.1`` ->
``map@0.1``, ``mAP`` -> ``map``, ``MaxBoxAccV2`` -> ``maxboxaccv2``), and wsolevaluation's
``cam`` method (the CAM baseline) renamed ``baseline`` with a note in its ``source``. The
paper's Δ is matched to ours on task + metric only: its datasets and models (full ImageNet,
Market-1501, ...) differ from ours (generated data and small real subsets, small models, few
epochs) by design, so each paper Δ is shown with its reference dataset and model. When the
paper has no plain ``has`` row for a reference but a fixed-grid variant (``has-32``), that
variant's Δ is shown in the HaS column, labelled.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.records import Record, read_records, write_atomic
from benchmark.reporting import figures
from benchmark.reporting import table as results
from benchmark.reporting.document import (
    Block,
    Bullets,
    Gallery,
    Heading,
    Image,
    Inline,
    Para,
    Span,
    Table,
    anchor,
    render_html,
    render_markdown,
)

PAPER_CSV = REPO_ROOT / "results" / "paper.csv"
REPORT_MD = "REPORT.md"
REPORT_HTML = "report.html"
FIGURES_SUBDIR = "figures"
#: Preferred headline metric of a (task, dataset, model): the first of these it reports.
HEADLINE_METRICS = (
    "top1", "gt_known_loc", "maxboxaccv2", "top1_loc", "miou", "mae", "accuracy", "map@0.1",
    "map@0.5", "rank1", "map",
)
#: At most this many metric panels per curves figure.
MAX_CURVE_PANELS = 3
DISPLAY_NAMES = {
    "baseline": "baseline", "random_erasing": "random erasing", "has": "HaS",
    "has-16": "HaS-16", "has-32": "HaS-32", "has-44": "HaS-44", "has-56": "HaS-56",
    "has+random_erasing": "HaS + random erasing",
}
REASON_CHARS = 300
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")


def display(method: str) -> str:
    """A method's name as shown in the report."""
    return DISPLAY_NAMES.get(method, method)


# ----------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Welch:
    """Welch's two-sided t-test of a method's seeds against the baseline's."""

    t: float
    df: float
    p: float


def welch_test(method_values: Sequence[float], baseline_values: Sequence[float]) -> Welch | None:
    """Welch's t-test (``scipy.stats.ttest_ind(..., equal_var=False)``), method − baseline.

    Returns:
        ``None`` when either side has fewer than 2 values or both have zero variance (the
        test is undefined there; the report shows ``n/a``, never a made-up p).
    """
    from scipy import stats

    a = np.asarray(method_values, dtype=float)
    b = np.asarray(baseline_values, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    if np.var(a, ddof=1) == 0 and np.var(b, ddof=1) == 0:
        return None
    res = stats.ttest_ind(a, b, equal_var=False)
    if not math.isfinite(float(res.pvalue)):
        return None
    return Welch(float(res.statistic), float(res.df), float(res.pvalue))


def significance_mark(p: float) -> str:
    """``***`` / ``**`` / ``*`` / ``ns`` for p < 0.001 / 0.01 / 0.05 / otherwise."""
    for threshold, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*")):
        if p < threshold:
            return mark
    return "ns"


def format_p(p: float) -> str:
    """``p<0.001`` or ``p=0.123``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def standard_error(a: Sequence[float], b: Sequence[float]) -> float:
    """Standard error of the difference of means (Welch), NaN when a side has < 2 values."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))


# ----------------------------------------------------------------------------- paper values
def load_paper(path: str | Path = PAPER_CSV) -> pd.DataFrame:
    """The paper's reference values (empty when the file does not exist)."""
    columns = ["task", "dataset", "model", "method", "metric", "value", "source"]
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    paper = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = sorted(set(columns) - set(paper.columns))
    if missing:
        raise ValueError(f"{path} lacks columns {missing}; it needs {', '.join(columns)}")
    paper["value"] = paper["value"].astype(float)
    return paper[columns]


def paper_deltas(paper: pd.DataFrame) -> pd.DataFrame:
    """Per paper row with a baseline in its (task, dataset, model, metric): Δ vs baseline."""
    out = []
    for (task, dataset, model, metric), group in paper.groupby(
            ["task", "dataset", "model", "metric"], sort=False):
        base = group[group["method"] == results.BASELINE]
        if base.empty:
            continue
        base_value = float(base["value"].iat[0])
        for _, row in group[group["method"] != results.BASELINE].iterrows():
            out.append({"task": task, "dataset": dataset, "model": model, "metric": metric,
                        "method": row["method"], "baseline": base_value,
                        "value": float(row["value"]), "delta": float(row["value"]) - base_value,
                        "source": row["source"]})
    frame = pd.DataFrame(out, columns=["task", "dataset", "model", "metric", "method",
                                       "baseline", "value", "delta", "source"])
    order = sorted(range(len(frame)), key=lambda i: (
        results.task_rank(frame["task"].iat[i]), frame["dataset"].iat[i], frame["model"].iat[i],
        frame["metric"].iat[i], results.method_rank(frame["method"].iat[i])))
    return frame.iloc[order].reset_index(drop=True)


def paper_delta_text(deltas: pd.DataFrame, task: str, metric: str, method: str) -> str:
    """The paper's Δ for (task, metric, method) with its reference dataset and model, or ``—``."""
    rows = deltas[(deltas["task"] == task) & (deltas["metric"] == metric)]
    parts = []
    for (dataset, model), ref in rows.groupby(["dataset", "model"], sort=False):
        exact = ref[ref["method"] == method]
        if exact.empty and method == "has":
            exact = ref[ref["method"].str.startswith("has-")]
        for _, row in exact.iterrows():
            variant = "" if row["method"] == method else f"; {display(row['method'])}"
            parts.append(f"{row['delta']:+.2f} ({dataset}, {model}{variant})")
    return "; ".join(parts) if parts else "—"


def _paper_points(deltas: pd.DataFrame, task: str, metric: str) -> tuple[tuple[str, float], ...]:
    rows = deltas[(deltas["task"] == task) & (deltas["metric"] == metric)
                  & deltas["method"].isin(["has", "has-32", "random_erasing"])]
    return tuple((str(m), float(d)) for m, d in zip(rows["method"], rows["delta"], strict=True))


# ----------------------------------------------------------------------------- report content
@dataclass
class _Context:
    results_dir: Path
    records: list[Record]
    table: pd.DataFrame
    stats: pd.DataFrame
    deltas: pd.DataFrame
    figures: list[Path]


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "__".join(parts)).strip("-")


def _rel(path: Path, ctx: _Context) -> str:
    import os

    return Path(os.path.relpath(path, ctx.results_dir)).as_posix()


def _headline(metrics: Iterable[str]) -> str:
    metrics = sorted(set(metrics))
    return next((m for m in HEADLINE_METRICS if m in metrics), metrics[0] if metrics else "")


def _cells(stats: pd.DataFrame, task: str, dataset: str, model: str,
           metric: str) -> dict[str, pd.Series]:
    rows = stats[(stats["task"] == task) & (stats["dataset"] == dataset)
                 & (stats["model"] == model) & (stats["metric"] == metric)]
    return {str(r["method"]): r for _, r in rows.iterrows()}


def _delta_text(cell: pd.Series | None, base: pd.Series | None, decimals: int) -> str:
    for stat, what in ((cell, ""), (base, "baseline ")):
        if stat is None:
            return f"n/a ({what}missing)"
        if stat["n"] == 0:
            return f"n/a ({what}failed)" if stat["n_failed"] else "n/a"
    delta = results.format_delta(cell["mean"] - base["mean"], decimals)
    test = welch_test(cell["values"], base["values"])
    if test is None:
        return f"{delta} (p n/a)"
    return f"{delta} {significance_mark(test.p)} ({format_p(test.p)})"


def _decimals(cells: dict[str, pd.Series]) -> int:
    return results.decimals_for([v for c in cells.values() for v in c["values"]])


def _metric_label(metric: str, higher_is_better: bool) -> str:
    return f"{metric} ({'↑' if higher_is_better else '↓'})"


def _groups(stats: pd.DataFrame, task: str) -> list[tuple[str, str, str]]:
    rows = stats[stats["task"] == task]
    return list(dict.fromkeys(zip(rows["dataset"], rows["model"], rows["metric"], strict=True)))


def _task_methods(stats: pd.DataFrame, task: str) -> list[str]:
    return results.order_methods(stats.loc[stats["task"] == task, "method"])


def _headline_groups(stats: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(task, dataset, model, headline metric) of every (task, dataset, model), in order."""
    groups = []
    for task in dict.fromkeys(stats["task"]):
        sub = stats[stats["task"] == task]
        for dataset, model in dict.fromkeys(zip(sub["dataset"], sub["model"], strict=True)):
            metric = _headline(sub[(sub["dataset"] == dataset) & (sub["model"] == model)]["metric"])
            groups.append((task, dataset, model, metric))
    return groups


def _summary_table(ctx: _Context) -> Table:
    rows = []
    for task, dataset, model, metric in _headline_groups(ctx.stats):
        cells = _cells(ctx.stats, task, dataset, model, metric)
        decimals = _decimals(cells)
        base = cells.get(results.BASELINE)
        hib = bool(next(iter(cells.values()))["higher_is_better"])
        rows.append((
            Span(task, href=f"#{anchor(task)}"), dataset, model,
            _metric_label(metric, hib), results.format_cell(base, decimals),
            _delta_text(cells.get("has"), base, decimals),
            _delta_text(cells.get("random_erasing"), base, decimals),
            paper_delta_text(ctx.deltas, task, metric, "has"),
        ))
    header = ("task", "dataset", "model", "headline metric", "baseline", "HaS Δ",
              "random erasing Δ", "paper HaS Δ (reference)")
    return Table(header, tuple(rows))


def _task_table(ctx: _Context, task: str) -> Table:
    methods = _task_methods(ctx.stats, task)
    others = [m for m in methods if m != results.BASELINE]
    paper_methods = {m for m in others
                     if any(paper_delta_text(ctx.deltas, task, metric, m) != "—"
                            for _, _, metric in _groups(ctx.stats, task))}
    header = ["dataset", "model", "metric", display(results.BASELINE)]
    for m in others:
        header += [display(m), f"Δ {display(m)}"]
        if m in paper_methods:
            header.append(f"paper Δ {display(m)}")
    rows = []
    for dataset, model, metric in _groups(ctx.stats, task):
        cells = _cells(ctx.stats, task, dataset, model, metric)
        decimals = _decimals(cells)
        hib = bool(next(iter(cells.values()))["higher_is_better"])
        best = set(results.best_methods(cells, hib))
        base = cells.get(results.BASELINE)

        def cell(m: str, decimals: int = decimals, cells: dict = cells,
                 best: set = best) -> Span:
            return Span(results.format_cell(cells.get(m), decimals), bold=m in best)

        row: list[Inline] = [dataset, model, _metric_label(metric, hib), cell(results.BASELINE)]
        for m in others:
            row += [cell(m), _delta_text(cells.get(m), base, decimals)]
            if m in paper_methods:
                row.append(paper_delta_text(ctx.deltas, task, metric, m))
        rows.append(tuple(row))
    return Table(tuple(header), tuple(rows))


def _delta_rows(ctx: _Context, task: str, groups: Sequence[tuple[str, str, str]],
                methods: Sequence[str], label_task: bool = False) -> list[figures.DeltaRow]:
    models = {model for _, model, _ in groups}
    out = []
    for dataset, model, metric in groups:
        cells = _cells(ctx.stats, task, dataset, model, metric)
        base = cells.get(results.BASELINE)
        bars = []
        for m in methods:
            c = cells.get(m)
            ok = c is not None and base is not None and c["n"] > 0 and base["n"] > 0
            bars.append(figures.Bar(
                m, display(m), c["mean"] - base["mean"] if ok else math.nan,
                standard_error(c["values"], base["values"]) if ok else math.nan))
        head = task if label_task else dataset
        second = dataset if label_task else (metric if len(models) == 1 else f"{model}: {metric}")
        out.append(figures.DeltaRow(f"{head}\n{second}", tuple(bars),
                                    _paper_points(ctx.deltas, task, metric)))
    return out


def _figure(ctx: _Context, fig: Any, stem: str, alt: str, size_in: tuple[float, float]) -> Image:
    paths = figures.save(fig, ctx.results_dir / FIGURES_SUBDIR / stem)
    ctx.figures.extend(paths)
    return Image(_rel(paths[0], ctx), _rel(paths[1], ctx), alt, int(size_in[0] * figures.DPI))


def _curves(ctx: _Context, task: str) -> list[Block]:
    blocks: list[Block] = []
    runs = [r for r in ctx.records if r.task == task and r.ok and r.history]
    for dataset, model in sorted({(r.dataset, r.model) for r in runs}):
        group = [r for r in runs if (r.dataset, r.model) == (dataset, model)]
        keys = {k for r in group for row in r.history for k, v in row.items()
                if k != "epoch" and _is_number(v)}
        metrics = [m for m in HEADLINE_METRICS if m in keys]
        metrics += sorted(keys - set(metrics))
        panels = []
        for metric in metrics[:MAX_CURVE_PANELS]:
            curves = []
            for method in results.order_methods({r.method for r in group}, core=False):
                curve = _curve(metric, method, [r for r in group if r.method == method])
                if curve is not None:
                    curves.append(curve)
            panels.append((metric, curves))
        fig = figures.curves_figure(panels, f"{task}: {dataset}, {model} — validation per epoch")
        blocks.append(_figure(ctx, fig, _slug("curves", task, dataset, model),
                              f"Validation curves, {task} / {dataset} / {model} "
                              "(mean over seeds, band ±1 std)", figures.CURVES_SIZE_IN))
    return blocks


def _curve(metric: str, method: str, runs: list[Record]) -> figures.Curve | None:
    by_epoch: dict[float, list[float]] = {}
    for record in sorted(runs, key=lambda r: (r.seed, r.run_id)):
        for row in record.history:
            if "epoch" in row and _is_number(row.get(metric)):
                by_epoch.setdefault(float(row["epoch"]), []).append(float(row[metric]))
    if not by_epoch:
        return None
    epochs = sorted(by_epoch)
    return figures.Curve(
        method, display(method), tuple(epochs),
        tuple(float(np.mean(by_epoch[e])) for e in epochs),
        tuple(float(np.std(by_epoch[e], ddof=1)) if len(by_epoch[e]) > 1 else math.nan
              for e in epochs))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        float(value))


def _artifacts(ctx: _Context, task: str) -> list[Block]:
    links: list[Inline] = []
    images: list[tuple[str, str]] = []
    runs = sorted((r for r in ctx.records if r.task == task and r.artifacts),
                  key=lambda r: (r.dataset, r.model, results.method_rank(r.method), r.seed,
                                 r.run_id))
    for record in runs:
        work_dir = Path(record.provenance.get("work_dir")
                        or ctx.results_dir / "work" / record.run_id)
        for name, rel in sorted(record.artifacts.items()):
            label = f"{record.dataset} / {display(record.method)} / seed {record.seed}: {name}"
            path = work_dir / str(rel)
            if path.is_file():
                links.append(Span(label, href=_rel(path, ctx)))
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    images.append((label, _rel(path, ctx)))
            else:
                links.append(f"{label} (file not found: {rel})")
    if not links:
        return []
    blocks: list[Block] = [Para(Span("Run artifacts", bold=True)), Bullets(tuple(links))]
    if images:
        blocks.append(Gallery(tuple(images)))
    return blocks


def _task_section(ctx: _Context, task: str) -> list[Block]:
    blocks: list[Block] = [Heading(2, task), _task_table(ctx, task)]
    groups = _groups(ctx.stats, task)
    methods = [m for m in _task_methods(ctx.stats, task) if m != results.BASELINE]
    rows = _delta_rows(ctx, task, groups, methods)
    fig = figures.delta_figure(rows, f"{task}: Δ vs baseline (±1 SE)",
                               "Δ vs baseline (metric units)")
    blocks.append(_figure(ctx, fig, _slug("delta", task),
                          f"{task}: Δ vs baseline per method, error bars ±1 standard error of "
                          "the difference (Welch); diamonds: the paper's Δ", figures.DELTA_SIZE_IN))
    blocks += _curves(ctx, task)
    blocks += _artifacts(ctx, task)
    refs = ctx.deltas[ctx.deltas["task"] == task]
    if not refs.empty:
        blocks.append(Para(Span("Paper reference", bold=True)))
        blocks.append(Bullets(tuple(
            f"{r.dataset}, {r.model}, {r.metric}: {display(r.method)} {r.value:.2f} vs "
            f"baseline {r.baseline:.2f} (Δ {r.delta:+.2f}) — {r.source}"
            for r in refs.itertuples())))
    return blocks


def _summary_figure(ctx: _Context) -> Image | None:
    rows = []
    for task, dataset, model, metric in _headline_groups(ctx.stats):
        rows += _delta_rows(ctx, task, [(dataset, model, metric)], ["random_erasing", "has"],
                            label_task=True)
    if not rows:
        return None
    fig = figures.delta_figure(rows, "HaS vs random erasing: Δ vs baseline, headline metric",
                               "Δ vs baseline (metric units)")
    return _figure(ctx, fig, "delta_summary", "Δ vs baseline on each task's headline metric, "
                   "HaS vs random erasing, ±1 SE; diamonds: the paper's Δ", figures.DELTA_SIZE_IN)


def _not_recorded(suite: str, results_dir: Path, records: list[Record]) -> tuple[str, list[str]]:
    from benchmark.engine.suite import load_suite

    loaded = load_suite(suite, results_dir)
    have = {r.run_id for r in records}
    missing = []
    for run in loaded.runs:
        spec = run.spec
        if spec.dataset is None or spec.model is None or spec.epochs is None:
            from tasks import get_task

            spec = get_task(spec.task).resolve(spec)
        if spec.run_id() not in have:
            missing.append(f"{spec.task} / {spec.dataset_label} / {spec.model} / "
                           f"{display(spec.method)} / seed {spec.seed} ({spec.run_id()})")
    return loaded.name, sorted(missing)


def _failed_table(ctx: _Context) -> Table | None:
    failed = sorted((r for r in ctx.records if not r.ok),
                    key=lambda r: (results.task_rank(r.task), r.dataset, r.model,
                                   results.method_rank(r.method), r.seed, r.run_id))
    if not failed:
        return None
    rows = [(r.task, r.dataset, r.model, display(r.method), str(r.seed),
             results.short_reason(r.reason, REASON_CHARS)) for r in failed]
    return Table(("task", "dataset", "model", "method", "seed", "reason"), tuple(rows))


def _provenance(ctx: _Context) -> Table:
    recs = sorted(ctx.records, key=lambda r: r.run_id)
    commits: dict[str, bool] = {}
    for r in recs:
        commit = str(r.provenance.get("git_commit") or "unknown")
        commits[commit] = commits.get(commit, False) or bool(r.provenance.get("git_dirty"))
    packages: dict[str, set[str]] = {}
    for r in recs:
        for name, version in (r.provenance.get("packages") or {}).items():
            packages.setdefault(name, set()).add(str(version))

    def distinct(key: str) -> str:
        values = sorted({str(r.provenance.get(key)) for r in recs
                         if r.provenance.get(key) is not None})
        return ", ".join(values) or "unknown"

    wall = sum(float(r.provenance.get("wall_seconds") or 0.0) for r in recs)
    rows: list[tuple[Inline, ...]] = [
        ("runs", f"{len(recs)} ({sum(r.ok for r in recs)} ok, "
                 f"{sum(not r.ok for r in recs)} failed)"),
        ("git commits", [Span(c + (" (uncommitted changes)" if d else ""), code=True)
                         if i == 0 else Span(", " + c + (" (uncommitted changes)" if d else ""))
                         for i, (c, d) in enumerate(sorted(commits.items()))]),
        ("config hashes", str(len({r.provenance.get("config_hash") for r in recs}))),
        ("devices", distinct("device")),
        ("hosts", distinct("hostname")),
        ("python", distinct("python")),
        ("epochs", ", ".join(sorted({str(r.provenance.get("epochs")) for r in recs},
                                    key=lambda s: (len(s), s))) or "unknown"),
        ("total wall time", f"{wall:.1f} s"),
    ]
    rows += [(f"package {name}", ", ".join(sorted(versions)))
             for name, versions in sorted(packages.items())]
    return Table(("item", "value"), tuple(rows))


def _paper_appendix(ctx: _Context) -> Table | None:
    if ctx.deltas.empty:
        return None
    rows = tuple((r.task, r.dataset, r.model, r.metric, f"{r.baseline:.2f}", display(r.method),
                  f"{r.value:.2f}", f"{r.delta:+.2f}", r.source)
                 for r in ctx.deltas.itertuples())
    return Table(("task", "dataset", "model", "metric", "baseline", "method", "value", "Δ",
                  "source"), rows)


HOW_TO_READ = (
    "Cells: mean ± sample std over the ok seeds (n = seeds); a failed run counts as failed, "
    "not as a value; \"missing\" means no record. Δ = method mean − baseline mean, in the "
    "metric's units (↑: higher is better, ↓: lower is better). Best of a row in bold. "
    "Significance: Welch's two-sided t-test over seeds (scipy.stats.ttest_ind, "
    "equal_var=False): *** p<0.001, ** p<0.01, * p<0.05, ns otherwise; \"p n/a\" when either "
    "side has fewer than 2 seeds (or both have zero variance) — no p is made up. Paper Δ: from "
    "results/paper.csv, matched on task and metric; the paper's datasets and models (shown "
    "with each Δ) differ from ours by design (ours: generated data or small real subsets, "
    "small models, few CPU epochs), so compare directions and rough sizes, not values."
)


def build_report(
    results_dir: Path, records: list[Record], paper: pd.DataFrame, *,
    suite: str | None = None, skipped: Sequence[str] = (),
) -> tuple[list[Block], str, list[Path]]:
    """The report's blocks, its title and the figures written for it."""
    table = results.table_from_records(records)
    ctx = _Context(results_dir, records, table, results.cell_stats(table),
                   paper_deltas(paper), [])
    suite_name, not_recorded = (_not_recorded(suite, results_dir, records) if suite
                                else (None, []))
    title = f"hasbench report — suite {suite_name}" if suite_name else \
        f"hasbench report — {results_dir.name}"
    n_ok = sum(r.ok for r in records)
    blocks: list[Block] = [
        Heading(1, title),
        Para(f"{len(records)} runs ({n_ok} ok, {len(records) - n_ok} failed) from "
             f"records/ (one JSON per run); tables: comparison.md / .csv / .tex, table.csv."),
        Para(HOW_TO_READ),
    ]
    if ctx.stats.empty:
        blocks.append(Para("No records yet: run a suite (hasbench suite NAME) or a run "
                           "(hasbench run TASK ...) first."))
    else:
        blocks += [Heading(2, "Summary"), _summary_table(ctx)]
        summary = _summary_figure(ctx)
        if summary is not None:
            blocks.append(summary)
        for task in dict.fromkeys(ctx.stats["task"]):
            blocks += _task_section(ctx, task)
    if suite_name is not None:
        blocks.append(Heading(2, "Runs without a record"))
        blocks.append(Bullets(tuple(not_recorded)) if not_recorded else
                      Para(f"Every run of suite {suite_name} has a record."))
    failed = _failed_table(ctx)
    if failed is not None:
        blocks += [Heading(2, "Failed runs"), failed]
    if skipped:
        blocks += [Heading(2, "Unreadable records (skipped)"),
                   Bullets(tuple(skipped))]
    appendix = _paper_appendix(ctx)
    if appendix is not None:
        blocks += [Heading(2, "Paper reference values"), appendix]
    if records:
        blocks += [Heading(2, "Provenance"), _provenance(ctx)]
    return blocks, title, ctx.figures


def _read_records_noting_skips(results_dir: Path) -> tuple[list[Record], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = read_records(results_dir)
    skipped = []
    for warning in caught:
        warnings.warn(warning.message, warning.category, stacklevel=3)
        skipped.append(str(warning.message).replace(f"{results_dir}/", ""))
    return records, sorted(skipped)


def write_report(
    results_dir: str | Path, *, suite: str | None = None, paper_csv: str | Path = PAPER_CSV
) -> Path:
    """Write ``REPORT.md``, ``report.html`` and ``figures/`` into ``results_dir``.

    Args:
        results_dir: A results dir (``records/`` inside); every record in it is reported.
        suite: Suite name (or manifest path): titles the report and lists the suite's runs
            that have no record yet.
        paper_csv: The paper's reference values.

    Returns:
        The path of ``REPORT.md``.
    """
    results_dir = Path(results_dir)
    records, skipped = _read_records_noting_skips(results_dir)
    blocks, title, written = build_report(results_dir, records, load_paper(paper_csv),
                                          suite=suite, skipped=skipped)
    md = write_atomic(results_dir / REPORT_MD, render_markdown(blocks))
    write_atomic(results_dir / REPORT_HTML, render_html(blocks, title))
    figures_dir = results_dir / FIGURES_SUBDIR
    for stale in sorted(figures_dir.glob("*")) if figures_dir.is_dir() else []:
        if stale.suffix in (".png", ".svg") and stale not in written:
            stale.unlink()
    return md


def summary_text(results_dir: str | Path, *, paper_csv: str | Path = PAPER_CSV) -> str:
    """The report's summary table as Markdown (for the demo's console output)."""
    results_dir = Path(results_dir)
    records = read_records(results_dir)
    table = results.table_from_records(records)
    ctx = _Context(results_dir, records, table, results.cell_stats(table),
                   paper_deltas(load_paper(paper_csv)), [])
    if ctx.stats.empty:
        return "no records yet\n"
    return render_markdown([_summary_table(ctx)])
