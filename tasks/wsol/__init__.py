"""Weakly-supervised object localization (WSOL) with CAM on mmpretrain — the HaS paper's task.

A classifier with global average pooling before its linear layer is trained with image labels
only (boxes are never loaded for training). At test time the class activation map (CAM) of the
predicted and of the ground-truth class gives boxes, scored four ways (percent, in the table):

* ``top1_cls``: top-1 classification accuracy;
* ``top1_loc``: class right and IoU ≥ 0.5 between the GT box and the box around the largest
  connected component of the predicted class's CAM thresholded at 20% of its max (CAM paper);
* ``gt_known_loc``: the same box from the ground-truth class's CAM, IoU ≥ 0.5;
* ``maxboxaccv2``: wsolevaluation's MaxBoxAccV2 (CAM threshold swept, boxes from all contours,
  best threshold, averaged over IoU 0.3/0.5/0.7); per-IoU values go to ``extra``.

Images with several GT boxes count the best match. Boxes are rescaled with the image by the
test pipeline's ``Resize`` so the CAM (computed at the network input size) and the boxes share
pixels. Degenerate CAMs (constant, all-zero, NaN) give no box (IoU 0); see
:mod:`tasks.wsol.boxes`.

Models (``configs/wsol/``, inheriting mmpretrain's): ``resnet18-small`` (ResNet_CIFAR-18 at
1/4 width for CPU, 64x64 inputs, 8x8 CAM), ``resnet50`` (last stage stride 1, as in
wsolevaluation), ``vgg16-gap`` (VGG16 conv + conv1024 + GAP + linear). All start from random
weights (no downloads).

HaS grid sizes (``has``: 0/16/32/44/56 px; ``has-16`` ... fixed) refer to 224-pixel inputs.
For smaller inputs ``benchmark.methods.scale_grid_sizes`` keeps the cell-to-image ratio:
``s -> max(1, round(s * min(H, W) / 224))``, so 64x64 Tiny ImageNet trains with
(0, 5, 9, 13, 16) px cells. Hidden pixels get the dataset mean (0 after normalization).

Options (``RunSpec.options``): ``batch_size`` (training), ``eval_batch_size``, ``lr``,
``val_interval`` (epochs between validations; the history then has fewer rows),
``num_workers``.

Each run writes ``cam_examples.png`` (CAM overlays of the first test images, GT box green,
predicted box red) and ``cams.npz`` (what the figure needs) into its work dir; :func:`explain`
puts several runs (e.g. baseline and HaS) side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine.mmrun import latest_checkpoint
from benchmark.engine.spec import RunSpec, TaskOutput
from benchmark.methods import METHODS
from tasks.base import DatasetInfo, MMTask, loader_datasets, set_num_classes
from tasks.wsol import data as layouts

#: (model, dataset) -> config file.
CONFIGS = {
    ("resnet18-small", "tiny-imagenet"): "resnet18_small_tiny_imagenet_64px.py",
    **{(model, dataset): f"{stem}_{suffix}.py"
       for model, stem in (("resnet50", "resnet50"), ("vgg16-gap", "vgg16_gap"))
       for dataset, suffix in (("tiny-imagenet", "tiny_imagenet_64px"), ("cub", "cub_224px"),
                               ("ilsvrc", "ilsvrc_224px"), ("wsoleval", "wsoleval_224px"))},
}
#: dataset -> (network input (H, W), evaluation split)
DATASET_INPUTS = {
    "tiny-imagenet": ((64, 64), "val"),
    "cub": ((224, 224), "test"),
    "ilsvrc": ((224, 224), "val"),
    "wsoleval": ((224, 224), "test"),
}
METRIC_KEYS = ("top1_cls", "top1_loc", "gt_known_loc", "maxboxaccv2")
#: Test images kept per run for the CAM figure.
EXAMPLES = 16
_PARSERS = {"tiny-imagenet": layouts.parse_tiny_imagenet, "cub": layouts.parse_cub,
            "ilsvrc": layouts.parse_ilsvrc, "wsoleval": layouts.parse_wsoleval}


def _synth(writer_name: str):
    def synth(out: Path, seed: int) -> None:
        from tasks.wsol import synth as wsol_synth

        getattr(wsol_synth, writer_name)(out, seed=seed)

    return synth


def _datasets() -> dict[str, DatasetInfo]:
    return {
        "tiny-imagenet": DatasetInfo(
            "tiny-imagenet",
            "wnids.txt, train/<wnid>/images/*.JPEG + train/<wnid>/<wnid>_boxes.txt, "
            "val/images/*.JPEG + val/val_annotations.txt",
            layouts.check_tiny_imagenet, default_root="tiny-imagenet-10",
            synth=_synth("write_tiny_imagenet"),
            prepare="Unzip tiny-imagenet-200.zip (cs231n.stanford.edu/tiny-imagenet-200.zip).",
            default_model="resnet18-small", default_epochs=4),
        "cub": DatasetInfo(
            "cub", "images/<class>/*.jpg, images.txt, image_class_labels.txt, "
            "train_test_split.txt, bounding_boxes.txt, classes.txt",
            layouts.check_cub, default_root="CUB_200_2011", synth=_synth("write_cub"),
            prepare="Extract CUB_200_2011.tgz (www.vision.caltech.edu/datasets/cub_200_2011).",
            default_model="resnet50", default_epochs=100),
        "ilsvrc": DatasetInfo(
            "ilsvrc", "train/<wnid>/*.JPEG, val/*.JPEG, bbox_val/*.xml, val.txt",
            layouts.check_ilsvrc, default_root="ILSVRC", synth=_synth("write_ilsvrc"),
            prepare="Extract ILSVRC2012 train/val and ILSVRC2012_bbox_val_v3.tgz (image-net.org).",
            default_model="resnet50", default_epochs=90),
        "wsoleval": DatasetInfo(
            "wsoleval", "images + metadata/{train,test}/{image_ids,class_labels,"
            "localization,image_sizes}.txt (wsolevaluation format)",
            layouts.check_wsoleval, synth=_synth("write_wsoleval"),
            prepare="Put wsolevaluation's metadata/<DATASET> folder at <root>/metadata.",
            default_model="resnet50", default_epochs=50),
    }


def num_classes(dataset: str, root: str | Path) -> int:
    """Number of classes of a dataset in its layout (read from its class list)."""
    classes, _ = _PARSERS[dataset](Path(root), "train", False)
    return len(classes)


@dataclass
class WSOLTask(MMTask):
    """Top-1 Cls, Top-1 Loc, GT-known Loc and MaxBoxAccV2 of a CAM classifier."""

    name: str = "wsol"
    framework: str = "mmpretrain"
    metrics: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(METRIC_KEYS, True))
    datasets: dict[str, DatasetInfo] = field(default_factory=_datasets)
    models: tuple[str, ...] = ("resnet18-small", "resnet50", "vgg16-gap")
    methods: tuple[str, ...] = tuple(METHODS)
    scope: str = "mmpretrain"
    configs: dict[tuple[str, str | None], str] = field(default_factory=lambda: dict(CONFIGS))

    def build_config(self, spec: RunSpec) -> tuple[Any, dict[str, Any]]:
        """The mmengine Config for a resolved spec (data root, classes), method inserted."""
        cfg = self.load_config(spec)
        for _, dataset in loader_datasets(cfg):
            dataset["data_root"] = spec.data_root
        set_num_classes(cfg, num_classes(spec.dataset, spec.data_root))
        batch = spec.option_dict.get("eval_batch_size")
        if batch:
            for loader in ("val_dataloader", "test_dataloader"):
                cfg[loader]["batch_size"] = int(batch)
        if spec.option_dict.get("lr") is not None:
            cfg.optim_wrapper.optimizer.lr = float(spec.option_dict["lr"])
        if spec.option_dict.get("val_interval"):
            cfg.train_cfg.val_interval = int(spec.option_dict["val_interval"])
        return self.apply_method(cfg, spec, DATASET_INPUTS[spec.dataset][0])

    def renamed(self, values: dict[str, Any]) -> dict[str, Any]:
        """Our metric's keys without their ``wsol/`` prefix."""
        return {k.removeprefix("wsol/"): v for k, v in values.items()}

    def test_split(self, spec: RunSpec) -> str:
        """Tiny ImageNet and ILSVRC test on their val split, CUB and wsolevaluation on test."""
        return DATASET_INPUTS[spec.dataset][1]

    def run(self, spec: RunSpec, work_dir: Path) -> TaskOutput:
        """Train with labels only, test the localization, write the CAM figure."""
        import tasks.wsol.mm  # noqa: F401  (registers model, metric, datasets)

        work_dir = Path(work_dir)
        cfg, method_params = self.build_config(spec)
        result = self.train_and_test(cfg, spec, work_dir)
        examples = collect_examples(result.runner, EXAMPLES)
        examples["method"] = np.array(spec.method)
        np.savez_compressed(work_dir / "cams.npz", **examples)
        figure = draw_examples([(spec.method, examples)], work_dir / "cam_examples.png")
        per_iou = {k: v for k, v in result.metrics.items() if k.startswith("maxboxacc@")}
        return TaskOutput(
            metrics={k: result.metrics[k] for k in METRIC_KEYS}, dataset=spec.dataset_label,
            model=spec.model,
            method_params={**method_params, "input_hw_px": list(DATASET_INPUTS[spec.dataset][0]),
                           "cam_threshold_fraction": 0.2},
            history=result.history, split=self.test_split(spec),
            artifacts={"cam_examples": figure.name, "cams": "cams.npz"},
            extra={**per_iou, "test_images": len(result.runner.test_dataloader.dataset)},
        )


