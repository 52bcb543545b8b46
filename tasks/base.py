"""The small interface every task implements (one package per task in ``tasks/``).

:class:`Task` is what every task is; :class:`MMTask` adds what the OpenMMLab adapters share
(the config table and its check, the data-root wiring, the method overlay, the training call
and the metric renames).
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.conv_hiding import CONV_OPTIONS
from benchmark.engine.paths import REPO_ROOT, data_dir
from benchmark.engine.spec import EXECUTION_OPTIONS, PRETRAINED_OPTION, RunSpec, TaskOutput
from benchmark.user_methods import USER_OPTIONS, fits_task, needs_overlay, with_method_file_digest


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset a task knows.

    Attributes:
        name: Dataset name used on the command line, e.g. ``"cifar10"``.
        layout: One-line description of the on-disk layout the loader reads.
        default_root: Folder name under :func:`benchmark.engine.paths.data_dir` used when the user
            passes no ``--data-root`` (``None``: the user must pass one).
        check_layout: ``check_layout(root)`` raises ``ValueError`` naming what is missing
            and how to fix it; returns nothing when the layout is usable.
        synth: ``synth(out_dir, seed)`` writes a generated dataset in this layout
            (``None`` when the task cannot generate it).
        prepare: How to obtain the real dataset (command or URL text shown in errors).
        default_model: Model used when the spec names none.
        default_epochs: Epochs used when the spec names none.
        train_size: Samples (images, clips, feature sequences) in the training split of the
            real dataset, as one epoch of a run reads them (``None``: unknown or depending on
            the copy, e.g. image folders); ``hasbench suite --dry-run`` multiplies it by the
            epochs and divides by the measured throughput (``benchmark.engine.gpu_hours``).
    """

    name: str
    layout: str
    check_layout: Callable[[Path], None]
    default_root: str | None = None
    synth: Callable[[Path, int], None] | None = None
    prepare: str = ""
    default_model: str | None = None
    default_epochs: int = 1
    train_size: int | None = None


#: The methods every image task runs (the paper's HaS grids, and random erasing beside them).
IMAGE_METHODS: tuple[str, ...] = ("baseline", "random_erasing", "has", "has-16", "has-32",
                                  "has-44", "has-56", "has+random_erasing")
#: The paper's dropout baselines (``benchmark.methods.DROPOUT_NOTE``), for the OpenMMLab
#: image tasks: ``dropout-traintest`` hides the evaluation images too.
DROPOUT_METHODS: tuple[str, ...] = ("dropout-train", "dropout-traintest")


