"""README "Use HaS in your own training": its code blocks, run as a user's project would run them.

The blocks are read from the README section itself (so the README cannot drift from what is
tested). Each OpenMMLab block is a user config inheriting an upstream config with ``_base_``;
it is loaded in a fresh interpreter that imports nothing of hasbench first (only its
``custom_imports``), shrunk to real images from ``../shared/data`` (the data, the image sizes
and the schedule only: the HaS stage and the rest of the pipeline are the README's) and trained
for a few iterations through the library's own ``Runner.from_cfg``. No real video is in
``../shared/data``: the mmaction2 clips are cut from CamVid's real frame sequences. No real
re-ID data either: the torchreid script runs on generated Market-1501 data.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.engine.paths import REPO_ROOT, data_dir

README = REPO_ROOT / "README.md"
SECTION = "## Use HaS in your own training"
DATA = data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / "cifar10-jpeg-subset").is_dir() or not (DATA / "camvid-subset").is_dir(),
    reason=f"real data subsets not found at {DATA} (see ../shared/data/README.md)")
ITERS = 2


def readme_blocks() -> dict[str, str]:
    """The ```python block of each ``###`` subsection of the README's section, by its title."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    blocks = {}
    for part in re.split(r"^### ", text[start:end if end != -1 else None], flags=re.M)[1:]:
        title = part.splitlines()[0].strip()
        code = re.findall(r"^```python\n(.*?)^```$", part, flags=re.M | re.S)
        assert len(code) == 1, f"README subsection {title!r} must hold one python block"
        blocks[title] = code[0]
    return blocks


def test_the_section_has_an_example_per_library():
    assert list(readme_blocks()) == ["mmpretrain", "mmsegmentation", "mmaction2", "torchreid",
                                     "torchvision (and timm)"]
    for title, code in readme_blocks().items():
        compile(code, title, "exec")
        assert len(code.splitlines()) <= 16, f"{title}: keep the README example short"


# --------------------------------------------------------------------------- OpenMMLab configs
#: Runs in a fresh interpreter: argv = library, config file, data root. Prints one JSON line.
DRIVER = r'''
import json, sys
import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

torch.set_num_threads(1)
library, config, data = sys.argv[1:4]
imported_before = "benchmark.pipelines" in sys.modules
cfg = Config.fromfile(config)  # its custom_imports import benchmark.pipelines, nothing else
imported_by_config = "benchmark.pipelines" in sys.modules

def stage(type_):
    return next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == type_)

# The shrinking: data, image sizes and schedule; the README's pipeline stays as it is.
dataset = cfg.train_dataloader.dataset
if library == "mmpretrain":
    cfg.train_dataloader.dataset = dict(
        type="CustomDataset", data_root=f"{data}/cifar10-jpeg-subset", data_prefix="train",
        indices=list(range(0, 3000, 300)), pipeline=dataset.pipeline)
    stage("RandomResizedCrop").scale = 64
elif library == "mmseg":
    dataset.update(data_root=f"{data}/camvid-subset", img_suffix=".png", seg_map_suffix=".png",
                   data_prefix=dict(img_path="train", seg_map_path="trainannot"), indices=4)
    stage("RandomResize").scale = (160, 120)
    stage("RandomCrop").crop_size = (64, 64)
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.model.pretrained = None
else:
    dataset.update(ann_file=f"{data}/train.txt", data_prefix=dict(video=data))
    stage("Resize").scale = (-1, 96)
    stage("MultiScaleCrop").input_size = 64
    next(t for t in dataset.pipeline if t.get("keep_ratio") is False).scale = (64, 64)
    cfg.model.backbone.pretrained = None
    cfg.model.cls_head.num_classes = 2
cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=int(sys.argv[4]))
for key in ("val_dataloader", "val_cfg", "val_evaluator", "test_dataloader", "test_cfg",
            "test_evaluator", "param_scheduler"):
    cfg[key] = None
cfg.default_hooks.checkpoint = None
cfg.update(work_dir="work", log_level="WARNING", randomness=dict(seed=0))

runner = Runner.from_cfg(cfg)
from benchmark.hide_and_seek_args import fill_values
from benchmark.pipelines import HideAndSeek
seen = []  # the fraction of each training input's pixels at the fill (0 after normalization)
runner.model.backbone.register_forward_pre_hook(
    lambda module, args: seen.append(float((args[0].abs() < 0.011).all(1).float().mean())))
runner.train()

dataset = runner.train_dataloader.dataset
stages = dataset.pipeline.transforms
has = next(t for t in stages if isinstance(t, HideAndSeek))
k = stages.index(has)
samples = []
for i in range(4):  # the pipeline up to HaS, then HaS: only its cells change, to the fill
    np.random.seed(i)
    results = dataset.get_data_info(i)
    for t in stages[:k]:
        results = t(results)
    key = "img" if "img" in results else "imgs"
    before = np.array(results[key])
    labels = {n: np.copy(results[n]) for n in ("gt_label", "gt_seg_map", "label") if n in results}
    results = has(results)
    after = np.array(results[key])
    changed = (before != after).any(-1)
    fill = fill_values(has.mean, after.shape[-1], after.dtype)  # rounded for integer images
    samples.append(dict(
        hidden=float(changed.mean()), at_fill=bool((after[changed] == fill).all()),
        labels_kept=all(np.array_equal(v, results[n]) for n, v in labels.items())))
print(json.dumps(dict(
    imported_before=imported_before, imported_by_config=imported_by_config,
    pipeline=[type(t).__name__ for t in stages], has_module=type(has).__module__,
    has_mean=list(has.mean), iters=runner.iter, seen=seen, samples=samples)))
'''


def write_clips(camvid: Path, out: Path) -> Path:
    """Four 8-frame mp4 clips from CamVid's real frame sequences, in mmaction2's video layout.

    Label 0: sequence 0001TP, label 1: sequence 0006R0 (two clips each); returns ``out``.
    """
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for label, seq in enumerate(("0001TP", "0006R0")):
        frames = sorted((camvid / "train").glob(f"{seq}_*.png"))
        for clip in range(2):
            name = f"{seq}_{clip}.mp4"
            writer = cv2.VideoWriter(str(out / name), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                                     (160, 120))
            for frame in frames[clip * 8:(clip + 1) * 8]:
                writer.write(cv2.resize(cv2.imread(str(frame)), (160, 120)))
            writer.release()
            lines.append(f"{name} {label}")
    (out / "train.txt").write_text("\n".join(lines) + "\n")
    return out


def run_in_fresh_python(code: str, args: list[str], cwd: Path) -> dict:
    """Run ``code`` in a fresh interpreter in ``cwd`` (hasbench importable); its JSON output."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


MM_CASES = {  # README title: (library scope, the pipeline the runner must build)
    "mmpretrain": ("mmpretrain", ["LoadImageFromFile", "RandomResizedCrop", "RandomFlip",
                                  "HideAndSeek", "PackInputs"]),
    "mmsegmentation": ("mmseg", ["LoadImageFromFile", "LoadAnnotations", "RandomResize",
                                 "RandomCrop", "RandomFlip", "PhotoMetricDistortion",
                                 "HideAndSeek", "PackSegInputs"]),
    "mmaction2": ("mmaction", ["DecordInit", "SampleFrames", "DecordDecode", "Resize",
                               "MultiScaleCrop", "Resize", "Flip", "HideAndSeek", "FormatShape",
                               "PackActionInputs"]),
}
#: The data preprocessor's mean in each pipeline's channel order (BGR, BGR, RGB).
MEANS = {"mmpretrain": [103.53, 116.28, 123.675], "mmseg": [103.53, 116.28, 123.675],
         "mmaction": [123.675, 116.28, 103.53]}


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("title", list(MM_CASES))
def test_readme_config_trains_through_the_library_runner(title, tmp_path):
    library, pipeline = MM_CASES[title]
    config = tmp_path / "my_config.py"
    config.write_text(readme_blocks()[title])
    data = write_clips(DATA / "camvid-subset", tmp_path / "clips") if library == "mmaction" \
        else DATA
    out = run_in_fresh_python(DRIVER, [library, str(config), str(data), str(ITERS)], tmp_path)

    # custom_imports alone imported hasbench (shims + registration), in a fresh interpreter
    assert not out["imported_before"] and out["imported_by_config"]
    # the runner's training pipeline is the upstream one with our stage before packing
    assert out["pipeline"] == pipeline
    assert out["has_module"] == "benchmark.pipelines.mm"
    assert out["has_mean"] == pytest.approx(MEANS[library])
    # it trained: ITERS iterations, and the network was fed hidden cells (0 after normalizing)
    assert out["iters"] == ITERS
    assert len(out["seen"]) == ITERS and max(out["seen"]) > 0.05
    # a training sample: HaS changes only its cells, to the fill; labels are untouched
    samples = out["samples"]
    assert any(s["hidden"] > 0.05 for s in samples)
    assert all(s["at_fill"] and s["labels_kept"] for s in samples)


# --------------------------------------------------------------------------- torchreid
REID_CHECK = r'''
import json
from pathlib import Path
from benchmark.pipelines.torchreid import HideAndSeekTensor
names = [type(t).__name__ for t in datamanager.transform_tr.transforms]
train = next(iter(datamanager.train_loader))["img"]
query = next(iter(datamanager.test_loader["market1501"]["query"]))["img"]
print(json.dumps(dict(
    names=names,
    train_hidden=float((train == 0).all(1).float().mean()),
    test_hidden=float((query == 0).all(1).float().mean()),
    loader_uses_it=datamanager.train_loader.dataset.transform is datamanager.transform_tr,
    checkpoints=sorted(p.name for p in Path("log/resnet50-has/model").iterdir()))))
'''
#: What the re-ID test shrinks (each must occur once in the README's block).
REID_SHRINK = {"height=256, width=128": "height=64, width=32", "max_epoch=60": "max_epoch=1",
               "batch_size_train=32": "batch_size_train=8, workers=0"}


def shrink(code: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert code.count(old) == 1, f"the README block no longer holds {old!r}"
        code = code.replace(old, new)
    return code


@pytest.mark.slow
def test_readme_torchreid_script_trains_with_hidden_cells(tmp_path):
    from tasks.reid.synth import write_reid_layout

    write_reid_layout(tmp_path / "reid-data", seed=0, num_train_ids=4,
                      num_test_ids=6, images_per_id=4, num_cameras=3,
                      num_distractor_images=20, num_junk_images=1)
    code = shrink(readme_blocks()["torchreid"], REID_SHRINK)
    out = run_in_fresh_python(code + REID_CHECK, [], tmp_path)
    assert out["names"] == ["Resize", "RandomHorizontalFlip", "ToTensor", "Normalize",
                            "HideAndSeekTensor"]
    assert out["loader_uses_it"]
    assert out["train_hidden"] > 0.05 and out["test_hidden"] == 0.0
    assert out["checkpoints"] == ["model.pth.tar-1"]  # one epoch trained, then tested


# --------------------------------------------------------------------------- torchvision
@needs_data
@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_readme_torchvision_pipeline_hides_training_images(tmp_path, monkeypatch):
    import torch

    from benchmark.pipelines.torchvision import HideAndSeek

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train").symlink_to(DATA / "cifar10-jpeg-subset" / "train")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_blocks()["torchvision (and timm)"], "README", "exec"), namespace)
    transform, train_set = namespace["train_transform"], namespace["train_set"]
    assert isinstance(transform.transforms[-1], HideAndSeek)
    assert namespace["loader"].dataset is train_set and len(train_set.classes) == 10
    torch.manual_seed(0)
    hidden = []
    for i in range(0, 3000, 300):
        img, label = train_set[i]
        assert img.shape == (3, 224, 224) and img.dtype == torch.float32 and label == i // 300
        hidden.append(float((img == 0).all(0).float().mean()))  # natural pixels are never
    assert max(hidden) > 0.05 and np.mean(hidden) < 0.9     # exactly 0 after Normalize
