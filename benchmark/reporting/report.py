"""The comparison report of a results dir: ``REPORT.md``, ``report.html`` and ``figures/``.

``write_report(results_dir)`` reads the run records (never anything else of the runs but the
artifacts they list) and writes, next to them:

- ``REPORT.md`` and ``report.html`` (self-contained: inline CSS, no scripts, no server; figures
  and run artifacts referenced by relative path): a summary table (per task, dataset, model
  and setting, the headline metric, HaS Δ and random-erasing Δ vs baseline, the paper's HaS
  Δ), then per task a table whose rows are (dataset, model, setting, metric) and whose
  columns are baseline | random erasing | HaS | other methods (one per method variant) —
  ``mean ± std (n=seeds)`` over the ok seeds, Δ vs the row's baseline with its 95% bootstrap
  interval, the test and its Benjamini–Hochberg adjusted significance mark, the paper's Δ
  beside ours — the task's figures and the run artifacts; then the ablation tables, one per
  axis (:mod:`benchmark.reporting.ablations`), where the records hold any; then runs a suite
  names that have no record, failed runs with their reasons, unreadable records, the paper's
  reference values and a provenance summary (commits, package versions; no timestamps).
- ``figures/``: per task Δ vs baseline (error bars: the 95% bootstrap interval, dots: the
  seeds), a summary figure of the improvement over the baseline (HaS vs random erasing on each
  task's headline metric, sign flipped for lower-is-better metrics) and per-epoch validation
  curves per method variant, each as PNG and SVG (see :mod:`benchmark.reporting.figures`).

Everything is ordered deterministically and formatted with fixed decimals (the bootstrap has
a fixed seed), so regenerating from the same records gives byte-identical files. The report is
built as a list of blocks and written by :mod:`benchmark.reporting.document` (Markdown and
HTML).

Statistics (:mod:`benchmark.reporting.stats`, stated in the report by :func:`how_to_read`):
paired t-test (``scipy.stats.ttest_rel``) where the method and the baseline hold the same
seeds, Welch's t-test otherwise; marks ``*`` / ``**`` / ``***`` on BH-adjusted p < 0.05 /
0.01 / 0.001 over every comparison of the report, ``ns`` otherwise; ``1 seed`` (never a
p-value) when a side has a single ok seed.

The paper's numbers come from ``results/paper.csv`` (columns task, dataset, model, method,
metric, value, source), a copy of ``../shared/paper_results.csv`` normalized to hasbench's
names: task names as in ``tasks/`` (the file keeps the paper's ``weak_segmentation``, read as
``wsss``: :data:`PAPER_TASKS`), metric
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
from benchmark.reporting import ablations, figures, variants
from benchmark.reporting import stats as cell_statistics
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
#: Task names of ``paper.csv`` -> ours, where the file keeps the paper's name.
PAPER_TASKS = {"weak_segmentation": "wsss"}
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
    "has+random_erasing": "HaS + random erasing", "cutout": "Cutout", "gridmask": "GridMask",
    "cutmix": "CutMix",
}
REASON_CHARS = 300
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")


def display(method: str) -> str:
    """A method's name as shown in the report."""
    return DISPLAY_NAMES.get(method, method)


# ----------------------------------------------------------------------------- statistics
def display_variant(method: str, variant: str) -> str:
    """A method variant's name as shown: ``HaS (has_hide_prob=0.25)``."""
    return display(method) + (variant[len(method):] if variant.startswith(method) else
                              f" ({variant})" if variant != method else "")


def significance_mark(p: float) -> str:
    """``***`` / ``**`` / ``*`` / ``ns`` for p < 0.001 / 0.01 / 0.05 / otherwise."""
    for threshold, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*")):
        if p < threshold:
            return mark
    return "ns"


def format_p(p: float, name: str = "p") -> str:
    """``p<0.001`` or ``p=0.123`` (``name`` instead of ``p`` when given)."""
    return f"{name}<0.001" if p < 0.001 else f"{name}={p:.3f}"


TEST_NAMES = {cell_statistics.PAIRED: "paired t", cell_statistics.WELCH: "Welch"}


