"""Load local pretrained weights into our models, converting key names; nothing is downloaded.

Sources: torchvision model-zoo files (``resnet50-0676ba61.pth``, ``vgg16_bn-6c64b313.pth``, ...),
OpenMMLab checkpoints (``{"state_dict": ..., "meta": ...}``, keys with or without
``backbone.``) and torchreid checkpoints (``{"state_dict": ...}``, keys maybe ``module.``).
Rules (each applicable one is tried; the one loading the most tensors without error wins,
earlier rules win ties):

* ``prefix ''`` / ``prefix 'backbone.'``: drop a leading ``backbone.`` from each checkpoint
  key, then prepend the prefix. Covers torchvision ResNet -> mmpretrain/mmseg ``ResNet`` and
  torchreid ``resnet50``, OpenMMLab files -> the same models, torchvision AlexNet/GoogLeNet ->
  our GAP variants (torchvision names kept under ``backbone.``).
* ``vgg by conv order``: torchvision ``features.{i}`` convs (and BNs) -> mmpretrain VGG's
  ``features.{j}.conv`` (``.bn``), the n-th to the n-th; shapes must agree.

A target key is *required* unless it starts with one of ``new_prefixes`` (new heads, added
layers) or is a ``num_batches_tracked`` buffer (absent from old zoo files). mmaction2's I3D is
not handled here: mmaction2 inflates 2D ImageNet weights itself (``pretrained2d=True``).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

WEIGHTS_ENV = "HASBENCH_WEIGHTS"
_WRAPPERS = ("state_dict", "model", "net")
_MAX_LISTED = 8


def weights_dir() -> Path:
    """``$HASBENCH_WEIGHTS`` if set, else torch hub's ``checkpoints`` folder.

    Returns:
        The folder relative weight names resolve against (torch hub's default is
        ``~/.cache/torch/hub/checkpoints``; it honours ``$TORCH_HOME``).
    """
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env).expanduser()
    return Path(torch.hub.get_dir()).expanduser() / "checkpoints"


def resolve_weights(path: str | Path, expected: str | None = None) -> Path:
    """Find a weights file: absolute or ``~`` paths as given, relative ones in cwd or `weights_dir`.

    Args:
        path: File path or name.
        expected: The file name the README lists for this model, quoted in the error.

    Returns:
        The existing, readable file.

    Raises:
        ValueError: If the file is missing, not a file or unreadable; says where it looked.
    """
    given = Path(path).expanduser()
    looked = [given] if given.is_absolute() else [Path.cwd() / given, weights_dir() / given]
    found = next((p for p in looked if p.exists()), None)
    if found is None:
        want = f" (expected file: {expected})" if expected else ""
        raise ValueError(
            f"pretrained weights {str(path)!r} not found{want}; looked at: "
            + ", ".join(str(p) for p in looked)
            + f". Put the file in {weights_dir()} (or set {WEIGHTS_ENV}=<folder>), or pass "
            "--pretrained PATH with its full path. Nothing is downloaded."
        )
    if not found.is_file():
        raise ValueError(f"pretrained weights {found} is not a file")
    if not os.access(found, os.R_OK):
        raise ValueError(f"pretrained weights {found} is not readable (check its permissions)")
    return found


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _torch_load(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # mmengine training checkpoints pickle a few classes; allow-list exactly those once.
        from benchmark.engine import compat

        if not compat.allow_mmengine_checkpoint_globals():
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors (``weights_only``), unwrapped and without ``module.``.

    Args:
        path: Checkpoint file.

    Returns:
        Key -> tensor, in file order; ``state_dict``/``model``/``net`` wrappers are unwrapped
        and a leading ``module.`` (DataParallel) is stripped; non-tensor entries are dropped.

    Raises:
        ValueError: If the file cannot be loaded or holds no tensor state dict.
    """
    try:
        obj = _torch_load(Path(path))
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"cannot read checkpoint {path}: {err}") from err
    while isinstance(obj, Mapping):
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    tensors = {}
    if isinstance(obj, Mapping):
        tensors = {(k[len("module."):] if k.startswith("module.") else k): v
                   for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"checkpoint {path} holds no tensor state dict "
                         "(expected a dict of tensors, maybe under 'state_dict')")
    return tensors


