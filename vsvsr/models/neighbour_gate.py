"""A learned per-position gate on what each frame takes from its neighbours (ours, issue #15).

Every 3-frame convolution of the generator computes, for frame t,

    y_t = W_0 * x_t + g_prev(t) . W_-1 * x_{t-1} + g_next(t) . W_+1 * x_{t+1} + b

where the gates are maps over (y, x) that a small network reads off the LR frames: frame t, its
neighbour, and their difference. Where a neighbour lines up, the neighbour's taps carry the
sub-pixel detail the window exists for; where it does not (fast or non-rigid motion, motion
blur, a different noise pattern), the ungated network still mixes it in, and on real camera
clips its window lost to the same weights fed single frames (weights/MODEL_CARD.md). A gate of
0 makes the convolution see the frame as if it were held, which is what `window=1` computes.

The gate is 2 sigmoid(z) with the last convolution zero-initialised: exactly 1 at first, so a
gated generator built from ungated weights computes what they did (`ADDITIVE_PARAMS`) and
training only has to learn where to turn the neighbours down.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Gates, hold_edges, lrelu


class NeighbourGate(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        # Per frame (time kernel 1): frame, neighbour and their difference, 3 x RGB in.
        self.conv1 = nn.Conv3d(9, hidden, (1, 3, 3), padding=(0, 1, 1))
        self.conv2 = nn.Conv3d(hidden, 1, (1, 3, 3), padding=(0, 1, 1))
        self.act = lrelu()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, clip: torch.Tensor) -> Gates:
        """(B, 3, T, h, w) LR frames -> the gates of their previous and next neighbours. At the
        window's edges the neighbour is the held frame itself (the generator's hold_edges)."""
        held, frames = hold_edges(clip), clip.shape[2]
        gates = []
        for neighbour in (held[:, :, :frames], held[:, :, 2:]):
            pair = torch.cat([clip, neighbour, neighbour - clip], dim=1)
            gates.append(2 * torch.sigmoid(self.conv2(self.act(self.conv1(pair)))))
        return gates[0], gates[1]


def pooled(gates: Gates, m: int) -> Gates:
    """The gates on the generator's m x m folded grid: the mean over each block."""
    if m == 1:
        return gates
    return tuple(F.avg_pool3d(g, (1, m, m)) for g in gates)  # type: ignore[return-value]
