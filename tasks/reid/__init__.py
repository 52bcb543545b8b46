"""Person re-identification on torchreid: Market-1501 and DukeMTMC-reID.

Data go through torchreid's own dataset classes (``Market1501``, ``DukeMTMCreID``) and its
``ImageDataManager``, subclassed only to refuse downloads: a missing folder is a
``ValueError`` naming the expected layout. Models are torchreid's (``resnet50``, the small
``osnet_x0_25`` for CPU), from random init; training is torchreid's ``ImageSoftmaxEngine``
(cross-entropy with label smoothing). Settings live in ``configs/reid/*.yaml`` under
torchreid's default-config keys; RunSpec options ``"section.key"`` override them, and so do
``--cfg-options section.key=value`` (option ``cfg_options``, checked like mmengine keys). A user
method (``benchmark.user_methods``) inserts its ``torchreid`` stages into the training transform.

Methods act on the training transform only: ``baseline`` = torchreid's ``random_flip`` +
``random_crop``; ``random_erasing`` adds torchreid's own ``random_erase`` (after
``Normalize``, filled with ``norm_mean`` in normalized units, as torchreid and the original
Random Erasing re-ID code do); ``has`` inserts our stage right after ``Normalize``
(:func:`benchmark.pipelines.torchreid.add_hide_and_seek`, hidden pixels 0 = the mean pixel);
``has+random_erasing`` does both (HaS first). ``cutout`` / ``gridmask`` put our counterparts
(torchreid ships neither: :mod:`tasks.reid.erasing`) after ``Normalize``,
filling 0; ``cutmix`` is refused (``hasbench run`` exits 2 saying why). Grid sizes are the
paper's absolute pixels on the 256x128 crop (not rescaled); smaller inputs get proportionally
smaller cells (``has.grid_reference_short_side_px``, default 128 = the crop's short side).

Training and evaluation are in :mod:`tasks.reid.train` (torchreid's engine): rank-1/5/10
and mAP by ``torchreid.metrics.evaluate_rank`` on features the engine extracts itself (no
hiding at test time; Market-1501 protocol, ``-1`` junk never loaded, ``0000`` distractors
count as wrong matches). An interrupted run resumes from torchreid's own checkpoint in
``<work_dir>/checkpoints/model/``.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.cfg_options import REID_OWNED, apply_plain, overrides_of
from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import EXECUTION_OPTIONS, PRETRAINED_OPTION, RunSpec, TaskOutput
from benchmark.erasing.family import PIPELINE_FAMILY
from benchmark.methods import HAS_OPTIONS, method_for, method_grid_sizes
from benchmark.user_methods import USER_OPTIONS, UserMethod, add_torchreid_stages, torchreid_stages
from tasks.base import IMAGE_METHODS, DatasetInfo, Task
from tasks.reid.data import LAYOUTS, register_offline_datasets
from tasks.reid.train import import_torchreid, run_torchreid, set_random_seed

CONFIG_DIR = REPO_ROOT / "configs" / "reid"
#: Images in bounding_box_train: Market-1501 (Zheng et al., ICCV 2015), DukeMTMC-reID (Zheng
#: et al., ICCV 2017).
TRAIN_IMAGES = {"market1501": 12_936, "dukemtmc-reid": 16_522}
#: model -> config file in CONFIG_DIR.
MODEL_CONFIGS = {
    "resnet50": "resnet50_softmax_256x128.yaml",
    "osnet_x0_25": "osnet_x0_25_softmax_256x128.yaml",
}


def _synth(dataset: str):
    def synth(out_dir: Path, seed: int) -> None:
        from tasks.reid import synth as synth_reid

        writer = {"market1501": synth_reid.write_market1501,
                  "dukemtmc-reid": synth_reid.write_dukemtmc_reid}[dataset]
        writer(Path(out_dir), seed)

    return synth


# ----------------------------------------------------------------------------- settings
def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: Path) -> dict[str, Any]:
    """Read a YAML config, resolving its ``_base_`` (relative path) recursively."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    base = data.pop("_base_", None)
    return _merge(load_config(Path(path).parent / base), data) if base else data


