"""Your own method: docs/own-method.md's worked example, method-file errors, entry points."""

import hashlib
import importlib
import json
import re
import shlex
import textwrap
from types import SimpleNamespace

import pytest

from benchmark.cli import main
from benchmark.engine.paths import REPO_ROOT
from benchmark.engine.spec import RunSpec
from benchmark.methods import get_method, method_for
from benchmark.user_methods import UserMethod, add_torchreid_stages, torchreid_stages
from tasks import get_task

DOC = REPO_ROOT / "docs" / "own-method.md"


def doc_example() -> tuple[dict[str, str], list[list[str]]]:
    """The doc's named blocks (```` ```lang file.ext ````) and its ``hasbench`` commands."""
    text = DOC.read_text()
    files = {info.split()[1]: body
             for info, body in re.findall(r"```(\w+ [\w.]+)\n(.*?)```", text, re.S)}
    commands = [shlex.split(body.replace("\\\n", " "))
                for body in re.findall(r"```bash\n(.*?)```", text, re.S)]
    return files, commands


@pytest.fixture
def example(tmp_path, monkeypatch):
    """The doc's files written to a fresh folder, which is the working directory."""
    files, _ = doc_example()
    assert {"my_erasing.py", "my_methods.yaml"} <= set(files)
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


def test_the_documented_example_trains_with_the_users_transform(example, capsys, monkeypatch,
                                                                tiny_cifar10):
    import shutil

    from mmengine import Config

    command = next(c for c in doc_example()[1] if "--method-file" in c)
    assert command[:2] == ["hasbench", "run"] and "--synthetic" in command
    # --synthetic finds its data generated already: the small set, for a short epoch
    synth = example / "res" / "data" / "cifar10-synth"
    shutil.copytree(tiny_cifar10, synth)
    (synth / ".complete").write_text("")
    monkeypatch.syspath_prepend(str(example))
    user_module = importlib.import_module("my_erasing")  # the module the run imports
    calls = []
    transform = user_module.MyErasing.transform
    monkeypatch.setattr(user_module.MyErasing, "transform",
                        lambda self, results: calls.append(1) or transform(self, results))

    code, out = _run(capsys, *command[1:], "--results", str(example / "res"))

    assert code == 0, out.err[-3000:]
    record = json.loads(next((example / "res" / "records").glob("*.json")).read_text())
    params = record["method_params"]
    file_sha = hashlib.sha256((example / "my_methods.yaml").read_bytes()).hexdigest()
    assert record["method"] == "my_erasing" and record["status"] == "ok"
    assert {k: params[k] for k in ("erase_prob", "erase_side_px", "erase_fill")} == {
        "erase_prob": 0.5, "erase_side_px": 8, "erase_fill": 128}
    assert params["method_stages"] == [{"type": "MyErasing", "prob": 0.5, "side": 8,
                                        "fill": 128}]
    assert params["method_sha256"] == file_sha == record["provenance"]["options"][
        "method_file_sha256"]
    assert params["method_source"] == f"method file {example / 'my_methods.yaml'}"
    assert set(params["method_imports"]) == {"my_erasing"}
    cfg = Config.fromfile(example / "res" / "work" / record["run_id"] / "resnet_tiny_cifar10.py")
    train = [s["type"] for s in cfg.train_dataloader.dataset.pipeline]
    assert train[-2:] == ["MyErasing", "PackInputs"]  # before the library's anchor
    assert "MyErasing" not in json.dumps(cfg.test_dataloader.to_dict())
    assert len(calls) >= 120  # every training image of the epoch went through it


def test_the_method_files_content_is_part_of_the_run_id(example):
    task = get_task("classification")
    spec = RunSpec("classification", method="my_erasing", dataset="cifar10",
                   model="resnet-tiny-cifar", options=(("method_file", "my_methods.yaml"),))
    first = task.resolve(spec).run_id()
    assert task.resolve(spec).run_id() == first
    path = example / "my_methods.yaml"
    path.write_text(path.read_text().replace("prob: 0.5", "prob: 0.25"))
    assert task.resolve(spec).run_id() != first


METHOD = """
methods:
  mine:
    imports: [my_erasing]
    stages: {STAGES}
"""
GOOD_STAGES = "{mm: [{type: MyErasing, prob: 0.5}]}"


