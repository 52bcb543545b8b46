"""The contract every task passes, for every task x dataset x model x method it declares.

In the style of VTAB's ``data_testing_lib``: one shared set of checks that each unit the
registry declares must pass, so a new task, dataset, model or method is checked by adding it.

- the spec resolves (dataset, model, method and epochs filled in, the method known);
- the run's own config builds (:meth:`tasks.base.MMTask.build_config`, what ``run`` trains;
  for re-ID the settings and torchreid's data manager) without training, or the model has no
  config for the dataset and says which models do;
- the method's stage (``HideAndSeek`` / ``HideAndSeekFrames`` or the HaS data preprocessor,
  random erasing or its framework counterpart) is in the training pipeline only, never in
  the validation or test pipelines, and the baseline has none -- except ``dropout-traintest``,
  the paper's baseline that drops input pixels at test time too, whose evaluation pipelines
  must hide;
- ``has-conv`` hides a feature map, not an image: no hiding stage or preprocessor anywhere, one
  ``HideFeatureCellsHook`` in ``custom_hooks`` on a backbone layer the built model has, and no
  other method has that hook;
- a missing or empty data root gives the layout error (``ValueError``) naming what is missing.

The data roots are generated once per dataset (``DatasetInfo.synth``); datasets that cannot
be generated get a stand-in holding only what the layout check and the config build read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmark.engine.spec import RunSpec
from benchmark.methods import get_method
from tasks import available_tasks, get_task
from tasks.base import MM_LOADERS, MMTask

#: Stage / transform / preprocessor type names that hide (HaS).
HIDING = ("HideAndSeek", "HideAndSeekFrames", "HideAndSeekTensor")
#: The mmengine hook ``has-conv`` adds (hides a feature map in training).
FEATURE_HIDING_HOOK = "HideFeatureCellsHook"
#: Type names of the erasing stages a method inserts (the framework's own or ours).
ERASING = ("RandomErasing", "RandomCutOut", "EraseSnippetSpan", "Cutout", "GridMask",
           "CutoutTensor", "GridMaskTensor", "ClipCutout")

#: Each CIFAR release: (its class count, the mmpretrain dataset types that read it).
CIFAR = {"cifar10": (10, ("CIFAR10", "CIFAR10Unverified")), "cifar100": (100, ("CIFAR100",))}

UNITS = [(task, dataset, model, method)
         for task in available_tasks()
         for dataset in get_task(task).datasets
         for model in get_task(task).models
         for method in get_task(task).methods]
DATASETS = [(task, dataset) for task in available_tasks() for dataset in get_task(task).datasets]


# ----------------------------------------------------------------------------- data roots
def _image(path: Path, side: int = 8) -> None:
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((side, side, 3), 128, np.uint8))


def _stand_in_cifar100(root: Path, seed: int) -> None:
    for name in ("train", "test", "meta"):  # the build reads none of them
        (root / "cifar-100-python").mkdir(parents=True, exist_ok=True)
        (root / "cifar-100-python" / name).write_bytes(b"")


def _stand_in_imagenet(root: Path, seed: int) -> None:
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            _image(root / split / wnid / f"{wnid}_1.JPEG")


def _stand_in_video_list(root: Path, seed: int) -> None:
    for split in ("train", "val"):
        video = root / "videos" / "a" / f"{split}.avi"
        video.parent.mkdir(parents=True, exist_ok=True)
        video.write_bytes(b"")
        (root / f"{split}_list.txt").write_text(f"videos/a/{split}.avi 0\nvideos/a/{split}.avi 1\n")


#: Datasets without a generator: (task, dataset) -> writer of what check/build read.
STAND_INS = {("classification", "cifar100"): _stand_in_cifar100,
             ("classification", "imagenet"): _stand_in_imagenet,
             ("video", "ucf101"): _stand_in_video_list}


@pytest.fixture(scope="session")
def data_roots(tmp_path_factory):
    """``root(task, dataset)``: a data root in the dataset's layout, written on first use."""
    made: dict[tuple[str, str], Path] = {}

    def root(task: str, dataset: str) -> Path:
        if (task, dataset) not in made:
            out = tmp_path_factory.mktemp(f"{task}-{dataset}")
            synth = get_task(task).datasets[dataset].synth
            (synth or STAND_INS[(task, dataset)])(out, 0)
            made[(task, dataset)] = out
        return made[(task, dataset)]

    return root


