"""The report's ablation tables: one table per axis, as the paper's analysis tables are.

An axis is one knob of the paper's analysis (ICCV 2017 Sec. 4; arXiv 1811.02545) or the
erasing family. A comparison cell (:func:`benchmark.reporting.table.cell_stats`) sits on an
axis when the knob is the only thing of the cell that departs from the defaults, or when it
is one of the axis's reference methods (``baseline`` and the default ``has``; the erasing
family adds ``random_erasing``) at the defaults. An axis gets a table for each (task,
dataset, model) where at least one cell departs on it; its rows are the cells (the method,
the knob's value), its columns the group's metrics as ``mean ± std (n) Δ`` vs the baseline
of the cell's own row (for GMP: the GMP baseline). Significance tests stay in the task tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchmark.conv_hiding import PAPER_CONV_GRID_SIZES
from benchmark.erasing.family import FAMILY
from benchmark.reporting import table as results

#: A cell's knob values when it leaves them at their defaults.
DEFAULT_KNOBS = {"hide_prob": 0.5, "fill": "mean", "grid_policy": "scaled", "pooling": "gap",
                 "conv_grid": list(PAPER_CONV_GRID_SIZES)}
#: The reference methods every axis shows beside its own cells.
REFERENCE_METHODS = ("baseline", "has")


@dataclass(frozen=True)
class Axis:
    """One ablation axis.

    Attributes:
        title: The table's heading (with the paper's table where it has one).
        knob: The :data:`DEFAULT_KNOBS` key it varies, or ``""`` for an axis of methods.
        methods: Its own methods; for a knob axis, those that have the knob.
        references: The methods shown beside them at the defaults.
    """

    title: str
    knob: str
    methods: tuple[str, ...]
    references: tuple[str, ...] = REFERENCE_METHODS


AXES = (
    Axis("Hiding probability (ICCV 2017, Table 6)", "hide_prob", ("has",)),
    Axis("Global average vs global max pooling (ICCV 2017, Table 4)", "pooling",
         ("baseline", "has", "has-16", "has-32", "has-44", "has-56")),
    Axis("Hiding in a convolutional layer (ICCV 2017, Table 5)", "conv_grid", ("has-conv",)),
    Axis("Dropout at the image (ICCV 2017, Table 3)", "", ("dropout-train", "dropout-traintest")),
    Axis("The hidden pixels' value", "fill", ("has",)),
    Axis("Grid sizes for small inputs: scaled vs absolute pixels", "grid_policy", ("has",)),
    Axis("The erasing family", "", FAMILY, ("baseline", "random_erasing", "has")),
)


def knobs(cell: pd.Series) -> dict[str, Any]:
    """A cell's knob values (:data:`DEFAULT_KNOBS` keys), from its setting and variant keys."""
    setting = json.loads(cell["setting_key"]).get("options", {})
    method = json.loads(cell["variant_key"]).get("options", {})
    found = {"hide_prob": method.get("has_hide_prob"), "fill": method.get("has_fill"),
             "grid_policy": method.get("has_grid_policy"), "pooling": setting.get("pooling"),
             "conv_grid": method.get("has_conv_grid_sizes")}
    return {k: DEFAULT_KNOBS[k] if v is None else v for k, v in found.items()}


def _departs(cell: pd.Series) -> set[str]:
    return {k for k, v in knobs(cell).items() if v != DEFAULT_KNOBS[k]}


def on_axis(axis: Axis, cell: pd.Series) -> bool:
    """Whether ``cell`` is a row of ``axis``'s table (its own cell or a reference)."""
    departs, method = _departs(cell), str(cell["method"])
    if axis.knob:
        own = method in axis.methods and departs <= {axis.knob}
        reference = method in axis.references and departs <= {axis.knob}
        return own or reference if axis.knob == "pooling" else own or (
            reference and not departs)
    return not departs and (method in axis.methods or method in axis.references)


def _varies(axis: Axis, cells: pd.DataFrame) -> bool:
    """Whether the group has a cell of the axis's own (not only references)."""
    for _, cell in cells.iterrows():
        if axis.knob and axis.knob in _departs(cell) and str(cell["method"]) in axis.methods:
            return True
        if not axis.knob and str(cell["method"]) in axis.methods and not _departs(cell):
            return True
    return False


def _label(axis: Axis, cell: pd.Series, display: Callable[[str], str], settings: int) -> str:
    """The method's name, the knob's value (not for the baseline but on the pooling axis)."""
    method = str(cell["method"])
    name = display(method)
    if axis.knob != "pooling" and settings > 1:
        name += f" [{cell['setting']}]"
    plain_baseline = method == results.BASELINE and axis.knob != "pooling"
    if not axis.knob or plain_baseline or (axis.knob == "conv_grid" and method != "has-conv"):
        return name
    value = knobs(cell)[axis.knob]
    return f"{name}, {axis.knob}={json.dumps(value) if isinstance(value, list) else value}"


def _row_order(axis: Axis, cell: pd.Series) -> tuple:
    """Pooling rows by pooling, then method; other axes by method, then the knob's value."""
    value = knobs(cell)[axis.knob] if axis.knob else ""
    number = value if isinstance(value, int | float) else 0.0
    method = results.method_rank(str(cell["method"]))
    if axis.knob == "pooling":
        return (str(value), method)
    return (method, number, json.dumps(value))


def _text(cell: pd.Series, decimals: int) -> str:
    text = results.format_cell(cell, decimals)
    if cell["method"] != results.BASELINE and pd.notna(cell.get("delta")):
        text += f" Δ {results.format_delta(cell['delta'], decimals)}"
    return text


def axis_tables(stats: pd.DataFrame, display: Callable[[str], str]
                ) -> list[tuple[Axis, tuple[str, str, str], list[str], list[list[str]]]]:
    """Every axis's tables: ``(axis, (task, dataset, model), header, rows)``, in axis order.

    Args:
        stats: :func:`benchmark.reporting.stats.with_comparisons` of the cells (``delta``).
        display: How a method is named (the report's ``display``).
    """
    out = []
    for axis in AXES:
        for key, group in stats.groupby(["task", "dataset", "model"], sort=False):
            if not _varies(axis, group):
                continue
            cells = group[[on_axis(axis, c) for _, c in group.iterrows()]]
            metrics = list(dict.fromkeys(cells["metric"]))
            decimals = results.decimals_for([v for vs in cells["values"] for v in vs])
            rows = []
            groups = [same for _, same in cells.groupby(["method", "variant", "setting"],
                                                         sort=False)]
            for same in sorted(groups, key=lambda g: _row_order(axis, g.iloc[0])):
                by_metric = {str(c["metric"]): c for _, c in same.iterrows()}
                first = next(iter(by_metric.values()))
                rows.append([_label(axis, first, display, cells["setting"].nunique()), *(
                    _text(by_metric[m], decimals) if m in by_metric else "—" for m in metrics)])
            header = ["run", *(f"{m} ({'↑' if _hib(cells, m) else '↓'})" for m in metrics)]
            out.append((axis, tuple(str(k) for k in key), header, rows))
    return out


def _hib(cells: pd.DataFrame, metric: str) -> bool:
    return bool(cells.loc[cells["metric"] == metric, "higher_is_better"].iat[0])
