"""Generated person re-identification data in the Market-1501 and DukeMTMC-reID layouts.

Each identity is a figure (hair + face, torso with a coloured texture, legs, optional bag on
one side) whose part colours, torso pattern and bag are drawn once per identity, so no single
part has to be unique: a model does best when it uses every part. Each image of an identity is
seen by one of several cameras, and each camera has its own background, colour gain and
brightness; figures get scale and position jitter, a front/back (mirror) view, pixel noise and,
sometimes, an occluder covering part of the body (the case HaS is meant to help with).

Files follow the real naming so torchreid's own dataset classes read them:

- Market-1501: ``ROOT/market1501/Market-1501-v15.09.15/{bounding_box_train,query,
  bounding_box_test}/PPPP_cCsS_FFFFFF_NN.jpg``; the gallery also holds distractors (id
  ``0000``: background and partial-body crops) and junk (id ``-1``), which torchreid keeps
  as gallery negatives and ignores, respectively.
- DukeMTMC-reID: ``ROOT/dukemtmc-reid/DukeMTMC-reID/{...}/PPPP_cC_fFFFFFFF.jpg`` (8 cameras,
  no junk ids; distractor identities appear in the gallery only, as in the real set).

Everything is deterministic by seed. Crops are 128x64 pixels like Market-1501's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEIGHT_PX = 128
WIDTH_PX = 64
MARKET_SUBDIR = "market1501/Market-1501-v15.09.15"
DUKE_SUBDIR = "dukemtmc-reid/DukeMTMC-reID"
SPLIT_DIRS = ("bounding_box_train", "query", "bounding_box_test")

# A small shared palette (RGB): identities differ by the *combination* of part colours.
_PALETTE = np.array(
    [[200, 30, 40], [40, 150, 60], [230, 210, 40], [30, 90, 190], [240, 130, 40],
     [130, 40, 160], [60, 200, 210], [235, 235, 235], [30, 30, 35], [120, 80, 50],
     [150, 150, 155], [230, 120, 170]],
    dtype=np.float32,
)
_SKIN = np.array([[235, 200, 170], [200, 150, 110], [140, 95, 65], [95, 65, 45]], np.float32)
_PATTERNS = ("plain", "hstripes", "vstripes", "checks")


@dataclass(frozen=True)
class Identity:
    """The appearance of one person (indices into the palettes)."""

    hair: int
    skin: int
    shirt: int
    shirt_second: int
    pattern: int
    period_px: int
    trousers: int
    bag: int  # -1: none
    bag_side: int  # 0 left, 1 right (in the front view)


@dataclass(frozen=True)
class Camera:
    """What one camera does to every image it records."""

    background: np.ndarray  # (3,) RGB
    background_second: np.ndarray  # (3,) RGB, for the gradient
    gain: np.ndarray  # (3,) per-channel colour gain
    brightness: float  # additive offset


def _identities(rng: np.random.Generator, count: int) -> list[Identity]:
    """``count`` distinct identities."""
    seen: set[tuple] = set()
    out: list[Identity] = []
    while len(out) < count:
        shirt, second = rng.choice(len(_PALETTE), size=2, replace=False)
        ident = Identity(
            hair=int(rng.choice([8, 9, 2, 10, 7])), skin=int(rng.integers(len(_SKIN))),
            shirt=int(shirt), shirt_second=int(second), pattern=int(rng.integers(4)),
            period_px=int(rng.choice([4, 6, 8])), trousers=int(rng.integers(len(_PALETTE))),
            bag=int(rng.integers(len(_PALETTE))) if rng.random() < 0.5 else -1,
            bag_side=int(rng.integers(2)),
        )
        key = (ident.shirt, ident.shirt_second, ident.pattern, ident.trousers, ident.bag)
        if key not in seen:
            seen.add(key)
            out.append(ident)
    return out


def _cameras(rng: np.random.Generator, count: int) -> list[Camera]:
    return [
        Camera(
            background=rng.uniform(60, 190, 3).astype(np.float32),
            background_second=rng.uniform(60, 190, 3).astype(np.float32),
            gain=rng.uniform(0.75, 1.25, 3).astype(np.float32),
            brightness=float(rng.uniform(-25, 25)),
        )
        for _ in range(count)
    ]


def _background(rng: np.random.Generator, cam: Camera) -> np.ndarray:
    t = np.linspace(0, 1, HEIGHT_PX, dtype=np.float32)[:, None, None]
    img = (1 - t) * cam.background + t * cam.background_second
    img = np.broadcast_to(img, (HEIGHT_PX, WIDTH_PX, 3)).copy()
    for _ in range(int(rng.integers(0, 3))):  # clutter: a few rectangles
        y, x = int(rng.integers(0, HEIGHT_PX - 8)), int(rng.integers(0, WIDTH_PX - 8))
        h, w = int(rng.integers(6, 40)), int(rng.integers(4, 20))
        img[y:y + h, x:x + w] = rng.uniform(40, 220, 3)
    return img


def _torso_texture(ident: Identity, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    p = ident.period_px
    if _PATTERNS[ident.pattern] == "hstripes":
        second = (yy // (p // 2 or 1)) % 2 == 1
    elif _PATTERNS[ident.pattern] == "vstripes":
        second = (xx // (p // 2 or 1)) % 2 == 1
    elif _PATTERNS[ident.pattern] == "checks":
        second = ((yy // p) + (xx // p)) % 2 == 1
    else:
        second = np.zeros((h, w), dtype=bool)
    tex = np.where(second[..., None], _PALETTE[ident.shirt_second], _PALETTE[ident.shirt])
    return tex.astype(np.float32)


def _draw_figure(img: np.ndarray, rng: np.random.Generator, ident: Identity,
                 parts: tuple[str, ...] = ("head", "torso", "legs", "bag")) -> None:
    """Draw ``ident`` onto ``img`` in place, with scale/position jitter and a random view."""
    import cv2

    scale = rng.uniform(0.78, 0.96)
    fig_h = int(HEIGHT_PX * scale)
    top = int(rng.integers(2, HEIGHT_PX - fig_h + 1))
    cx = WIDTH_PX // 2 + int(rng.integers(-4, 5))
    unit = fig_h / 100.0  # body proportions in percent of the figure height
    mirrored = rng.random() < 0.5  # back view: the bag is on the other side
    layer = img.copy()
    if "legs" in parts:
        leg_w, y0, y1 = int(7 * unit), top + int(52 * unit), top + fig_h
        for side in (-1, 1):
            x0 = cx + (1 if side > 0 else -leg_w - 1)
            layer[y0:y1, max(0, x0):x0 + leg_w] = _PALETTE[ident.trousers]
        layer[y1 - int(4 * unit):y1, cx - leg_w - 2:cx + leg_w + 2] = 30.0
    if "torso" in parts:
        half_w, y0, y1 = int(11 * unit), top + int(17 * unit), top + int(54 * unit)
        x0 = cx - half_w
        layer[y0:y1, x0:x0 + 2 * half_w] = _torso_texture(ident, y1 - y0, 2 * half_w)
    if "head" in parts:
        r = max(3, int(7 * unit))
        centre = (cx, top + r + 1)
        cv2.circle(layer, centre, r, _SKIN[ident.skin].tolist(), -1)
        cv2.ellipse(layer, centre, (r, r), 0, 180, 360, _PALETTE[ident.hair].tolist(), -1)
    if "bag" in parts and ident.bag >= 0:
        side = 1 if (ident.bag_side == 1) != mirrored else -1
        bw, bh = int(7 * unit), int(14 * unit)
        x0 = cx + side * int(11 * unit) - (bw if side < 0 else 0)
        y0 = top + int(34 * unit)
        layer[y0:y0 + bh, max(0, x0):max(0, x0 + bw)] = _PALETTE[ident.bag]
    img[:] = layer


def _occlude(img: np.ndarray, rng: np.random.Generator) -> None:
    """Cover a horizontal band or a side block of the figure with a flat occluder."""
    colour = rng.uniform(30, 220, 3)
    if rng.random() < 0.5:
        h = int(rng.integers(HEIGHT_PX // 5, HEIGHT_PX // 3))
        y = int(rng.integers(HEIGHT_PX // 4, HEIGHT_PX - h))
        img[y:y + h] = colour
    else:
        w = int(rng.integers(WIDTH_PX // 4, WIDTH_PX // 2))
        x = 0 if rng.random() < 0.5 else WIDTH_PX - w
        img[:, x:x + w] = colour


def _finish(img: np.ndarray, rng: np.random.Generator, cam: Camera) -> np.ndarray:
    img = img * cam.gain + cam.brightness + rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_person(rng: np.random.Generator, ident: Identity, cam: Camera,
                  occlusion_prob: float = 0.25) -> np.ndarray:
    """One 128x64x3 uint8 RGB crop of ``ident`` seen by ``cam``."""
    img = _background(rng, cam)
    _draw_figure(img, rng, ident)
    if rng.random() < occlusion_prob:
        _occlude(img, rng)
    return _finish(img, rng, cam)


def render_distractor(rng: np.random.Generator, cam: Camera, stranger: Identity) -> np.ndarray:
    """A bad detection: background only, or a stranger's partial body."""
    img = _background(rng, cam)
    if rng.random() < 0.6:
        parts = tuple(rng.choice(["head", "torso", "legs"], size=int(rng.integers(1, 3)),
                                 replace=False))
        _draw_figure(img, rng, stranger, parts=parts)
    return _finish(img, rng, cam)