@pytest.mark.parametrize(("text", "argv", "message"), [
    (None, [], "method file missing.yaml not found"),
    ("methods: [unclosed", [], "is not valid YAML"),
    ("runs: {}", [], "expected one top-level key 'methods'"),
    ("methods: {mine: {stage: []}}", [], "unknown key(s) ['stage']"),
    (METHOD.format(STAGES="{mmdet: [{type: MyErasing}]}"), [], "unknown framework(s) ['mmdet']"),
    (METHOD.replace("mine", "has").format(STAGES=GOOD_STAGES), ["--method", "has"],
     "'has' is a built-in method"),
    (METHOD.format(STAGES="{mm: [{type: NoSuchErasing}]}"), [],
     "stage type 'NoSuchErasing' is not in mmpretrain's TRANSFORMS registry"),
    (METHOD.format(STAGES="{mm: [{type: MyErasing, prob: 2}]}"), [],
     "does not build: ValueError: MyErasing needs 0 <= prob <= 1"),
    (METHOD.format(STAGES="{mm: [{type: MyErasing, colour: red}]}"), [], "does not build"),
    (METHOD.replace("my_erasing", "no_such_module").format(STAGES=GOOD_STAGES), [],
     "cannot import 'no_such_module'"),
    (METHOD.format(STAGES="{mm: {before: NoSuchStage, stages: [{type: MyErasing}]}}"), [],
     "the pipeline has no 'NoSuchStage' stage"),
    (METHOD.format(STAGES=GOOD_STAGES), ["--method", "theirs"],
     "method 'theirs' is not in method file"),
    (METHOD.format(STAGES=GOOD_STAGES), ["--method", "baseline"], "'baseline' is built in"),
], ids=["missing", "bad-yaml", "no-methods", "unknown-key", "unknown-framework", "builtin-name",
        "unregistered-type", "bad-argument", "unknown-argument", "missing-module",
        "missing-anchor", "not-in-file", "builtin-with-file"])
def test_method_file_mistakes_exit_2_before_training(capsys, example, tiny_cifar10, text, argv,
                                                     message):
    if text is not None:
        (example / "mine.yaml").write_text(text)
    results = example / "res"
    code, out = _run(capsys, "run", "classification", "--dataset", "cifar10", "--data-root",
                     str(tiny_cifar10), "--model", "resnet-tiny-cifar", "--results", str(results),
                     "--method-file", "mine.yaml" if text else "missing.yaml", "--method", "mine",
                     *argv)
    assert code == 2 and message in out.err, out.err
    assert not (results / "records").exists() and not (results / "work").exists()


def test_a_task_whose_framework_has_no_stages_names_the_entry_to_add(capsys, example):
    code, out = _run(capsys, "run", "reid", "--results", str(example / "res"),
                     "--method-file", "my_methods.yaml", "--method", "my_erasing")
    assert code == 2 and "task 'reid' runs torchreid: add stages.torchreid" in out.err, out.err


PY_METHOD_FILE = '''
from mmcv.transforms import TRANSFORMS, BaseTransform


@TRANSFORMS.register_module()
class PyFileInvert(BaseTransform):
    def __init__(self, prob=0.5):
        self.prob = prob

    def transform(self, results):
        results["img"] = 255 - results["img"]
        return results


METHODS = {"invert": {"stages": {"mmpretrain": {"after": "RandomCrop",
                                               "stages": [{"type": "PyFileInvert", "prob": 1}]}},
                      "params": {"invert_prob": 1}}}
'''


def test_a_python_method_file_defines_and_places_its_own_transform(tmp_path, tiny_cifar10):
    (tmp_path / "methods.py").write_text(PY_METHOD_FILE)
    task = get_task("classification")
    spec = task.resolve(RunSpec("classification", method="invert", dataset="cifar10",
                                data_root=str(tiny_cifar10), model="resnet-tiny-cifar",
                                options=(("method_file", str(tmp_path / "methods.py")),)))
    task.check(spec)
    cfg, params = task.build_config(spec)
    assert [s["type"] for s in cfg.train_dataloader.dataset.pipeline] == [
        "RandomCrop", "PyFileInvert", "RandomFlip", "PackInputs"]
    assert params["invert_prob"] == 1 and params["method"] == "invert"
    assert get_method("invert").name == "invert"  # found without the options (wsol's check)


ENTRY_MODULE = '''
FAKE_HIDE = {"stages": {"mm": [{"type": "HideAndSeek", "grid_sizes": [0, 4],
                                "hide_prob": 0.3, "fill": 0}]},
             "params": {"has_like": True}}


def builtin_clash():
    return FAKE_HIDE
'''


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """A distribution on sys.path declaring two hasbench.methods entry points (no pip)."""
    (tmp_path / "fake_hasbench_methods.py").write_text(ENTRY_MODULE)
    info = tmp_path / "fake_hasbench_methods-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-hasbench-methods\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[hasbench.methods]\nfake_hide = fake_hasbench_methods:FAKE_HIDE\n"
        "has = fake_hasbench_methods:builtin_clash\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_an_entry_point_method_runs_by_name(fake_distribution, tiny_cifar10):
    with pytest.warns(UserWarning, match="'has' is a built-in method; rename the entry point"):
        method = method_for("fake_hide", {})
    assert isinstance(method, UserMethod) and "fake-hasbench-methods 0.1" in method.source
    assert method_for("has", {}) is get_method("has")  # the built-in wins
    with pytest.raises(ValueError, match="from installed packages: fake_hide"):
        get_method("nothing-like-it")
    task = get_task("classification")
    spec = task.resolve(RunSpec("classification", method="fake_hide", dataset="cifar10",
                                data_root=str(tiny_cifar10), model="resnet-tiny-cifar"))
    task.check(spec)
    cfg, params = task.build_config(spec)
    stage = cfg.train_dataloader.dataset.pipeline[-2]
    assert stage["type"] == "HideAndSeek" and stage["grid_sizes"] == [0, 4]
    assert params["has_like"] is True and len(params["method_sha256"]) == 64


