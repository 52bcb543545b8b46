"""WSOL datasets as mmpretrain datasets (registered in mmpretrain's ``DATASETS``).

Thin wrappers over the parsers of :mod:`tasks.wsol.data`. Each data info has
``img_path``, ``gt_label`` and — for evaluation splits only — ``gt_bboxes``: a float32
``(M, 4)`` array of inclusive ``(x0, y0, x1, y1)`` boxes in the *original* image's pixels.
Training splits never load boxes (``with_boxes`` defaults to ``split != 'train'``).

Boxes follow the image through the test pipeline: mmcv's ``Resize`` (used by the WSOL test
pipelines) rescales ``results['gt_bboxes']`` with the image, so after it the boxes are in the
network input's pixels, where the CAM is computed. ``PackInputs(meta_keys=(..., 'gt_bboxes'))``
carries them to the metric.
"""

from __future__ import annotations

from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from tasks.wsol import data as layouts


class _WSOLDataset(BaseDataset):
    """Shared part: parse once, expose classes, put boxes in the data infos."""

    def __init__(self, data_root: str, split: str, with_boxes: bool | None = None, **kwargs):
        self.split = split
        self.with_boxes = split != "train" if with_boxes is None else with_boxes
        classes, self._samples = self._parse(data_root)
        kwargs.setdefault("test_mode", split != "train")
        super().__init__(ann_file="", data_root=data_root, classes=list(classes), **kwargs)

    def _parse(self, data_root: str):
        raise NotImplementedError

    def load_data_list(self) -> list[dict]:
        """One dict per image: ``img_path``, ``gt_label`` (+ ``gt_bboxes`` when read)."""
        infos = []
        for sample in self._samples:
            info = {"img_path": sample.img_path, "gt_label": sample.gt_label}
            if sample.gt_bboxes is not None:
                info["gt_bboxes"] = sample.gt_bboxes
            infos.append(info)
        return infos


@DATASETS.register_module()
class TinyImageNetWSOL(_WSOLDataset):
    """Tiny ImageNet in its original layout (splits ``train``, ``val``), with boxes."""

    def _parse(self, data_root):
        return layouts.parse_tiny_imagenet(data_root, self.split, self.with_boxes)


@DATASETS.register_module()
class CUBWSOL(_WSOLDataset):
    """CUB-200-2011 in its original layout (splits ``train``, ``test``), with boxes."""

    def _parse(self, data_root):
        return layouts.parse_cub(data_root, self.split, self.with_boxes)


@DATASETS.register_module()
class WSOLEvalDataset(_WSOLDataset):
    """Any dataset described by wsolevaluation metadata (splits ``train``, ``val``, ``test``).

    Args:
        metadata_dir: Folder holding ``<split>/*.txt`` (absolute or relative to the data
            root; default ``<data_root>/metadata``).
    """

    def __init__(self, data_root: str, split: str, metadata_dir: str | None = None, **kwargs):
        self.metadata_dir = metadata_dir
        super().__init__(data_root, split, **kwargs)

    def _parse(self, data_root):
        return layouts.parse_wsoleval(data_root, self.split, self.with_boxes, self.metadata_dir)


@DATASETS.register_module()
class ILSVRCWSOL(_WSOLDataset):
    """ILSVRC CLS-LOC (splits ``train``, ``val``) with the val XML boxes."""

    def _parse(self, data_root):
        return layouts.parse_ilsvrc(data_root, self.split, self.with_boxes)