def _spread(rng: np.random.Generator, total: int, cameras: list[int]) -> list[int]:
    """Camera of each of ``total`` images, at least two images per listed camera."""
    cams = [c for c in cameras for _ in range(2)]
    cams += list(rng.choice(cameras, size=max(0, total - len(cams))))
    return [int(c) for c in cams]


def _pick_pids(rng: np.random.Generator, count: int, high: int) -> list[int]:
    return sorted(int(p) for p in rng.choice(np.arange(1, high + 1), size=count, replace=False))


@dataclass
class _Writer:
    """Names files in a layout's convention and writes them as JPEG."""

    base: Path
    style: str  # "market" or "duke"
    frame: int = 0

    def write(self, split: str, pid: int, cam: int, img: np.ndarray, rng) -> None:
        import cv2

        self.frame += int(rng.integers(5, 60))
        if self.style == "market":
            pid_txt = "-1" if pid == -1 else f"{pid:04d}"
            seq = 1 + self.frame % 6
            name = f"{pid_txt}_c{cam}s{seq}_{self.frame:06d}_{int(rng.integers(1, 9)):02d}.jpg"
        else:
            name = f"{pid:04d}_c{cam}_f{self.frame:07d}.jpg"
        cv2.imwrite(str(self.base / split / name), img[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 92])