# --------------------------------------------------------------------------- figures
def collect_examples(runner: Any, n: int) -> dict[str, np.ndarray]:
    """CAMs, boxes and images of the first ``n`` test images, from a trained runner."""
    return _examples_from(runner.model, runner.test_dataloader, n)


def _examples_from(model: Any, dataloader: Any, n: int) -> dict[str, np.ndarray]:
    import torch

    from tasks.wsol.boxes import largest_component_boxes

    model = getattr(model, "module", model)  # unwrap (Distributed)DataParallel
    images, cams, preds, gts, boxes = [], [], [], [], []
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            gt = torch.cat([s.gt_label.view(-1)[:1] for s in data["data_samples"]])
            logits, maps = model.logits_and_cams(data["inputs"], gt)
            images += [_to_rgb(img) for img in batch["inputs"]]
            cams.append(maps.float().cpu().numpy())
            preds.append(logits.argmax(1).cpu().numpy())
            gts.append(gt.cpu().numpy())
            boxes += [np.asarray(s.metainfo["gt_bboxes"], dtype=np.float32)
                      for s in data["data_samples"]]
            if len(images) >= n:
                break
    cam_array = np.concatenate(cams)[:n]
    return {
        "images": np.stack(images[:n]), "cams": cam_array.astype(np.float16),
        "pred_labels": np.concatenate(preds)[:n], "gt_labels": np.concatenate(gts)[:n],
        "gt_boxes": _pad_boxes(boxes[:n]),
        "pred_boxes": largest_component_boxes(cam_array).astype(np.float32),
    }


