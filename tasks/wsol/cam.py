"""CAM and Grad-CAM maps for WSOL: moved to :mod:`benchmark.cam` (shared with ``wsss``).

This import path is kept for existing code.
"""

from benchmark.cam import class_activation_maps, grad_cam_maps, minmax_normalize

__all__ = ["class_activation_maps", "grad_cam_maps", "minmax_normalize"]
