"""Generated faces in the real layouts of CK+48, FER2013, UTKFace, APPA-REAL and IMDB-WIKI.

Expression faces (48x48 grey): the expression is decided jointly by the mouth (curvature,
opening, one-sided smirk), the eyebrows (slant, height) and the eyes (opening); no single part
separates all seven classes (e.g. happy and contempt share brows, anger and happy share eye
opening). In about a third of the images one part is covered (a hand over the mouth, hair over
a brow, a glint over the eyes), in every split alike — a network that learned only the most
salient part (the mouth) fails there, which is what hiding patches in training addresses.
Subjects differ in face shape, skin tone, hair and eye spacing; each CK+ subject has three
sequences of three frames at rising intensity, like the real release's last frames.

Age/gender faces (64x64 colour): age shows in several cues — wrinkle lines (count and
darkness), hair colour (greying), face size (children's faces are smaller), eye size; gender
in others — hair length (long for 80% of women, 15% of men), lip colour (most adult women),
beard shadow (60% of adult men), jaw width. Every cue is noisy or missing in part of the faces,
so the best predictor uses them all. Race sets the skin tone.

Everything is deterministic by seed and small (a few hundred images, < 2 MB).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np

from tasks._faces.data import FER2013_CLASSES

CKPLUS_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")
#: expression -> (mouth_curve, mouth_open, mouth_smirk, brow_slant, brow_raise, eye_open).
EXPRESSIONS = {
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    "anger": (-0.4, 0.0, 0.0, 1.0, -0.6, 0.6),
    "contempt": (0.0, 0.0, 1.0, 0.0, 0.3, 0.85),
    "disgust": (-0.7, 0.35, 0.0, 0.6, -1.0, 0.4),
    "fear": (-0.3, 0.6, 0.0, -0.8, 0.8, 1.5),
    "happy": (1.0, 0.4, 0.0, 0.0, 0.1, 0.6),
    "sadness": (-1.0, 0.0, 0.0, -1.0, 0.2, 0.8),
    "surprise": (0.0, 1.0, 0.0, 0.0, 1.2, 1.6),
}
FER_TO_EXPRESSION = {"angry": "anger", "sad": "sadness"}
_CANVAS_PX = 96
_OCCLUDE_PROB = 0.35
# Skin tones (RGB) for UTKFace's races 0-4 (white, black, asian, indian, others).
_SKIN_RGB = np.array([[232, 196, 170], [120, 80, 55], [226, 190, 150], [180, 130, 95],
                      [205, 160, 125]], dtype=np.float32)
_HAIR_RGB = np.array([[25, 20, 15], [70, 45, 25], [120, 85, 45], [200, 165, 100]],
                     dtype=np.float32)


def _cv2():
    import cv2

    return cv2


# ----------------------------------------------------------------------- expression faces
def _subject(rng: np.random.Generator) -> dict:
    return dict(face_axes=(int(rng.integers(27, 33)), int(rng.integers(35, 41))),
                skin=float(rng.uniform(140, 210)), hair=float(rng.uniform(10, 90)),
                eye_dx=int(rng.integers(12, 16)), background=float(rng.uniform(20, 110)))


def render_expression(expression: str, subject: dict, rng: np.random.Generator,
                      intensity: float = 1.0, occlude: str | None = None) -> np.ndarray:
    """A 48x48 uint8 grey face showing ``expression`` at ``intensity`` (0 = neutral).

    Args:
        expression: A key of :data:`EXPRESSIONS`.
        subject: Face shape and tones (from :func:`_subject`).
        rng: Random source (cue noise, jitter, pixel noise).
        intensity: Scales the expression's departure from neutral.
        occlude: ``"mouth"``, ``"brows"``, ``"eyes"`` or ``None``.
    """
    cv2 = _cv2()
    neutral = np.array(EXPRESSIONS["neutral"])
    params = neutral + intensity * (np.array(EXPRESSIONS[expression]) - neutral)
    curve, opening, smirk, slant, raise_, eye_open = params + rng.normal(0, 0.08, 6)
    img = np.full((_CANVAS_PX, _CANVAS_PX), subject["background"], np.float32)
    cx, cy = 48 + int(rng.integers(-2, 3)), 50 + int(rng.integers(-2, 3))
    ax, ay = subject["face_axes"]
    cv2.ellipse(img, (cx, cy - 10), (ax + 2, ay - 8), 0, 180, 360, subject["hair"], -1)
    cv2.ellipse(img, (cx, cy), (ax, ay), 0, 0, 360, subject["skin"], -1, cv2.LINE_AA)
    skin, dark = subject["skin"], 35.0
    eye_y, dx = cy - 8, subject["eye_dx"]
    for side in (-1, 1):
        ex = cx + side * dx
        cv2.ellipse(img, (ex, eye_y), (8, max(1, round(4.5 * eye_open))), 0, 0, 360,
                    235.0, -1, cv2.LINE_AA)
        cv2.circle(img, (ex, eye_y), max(1, min(4, round(3 * eye_open))), 20.0, -1)
        brow_y = eye_y - 10 - 4 * raise_
        inner, outer = (ex - side * 7, brow_y + 5 * slant), (ex + side * 9, brow_y - 2 * slant)
        cv2.line(img, (int(inner[0]), round(inner[1])), (int(outer[0]), round(outer[1])), dark,
                 4, cv2.LINE_AA)
    cv2.line(img, (cx, cy + 2), (cx - 2, cy + 10), skin - 45, 2, cv2.LINE_AA)
    _draw_mouth(img, (cx, cy + 22), curve, opening, smirk, skin)
    if occlude is not None:
        _occlude(img, occlude, (cx, cy), eye_y, rng)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    small = cv2.resize(np.clip(img, 0, 255), (48, 48), interpolation=cv2.INTER_AREA)
    return np.clip(small, 0, 255).astype(np.uint8)


def _draw_mouth(img, centre, curve, opening, smirk, skin) -> None:
    cv2 = _cv2()
    mx, my = centre
    xs = np.linspace(-15, 15, 31)
    rel = xs / 15
    upper = my - curve * 8 * rel**2 + curve * 3 - smirk * 8 * np.clip(rel, 0, None) ** 2
    lower = upper + opening * 10 * (1 - rel**2)
    if opening > 0.1:
        poly = np.concatenate([np.stack([mx + xs, upper], 1), np.stack([mx + xs, lower], 1)[::-1]])
        cv2.fillPoly(img, [np.round(poly).astype(np.int32)], 30.0, cv2.LINE_AA)
    for ys in (upper, lower):
        pts = np.round(np.stack([mx + xs, ys], 1)).astype(np.int32)
        cv2.polylines(img, [pts], False, skin - 90, 3, cv2.LINE_AA)


def _occlude(img, part, centre, eye_y, rng) -> None:
    cv2 = _cv2()
    cx, cy = centre
    level = float(rng.uniform(60, 200))
    boxes = {"mouth": (cx - 19, cy + 10, cx + 19, cy + 36),
             "brows": (cx - 24, eye_y - 20, cx + 24, eye_y - 5),
             "eyes": (cx - 24, eye_y - 6, cx + 24, eye_y + 7)}
    x0, y0, x1, y1 = boxes[part]
    cv2.rectangle(img, (x0, y0), (x1, y1), level, -1)


def _maybe_occlusion(rng: np.random.Generator) -> str | None:
    if rng.random() >= _OCCLUDE_PROB:
        return None
    return str(rng.choice(["mouth", "brows", "eyes"], p=[0.5, 0.25, 0.25]))


def write_ckplus48(out: Path, seed: int = 0, num_subjects: int = 60) -> None:
    """CK+48 layout: ``<expression>/S###_###_########.png``, 3 sequences x 3 frames/subject."""
    cv2 = _cv2()
    rng = np.random.default_rng(seed)
    out = Path(out)
    for name in CKPLUS_CLASSES:
        (out / name).mkdir(parents=True, exist_ok=True)
    for s in range(num_subjects):
        subject = _subject(rng)
        expressions = rng.choice(len(CKPLUS_CLASSES), size=3, replace=False)
        for seq, cls in enumerate(expressions, start=1):
            name = CKPLUS_CLASSES[cls]
            start = int(rng.integers(8, 20))
            for k, intensity in enumerate((0.8, 0.9, 1.0)):
                img = render_expression(name, subject, rng, intensity, _maybe_occlusion(rng))
                file = out / name / f"S{100 + s:03d}_{seq:03d}_{start + k:08d}.png"
                cv2.imwrite(str(file), img)