# ----------------------------------------------------------------------------- paper values
def load_paper(path: str | Path = PAPER_CSV) -> pd.DataFrame:
    """The paper's reference values (empty when the file does not exist), our task names."""
    columns = ["task", "dataset", "model", "method", "metric", "value", "source"]
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    paper = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = sorted(set(columns) - set(paper.columns))
    if missing:
        raise ValueError(f"{path} lacks columns {missing}; it needs {', '.join(columns)}")
    paper["value"] = paper["value"].astype(float)
    paper["task"] = paper["task"].replace(PAPER_TASKS)
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


def _context(results_dir: Path, records: list[Record], paper: pd.DataFrame) -> _Context:
    table = results.table_from_records(records)
    stats = cell_statistics.with_comparisons(results.cell_stats(table))
    return _Context(results_dir, records, table, stats, paper_deltas(paper), [])


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "__".join(parts)).strip("-")


def _rel(path: Path, ctx: _Context) -> str:
    import os

    return Path(os.path.relpath(path, ctx.results_dir)).as_posix()


def _headline(metrics: Iterable[str]) -> str:
    metrics = sorted(set(metrics))
    return next((m for m in HEADLINE_METRICS if m in metrics), metrics[0] if metrics else "")


#: A row of a task table: (dataset, model, setting, metric).
Row = tuple[str, str, str, str]


def _cells(stats: pd.DataFrame, task: str, row: Row) -> dict[str, pd.Series]:
    """The cells of one row, by variant label."""
    dataset, model, setting, metric = row
    rows = stats[(stats["task"] == task) & (stats["dataset"] == dataset)
                 & (stats["model"] == model) & (stats["setting"] == setting)
                 & (stats["metric"] == metric)]
    return {str(r["variant"]): r for _, r in rows.iterrows()}


def _baseline(cells: dict[str, pd.Series]) -> pd.Series | None:
    base = [c for c in cells.values() if c["method"] == results.BASELINE]
    return base[0] if len(base) == 1 else None


def _delta_text(cell: pd.Series | None, base: pd.Series | None, decimals: int) -> str:
    """Δ, its 95% interval, the significance mark (adjusted p) and the test of one cell."""
    for stat, what in ((cell, ""), (base, "baseline ")):
        if stat is None:
            return f"n/a ({what}missing)"
        if stat["n"] == 0:
            return f"n/a ({what}failed)" if stat["n_failed"] else "n/a"
    delta = results.format_delta(cell["delta"], decimals)
    if cell["test"] == cell_statistics.ONE_SEED:
        return f"{delta} (1 seed)"
    ci = (f"[{results.format_delta(cell['ci_low'], decimals)}, "
          f"{results.format_delta(cell['ci_high'], decimals)}]")
    if cell["test"] not in TEST_NAMES:
        return f"{delta} {ci} (p n/a: zero variance)"
    return (f"{delta} {ci} {significance_mark(cell['p_adj'])} ({TEST_NAMES[cell['test']]}, "
            f"{format_p(cell['p'])}, {format_p(cell['p_adj'], 'adj. p')})")


def _method_delta_text(cells: dict[str, pd.Series], method: str, decimals: int) -> str:
    """:func:`_delta_text` of every variant of ``method`` in a row (labelled when several)."""
    base = _baseline(cells)
    found = [c for c in cells.values() if c["method"] == method]
    if len(found) == 1 and found[0]["variant"] == method:
        return _delta_text(found[0], base, decimals)
    if not found:
        return _delta_text(None, base, decimals)
    return "; ".join(f"{display_variant(method, c['variant'])}: {_delta_text(c, base, decimals)}"
                     for c in found)


def _decimals(cells: dict[str, pd.Series]) -> int:
    return results.decimals_for([v for c in cells.values() for v in c["values"]])


def _arrow(higher_is_better: bool) -> str:
    return "↑" if higher_is_better else "↓"


def _metric_label(metric: str, higher_is_better: bool) -> str:
    return f"{metric} ({_arrow(higher_is_better)})"


def _hib(cells: dict[str, pd.Series]) -> bool:
    return bool(next(iter(cells.values()))["higher_is_better"])


def _groups(stats: pd.DataFrame, task: str) -> list[Row]:
    rows = stats[stats["task"] == task]
    return list(dict.fromkeys(zip(rows["dataset"], rows["model"], rows["setting"],
                                  rows["metric"], strict=True)))


