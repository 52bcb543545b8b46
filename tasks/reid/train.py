"""Train and test one torchreid model for one RunSpec with torchreid's own softmax engine.

The re-ID task builds the data (torchreid's ``ImageDataManager`` with the method in its
training transform) and the run's settings (torchreid's default-config keys: ``model.*``,
``loss.*``, ``train.*``, ``test.*``); this module builds the model, optimizer, scheduler and
``ImageSoftmaxEngine``, runs the epochs (resuming from torchreid's own checkpoint, random
streams included, so an interrupted run ends as an uninterrupted one), and evaluates rank-k
and mAP on the query/gallery split.

Evaluation extracts query and gallery features itself (``model.eval()``, test transform, no
hiding), computes the distance matrix with ``torchreid.metrics.compute_distance_matrix`` and
rank-k and mAP with ``torchreid.metrics.evaluate_rank`` (Market-1501 protocol: gallery images
of the query's identity from the query's camera are discarded).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import pickle
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine.amp import autocast
from benchmark.engine.progress import ProgressLine
from benchmark.engine.spec import PRETRAINED_OPTION, RunSpec

#: The CMC ranks reported (metric ``rank{k}``) unless the config's ``test.ranks`` says others.
RANKS = (1, 5, 10)


@dataclass
class TorchreidRunResult:
    """The outcome of :func:`run_torchreid`.

    Attributes:
        metrics: ``rank{k}`` and ``map`` on the test split, in percent.
        history: One dict per epoch (``epoch``, mean ``loss`` and ``acc``, and the metrics of
            the epochs evaluated on the way).
        checkpoint: The last checkpoint torchreid saved.
    """

    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None


def import_torchreid():
    """Import torchreid without its "Cython evaluation unavailable" warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torchreid
    return torchreid