def _fer_images(rng: np.random.Generator, per_class: int):
    for _ in range(per_class):
        for label, name in enumerate(FER2013_CLASSES):
            expression = FER_TO_EXPRESSION.get(name, name)
            intensity = float(rng.uniform(0.7, 1.0))
            yield label, name, render_expression(expression, _subject(rng), rng, intensity,
                                                 _maybe_occlusion(rng))


def write_fer2013_csv(out: Path, seed: int = 0, per_class: tuple[int, int, int] = (30, 8, 8)
                      ) -> None:
    """FER2013's original ``fer2013.csv`` (``emotion,pixels,Usage``).

    ``per_class`` gives the images per class of Training, PublicTest and PrivateTest.
    """
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "fer2013.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, count in zip(("Training", "PublicTest", "PrivateTest"), per_class, strict=True):
            for label, _, img in _fer_images(rng, count):
                writer.writerow([label, " ".join(map(str, img.ravel())), usage])


def write_fer2013_folders(out: Path, seed: int = 0, per_class: tuple[int, int] = (30, 8)
                          ) -> None:
    """FER2013's image-folder release: ``train|test/<emotion>/*.jpg``."""
    cv2 = _cv2()
    rng = np.random.default_rng(seed)
    for split, count in zip(("train", "test"), per_class, strict=True):
        for i, (_, name, img) in enumerate(_fer_images(rng, count)):
            folder = Path(out) / split / name
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{split}_{i:05d}.jpg"), img)


