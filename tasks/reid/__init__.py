"""Person re-identification on torchreid: Market-1501 and DukeMTMC-reID.

Data go through torchreid's own dataset classes (``Market1501``, ``DukeMTMCreID``) and its
``ImageDataManager``, subclassed only to refuse downloads: a missing folder is a
``ValueError`` naming the expected layout. Models are torchreid's (``resnet50``, the small
``osnet_x0_25`` for CPU), from random init; training is torchreid's ``ImageSoftmaxEngine``
(cross-entropy with label smoothing). Settings live in ``configs/reid/*.yaml`` under
torchreid's default-config keys; RunSpec options ``"section.key"`` override them.

Methods act on the training transform only: ``baseline`` = torchreid's ``random_flip`` +
``random_crop``; ``random_erasing`` adds torchreid's own ``random_erase`` (after
``Normalize``, filled with ``norm_mean`` in normalized units, as torchreid and the original
Random Erasing re-ID code do); ``has`` inserts our stage right after ``Normalize``
(:func:`benchmark.pipelines.torchreid.add_hide_and_seek`, hidden pixels 0 = the mean pixel);
``has+random_erasing`` does both (HaS first). Grid sizes are the paper's absolute pixels on the
256x128 crop (not rescaled); smaller inputs get proportionally smaller cells
(``has.grid_reference_short_side_px``, default 128 = the crop's short side).

Evaluation extracts query and gallery features itself (``model.eval()``, test transform, no
hiding), computes the distance matrix with ``torchreid.metrics.compute_distance_matrix`` and
rank-1/5/10 and mAP with ``torchreid.metrics.evaluate_rank`` (Market-1501 protocol: gallery
images of the query's identity from the query's camera are discarded; ``-1`` junk never
loaded; ``0000`` distractors count as wrong matches).

An interrupted run resumes from torchreid's own checkpoint (``Engine.save_model`` /
``resume_from_checkpoint``) in ``<work_dir>/checkpoints/model/``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import RunSpec, TaskOutput
from benchmark.methods import HAS_OPTIONS, method_for, scale_grid_sizes
from tasks.base import DatasetInfo, Task

CONFIG_DIR = REPO_ROOT / "configs" / "reid"
#: model -> config file in CONFIG_DIR.
MODEL_CONFIGS = {
    "resnet50": "resnet50_softmax_256x128.yaml",
    "osnet_x0_25": "osnet_x0_25_softmax_256x128.yaml",
}
#: The CMC ranks reported (metric ``rank{k}``), besides ``map``.
RANKS = (1, 5, 10)
SPLITS = ("bounding_box_train", "query", "bounding_box_test")
_NAME_RE = re.compile(r"([-\d]+)_c(\d)")  # torchreid's own pattern for both datasets


# ----------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class ReidLayout:
    """Where a torchreid image dataset expects its files under the data root.

    Attributes:
        dataset: Our dataset name (``market1501``, ``dukemtmc-reid``).
        source: The name our offline torchreid dataset class is registered under.
        subdir: The folder (relative to the root) holding the three split folders.
        file_names: The naming convention, for messages.
        max_camera: Largest camera number torchreid accepts.
        archive: The official archive name, for messages.
    """

    dataset: str
    source: str
    subdir: str
    file_names: str
    max_camera: int
    archive: str

    @property
    def description(self) -> str:
        """The layout in one line."""
        return f"ROOT/{self.subdir}/{{{','.join(SPLITS)}}}/{self.file_names}"

    def check(self, root: Path) -> None:
        """Raise ``ValueError`` naming what is missing (torchreid would try to download it)."""
        root = Path(root)
        base = root / self.subdir
        hint = (f"Unzip {self.archive} so that {base}/bounding_box_train exists, or generate "
                f"data with `hasbench synth {self.dataset} --out {root}`.")
        if not base.is_dir():
            inner = "" if not (root / "bounding_box_train").is_dir() else (
                f" {root} itself holds the split folders: pass the folder two levels above it "
                f"as the data root.")
            raise ValueError(
                f"{self.dataset}: {base} not found (expected layout: {self.description}); "
                f"hasbench never downloads datasets.{inner} {hint}"
            )
        missing = [s for s in SPLITS if not (base / s).is_dir()]
        if missing:
            raise ValueError(f"{self.dataset} layout under {base} is missing: "
                             f"{', '.join(missing)} (expected {self.description}). {hint}")
        for split in SPLITS:
            self._check_names(base / split)

    def _check_names(self, folder: Path) -> None:
        names = [p.name for p in folder.glob("*.jpg")]
        if not names:
            raise ValueError(f"{self.dataset}: {folder} has no .jpg images "
                             f"(expected names like {self.file_names})")
        for name in names:
            match = _NAME_RE.match(name)
            if match is None or not 1 <= int(match.group(2)) <= self.max_camera:
                raise ValueError(
                    f"{self.dataset}: {folder / name} does not follow the naming "
                    f"{self.file_names} (camera 1-{self.max_camera}); rename or remove it"
                )


LAYOUTS = {
    "market1501": ReidLayout(
        "market1501", "hasbench_market1501", "market1501/Market-1501-v15.09.15",
        "PPPP_cCsS_FFFFFF_NN.jpg (PPPP=-1 junk, 0000 distractor)", 6,
        "Market-1501-v15.09.15.zip into ROOT/market1501/"),
    "dukemtmc-reid": ReidLayout(
        "dukemtmc-reid", "hasbench_dukemtmcreid", "dukemtmc-reid/DukeMTMC-reID",
        "PPPP_cC_fFFFFFFF.jpg", 8, "DukeMTMC-reID.zip into ROOT/dukemtmc-reid/"),
}


def _synth(dataset: str):
    def synth(out_dir: Path, seed: int) -> None:
        from tasks.reid import synth as synth_reid

        writer = {"market1501": synth_reid.write_market1501,
                  "dukemtmc-reid": synth_reid.write_dukemtmc_reid}[dataset]
        writer(Path(out_dir), seed)

    return synth


# ----------------------------------------------------------------------------- torchreid glue
def import_torchreid():
    """Import torchreid without its "Cython evaluation unavailable" warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torchreid
    return torchreid


