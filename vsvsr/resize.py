"""Classical resampling as the SR literature means it (DESIGN.md).

Bicubic is MATLAB-style: Keys a = -0.5 with antialiasing when shrinking (PIL's and torch's
`antialias=True` kernel), and an LR image is rounded to 8-bit levels like a saved frame. torch's
and OpenCV's defaults (a = -0.75, no antialias) are a different degradation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KERNELS = ("bicubic", "bilinear")


def quantize8(x: torch.Tensor) -> torch.Tensor:
    """Round [0, 1] values to the 256 levels of an 8-bit image."""
    return (x.clamp(0, 1) * 255).round() / 255


def downsample(frames: torch.Tensor, factor: int, kernel: str = "bicubic") -> torch.Tensor:
    """(..., 3, H, W) in [0, 1] -> (..., 3, H/factor, W/factor) LR, antialiased, 8-bit levels."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    h, w = frames.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"frame size {w}x{h} must be a multiple of {factor}")
    flat = frames.reshape(-1, *frames.shape[-3:]).float()
    small = F.interpolate(flat, size=(h // factor, w // factor), mode=kernel, antialias=True, align_corners=False)
    return quantize8(small).reshape(*frames.shape[:-2], h // factor, w // factor)


def upsample(frames: torch.Tensor, scale: int, kernel: str = "bicubic") -> torch.Tensor:
    """(..., 3, h, w) -> (..., 3, scale*h, scale*w) by classical interpolation, clamped to [0, 1].

    `antialias=True` selects torch's PIL-compatible kernels (bicubic a = -0.5), so this is the
    "bicubic" of SR tables, not torch's default a = -0.75 interpolation."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    flat = frames.reshape(-1, *frames.shape[-3:]).float()
    big = F.interpolate(flat, scale_factor=scale, mode=kernel, antialias=True, align_corners=False)
    return big.clamp(0, 1).reshape(*frames.shape[:-2], *big.shape[-2:])