def _task_columns(stats: pd.DataFrame, task: str) -> list[tuple[str, str]]:
    """(method, variant) columns of a task's table, in column order."""
    return results.view_columns(stats[stats["task"] == task])


def _has_settings(stats: pd.DataFrame, task: str | None = None) -> bool:
    rows = stats if task is None else stats[stats["task"] == task]
    return bool((rows["setting"] != "").any())


def _headline_groups(stats: pd.DataFrame) -> list[tuple[str, Row]]:
    """(task, (dataset, model, setting, headline metric)) of every row group, in order."""
    groups = []
    for task in dict.fromkeys(stats["task"]):
        sub = stats[stats["task"] == task]
        keys = zip(sub["dataset"], sub["model"], sub["setting"], strict=True)
        for dataset, model, setting in dict.fromkeys(keys):
            same = sub[(sub["dataset"] == dataset) & (sub["model"] == model)
                       & (sub["setting"] == setting)]
            groups.append((task, (dataset, model, setting, _headline(same["metric"]))))
    return groups


def _summary_table(ctx: _Context) -> Table:
    settings = _has_settings(ctx.stats)
    rows = []
    for task, row in _headline_groups(ctx.stats):
        dataset, model, setting, metric = row
        cells = _cells(ctx.stats, task, row)
        decimals = _decimals(cells)
        rows.append((
            Span(task, href=f"#{anchor(task)}"), dataset, model,
            *((setting,) if settings else ()),
            _metric_label(metric, _hib(cells)),
            results.format_cell(_baseline(cells), decimals),
            _method_delta_text(cells, "has", decimals),
            _method_delta_text(cells, "random_erasing", decimals),
            paper_delta_text(ctx.deltas, task, metric, "has"),
        ))
    header = ("task", "dataset", "model", *(("setting",) if settings else ()),
              "headline metric", "baseline", "HaS Δ [95% CI]", "random erasing Δ [95% CI]",
              "paper HaS Δ (reference)")
    return Table(header, tuple(rows))


def _paper_methods(ctx: _Context, task: str, methods: Iterable[str]) -> set[str]:
    metrics = {metric for *_, metric in _groups(ctx.stats, task)}
    return {m for m in methods
            if any(paper_delta_text(ctx.deltas, task, metric, m) != "—" for metric in metrics)}


def _task_table(ctx: _Context, task: str) -> Table:
    columns = _task_columns(ctx.stats, task)
    others = [(m, v) for m, v in columns if m != results.BASELINE]
    paper_methods = _paper_methods(ctx, task, {m for m, _ in others})
    settings = _has_settings(ctx.stats, task)
    header = ["dataset", "model", *(["setting"] if settings else []), "metric"]
    header += [display_variant(m, v) for m, v in columns if m == results.BASELINE]
    for m, v in others:
        header += [display_variant(m, v), f"Δ {display_variant(m, v)} [95% CI]"]
        if m in paper_methods and v == m:
            header.append(f"paper Δ {display(m)}")
    rows = []
    for row in _groups(ctx.stats, task):
        dataset, model, setting, metric = row
        cells = _cells(ctx.stats, task, row)
        decimals = _decimals(cells)
        best = set(results.best_methods(cells, _hib(cells)))
        base = _baseline(cells)

        def cell(v: str, decimals: int = decimals, cells: dict = cells,
                 best: set = best) -> Span:
            return Span(results.format_cell(cells.get(v), decimals), bold=v in best)

        out: list[Inline] = [dataset, model, *([setting] if settings else []),
                             _metric_label(metric, _hib(cells))]
        out += [cell(v) for m, v in columns if m == results.BASELINE]
        for m, v in others:
            out += [cell(v), _delta_text(cells.get(v), base, decimals)]
            if m in paper_methods and v == m:
                out.append(paper_delta_text(ctx.deltas, task, metric, m))
        rows.append(tuple(out))
    return Table(tuple(header), tuple(rows))


