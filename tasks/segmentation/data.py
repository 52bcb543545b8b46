"""SegNet CamVid list files (``train/x.png trainannot/x.png`` per line), without mmseg.

The SegNet release writes absolute paths (``/SegNet/CamVid/train/x.png``); they are read
relative to the dataset root. Kept free of framework imports so layout checks stay cheap.
"""

from __future__ import annotations

from pathlib import PurePosixPath


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
