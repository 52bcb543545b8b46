"""Face datasets in their original layouts, read without any framework (labels, splits, folds).

The mmpretrain dataset classes in :mod:`tasks._faces.mm` and the tasks ``emotion`` and
``age_gender`` both use these readers, so a split or a fold is computed in one place.

Layouts read:

- CK+48: ``<expression>/S###_###_########.png`` (48x48 grey). The subject id ``S###`` drives
  subject-exclusive k-fold cross-validation (:func:`subject_folds`).
- FER2013: the original ``fer2013.csv`` (``emotion,pixels,Usage``; Training / PublicTest /
  PrivateTest) or image folders ``train|test/<emotion>/*.jpg``.
- UTKFace: ``[age]_[gender]_[race]_[datetime].jpg.chip.jpg`` (gender 0 male, 1 female);
  malformed names are skipped and counted. No official split: a seeded random split.
- APPA-REAL: ``gt_avg_{train,valid,test}.csv`` (``file_name, num_ratings, apparent_age_avg,
  apparent_age_std, real_age``) and ``{train,valid,test}/<file_name>[_face.jpg]``; gender from
  ``allcategories_<split>.csv`` (``file,gender,...``) when present.
- IMDB-WIKI: ``imdb_crop/imdb.mat`` or ``wiki_crop/wiki.mat`` with the usual cleaning.

Gender is always 0 = male, 1 = female (UTKFace's convention; IMDB-WIKI's is flipped on read).
"""

from __future__ import annotations

import csv
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CKPLUS_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.(png|jpg|jpeg)$", re.IGNORECASE)
UTKFACE_NAME = re.compile(r"^(\d{1,3})_([01])_([0-4])_(\d+)\.jpg\.chip\.jpg$")
#: FER2013's CSV label order.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER2013_USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
APPA_SPLITS = {"train": "train", "val": "valid", "test": "test"}
GENDER_NAMES = ("male", "female")


@dataclass
class FaceSample:
    """One image and its labels.

    Attributes:
        path: Image file, or ``None`` when the pixels are in ``image``.
        image: HxW uint8 grey pixels (FER2013's CSV), else ``None``.
        label: Class index (expression) or gender (0 male, 1 female); ``None`` if unknown.
        age_years: Age in years (age datasets), else ``None``.
        subject: Subject id (CK+), else ``None``.
    """

    path: str | None = None
    image: np.ndarray | None = None
    label: int | None = None
    age_years: float | None = None
    subject: str | None = None


@dataclass
class FaceListing:
    """The samples a reader found, and what it had to leave out.

    Attributes:
        samples: Usable samples, in a deterministic order (sorted by path).
        classes: Class names, index = label.
        skipped: File names (or ids) that were left out, e.g. malformed UTKFace names.
        dropped: Reason -> count for records removed by cleaning (IMDB-WIKI).
    """

    samples: list[FaceSample]
    classes: tuple[str, ...] = ()
    skipped: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)


def _warn_skipped(dataset: str, skipped: list[str], why: str) -> None:
    if skipped:
        shown = ", ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        warnings.warn(f"{dataset}: skipped {len(skipped)} file(s) {why}: {shown}", stacklevel=3)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


# --------------------------------------------------------------------------- CK+48
def parse_ckplus_name(name: str) -> tuple[str, int, int]:
    """``S005_001_00000011.png`` -> ``("S005", 1, 11)`` (subject, sequence, frame).

    Raises:
        ValueError: naming the file when it does not follow ``S###_###_########.png``.
    """
    match = CKPLUS_NAME.match(name)
    if not match:
        raise ValueError(
            f"CK+ file name {name!r} is not S<subject>_<sequence>_<frame>.png; the subject id "
            "is needed for subject-exclusive folds (rename it or remove it)"
        )
    return match.group(1), int(match.group(2)), int(match.group(3))


def list_ckplus(root: Path) -> FaceListing:
    """Every ``<expression>/S###_###_########.png`` under ``root`` (classes = sorted folders).

    Files whose names carry no subject id are skipped and listed in ``skipped``.

    Raises:
        ValueError: when ``root`` has no expression folders or no usable image.
    """
    root = Path(root)
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    if not classes:
        raise ValueError(f"CK+48: {root} has no <expression>/ folders (expected "
                         "<expression>/S###_###_########.png)")
    samples, skipped = [], []
    for label, name in enumerate(classes):
        for path in _image_files(root / name):
            try:
                subject, _, _ = parse_ckplus_name(path.name)
            except ValueError:
                skipped.append(f"{name}/{path.name}")
                continue
            samples.append(FaceSample(path=str(path), label=label, subject=subject))
    _warn_skipped("CK+48", skipped, "without an S###_###_########.png name")
    if not samples:
        raise ValueError(f"CK+48: no S###_###_########.png image under {root}/<expression>/")
    return FaceListing(samples, classes, skipped)


