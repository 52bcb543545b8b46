"""Deterministic report figures (matplotlib's Agg renderer for PNG, its SVG backend).

Every figure has a fixed pixel size (:data:`DPI` × the figure's inches, never a "tight" bounding
box; Δ figures lay out inside it with matplotlib's constrained layout, so no label is cut) and
is saved without timestamps or version strings (PNG ``Software`` and SVG ``Date`` /
``Creator`` metadata dropped, a fixed ``svg.hashsalt``), so regenerating from the same data
gives byte-identical files. No pyplot: figures are built with :class:`matplotlib.figure.Figure`
and leave matplotlib's global state alone.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
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
    "has+random_erasing": "#9467bd", "cutout": "#aec7e8", "gridmask": "#98df8a",
    "cutmix": "#ffbb78",
}
EXTRA_COLOURS = ("#17becf", "#2ca02c", "#7f7f7f", "#ff7f0e")
#: Longest line of a tick label (longer ones wrap) when no slot width is known.
LABEL_CHARS = 22
#: Share of a Δ figure's width its axes get (about; for wrapping tick labels) .
AXES_WIDTH = 0.88
TICK_FONT_SIZE = 7.0
#: Mean width of one tick-label character in pixels (DejaVu Sans at TICK_FONT_SIZE, DPI).
TICK_CHAR_PX = 5.6
#: How a seed's dot is drawn over its bar.
SEED_DOT = {"s": 16, "color": "black", "edgecolors": "white", "linewidths": 0.6}


def colour(method: str, index: int = 0) -> str:
    """The colour of a method in every figure."""
    return METHOD_COLOURS.get(method, EXTRA_COLOURS[index % len(EXTRA_COLOURS)])


@dataclass(frozen=True)
class Bar:
    """One bar of a Δ figure: a method variant's Δ vs baseline in one row.

    Attributes:
        method: The variant's key (colour, slot); a method name when it has one variant.
        label: Its name in the legend.
        delta: The bar's height, metric units (NaN: no bar).
        ci_low: Lower end of the error bar, the 95% bootstrap interval (NaN: none).
        ci_high: Upper end of it.
        points: One dot per seed over the bar (metric units).
    """

    method: str
    label: str
    delta: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    points: tuple[float, ...] = ()

    def flipped(self) -> Bar:
        """The same bar with every value's sign flipped (Δ -> improvement for ↓ metrics)."""
        return Bar(self.method, self.label, -self.delta, -self.ci_high, -self.ci_low,
                   tuple(-p for p in self.points))


@dataclass(frozen=True)
class DeltaRow:
    """One group of bars (a (dataset, model, metric) of a task) plus paper Δ markers."""

    label: str
    bars: tuple[Bar, ...]
    paper: tuple[tuple[str, float], ...] = ()  # (method name, paper Δ)

    def flipped(self) -> DeltaRow:
        """The row with every bar's and paper value's sign flipped."""
        return DeltaRow(self.label, tuple(b.flipped() for b in self.bars),
                        tuple((m, -d) for m, d in self.paper))


def as_improvement(row: DeltaRow, higher_is_better: bool) -> DeltaRow:
    """``row`` as improvement over the baseline: Δ as is (↑ metric) or sign-flipped (↓)."""
    return row if higher_is_better else row.flipped()


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


def _slots(rows: Sequence[DeltaRow]) -> tuple[list[str], float]:
    methods = list(dict.fromkeys(b.method for r in rows for b in r.bars))
    return methods, 0.8 / max(1, len(methods))


def _slot(i: int, method: str, methods: list[str], width: float) -> float:
    return i - 0.4 + width * (methods.index(method) + 0.5)


def _draw_bars(ax: Axes, rows: Sequence[DeltaRow]) -> None:
    """Bars, their CI error bars and one dot per seed, per method variant."""
    methods, width = _slots(rows)
    labels = {b.method: b.label for r in rows for b in r.bars}
    for j, method in enumerate(methods):
        bars = [(_slot(i, method, methods, width), b) for i, row in enumerate(rows)
                for b in row.bars if b.method == method and math.isfinite(b.delta)]
        if not bars:  # no Δ anywhere (missing or failed): no legend entry either
            continue
        ax.bar([x for x, _ in bars], [b.delta for _, b in bars], width=width * 0.9,
               color=colour(method, j), label=labels[method], zorder=2)
        cis = [(x, b.ci_low, b.ci_high) for x, b in bars
               if math.isfinite(b.ci_low) and math.isfinite(b.ci_high)]
        if cis:  # drawn as centre ± half-width: the interval need not contain the bar's top
            ax.errorbar([x for x, _, _ in cis], [(lo + hi) / 2 for _, lo, hi in cis],
                        yerr=[(hi - lo) / 2 for _, lo, hi in cis], fmt="none",
                        ecolor="black", elinewidth=1.0, capsize=3, zorder=3)
        dots = [(x + off, p) for x, b in bars for off, p in zip(
            _spread(len(b.points), width * 0.5), b.points, strict=True)]
        if dots:
            ax.scatter([x for x, _ in dots], [p for _, p in dots], **SEED_DOT, zorder=4)
    if any(b.points for r in rows for b in r.bars):
        ax.scatter([], [], **SEED_DOT, label="one seed")