def register_offline_datasets() -> dict[str, type]:
    """Register torchreid dataset subclasses that never download; return them by our name.

    The subclasses change two things: ``download_dataset`` raises ``ValueError`` (naming the
    expected layout) instead of fetching a missing folder, and an unreadable image raises
    ``ValueError`` naming the file (torchreid's ``read_image`` would retry forever).
    Parsing (ids, cameras, junk) is torchreid's own.
    """
    if hasattr(register_offline_datasets, "cache"):
        return register_offline_datasets.cache
    torchreid = import_torchreid()
    from torchreid.reid.data.datasets import image as tr_image

    classes = {}
    for dataset, base in (("market1501", tr_image.Market1501),
                          ("dukemtmc-reid", tr_image.DukeMTMCreID)):
        layout = LAYOUTS[dataset]
        cls = type(f"Offline{base.__name__}", (base,), {
            "download_dataset": _refuse_download(layout),
            "__getitem__": _checked_getitem,
            "__doc__": f"torchreid's {base.__name__} that never downloads.",
        })
        with contextlib.suppress(ValueError):  # already registered in this process
            torchreid.data.register_image_dataset(layout.source, cls)
        classes[dataset] = cls
    register_offline_datasets.cache = classes
    return classes


def _refuse_download(layout: ReidLayout):
    def download_dataset(self, dataset_dir, dataset_url):
        """Check the layout instead of downloading (torchreid downloads a missing folder)."""
        layout.check(Path(dataset_dir).parent)

    return download_dataset