TORCH_MODULE = '''
class AddOne:
    def __init__(self, amount=1.0):
        self.amount = float(amount)

    def __call__(self, tensor):
        return tensor + self.amount
'''


def test_torchreid_stages_go_after_normalize_in_the_training_transform(tmp_path):
    from torchvision.transforms import Compose, Normalize, ToTensor

    (tmp_path / "reid_stage_module.py").write_text(TORCH_MODULE)
    (tmp_path / "m.yaml").write_text(textwrap.dedent("""
        methods:
          plus_one:
            imports: [reid_stage_module]
            stages: {torchreid: [{type: AddOne, amount: 2}]}
    """))
    method = method_for("plus_one", {"method_file": str(tmp_path / "m.yaml")})
    loader = SimpleNamespace(dataset=SimpleNamespace(transform=None))
    datamanager = SimpleNamespace(transform_tr=Compose([ToTensor(), Normalize([0.5], [0.5])]),
                                  train_loader=loader)
    params = add_torchreid_stages(datamanager, method)
    steps = [type(t).__name__ for t in datamanager.transform_tr.transforms]
    assert steps == ["ToTensor", "Normalize", "AddOne"]
    assert loader.dataset.transform is datamanager.transform_tr
    assert params["method_stages"] == [{"type": "AddOne", "amount": 2}]
    for stage, message in (("{type: NoSuchClass}", "not found"),
                           ("{type: AddOne, colour: 1}", "does not build")):
        (tmp_path / "m.yaml").write_text(
            f"methods: {{bad: {{imports: [reid_stage_module], stages: {{torchreid: [{stage}]}}}}}}")
        with pytest.raises(ValueError, match=message):
            torchreid_stages(method_for("bad", {"method_file": str(tmp_path / "m.yaml")}))


def test_a_suite_row_carries_cfg_options_and_its_method_file(example):
    from benchmark.engine.suite import load_suite

    (example / "suite.yaml").write_text(textwrap.dedent("""
        name: mine
        runs:
          - task: classification
            dataset: cifar10
            methods: [baseline, my_erasing]
            method_file: my_methods.yaml
            cfg_options: {optim_wrapper.optimizer.momentum: 0.8}
    """))
    baseline, mine = (run.spec.option_dict for run in load_suite(str(example / "suite.yaml")).runs)
    assert "method_file" not in baseline  # a built-in row keeps its run id
    assert mine["method_file"] == str(example / "my_methods.yaml")
    assert baseline["cfg_options"] == mine["cfg_options"] == {
        "optim_wrapper.optimizer.momentum": 0.8}


def test_a_reid_run_trains_with_a_torchreid_stage_and_cfg_options(tmp_path):
    from benchmark.engine.runner import run_one
    from tasks.reid.synth import write_reid_layout

    root = tmp_path / "market"
    write_reid_layout(root, seed=0, num_train_ids=6, num_test_ids=5, images_per_id=4,
                      num_cameras=3, num_distractor_images=4, num_junk_images=3)
    (tmp_path / "reid_stage_module.py").write_text(TORCH_MODULE)
    (tmp_path / "m.yaml").write_text(
        "methods: {plus_one: {imports: [reid_stage_module], params: {amount: 0.0},\n"
        "  stages: {torchreid: {before: Normalize, stages: [{type: AddOne, amount: 0}]}}}}\n")
    tiny = {"data.height": 64, "data.width": 32, "data.workers": 0, "test.batch_size": 64}
    spec = RunSpec("reid", method="plus_one", dataset="market1501", data_root=str(root),
                   model="osnet_x0_25", epochs=1, synthetic=True,
                   options=tuple(sorted(tiny.items()))).with_options(
        method_file=str(tmp_path / "m.yaml"), cfg_options={"train.batch_size": 8})
    record = run_one(spec, tmp_path / "res", raise_errors=True)
    assert record.status == "ok" and record.method_params["amount"] == 0.0
    steps = record.method_params["train_transform"]
    assert steps[steps.index("AddOne") + 1] == "Normalize"
    assert record.extra["config"]["train"]["batch_size"] == 8
