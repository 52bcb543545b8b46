"""Which runs form one comparison cell: runs that differ in their seed only.

A run is defined (see :meth:`benchmark.engine.spec.RunSpec.run_id`) by its task, dataset,
model, method, seed, epochs and options (less :data:`~benchmark.engine.spec.EXECUTION_OPTIONS`;
local pretrained weights by their sha256). The reporting splits what is not the seed in two:

- the **setting**: epochs and the options that are not a method's (``batch_size``,
  ``pretrained``, ...). Every method of a comparison row shares it, so it is part of the row:
  runs of one (task, dataset, model) under two settings give two rows, each with its own
  baseline. The row's ``setting`` label names what differs between the settings of the
  (task, dataset, model), e.g. ``epochs=10``; it is empty when there is only one setting.
- the **variant**: the method's own options (:data:`METHOD_OPTIONS`: HaS's and has-conv's) and the
  method parameters as applied (``method_params`` of the record). Two variants of one method
  in one row are two columns, labelled by what differs, e.g. ``has (has_hide_prob=0.25)``;
  a method with a single variant keeps its plain name.

A failed run has no ``method_params`` in its record; it joins the variant of the ok runs with
the same method options when they agree on one, so a failed seed is never a variant.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.conv_hiding import CONV_OPTIONS
from benchmark.engine.spec import EXECUTION_OPTIONS, PRETRAINED_OPTION
from benchmark.methods import HAS_OPTIONS

#: The options that belong to a method (its variant), not to the row's setting.
METHOD_OPTIONS = frozenset(HAS_OPTIONS) | frozenset(CONV_OPTIONS)

#: Columns :func:`assign` adds to the tidy table.
GROUP_COLUMNS = ("setting", "variant", "setting_key", "variant_key")
#: Shown for a setting a run does not give (the task's default applies).
DEFAULT = "default"
#: Characters of a weights digest shown in a label.
DIGEST_CHARS = 12


def _stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _loads(text: Any) -> dict[str, Any]:
    """A JSON object column value as a dict (empty for a missing value)."""
    if not isinstance(text, str) or not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _epochs(value: Any) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def run_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The run-defining options: execution options dropped, weights named by their sha256.

    Args:
        options: A run's options as recorded (``provenance["options"]``).

    Returns:
        The options the run id holds, as the run id sees them (``pretrained`` becomes
        ``sha256:<digest>`` when the digest is known, else the file's name).
    """
    digest_key = f"{PRETRAINED_OPTION}_sha256"
    out = {k: v for k, v in options.items() if k not in EXECUTION_OPTIONS and k != digest_key}
    if PRETRAINED_OPTION in out:
        digest = options.get(digest_key)
        out[PRETRAINED_OPTION] = (f"sha256:{digest}" if digest
                                  else Path(str(out[PRETRAINED_OPTION])).name)
    return out