def subject_folds(subjects: list[str], num_folds: int, seed: int) -> dict[str, int]:
    """Assign each subject to one of ``num_folds`` folds, balancing image counts.

    Subjects are shuffled by ``seed`` and then each goes to the fold with the fewest images so
    far (ties: lowest fold index), so folds are subject-exclusive by construction, roughly equal
    in size, and the same for the same (subjects, num_folds, seed).

    Args:
        subjects: The subject id of every image (repeats = images per subject).
        num_folds: Number of folds (10 is customary for CK+).
        seed: Seed of the shuffle.

    Returns:
        Subject id -> fold index in ``range(num_folds)``.

    Raises:
        ValueError: when there are fewer subjects than folds or ``num_folds < 2``.
    """
    counts = Counter(subjects)
    if num_folds < 2:
        raise ValueError(f"num_folds={num_folds}: cross-validation needs at least 2 folds")
    if len(counts) < num_folds:
        raise ValueError(
            f"{len(counts)} subjects cannot fill {num_folds} subject-exclusive folds; "
            "use fewer folds (options: num_folds)"
        )
    order = sorted(counts)
    np.random.default_rng(seed).shuffle(order)
    sizes = [0] * num_folds
    assignment = {}
    for subject in order:
        fold = int(np.argmin(sizes))
        assignment[subject] = fold
        sizes[fold] += counts[subject]
    return assignment


def ckplus_fold(root: Path, fold: int, num_folds: int, seed: int, split: str) -> FaceListing:
    """The CK+48 images of one fold: ``split='test'`` = that fold, ``'train'`` = all others.

    Raises:
        ValueError: for a fold outside ``range(num_folds)`` or an unknown split.
    """
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold {fold} is outside 0..{num_folds - 1}")
    if split not in ("train", "test"):
        raise ValueError(f"CK+ split must be 'train' or 'test', got {split!r}")
    listing = list_ckplus(root)
    folds = subject_folds([s.subject for s in listing.samples], num_folds, seed)
    keep = [s for s in listing.samples if (folds[s.subject] == fold) == (split == "test")]
    return FaceListing(keep, listing.classes, listing.skipped)


# --------------------------------------------------------------------------- FER2013
def fer2013_layout(root: Path) -> str:
    """``"csv"`` when ``root`` holds ``fer2013.csv``, ``"folders"`` for ``train/`` + ``test/``.

    Raises:
        ValueError: naming both accepted layouts when neither is there.
    """
    root = Path(root)
    if (root / "fer2013.csv").is_file():
        return "csv"
    if (root / "train").is_dir() and (root / "test").is_dir():
        return "folders"
    missing = [name for name in ("train", "test") if not (root / name).is_dir()]
    raise ValueError(
        f"FER2013 under {root} is missing fer2013.csv (emotion,pixels,Usage) and, for the "
        f"image-folder layout, {' and '.join(f'{m}/' for m in missing)}; expected either "
        "fer2013.csv or train/<emotion>/*.jpg and test/<emotion>/*.jpg"
    )


@lru_cache(maxsize=2)
def _read_fer2013_csv(path: str, mtime: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rows: dict[str, tuple[list, list]] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected the original "
                             "FER2013 header emotion,pixels,Usage")
        for line_no, row in enumerate(reader, start=2):
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise ValueError(f"{path} line {line_no}: {pixels.size} pixels, expected 2304")
            images, labels = rows.setdefault(row["Usage"], ([], []))
            images.append(pixels.reshape(48, 48))
            labels.append(int(row["emotion"]))
    return {k: (np.stack(v[0]), np.array(v[1], dtype=np.int64)) for k, v in rows.items()}