def set_random_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators the way torchreid does."""
    import_torchreid().utils.set_random_seed(seed)


# ----------------------------------------------------------------------------- evaluation
def rank_metrics(distmat: np.ndarray, q_pids, g_pids, q_camids, g_camids,
                 ranks: tuple[int, ...] = RANKS) -> dict[str, float]:
    """Rank-k (CMC) and mAP in percent from a query x gallery distance matrix.

    Computed by ``torchreid.metrics.evaluate_rank`` (Market-1501 protocol): for each query,
    gallery entries with the query's identity *and* camera are discarded; queries with no
    remaining true match are skipped.

    Raises:
        ValueError: when no query has a match from another camera, or the gallery left after
            discarding is smaller than the largest rank.
    """
    torchreid = import_torchreid()
    distmat = np.asarray(distmat, dtype=np.float32)
    q_pids, g_pids, q_camids, g_camids = (np.asarray(a) for a in
                                          (q_pids, g_pids, q_camids, g_camids))
    same_id = q_pids[:, None] == g_pids[None, :]
    discarded = same_id & (q_camids[:, None] == g_camids[None, :])
    if not (same_id & ~discarded).any():
        raise ValueError("no query identity appears in the gallery under another camera; "
                         "check the query/gallery split")
    max_rank = max(ranks)
    if distmat.shape[1] - int(discarded.sum(1).max()) < max_rank:
        raise ValueError(f"the gallery has fewer than {max_rank} usable entries for some "
                         f"query; rank-{max_rank} is undefined")
    with contextlib.redirect_stdout(io.StringIO()):
        cmc, mean_ap = torchreid.metrics.evaluate_rank(
            distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max_rank)
    # torchreid's CMC is float32: round away its representation noise (1e-4 percent).
    metrics = {f"rank{k}": round(float(cmc[k - 1]) * 100.0, 4) for k in ranks}
    metrics["map"] = round(float(mean_ap) * 100.0, 4)
    return metrics


def extract_features(model, loader, device: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """(features N x D, pids, camids) of a torchreid test loader, model in eval mode."""
    import torch

    model.eval()
    feats, pids, camids = [], [], []
    with torch.no_grad():
        for batch in loader:
            feats.append(model(batch["img"].to(device)).cpu())
            pids.extend(int(p) for p in batch["pid"])
            camids.extend(int(c) for c in batch["camid"])
    return torch.cat(feats), np.asarray(pids), np.asarray(camids)


def evaluate(model, datamanager, source: str, device: str, test_cfg: dict[str, Any]
             ) -> dict[str, float]:
    """Rank-k and mAP (percent) of ``model`` on the query/gallery split of ``source``."""
    import torch.nn.functional as F

    torchreid = import_torchreid()
    query_loader, gallery_loader = (datamanager.test_loader[source][s]
                                    for s in ("query", "gallery"))
    qf, q_pids, q_camids = extract_features(model, query_loader, device)
    gf, g_pids, g_camids = extract_features(model, gallery_loader, device)
    if test_cfg.get("normalize_feature"):
        qf, gf = F.normalize(qf, p=2, dim=1), F.normalize(gf, p=2, dim=1)
    distmat = torchreid.metrics.compute_distance_matrix(
        qf, gf, test_cfg.get("dist_metric", "euclidean")).numpy()
    return rank_metrics(distmat, q_pids, g_pids, q_camids, g_camids,
                        tuple(test_cfg.get("ranks", RANKS)))


# ----------------------------------------------------------------------------- the run
def run_torchreid(cfg: dict[str, Any], spec: RunSpec, work_dir: Path, datamanager: Any,
                  source: str) -> TorchreidRunResult:
    """Train a softmax model on ``datamanager``'s training set, then test it.

    Args:
        cfg: The run's settings (``model``, ``loss``, ``train``, ``test`` sections).
        spec: The resolved spec (device, seed already applied by :func:`set_random_seed`).
        work_dir: The run's folder (``checkpoints/``, ``history.json``, ``rng_state.pkl``).
        datamanager: torchreid's ``ImageDataManager``, the method in its training transform.
        source: The name ``datamanager`` knows the dataset by.
    """
    torchreid = import_torchreid()
    use_gpu = spec.device.startswith("cuda")
    model = torchreid.models.build_model(
        name=cfg["model"]["name"], num_classes=datamanager.num_train_pids, loss="softmax",
        pretrained=bool(cfg["model"]["pretrained"]), use_gpu=use_gpu)
    if spec.option_dict.get(PRETRAINED_OPTION):  # before resuming: a checkpoint overrides it
        from benchmark.engine.pretrained import load_pretrained

        load_pretrained(model, spec.option_dict[PRETRAINED_OPTION], new_prefixes=("classifier.",))
    model = model.to(spec.device)
    optimizer = torchreid.optim.build_optimizer(
        model, optim=cfg["train"]["optim"], lr=float(cfg["train"]["lr"]),
        weight_decay=float(cfg["train"]["weight_decay"]))
    scheduler = torchreid.optim.build_lr_scheduler(
        optimizer, lr_scheduler=cfg["train"]["lr_scheduler"],
        stepsize=cfg["train"]["stepsize"], gamma=float(cfg["train"]["gamma"]),
        max_epoch=int(cfg["train"]["max_epoch"]))
    engine = _recording_engine_class()(
        datamanager, model, optimizer, scheduler=scheduler, use_gpu=use_gpu,
        label_smooth=bool(cfg["loss"]["softmax"]["label_smooth"]))
    engine.amp = spec.option_dict.get("amp")
    if engine.amp == "float16":
        import torch

        engine.scaler = torch.amp.GradScaler("cuda")
    engine.progress = ProgressLine(spec.label, int(cfg["train"]["max_epoch"]),
                                   spec.option_dict.get("progress", "auto"))
    if spec.option_dict.get("vis_backend", "local") == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        engine.writer = SummaryWriter(log_dir=str(Path(work_dir) / "tensorboard"))
    try:
        history, checkpoint = _train(engine, cfg, spec, Path(work_dir), source)
    finally:
        engine.progress.close()
        if engine.writer is not None:
            engine.writer.close()
    metrics = evaluate(model, datamanager, source, spec.device, cfg["test"])
    if history:
        history[-1].update(metrics)
    return TorchreidRunResult(metrics=metrics, history=history, checkpoint=checkpoint)


def _recording_engine_class():
    """Return a torchreid ``ImageSoftmaxEngine`` subclass keeping each epoch's loss/accuracy."""
    torchreid = import_torchreid()

    class RecordingSoftmaxEngine(torchreid.engine.ImageSoftmaxEngine):
        progress = None  # a ProgressLine, set by run_torchreid
        amp: str | None = None  # --amp dtype, set by run_torchreid
        scaler = None  # torch.amp.GradScaler for float16

        def forward_backward(self, data):
            summary = (super().forward_backward(data) if self.amp is None
                       else self._forward_backward_amp(data))
            self.epoch_summaries.append(summary)
            if self.progress is not None:
                self.progress.iteration(self.epoch + 1, self.batch_idx + 1, self.num_batches,
                                        self.epoch * self.num_batches + self.batch_idx + 1,
                                        float(summary["loss"]))
            return summary

        def _forward_backward_amp(self, data):
            """The torchreid softmax step, the forward pass autocast to ``self.amp``."""
            imgs, pids = self.parse_data_for_train(data)
            device = "cuda" if self.use_gpu else "cpu"
            imgs, pids = imgs.to(device), pids.to(device)
            with autocast(self.amp, device):
                outputs = self.model(imgs)
                loss = self.compute_loss(self.criterion, outputs, pids)
            self.optimizer.zero_grad()
            if self.scaler is None:
                loss.backward()
                self.optimizer.step()
            else:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            accuracy = torchreid.metrics.accuracy(outputs.float(), pids)[0]
            return {"loss": loss.item(), "acc": accuracy.item()}

    return RecordingSoftmaxEngine


