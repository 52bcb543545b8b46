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

from benchmark.dataset_mean import mean_pixel_bgr
from benchmark.engine.mmrun import use_plain_batchnorm
from benchmark.engine.spec import RunSpec
from benchmark.erasing.family import PIPELINE_FAMILY
from tasks.base import IMAGE_METHODS, DatasetInfo, MMTask
from tasks.segmentation.data import (
    CAMVID_PREPARE,
    VOC_PREPARE,
    camvid_has_split,
    camvid_split_pairs,
    check_camvid,
    check_voc,
    voc_root,
)

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


def _synth_camvid(out: Path, seed: int) -> None:
    from tasks.segmentation.synth import write_camvid_layout

    write_camvid_layout(out, seed=seed)


def _synth_voc(out: Path, seed: int) -> None:
    from tasks.segmentation.synth import write_voc_layout

    write_voc_layout(out, seed=seed)


# ----------------------------------------------------------------------------- config helpers
def _limit(dataset: dict, count: int | None) -> None:
    """Keep the first ``count`` samples of a dataset config (mmengine's ``indices``)."""
    if count is None:
        return
    for part in dataset.get("datasets", [dataset]):
        part["indices"] = int(count)


@dataclass
class SegmentationTask(MMTask):
    """mIoU / aAcc / mAcc (percent) of an mmseg segmenter trained with a method."""

    name: str = "segmentation"
    framework: str = "mmseg"
    scope: str = "mmseg"
    task_options: frozenset[str] | None = frozenset({"train_images", "eval_images"})
    #: open-mmlab's ResNetV1c (deep stem) ImageNet file, which mmseg's r50-d8 configs start from.
    pretrained_files: dict[str, str] = field(default_factory=lambda: {
        "fcn-r50-d8": "resnet50_v1c-2cccc1ad.pth", "deeplabv3-r50-d8": "resnet50_v1c-2cccc1ad.pth"})
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))
    metric_names: dict[str, str] = field(default_factory=lambda: dict(METRIC_NAMES))
    metrics: dict[str, bool] = field(
        default_factory=lambda: {"miou": True, "aacc": True, "macc": True})
    models: tuple[str, ...] = ("fcn-r18-tiny", "fcn-r50-d8", "deeplabv3-r50-d8")
    methods: tuple[str, ...] = (*IMAGE_METHODS, *PIPELINE_FAMILY)
    refused_methods: dict[str, str] = field(default_factory=lambda: {
        "cutmix": "segmentation labels are per pixel; mmpretrain's CutMix mixes one image-level "
                  "class label by the pasted area and mmseg ships no CutMix batch augment; use "
                  "cutout or gridmask"})
    datasets: dict[str, DatasetInfo] = field(default_factory=lambda: {
        "camvid": DatasetInfo(
            "camvid", "{train,val[,test]}/*.png + {train,val[,test]}annot/*.png (ids 0-10, "
            "11 = void) + optional train.txt/val.txt/test.txt pair lists (SegNet release)",
            check_camvid, default_root="camvid-subset", synth=_synth_camvid,
            prepare=CAMVID_PREPARE, default_model="fcn-r18-tiny", default_epochs=100,
            # SegNet's release: 367 train / 101 val / 233 test (Badrinarayanan et al., 2017)
            train_size=367),
        "voc12aug": DatasetInfo(
            "voc12aug", "VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,SegmentationClassAug,"
            "ImageSets/Segmentation/{train,val,aug}.txt} (mmseg's layout)",
            check_voc(aug=True), default_root="voc2012", synth=_synth_voc,
            prepare=VOC_PREPARE, default_model="deeplabv3-r50-d8", default_epochs=27,
            train_size=10_582),  # VOC2012 train + SBD (Hariharan et al., 2011): mmseg's docs
        "voc12": DatasetInfo(
            "voc12", "VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,"
            "ImageSets/Segmentation/{train,val}.txt}",
            check_voc(aug=False), default_root="voc2012", synth=_synth_voc,
            prepare=VOC_PREPARE, default_model="deeplabv3-r50-d8", default_epochs=200,
            train_size=1_464),  # ImageSets/Segmentation/train.txt (Everingham et al., 2015)
    })

    # --------------------------------------------------------------- config
    def config_key(self, spec: RunSpec) -> str:
        """``camvid-synth`` for generated CamVid where the model has a config for it."""
        synth = spec.dataset == "camvid" and spec.synthetic
        return "camvid-synth" if synth and (spec.model, "camvid-synth") in CONFIGS else spec.dataset

    def check(self, spec: RunSpec) -> None:
        """Also reject model/dataset pairs without a config and bad options."""
        super().check(spec)
        for key in ("train_images", "eval_images"):
            value = spec.option_dict.get(key)
            if value is not None and (not str(value).isdigit() or int(value) < 1):
                raise ValueError(f"option {key}={value!r} must be a positive integer "
                                 "(the first N images of the split are used)")
        lr = spec.option_dict.get("lr")
        if lr is not None and not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"option lr={lr!r} must be a positive number (SGD learning rate)")

    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config for a resolved spec with the method inserted."""
        cfg = self.load_config(spec)
        if spec.dataset == "camvid":
            self._point_to_camvid(cfg, Path(spec.data_root), self.test_split(spec))
        else:
            self._point_to_voc(cfg, Path(spec.data_root))
        options = spec.option_dict
        _limit(cfg.train_dataloader.dataset, options.get("train_images"))
        for loader in ("val_dataloader", "test_dataloader"):
            _limit(cfg[loader].dataset, options.get("eval_images"))
        if options.get("launcher", "none") == "none":
            use_plain_batchnorm(cfg.model)
        crop_hw = tuple(cfg.model.data_preprocessor["size"])
        fill_mean = None
        if spec.dataset == "camvid":  # ImageNet's normalizer; HaS fills CamVid's own mean
            root = Path(spec.data_root)
            fill_mean = mean_pixel_bgr([root / image for image, _ in
                                        camvid_split_pairs(root, "train")])
        cfg, params = self.apply_method(cfg, spec, crop_hw, fill_mean=fill_mean)
        params["crop_hw_px"] = list(crop_hw)
        if "re_type" in params:
            params["re_note"] = ("mmseg has no RandomErasing: its RandomCutOut (labels "
                                 "untouched) is the framework's erasing")
        return cfg, params

    def test_split(self, spec: RunSpec) -> str:
        """CamVid without a test split (the shared subset) is tested on val; VOC on val."""
        if spec.dataset == "camvid" and camvid_has_split(Path(spec.data_root), "test"):
            return "test"
        return "val"

    @staticmethod
    def _point_to_camvid(cfg: Any, root: Path, test_split: str) -> None:
        for loader, split in (("train_dataloader", "train"), ("val_dataloader", "val"),
                              ("test_dataloader", test_split)):
            dataset = cfg[loader].dataset
            dataset.data_root = str(root)
            if (root / f"{split}.txt").is_file():
                dataset.ann_file = f"{split}.txt"
            else:
                dataset.ann_file = ""
                dataset.data_prefix = dict(img_path=split, seg_map_path=f"{split}annot")

    @staticmethod
    def _point_to_voc(cfg: Any, root: Path) -> None:
        base = str(voc_root(root))
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            dataset = cfg[loader].dataset
            for part in dataset.get("datasets", [dataset]):
                part.data_root = base

    def extra(self, spec: RunSpec, cfg: Any, result: Any) -> dict[str, Any]:
        """Image counts, class names and the config file of a finished run."""
        runner = result.runner
        return {
            "train_images": len(runner.train_dataloader.dataset),
            f"{self.test_split(spec)}_images": len(runner.test_dataloader.dataset),
            "classes": list(runner.test_dataloader.dataset.metainfo["classes"]),
            "config": self.config_file(spec).name,
        }


TASK = SegmentationTask()
