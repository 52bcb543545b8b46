"""The WSSS classifier's dataset for mmpretrain: VOC images with labels derived from masks.

``VOCImageLabels`` (mmpretrain ``DATASETS``) is a ``MultiLabelDataset`` over one VOC list file;
each image's ``gt_label`` is the list of classifier indices (VOC id - 1) of the classes its
segmentation mask holds (:func:`tasks.wsss.data.image_labels`). Images whose mask holds no
class are left out (a multi-label classifier has nothing to learn from them; the seeds stage
gives them an all-background pseudo mask).
"""

from __future__ import annotations

import os.path as osp
from typing import Any

from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS

from tasks.wsss.data import FOREGROUND, Split, labelled_images


@DATASETS.register_module()
class VOCImageLabels(MultiLabelDataset):
    """VOC images (``JPEGImages/<id>.jpg``) with the classes of their masks as labels.

    Args:
        data_root: The ``VOC2012`` folder.
        ann_file: The list file, relative to ``data_root`` (``ImageSets/Segmentation/aug.txt``).
        mask_dir: The masks' folder, relative to ``data_root`` (``SegmentationClassAug``).
        **kwargs: As for mmpretrain's ``BaseDataset`` (``pipeline``, ``test_mode``...).
    """

    METAINFO = {"classes": FOREGROUND}

    def __init__(self, data_root: str, ann_file: str, mask_dir: str = "SegmentationClass",
                 **kwargs: Any) -> None:
        self.mask_dir = mask_dir
        self.list_file = ann_file
        super().__init__(ann_file="", data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        """One sample per image whose mask holds a class: ``img_path`` and ``gt_label``."""
        split = Split(self.list_file, self.mask_dir)
        return [dict(img_path=osp.join(self.data_root, "JPEGImages", f"{image_id}.jpg"),
                     gt_label=[c - 1 for c in classes])
                for image_id, classes in labelled_images(self.data_root, split) if classes]