def write_reid_layout(
    out_dir: Path,
    seed: int = 0,
    *,
    style: str = "market",
    num_train_ids: int = 30,
    num_test_ids: int = 20,
    num_cameras: int = 6,
    images_per_id: int = 10,
    num_distractor_ids: int = 0,
    num_distractor_images: int = 20,
    num_junk_images: int = 10,
) -> Path:
    """Write a generated re-ID dataset; return the folder holding the three splits.

    Args:
        out_dir: The data root (the folder torchreid's ``root`` points to).
        seed: Everything is deterministic by seed.
        style: ``"market"`` (Market-1501 names, ids 0000/-1 for distractors/junk) or
            ``"duke"`` (DukeMTMC-reID names, 8 cameras, gallery-only distractor identities).
        num_train_ids: Training identities.
        num_test_ids: Test identities (each in query and gallery, seen by 2-4 cameras).
        num_cameras: Cameras (1-6 for Market-1501, 1-8 for DukeMTMC-reID).
        images_per_id: Images per identity.
        num_distractor_ids: Identities that appear in the gallery only (DukeMTMC-reID style).
        num_distractor_images: Market-style ``0000`` gallery distractors.
        num_junk_images: Market-style ``-1`` gallery junk images.
    """
    max_cams, subdir = (6, MARKET_SUBDIR) if style == "market" else (8, DUKE_SUBDIR)
    if not 2 <= num_cameras <= max_cams:
        raise ValueError(f"num_cameras must be in 2..{max_cams} for style {style!r}")
    if images_per_id < 4:
        raise ValueError("images_per_id must be at least 4 (two cameras, two images each)")
    rng = np.random.default_rng(seed)
    base = Path(out_dir) / subdir
    for split in SPLIT_DIRS:
        (base / split).mkdir(parents=True, exist_ok=True)
    cameras = _cameras(rng, num_cameras)
    n_ids = num_train_ids + num_test_ids + num_distractor_ids
    people = _identities(rng, n_ids + 8)
    strangers = people[n_ids:]
    pids = [int(p) for p in rng.permutation(_pick_pids(rng, n_ids, 1501))]
    writer = _Writer(base, "market" if style == "market" else "duke")

    def views(split_cams: int) -> list[int]:
        chosen = sorted(rng.choice(num_cameras, size=split_cams, replace=False) + 1)
        return _spread(rng, images_per_id, [int(c) for c in chosen])

    for i in range(num_train_ids):
        for cam in views(int(rng.integers(2, min(4, num_cameras) + 1))):
            writer.write("bounding_box_train", pids[i], cam, render_person(
                rng, people[i], cameras[cam - 1]), rng)
    for i in range(num_train_ids, num_train_ids + num_test_ids):
        queried: set[int] = set()
        for cam in views(int(rng.integers(2, min(4, num_cameras) + 1))):
            split = "bounding_box_test" if cam in queried else "query"
            queried.add(cam)
            writer.write(split, pids[i], cam, render_person(rng, people[i], cameras[cam - 1]), rng)
    for i in range(num_train_ids + num_test_ids, n_ids):
        for cam in views(int(rng.integers(1, min(3, num_cameras) + 1))):
            writer.write("bounding_box_test", pids[i], cam,
                         render_person(rng, people[i], cameras[cam - 1]), rng)
    if style == "market":
        for pid, count in ((0, num_distractor_images), (-1, num_junk_images)):
            for _ in range(count):
                cam = int(rng.integers(1, num_cameras + 1))
                stranger = strangers[int(rng.integers(len(strangers)))]
                writer.write("bounding_box_test", pid, cam,
                             render_distractor(rng, cameras[cam - 1], stranger), rng)
    return base


def write_market1501(out_dir: Path, seed: int = 0) -> None:
    """Generated Market-1501 (30 train ids, 20 test ids, 6 cameras, 10 images per id)."""
    write_reid_layout(out_dir, seed, style="market")


def write_dukemtmc_reid(out_dir: Path, seed: int = 0) -> None:
    """Generated DukeMTMC-reID (30 train ids, 20 test ids + 5 distractor ids, 8 cameras)."""
    write_reid_layout(out_dir, seed, style="duke", num_cameras=8, num_distractor_ids=5,
                      num_distractor_images=0, num_junk_images=0)