def _rng_states() -> tuple:
    import random

    import torch

    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_rng_states(states: tuple) -> None:
    import random

    import torch

    random.setstate(states[0])
    np.random.set_state(states[1])
    torch.set_rng_state(states[2])


@contextlib.contextmanager
def _rng_untouched() -> Iterator[None]:
    """Restore Python's, numpy's and torch's (CPU) random state on exit."""
    states = _rng_states()
    try:
        yield
    finally:
        _set_rng_states(states)


def _latest_checkpoint(folder: Path) -> Path | None:
    found = [(int(p.name.rsplit("-", 1)[1]), p) for p in folder.glob("model.pth.tar-*")
             if p.name.rsplit("-", 1)[1].isdigit()]
    return max(found)[1] if found else None


def _train(engine, cfg: dict[str, Any], spec: RunSpec, work_dir: Path, source: str
           ) -> tuple[list[dict[str, Any]], Path | None]:
    """Run the epochs (resuming from torchreid's checkpoint); return (history, checkpoint)."""
    torchreid = import_torchreid()
    ckpt_root = work_dir / "checkpoints"
    history_path = work_dir / "history.json"
    max_epoch = int(cfg["train"]["max_epoch"])
    eval_freq = int(cfg["test"]["eval_freq"])
    rng_path = work_dir / "rng_state.pkl"
    start_epoch, history = 0, []
    latest = _latest_checkpoint(ckpt_root / "model")
    if latest is not None:
        start_epoch = torchreid.utils.resume_from_checkpoint(
            str(latest), engine.model, engine.optimizer, engine.scheduler)
        if history_path.exists():
            history = [h for h in json.loads(history_path.read_text())
                       if h["epoch"] <= start_epoch]
        if rng_path.exists():  # continue the random streams: same result as uninterrupted
            saved = pickle.loads(rng_path.read_bytes())
            if saved["epoch"] == start_epoch:
                _set_rng_states(saved["states"])
    engine.max_epoch = max_epoch
    for epoch in range(start_epoch, max_epoch):
        engine.epoch, engine.epoch_summaries = epoch, []
        engine.train(print_freq=int(cfg["train"]["print_freq"]))
        row = {"epoch": epoch + 1}
        for key in ("loss", "acc"):
            values = [s[key] for s in engine.epoch_summaries]
            row[key] = float(np.mean(values)) if values else float("nan")
        if not math.isfinite(row["loss"]):
            raise RuntimeError(f"training loss is {row['loss']} at epoch {epoch + 1}; "
                               "lower train.lr")
        if eval_freq > 0 and (epoch + 1) % eval_freq == 0 and epoch + 1 != max_epoch:
            with _rng_untouched():  # evaluating must not change what training samples next
                row.update(evaluate(engine.model, engine.datamanager, source, spec.device,
                                    cfg["test"]))
        history.append(row)
        engine.progress.epoch_summary(epoch + 1, {k: v for k, v in row.items() if k != "epoch"})
        engine.save_model(epoch, row.get("rank1", 0.0) / 100.0, str(ckpt_root))
        for old in (ckpt_root / "model").glob("model.pth.tar-*"):
            if old.name != f"model.pth.tar-{epoch + 1}":
                old.unlink()
        history_path.write_text(json.dumps(history, indent=1))
        rng_path.write_bytes(pickle.dumps({"epoch": epoch + 1, "states": _rng_states()}))
    return history, _latest_checkpoint(ckpt_root / "model")