@pytest.fixture(scope="module", autouse=True)
def _config_files_read_once(monkeypatch_module):
    """Parse each config file once: ``Config.fromfile`` returns a fresh copy of the parse.

    The tasks' own ``build_config`` runs in full for every unit; only re-reading the same
    files (mmengine resolves the upstream ``_base_`` chain each time) is saved.
    """
    import copy

    from mmengine import Config

    parsed: dict[str, Any] = {}
    original = Config.fromfile

    def fromfile(filename, *args, **kwargs):
        key = str(filename)
        if args or kwargs:
            return original(filename, *args, **kwargs)
        if key not in parsed:
            parsed[key] = original(filename)
        return copy.deepcopy(parsed[key])

    monkeypatch_module.setattr(Config, "fromfile", staticmethod(fromfile))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


# ----------------------------------------------------------------------------- pipelines
def _pipelines(dataset: Any) -> list[list[dict]]:
    """Every pipeline of a dataset config, wrappers (Repeat, Concat) unwrapped."""
    found, pending = [], [dataset]
    while pending:
        node = pending.pop()
        if "pipeline" in node:
            found.append(list(node["pipeline"]))
        pending.extend(node.get("datasets", []))
        if "dataset" in node:
            pending.append(node["dataset"])
    return found


def _names(pipeline: list[dict]) -> set[str]:
    return {str(stage["type"]).rsplit(".", 1)[-1] for stage in pipeline}


def _stages_by_loader(cfg: Any) -> dict[str, list[set[str]]]:
    return {loader: [_names(p) for p in _pipelines(cfg[loader]["dataset"])]
            for loader in MM_LOADERS}


def _preprocessor_types(cfg: Any) -> set[str]:
    found = (cfg.get("data_preprocessor"), cfg["model"].get("data_preprocessor"))
    return {str(p.get("type", "")).rsplit(".", 1)[-1] for p in found if p}


def _resolved(task_name: str, dataset: str, model: str, method: str, root: Path,
              **options: Any) -> RunSpec:
    spec = RunSpec(task_name, method=method, dataset=dataset, model=model,
                   data_root=str(root), synthetic=True).with_options(**options)
    return get_task(task_name).resolve(spec)


def _assert_method_in_training_only(method_name: str, train: list[set[str]],
                                    evaluation: list[set[str]], preprocessors: set[str]) -> None:
    method = get_method(method_name)
    hides_in_preprocessor = any(p.startswith("HideAndSeek") for p in preprocessors)
    assert train, "no training pipeline found"
    for stages in train:
        assert (bool(stages & set(HIDING)) or hides_in_preprocessor) == method.hides, (
            f"{method_name}: training pipeline {sorted(stages)} "
            f"{'lacks' if method.hides else 'has'} a hiding stage")
        erases = method.erases or method.augment in ("cutout", "gridmask")
        assert bool(stages & set(ERASING)) == erases, (
            f"{method_name}: training pipeline {sorted(stages)} "
            f"{'lacks' if erases else 'has'} an erasing stage")
    for stages in evaluation:
        if method.hides_at_test:  # dropout-traintest: the paper hides test images too
            assert stages & set(HIDING) or hides_in_preprocessor, (
                f"{method_name}: an evaluation pipeline {sorted(stages)} lacks its hiding stage")
            continue
        assert not stages & set(HIDING + ERASING), (
            f"{method_name}: an evaluation pipeline holds {sorted(stages & set(HIDING + ERASING))}")
    if not method.hides:
        assert not hides_in_preprocessor, f"{method_name}: the data preprocessor hides"


# ----------------------------------------------------------------------------- the contract
@pytest.mark.parametrize(("task_name", "dataset", "model", "method"), UNITS,
                         ids=["/".join(unit) for unit in UNITS])
def test_unit_resolves_builds_and_hides_in_training_only(task_name, dataset, model, method,
                                                         data_roots):
    task = get_task(task_name)
    spec = _resolved(task_name, dataset, model, method, data_roots(task_name, dataset))
    assert (spec.dataset, spec.model, spec.method) == (dataset, model, method)
    assert spec.epochs >= 1 and spec.method in task.methods
    if isinstance(task, MMTask):
        _check_mm_unit(task, spec)
    else:
        _check_reid_unit(task, spec)


def _check_mm_unit(task: MMTask, spec: RunSpec) -> None:
    try:
        path = task.config_file(spec)
    except ValueError as err:
        usable = [m for m, k in task.configs if k == task.config_key(spec)]
        assert usable and all(repr(m) in str(err) for m in usable), err
        default = task.dataset_info(spec.dataset).default_model or task.models[0]
        assert default in usable, f"the default model {default!r} has no config"
        with pytest.raises(ValueError, match="has no config for dataset"):
            task.check(spec)
        return
    assert path.is_file(), f"{path} is in the config table but not on disk"
    task.check(spec)
    cfg, params = task.build_config(spec)
    assert params["method"] == spec.method
    stages = _stages_by_loader(cfg)
    _assert_method_in_training_only(
        spec.method, stages["train_dataloader"],
        stages["val_dataloader"] + stages["test_dataloader"], _preprocessor_types(cfg))
    augments = (cfg["model"].get("train_cfg") or {}).get("augments") or []
    assert [a["type"] for a in augments] == (["CutMix"] if spec.method == "cutmix" else []), (
        f"{spec.method}: model.train_cfg.augments is {augments}")
    _assert_feature_hiding_hook(task, spec, cfg)
    _check_against_data(task, spec, cfg)