def _bar(method: str, variant: str, cell: pd.Series | None, base: pd.Series | None) -> figures.Bar:
    label = display_variant(method, variant)
    if cell is None or base is None or cell["n"] == 0 or base["n"] == 0:
        return figures.Bar(variant, label, math.nan)
    return figures.Bar(variant, label, float(cell["delta"]), float(cell["ci_low"]),
                       float(cell["ci_high"]), tuple(cell["points"]))


def _row_label(parts: Sequence[str], setting: str) -> str:
    return "\n".join([*parts, *([setting] if setting else [])])


def delta_rows(stats: pd.DataFrame, deltas: pd.DataFrame, task: str, rows: Sequence[Row],
               columns: Sequence[tuple[str, str]], *, summary: bool = False
               ) -> list[figures.DeltaRow]:
    """The data of a Δ figure: one :class:`figures.DeltaRow` per row, one bar per column.

    Args:
        stats: Cells with their comparisons (:func:`cell_statistics.with_comparisons`).
        deltas: The paper's Δ (:func:`paper_deltas`).
        task: The task of ``rows``.
        rows: (dataset, model, setting, metric) rows.
        columns: (method, variant) bars per row (baseline excluded).
        summary: Label rows by task and plot improvement: Δ, sign-flipped for a
            lower-is-better metric (seeds, interval and paper Δ alike), so > 0 is better.
    """
    models = {model for _, model, _, _ in rows}
    out = []
    for row in rows:
        dataset, model, setting, metric = row
        cells = _cells(stats, task, row)
        base = _baseline(cells)
        hib = _hib(cells)
        bars = tuple(_bar(m, v, cells.get(v), base) for m, v in columns)
        what = f"{metric} {_arrow(hib)}"
        parts = ([task, dataset, what] if summary else
                 [dataset, what if len(models) == 1 else f"{model}: {what}"])
        drow = figures.DeltaRow(_row_label(parts, setting), bars,
                                _paper_points(deltas, task, metric))
        out.append(figures.as_improvement(drow, hib) if summary else drow)
    return out


def summary_rows(stats: pd.DataFrame, deltas: pd.DataFrame) -> list[figures.DeltaRow]:
    """The summary figure's data (improvement, not Δ).

    Per (task, dataset, model, setting), the headline metric's improvement over the baseline
    of every random-erasing and HaS variant (:func:`delta_rows` with ``summary=True``).
    """
    columns = [(m, v) for m, v in results.view_columns(stats) if m in ("random_erasing", "has")]
    out = []
    for task, row in _headline_groups(stats):
        out += delta_rows(stats, deltas, task, [row], columns, summary=True)
    return out


def _figure(ctx: _Context, fig: Any, stem: str, alt: str, size_in: tuple[float, float]) -> Image:
    paths = figures.save(fig, ctx.results_dir / FIGURES_SUBDIR / stem)
    ctx.figures.extend(paths)
    return Image(_rel(paths[0], ctx), _rel(paths[1], ctx), alt, int(size_in[0] * figures.DPI))


def _run_groups(stats: pd.DataFrame) -> dict[str, tuple[str, str, str]]:
    """Each run id's (setting, method, variant), from the cells."""
    return {rid: (str(c["setting"]), str(c["method"]), str(c["variant"]))
            for _, c in stats.iterrows() for rid in c["run_ids"]}


def _curves(ctx: _Context, task: str) -> list[Block]:
    blocks: list[Block] = []
    groups = _run_groups(ctx.stats)
    runs = [r for r in ctx.records if r.task == task and r.ok and r.history
            and r.run_id in groups]
    keys = sorted({(r.dataset, r.model, groups[r.run_id][0]) for r in runs},
                  key=lambda k: (k[0], k[1], variants.natural_key(k[2])))
    for dataset, model, setting in keys:
        group = [r for r in runs if (r.dataset, r.model, groups[r.run_id][0]) ==
                 (dataset, model, setting)]
        panels = _curve_panels(group, {r.run_id: groups[r.run_id][1:] for r in group})
        where = f"{dataset}, {model}" + (f", {setting}" if setting else "")
        fig = figures.curves_figure(panels, f"{task}: {where} — validation per epoch")
        stem = _slug("curves", task, dataset, model, *([setting] if setting else []))
        alt = (f"Validation curves, {task} / {where.replace(', ', ' / ')} "
               "(mean over seeds, band ±1 std)")
        blocks.append(_figure(ctx, fig, stem, alt, figures.CURVES_SIZE_IN))
    return blocks


