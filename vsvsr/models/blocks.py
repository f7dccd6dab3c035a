"""Trunk building blocks of the generators (paper 2.1, Fig. 9): residual blocks and RRDBs.

Every activation is LeakyReLU(0.2) (paper Eq. 4-5). Residual branches are scaled before they are
added back (ESRGAN's residual scaling), and their last convolution starts small, so a deep fresh
trunk is close to the identity and trains stably.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .reach_gate import gated_temporal_conv

NEGATIVE_SLOPE = 0.2


def lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True)


def conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1)


def conv3x3x3(in_ch: int, out_ch: int) -> nn.Conv3d:
    """A (time, y, x) convolution; time is padded by the caller (held frames, not zeros)."""
    return nn.Conv3d(in_ch, out_ch, 3, padding=(0, 1, 1))


def hold_edges(clip: torch.Tensor, frames: int = 1) -> torch.Tensor:
    """(B, C, T, H, W) with its first and last frame repeated `frames` times: the window's edge
    frames see themselves held, not black frames. With `frames` 0 the clip itself, not a copy."""
    return F.pad(clip, (0, 0, 0, 0, frames, frames), mode="replicate") if frames else clip


def scale_init_(conv: nn.Conv2d | nn.Conv3d, factor: float) -> None:
    """Kaiming init scaled down: residual branches start near zero (BasicSR's default_init_weights)."""
    nn.init.kaiming_normal_(conv.weight, a=NEGATIVE_SLOPE)
    conv.weight.data.mul_(factor)
    nn.init.zeros_(conv.bias)


class ResidualBlock(nn.Module):
    """x + s * conv(lrelu(conv(x))): the light model's trunk block (paper Fig. 9a)."""

    def __init__(self, num_feat: int, res_scale: float) -> None:
        super().__init__()
        self.conv1 = conv3x3(num_feat, num_feat)
        self.conv2 = conv3x3(num_feat, num_feat)
        self.act = lrelu()
        self.res_scale = res_scale
        scale_init_(self.conv1, 0.1)
        scale_init_(self.conv2, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(self.act(self.conv1(x)))


class TemporalResidualBlock(nn.Module):
    """A residual block whose first convolution spans (time, y, x) and whose second stays
    within each frame, on (B, C, T, H, W) features: each frame's output compares its neighbours'
    features within one position, through a nonlinearity.

    The non-local block can only mix neighbours' features as they are (a convex blend); this
    block can respond to the sub-pixel offset between frames, which is what recovering detail
    from motion needs (as 3D-convolution VSR, e.g. DUF, does). Only the first convolution is
    3D: the second would cost as many parameters again for a reach the window already has."""

    def __init__(self, num_feat: int, res_scale: float) -> None:
        super().__init__()
        self.conv1 = conv3x3x3(num_feat, num_feat)
        self.conv2 = nn.Conv3d(num_feat, num_feat, (1, 3, 3), padding=(0, 1, 1))
        self.act = lrelu()
        self.res_scale = res_scale
        scale_init_(self.conv1, 0.1)
        scale_init_(self.conv2, 0.1)

    def forward(self, x: torch.Tensor, produce: range | None = None, gates: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, T, H, W) -> the same, or only the frames in `produce` (a contiguous range of
        positions): the first convolution reads one frame more on each side, held at the edges,
        through the neighbour gates if given (reach_gate.py, (B, T, T, H, W))."""
        if produce is None:
            produce = range(x.shape[2])
        if gates is not None:
            compared = gated_temporal_conv(self.conv1, x, gates, produce)
        else:
            # Held frame j is window position j - 1: positions produce-1 .. produce+1 start at produce.start.
            compared = self.conv1(hold_edges(x)[:, :, produce.start : produce.stop + 2])
        return x[:, :, produce.start : produce.stop] + self.res_scale * self.conv2(self.act(compared))


class DenseResidualBlock(nn.Module):
    """Five convolutions, each seeing the concatenation of the input and all earlier outputs
    (the concatenation-style skip the paper takes from ESRGAN), then a scaled residual add."""

    def __init__(self, num_feat: int, num_grow: int, res_scale: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            conv3x3(num_feat + i * num_grow, num_grow if i < 4 else num_feat) for i in range(5)
        )
        self.act = lrelu()
        self.res_scale = res_scale
        for conv in self.convs:
            scale_init_(conv, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs[:-1]:
            features.append(self.act(conv(torch.cat(features, dim=1))))
        return x + self.res_scale * self.convs[-1](torch.cat(features, dim=1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense residual blocks and an outer scaled skip
    (paper Eq. 8, Fig. 9b)."""

    def __init__(self, num_feat: int, num_grow: int, res_scale: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *(DenseResidualBlock(num_feat, num_grow, res_scale) for _ in range(3))
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.blocks(x)


def make_trunk(kind: str, num_feat: int, num_blocks: int, num_grow: int, res_scale: float) -> nn.Sequential:
    """The spatial feature extractor (paper 2.1, part two): `num_blocks` residual blocks or RRDBs."""
    if kind == "residual":
        return nn.Sequential(*(ResidualBlock(num_feat, res_scale) for _ in range(num_blocks)))
    if kind == "rrdb":
        return nn.Sequential(*(RRDB(num_feat, num_grow, res_scale) for _ in range(num_blocks)))
    raise ValueError(f"trunk must be 'residual' or 'rrdb', not {kind!r}")