def split_definition(
    epochs: int | None, options: Mapping[str, Any], method_params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run's (setting, variant): what every method of a row shares, and the method's own.

    Args:
        epochs: Training epochs (``None``: unknown, the task's default).
        options: The run's options as recorded.
        method_params: The method's parameters as applied.

    Returns:
        ``({"epochs": ..., "options": {...}}, {"options": {...}, "params": {...}})``.
    """
    kept = run_options(options)
    method = {k: kept.pop(k) for k in sorted(kept) if k in METHOD_OPTIONS}
    return ({"epochs": epochs, "options": dict(sorted(kept.items()))},
            {"options": method, "params": dict(method_params)})


# ----------------------------------------------------------------------------- labels
def format_value(value: Any) -> str:
    """A setting's value in a label: plain text, compact JSON, short digests."""
    if value is None:
        return DEFAULT
    if isinstance(value, str):
        if value.startswith("sha256:"):
            return value[: len("sha256:") + DIGEST_CHARS]
        return value
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _differing(items: list[dict[str, Any]]) -> list[str]:
    """Keys whose value is not the same in every item (a missing key counts as a value)."""
    keys = sorted({k for item in items for k in item}, key=lambda k: (k != "epochs", k))
    return [k for k in keys if len({format_value(item.get(k)) for item in items}) > 1]


def _items(item: dict[str, Any], keys: Iterable[str]) -> str:
    return ", ".join(f"{k}={format_value(item.get(k))}" for k in keys)


def setting_labels(settings: Iterable[str]) -> dict[str, str]:
    """Label of each distinct setting key (JSON) by what differs; ``""`` when only one."""
    keys = list(dict.fromkeys(settings))
    flat = [{"epochs": s.get("epochs"), **s.get("options", {})}
            for s in (json.loads(k) for k in keys)]
    differing = _differing(flat) if len(keys) > 1 else []
    return {k: _items(f, differing) for k, f in zip(keys, flat, strict=True)}


def variant_labels(method: str, variants: Iterable[str]) -> dict[str, str]:
    """Label of each distinct variant key (JSON) of ``method``.

    The method's name, plus what differs when it has several variants: the method options
    that differ, or, when none does, the applied parameters that differ.
    """
    keys = list(dict.fromkeys(variants))
    if len(keys) < 2:
        return dict.fromkeys(keys, method)
    parsed = [json.loads(k) for k in keys]
    for part in ("options", "params"):
        differing = _differing([p.get(part, {}) for p in parsed])
        if differing:
            return {k: f"{method} ({_items(p.get(part, {}), differing)})"
                    for k, p in zip(keys, parsed, strict=True)}
    return {k: f"{method} (variant {i + 1})" for i, k in enumerate(keys)}


def natural_key(text: str) -> tuple:
    """Sort key that orders numbers by value (``epochs=2`` before ``epochs=10``)."""
    parts = re.split(r"(\d+(?:\.\d+)?)", text)
    return tuple(float(p) if i % 2 else p for i, p in enumerate(parts))


# ----------------------------------------------------------------------------- assignment
def run_frame(table: pd.DataFrame) -> pd.DataFrame:
    """One row per run of the tidy table with its ``setting_key`` and ``variant_key`` (JSON).

    Columns: ``run_id``, ``task``, ``dataset``, ``model``, ``method``, ``status``,
    ``setting_key``, ``variant_key``.
    """
    columns = ["run_id", "task", "dataset", "model", "method", "status"]
    runs = table.drop_duplicates("run_id")
    out = runs[columns].reset_index(drop=True)
    options = runs["options"] if "options" in runs.columns else [None] * len(runs)
    keys = [split_definition(_epochs(e), _loads(o), _loads(p)) for e, o, p in
            zip(runs["epochs"], options, runs["method_params"], strict=True)]
    out["setting_key"] = [_stable_json(s) for s, _ in keys]
    out["variant_key"] = [_stable_json(v) for _, v in keys]
    return _fill_failed_params(out)


def _fill_failed_params(runs: pd.DataFrame) -> pd.DataFrame:
    """Give a failed run without parameters the variant of its ok peers, when they agree."""
    group = ["task", "dataset", "model", "setting_key", "method"]
    options = [_stable_json(json.loads(v)["options"]) for v in runs["variant_key"]]
    params = [json.loads(v)["params"] for v in runs["variant_key"]]
    runs = runs.assign(_options=options)
    for _, peers in runs.groupby([*group, "_options"], sort=False):
        ok = peers.loc[peers["status"] == "ok", "variant_key"].unique()
        if len(ok) != 1:
            continue
        for i in peers.index:
            if runs.at[i, "status"] != "ok" and not params[i]:
                runs.at[i, "variant_key"] = ok[0]
    return runs.drop(columns="_options")


def _labels(runs: pd.DataFrame) -> pd.DataFrame:
    runs = runs.copy()
    runs["setting"] = ""
    runs["variant"] = runs["method"].astype(str)
    for _, group in runs.groupby(["task", "dataset", "model"], sort=False):
        labels = setting_labels(group["setting_key"])
        runs.loc[group.index, "setting"] = group["setting_key"].map(labels)
    for (*_, method), group in runs.groupby(["task", "dataset", "model", "setting_key",
                                             "method"], sort=False):
        labels = variant_labels(str(method), group["variant_key"])
        runs.loc[group.index, "variant"] = group["variant_key"].map(labels)
    return runs


def assign(table: pd.DataFrame) -> pd.DataFrame:
    """The tidy table with :data:`GROUP_COLUMNS` added.

    ``setting`` and ``variant`` are the labels, ``setting_key`` and ``variant_key`` their
    JSON keys; rows and their order are unchanged.
    """
    if table.empty:
        return table.assign(**{c: pd.Series(dtype=object) for c in GROUP_COLUMNS})
    runs = _labels(run_frame(table)).set_index("run_id")[list(GROUP_COLUMNS)]
    out = table.drop(columns=[c for c in GROUP_COLUMNS if c in table.columns])
    return out.join(runs, on="run_id")


def definition(setting_key: str, variant_key: str) -> dict[str, Any]:
    """The run-defining settings (all but the seed) of a cell, from its two keys."""
    setting, variant = json.loads(setting_key), json.loads(variant_key)
    return {"epochs": setting.get("epochs"), "options": setting.get("options", {}),
            "method_options": variant.get("options", {}),
            "method_params": variant.get("params", {})}
