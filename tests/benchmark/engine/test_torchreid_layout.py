"""torchreid in both import layouts: PyPI's repackaging (``torchreid.reid.*``) and the official one.

PyPI's ``torchreid`` 0.2.5 (the lock's) keeps deep-person-reid's code under ``torchreid.reid``;
deep-person-reid installed from its repository has it at the top (``torchreid.data``). The
stand-in trees are written under ``tmp_path`` and put first on ``PYTHONPATH`` of a subprocess,
so they shadow the installed package; nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmark.engine import compat
from benchmark.engine.paths import REPO_ROOT

#: A stand-in torchreid: just the modules and names hasbench's re-ID data code reaches.
STAND_IN = {
    "data/__init__.py": """
        _REGISTERED = {}

        def register_image_dataset(name, dataset):
            if name in _REGISTERED:
                raise ValueError(f"{name} already registered")
            _REGISTERED[name] = dataset
    """,
    "data/datasets/__init__.py": "",
    "data/datasets/dataset.py": """
        class ImageDataset:
            def __getitem__(self, index):
                return ("stand-in item", index)
    """,
    "data/datasets/image.py": """
        from {code}.data.datasets.dataset import ImageDataset

        class Market1501(ImageDataset):
            pass

        class DukeMTMCreID(ImageDataset):
            pass
    """,
}


def _write_stand_in(root: Path, layout: str) -> Path:
    """Write a stand-in ``torchreid`` in ``layout`` (``official`` or ``pypi``) under ``root``."""
    package = root / "torchreid"
    code = package if layout == "official" else package / "reid"
    dotted = "torchreid" if layout == "official" else "torchreid.reid"
    for rel, text in STAND_IN.items():
        path = code / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).replace("{code}", dotted))
    if layout == "pypi":
        (code / "__init__.py").write_text("from torchreid.reid import data\n")
    # Both layouts set torchreid.data as an attribute (the PyPI one to torchreid.reid.data).
    (package / "__init__.py").write_text(f"LAYOUT = {layout!r}\nfrom {dotted} import data\n")
    return root


def _official_from_installed(root: Path) -> Path:
    """The official layout rebuilt from the installed PyPI package (its ``reid/`` moved up).

    torchreid-pip's files are deep-person-reid's with ``torchreid.`` imports rewritten to
    ``torchreid.reid.``; undoing that gives deep-person-reid's own layout.
    """
    import importlib.util

    installed = Path(importlib.util.find_spec("torchreid").origin).parent
    package = root / "torchreid"
    shutil.copytree(installed / "reid", package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyx", "*.c"))
    for path in package.rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\btorchreid\.reid\b", "torchreid", text)
        path.write_text(text)
    return root


def _python(code: str, path: Path, timeout: int = 300) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(REPO_ROOT)])}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
                         capture_output=True, text=True, timeout=timeout, env=env,
                         cwd=REPO_ROOT)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    return out.stdout


@pytest.mark.parametrize(("layout", "expected"), [
    ("official", "torchreid.data.datasets.image"),
    ("pypi", "torchreid.reid.data.datasets.image"),
])
def test_resolver_imports_the_layout_that_is_installed(tmp_path, layout, expected):
    root = _write_stand_in(tmp_path, layout)
    out = _python("""
        import torchreid
        from benchmark.engine.compat import torchreid_module
        module = torchreid_module("data.datasets.image")
        print(torchreid.LAYOUT, module.__name__, module.__file__)
        print(torchreid_module("data.datasets.dataset").ImageDataset.__module__)
    """, root)
    first, second = out.splitlines()
    name_layout, name, file = first.split()
    assert (name_layout, name) == (layout, expected)
    assert Path(file).is_relative_to(tmp_path)  # the stand-in, not the installed package
    assert second == expected.replace(".image", ".dataset")


@pytest.mark.filterwarnings("ignore:Cython evaluation")
def test_resolver_on_the_locked_package_takes_torchreid_reid():
    module = compat.torchreid_module("data.datasets.image")
    assert module.__name__ == "torchreid.reid.data.datasets.image"
    assert hasattr(module, "Market1501") and hasattr(module, "DukeMTMCreID")


def test_resolver_names_a_missing_module(tmp_path):
    root = _write_stand_in(tmp_path, "official")
    out = _python("""
        from benchmark.engine.compat import torchreid_module
        try:
            torchreid_module("data.nope")
        except ModuleNotFoundError as err:
            print(err.name)
    """, root)
    assert out.strip() == "torchreid.data.nope"


def test_reid_offline_datasets_build_on_the_official_layout(tmp_path):
    # tasks/reid/data.py's two torchreid imports go through the resolver: its offline dataset
    # classes subclass the official layout's Market1501/DukeMTMCreID and read items through its
    # ImageDataset.
    root = _write_stand_in(tmp_path, "official")
    image = tmp_path / "0001_c1s1_000001_00.jpg"
    from PIL import Image

    Image.new("RGB", (8, 16)).save(image)
    out = _python(f"""
        import torchreid
        from tasks.reid.data import register_offline_datasets
        classes = register_offline_datasets()
        market = classes["market1501"]
        print(torchreid.LAYOUT, [base.__module__ for base in market.__mro__[1:3]])
        print(sorted(torchreid.data._REGISTERED))
        item = market.__new__(market)
        item.data = [({str(image)!r}, 1, 0, 0)]
        print(item[0])
    """, root)
    layout, registered, item = out.splitlines()
    assert layout == ("official ['torchreid.data.datasets.image', "
                      "'torchreid.data.datasets.dataset']")
    assert registered == "['hasbench_dukemtmcreid', 'hasbench_market1501']"
    assert item == "('stand-in item', 0)"


@pytest.mark.slow
def test_reid_run_trains_on_deep_person_reids_own_layout(tmp_path):
    # The locked package rebuilt in the official layout (no torchreid.reid at all): a one-epoch
    # HaS run on generated Market-1501 trains and evaluates.
    root = _official_from_installed(tmp_path / "official")
    data = tmp_path / "market"
    out = _python(f"""
        import importlib.util, json
        import torchreid
        assert importlib.util.find_spec("torchreid.reid") is None
        assert torchreid.data.__name__ == "torchreid.data"
        from benchmark.engine.runner import run_one
        from benchmark.engine.spec import RunSpec
        from tasks.reid.synth import write_reid_layout

        write_reid_layout({str(data)!r}, seed=0, num_train_ids=6, num_test_ids=5,
                          images_per_id=4, num_cameras=3, num_distractor_images=4,
                          num_junk_images=3)
        options = (("data.height", 64), ("data.width", 32), ("data.workers", 0),
                   ("test.batch_size", 64), ("train.batch_size", 8))
        spec = RunSpec("reid", method="has", dataset="market1501", data_root={str(data)!r},
                       model="osnet_x0_25", epochs=1, options=options, synthetic=True)
        record = run_one(spec, {str(tmp_path / "results")!r}, raise_errors=True)
        print(json.dumps([record.status, sorted(record.metrics), torchreid.__file__]))
    """, root, timeout=600)
    import json

    status, metrics, file = json.loads(out.splitlines()[-1])
    assert status == "ok" and metrics == ["map", "rank1", "rank10", "rank5"]
    assert Path(file).is_relative_to(tmp_path)
