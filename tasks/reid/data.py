"""Market-1501 and DukeMTMC-reID on disk: the layouts torchreid reads, and its datasets offline.

torchreid's own dataset classes parse the files (ids, cameras, ``-1`` junk, ``0000``
distractors); the subclasses registered here only refuse to download (a missing folder is a
``ValueError`` naming the expected layout) and name an unreadable image instead of retrying.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from benchmark.engine.compat import torchreid_module
from tasks.reid.train import import_torchreid

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


# ----------------------------------------------------------------------------- offline datasets
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
    tr_image = torchreid_module("data.datasets.image")

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
    ImageDataset = torchreid_module("data.datasets.dataset").ImageDataset

    path = self.data[index][0]
    try:
        with Image.open(path) as img:
            img.load()
    except OSError as err:
        raise ValueError(f"cannot read image {path} ({err}); replace or remove the file") from err
    return ImageDataset.__getitem__(self, index)
