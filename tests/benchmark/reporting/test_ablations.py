"""The report's ablation tables: one per axis, with the right rows and Δ vs the right baseline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from benchmark.reporting import ablations, report
from benchmark.reporting import stats as cell_statistics
from benchmark.reporting import table as results

_spec = importlib.util.spec_from_file_location(
    "record_fixture", Path(__file__).parents[2] / "fixtures" / "record_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

WSOL = ("wsol", "tiny-imagenet", "alexnet-gap")
CLS = ("classification", "cifar10-jpeg", "resnet18-cifar")
OPTIONS = {"batch_size": 8}
#: (key, method, extra options, gt_known_loc / top1)
RUNS = [
    (WSOL, "baseline", {}, 40.0), (WSOL, "has", {}, 44.0),
    (WSOL, "has", {"has_hide_prob": 0.75}, 41.5),
    (WSOL, "has", {"has_hide_prob": 0.25}, 42.0), (WSOL, "has", {"has_fill": "random"}, 41.0),
    (WSOL, "has-56", {}, 43.0),
    (WSOL, "baseline", {"pooling": "gmp"}, 30.0), (WSOL, "has-56", {"pooling": "gmp"}, 35.0),
    (WSOL, "has-conv", {"has_conv_grid_sizes": [5]}, 39.0),
    (WSOL, "dropout-train", {}, 20.0), (WSOL, "dropout-traintest", {}, 25.0),
    (WSOL, "cutout", {}, 41.5),
    (CLS, "baseline", {}, 60.0), (CLS, "has", {}, 58.0),
    (CLS, "has", {"has_grid_policy": "absolute"}, 59.0), (CLS, "cutmix", {}, 62.0),
    (CLS, "random_erasing", {}, 61.0),
]


def _records(results_dir: Path) -> list:
    records = []
    for (task, dataset, model), method, extra, value in RUNS:
        metric = "gt_known_loc" if task == "wsol" else "top1"
        records.append(fixture.custom_record(
            task, dataset, model, method, 0, {metric: value}, options={**OPTIONS, **extra},
            method_params={"hide_prob": 0.5} if method.startswith("has") else {}))
    return fixture.write_records(results_dir, records)


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    records = _records(tmp_path_factory.mktemp("ablations") / "results")
    return cell_statistics.with_comparisons(
        results.cell_stats(results.table_from_records(records)))


def _tables(stats) -> dict[tuple[str, str], list[list[str]]]:
    return {(axis.title.split(" (")[0], key[0]): rows
            for axis, key, _, rows in ablations.axis_tables(stats, report.display)}


def test_has_conv_options_are_a_variant_not_a_setting(stats):
    conv = stats[stats["method"] == "has-conv"]
    base = stats[(stats["method"] == "baseline") & (stats["task"] == "wsol")]
    assert len(conv) == 1  # the same row as the GAP baseline: Δ is defined
    assert conv["setting"].iat[0] in set(base["setting"]) and "conv" not in conv["setting"].iat[0]
    assert conv["delta"].iat[0] == pytest.approx(39.0 - 40.0)


def test_each_axis_holds_its_own_cells_and_the_references_only(stats):
    tables = _tables(stats)
    first = {key: [r[0] for r in rows] for key, rows in tables.items()}
    assert first[("Hiding probability", "wsol")] == [
        "baseline", "HaS, hide_prob=0.25", "HaS, hide_prob=0.5", "HaS, hide_prob=0.75"]
    # by value; not fill=random, not HaS-56
    assert any("fill=random" in r for r in first[("The hidden pixels' value", "wsol")])
    assert first[("Dropout at the image", "wsol")] == [
        "baseline", "HaS", "dropout-train", "dropout-traintest"]
    assert first[("Hiding in a convolutional layer", "wsol")] == [
        "baseline", "HaS", "has-conv, conv_grid=[5]"]
    assert any("grid_policy=absolute" in r
               for r in first[("Grid sizes for small inputs: scaled vs absolute pixels",
                               "classification")])
    assert first[("The erasing family", "classification")] == [
        "baseline", "random erasing", "HaS", "CutMix"]
    assert first[("The erasing family", "wsol")] == ["baseline", "HaS", "Cutout"]
    assert ("Hiding probability", "classification") not in tables  # nothing departs there
    assert ("Global average vs global max pooling", "classification") not in tables


def test_gmp_runs_are_compared_with_the_gmp_baseline(stats):
    rows = _tables(stats)[("Global average vs global max pooling", "wsol")]
    text = {r[0]: r[1] for r in rows}
    assert list(text) == ["baseline, pooling=gap", "HaS, pooling=gap", "HaS-56, pooling=gap",
                          "baseline, pooling=gmp", "HaS-56, pooling=gmp"]
    assert text["HaS-56, pooling=gmp"] == "35.00 (n=1) Δ +5.00"  # vs the GMP baseline (30)
    assert text["HaS-56, pooling=gap"] == "43.00 (n=1) Δ +3.00"  # vs the GAP baseline (40)


def test_report_has_an_ablations_section_only_when_an_axis_varies(tmp_path, stats):
    results_dir = tmp_path / "results"
    _records(results_dir)
    text = report.write_report(results_dir).read_text()
    assert "## Ablations" in text and "### Hiding probability (ICCV 2017, Table 6)" in text
    assert text.index("## Ablations") > text.index("## wsol")
    plain = tmp_path / "plain"
    fixture.make_records(plain, with_artifacts=False)
    assert "## Ablations" not in report.write_report(plain).read_text()
