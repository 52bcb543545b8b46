"""The comparison report: contents, significance, byte-identical regeneration, figures."""

from __future__ import annotations

import importlib.util
import math
import re
import statistics
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import special

from benchmark.engine.paths import REPO_ROOT
from benchmark.reporting import figures, report, stats

_spec = importlib.util.spec_from_file_location(
    "record_fixture", Path(__file__).parents[2] / "fixtures" / "record_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

SUITE_YAML = """
name: fixture
defaults: {seeds: [0, 1, 2], device: cpu}
runs:
  - task: classification
    dataset: cifar10
    synthetic: true
    model: resnet_tiny
    methods: [baseline, random_erasing, has, has-32]
    epochs: 2
    options: {batch_size: 8}
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    results_dir = root / "results"
    fixture.make_records(results_dir)
    (results_dir / "figures").mkdir(parents=True)
    (results_dir / "figures" / "stale_from_old_run.png").write_bytes(b"old")
    suite = root / "fixture.yaml"
    suite.write_text(SUITE_YAML)
    md_path = report.write_report(results_dir, suite=str(suite))
    return results_dir, md_path, suite


def _values(task, method, metric):
    key = next(k for k in fixture.RUNS if k[0] == task and k[3] == method)
    return [o[metric] for o in fixture.RUNS[key].values() if isinstance(o, dict)]


def _hand_welch(a, b):
    """Welch's t, Welch–Satterthwaite df and the two-sided p, from the formulas."""
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1)
    sa, sb = va / len(a), vb / len(b)
    t = (ma - mb) / math.sqrt(sa + sb)
    df = (sa + sb) ** 2 / (sa**2 / (len(a) - 1) + sb**2 / (len(b) - 1))
    p = special.betainc(df / 2, 0.5, df / (df + t * t))  # two-sided Student-t tail
    return t, df, p


def test_welch_matches_hand_computation():
    a, b = [55.0, 57.0, 56.5, 58.25], [50.0, 52.0, 54.0]
    t, df, p = _hand_welch(a, b)
    result = stats.welch_t(a, b)
    assert result.statistic == pytest.approx(t, rel=1e-12)
    assert result.df == pytest.approx(df, rel=1e-12)
    assert result.p == pytest.approx(p, rel=1e-9)
    assert report.significance_mark(result.p) == ("*" if 0.01 <= p < 0.05 else
                                                  "**" if 0.001 <= p < 0.01 else
                                                  "***" if p < 0.001 else "ns")
    assert stats.welch_t([1.0], [1.0, 2.0]) is None  # n < 2: no p at all
    assert stats.welch_t([1.0, 1.0], [2.0, 2.0]) is None  # zero variance on both sides
    assert [report.significance_mark(p) for p in (0.0005, 0.005, 0.03, 0.2)] == [
        "***", "**", "*", "ns"]


def test_report_tables_show_stats_failed_missing_single_seed_and_paper(generated):
    _, md_path, _ = generated
    md = md_path.read_text()
    for section in ("## Summary", "## classification", "## wsol", "## age_gender",
                    "## Runs without a record", "## Failed runs", "## Paper reference values",
                    "## Provenance"):
        assert section in md, section
    assert md.index("## Summary") < md.index("## classification") < md.index("## wsol")

    has, base = (_values("classification", m, "top1") for m in ("has", "baseline"))
    _, _, p = _hand_welch(has, base)  # has lost seed 2, the baseline did not: unpaired
    delta = statistics.mean(has) - statistics.mean(base)
    line = next(li for li in md.splitlines() if li.startswith("| cifar10-synth") and "top1" in li)
    assert re.search(re.escape(f"{delta:+.2f} \\[") + r"[-+]\d+\.\d\d, [-+]\d+\.\d\d\\\] ns "
                     + re.escape(f"(Welch, p={p:.3f}, adj. p="), line), line
    assert "(paired t, p=" in line  # random erasing holds the baseline's seeds: paired
    assert f"**{statistics.mean(has):.2f} ± {statistics.stdev(has):.2f} (n=2, 1 failed)**" in line
    assert "53.50 (n=1)" in line and "| +1.50 (1 seed) |" in line  # single seed: no p at all
    assert "+1.05 (ImageNet-val, ResNet-50)" in line  # the paper's Δ beside ours

    wsol = next(li for li in md.splitlines()
                if li.startswith("| tinyimagenet-synth") and "gt_known_loc" in li)
    assert "missing" in wsol and r"failed (ValueError: CAM layer \| not found)" in wsol
    assert "40.25 (n=1)" in wsol
    assert "| missing | n/a (missing) |" in wsol and "not found) | n/a (failed) |" in wsol
    assert "+3.85 (ILSVRC2016-val, AlexNet-GAP; HaS-32)" in wsol  # labelled fixed-grid variant

    mae = next(li for li in md.splitlines() if li.startswith("| utkface") and "mae (↓)" in li)
    assert "**5.60 ± 0.14 (n=2)**" in mae  # lower is better: HaS is best

    not_recorded = md.split("## Runs without a record")[1].split("##")[0]
    assert not_recorded.count("\n- ") == 2 and "HaS-32 / seed 1" in not_recorded
    assert "HaS-32 / seed 2" in not_recorded
    failed = md.split("## Failed runs")[1].split("##")[0]
    assert "DataLoader worker (pid 42) killed" in failed and "CAM layer" in failed
    methods = md.split("## Summary")[0]  # the statistical methods are stated up front
    for name in ("ttest_rel", "equal_var=False", "scipy.stats.bootstrap",
                 "false_discovery_control", "Benjamini–Hochberg", "1 seed"):
        assert name in methods, name


