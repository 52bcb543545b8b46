import pytest

from benchmark import methods
from benchmark.hide_and_seek import DEFAULT_GRID_SIZES


def test_hiding_methods_take_the_cores_grid_sizes():
    assert methods.get_method("has").grid_sizes_px == DEFAULT_GRID_SIZES
    assert methods.get_method("has+random_erasing").grid_sizes_px == DEFAULT_GRID_SIZES
    fixed = [name for name, m in methods.METHODS.items()
             if m.hides and len(m.grid_sizes_px) == 1 and m.grid_sizes_px != (1,)]  # not dropout
    assert fixed == [f"has-{s}" for s in DEFAULT_GRID_SIZES if s]


def test_scale_grid_sizes_keeps_cell_to_image_ratio():
    assert methods.scale_grid_sizes((0, 16, 32, 44, 56), (224, 224)) == (0, 16, 32, 44, 56)
    assert methods.scale_grid_sizes((0, 16, 32, 44, 56), (448, 300)) == (0, 16, 32, 44, 56)
    scaled = methods.scale_grid_sizes((0, 16, 32, 44, 56), (32, 32))
    assert scaled[0] == 0
    for size, original in zip(scaled[1:], (16, 32, 44, 56), strict=True):
        assert abs(size / 32 - original / 224) <= 0.5 / 32 + 1e-9
    # the shorter side decides (re-ID crops are 256x128)
    assert methods.scale_grid_sizes((16,), (256, 128)) == (round(16 * 128 / 224),)
    assert methods.scale_grid_sizes((16,), (8, 8)) == (1,)


def test_mean_in_pipeline_order_follows_channel_flip():
    mean = [123.675, 116.28, 103.53]
    assert methods.mean_in_pipeline_order({"mean": mean, "to_rgb": True}) == mean[::-1]
    assert methods.mean_in_pipeline_order({"mean": mean, "bgr_to_rgb": True}) == mean[::-1]
    assert methods.mean_in_pipeline_order({"mean": mean, "to_rgb": False}) == mean
    with pytest.raises(ValueError, match="mean"):
        methods.mean_in_pipeline_order({"std": [1, 1, 1]})


def test_insert_stages_matches_scoped_names_and_copies():
    pipeline = [{"type": "LoadImageFromFile"}, {"type": "mmpretrain.PackInputs"}]
    out = methods.insert_stages(pipeline, [{"type": "X"}], before="PackInputs")
    assert [s["type"] for s in out] == ["LoadImageFromFile", "X", "mmpretrain.PackInputs"]
    assert len(pipeline) == 2  # input untouched
    out = methods.insert_stages(pipeline, [{"type": "X"}], after="LoadImageFromFile")
    assert out[1]["type"] == "X"
    with pytest.raises(ValueError, match="no 'Missing' stage"):
        methods.insert_stages(pipeline, [{"type": "X"}], before="Missing")
    with pytest.raises(ValueError, match="exactly one"):
        methods.insert_stages(pipeline, [{"type": "X"}])


def test_get_method_unknown_names_known_ones():
    with pytest.raises(ValueError, match="known methods: baseline"):
        methods.get_method("mixup")


def _cifar_like_cfg(to_rgb):
    pipeline = [{"type": "RandomFlip"}, {"type": "PackInputs"}]
    return {
        "data_preprocessor": {"mean": [10.0, 20.0, 30.0], "std": [1, 1, 1], "to_rgb": to_rgb},
        "model": {},
        "train_dataloader": {"dataset": {"type": "RepeatDataset",
                                         "dataset": {"pipeline": list(pipeline)}}},
        "test_dataloader": {"dataset": {"pipeline": list(pipeline)}},
    }


@pytest.mark.parametrize("to_rgb", [True, False])
def test_apply_method_inserts_has_in_train_pipeline_only(to_rgb):
    cfg = _cifar_like_cfg(to_rgb)
    new, params = methods.apply_method_to_mm_config(cfg, "has", scope="mmpretrain",
                                                    image_hw=(32, 32))
    train = new["train_dataloader"]["dataset"]["dataset"]["pipeline"]
    assert [s["type"] for s in train] == ["RandomFlip", "mmpretrain.HideAndSeek", "PackInputs"]
    stage = train[1]
    expected_mean = [30.0, 20.0, 10.0] if to_rgb else [10.0, 20.0, 30.0]
    assert stage["mean"] == expected_mean and stage["fill"] == "mean"
    assert stage["grid_sizes"] == methods.scale_grid_sizes(DEFAULT_GRID_SIZES, (32, 32))
    assert new["test_dataloader"] == cfg["test_dataloader"]  # evaluation never hides
    assert cfg["train_dataloader"]["dataset"]["dataset"]["pipeline"][1]["type"] == "PackInputs"
    assert params["has_grid_sizes_px"] == list(stage["grid_sizes"])


def test_apply_method_baseline_and_random_erasing():
    cfg = _cifar_like_cfg(True)
    base, params = methods.apply_method_to_mm_config(cfg, "baseline", scope="mmpretrain",
                                                     image_hw=(32, 32))
    assert base == cfg and params == {"method": "baseline"}
    erased, params = methods.apply_method_to_mm_config(cfg, "has+random_erasing",
                                                       scope="mmpretrain", image_hw=(32, 32))
    types = [s["type"] for s in erased["train_dataloader"]["dataset"]["dataset"]["pipeline"]]
    assert types == ["RandomFlip", "mmpretrain.RandomErasing", "mmpretrain.HideAndSeek",
                     "PackInputs"]
    assert params["re_fill_color"] == [30, 20, 10]


def test_has_options_per_task_before_training():
    from benchmark.engine.spec import RunSpec
    from tasks import get_task

    def spec(task, **options):
        return RunSpec(task, method="has").with_options(**options)

    loc = get_task("action_localization")
    assert loc.options(spec("action_localization", has_hide_prob=0.3))["has_hide_prob"] == 0.3
    from tasks.action_localization import method_stages

    options = {**loc.options(spec("action_localization", has_hide_prob=0.3)), "train_snippets": 64}
    stages, params = method_stages("has", options)
    assert stages[0]["hide_prob"] == 0.3 and params["has_hide_prob"] == 0.3
    with pytest.raises(ValueError, match="segment_snippets"):
        loc.options(spec("action_localization", has_grid_sizes_px=[0, 16]))
    video = get_task("video")
    assert video.options(spec("video", has_grid_sizes_px=[0, 16]))["has_grid_sizes_px"] == [0, 16]
    with pytest.raises(ValueError, match="hides whole frames"):
        methods.method_for("has-frames", {"has_grid_sizes_px": [0, 16]})
    assert methods.method_for("has-frames", {"has_hide_prob": 0.3}).hide_prob == 0.3
    with pytest.raises(ValueError, match="snippet features in the pipeline"):
        loc.options(spec("action_localization", has_placement="preprocessor"))
    reid = get_task("reid")
    resolved = reid.resolve(spec("reid", has_hide_prob=0.3))
    assert "has_hide_prob" not in str(reid.build_config(resolved))  # HaS options stay out of YAML
    with pytest.raises(ValueError, match="training transform"):
        reid.check(reid.resolve(spec("reid", has_placement="preprocessor")))