def _curve_panels(group: list[Record], variant_of: dict[str, tuple[str, str]]
                  ) -> list[tuple[str, list[figures.Curve]]]:
    """Up to :data:`MAX_CURVE_PANELS` metrics, each with one curve per method variant."""
    keys = {k for r in group for row in r.history for k, v in row.items()
            if k != "epoch" and _is_number(v)}
    metrics = [m for m in HEADLINE_METRICS if m in keys]
    metrics += sorted(keys - set(metrics))
    columns = sorted(set(variant_of.values()), key=lambda mv: (
        results.method_rank(mv[0]), variants.natural_key(mv[1])))
    panels = []
    for metric in metrics[:MAX_CURVE_PANELS]:
        curves = []
        for method, variant in columns:
            members = [r for r in group if variant_of[r.run_id] == (method, variant)]
            curve = _curve(metric, method, variant, members)
            if curve is not None:
                curves.append(curve)
        panels.append((metric, curves))
    return panels


def _curve(metric: str, method: str, variant: str, runs: list[Record]) -> figures.Curve | None:
    by_epoch: dict[float, list[float]] = {}
    for record in sorted(runs, key=lambda r: (r.seed, r.run_id)):
        for row in record.history:
            if "epoch" in row and _is_number(row.get(metric)):
                by_epoch.setdefault(float(row["epoch"]), []).append(float(row[metric]))
    if not by_epoch:
        return None
    epochs = sorted(by_epoch)
    return figures.Curve(
        variant, display_variant(method, variant), tuple(epochs),
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
    groups = _run_groups(ctx.stats)
    for record in runs:
        work_dir = Path(record.provenance.get("work_dir")
                        or ctx.results_dir / "work" / record.run_id)
        setting, method, variant = groups.get(record.run_id, ("", record.method, record.method))
        where = " / ".join([record.dataset, *([setting] if setting else []),
                            display_variant(method, variant)])
        for name, rel in sorted(record.artifacts.items()):
            label = f"{where} / seed {record.seed}: {name}"
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


DELTA_CAPTION = ("bars: Δ = mean − baseline mean; error bars: 95% bootstrap interval of Δ; "
                 "dots: one per seed (minus the same seed's baseline where seeds pair, else "
                 "minus the baseline mean); diamonds: the paper's Δ")


def _task_section(ctx: _Context, task: str) -> list[Block]:
    blocks: list[Block] = [Heading(2, task), _task_table(ctx, task)]
    columns = [(m, v) for m, v in _task_columns(ctx.stats, task) if m != results.BASELINE]
    rows = delta_rows(ctx.stats, ctx.deltas, task, _groups(ctx.stats, task), columns)
    fig = figures.delta_figure(rows, f"{task}: Δ vs baseline (95% bootstrap CI, dots: seeds)",
                               "Δ vs baseline (metric units; ↑/↓ per metric)")
    blocks.append(_figure(ctx, fig, _slug("delta", task),
                          f"{task}: Δ vs baseline per method; {DELTA_CAPTION}",
                          figures.DELTA_SIZE_IN))
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


def _ablation_section(ctx: _Context) -> list[Block]:
    """One table per ablation axis (:mod:`benchmark.reporting.ablations`); none: nothing."""
    blocks: list[Block] = []
    seen = None
    for axis, (task, dataset, model), header, rows in ablations.axis_tables(ctx.stats, display):
        if axis is not seen:
            blocks.append(Heading(3, axis.title))
            seen = axis
        blocks.append(Para(f"{task} / {dataset} / {model}"))
        blocks.append(Table(tuple(header), tuple(tuple(r) for r in rows)))
    if blocks:
        blocks.insert(0, Heading(2, "Ablations"))
        blocks.insert(1, Para("Each axis varies one knob; its rows are the runs that differ "
                              "from the defaults in that knob only, with the baseline and the "
                              "default HaS of the same task, dataset and model. Cells: mean ± "
                              "std (n seeds) and Δ vs the baseline of the run's own row (a GMP "
                              "run against the GMP baseline); the tests are in the task tables."))
    return blocks


def _summary_figure(ctx: _Context) -> Image | None:
    rows = summary_rows(ctx.stats, ctx.deltas)
    if not rows:
        return None
    fig = figures.delta_figure(
        rows, "HaS vs random erasing: improvement over baseline, headline metric",
        "improvement vs baseline (metric units)\nΔ, sign flipped for ↓ metrics: > 0 is better")
    return _figure(ctx, fig, "delta_summary",
                   "Improvement over the baseline on each task's headline metric, HaS vs "
                   "random erasing (Δ with its sign flipped for lower-is-better metrics, so "
                   f"above 0 is better); {DELTA_CAPTION}", figures.DELTA_SIZE_IN)


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


def how_to_read(n_tests: int) -> str:
    """The report's reading guide and statistical methods, for ``n_tests`` p-values."""
    st = cell_statistics
    return (
        "Cells: mean ± sample std over the ok seeds (n = seeds); a failed run counts as "
        "failed, not as a value; \"missing\" means no record. A cell holds runs that differ "
        "in their seed only: runs of one task, dataset and model with other epochs, options or "
        "pretrained weights form their own row (the setting column says what differs), and a "
        "method run with other method options or parameters (e.g. has_hide_prob) its own "
        "column, named by what differs. Δ = method mean − the baseline mean of the same row "
        "(same epochs, non-method options and weights; n/a when the row has no baseline), in "
        "the metric's units (↑: higher is better, ↓: lower is better). Best of a row in bold. "
        f"[low, high]: {st.CONFIDENCE:.0%} bootstrap confidence interval of Δ "
        f"(scipy.stats.bootstrap, {st.BOOTSTRAP_METHOD} method, {st.N_RESAMPLES} resamples, "
        f"generator seed {st.BOOTSTRAP_SEED}). Tests are two-sided. Where the method and the "
        "baseline hold exactly the same seeds (runs of one seed share data order and "
        "initialisation), seeds pair: paired t-test (scipy.stats.ttest_rel) and a paired "
        "bootstrap; otherwise (e.g. a failed seed on one side) Welch's t-test "
        "(scipy.stats.ttest_ind, equal_var=False) and a bootstrap of each side on its own. "
        "Marks use Benjamini–Hochberg adjusted p-values (scipy.stats.false_discovery_control) "
        f"over all {n_tests} comparisons with a p-value in this report (every task, metric and "
        "method): *** adj. p<0.001, ** <0.01, * <0.05, ns otherwise. \"1 seed\": a side has "
        "a single ok seed, so no interval and no p-value; \"p n/a\": no spread on either "
        "side. The numbers, for analysis: stats.csv. Paper Δ: from results/paper.csv, matched "
        "on task and metric; the paper's datasets and models (shown with each Δ) differ from "
        "ours by design (ours: generated data or small real subsets, small models, few CPU "
        "epochs), so compare directions and rough sizes, not values."
    )


def build_report(
    results_dir: Path, records: list[Record], paper: pd.DataFrame, *,
    suite: str | None = None, skipped: Sequence[str] = (),
) -> tuple[list[Block], str, list[Path]]:
    """The report's blocks, its title and the figures written for it."""
    ctx = _context(results_dir, records, paper)
    suite_name, not_recorded = (_not_recorded(suite, results_dir, records) if suite
                                else (None, []))
    title = f"hasbench report — suite {suite_name}" if suite_name else \
        f"hasbench report — {results_dir.name}"
    n_ok = sum(r.ok for r in records)
    blocks: list[Block] = [
        Heading(1, title),
        Para(f"{len(records)} runs ({n_ok} ok, {len(records) - n_ok} failed) from "
             f"records/ (one JSON per run); tables: comparison.md / .csv / .tex, table.csv; "
             f"statistics: stats.csv."),
        Para(how_to_read(int(np.isfinite(ctx.stats["p"].to_numpy(float)).sum())
                         if len(ctx.stats) else 0)),
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
        blocks += _ablation_section(ctx)
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
    ctx = _context(results_dir, read_records(results_dir), load_paper(paper_csv))
    if ctx.stats.empty:
        return "no records yet\n"
    return render_markdown([_summary_table(ctx)])