def _assert_feature_hiding_hook(task: MMTask, spec: RunSpec, cfg: Any) -> None:
    """``has-conv`` (no stage anywhere): one conv-hiding hook, on a layer the model has.

    The hook hides in training mode only (``tests/benchmark/pipelines/test_conv_hiding.py``);
    every other method has no such hook.
    """
    hooks = [h for h in cfg.get("custom_hooks") or []
             if str(h["type"]).endswith(FEATURE_HIDING_HOOK)]
    method = get_method(spec.method)
    assert len(hooks) == (1 if method.hides_features else 0), (
        f"{spec.method}: custom_hooks hold {len(hooks)} {FEATURE_HIDING_HOOK}")
    if hooks:
        from benchmark.pipelines.conv_hiding import resolve_layer

        name, _ = resolve_layer(task.build_model(spec), hooks[0]["layer"])
        assert name.startswith("backbone."), f"{spec.method}: hides {name}, not the backbone's"


def _check_against_data(task: MMTask, spec: RunSpec, cfg: Any) -> None:
    """The config's facts that follow from the dataset (CIFAR: class count, dataset type)."""
    if task.name != "classification" or spec.dataset not in CIFAR:
        return
    classes, types = CIFAR[spec.dataset]
    assert cfg.model.head.num_classes == classes, (
        f"{spec.model} on {spec.dataset}: the head has {cfg.model.head.num_classes} "
        f"classes, the dataset {classes}")
    for loader in MM_LOADERS:
        kind = cfg[loader]["dataset"]["type"]
        assert kind in types, f"{spec.model} on {spec.dataset}: {loader} reads {kind}"


def _check_reid_unit(task: Any, spec: RunSpec) -> None:
    from tasks.reid import LAYOUTS, build_datamanager, register_offline_datasets

    task.check(spec)
    cfg = task.build_config(spec)
    register_offline_datasets()
    datamanager, params = build_datamanager(cfg, spec, LAYOUTS[spec.dataset].source, False)
    assert params["method"] == spec.method
    train = {type(t).__name__ for t in datamanager.transform_tr.transforms}
    test = {type(t).__name__ for t in datamanager.transform_te.transforms}
    _assert_method_in_training_only(spec.method, [train], [test], set())


MM_TASKS = [name for name in available_tasks() if isinstance(get_task(name), MMTask)]


@pytest.mark.parametrize("task_name", MM_TASKS)
def test_preprocessor_placement_hides_in_the_data_preprocessor_only(task_name, data_roots):
    """``has_placement=preprocessor``: the HaS preprocessor, no HaS stage; or a clear refusal."""
    task = get_task(task_name)
    dataset = task.default_dataset()
    model = task.dataset_info(dataset).default_model
    spec = _resolved(task_name, dataset, model, "has", data_roots(task_name, dataset),
                     has_placement="preprocessor")
    try:
        task.check(spec)
    except ValueError as err:
        assert "has_placement" in str(err), err
        return
    cfg, params = task.build_config(spec)
    assert params["has_placement"] == "preprocessor"
    assert any(p.startswith("HideAndSeek") for p in _preprocessor_types(cfg))
    for stages in (s for loader in _stages_by_loader(cfg).values() for s in loader):
        assert not stages & set(HIDING), f"a pipeline still hides: {sorted(stages)}"


@pytest.mark.parametrize(("task_name", "dataset"), DATASETS, ids=["/".join(d) for d in DATASETS])
def test_missing_or_empty_data_root_names_what_is_missing(task_name, dataset, tmp_path):
    task = get_task(task_name)
    for root, says in ((tmp_path / "absent", ("does not exist",)),
                       (tmp_path, ("missing", "not found", " no "))):
        spec = task.resolve(RunSpec(task_name, dataset=dataset, data_root=str(root)))
        with pytest.raises(ValueError) as caught:
            task.check(spec)
        message = str(caught.value)
        assert str(root) in message, f"the error does not say where it looked: {message}"
        assert any(s in message for s in says), f"the error does not say what is missing: {message}"