# ----------------------------------------------------------------------- age/gender faces
def _sample_age(rng: np.random.Generator) -> int:
    age = rng.normal(28, 7) if rng.random() < 0.3 else rng.uniform(1, 86)
    return int(np.clip(round(age), 1, 90))


def render_age_face(age: float, gender: int, race: int, rng: np.random.Generator,
                    side_px: int = 64) -> np.ndarray:
    """A ``side_px`` square BGR uint8 face whose cues follow age, gender (1 female) and race."""
    cv2 = _cv2()
    size = 128
    img = np.empty((size, size, 3), np.float32)
    img[:] = rng.uniform(40, 220, 3)
    child = min(age, 18) / 18
    scale = 0.72 + 0.28 * child + rng.normal(0, 0.03)
    cx, cy = 64 + int(rng.integers(-3, 4)), 68 + int(rng.integers(-3, 4))
    ax, ay = int(34 * scale * (1.08 if gender == 0 else 0.96)), int(44 * scale)
    grey = float(np.clip((age - 32) / 40 + rng.normal(0, 0.12), 0, 1))
    hair = (1 - grey) * _HAIR_RGB[rng.integers(len(_HAIR_RGB))] + grey * np.array([215.0] * 3)
    if rng.random() < (0.8 if gender == 1 else 0.15):  # long hair
        cv2.ellipse(img, (cx, cy + 4), (ax + 9, ay + 10), 0, 180, 360, hair.tolist(), -1)
        cv2.rectangle(img, (cx - ax - 9, cy), (cx + ax + 9, cy + ay), hair.tolist(), -1)
    else:
        cv2.ellipse(img, (cx, cy - 8), (ax + 3, ay - 4), 0, 180, 360, hair.tolist(), -1)
    skin = _SKIN_RGB[race] + rng.normal(0, 8, 3)
    cv2.ellipse(img, (cx, cy), (ax, ay), 0, 0, 360, skin.tolist(), -1, cv2.LINE_AA)
    if gender == 0 and age > 17 and rng.random() < 0.6:
        beard = (skin * 0.7).tolist()
        cv2.ellipse(img, (cx, cy + int(ay * 0.45)), (int(ax * 0.8), int(ay * 0.45)), 0, 0, 180,
                    beard, -1)
    eye_r = 4 + 3 * (1 - child)
    for side in (-1, 1):
        ex, ey = cx + side * int(ax * 0.4), cy - int(ay * 0.12)
        cv2.ellipse(img, (ex, ey), (int(eye_r + 3), int(eye_r * 0.7)), 0, 0, 360, [240] * 3, -1)
        cv2.circle(img, (ex, ey), int(eye_r * 0.6), [40, 30, 20], -1)
    _draw_wrinkles(img, age, (cx, cy), (ax, ay), skin, rng)
    lips = [200, 40, 60] if gender == 1 and age > 14 and rng.random() < 0.8 else (skin * 0.75)
    cv2.ellipse(img, (cx, cy + int(ay * 0.5)), (int(ax * 0.35), 4), 0, 0, 360,
                np.asarray(lips, float).tolist(), -1, cv2.LINE_AA)
    img += rng.normal(0, 5, img.shape).astype(np.float32)
    small = cv2.resize(np.clip(img, 0, 255), (side_px, side_px), interpolation=cv2.INTER_AREA)
    return np.clip(small[..., ::-1], 0, 255).astype(np.uint8)  # RGB -> BGR for cv2.imwrite


