"""``--cfg-options KEY=VALUE``: dotted overrides of a task's built config, checked before training.

The same dotted keys serve every framework: an OpenMMLab task's ``mmengine.Config``
(``optim_wrapper.optimizer.momentum=0.8``, list items by index as mmengine's ``DictAction``
and ``Config.merge_from_dict(allow_list_keys=True)`` take them:
``train_dataloader.dataset.pipeline.1.prob=0.25``) and torchreid's settings
(``train.lr=0.001``, the sections of ``configs/reid/*.yaml``). Values are parsed like
mmengine's ``DictAction`` (ints, floats, ``true``/``false``, ``None``, ``a,b`` and ``[a,b]``
lists, ``(a,b)`` tuples). The overrides are the spec option :data:`OPTION` (a dict sorted by
key), so they are part of the run id.

Every key must exist in the config the task builds (an unknown key is a ``ValueError`` naming
the close matches): a typo never trains silently with the default. Keys that ``hasbench`` sets
from a flag (the epochs, the seed, the work dir, ...) are refused with the flag to use.
"""

from __future__ import annotations

import copy
import difflib
import reprlib
from collections.abc import Mapping
from typing import Any

#: The spec option holding the overrides.
OPTION = "cfg_options"

#: OpenMMLab config keys ``benchmark.engine.mmrun.apply_spec`` sets from the spec -> the flag.
MM_OWNED = {
    "train_cfg.max_epochs": "--epochs",
    "randomness": "--seed",
    "work_dir": "--work-dir",
    "launcher": "the executor (hasbench suite --executor)",
    "log_level": "--log-level",
    "default_scope": "the task (it is the task's library)",
    "resume": "nothing: a run resumes from its own work dir",
    "load_from": "--pretrained",
    "visualizer": "--vis-backend",
    "default_hooks.checkpoint": "nothing: every epoch is checkpointed",
    "default_hooks.logger": "--log-level",
    **{f"{loader}.{key}": "--option num_workers=N"
       for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
       for key in ("num_workers", "persistent_workers")},
}
#: Config keys a task option sets when given (then the option wins): option -> key.
MM_OPTION_KEYS = {"batch_size": "train_dataloader.batch_size",
                  "lr": "optim_wrapper.optimizer.lr", "amp": "optim_wrapper.type"}
#: torchreid settings the re-ID task sets from the spec -> the flag.
REID_OWNED = {"train.max_epoch": "--epochs", "data.workers": "--option num_workers=N"}


def parse_pairs(pairs: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[x,y]"]`` -> ``{"a.b": 1, "c": ["x", "y"]}`` (sorted; the last key wins).

    Values are parsed by mmengine's ``DictAction`` (imported here only: the CLI stays light).

    Raises:
        ValueError: for a pair without ``=`` or with an empty key.
    """
    from mmengine.config import DictAction

    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad --cfg-options {pair!r}; use KEY=VALUE with a dotted config "
                             "key, e.g. --cfg-options optim_wrapper.optimizer.momentum=0.8")
        try:
            parsed[key.strip()] = DictAction._parse_iterable(value)
        except AssertionError as err:  # DictAction's check of balanced brackets
            raise ValueError(f"bad --cfg-options value in {pair!r}: {err}") from None
    return dict(sorted(parsed.items()))


def overrides_of(options: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's :data:`OPTION` as a dict (empty when absent).

    Raises:
        ValueError: when it is not a mapping of non-empty dotted-key strings.
    """
    given = options.get(OPTION)
    if given is None:
        return {}
    if not isinstance(given, Mapping) or not all(
            isinstance(k, str) and k.strip() for k in given):
        raise ValueError(f"option {OPTION} must map dotted config keys to values, e.g. "
                         f"{{'optim_wrapper.optimizer.momentum': 0.8}}; got {given!r}")
    return dict(given)


def mm_owned(options: Mapping[str, Any]) -> dict[str, str]:
    """:data:`MM_OWNED`, plus the keys of :data:`MM_OPTION_KEYS` whose option is given."""
    owned = dict(MM_OWNED)
    for option, key in MM_OPTION_KEYS.items():
        if option in options:
            owned[key] = f"--option {option}=... (given too; keep one of them)"
    return owned


def check_keys(cfg: Any, overrides: Mapping[str, Any], owned: Mapping[str, str],
               what: str) -> None:
    """Raise ``ValueError`` for a key hasbench sets itself or one the config does not have.

    Args:
        cfg: The built config (mapping; lists are indexed by number).
        overrides: Dotted key -> value.
        owned: Dotted key (or a prefix of keys) -> the flag that sets it.
        what: The config's name for messages, e.g. ``"the classification config"``.
    """
    cfg = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg  # an mmengine Config is no Mapping
    for key in overrides:
        for prefix, flag in owned.items():
            if key == prefix or key.startswith(prefix + "."):
                raise ValueError(f"--cfg-options {key}: hasbench sets {prefix} itself; use "
                                 f"{flag}")
        problem = _missing(cfg, key.split("."))
        if problem is not None:
            close = difflib.get_close_matches(key, list(dotted_keys(cfg)), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"--cfg-options {key}: {what} has no such key ({problem}){hint} "
                             "Only keys of the built config can be set.")


def _missing(node: Any, parts: list[str]) -> str | None:
    """Why ``parts`` is not a path in ``node`` (None: it is)."""
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the top level"
        if isinstance(node, Mapping):
            if part not in node:
                known = ", ".join(sorted(str(k) for k in node)[:12])
                return f"no {part!r} under {where}, which has: {known}"
            node = node[part]
        elif isinstance(node, tuple):
            return f"{where} is a tuple; set it whole, e.g. {where}=(a,b)"
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return f"{where} is a list of {len(node)}; index it with 0..{len(node) - 1}"
            node = node[int(part)]
        else:
            return f"{where} is a value ({reprlib.repr(node)}), not a section"
    return None


def dotted_keys(node: Any, prefix: str = ""):
    """Every dotted path of a nested mapping/list config (list items by index)."""
    items = (node.items() if isinstance(node, Mapping) else
             enumerate(node) if isinstance(node, (list, tuple)) else ())
    for key, value in items:
        path = f"{prefix}{key}"
        yield path
        yield from dotted_keys(value, path + ".")


def apply_mm(cfg: Any, options: Mapping[str, Any], what: str) -> Any:
    """``cfg`` (an ``mmengine.Config``) with the spec's overrides merged, checked first.

    Merged in place by mmengine's ``Config.merge_from_dict(..., allow_list_keys=True)``.
    """
    overrides = overrides_of(options)
    if overrides:
        check_keys(cfg, overrides, mm_owned(options), what)
        try:
            cfg.merge_from_dict(copy.deepcopy(overrides), allow_list_keys=True)
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"--cfg-options {sorted(overrides)} do not merge into {what}: "
                             f"{err}; set a field of a list item (key.N.field=value)") from None
    return cfg


def apply_plain(cfg: dict[str, Any], overrides: Mapping[str, Any], owned: Mapping[str, str],
                what: str) -> dict[str, Any]:
    """A copy of a plain nested dict config (torchreid's) with ``overrides`` set, checked first."""
    check_keys(cfg, overrides, owned, what)
    out = copy.deepcopy(cfg)
    for key, value in overrides.items():
        *path, leaf = key.split(".")
        node: Any = out
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(leaf) if isinstance(node, list) else leaf] = copy.deepcopy(value)
    return out
