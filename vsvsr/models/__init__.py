"""Generators (rrdb, residual, lite), the 3D non-local block and the U-Net discriminator."""

from __future__ import annotations

import torch

from .blocks import TemporalResidualBlock
from .discriminator import UNetDiscriminator
from .generator import SpatioTemporalGenerator
from .nonlocal_block import NonLocalBlock3d
from .registry import ARCHS, WEIGHTLESS_PARAMS, ArchSpec, arch_params, build, names, spec_for

SCALES = (2, 4)


def upscale(model: SpatioTemporalGenerator, frames: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """Upscale (B, T, 3, h, w) frames in [0, 1] by 2 or 4, clamped to [0, 1].

    x4 is the paper's cascade (3.1.6): the same x2 generator applied to its own output.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be 2 or 4, not {scale}")
    for _ in range(scale // 2):
        frames = model(frames).clamp(0, 1)
    return frames


__all__ = [
    "ARCHS", "ArchSpec", "NonLocalBlock3d", "SCALES", "SpatioTemporalGenerator", "TemporalResidualBlock",
    "UNetDiscriminator", "WEIGHTLESS_PARAMS",
    "arch_params", "build", "names", "spec_for", "upscale",
]  # fmt: skip