def list_fer2013(root: Path, split: str) -> FaceListing:
    """FER2013 samples of ``split`` (``train``/``val``/``test``) from either layout.

    CSV: train = Training, val = PublicTest, test = PrivateTest (the customary protocol).
    Folders: train = ``train/``, val and test = ``test/`` (the folder release has no third
    split). Folder classes are the sorted folder names.

    Raises:
        ValueError: for an unknown split or a split with no image.
    """
    if split not in FER2013_USAGE:
        raise ValueError(f"FER2013 split must be one of {list(FER2013_USAGE)}, got {split!r}")
    root = Path(root)
    if fer2013_layout(root) == "csv":
        path = root / "fer2013.csv"
        table = _read_fer2013_csv(str(path), path.stat().st_mtime)
        usage = FER2013_USAGE[split]
        if usage not in table:
            raise ValueError(f"{path} has no {usage!r} rows (Usage column: {sorted(table)})")
        images, labels = table[usage]
        samples = [FaceSample(image=img, label=int(lab))
                   for img, lab in zip(images, labels, strict=True)]
        return FaceListing(samples, FER2013_CLASSES)
    folder = root / ("train" if split == "train" else "test")
    classes = tuple(sorted(p.name for p in (root / "train").iterdir() if p.is_dir()))
    samples = [FaceSample(path=str(p), label=label)
               for label, name in enumerate(classes) if (folder / name).is_dir()
               for p in _image_files(folder / name)]
    if not samples:
        raise ValueError(f"FER2013: no image in {folder}/<emotion>/")
    return FaceListing(samples, classes)


# --------------------------------------------------------------------------- UTKFace
def parse_utkface_name(name: str) -> tuple[int, int, int]:
    """``25_1_3_20170104231305129.jpg.chip.jpg`` -> ``(25, 1, 3)`` (age, gender, race).

    Raises:
        ValueError: naming the file when it does not follow
            ``[age]_[gender 0|1]_[race 0-4]_[datetime].jpg.chip.jpg``.
    """
    match = UTKFACE_NAME.match(name)
    if not match:
        raise ValueError(
            f"UTKFace file name {name!r} is not [age]_[gender 0|1]_[race 0-4]_[datetime]"
            ".jpg.chip.jpg"
        )
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def list_utkface(root: Path) -> FaceListing:
    """Every well-named UTKFace image under ``root``; malformed names are skipped and listed.

    Raises:
        ValueError: when no file under ``root`` has a UTKFace name.
    """
    root = Path(root)
    samples, skipped = [], []
    for path in sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            age, gender, _ = parse_utkface_name(path.name)
        except ValueError:
            skipped.append(path.name)
            continue
        samples.append(FaceSample(path=str(path), label=gender, age_years=float(age)))
    _warn_skipped("UTKFace", skipped, "with malformed names")
    if not samples:
        raise ValueError(f"UTKFace: no [age]_[gender]_[race]_[datetime].jpg.chip.jpg file in "
                         f"{root} ({len(skipped)} other file(s))")
    return FaceListing(samples, GENDER_NAMES, skipped)


