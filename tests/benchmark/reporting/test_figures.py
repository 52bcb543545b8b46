"""Δ figures: the data behind them (improvement sign, seed dots, CI) and labels inside."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection

from benchmark.reporting import figures, report, stats
from benchmark.reporting import table as results

_spec = importlib.util.spec_from_file_location(
    "record_fixture", Path(__file__).parents[2] / "fixtures" / "record_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

TASKS = ("classification", "wsol", "segmentation", "weak_segmentation", "emotion",
         "age_gender", "action_localization", "reid")


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    fixture.make_records(root, with_artifacts=False)
    return stats.with_comparisons(results.cell_stats(results.load_table(root)))


def _bar(row: figures.DeltaRow, method: str) -> figures.Bar:
    return next(b for b in row.bars if b.method == method)


def _cell(frame, task, metric, method):
    return frame[(frame["task"] == task) & (frame["metric"] == metric)
                 & (frame["method"] == method)].iloc[0]


def test_summary_plots_improvement_sign_flipped_for_lower_is_better(compared):
    paper = report.paper_deltas(report.load_paper())
    rows = {r.label.split("\n")[0]: r for r in report.summary_rows(compared, paper)}
    assert list(rows) == ["classification", "wsol", "age_gender"]

    mae = rows["age_gender"]
    assert "mae ↓" in mae.label  # the headline metric, lower is better
    cell = _cell(compared, "age_gender", "mae", "has")
    assert cell["delta"] == pytest.approx(5.6 - 6.2)  # Δ: HaS lowers the error ...
    has = _bar(mae, "has")
    assert has.delta == pytest.approx(0.6)  # ... which is an improvement of +0.6
    assert (has.ci_low, has.ci_high) == (pytest.approx(-cell["ci_high"]),
                                         pytest.approx(-cell["ci_low"]))
    assert has.points == pytest.approx([0.5, 0.7])  # per seed: baseline − HaS
    assert has.ci_low <= has.delta <= has.ci_high

    top1 = _bar(rows["classification"], "has")  # higher is better: improvement = Δ
    assert top1.delta == pytest.approx(_cell(compared, "classification", "top1", "has")["delta"])
    assert top1.delta > 0
    paper_top1 = dict(report._paper_points(paper, "classification", "top1"))
    assert dict(rows["classification"].paper) == paper_top1  # no flip for ↑ metrics


def test_improvement_flips_paper_marks_too():
    row = figures.DeltaRow("x", (figures.Bar("has", "HaS", -1.0, -2.0, -0.5, (-1.5, -0.5)),),
                           (("has", -0.8),))
    flipped = figures.as_improvement(row, higher_is_better=False)
    assert flipped.bars[0] == figures.Bar("has", "HaS", 1.0, 0.5, 2.0, (1.5, 0.5))
    assert flipped.paper == (("has", 0.8),)
    assert figures.as_improvement(row, higher_is_better=True) == row


def _render(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def test_delta_figure_draws_each_seed_and_the_ci():
    bar = figures.Bar("has", "HaS", 2.0, 1.0, 4.0, (1.0, 2.0, 3.0))
    fig = figures.delta_figure([figures.DeltaRow("d\nm", (bar,))], "t", "Δ")
    ax = fig.axes[0]
    dots = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert len(dots) == 1
    assert sorted(np.asarray(dots[0].get_offsets())[:, 1]) == pytest.approx([1.0, 2.0, 3.0])
    spans = [seg for c in ax.collections if isinstance(c, LineCollection)
             for seg in c.get_segments()]
    assert any(sorted(np.asarray(s)[:, 1]) == pytest.approx([1.0, 4.0]) for s in spans)
    assert "one seed" in [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def _inside(fig, artists) -> list[str]:
    renderer = _render(fig)
    width, height = fig.bbox.width, fig.bbox.height
    out = []
    for art in artists:
        box = art.get_window_extent(renderer)
        if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5:
            out.append(f"{art}: {box}")
    return out


def _long_rows(n: int) -> list[figures.DeltaRow]:
    bars = (figures.Bar("random_erasing", "random erasing", 1.0, 0.5, 1.5, (0.8, 1.2)),
            figures.Bar("has", "HaS", -2.0, -3.0, -1.0, (-2.5, -1.5)))
    return [figures.DeltaRow(f"{t}\n{t}-dataset-synth\nmap@0.5 ↑\nepochs=10, batch_size=64",
                             bars, (("has", 1.0),)) for t in TASKS[:n]]


@pytest.mark.parametrize("n_rows", [1, 3, 8])
def test_labels_title_and_legend_lie_inside_the_figure(n_rows):
    fig = figures.delta_figure(_long_rows(n_rows), "HaS vs random erasing: improvement",
                               "improvement vs baseline\nΔ, sign flipped for ↓ metrics")
    ax = fig.axes[0]
    labels = ax.get_xticklabels()
    assert len(labels) == n_rows
    assert _inside(fig, [*labels, ax.title, ax.yaxis.label, *fig.legends]) == []
    renderer = _render(fig)
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    if labels[0].get_rotation() == 0:  # side by side: neighbours must not overlap
        assert all(a.x1 <= b.x0 for a, b in itertools.pairwise(boxes))
    size = fig.get_size_inches() * fig.dpi
    assert tuple(size) == pytest.approx(tuple(np.array(figures.DELTA_SIZE_IN) * figures.DPI))


def test_summary_figure_of_the_fixture_keeps_its_labels(compared):
    rows = report.summary_rows(compared, report.paper_deltas(report.load_paper()))
    fig = figures.delta_figure(rows, "summary", "improvement")
    ax = fig.axes[0]
    assert _inside(fig, [*ax.get_xticklabels(), *fig.legends]) == []


def test_wrap_label_breaks_after_separators():
    assert figures.wrap_label("action_localization\nthumos14-synth", 10) == (
        "action_\nlocalization\nthumos14-\nsynth")
    assert figures.wrap_label("top1 ↑", 10) == "top1 ↑"
