"""HaS inside torchreid's training transform (256x128, after Normalize, fill 0 = mean)."""

import random

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import Compose, Normalize, ToTensor

from benchmark.pipelines.torchreid import HideAndSeekTensor, add_hide_and_seek, with_hide_and_seek
from tasks.reid import import_torchreid

HEIGHT, WIDTH = 256, 128
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _torchreid_transforms(names):
    import_torchreid()  # quietly (no "Cython unavailable" warning)
    from torchreid.reid.data.transforms import build_transforms

    return build_transforms(HEIGHT, WIDTH, transforms=names, norm_mean=MEAN, norm_std=STD)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_market(tmp_path_factory):
    from tasks.reid.synth import write_reid_layout

    root = tmp_path_factory.mktemp("market-synth")
    write_reid_layout(root, seed=0, num_train_ids=4, num_test_ids=3, images_per_id=4,
                      num_cameras=3, num_distractor_images=2, num_junk_images=1)
    return root


@pytest.fixture(scope="module")
def person() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (128, 64, 3), dtype=np.uint8))


def _apply(transform, img, seed):
    random.seed(seed)
    torch.manual_seed(seed)
    return transform(img)


def test_stage_sits_right_after_normalize_and_before_random_erase():
    train, _ = _torchreid_transforms(["random_flip", "random_crop", "random_erase"])
    with_has = with_hide_and_seek(train, HideAndSeekTensor())
    names = [type(t).__name__ for t in with_has.transforms]
    assert names == ["Resize", "RandomHorizontalFlip", "Random2DTranslation", "ToTensor",
                     "Normalize", "HideAndSeekTensor", "RandomErasing"]
    assert len(train.transforms) == 6  # the input Compose is not modified


def test_full_hiding_reaches_right_and_bottom_edges(person):
    # 256 = 4*56 + 32 and 128 = 2*56 + 16: the last row and column of cells are partial.
    train, _ = _torchreid_transforms(["random_flip", "random_crop"])
    out = _apply(with_hide_and_seek(train, HideAndSeekTensor((56,), hide_prob=1.0)), person, 0)
    assert tuple(out.shape) == (3, HEIGHT, WIDTH)
    assert torch.count_nonzero(out) == 0


@pytest.mark.parametrize("size", [16, 44])
def test_hidden_cells_on_the_grid_are_zero_rest_untouched(person, size):
    train, _ = _torchreid_transforms(["random_flip", "random_crop"])
    has = with_hide_and_seek(train, HideAndSeekTensor((size,), hide_prob=0.5))
    last_row = (HEIGHT - 1) // size
    last_col = (WIDTH - 1) // size
    edge_hidden = {"row": False, "col": False}
    for seed in range(12):
        base, hidden = _apply(train, person, seed), _apply(has, person, seed)
        changed = (hidden != base).any(0)
        assert torch.all(hidden[:, changed] == 0)  # hidden = 0 after Normalize = mean pixel
        assert torch.equal(hidden[:, ~changed], base[:, ~changed])
        # hidden pixels form whole cells of a grid anchored at (0, 0), partial edge cells too
        mask = (hidden == 0).all(0).numpy()
        cells = mask[::size, ::size]
        expected = np.repeat(np.repeat(cells, size, 0), size, 1)[:HEIGHT, :WIDTH]
        assert np.array_equal(mask, changed.numpy())
        assert np.array_equal(mask, expected)
        edge_hidden["row"] |= bool(cells[last_row].any())
        edge_hidden["col"] |= bool(cells[:, last_col].any())
    assert edge_hidden == {"row": True, "col": True}


def test_zero_is_the_mean_pixel():
    # Normalize maps the mean pixel to 0, so a hidden pixel is the mean pixel in image space.
    mean_img = torch.tensor(MEAN).view(3, 1, 1).expand(3, 4, 4)
    assert torch.allclose(Normalize(MEAN, STD)(mean_img), torch.zeros(3, 4, 4), atol=1e-6)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="hide_prob"):
        HideAndSeekTensor(hide_prob=1.5)
    with pytest.raises(ValueError, match="Normalize"):
        with_hide_and_seek(Compose([ToTensor()]), HideAndSeekTensor())
    with pytest.raises(ValueError, match="Compose"):
        with_hide_and_seek(ToTensor(), HideAndSeekTensor())
    train, _ = _torchreid_transforms(["random_flip"])
    twice = with_hide_and_seek(train, HideAndSeekTensor())
    with pytest.raises(ValueError, match="already"):
        with_hide_and_seek(twice, HideAndSeekTensor())


def test_add_hide_and_seek_repoints_the_train_loader_only(tiny_market):
    torchreid = import_torchreid()
    from tasks.reid import LAYOUTS, register_offline_datasets

    register_offline_datasets()
    dm = torchreid.data.ImageDataManager(
        root=str(tiny_market), sources=LAYOUTS["market1501"].source, height=HEIGHT, width=WIDTH,
        transforms=["random_flip", "random_crop", "random_erase"], batch_size_train=4,
        batch_size_test=4, workers=0, use_gpu=False)
    test_transform = dm.transform_te
    params = add_hide_and_seek(dm, grid_sizes=(0, 16, 32, 44, 56), hide_prob=0.5)
    assert params["has_grid_sizes_px"] == [0, 16, 32, 44, 56]
    assert dm.train_loader.dataset.transform is dm.transform_tr
    assert any(isinstance(t, HideAndSeekTensor) for t in dm.transform_tr.transforms)
    assert dm.transform_te is test_transform
    for split in ("query", "gallery"):
        transform = dm.test_loader[LAYOUTS["market1501"].source][split].dataset.transform
        assert not any(isinstance(t, HideAndSeekTensor) for t in transform.transforms)
    batch = next(iter(dm.train_loader))
    assert tuple(batch["img"].shape) == (4, 3, HEIGHT, WIDTH)


def test_default_grid_sizes_are_the_cores():
    from benchmark.hide_and_seek import DEFAULT_GRID_SIZES

    assert HideAndSeekTensor().grid_sizes == DEFAULT_GRID_SIZES
