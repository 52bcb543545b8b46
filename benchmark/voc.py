"""PASCAL VOC 2012 in mmseg's layout: where it lives, its layout check, its colour map.

Shared by the tasks that read VOC's segmentation masks (``segmentation``, ``wsss``). Kept free
of framework imports so layout checks stay cheap.
"""

from __future__ import annotations

from pathlib import Path

VOC_SUBDIR = Path("VOCdevkit") / "VOC2012"
VOC_PREPARE = (
    "Extract VOCtrainval_11-May-2012.tar (VOCdevkit/VOC2012) and, for the aug split, SBD's "
    "benchmark.tgz, then run mmseg's tools/dataset_converters/voc_aug.py to write "
    "SegmentationClassAug/ and ImageSets/Segmentation/aug.txt."
)
#: VOC 2012's classes in label order: 0 is background; 255 in the masks is "ignore" (borders).
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
               "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
VOC_IGNORE = 255


# ----------------------------------------------------------------------------- VOC layout
def voc_root(root: Path) -> Path:
    """The ``VOC2012`` folder: ``root/VOCdevkit/VOC2012``, or ``root`` itself if it is one."""
    root = Path(root)
    nested = root / VOC_SUBDIR
    return nested if nested.is_dir() or not (root / "JPEGImages").is_dir() else root


def check_voc(aug: bool):
    """The layout check of VOC 2012 (``aug``: with SBD's ``SegmentationClassAug`` split)."""
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


def voc_palette() -> list[int]:
    """The VOC colour map (bit-interleaved class ids), flattened for ``putpalette``."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette += [r, g, b]
    return palette


def write_voc_scenes(out_dir: Path, scenes, seed: int) -> None:
    """Write generated ``(split, image, mask)`` scenes in mmseg's VOC 2012 + SBD-aug layout.

    Under ``out_dir/VOCdevkit/VOC2012``: ``JPEGImages/*.jpg``, ``SegmentationClass/*.png``
    (palette PNGs, as VOC releases them), ``SegmentationClassAug/*.png`` (grey PNGs, as mmseg's
    ``voc_aug.py`` writes them) and ``ImageSets/Segmentation/{train,val,aug}.txt``; ``aug.txt``
    lists the ``train`` and the aug-only (``extra``) scenes.

    Args:
        out_dir: Dataset root.
        scenes: ``(split, image, mask)`` in order: split ``train``, ``val`` or ``extra``
            (aug-only), image H x W x 3 uint8 RGB, mask H x W uint8 VOC ids (255: ignore).
        seed: The generator's seed, part of the file names (``2099_<seed><index>``).
    """
    import cv2
    from PIL import Image

    root = Path(out_dir) / VOC_SUBDIR
    for sub in ("JPEGImages", "SegmentationClass", "SegmentationClassAug",
                "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    palette = voc_palette()
    names: dict[str, list[str]] = {"train": [], "val": [], "extra": []}
    for index, (split, img, mask) in enumerate(scenes):
        name = f"2099_{seed:02d}{index:04d}"
        names[split].append(name)
        cv2.imwrite(str(root / "JPEGImages" / f"{name}.jpg"), img[..., ::-1])
        Image.fromarray(mask).save(root / "SegmentationClassAug" / f"{name}.png")
        if split != "extra":
            indexed = Image.fromarray(mask)
            indexed.putpalette(palette)  # L -> P, indices kept
            indexed.save(root / "SegmentationClass" / f"{name}.png")
    sets = root / "ImageSets" / "Segmentation"
    for split, listed in (("train", names["train"]), ("val", names["val"]),
                          ("aug", names["train"] + names["extra"])):
        sets.joinpath(f"{split}.txt").write_text("".join(f"{n}\n" for n in listed))