@dataclass(frozen=True)
class LoadReport:
    """What a load did; counts are tensors (parameters and buffers)."""

    path: str
    sha256: str
    loaded: int
    missing: int
    unexpected: int
    missing_keys: tuple[str, ...]
    unexpected_keys: tuple[str, ...]
    rule: str

    def as_record(self) -> dict:
        """JSON-friendly summary: counts, rule and the first 5 missing/unexpected keys."""
        return {"path": self.path, "sha256": self.sha256, "loaded": self.loaded,
                "missing": self.missing, "unexpected": self.unexpected, "rule": self.rule,
                "missing_keys": list(self.missing_keys[:5]),
                "unexpected_keys": list(self.unexpected_keys[:5])}


def _strip_backbone(key: str) -> str:
    return key[len("backbone."):] if key.startswith("backbone.") else key


def _vgg_mapping(source: Mapping[str, torch.Tensor],
                 target: Mapping[str, tuple]) -> dict[str, str | None] | None:
    """Source key -> target key pairing the n-th conv (BN) of each side, or None if N/A."""
    slots: dict[str, dict[str, int]] = {"conv": {}, "bn": {}}
    for key in target:
        hit = re.fullmatch(r"(.*features)\.(\d+)\.(conv|bn)\.\w+", key)
        if hit:
            slots[hit[3]][f"{hit[1]}.{hit[2]}.{hit[3]}"] = int(hit[2])
    groups: dict[int, dict[str, str]] = {}
    for key in source:
        hit = re.fullmatch(r"(?:backbone\.)?features\.(\d+)\.(\w+)", key)
        if hit:
            groups.setdefault(int(hit[1]), {})[hit[2]] = key
    if not slots["conv"] or not groups:
        return None
    order = {kind: sorted(found, key=found.__getitem__) for kind, found in slots.items()}
    seen = {"conv": 0, "bn": 0}
    mapping: dict[str, str | None] = dict.fromkeys(source)
    for index in sorted(groups):
        params = groups[index]
        weight = source.get(params.get("weight", ""))
        kind = "conv" if weight is not None and weight.dim() == 4 else "bn"
        if seen[kind] < len(order[kind]):
            for name, key in params.items():
                mapping[key] = f"{order[kind][seen[kind]]}.{name}"
        seen[kind] += 1
    return mapping


def _evaluate(rule: str, mapping: Mapping[str, str | None], source: Mapping[str, torch.Tensor],
              target: Mapping[str, tuple], is_new) -> dict:
    loaded: dict[str, torch.Tensor] = {}
    unexpected, mismatches = [], []
    for key, name in mapping.items():
        shape = target.get(name) if name is not None else None
        if shape is None or name in loaded:
            unexpected.append(key)
        elif tuple(source[key].shape) == tuple(shape):
            loaded[name] = source[key]
        elif is_new(name):
            unexpected.append(key)
        else:
            origin = "" if name == key else f" (checkpoint key {key})"
            mismatches.append(f"{name}: checkpoint {tuple(source[key].shape)} vs model "
                              f"{tuple(shape)}{origin}")
    missing = [k for k in target if k not in loaded]
    required = [k for k in missing if not is_new(k) and not k.endswith(".num_batches_tracked")]
    return {"rule": rule, "loaded": loaded, "missing": missing, "required": required,
            "unexpected": unexpected, "mismatches": mismatches,
            "ok": bool(loaded) and not required and not mismatches}


def _mismatch_error(best: dict, tried: list[dict], source: Mapping[str, torch.Tensor],
                    model_name: str, where: str) -> ValueError:
    lines = [f"{where} does not fit {model_name} (architecture mismatch); rules tried: "
             + ", ".join(f"{t['rule']} ({len(t['loaded'])} loaded, {len(t['required'])} "
                         f"required missing, {len(t['mismatches'])} shape mismatches)"
                         for t in tried) + f". Closest rule {best['rule']}:"]
    if not best["loaded"]:
        lines.append("  no checkpoint tensor matches a model key")
    if best["required"]:
        shown = ", ".join(best["required"][:_MAX_LISTED])
        more = len(best["required"]) - _MAX_LISTED
        lines.append(f"  missing model keys ({len(best['required'])}): {shown}"
                     + (f", ... and {more} more" if more > 0 else ""))
    lines += [f"  shape mismatch {m}" for m in best["mismatches"]]
    has_bn = any(k.endswith("running_mean") for k in source)
    if not has_bn and any(".bn." in k or k.endswith("running_mean") for k in best["required"]):
        lines.append("  the model has BatchNorm layers the checkpoint lacks: use the BN "
                     "variant of the file (e.g. vgg16_bn-*.pth for a BN VGG).")
    if any(_strip_backbone(k).startswith("stem.") for k in best["required"]):
        lines.append("  the model has a deep 3-conv stem (ResNetV1c/V1d) that torchvision "
                     "ResNet files lack: use the open-mmlab resnet*_v1c file, or a plain ResNet.")
    lines.append(f"  Fix: this checkpoint does not fit {model_name}; use the file the README "
                 "lists for it.")
    return ValueError("\n".join(lines))