def _draw_wrinkles(img, age, centre, axes, skin, rng) -> None:
    cv2 = _cv2()
    cx, cy = centre
    ax, ay = axes
    count = int(np.clip(round((age - 28) / 10 + rng.normal(0, 0.6)), 0, 5))
    shade = (skin * (0.8 - 0.05 * count)).tolist()
    for i in range(count):
        y = cy - int(ay * 0.45) - 4 * i
        cv2.ellipse(img, (cx, y + 12), (int(ax * 0.55), 10), 0, 200, 340, shade, 1, cv2.LINE_AA)
    if count >= 3:  # crow's feet and nasolabial folds
        for side in (-1, 1):
            x = cx + side * int(ax * 0.72)
            cv2.line(img, (x, cy - 10), (x + side * 5, cy - 14), shade, 1, cv2.LINE_AA)
            cv2.line(img, (cx + side * 10, cy + 8), (cx + side * 16, cy + 22), shade, 1)


def _utk_datetime(rng: np.random.Generator) -> str:
    return f"2017{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}" + "".join(
        str(d) for d in rng.integers(0, 10, 9))


def write_utkface(out: Path, seed: int = 0, count: int = 500) -> None:
    """UTKFace layout: ``[age]_[gender]_[race]_[datetime].jpg.chip.jpg`` (64x64).

    Two more files carry malformed names as in the real release (missing race; gender 3);
    loaders skip and count them.
    """
    cv2 = _cv2()
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for _ in range(count):
        age, gender, race = _sample_age(rng), int(rng.integers(2)), int(rng.integers(5))
        name = f"{age}_{gender}_{race}_{_utk_datetime(rng)}.jpg.chip.jpg"
        cv2.imwrite(str(out / name), render_age_face(age, gender, race, rng))
    blank = render_age_face(40, 0, 0, rng)
    for name in (f"39_1_{_utk_datetime(rng)}.jpg.chip.jpg", f"61_3_0_{_utk_datetime(rng)}"
                 ".jpg.chip.jpg"):
        cv2.imwrite(str(out / name), blank)


