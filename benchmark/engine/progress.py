"""What a run shows on the console: one live progress line, per-epoch summaries, no noise.

The frameworks log everything (mmengine at INFO into ``<work_dir>/<timestamp>/*.log``,
torchreid into ``torchreid.log``); the console gets a short view of it:

- ``bar``: one line rewritten in place (carriage return) after every training iteration: epoch,
  iteration, ETA, last loss, last validation metric. The default on a terminal.
- ``lines``: the same text as a new line about ten times per epoch. The default when the
  console is not a terminal (Slurm logs, CI, pipes).
- ``off``: only the per-epoch summaries.

:class:`ConsoleNoiseFilter` keeps the pinned stack's known, harmless warnings off the
console; they still reach the log file.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

#: Values of the ``progress`` execution option.
PROGRESS_MODES = ("auto", "bar", "lines", "off")

#: Messages of the pinned stack that say nothing about the run (deprecations, resume notes).
NOISE = (
    "deprecated",
    "Did not find last_checkpoint to be resumed",
    "Loads checkpoint by",
    "Cython evaluation",
    "avg_non_ignore",
    "The prefix is not set in metric class",
)


#: Known, harmless import-time warnings of the pinned stack (before any run's log exists).
QUIET_WARNINGS = (
    "pkg_resources is deprecated",
    "Fail to import ``MultiScaleDeformableAttention``",
    "Cython evaluation",
    # mmengine's Runner, in a worker the local executor started with spawn, sets fork for its
    # own data-loader workers (its default env_cfg) and says so before the run's log exists.
    "Multi-processing start method `fork` is different from the previous setting `spawn`",
)


def quiet_known_warnings() -> None:
    """Ignore :data:`QUIET_WARNINGS` in this process (the CLI and every worker process)."""
    import warnings

    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{message}")


def check_progress(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`PROGRESS_MODES`, else raise ``ValueError``."""
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS_MODES)}, got {mode!r} "
                         "(--progress / --option progress=...)")
    return mode


def is_noise(message: str) -> bool:
    """Whether ``message`` is one of the known harmless messages (:data:`NOISE`)."""
    return any(pattern in message for pattern in NOISE)


class ConsoleNoiseFilter(logging.Filter):
    """A logging filter for console handlers: drops :data:`NOISE` and keeps the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` may reach the console."""
        return not is_noise(record.getMessage())


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class ProgressLine:
    """The console view of one run's training.

    Args:
        label: The run, e.g. ``classification/cifar10-synth/resnet18-cifar/has/seed0``.
        total_epochs: Epochs the run trains (1-based epochs are shown).
        mode: One of :data:`PROGRESS_MODES`; ``auto`` is ``bar`` on a terminal, else ``lines``.
        stream: Where to write (default ``sys.stderr``).
    """

    def __init__(self, label: str, total_epochs: int, mode: str = "auto",
                 stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        mode = check_progress(mode)
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.label, self.total_epochs, self.mode = label, total_epochs, mode
        self.last_metric = ""
        self._start: float | None = None
        self._start_iter = 0
        self._open_bar = False

    def iteration(self, epoch: int, iter_in_epoch: int, iters_per_epoch: int,
                  done_iters: int, loss: float | None) -> None:
        """Show progress after an iteration.

        Args:
            epoch: The current epoch, 1-based.
            iter_in_epoch: Iterations finished in this epoch, 1-based.
            iters_per_epoch: Iterations per epoch.
            done_iters: Iterations finished in the whole run (resumed ones included).
            loss: The iteration's training loss, if known.
        """
        now = time.monotonic()
        if self._start is None:
            self._start, self._start_iter = now, done_iters - 1
        if self.mode == "off":
            return
        step = max(1, iters_per_epoch // 10)
        if self.mode == "lines" and iter_in_epoch % step and iter_in_epoch != iters_per_epoch:
            return
        total = self.total_epochs * iters_per_epoch
        per_iter = (now - self._start) / max(1, done_iters - self._start_iter)
        text = (f"[hasbench] {self.label} epoch {epoch}/{self.total_epochs} "
                f"iter {iter_in_epoch}/{iters_per_epoch} "
                f"eta {_clock(per_iter * (total - done_iters))}")
        if loss is not None:
            text += f" loss {loss:.4f}"
        if self.last_metric:
            text += f" | {self.last_metric}"
        if self.mode == "bar":
            self.stream.write("\r\033[K" + text)
            self._open_bar = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def epoch_summary(self, epoch: int, metrics: dict[str, Any]) -> None:
        """Print the validation metrics of ``epoch`` (1-based) on a line of their own."""
        shown = ", ".join(f"{k}={float(v):.2f}" for k, v in metrics.items())
        if metrics:
            first = next(iter(metrics))
            self.last_metric = f"{first} {float(metrics[first]):.2f}"
        self.close()
        self.stream.write(f"[hasbench] {self.label} epoch {epoch}/{self.total_epochs}: "
                          f"{shown}\n")
        self.stream.flush()

    def close(self) -> None:
        """End a live bar's line, so that the next output starts on a fresh one."""
        if self._open_bar:
            self.stream.write("\n")
            self._open_bar = False
