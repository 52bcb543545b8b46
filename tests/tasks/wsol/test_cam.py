"""Batched CAM against a per-image reference, and CAM against Grad-CAM for a GAP+linear net."""

import numpy as np
import pytest
import torch
from torch import nn

from tasks.wsol.cam import class_activation_maps, grad_cam_maps, minmax_normalize


def reference_cam(feature, weight_row, out_hw):
    """One image, one class, the slow way."""
    cam = torch.zeros(feature.shape[1:])
    for c in range(feature.shape[0]):
        cam += weight_row[c] * feature[c]
    cam = torch.nn.functional.interpolate(cam[None, None], size=out_hw, mode="bilinear",
                                          align_corners=False)[0, 0]
    return (cam - cam.min()) / (cam.max() - cam.min())


def test_batched_cam_equals_per_image_reference():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(5, 8, 4, 6, generator=gen)
    weights = torch.randn(7, 8, generator=gen)
    pred = torch.tensor([0, 3, 6, 2, 2])
    gt = torch.tensor([1, 3, 5, 2, 0])
    cams = class_activation_maps(features, weights, torch.stack([pred, gt], 1), (16, 24))
    assert cams.shape == (5, 2, 16, 24)
    for n in range(5):
        for m, label in enumerate((pred[n], gt[n])):
            expected = reference_cam(features[n], weights[label], (16, 24))
            torch.testing.assert_close(cams[n, m], expected, atol=1e-5, rtol=1e-5)
    single = class_activation_maps(features, weights, gt, (16, 24))
    torch.testing.assert_close(single, cams[:, 1])


def test_minmax_normalize_degenerate_maps():
    maps = torch.stack([torch.zeros(3, 3), torch.full((3, 3), 2.0),
                        torch.full((3, 3), float("nan")), torch.arange(9.0).reshape(3, 3)])
    maps[3, 0, 0] = float("nan")
    out = minmax_normalize(maps)
    assert torch.isfinite(out).all()
    assert not out[:3].any()
    assert out[3].max() == 1 and out[3].min() == 0 and out[3, 0, 0] == 0


def test_cam_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="num_classes"):
        class_activation_maps(torch.zeros(1, 4, 2, 2), torch.zeros(3, 5), torch.tensor([0]))


class GapNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1))
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_cam_and_grad_cam_agree_up_to_scale_for_gap_linear():
    torch.manual_seed(0)
    net = GapNet().eval()
    x = torch.randn(3, 3, 32, 32)
    classes = torch.tensor([[0, 4], [2, 2], [1, 3]])
    grad = grad_cam_maps(net, net.features, x, classes)
    with torch.no_grad():
        fmap = net.features(x)
        # Grad-CAM ReLUs the map before upsampling; so does CAM with relu=True
        cam = class_activation_maps(fmap, net.fc.weight, classes, (32, 32), relu=True)
    assert grad.shape == cam.shape == (3, 2, 32, 32)
    for a, b in zip(grad.reshape(6, -1).numpy(), cam.reshape(6, -1).numpy(), strict=True):
        assert np.corrcoef(a, b)[0, 1] > 0.999
        np.testing.assert_allclose(a, b, atol=0.02)
    assert net.training is False
