"""``import benchmark.pipelines`` alone registers the stages, into whichever libraries import.

Each check runs in a fresh interpreter that imports nothing else first (no ``compat.apply()``,
no library's ``register_all_modules``): what a user's own script would do. A library is made
unimportable with ``sys.modules[name] = None``, as if it were not installed.
"""

import json
import subprocess
import sys
import textwrap

import pytest

SCOPES = ("mmpretrain", "mmseg", "mmaction")
PREPROCESSORS = {
    "mmpretrain": "HideAndSeekClsDataPreprocessor",
    "mmseg": "HideAndSeekSegDataPreProcessor",
    "mmaction": "HideAndSeekActionDataPreprocessor",
}


def _python(code: str, blocked: tuple[str, ...] = ()) -> dict:
    """Run ``code`` in a fresh interpreter with ``blocked`` unimportable; its JSON output."""
    prelude = "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
    script = "import json, sys\n" + prelude + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", script],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


BUILD_STAGES = """
    import benchmark.pipelines as pipelines
    from mmengine.dataset import Compose

    built = {}
    for scope in pipelines.REGISTERED_SCOPES:
        registry = __import__(f"{scope}.registry", fromlist=["TRANSFORMS"]).TRANSFORMS
        for name in ("HideAndSeek", "HideAndSeekFrames"):
            stage = registry.build(dict(type=name, mean=[1.0, 2.0, 3.0]))
            composed = Compose([dict(type=f"{scope}.{name}", fill=0)]).transforms[0]
            built[f"{scope}.{name}"] = (type(stage) is getattr(pipelines, name)
                                        and type(composed) is type(stage))
    print(json.dumps({"scopes": list(pipelines.REGISTERED_SCOPES), "built": built}))
"""


def test_importing_the_package_alone_registers_in_all_three_libraries():
    out = _python(BUILD_STAGES)
    assert out["scopes"] == list(SCOPES)
    assert out["built"] == {f"{s}.{n}": True for s in SCOPES
                            for n in ("HideAndSeek", "HideAndSeekFrames")}


def test_with_mmseg_alone_its_registry_still_builds_the_stages():
    out = _python(BUILD_STAGES, blocked=("mmpretrain", "mmaction"))
    assert out["scopes"] == ["mmseg"]
    assert out["built"] == {"mmseg.HideAndSeek": True, "mmseg.HideAndSeekFrames": True}


def test_with_no_library_nothing_is_registered_and_the_stage_still_works():
    out = _python("""
        import numpy as np
        import benchmark.pipelines as pipelines

        stage = pipelines.HideAndSeek(grid_sizes=(4,), hide_prob=1.0, fill=7)
        img = stage.transform({"img": np.zeros((8, 8, 3), np.uint8)})["img"]
        print(json.dumps({"scopes": list(pipelines.REGISTERED_SCOPES),
                          "all_hidden": bool((img == 7).all())}))
    """, blocked=SCOPES)
    assert out == {"scopes": [], "all_hidden": True}


BUILD_PREPROCESSORS = f"""
    import benchmark.pipelines.preprocessors as preprocessors

    PREPROCESSORS = {PREPROCESSORS!r}

    built = {{}}
    for scope, name in PREPROCESSORS.items():
        cls = getattr(preprocessors, name, None)
        if cls is not None:
            registry = __import__(scope + ".registry", fromlist=["MODELS"]).MODELS
            model = registry.build(dict(type=name, mean=[1.0, 2.0, 3.0], std=[1.0, 1.0, 1.0],
                                        hide_and_seek=dict(grid_sizes=[8])))
            built[name] = type(model) is cls and model.hide_and_seek.grid_sizes == (8,)
    print(json.dumps(built))
"""


@pytest.mark.parametrize("blocked", [(), ("mmpretrain", "mmaction")], ids=["all", "mmseg-alone"])
def test_importing_the_preprocessors_alone_registers_those_whose_library_imports(blocked):
    out = _python(BUILD_PREPROCESSORS, blocked=blocked)
    expected = [s for s in SCOPES if s not in blocked]
    assert out == {PREPROCESSORS[s]: True for s in expected}
