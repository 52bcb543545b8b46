"""CamVid in the SegNet layout for mmsegmentation (mmseg 1.2.2 ships no CamVid dataset).

The SegNet release stores ``{train,val,test}/*.png`` images, ``{train,val,test}annot/*.png``
label maps (class ids 0-10, 11 = void) and list files whose lines pair an image with its
label (``train/x.png trainannot/x.png``; the original release writes absolute
``/SegNet/CamVid/...`` paths, which are read relative to the dataset root). Everything but
the list parsing and the void mapping (11 -> mmseg's ignore index 255) is mmseg's own
``BaseSegDataset``.
"""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

from benchmark.engine import compat

compat.apply()  # mmseg.datasets imports mmcv.ops, which mmcv-lite lacks

from mmseg.datasets import BaseSegDataset  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

from tasks.segmentation.data import CAMVID_CLASSES, CAMVID_VOID, read_pair_list  # noqa: E402

#: Colours of the SegNet release's class legend (RGB), in class-id order.
CAMVID_PALETTE = [[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128],
                  [60, 40, 222], [128, 128, 0], [192, 128, 128], [64, 64, 128],
                  [64, 0, 128], [64, 64, 0], [0, 128, 192]]


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid (SegNet release, 11 classes): void (11) becomes the ignore index 255.

    Args:
        ann_file: A SegNet list file (``train.txt``); empty: pair every image of
            ``data_prefix.img_path`` with the same name in ``data_prefix.seg_map_path``.
        **kwargs: As for ``BaseSegDataset`` (``data_root``, ``data_prefix``, ``pipeline``...).
    """

    METAINFO = dict(classes=CAMVID_CLASSES, palette=CAMVID_PALETTE)

    def __init__(self, ann_file: str = "", img_suffix: str = ".png",
                 seg_map_suffix: str = ".png", reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label,
                         **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Sequence | None = None) -> dict[int, int]:
        """The class-subset map mmseg builds (if any), plus void (11) -> 255."""
        label_map = super().get_label_map(new_classes) or {}
        return {**label_map, CAMVID_VOID: 255}

    def load_data_list(self) -> list[dict]:
        """Read the SegNet pair list; without one, mmseg's folder scan."""
        if not self.ann_file or osp.isdir(self.ann_file):
            return super().load_data_list()
        root = self.data_root or ""
        data_list = []
        for img, seg in read_pair_list(self.ann_file):
            data_list.append(dict(
                img_path=osp.join(root, img), seg_map_path=osp.join(root, seg),
                label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                seg_fields=[],
            ))
        return data_list