def write_appa_real(out: Path, seed: int = 0, counts: tuple[int, int, int] = (200, 50, 80)
                    ) -> None:
    """APPA-REAL layout: ``{train,valid,test}/NNNNNN.jpg`` and ``NNNNNN.jpg_face.jpg``.

    Labels: ``gt_avg_<split>.csv`` (real and apparent age) and ``allcategories_<split>.csv``
    (gender).
    """
    cv2 = _cv2()
    rng = np.random.default_rng(seed)
    out = Path(out)
    index = 0
    for split, count in zip(("train", "valid", "test"), counts, strict=True):
        (out / split).mkdir(parents=True, exist_ok=True)
        gt_rows, cat_rows = [], []
        for _ in range(count):
            age, gender, race = _sample_age(rng), int(rng.integers(2)), int(rng.integers(5))
            name = f"{index:06d}.jpg"
            face = render_age_face(age, gender, race, rng)
            cv2.imwrite(str(out / split / name), face)
            cv2.imwrite(str(out / split / f"{name}_face.jpg"), face)
            apparent = max(1.0, age + rng.normal(0, 3))
            gt_rows.append([name, int(rng.integers(10, 60)), f"{apparent:.4f}",
                            f"{abs(rng.normal(4, 1.5)):.4f}", age])
            cat_rows.append([name, ("male", "female")[gender], "caucasian", "nomakeup",
                             "neutral", "neutral"])
            index += 1
        _write_csv(out / f"gt_avg_{split}.csv", ["file_name", "num_ratings", "apparent_age_avg",
                                                 "apparent_age_std", "real_age"], gt_rows)
        _write_csv(out / f"allcategories_{split}.csv",
                   ["file", "gender", "race", "makeup", "time", "happiness"], cat_rows)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_imdb_wiki(out: Path, seed: int = 0, part: str = "wiki", count: int = 400) -> None:
    """IMDB-WIKI layout: ``<part>_crop/NN/<id>_<dob>_<year>.jpg`` and ``<part>_crop/<part>.mat``.

    About a quarter of the records fail the usual cleaning (no face, a second face, unknown
    gender, implausible age), as in the real metadata.
    """
    import scipy.io

    cv2 = _cv2()
    rng = np.random.default_rng(seed)
    folder = Path(out) / f"{part}_crop"
    columns: dict[str, list] = {k: [] for k in ("dob", "photo_taken", "full_path", "gender",
                                                "name", "face_location", "face_score",
                                                "second_face_score")}
    for i in range(count):
        age, gender, race = _sample_age(rng), int(rng.integers(2)), int(rng.integers(5))
        taken = int(rng.integers(1990, 2016))
        birth = date(taken - age - (0 if rng.random() < 0.5 else 1), int(rng.integers(1, 13)),
                     int(rng.integers(1, 29)))
        flaw = rng.random()
        rel = f"{i % 100:02d}/{i}_{birth.isoformat()}_{taken}.jpg"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / rel), render_age_face(age, gender, race, rng))
        columns["dob"].append(float(birth.toordinal() + 366) if flaw >= 0.04 else 0.0)
        columns["photo_taken"].append(taken)
        columns["full_path"].append(np.array([rel]))
        columns["gender"].append(np.nan if 0.04 <= flaw < 0.08 else float(1 - gender))
        columns["name"].append(np.array([f"person {i}"]))
        columns["face_location"].append(np.array([[10.0, 10.0, 54.0, 54.0]]))
        columns["face_score"].append(-np.inf if 0.08 <= flaw < 0.18 else rng.uniform(1.5, 6))
        columns["second_face_score"].append(rng.uniform(1, 3) if 0.18 <= flaw < 0.25 else np.nan)
    dtype = [(k, object) for k in columns]
    record = np.empty((1, 1), dtype=dtype)
    for key, values in columns.items():
        if key in ("full_path", "name", "face_location"):
            cell = np.empty((1, len(values)), dtype=object)
            for j, value in enumerate(values):
                cell[0, j] = value
            record[key][0, 0] = cell
        else:
            record[key][0, 0] = np.array([values], dtype=float)
    scipy.io.savemat(str(folder / f"{part}.mat"), {part: record})