def apply_options(cfg: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Return ``cfg`` with ``{"section.key": value}`` overrides applied.

    Raises:
        ValueError: naming an option whose key is not in the config.
    """
    out = copy.deepcopy(cfg)
    for dotted, value in options.items():
        *path, leaf = dotted.split(".")
        node = out
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if not path or not isinstance(node, dict) or leaf not in node:
            known = sorted(f"{s}.{k}" for s, v in cfg.items() if isinstance(v, dict) for k in v)
            raise ValueError(f"unknown reid option {dotted!r}; options are config keys like "
                             f"{', '.join(known)}")
        node[leaf] = value
    return out


# ----------------------------------------------------------------------------- the task
@dataclass
class ReidTask(Task):
    """Rank-1/5/10 and mAP of a torchreid softmax model trained with a method."""

    name: str = "reid"
    framework: str = "torchreid"
    metrics: dict[str, bool] = field(default_factory=lambda: {
        "rank1": True, "rank5": True, "rank10": True, "map": True})
    models: tuple[str, ...] = tuple(MODEL_CONFIGS)
    methods: tuple[str, ...] = (*IMAGE_METHODS, *PIPELINE_FAMILY)
    refused_methods: dict[str, str] = field(default_factory=lambda: {
        "cutmix": "torchreid's softmax engine trains on hard identity labels (class indices) "
                  "and re-ID is scored by retrieval, not by the mixed class scores CutMix "
                  "trains; torchreid ships no CutMix; use cutout or gridmask"})
    #: torchreid's own ImageNet file for its ResNet-50 (its ``model_urls``), as IDE+CamStyle.
    pretrained_files: dict[str, str] = field(default_factory=lambda: {
        "resnet50": "resnet50-19c8e357.pth"})
    new_layer_prefixes: tuple[str, ...] = ("classifier.",)
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        name: DatasetInfo(
            name, layout.description, layout.check, default_root="reid-data",
            synth=_synth(name), prepare=f"Unzip {layout.archive} (never downloaded here).",
            default_model="resnet50", default_epochs=60, train_size=TRAIN_IMAGES[name])
        for name, layout in LAYOUTS.items()
    })

    def build_config(self, spec: RunSpec) -> dict[str, Any]:
        """The run's settings: the model's YAML, the options, ``cfg_options``, ``spec.epochs``.

        ``cfg_options`` (``--cfg-options section.key=value``) take the same dotted keys as the
        ``"section.key"`` options, list items by index; unknown keys are refused with close
        matches (``benchmark.cfg_options``).
        """
        config_options = {k: v for k, v in spec.option_dict.items()
                          if k not in HAS_OPTIONS and k not in EXECUTION_OPTIONS
                          and k not in USER_OPTIONS and k != "amp"
                          and not k.startswith(PRETRAINED_OPTION)}
        cfg = apply_options(load_config(CONFIG_DIR / MODEL_CONFIGS[spec.model]), config_options)
        overrides = overrides_of(spec.option_dict)
        if overrides:
            cfg = apply_plain(cfg, overrides, REID_OWNED, "the re-ID config (configs/reid)")
        if "num_workers" in spec.option_dict:  # an execution option: not in the run id
            cfg["data"]["workers"] = int(spec.option_dict["num_workers"])
        if spec.epochs is not None:
            cfg["train"]["max_epoch"] = int(spec.epochs)
        return cfg

    def check(self, spec: RunSpec) -> None:
        """Also validate options, device and batch sizes before looking at the data."""
        if spec.option_dict.get("has_placement", "pipeline") != "pipeline":
            raise ValueError("has_placement=preprocessor is for the OpenMMLab tasks; torchreid "
                             "runs hide in the training transform (has_placement=pipeline)")
        super().check(spec)
        cfg = self.build_config(spec)
        method = method_for(spec.method, spec.option_dict)
        if isinstance(method, UserMethod):  # its torchreid stages import and build
            torchreid_stages(method)
        if spec.device not in ("cpu", "cuda") and not spec.device.startswith("cuda:"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {spec.device!r}")
        if spec.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device 'cuda' requested but no GPU is visible; use --device cpu")
        for key in ("batch_size", "max_epoch"):
            if int(cfg["train"][key]) < 1:
                raise ValueError(f"train.{key} must be >= 1, got {cfg['train'][key]}")
        train_dir = Path(spec.data_root) / LAYOUTS[spec.dataset].subdir / "bounding_box_train"
        n_train = sum(1 for _ in train_dir.glob("*.jpg"))
        if n_train < int(cfg["train"]["batch_size"]):
            raise ValueError(
                f"{train_dir} has {n_train} images, fewer than train.batch_size="
                f"{cfg['train']['batch_size']} (torchreid drops the last partial batch, so "
                f"nothing would be trained); lower train.batch_size"
            )

    def check_pretrained(self, spec: RunSpec) -> Any:
        """Match the weights file against the torchreid model (its classifier is new)."""
        from benchmark.engine.pretrained import check_pretrained

        path = self.weights_file(spec)
        model = import_torchreid().models.build_model(
            name=self.build_config(spec)["model"]["name"], num_classes=2, loss="softmax",
            pretrained=False)
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        return check_pretrained(shapes, path, new_prefixes=self.new_layer_prefixes)

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train with torchreid's softmax engine, then evaluate rank-k/mAP on query/gallery."""
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.build_config(spec)
        with open(work_dir / "torchreid.log", "a") as log, contextlib.redirect_stdout(log):
            return self._run(spec, work_dir, cfg)

    def _run(self, spec: RunSpec, work_dir: Path, cfg: dict[str, Any]) -> TaskOutput:
        register_offline_datasets()
        set_random_seed(spec.seed)
        layout = LAYOUTS[spec.dataset]
        datamanager, method_params = build_datamanager(cfg, spec, layout.source,
                                                       spec.device.startswith("cuda"))
        result = run_torchreid(cfg, spec, work_dir, datamanager, layout.source)
        train_set = datamanager.train_loader.dataset
        return TaskOutput(
            metrics=result.metrics, dataset=spec.dataset_label, model=spec.model,
            method_params=method_params, history=result.history, split="test",
            artifacts={"checkpoint": str(result.checkpoint.relative_to(work_dir)),
                       "log": "torchreid.log"},
            extra={
                "train_ids": datamanager.num_train_pids, "train_images": len(train_set.train),
                "query_images": len(datamanager.test_dataset[layout.source]["query"]),
                "gallery_images": len(datamanager.test_dataset[layout.source]["gallery"]),
                "input_hw_px": [cfg["data"]["height"], cfg["data"]["width"]],
                "config": cfg,
            },
        )


def build_datamanager(cfg: dict[str, Any], spec: RunSpec, source: str, use_gpu: bool
                      ) -> tuple[Any, dict[str, Any]]:
    """Build torchreid's ``ImageDataManager`` with the method in its training transform.

    Returns:
        (datamanager, method_params).
    """
    torchreid = import_torchreid()
    method = method_for(spec.method, spec.option_dict)
    data = cfg["data"]
    transforms = [*data["transforms"], *(["random_erase"] if method.erases else [])]
    datamanager = torchreid.data.ImageDataManager(
        root=spec.data_root, sources=source, height=int(data["height"]),
        width=int(data["width"]), transforms=transforms, norm_mean=data["norm_mean"],
        norm_std=data["norm_std"], use_gpu=use_gpu,
        batch_size_train=int(cfg["train"]["batch_size"]),
        batch_size_test=int(cfg["test"]["batch_size"]), workers=int(data["workers"]),
        train_sampler=data["train_sampler"])
    params: dict[str, Any] = {"method": method.name, "transforms": transforms}
    if method.erases:
        params.update(re_probability=0.5, re_area_fraction=[0.02, 0.4], re_min_aspect=0.3,
                      re_fill="norm_mean in normalized units (torchreid's RandomErasing)")
    if method.hides:
        from benchmark.pipelines.torchreid import add_hide_and_seek

        hw = (int(data["height"]), int(data["width"]))
        reference_px = int(cfg["has"]["grid_reference_short_side_px"])
        grid = method_grid_sizes(method, hw, reference_px=reference_px)
        params.update(add_hide_and_seek(datamanager, grid_sizes=grid,
                                        hide_prob=method.hide_prob, fill=method.fill),
                      has_grid_policy=method.grid_policy)
        params["has_grid_reference_short_side_px"] = reference_px
        params["has_grid_scaling"] = (
            "none: the paper's absolute pixels" if tuple(grid) == method.grid_sizes_px
            else f"scaled by short side {min(hw)} / {reference_px} px")
    if method.augment in PIPELINE_FAMILY:  # our counterparts (torchreid ships neither)
        from tasks.reid.erasing import add_torchreid_stage  # imports torch: not for `list`

        params.update(add_torchreid_stage(datamanager, method.augment,
                                          (int(data["height"]), int(data["width"]))))
    if isinstance(method, UserMethod):
        params.update(add_torchreid_stages(datamanager, method))
    params["train_transform"] = [type(t).__name__ for t in datamanager.transform_tr.transforms]
    return datamanager, params


TASK = ReidTask()