def random_split(n: int, test_fraction: float, seed: int, split: str) -> list[int]:
    """Indices of ``split`` (``train``/``test``) in a seeded random split of ``n`` items.

    Raises:
        ValueError: when the fraction leaves either side empty, or for an unknown split.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    num_test = round(n * test_fraction)
    if not 0 < num_test < n:
        raise ValueError(f"test_fraction={test_fraction} of {n} images leaves a split empty")
    order = np.random.default_rng(seed).permutation(n)
    chosen = order[:num_test] if split in ("val", "test") else order[num_test:]
    return sorted(int(i) for i in chosen)


def utkface_split(root: Path, split: str, test_fraction: float, seed: int) -> FaceListing:
    """The UTKFace ``train`` or ``test`` side (``val`` = ``test``) of a seeded random split."""
    listing = list_utkface(root)
    keep = random_split(len(listing.samples), test_fraction, seed, split)
    return FaceListing([listing.samples[i] for i in keep], listing.classes, listing.skipped)


# --------------------------------------------------------------------------- APPA-REAL
def list_appa_real(root: Path, split: str, age_target: str = "real") -> FaceListing:
    """APPA-REAL samples of the official ``train``/``val``/``test`` split.

    Images are the face crops ``<file_name>_face.jpg`` when present, else ``<file_name>``.

    Args:
        root: The ``appa-real-release`` folder.
        split: ``train``, ``val`` (the release's ``valid``) or ``test``.
        age_target: ``"real"`` (``real_age``) or ``"apparent"`` (``apparent_age_avg``).

    Raises:
        ValueError: for an unknown split/target, a missing CSV column, or no image found.
    """
    if split not in APPA_SPLITS:
        raise ValueError(f"APPA-REAL split must be one of {list(APPA_SPLITS)}, got {split!r}")
    column = {"real": "real_age", "apparent": "apparent_age_avg"}.get(age_target)
    if column is None:
        raise ValueError(f"age_target must be 'real' or 'apparent', got {age_target!r}")
    root, name = Path(root), APPA_SPLITS[split]
    genders = _appa_genders(root / f"allcategories_{name}.csv")
    samples, skipped = [], []
    with open(root / f"gt_avg_{name}.csv", newline="") as f:
        reader = csv.DictReader(f)
        if not {"file_name", column} <= set(reader.fieldnames or ()):
            raise ValueError(f"{root}/gt_avg_{name}.csv lacks file_name/{column} columns")
        for row in reader:
            face = root / name / f"{row['file_name']}_face.jpg"
            path = face if face.is_file() else root / name / row["file_name"]
            if not path.is_file():
                skipped.append(row["file_name"])
                continue
            samples.append(FaceSample(path=str(path), label=genders.get(row["file_name"]),
                                      age_years=float(row[column])))
    _warn_skipped("APPA-REAL", skipped, f"listed in gt_avg_{name}.csv but absent")
    if not samples:
        raise ValueError(f"APPA-REAL: no image of gt_avg_{name}.csv found under {root / name}")
    return FaceListing(samples, GENDER_NAMES if genders else (), skipped)


def _appa_genders(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {row["file"]: GENDER_NAMES.index(row["gender"].strip())
                for row in csv.DictReader(f) if row.get("gender", "").strip() in GENDER_NAMES}


# --------------------------------------------------------------------------- IMDB-WIKI
def age_at_photo(dob_datenum: float, photo_taken_year: int) -> int:
    """Age when the photo was taken, from a MATLAB serial date of birth.

    IMDB-WIKI records only the year of the photo, so it is taken to be mid-year (July 1st).
    """
    birth = date.fromordinal(max(int(dob_datenum) - 366, 1))
    return int(photo_taken_year) - birth.year - (0 if birth.month < 7 else 1)


def _mat_strings(cells: np.ndarray) -> list[str]:
    return [str(c[0]) if np.size(c) else "" for c in np.ravel(cells)]


def list_imdb_wiki(root: Path, part: str, min_face_score: float = 1.0,
                   max_age_years: int = 100) -> FaceListing:
    """IMDB-WIKI faces that pass the usual cleaning, from ``<part>_crop/<part>.mat``.

    Cleaning: a face was found with ``face_score > min_face_score``, no second face
    (``second_face_score`` is NaN), a known gender, and ``0 <= age <= max_age_years`` (age from
    ``dob`` and ``photo_taken``). Counts per reason land in ``dropped``.

    Args:
        root: Folder holding ``imdb_crop/`` or ``wiki_crop/``.
        part: ``"imdb"`` or ``"wiki"``.
        min_face_score: Face detector score threshold.
        max_age_years: Oldest plausible age.

    Raises:
        ValueError: for an unknown part or when nothing survives the cleaning.
    """
    import scipy.io

    if part not in ("imdb", "wiki"):
        raise ValueError(f"IMDB-WIKI part must be 'imdb' or 'wiki', got {part!r}")
    folder = Path(root) / f"{part}_crop"
    meta = scipy.io.loadmat(str(folder / f"{part}.mat"))[part][0, 0]
    paths = _mat_strings(meta["full_path"])
    dob = np.ravel(meta["dob"]).astype(float)
    taken = np.ravel(meta["photo_taken"]).astype(int)
    gender = np.ravel(meta["gender"]).astype(float)
    face_score = np.ravel(meta["face_score"]).astype(float)
    second = np.ravel(meta["second_face_score"]).astype(float)
    dropped: Counter[str] = Counter()
    samples = []
    for i, rel in enumerate(paths):
        age = age_at_photo(dob[i], taken[i]) if dob[i] > 366 else -1
        reason = ("no face" if not face_score[i] > min_face_score else
                  "second face" if not np.isnan(second[i]) else
                  "unknown gender" if np.isnan(gender[i]) else
                  "age out of range" if not 0 <= age <= max_age_years else None)
        if reason:
            dropped[reason] += 1
            continue
        # IMDB-WIKI: 0 female, 1 male -> ours: 0 male, 1 female.
        samples.append(FaceSample(path=str(folder / rel), label=1 - int(gender[i]),
                                  age_years=float(age)))
    if not samples:
        raise ValueError(f"IMDB-WIKI {part}: no record of {folder / part}.mat survives cleaning "
                         f"({dict(dropped)})")
    return FaceListing(samples, GENDER_NAMES, [], dict(dropped))


def imdb_wiki_split(root: Path, part: str, split: str, test_fraction: float, seed: int,
                    min_face_score: float = 1.0) -> FaceListing:
    """A seeded random train/test split of the cleaned IMDB-WIKI records (no official one)."""
    listing = list_imdb_wiki(root, part, min_face_score)
    keep = random_split(len(listing.samples), test_fraction, seed, split)
    return FaceListing([listing.samples[i] for i in keep], listing.classes, [], listing.dropped)