def _checked_getitem(self, index):
    from PIL import Image
    from torchreid.reid.data.datasets.dataset import ImageDataset

    path = self.data[index][0]
    try:
        with Image.open(path) as img:
            img.load()
    except OSError as err:
        raise ValueError(f"cannot read image {path} ({err}); replace or remove the file") from err
    return ImageDataset.__getitem__(self, index)


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


# ----------------------------------------------------------------------------- evaluation
def rank_metrics(distmat: np.ndarray, q_pids, g_pids, q_camids, g_camids,
                 ranks: tuple[int, ...] = RANKS) -> dict[str, float]:
    """Rank-k (CMC) and mAP in percent from a query x gallery distance matrix.

    Computed by ``torchreid.metrics.evaluate_rank`` (Market-1501 protocol): for each query,
    gallery entries with the query's identity *and* camera are discarded; queries with no
    remaining true match are skipped.

    Raises:
        ValueError: when no query has a match from another camera, or the gallery left after
            discarding is smaller than the largest rank.
    """
    torchreid = import_torchreid()
    distmat = np.asarray(distmat, dtype=np.float32)
    q_pids, g_pids, q_camids, g_camids = (np.asarray(a) for a in
                                          (q_pids, g_pids, q_camids, g_camids))
    same_id = q_pids[:, None] == g_pids[None, :]
    discarded = same_id & (q_camids[:, None] == g_camids[None, :])
    if not (same_id & ~discarded).any():
        raise ValueError("no query identity appears in the gallery under another camera; "
                         "check the query/gallery split")
    max_rank = max(ranks)
    if distmat.shape[1] - int(discarded.sum(1).max()) < max_rank:
        raise ValueError(f"the gallery has fewer than {max_rank} usable entries for some "
                         f"query; rank-{max_rank} is undefined")
    with contextlib.redirect_stdout(io.StringIO()):
        cmc, mean_ap = torchreid.metrics.evaluate_rank(
            distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max_rank)
    # torchreid's CMC is float32: round away its representation noise (1e-4 percent).
    metrics = {f"rank{k}": round(float(cmc[k - 1]) * 100.0, 4) for k in ranks}
    metrics["map"] = round(float(mean_ap) * 100.0, 4)
    return metrics


