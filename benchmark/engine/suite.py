"""Suites: plain-data manifests (``configs/suites/<name>.yaml``) expanded into RunSpecs.

A manifest::

    name: demo
    results: results/demo            # default results dir (relative to the repo)
    defaults: {seeds: [0], device: cpu}
    runs:
      - task: classification
        dataset: cifar10
        synthetic: true              # generate the data (hasbench synth) under <results>/data
        model: resnet-tiny-cifar
        methods: [baseline, random_erasing, has]
        epochs: 5
        options: {batch_size: 32}
        has_options: {has_placement: preprocessor}   # only for the methods that hide
        pretrained: resnet50-0676ba61.pth   # local weights ($HASBENCH_WEIGHTS), every method
        cfg_options: {optim_wrapper.optimizer.momentum: 0.8}   # --cfg-options, every method
        method_file: my_methods.yaml   # --method-file (relative to this file): its methods only
        resources: {gpus: 1, cpus: 4, mem_gb: 16, hours: 2}   # for the slurm executor

Each entry expands to methods x seeds RunSpecs. ``has_options`` (``has_grid_sizes_px``,
``has_hide_prob``, ``has_placement``: see ``benchmark.methods.method_for``) join the options
of the entry's hiding methods only, so the baseline's and random erasing's runs (and run ids)
are the same with or without them (``has-frames`` takes ``has_hide_prob`` only). ``pretrained``
(the ``pretrained`` option: a weights file, see ``benchmark.engine.pretrained``) joins every
method's options, and so do ``cfg_options`` (``benchmark.cfg_options``); ``method_file``
(``benchmark.user_methods``) joins the options of the methods that are not built in, so the
built-in rows keep their run ids; a method that trains nothing (``full-image``) runs once
(the first seed), with :data:`REFERENCE_RESOURCES`. Finished runs (a record with status ok) are
skipped; failed runs are skipped too unless ``retry_failed`` (their reason is kept).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmark.engine import records
from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import RunSpec
from benchmark.methods import HAS_OPTIONS, METHODS

SUITE_DIR = REPO_ROOT / "configs" / "suites"
DEFAULT_RESOURCES = {"gpus": 1, "cpus": 4, "mem_gb": 16, "hours": 4.0}
#: What a run that trains nothing (``full-image``) asks a cluster for: no GPU, one hour.
REFERENCE_RESOURCES = {"gpus": 0, "cpus": 4, "mem_gb": 16, "hours": 1.0}
ENTRY_KEYS = {"task", "dataset", "synthetic", "model", "methods", "seeds", "epochs", "options",
              "has_options", "resources", "device", "data_root", "pretrained", "cfg_options",
              "method_file"}


@dataclass
class SuiteRun:
    """One run of a suite with the resources a cluster job needs for it."""

    spec: RunSpec
    resources: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_RESOURCES))


@dataclass
class Suite:
    """A named list of runs and the results dir they go to."""

    name: str
    results_dir: Path
    runs: list[SuiteRun]
    description: str = ""


def suite_names() -> list[str]:
    """Names of the suites in ``configs/suites``."""
    return sorted(p.stem for p in SUITE_DIR.glob("*.yaml"))


def load_suite(name_or_path: str, results_dir: str | Path | None = None) -> Suite:
    """Read and expand a suite manifest.

    Raises:
        ValueError: naming the suite file and the offending entry/key.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = SUITE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(suite_names())
        raise ValueError(f"unknown suite {name_or_path!r}; known suites: {known}")
    data = yaml.safe_load(path.read_text()) or {}
    defaults = data.get("defaults", {})
    runs = []
    for index, entry in enumerate(data.get("runs", [])):
        unknown = set(entry) - ENTRY_KEYS
        if unknown or "task" not in entry:
            raise ValueError(
                f"{path}: run #{index} has unknown keys {sorted(unknown)} or no 'task' "
                f"(allowed: {sorted(ENTRY_KEYS)})"
            )
        runs.extend(_expand(entry, defaults, path.parent))
    results = Path(results_dir or data.get("results", f"results/{path.stem}"))
    if not results.is_absolute():
        results = REPO_ROOT / results if results_dir is None else results.resolve()
    return Suite(data.get("name", path.stem), results, runs, data.get("description", ""))