@dataclass
class Task(ABC):
    """A benchmark task: the datasets it knows, the metrics it reports, and how to run one spec.

    Subclasses set the class attributes and implement :meth:`run`. They build the framework's
    own config/objects, insert the method via :mod:`benchmark.methods`, train and evaluate, and
    return a :class:`~benchmark.engine.spec.TaskOutput`; they never write result records.
    """

    name: str = ""
    framework: str = ""
    #: metric name -> higher_is_better
    metrics: dict[str, bool] = field(default_factory=dict)
    datasets: dict[str, DatasetInfo] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("baseline", "random_erasing", "has")
    #: method -> why it cannot apply to this task (``hasbench run`` exits 2 with it).
    refused_methods: dict[str, str] = field(default_factory=dict)
    #: model -> the weights file its published protocol starts from (``--pretrained``): named
    #: in the missing-file error and listed in the README.
    pretrained_files: dict[str, str] = field(default_factory=dict)
    #: State-dict key prefixes a pretrained checkpoint leaves to random init (new heads,
    #: layers the model adds); every other key must load.
    new_layer_prefixes: tuple[str, ...] = ()

    # ----------------------------------------------------------------- resolution
    def default_dataset(self) -> str:
        """The dataset used when a spec names none (the first one declared)."""
        return next(iter(self.datasets))

    def resolve(self, spec: RunSpec) -> RunSpec:
        """Fill in the spec's defaults (dataset, data root, model, epochs) for this task."""
        dataset = spec.dataset or self.default_dataset()
        info = self.dataset_info(dataset)
        root = spec.data_root
        if root is None and info.default_root is not None:
            root = str(data_dir() / info.default_root)
        return RunSpec(
            task=spec.task,
            method=spec.method,
            dataset=dataset,
            data_root=root,
            model=spec.model or info.default_model or (self.models[0] if self.models else None),
            seed=spec.seed,
            epochs=spec.epochs if spec.epochs is not None else info.default_epochs,
            device=spec.device,
            options=with_method_file_digest(_with_weights_digest(spec.options)),
            synthetic=spec.synthetic,
        )

    def dataset_info(self, dataset: str) -> DatasetInfo:
        """Look up a dataset by name.

        Raises:
            ValueError: naming the known datasets when ``dataset`` is not one of them.
        """
        if dataset not in self.datasets:
            known = ", ".join(sorted(self.datasets))
            raise ValueError(
                f"unknown dataset {dataset!r} for task {self.name!r}; known: {known} "
                f"(see `hasbench list`)"
            )
        return self.datasets[dataset]

    # ----------------------------------------------------------------- validation
    def check_method(self, spec: RunSpec) -> None:
        """Raise ``ValueError`` if the method cannot apply to this task or is not one of its own.

        Checked before any data is generated (``runner.prepare``), and again by :meth:`check`.
        """
        if spec.method in self.refused_methods:
            raise ValueError(f"method {spec.method!r} cannot apply to task {self.name!r}: "
                             f"{self.refused_methods[spec.method]}")
        if spec.method not in self.methods and not fits_task(spec, self):
            raise ValueError(
                f"method {spec.method!r} is not available for task {self.name!r}; "
                f"available: {', '.join(self.methods)}"
            )

    def check(self, spec: RunSpec) -> None:
        """Validate a resolved spec before anything is trained.

        Raises:
            ValueError: with a message naming the problem and the fix (unknown model or method,
                missing data root, wrong layout).
        """
        info = self.dataset_info(spec.dataset)
        if self.models and spec.model not in self.models:
            raise ValueError(
                f"unknown model {spec.model!r} for task {self.name!r}; known: "
                f"{', '.join(self.models)}"
            )
        self.check_method(spec)
        if spec.data_root is None:
            raise ValueError(
                f"dataset {spec.dataset!r} needs --data-root (layout: {info.layout}). "
                f"{info.prepare}".strip()
            )
        root = Path(spec.data_root)
        if not root.is_dir():
            hint = (
                f" Generate one with `hasbench synth {spec.dataset} --out {root}`."
                if info.synth
                else ""
            )
            raise ValueError(
                f"data root {root} for dataset {spec.dataset!r} does not exist "
                f"(expected layout: {info.layout}).{hint} {info.prepare}".strip()
            )
        info.check_layout(root)
        if PRETRAINED_OPTION in spec.option_dict:
            self.check_pretrained(spec)

    def check_options(self, spec: RunSpec) -> None:
        """Reject unknown option keys before anything is generated or built (none here)."""
        return None

    def config_fingerprint(self, spec: RunSpec) -> str | None:
        """A hash of what the current code builds for a resolved spec (``build_config``).

        The data root and the checkout's location are masked out (neither is part of the run
        id). None for a task
        without ``build_config``.
        """
        import hashlib
        import json

        build = getattr(self, "build_config", None)
        if build is None:
            return None
        built = build(spec)
        cfg, params = built if isinstance(built, tuple) else (built, None)
        plain = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
        text = json.dumps({"config": plain, "method_params": params}, sort_keys=True,
                          default=str)
        if spec.data_root:
            text = text.replace(str(spec.data_root), "<data_root>")
        text = text.replace(str(REPO_ROOT), "<repo>")  # a moved checkout builds the same
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    # ----------------------------------------------------------------- pretrained weights
    def weights_file(self, spec: RunSpec) -> Path:
        """The spec's ``pretrained`` file; ValueError naming it and the file the model expects."""
        from benchmark.engine.pretrained import resolve_weights

        return resolve_weights(spec.option_dict[PRETRAINED_OPTION],
                               self.pretrained_files.get(spec.model or ""))

    def check_pretrained(self, spec: RunSpec) -> Any:
        """Check that the spec's weights fit its model, before training; return the load report.

        Raises:
            ValueError: naming the missing file, or the keys and shapes that do not fit; here,
                that the task takes no pretrained weights.
        """
        raise ValueError(f"task {self.name!r} does not start from pretrained weights; drop "
                         "--pretrained (option 'pretrained')")

    def check_resume(self, spec: RunSpec, work_dir: Path) -> None:
        """Raise ``ValueError`` when a rerun cannot resume from ``work_dir`` (none here).

        Called by the runner before anything is trained, so a work dir left unusable (e.g. a
        finished stage whose outputs were deleted) is bad input (exit 2), not a failed run.
        """
        return None

    # ----------------------------------------------------------------- the run
    @abstractmethod
    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train and evaluate one resolved, checked spec; return its metrics.

        Args:
            spec: A spec returned by :meth:`resolve` that passed :meth:`check`.
            work_dir: An empty folder owned by this run (checkpoints, logs, figures).
        """


#: Run options every OpenMMLab task takes: ``benchmark.engine.mmrun.apply_spec``'s, the
#: method's HaS arguments, the pretrained weights, ``--cfg-options`` and ``--method-file``
#: (``benchmark.user_methods.USER_OPTIONS``).
MM_OPTIONS = EXECUTION_OPTIONS | USER_OPTIONS | frozenset({"batch_size", "lr", "amp",
                        PRETRAINED_OPTION, f"{PRETRAINED_OPTION}_sha256",
                        "has_grid_sizes_px", "has_hide_prob", "has_placement", "has_fill",
                        "has_grid_policy"}) | frozenset(CONV_OPTIONS)  # has-conv's

#: How deep this thread is in ``build_config`` calls (a subclass may call its parent's).
_BUILDING = threading.local()


def _with_user_overlay(build: Callable[..., Any]) -> Callable[..., Any]:
    """``build`` (a task's ``build_config``) followed by :meth:`MMTask.user_overlay`.

    Only the outermost call applies it, so a ``build_config`` calling its parent's inserts the
    user method once.
    """

    @functools.wraps(build)
    def build_config(self: MMTask, spec: RunSpec, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(_BUILDING, "depth", 0)
        _BUILDING.depth = depth + 1
        try:
            built = build(self, spec, *args, **kwargs)
        finally:
            _BUILDING.depth = depth
        return built if depth or not needs_overlay(spec) else self.user_overlay(built, spec)

    return build_config

#: The loaders of an OpenMMLab config, in the order they are set up.
MM_LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


@dataclass
class MMTask(Task):
    """A task trained by mmengine's Runner from a config file that inherits the upstream one.

    Subclasses set :attr:`scope`, :attr:`configs` (files in :attr:`config_dir`) and
    :attr:`metric_names` and implement :meth:`build_config`; the default :meth:`run` trains
    that config and returns the renamed test metrics (override :meth:`test_split` and
    :meth:`extra` for what the record adds, or :meth:`run` itself for more).

    Every subclass's :meth:`build_config` is wrapped (``__init_subclass__``) so that the config
    it returns, wherever it is built (run, check, fingerprint, pretrained check, explain),
    carries the spec's user method and ``--cfg-options`` (:meth:`user_overlay`).
    """

    #: Registry scope of the library: ``"mmpretrain"``, ``"mmseg"`` or ``"mmaction"``.
    scope: str = ""
    #: (model, :meth:`config_key`) -> config file in :attr:`config_dir`.
    configs: dict[tuple[str, str | None], str] = field(default_factory=dict)
    #: The library's metric key -> the results table's name (keys not listed stay).
    metric_names: dict[str, str] = field(default_factory=dict)
    #: Modules that register the task's own models, datasets and metrics.
    registers: tuple[str, ...] = ()
    #: The task's own run options beside :data:`MM_OPTIONS` (None: the task checks them).
    task_options: frozenset[str] | None = frozenset()
    new_layer_prefixes: tuple[str, ...] = ("head.", "decode_head.", "auxiliary_head.",
                                           "cls_head.", "backbone.extra.")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap the subclass's own ``build_config`` with :meth:`user_overlay`."""
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build_config")
        if build is not None and not getattr(build, "__isabstractmethod__", False):
            cls.build_config = _with_user_overlay(build)

    # ----------------------------------------------------------------- config table
    @property
    def config_dir(self) -> Path:
        """``configs/<task name>/``, the folder of the task's config files."""
        return REPO_ROOT / "configs" / self.name

    def config_key(self, spec: RunSpec) -> str | None:
        """The dataset side of a spec's :attr:`configs` key.

        The dataset name by default; ``None`` where the table holds one config per model
        (every key's dataset side is ``None``: the dataset is set in the config's dataset).
        """
        return None if all(key is None for _, key in self.configs) else spec.dataset

    def config_file(self, spec: RunSpec) -> Path:
        """The config file of a resolved spec.

        Raises:
            ValueError: naming the models that have a config for the spec's dataset.
        """
        key = self.config_key(spec)
        if (spec.model, key) not in self.configs:
            usable = sorted(m for m, k in self.configs if k == key)
            raise ValueError(f"model {spec.model!r} has no config for dataset "
                             f"{spec.dataset!r}; use one of {usable}")
        return self.config_dir / self.configs[(spec.model, key)]

    def check_options(self, spec: RunSpec) -> None:
        """Reject option keys neither :data:`MM_OPTIONS` nor :attr:`task_options` holds."""
        if self.task_options is None:
            return
        unknown = sorted(set(spec.option_dict) - MM_OPTIONS - self.task_options)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for task {self.name!r}; valid: "
                             f"{', '.join(sorted(MM_OPTIONS | self.task_options))}")

    def load_config(self, spec: RunSpec) -> Any:
        """The spec's config file as an ``mmengine.Config`` (nothing of the spec applied)."""
        from mmengine import Config

        return Config.fromfile(str(self.config_file(spec)))

    def check(self, spec: RunSpec) -> None:
        """Also reject unknown options and model/dataset pairs without a config."""
        self.dataset_info(spec.dataset)
        self.check_options(spec)
        if spec.model in self.models:
            self.config_file(spec)
        super().check(spec)
        if needs_overlay(spec):  # the user method's stages build, the cfg_options keys exist
            self.build_config(spec)
        self.check_conv_layer(spec)

    def check_conv_layer(self, spec: RunSpec) -> None:
        """For ``has-conv``: the layer it hides is in the built model (ValueError otherwise)."""
        from benchmark.methods import method_for

        method = method_for(spec.method, spec.option_dict)
        if method.hides_features:
            from benchmark.pipelines.conv_hiding import resolve_layer

            resolve_layer(self.build_model(spec), method.feature_layer)

    # ----------------------------------------------------------------- the config
    @abstractmethod
    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The config :meth:`run` trains for a resolved, checked spec (nothing is trained).

        Returns:
            (``mmengine.Config`` pointed at the data with the method inserted, the method
            parameters to record).
        """

    def user_overlay(self, built: tuple[Any, dict[str, Any]], spec: RunSpec
                     ) -> tuple[Any, dict[str, Any]]:
        """The built (config, method params) with the spec's user method and ``cfg_options``.

        See :func:`benchmark.user_methods.overlay_mm_config`.
        """
        from benchmark.user_methods import overlay_mm_config

        return overlay_mm_config(built, spec, framework=self.framework, scope=self.scope,
                                 task_name=self.name)

    def apply_method(self, cfg: Any, spec: RunSpec, image_hw: tuple[int, int],
                     fill_mean: list[float] | None = None) -> tuple[Any, dict[str, Any]]:
        """The config with the spec's method (HaS options applied) in its training pipeline.

        ``fill_mean``: the training set's mean pixel (pipeline order) where the normalizer
        uses another dataset's mean (see ``benchmark.methods.mm_method_stages``).
        """
        from benchmark.methods import apply_method_to_mm_config, method_for

        return apply_method_to_mm_config(cfg, method_for(spec.method, spec.option_dict),
                                         scope=self.scope, image_hw=image_hw,
                                         fill_mean=fill_mean, dataset=spec.dataset)

    # ----------------------------------------------------------------- pretrained weights
    def build_model(self, spec: RunSpec) -> Any:
        """The spec's model as its config builds it, on the CPU, untrained."""
        import importlib

        from mmengine.registry import MODELS, init_default_scope

        from benchmark.engine import compat

        compat.apply()
        for module in ("benchmark.pipelines", *self.registers):
            importlib.import_module(module)
        cfg, _ = self.build_config(spec)
        init_default_scope(self.scope)
        return MODELS.build(cfg.model)

    def check_pretrained(self, spec: RunSpec) -> Any:
        """Match the weights file against the model's state dict (names and shapes)."""
        from benchmark.engine.pretrained import check_pretrained

        path = self.weights_file(spec)
        shapes = {k: v.shape for k, v in self.build_model(spec).state_dict().items()}
        return check_pretrained(shapes, path, new_prefixes=self.new_layer_prefixes)

    def weights_to_load(self, spec: RunSpec) -> str | None:
        """The weights file the run loads before training (None: none, or the config does)."""
        return spec.option_dict.get(PRETRAINED_OPTION)

    # ----------------------------------------------------------------- the run
    def renamed(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with the library's metric keys renamed by :attr:`metric_names`."""
        return {self.metric_names.get(k, k): v for k, v in values.items()}

    def reported(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """The renamed metrics this task declares (:attr:`metrics`), in the library's order."""
        return {k: v for k, v in metrics.items() if k in self.metrics}

    def train_and_test(self, cfg: Any, spec: RunSpec, work_dir: Path) -> Any:
        """Train and test ``cfg`` (:func:`benchmark.engine.mmrun.run_mm`), metrics renamed.

        Returns:
            An :class:`~benchmark.engine.mmrun.MMRunResult` whose test metrics and history
            rows carry :meth:`renamed` keys.
        """
        from benchmark.engine.mmrun import MMRunResult, run_mm

        result = run_mm(cfg, spec, Path(work_dir), scope=self.scope,
                        pretrained=self.weights_to_load(spec),
                        new_layer_prefixes=self.new_layer_prefixes)
        return MMRunResult(metrics=self.renamed(result.metrics),
                           history=[self.renamed(row) for row in result.history],
                           runner=result.runner)

    def test_split(self, spec: RunSpec) -> str:
        """The split the test metrics are computed on (recorded with them)."""
        return "test"

    def extra(self, spec: RunSpec, cfg: Any, result: Any) -> dict[str, Any]:
        """Facts about a finished run for the record's ``extra`` (none by default)."""
        return {}

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train, validate each epoch, test :meth:`build_config`'s config."""
        cfg, params = self.build_config(spec)
        result = self.train_and_test(cfg, spec, work_dir)
        return TaskOutput(
            metrics=self.reported(result.metrics), dataset=spec.dataset_label, model=spec.model,
            method_params=params, history=result.history, split=self.test_split(spec),
            extra=self.extra(spec, cfg, result),
        )


#: Files hashed in this process: (path, size, mtime_ns) -> sha256.
_DIGESTS: dict[tuple[str, int, int], str] = {}


def _with_weights_digest(options: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    """``options`` with a present ``pretrained`` file made absolute and its sha256 added.

    A missing file is left as given (:meth:`Task.check` names it), so a dry run can list it.
    """
    given = dict(options)
    if PRETRAINED_OPTION not in given:
        return options
    from benchmark.engine.pretrained import file_sha256, resolve_weights

    try:
        path = resolve_weights(given[PRETRAINED_OPTION])
    except ValueError:
        return options
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_sha256(path)
    given.update({PRETRAINED_OPTION: str(path), f"{PRETRAINED_OPTION}_sha256": _DIGESTS[key]})
    return tuple(sorted(given.items()))


def loader_datasets(cfg: Any, data_root: str | None = None) -> list[tuple[str, Any]]:
    """(loader name, dataset config) of each of :data:`MM_LOADERS` of an OpenMMLab config.

    With ``data_root``, each of those datasets is first pointed at it (``data_root`` key);
    what else a task sets per loader it sets on the pairs returned.
    """
    pairs = [(loader, cfg[loader]["dataset"]) for loader in MM_LOADERS]
    if data_root is not None:
        for _, dataset in pairs:
            dataset["data_root"] = data_root
    return pairs


def set_num_classes(cfg: Any, count: int) -> None:
    """Set an mmpretrain classifier's class count (its head and its data preprocessor)."""
    cfg.model.head.num_classes = count
    cfg.data_preprocessor.num_classes = count


def require_paths(root: Path, relative: list[str], dataset: str, hint: str = "") -> None:
    """Raise ``ValueError`` listing every path of ``relative`` missing under ``root``.

    Args:
        root: Dataset root.
        relative: Paths (files or folders) that the layout requires.
        dataset: Dataset name, for the message.
        hint: How to fix it (prepare script, synth command).
    """
    missing = [p for p in relative if not (root / p).exists()]
    if missing:
        raise ValueError(
            f"{dataset} layout under {root} is missing: {', '.join(missing)}. {hint}".strip()
        )


#: File signatures of the image formats the loaders read.
_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF8", b"RIFF")
#: Up to this many files every image is fully decoded; beyond, only headers are checked.
FULL_DECODE_LIMIT = 20000


def check_image_files(paths: list[Path], dataset: str) -> None:
    """Raise ``ValueError`` naming the first unreadable image, before any training.

    Every file's header is checked (empty files and unknown signatures are caught); with at
    most :data:`FULL_DECODE_LIMIT` files each one is also decoded with OpenCV.

    Args:
        paths: Image files of the dataset.
        dataset: Dataset name, for the message.
    """
    decode = len(paths) <= FULL_DECODE_LIMIT
    if decode:
        import cv2
    for path in paths:
        with open(path, "rb") as f:
            head = f.read(8)
        bad = not head.startswith(_IMAGE_SIGNATURES)
        if not bad and decode:
            bad = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is None
        if bad:
            raise ValueError(
                f"{dataset}: image file {path} is corrupt or not an image; "
                "replace it or delete it from the dataset"
            )