def _to_rgb(chw_bgr: Any) -> np.ndarray:
    """A pipeline image (uint8 CHW, BGR as loaded by OpenCV) as HWC RGB."""
    return np.ascontiguousarray(chw_bgr.cpu().numpy().transpose(1, 2, 0)[..., ::-1])


def _pad_boxes(boxes: list[np.ndarray]) -> np.ndarray:
    """Stack per-image ``(M_i, 4)`` boxes into ``(N, max M, 4)``, NaN-padded."""
    most = max((len(b) for b in boxes), default=0)
    out = np.full((len(boxes), most, 4), np.nan, dtype=np.float32)
    for i, b in enumerate(boxes):
        out[i, : len(b)] = b
    return out


def draw_examples(runs: list[tuple[str, dict[str, np.ndarray]]], out: Path,
                  n: int = EXAMPLES) -> Path:
    """A PNG grid: each test image once per run (side by side), CAM overlay, boxes.

    The overlay is the ground-truth class's CAM (what GT-known Loc scores); green boxes are the
    ground truth, red the box of the largest component of that CAM at 20% of its max.

    Args:
        runs: (label, examples) per run, examples as written to ``cams.npz``.
        out: PNG path.
        n: Images to show (at most the number every run holds).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from tasks.wsol.boxes import best_iou, largest_component_box

    n = min([n, *(len(ex["images"]) for _, ex in runs)])
    if n == 0:
        raise ValueError("no test images to draw")
    groups_per_row = max(1, min(4, 8 // len(runs)))
    rows = -(-n // groups_per_row)
    cols = groups_per_row * len(runs)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        for r, (label, ex) in enumerate(runs):
            ax = axes[i // groups_per_row, (i % groups_per_row) * len(runs) + r]
            cam = ex["cams"][i, 1].astype(np.float32)
            gt = ex["gt_boxes"][i][~np.isnan(ex["gt_boxes"][i]).any(axis=1)]
            box = largest_component_box(cam)
            heat = plt.get_cmap("jet")(np.clip(cam, 0, 1))
            heat[..., 3] = 0.65 * np.clip(cam, 0, 1)  # weak evidence stays transparent
            ax.imshow(ex["images"][i])
            ax.imshow(heat)
            for b, colour in [*((g, "lime") for g in gt), (box, "red")]:
                if b[2] >= b[0]:
                    ax.add_patch(Rectangle((b[0] - 0.5, b[1] - 0.5), b[2] - b[0] + 1,
                                           b[3] - b[1] + 1, fill=False, lw=1.5, ec=colour))
            ok = "✓" if ex["pred_labels"][i] == ex["gt_labels"][i] else "✗"
            ax.set_title(f"{label}\nIoU {best_iou(box, gt):.2f} cls {ok}", fontsize=7)
    fig.suptitle("GT-class CAM; green: ground truth, red: box at 20% of max", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def load_examples(run_dir: Path, n: int = EXAMPLES) -> tuple[str, dict[str, np.ndarray]]:
    """A run's (method label, examples): ``cams.npz`` if present, else from its checkpoint."""
    run_dir = Path(run_dir)
    spec = RunSpec.from_run_dir(run_dir)
    npz = run_dir / "cams.npz"
    if npz.is_file():
        with np.load(npz) as data:
            examples = {k: data[k] for k in data.files}
        if len(examples["images"]) >= n:
            return spec.method, examples
    return spec.method, _examples_from_checkpoint(run_dir, spec, n)