def _expand(entry: dict[str, Any], defaults: dict[str, Any], folder: Path) -> list[SuiteRun]:
    merged = {**defaults, **entry}
    resources = {**DEFAULT_RESOURCES, **defaults.get("resources", {}), **entry.get("resources", {})}
    options = dict(merged.get("options") or {})
    if merged.get("pretrained"):
        options["pretrained"] = merged["pretrained"]
    if merged.get("cfg_options"):
        options["cfg_options"] = dict(sorted(dict(merged["cfg_options"]).items()))
    method_file = merged.get("method_file")
    if method_file:
        method_file = str(folder / Path(str(method_file)).expanduser())
    has_options = _has_options(merged)
    out = []
    seeds = merged.get("seeds", [0])
    for method, seed in itertools.product(merged.get("methods", ["baseline"]), seeds):
        known = METHODS.get(method)
        if known and not known.trains and seed != seeds[0]:
            continue  # nothing trained, nothing drawn: one run stands for every seed
        taken = {k: v for k, v in has_options.items()
                 if not (known and known.hides_frames) or k == "has_hide_prob"}
        run_options = {**options, **taken} if known and known.hides else dict(options)
        if method_file and not known:
            run_options["method_file"] = method_file
        spec = RunSpec(
            task=merged["task"], method=method, dataset=merged.get("dataset"),
            data_root=merged.get("data_root"), model=merged.get("model"), seed=int(seed),
            epochs=merged.get("epochs"), device=merged.get("device", "cpu"),
            options=tuple(sorted(run_options.items())),
            synthetic=bool(merged.get("synthetic", False)),
        )
        out.append(SuiteRun(spec, resources if not known or known.trains else
                            dict(REFERENCE_RESOURCES, cpus=min(resources["cpus"], 4))))
    return out


def _has_options(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's ``has_options``; ValueError naming a key that is no HaS option."""
    has_options = dict(entry.get("has_options") or {})
    unknown = set(has_options) - set(HAS_OPTIONS)
    if unknown:
        raise ValueError(f"run {entry.get('task')!r}: has_options {sorted(unknown)} are not HaS "
                         f"options (known: {', '.join(HAS_OPTIONS)}); put task options under "
                         "'options'")
    return has_options


def parse_only(only: str | None) -> dict[str, set[str]]:
    """Parse ``--only task=wsol,method=has`` (repeat a key for several values)."""
    filters: dict[str, set[str]] = {}
    for part in filter(None, (only or "").split(",")):
        key, sep, value = part.partition("=")
        if not sep or key not in {"task", "dataset", "model", "method", "seed"}:
            raise ValueError(
                f"bad --only filter {part!r}; use key=value with key in task, dataset, model, "
                "method, seed (e.g. --only task=wsol,method=has)"
            )
        filters.setdefault(key, set()).add(value)
    return filters


def select(runs: list[SuiteRun], filters: dict[str, set[str]]) -> list[SuiteRun]:
    """Runs matching every filter."""
    def keep(run: SuiteRun) -> bool:
        return all(str(getattr(run.spec, key)) in values for key, values in filters.items())

    return [r for r in runs if keep(r)]


def run_state(results_dir: Path, spec: RunSpec, *, check_stale: bool = False) -> str:
    """``done``, ``stale``, ``failed``, ``running`` or ``missing`` for a spec (by its record).

    ``running``: no record and a ``running.json`` marker in its work dir, unless the marker
    names a process of this host that is gone (then ``missing``: it was killed).

    ``stale`` (only with ``check_stale``, which builds the run's config): the record is ok but
    its ``built_config_hash`` differs from what the current code builds for the spec (a
    record without one is never stale). The run id of a spec whose defaults are not resolved
    yet is computed after resolution, so suites should name dataset/model explicitly;
    unresolved specs are resolved here.
    """
    from tasks import get_task

    task = get_task(spec.task)
    resolved = task.resolve(spec)
    run_id = resolved.run_id()
    record = records.find_record(results_dir, run_id)
    if record is not None:
        if not record.ok:
            return "failed"
        recorded = record.provenance.get("built_config_hash")
        if check_stale and recorded:
            from benchmark.engine.runner import built_config_hash

            current = built_config_hash(task, resolved)
            if current is not None and current != recorded:
                return "stale"
        return "done"
    marker = Path(results_dir) / "work" / run_id / "running.json"
    return "running" if marker.exists() and not _dead_here(marker) else "missing"


def _dead_here(marker: Path) -> bool:
    """Whether a ``running.json`` names a process of this host that no longer exists.

    A run killed outside Python (SIGKILL, a machine shut down) leaves its marker behind; on
    its own host that is seen and the run counts as missing again (it resumes from its last
    checkpoint). A marker from another host (a Slurm node) is trusted.
    """
    try:
        written = json.loads(marker.read_text())
        host, pid = written["host"], int(written["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
