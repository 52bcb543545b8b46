"""One JSON record per run, written atomically; the results table is merged from them.

A record is written to ``<results_dir>/records/<run_id>.json`` through a temporary file in
the same folder and ``os.replace``, so a reader sees either the old record, the new one, or
none — never half a file — and concurrent writers on a shared file system never lose or
corrupt each other's rows. Temporary files (``.<name>.tmp-*``) never count as records.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECORDS_SUBDIR = "records"
SCHEMA_VERSION = 1


@dataclass
class Record:
    """The outcome of one run.

    Attributes:
        run_id: :meth:`benchmark.engine.spec.RunSpec.run_id`; the file name of the record.
        task: Task name.
        dataset: Dataset name.
        model: Model name.
        method: Method name.
        seed: Random seed.
        status: ``"ok"`` or ``"failed"``.
        metrics: Metric -> value; for a failed run every expected metric maps to ``None``.
        higher_is_better: Metric -> direction.
        method_params: The method's parameters as applied.
        split: Evaluation split of the metrics.
        reason: Why a failed run failed (exception type and message); ``None`` when ok.
        suite: Suite that asked for the run, if any.
        history: Per-epoch validation values.
        artifacts: Name -> path relative to the run's work dir.
        provenance: git commit, config hash, package versions, device, host, times, epochs...
        extra: Task-specific extras.
        pretrained: The local weights the model started from (``--pretrained``): ``path``,
            ``sha256``, and the tensor counts ``loaded``, ``missing`` (left to random init:
            the new head, added layers) and ``unexpected`` (in the file, not used); ``None``
            for a model trained from random init.
    """

    run_id: str
    task: str
    dataset: str
    model: str
    method: str
    seed: int
    status: str
    metrics: dict[str, float | None]
    higher_is_better: dict[str, bool]
    method_params: dict[str, Any] = field(default_factory=dict)
    split: str = "test"
    reason: str | None = None
    suite: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    pretrained: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        """Whether the run finished and produced its metrics."""
        return self.status == "ok"

    @property
    def outcome(self) -> tuple[str, str, float]:
        """(run id, status, wall seconds): what an executor reports for the run."""
        return self.run_id, self.status, float(self.provenance.get("wall_seconds") or 0.0)


def _json_safe(value: Any) -> Any:
    """Replace non-finite floats by ``None`` (JSON has no NaN) recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def record_path(results_dir: str | Path, run_id: str) -> Path:
    """Where the record of ``run_id`` lives."""
    return Path(results_dir) / RECORDS_SUBDIR / f"{run_id}.json"


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file beside it, synced, and a rename.

    Readers see the old file or the new one, never half of one. The file gets the usual
    permissions (``0o666`` less the umask), not the temporary file's ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_record(results_dir: str | Path, record: Record) -> Path:
    """Atomically write (or replace) a run's record.

    Raises:
        ValueError: when ``results_dir`` cannot be written, naming the folder.
    """
    path = record_path(results_dir, record.run_id)
    text = json.dumps(_json_safe(asdict(record)), indent=1, sort_keys=True, default=str)
    try:
        return write_atomic(path, text)
    except OSError as err:
        raise ValueError(
            f"cannot write results to {path.parent}: {err.strerror}; pass a writable --results DIR"
        ) from err


def read_record(path: str | Path) -> Record:
    """Read one record file."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError(f"record {path} holds a JSON {type(data).__name__}, not an object")
    known = Record.__dataclass_fields__
    return Record(**{k: v for k, v in data.items() if k in known})


def read_records(results_dir: str | Path) -> list[Record]:
    """Read every complete record under ``results_dir`` (sorted by run id).

    Temporary files are ignored; an unreadable record is skipped with a warning naming it.
    """
    folder = Path(results_dir) / RECORDS_SUBDIR
    records = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(PREVIOUS_SUFFIX):  # a rerun's predecessor, not a result
            continue
        try:
            records.append(read_record(path))
        except (OSError, ValueError, TypeError) as err:
            warnings.warn(f"skipping unreadable record {path}: {err}", stacklevel=2)
    return records


#: Suffix of a record set aside by a rerun (``records/<run_id>.prev.json``).
PREVIOUS_SUFFIX = ".prev.json"


def set_aside(results_dir: str | Path, run_id: str) -> Path | None:
    """Keep a run's record and work dir as its predecessor before the run is rerun.

    ``records/<id>.json`` becomes ``records/<id>.prev.json`` and ``work/<id>/`` becomes
    ``work/<id>.prev/`` (replacing an older predecessor), so the rerun starts fresh (no stale
    checkpoint is resumed) and tables never mix both. Returns the predecessor record's path,
    or None when the run had no record.
    """
    import shutil

    current = record_path(results_dir, run_id)
    work = Path(results_dir) / "work" / run_id
    if work.is_dir():
        previous_work = work.with_name(f"{run_id}.prev")
        shutil.rmtree(previous_work, ignore_errors=True)
        os.replace(work, previous_work)
    if not current.exists():
        return None
    previous = current.with_name(f"{run_id}{PREVIOUS_SUFFIX}")
    os.replace(current, previous)
    return previous


def find_record(results_dir: str | Path, run_id: str) -> Record | None:
    """The record of ``run_id``; None when it has none or it cannot be read (not finished)."""
    try:
        return read_record(record_path(results_dir, run_id))
    except (OSError, ValueError, TypeError):
        return None