def test_report_provenance_and_no_timestamps(generated):
    results_dir, md_path, _ = generated
    md, html_text = md_path.read_text(), (results_dir / "report.html").read_text()
    prov = md.split("## Provenance")[1]
    assert "`0123456789abcdef0123456789abcdef01234567`" in prov
    assert "| package torch | 2.14.1 |" in prov and "| package mmpretrain | 1.2.0 |" in prov
    assert prov.index("package mmpretrain") < prov.index("package numpy") < prov.index(
        "package torch")
    for text in (md, html_text):
        assert "2025-01-01" not in text  # record start/end times stay out of the body
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href"):
                self.refs.append(value)


def test_html_is_self_contained_and_links_resolve(generated):
    results_dir, _, _ = generated
    parser = _Links()
    parser.feed((results_dir / "report.html").read_text())
    assert "script" not in parser.tags and "link" not in parser.tags
    assert not [r for r in parser.refs if re.match(r"[a-z]+://", r)]
    local = [r for r in parser.refs if not r.startswith("#")]
    assert any(r.startswith("figures/") for r in local)
    assert any("cam_grid.png" in r for r in local)  # the run's CAM artifact is linked
    for ref in local:
        assert (results_dir / ref).is_file(), ref
    anchors = {r[1:] for r in parser.refs if r.startswith("#")}
    html_text = (results_dir / "report.html").read_text()
    for anchor in anchors:
        assert f'id="{anchor}"' in html_text
    assert "file not found: cam/missing.png" in html_text  # listed artifact that is absent


def test_figures_exist_with_expected_pixel_size(generated):
    results_dir, md_path, _ = generated
    md = md_path.read_text()
    pngs = sorted((results_dir / "figures").glob("*.png"))
    names = {p.name for p in pngs}
    assert "stale_from_old_run.png" not in names  # figures of earlier reports are pruned
    assert {"delta_summary.png", "delta__classification.png", "delta__wsol.png",
            "delta__age_gender.png"} <= names
    assert sum(n.startswith("curves__") for n in names) == 3
    for png in pngs:
        assert f"figures/{png.name}" in md
        expected = figures.CURVES_SIZE_IN if png.name.startswith("curves") else \
            figures.DELTA_SIZE_IN
        with Image.open(png) as img:
            assert img.size == (round(expected[0] * figures.DPI), round(expected[1] * figures.DPI))
            pixels = np.asarray(img.convert("L"), dtype=float)
        assert pixels.std() > 5  # not a blank canvas
        svg = png.with_suffix(".svg")
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg") and root.get("width") == f"{expected[0] * 72:g}pt"


def test_regeneration_is_byte_identical(generated):
    results_dir, md_path, suite = generated
    files = [md_path, results_dir / "report.html",
             *sorted((results_dir / "figures").glob("*.png")),
             *sorted((results_dir / "figures").glob("*.svg"))]
    before = {p: p.read_bytes() for p in files}
    assert all(before.values())
    report.write_report(results_dir, suite=str(suite))
    assert sorted((results_dir / "figures").iterdir()) == sorted(
        p for p in files if p.parent.name == "figures")
    for path in files:
        assert path.read_bytes() == before[path], path.name


def test_report_without_records_and_with_an_unreadable_one(tmp_path):
    path = report.write_report(tmp_path)
    assert "No records yet" in path.read_text()
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "broken.json").write_text('{"run_id": "x", "task": ')
    with pytest.warns(UserWarning, match="broken.json"):
        text = report.write_report(tmp_path).read_text()
    assert "## Unreadable records (skipped)" in text and "records/broken.json" in text


def test_paper_csv_is_normalized_and_sourced():
    paper = report.load_paper(REPO_ROOT / "results" / "paper.csv")
    assert len(paper) > 0
    assert set(paper["task"]) <= {"classification", "wsol", "wsss", "segmentation", "emotion",
                                  "age_gender", "action_localization", "reid"}
    wsss = report.paper_deltas(paper).query("task == 'wsss' and metric == 'miou'")
    assert wsss["delta"].tolist() == [pytest.approx(61.45 - 60.80)]  # DCSP, VOC 2012 val
    assert set(paper["method"]) <= {"baseline", "random_erasing", "has", "has-32"}
    assert all(m == m.lower() and " " not in m for m in paper["metric"])
    assert paper["source"].str.len().min() > 0
    deltas = report.paper_deltas(paper)
    cls = deltas[(deltas["task"] == "classification") & (deltas["model"] == "ResNet-50")]
    assert cls["delta"].iat[0] == pytest.approx(77.20 - 76.15)
    shared = REPO_ROOT.parent / "shared" / "paper_results.csv"
    if shared.is_file():
        assert len(paper) == len(shared.read_text().strip().splitlines()) - 1


def test_summary_text(generated):
    results_dir, _, _ = generated
    text = report.summary_text(results_dir)
    assert text.startswith("| task |") and text.count("\n") == 2 + 3

