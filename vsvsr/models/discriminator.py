"""U-Net discriminator with spectral normalisation (paper 2.1, Fig. 10).

The encoder's progressive downsampling sees global context, the decoder brings it back to full
resolution through skip connections, so the output is a realness score per pixel rather than one
number per image: the generator learns where its texture looks fake. Spectral normalisation keeps
the discriminator Lipschitz, so it settles at the non-zero error the paper asks for instead of
overpowering the generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .blocks import NEGATIVE_SLOPE


def _sn_conv(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1) -> nn.Module:
    return spectral_norm(nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2, bias=False))


class UNetDiscriminator(nn.Module):
    """(N, 3, H, W) or (B, T, 3, H, W) images -> per-pixel realness logits of the same layout with
    one channel. Any H, W: inputs are padded to the encoder's multiple (8) and the map cropped back."""

    size_multiple = 8

    def __init__(self, num_feat: int = 64) -> None:
        super().__init__()
        f = num_feat
        self.stem = nn.Conv2d(3, f, 3, padding=1)
        self.down = nn.ModuleList([_sn_conv(f, 2 * f, 4, 2), _sn_conv(2 * f, 4 * f, 4, 2), _sn_conv(4 * f, 8 * f, 4, 2)])
        self.up = nn.ModuleList([_sn_conv(8 * f, 4 * f), _sn_conv(4 * f, 2 * f), _sn_conv(2 * f, f)])
        self.head = nn.Sequential(
            _sn_conv(f, f), nn.LeakyReLU(NEGATIVE_SLOPE), _sn_conv(f, f), nn.LeakyReLU(NEGATIVE_SLOPE),
            nn.Conv2d(f, 1, 3, padding=1),
        )  # fmt: skip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        lead = images.shape[:-3]
        x = images.reshape(-1, *images.shape[-3:])
        h, w = x.shape[-2:]
        m = self.size_multiple
        x = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="replicate")

        skips = [F.leaky_relu(self.stem(x), NEGATIVE_SLOPE)]
        for conv in self.down:
            skips.append(F.leaky_relu(conv(skips[-1]), NEGATIVE_SLOPE))
        y = skips.pop()
        for conv in self.up:
            y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
            y = F.leaky_relu(conv(y), NEGATIVE_SLOPE) + skips.pop()
        realness = self.head(y)[..., :h, :w]
        return realness.reshape(*lead, 1, h, w)