def _examples_from_checkpoint(run_dir: Path, spec: RunSpec, n: int) -> dict[str, np.ndarray]:
    """Rebuild the model from the run's config, load its last checkpoint, compute CAMs."""
    from mmengine.runner import Runner, load_checkpoint

    import tasks.wsol.mm  # noqa: F401
    from benchmark.engine import compat

    compat.apply()
    checkpoint = latest_checkpoint(run_dir)
    cfg, _ = TASK.build_config(spec)
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    from mmpretrain.registry import MODELS

    model = MODELS.build(cfg.model)
    load_checkpoint(model, str(checkpoint), map_location="cpu")
    loader = Runner.build_dataloader(cfg.test_dataloader)
    return _examples_from(model, loader, n)


def explain(run_dirs: list[Path], out: Path, n: int = 16) -> Path:
    """Side-by-side CAM figure of finished WSOL runs (e.g. baseline and HaS) on the same images.

    Args:
        run_dirs: Work dirs of runs of the same dataset (each holds ``spec.json`` and
            ``cams.npz`` or a checkpoint).
        out: PNG to write.
        n: Test images to show.

    Raises:
        ValueError: when a folder is not a run dir or the runs used different datasets.
    """
    specs = [RunSpec.from_run_dir(Path(d)) for d in run_dirs]
    roots = {(s.dataset, s.data_root) for s in specs}
    if len(roots) > 1:
        raise ValueError(f"explain compares runs on the same data; got {sorted(roots)}")
    runs = [load_examples(Path(d), n) for d in run_dirs]
    return draw_examples(runs, out, n)


TASK = WSOLTask()
