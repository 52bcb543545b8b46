"""The mean pixel of a training set: what HaS fills where the normalizer uses another dataset's.

The HaS paper sets hidden pixels to the mean RGB value of the training images.
Read with OpenCV in BGR order (what mmcv's ``LoadImageFromFile`` gives the pipeline); images
of another depth are converted to 3 channels. Remembered in the process for the same file list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: More files than this: an evenly spaced subset of this many is read (the mean moves by far
#: less than the half grey level a uint8 fill rounds to).
MAX_IMAGES = 5000
_MEANS: dict[tuple[str, ...], list[float]] = {}


def mean_pixel_bgr(paths: Sequence[str | Path], max_images: int = MAX_IMAGES) -> list[float]:
    """Mean (B, G, R) over every pixel of the images at ``paths``, in 0-255 units.

    Raises:
        ValueError: when ``paths`` is empty or a file cannot be read as an image.
    """
    import cv2

    key = tuple(sorted(str(p) for p in paths))
    if not key:
        raise ValueError("the training set's mean pixel needs at least one training image")
    if key not in _MEANS:
        step = max(1, -(-len(key) // max_images))
        sums, count = np.zeros(3), 0
        for path in key[::step]:
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{path} is not a readable image; replace or remove it")
            sums += image.reshape(-1, 3).sum(axis=0, dtype=np.float64)
            count += image.shape[0] * image.shape[1]
        _MEANS[key] = [float(v) for v in sums / count]
    return list(_MEANS[key])