def extract_features(model, loader, device: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """(features N x D, pids, camids) of a torchreid test loader, model in eval mode."""
    import torch

    model.eval()
    feats, pids, camids = [], [], []
    with torch.no_grad():
        for batch in loader:
            feats.append(model(batch["img"].to(device)).cpu())
            pids.extend(int(p) for p in batch["pid"])
            camids.extend(int(c) for c in batch["camid"])
    return torch.cat(feats), np.asarray(pids), np.asarray(camids)


def evaluate(model, datamanager, source: str, device: str, test_cfg: dict[str, Any]
             ) -> dict[str, float]:
    """Rank-1/5/10 and mAP (percent) of ``model`` on the query/gallery split."""
    import torch.nn.functional as F

    torchreid = import_torchreid()
    query_loader, gallery_loader = (datamanager.test_loader[source][s]
                                    for s in ("query", "gallery"))
    qf, q_pids, q_camids = extract_features(model, query_loader, device)
    gf, g_pids, g_camids = extract_features(model, gallery_loader, device)
    if test_cfg.get("normalize_feature"):
        qf, gf = F.normalize(qf, p=2, dim=1), F.normalize(gf, p=2, dim=1)
    distmat = torchreid.metrics.compute_distance_matrix(
        qf, gf, test_cfg.get("dist_metric", "euclidean")).numpy()
    return rank_metrics(distmat, q_pids, g_pids, q_camids, g_camids,
                        tuple(test_cfg.get("ranks", RANKS)))


# ----------------------------------------------------------------------------- the task
@dataclass
class ReidTask(Task):
    """Rank-1/5/10 and mAP of a torchreid softmax model trained with a method."""

    name: str = "reid"
    framework: str = "torchreid"
    metrics: dict[str, bool] = field(default_factory=lambda: {
        "rank1": True, "rank5": True, "rank10": True, "map": True})
    models: tuple[str, ...] = tuple(MODEL_CONFIGS)
    methods: tuple[str, ...] = ("baseline", "random_erasing", "has", "has-16", "has-32",
                                "has-44", "has-56", "has+random_erasing")
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        name: DatasetInfo(
            name, layout.description, layout.check, default_root="reid-data",
            synth=_synth(name), prepare=f"Unzip {layout.archive} (never downloaded here).",
            default_model="resnet50", default_epochs=60)
        for name, layout in LAYOUTS.items()
    })

    def config(self, spec: RunSpec) -> dict[str, Any]:
        """The run's settings: the model's YAML, the options, and ``spec.epochs``."""
        config_options = {k: v for k, v in spec.option_dict.items() if k not in HAS_OPTIONS}
        cfg = apply_options(load_config(CONFIG_DIR / MODEL_CONFIGS[spec.model]), config_options)
        if spec.epochs is not None:
            cfg["train"]["max_epoch"] = int(spec.epochs)
        return cfg

    def check(self, spec: RunSpec) -> None:
        """Also validate options, device and batch sizes before looking at the data."""
        if spec.option_dict.get("has_placement", "pipeline") != "pipeline":
            raise ValueError("has_placement=preprocessor is for the OpenMMLab tasks; torchreid "
                             "runs hide in the training transform (has_placement=pipeline)")
        super().check(spec)
        cfg = self.config(spec)
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

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train with torchreid's softmax engine, then evaluate rank-k/mAP on query/gallery."""
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.config(spec)
        with open(work_dir / "torchreid.log", "a") as log, contextlib.redirect_stdout(log):
            return self._run(spec, work_dir, cfg)

    def _run(self, spec: RunSpec, work_dir: Path, cfg: dict[str, Any]) -> TaskOutput:
        torchreid = import_torchreid()
        register_offline_datasets()
        torchreid.utils.set_random_seed(spec.seed)
        layout = LAYOUTS[spec.dataset]
        use_gpu = spec.device.startswith("cuda")
        datamanager, method_params = build_datamanager(cfg, spec, layout.source, use_gpu)
        model = torchreid.models.build_model(
            name=cfg["model"]["name"], num_classes=datamanager.num_train_pids, loss="softmax",
            pretrained=bool(cfg["model"]["pretrained"]), use_gpu=use_gpu).to(spec.device)
        optimizer = torchreid.optim.build_optimizer(
            model, optim=cfg["train"]["optim"], lr=float(cfg["train"]["lr"]),
            weight_decay=float(cfg["train"]["weight_decay"]))
        scheduler = torchreid.optim.build_lr_scheduler(
            optimizer, lr_scheduler=cfg["train"]["lr_scheduler"],
            stepsize=cfg["train"]["stepsize"], gamma=float(cfg["train"]["gamma"]),
            max_epoch=int(cfg["train"]["max_epoch"]))
        engine = _recording_engine_class()(
            datamanager, model, optimizer, scheduler=scheduler, use_gpu=use_gpu,
            label_smooth=bool(cfg["loss"]["softmax"]["label_smooth"]))
        history, ckpt = _train(engine, cfg, spec, work_dir, layout.source)
        metrics = evaluate(model, datamanager, layout.source, spec.device, cfg["test"])
        if history:
            history[-1].update(metrics)
        train_set = datamanager.train_loader.dataset
        return TaskOutput(
            metrics=metrics, dataset=spec.dataset_label, model=spec.model,
            method_params=method_params, history=history, split="test",
            artifacts={"checkpoint": str(ckpt.relative_to(work_dir)), "log": "torchreid.log"},
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
        grid = scale_grid_sizes(method.grid_sizes_px, hw, reference_px=reference_px)
        params.update(add_hide_and_seek(datamanager, grid_sizes=grid,
                                        hide_prob=method.hide_prob))
        params["has_grid_reference_short_side_px"] = reference_px
        params["has_grid_scaling"] = (
            "none: the paper's absolute pixels" if tuple(grid) == method.grid_sizes_px
            else f"scaled by short side {min(hw)} / {reference_px} px")
    params["train_transform"] = [type(t).__name__ for t in datamanager.transform_tr.transforms]
    return datamanager, params


def _recording_engine_class():
    """Return a torchreid ``ImageSoftmaxEngine`` subclass keeping each epoch's loss/accuracy."""
    torchreid = import_torchreid()

    class RecordingSoftmaxEngine(torchreid.engine.ImageSoftmaxEngine):
        def forward_backward(self, data):
            summary = super().forward_backward(data)
            self.epoch_summaries.append(summary)
            return summary

    return RecordingSoftmaxEngine


def _rng_states() -> tuple:
    import random

    import torch

    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_rng_states(states: tuple) -> None:
    import random

    import torch

    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


@contextlib.contextmanager
def _rng_untouched():
    """Restore Python's, numpy's and torch's (CPU) random state on exit."""
    states = _rng_states()
    try:
        yield
    finally:
        _set_rng_states(states)


def _latest_checkpoint(folder: Path) -> Path | None:
    found = [(int(p.name.rsplit("-", 1)[1]), p) for p in folder.glob("model.pth.tar-*")
             if p.name.rsplit("-", 1)[1].isdigit()]
    return max(found)[1] if found else None


def _train(engine, cfg: dict[str, Any], spec: RunSpec, work_dir: Path, source: str
           ) -> tuple[list[dict[str, Any]], Path]:
    """Run the epochs (resuming from torchreid's checkpoint); return (history, checkpoint)."""
    torchreid = import_torchreid()
    ckpt_root = work_dir / "checkpoints"
    history_path = work_dir / "history.json"
    max_epoch = int(cfg["train"]["max_epoch"])
    eval_freq = int(cfg["test"]["eval_freq"])
    rng_path = work_dir / "rng_state.pkl"
    start_epoch, history = 0, []
    latest = _latest_checkpoint(ckpt_root / "model")
    if latest is not None:
        start_epoch = torchreid.utils.resume_from_checkpoint(
            str(latest), engine.model, engine.optimizer, engine.scheduler)
        if history_path.exists():
            history = [h for h in json.loads(history_path.read_text())
                       if h["epoch"] <= start_epoch]
        if rng_path.exists():  # continue the random streams: same result as uninterrupted
            saved = pickle.loads(rng_path.read_bytes())
            if saved["epoch"] == start_epoch:
                _set_rng_states(saved["states"])
    engine.max_epoch = max_epoch
    for epoch in range(start_epoch, max_epoch):
        engine.epoch, engine.epoch_summaries = epoch, []
        engine.train(print_freq=int(cfg["train"]["print_freq"]))
        row = {"epoch": epoch + 1}
        for key in ("loss", "acc"):
            values = [s[key] for s in engine.epoch_summaries]
            row[key] = float(np.mean(values)) if values else float("nan")
        if not math.isfinite(row["loss"]):
            raise RuntimeError(f"training loss is {row['loss']} at epoch {epoch + 1}; "
                               "lower train.lr")
        if eval_freq > 0 and (epoch + 1) % eval_freq == 0 and epoch + 1 != max_epoch:
            with _rng_untouched():  # evaluating must not change what training samples next
                row.update(evaluate(engine.model, engine.datamanager, source, spec.device,
                                    cfg["test"]))
        history.append(row)
        engine.save_model(epoch, row.get("rank1", 0.0) / 100.0, str(ckpt_root))
        for old in (ckpt_root / "model").glob("model.pth.tar-*"):
            if old.name != f"model.pth.tar-{epoch + 1}":
                old.unlink()
        history_path.write_text(json.dumps(history, indent=1))
        rng_path.write_bytes(pickle.dumps({"epoch": epoch + 1, "states": _rng_states()}))
    latest = _latest_checkpoint(ckpt_root / "model")
    return history, latest


TASK = ReidTask()
