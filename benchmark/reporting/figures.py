"""Deterministic report figures (matplotlib's Agg renderer for PNG, its SVG backend).

Every figure has a fixed pixel size (:data:`DPI` × the figure's inches, never a "tight" bounding
box) and is saved without timestamps or version strings (PNG ``Software`` and SVG ``Date`` /
``Creator`` metadata dropped, a fixed ``svg.hashsalt``), so regenerating from the same data
gives byte-identical files. No pyplot: figures are built with :class:`matplotlib.figure.Figure`
and leave matplotlib's global state alone.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmark.engine.records import write_atomic

DPI = 100
DELTA_SIZE_IN = (8.0, 4.5)
CURVES_SIZE_IN = (8.0, 3.2)
RC = {
    "svg.hashsalt": "hasbench",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
}
#: Fixed colours per method (others cycle through :data:`EXTRA_COLOURS` by column order).
METHOD_COLOURS = {
    "baseline": "#555555", "random_erasing": "#1f77b4", "has": "#d62728",
    "has-16": "#ff9896", "has-32": "#e377c2", "has-44": "#8c564b", "has-56": "#bcbd22",
    "has+random_erasing": "#9467bd",
}
EXTRA_COLOURS = ("#17becf", "#2ca02c", "#7f7f7f", "#ff7f0e")


def colour(method: str, index: int = 0) -> str:
    """The colour of a method in every figure."""
    return METHOD_COLOURS.get(method, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


@dataclass(frozen=True)
class Bar:
    """One bar of a Δ figure: a method's Δ vs baseline in one row, with its error."""

    method: str
    label: str
    delta: float
    error: float = math.nan  # NaN: no error bar (fewer than 2 seeds on a side)


@dataclass(frozen=True)
class DeltaRow:
    """One group of bars (a (dataset, model, metric) of a task) plus paper Δ markers."""

    label: str
    bars: tuple[Bar, ...]
    paper: tuple[tuple[str, float], ...] = ()  # (method name, paper Δ)


@dataclass(frozen=True)
class Curve:
    """A method's per-epoch mean (and std band when it has ≥ 2 seeds) of one metric."""

    method: str
    label: str
    epochs: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]  # NaN where fewer than 2 seeds


def save(fig: Figure, stem: Path) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.svg`` deterministically; return the paths."""
    paths = []
    with matplotlib.rc_context(RC):
        for fmt, metadata in (("png", {"Software": None}),
                              ("svg", {"Date": None, "Creator": None})):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
            paths.append(write_atomic(stem.with_suffix(f".{fmt}"), buffer.getvalue()))
    return paths


def delta_figure(rows: Sequence[DeltaRow], title: str, ylabel: str) -> Figure:
    """Grouped bars: Δ vs baseline per row and method, ±1 SE error bars where defined.

    The paper's Δ of a row is drawn as a hollow diamond in the slot of the method it belongs
    to (a fixed-grid ``has-N`` paper value goes to the HaS slot when the figure has one).
    """
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=DELTA_SIZE_IN, dpi=DPI)
        ax = fig.add_axes((0.09, 0.16, 0.64, 0.75))
        methods = list(dict.fromkeys(b.method for r in rows for b in r.bars))
        labels = {b.method: b.label for r in rows for b in r.bars}
        width = 0.8 / max(1, len(methods))

        def slot(i: int, method: str) -> float:
            return i - 0.4 + width * (methods.index(method) + 0.5)

        for j, method in enumerate(methods):
            bars = [(i, b) for i, row in enumerate(rows) for b in row.bars
                    if b.method == method and math.isfinite(b.delta)]
            if not bars:  # no Δ anywhere (missing or failed): no legend entry either
                continue
            ax.bar([slot(i, method) for i, _ in bars], [b.delta for _, b in bars],
                   width=width * 0.9, color=colour(method, j), label=labels[method])
            errs = [(slot(i, method), b.delta, b.error) for i, b in bars
                    if math.isfinite(b.error)]
            if errs:
                ax.errorbar([x for x, _, _ in errs], [y for _, y, _ in errs],
                            yerr=[e for _, _, e in errs], fmt="none", ecolor="black",
                            elinewidth=1.0, capsize=3)
        marks = []
        for i, row in enumerate(rows):
            for method, delta in row.paper:
                target = method if method in methods else (
                    "has" if method.startswith("has") and "has" in methods else None)
                if target is not None:
                    marks.append((slot(i, target), delta))
        if marks:
            ax.scatter([x for x, _ in marks], [d for _, d in marks], marker="D", s=40,
                       facecolors="white", edgecolors="black", linewidths=1.4, zorder=3,
                       label="paper Δ (its own datasets)")
        for i, row in enumerate(rows):
            if not any(math.isfinite(b.delta) for b in row.bars):
                ax.text(i, 0.0, "n/a", ha="center", va="bottom", fontsize=8, color="#777777")
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(rows)), [r.label for r in rows],
                      rotation=0 if len(rows) <= 4 else 25,
                      ha="center" if len(rows) <= 4 else "right", fontsize=7)
        ax.set_xlim(-0.6, max(0, len(rows) - 1) + 0.6)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="y", linewidth=0.4, alpha=0.6)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


def curves_figure(panels: Sequence[tuple[str, Sequence[Curve]]], title: str) -> Figure:
    """One panel per metric: per-epoch validation curves per method (mean, ±1 std band)."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=CURVES_SIZE_IN, dpi=DPI)
        n = max(1, len(panels))
        axes = fig.subplots(1, n, squeeze=False)[0]
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.3, top=0.84, wspace=0.3)
        for ax, (metric, curves) in zip(axes, panels, strict=False):
            for j, curve in enumerate(curves):
                ax.plot(curve.epochs, curve.mean, marker="o", markersize=3, linewidth=1.2,
                        color=colour(curve.method, j), label=curve.label)
                lo = [m - s if math.isfinite(s) else m for m, s in zip(curve.mean, curve.std,
                                                                         strict=True)]
                hi = [m + s if math.isfinite(s) else m for m, s in zip(curve.mean, curve.std,
                                                                         strict=True)]
                if any(math.isfinite(s) for s in curve.std):
                    ax.fill_between(curve.epochs, lo, hi, color=colour(curve.method, j),
                                    alpha=0.15, linewidth=0)
            ax.set_title(metric)
            ax.set_xlabel("epoch")
            epochs = sorted({e for curve in curves for e in curve.epochs})
            if 0 < len(epochs) <= 12:
                ax.set_xticks(epochs, [f"{e:g}" for e in epochs])
                ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(linewidth=0.4, alpha=0.6)
        legend: dict[str, object] = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                legend.setdefault(label, handle)
        if legend:
            fig.legend(list(legend.values()), list(legend), loc="lower center",
                       ncol=len(legend), fontsize=8, frameon=False)
        fig.suptitle(title, fontsize=10)
    return fig