def match_state_dict(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Size | tuple],
                     *, new_prefixes: Sequence[str], model_name: str = "the model",
                     where: str = "the checkpoint") -> tuple[dict[str, torch.Tensor], LoadReport]:
    """Convert a checkpoint's keys to the model's by the best fitting rule.

    Args:
        source: Checkpoint key -> tensor (see `read_state_dict`).
        target: Model key -> shape (e.g. ``{k: v.shape for k, v in model.state_dict().items()}``).
        new_prefixes: Model key prefixes that may stay unloaded (new heads, added layers);
            checkpoint tensors whose shape differs there count as unexpected, not as errors.
        model_name: Model name quoted in errors.
        where: Checkpoint description quoted in errors (e.g. its path).

    Returns:
        The converted state dict (model names) and a report with empty ``path``/``sha256``.

    Raises:
        ValueError: If no rule loads every required model key with matching shapes; names the
            missing keys, every shape mismatch, the rules tried and a fix.
    """
    prefixes = tuple(new_prefixes)

    def is_new(key: str) -> bool:
        return key.startswith(prefixes)

    rules = {f"prefix {p!r}": {k: p + _strip_backbone(k) for k in source}
             for p in ("", "backbone.")}
    vgg = _vgg_mapping(source, target)
    if vgg is not None:
        rules["vgg by conv order"] = vgg
    tried = [_evaluate(rule, mapping, source, target, is_new) for rule, mapping in rules.items()]
    fits = [t for t in tried if t["ok"]]
    if not fits:  # report the rule that paired the most names, shapes aside
        closest = max(tried, key=lambda t: len(t["loaded"]) + len(t["mismatches"]))
        raise _mismatch_error(closest, tried, source, model_name, where)
    best = max(fits, key=lambda t: len(t["loaded"]))  # max keeps the first of ties
    return best["loaded"], LoadReport(
        path="", sha256="", loaded=len(best["loaded"]), missing=len(best["missing"]),
        unexpected=len(best["unexpected"]), missing_keys=tuple(best["missing"]),
        unexpected_keys=tuple(best["unexpected"]), rule=best["rule"])


def _check(shapes: Mapping[str, torch.Size | tuple], path: str | Path, new_prefixes: Sequence[str],
           model_name: str) -> tuple[dict[str, torch.Tensor], LoadReport]:
    file = resolve_weights(path)
    converted, report = match_state_dict(read_state_dict(file), shapes, new_prefixes=new_prefixes,
                                         model_name=model_name, where=f"checkpoint {file}")
    return converted, replace(report, path=str(file), sha256=file_sha256(file))


def check_pretrained(model_state_shapes: Mapping[str, torch.Size | tuple], path: str | Path, *,
                     new_prefixes: Sequence[str], model_name: str = "the model") -> LoadReport:
    """Resolve, read and match a checkpoint against model shapes without loading it.

    Raises:
        ValueError: As `resolve_weights`, `read_state_dict` and `match_state_dict`.
    """
    return _check(model_state_shapes, path, new_prefixes, model_name)[1]


def load_pretrained(model: torch.nn.Module, path: str | Path, *,
                    new_prefixes: Sequence[str]) -> LoadReport:
    """Load a local checkpoint into ``model`` (converted keys, ``strict=False``).

    Raises:
        ValueError: As `check_pretrained`; the model is left untouched then.
    """
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    converted, report = _check(shapes, path, new_prefixes, type(model).__name__)
    model.load_state_dict(converted, strict=False)
    return report
