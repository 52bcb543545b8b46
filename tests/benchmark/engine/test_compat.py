import subprocess
import sys
import textwrap

from benchmark.engine import compat


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_without_compat_the_pinned_stack_breaks_and_with_it_imports():
    # Documents why the shims exist: each import fails on the pinned stack without them.
    out = _python("""
        for name in ("mmseg.models", "mmaction.models"):
            try:
                __import__(name)
                print(name, "ok")
            except ImportError as err:
                print(name, "broken")
    """)
    assert "mmseg.models broken" in out and "mmaction.models broken" in out
    out = _python("""
        from benchmark.engine import compat
        print(compat.apply())
        import mmseg.models, mmseg.utils, mmaction.models
        print("imports ok")
    """)
    assert "imports ok" in out
    assert "mmcv.ops stand-in" in out and "mmaction drn placeholder" in out


def test_point_sample_is_mmcvs_own_and_compiled_ops_fail_clearly():
    out = _python("""
        from benchmark.engine import compat
        compat.apply()
        import torch
        import torch.nn.functional as F
        from mmcv.ops import point_sample, PSAMask
        x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
        pts = torch.rand(2, 5, 2)
        ref = F.grid_sample(x, (2 * pts - 1).unsqueeze(2), align_corners=False).squeeze(3)
        print("close", torch.allclose(point_sample(x, pts), ref))
        print("module", point_sample.__module__)
        try:
            PSAMask("collect", (3, 3))
        except RuntimeError as err:
            print("error", err)
    """)
    assert "close True" in out
    assert "module mmcv.ops.point_sample" in out
    assert "error mmcv.ops.PSAMask needs mmcv's compiled ops" in out
    assert "full mmcv" in out


def test_shims_are_noops_where_not_needed(monkeypatch):
    import types

    # A full mmcv (ops importable) or an already-imported mmcv.ops: nothing to do.
    monkeypatch.setitem(sys.modules, "mmcv.ops", types.ModuleType("mmcv.ops"))
    assert compat.patch_mmcv_ops() is False
    # A fixed mmaction2 wheel (drn module present): nothing to do.
    drn = types.ModuleType("mmaction.models.localizers.drn")
    monkeypatch.setitem(sys.modules, "mmaction.models.localizers.drn", drn)
    assert compat.patch_mmaction_drn() is False


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    out = _python(f"""
        import torch
        from mmengine.logging import MessageHub
        hub = MessageHub.get_instance("t")
        hub.update_scalar("train/loss", 0.5)
        hub.update_scalar("train/lr", torch.tensor(0.1))
        path = "{tmp_path}/ckpt.pth"
        torch.save({{"message_hub": hub.state_dict(), "meta": {{"epoch": 1}}}}, path)
        try:
            torch.load(path)
            print("loaded before")
        except Exception as err:
            print("failed before", type(err).__name__)
        from benchmark.engine import compat
        compat.apply()
        ck = torch.load(path)
        print("loaded after", ck["meta"]["epoch"])
    """)
    assert "failed before UnpicklingError" in out
    assert "loaded after 1" in out