def _spread(n: int, span: float) -> list[float]:
    """``n`` offsets evenly spread over ``span`` (centred), for the seed dots of one bar."""
    if n < 2:
        return [0.0] * n
    return [span * (k / (n - 1) - 0.5) for k in range(n)]


def _draw_paper(ax: Axes, rows: Sequence[DeltaRow]) -> None:
    """The paper's Δ as hollow diamonds in the slot of its method."""
    methods, width = _slots(rows)
    marks = []
    for i, row in enumerate(rows):
        for method, delta in row.paper:
            target = method if method in methods else (
                "has" if method.startswith("has") and "has" in methods else None)
            if target is not None:
                marks.append((_slot(i, target, methods, width), delta))
    if marks:
        ax.scatter([x for x, _ in marks], [d for _, d in marks], marker="D", s=40,
                   facecolors="white", edgecolors="black", linewidths=1.4, zorder=5,
                   label="paper Δ (its own datasets)")


def wrap_label(label: str, width: int = LABEL_CHARS) -> str:
    """``label`` with each line wrapped to ``width`` characters.

    Lines break after a space, ``_`` or ``-``; a longer unbroken word keeps its own line.
    """
    out = []
    for line in label.split("\n"):
        current = ""
        for piece in re.split(r"(?<=[ _-])", line):
            if current and len(current) + len(piece.rstrip()) > width:
                out.append(current.rstrip())
                current = ""
            current += piece
        out.append(current.rstrip())
    return "\n".join(out)


def _tick_labels(ax: Axes, rows: Sequence[DeltaRow]) -> None:
    """Row labels wrapped to their slot; turned 30° only when a word is wider than it."""
    slot_px = DELTA_SIZE_IN[0] * DPI * AXES_WIDTH / max(1, len(rows))
    width = max(6, int(slot_px / TICK_CHAR_PX))
    labels = [wrap_label(r.label, width) for r in rows]
    turn = any(len(line) > width for text in labels for line in text.split("\n"))
    ax.set_xticks(range(len(rows)), labels, rotation=30 if turn else 0,
                  ha="right" if turn else "center",
                  rotation_mode="anchor" if turn else "default", fontsize=TICK_FONT_SIZE)


def _legend(fig: Figure, ax: Axes) -> None:
    """The legend below the axes (methods first, then the seed dots and paper marks)."""
    handles, labels = ax.get_legend_handles_labels()
    if not labels:
        return
    last = {"one seed": 1, "paper Δ (its own datasets)": 2}
    order = sorted(range(len(labels)), key=lambda i: (last.get(labels[i], 0), i))
    fig.legend([handles[i] for i in order], [labels[i] for i in order],
               loc="outside lower center", ncol=min(len(labels), 5), fontsize=8,
               frameon=False)


def delta_figure(rows: Sequence[DeltaRow], title: str, ylabel: str) -> Figure:
    """Grouped bars: Δ vs baseline per row and method variant.

    Error bars are the 95% bootstrap interval of Δ (where defined), dots the seeds' Δ. The
    paper's Δ of a row is drawn as a hollow diamond in the slot of the method it belongs to
    (a fixed-grid ``has-N`` paper value goes to the HaS slot when the figure has one). Tick
    labels are wrapped to their slot and the figure uses matplotlib's constrained layout, so
    no label, title or legend entry is cut (the figure keeps its pixel size).
    """
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=DELTA_SIZE_IN, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        _draw_bars(ax, rows)
        _draw_paper(ax, rows)
        for i, row in enumerate(rows):
            if not any(math.isfinite(b.delta) for b in row.bars):
                ax.text(i, 0.0, "n/a", ha="center", va="bottom", fontsize=8, color="#777777")
        ax.axhline(0.0, color="black", linewidth=0.8)
        _tick_labels(ax, rows)
        ax.set_xlim(-0.6, max(0, len(rows) - 1) + 0.6)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="y", linewidth=0.4, alpha=0.6)
        _legend(fig, ax)
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
