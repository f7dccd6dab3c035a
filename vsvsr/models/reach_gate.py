"""Which neighbouring frames the window can use, place by place: a gate without parameters.

A window model's temporal layers look a fixed distance into the other frames: lite's 3D
convolutions one LR pixel, its local non-local block one folded position. Where the picture
moves farther than that between frames (a head turning, a dog running past), those layers find
other content where they look and mix it in; on the unseen set's camera clips the window then
loses up to 0.3 dB to the same weights run with window 1 (weights/MODEL_CARD.md, session 10). A
learned gate on the neighbours did not learn to close there (session 9).

This gate is measured, not learned. For every place p of frame t it asks whether frame t+1
holds t's patch within `reach` LR pixels: the smallest mean absolute difference of (lightly
blurred) luma over the patch, across the integer shifts up to `reach`. A mismatch at or below
the generator's `reach_match` (8-bit levels) opens the gate (1), at or above `reach_miss`
closes it (0), linearly between; frames farther apart get the least open gate of the steps
between them (`reach_gates`). Where a gate is closed every temporal layer sees frame t itself
in the other frame's place, which is what it sees in a static window (window 1, and so the
output there is window 1's); where it is open the layers see the window as trained. The blur
lets a sub-pixel move, which the window gains most from, still count as a match.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PRE_BLUR = 3  # box filter on the luma before comparing: sub-pixel moves of fine texture still match
PATCH = 5  # LR pixels on a side of the patch whose mean difference is compared
LUMA = (0.299, 0.587, 0.114)  # BT.601 weights; the gate needs a brightness, not a colour standard


def _box(x: torch.Tensor, size: int) -> torch.Tensor:
    """Mean over size x size neighbourhoods of (N, C, h, w) maps, edges replicated; separable,
    as sums of shifted slices, which on the CPU run several times faster than avg_pool2d at the
    gate's sizes (bench/plugin.py --weights shows what the gate costs a whole model)."""
    r = size // 2
    h, w = x.shape[-2:]
    x = F.pad(x, (r, r, r, r), mode="replicate")
    rows = x[..., :, :w]
    for i in range(1, size):
        rows = rows + x[..., :, i : i + w]
    out = rows[..., :h, :]
    for i in range(1, size):
        out = out + rows[..., i : i + h, :]
    return out / (size * size)


def mismatch(clip: torch.Tensor, reach: int) -> torch.Tensor:
    """(B, 3, T, h, w) RGB in [0, 1] -> (B, T-1, h, w): at [t, p], in 8-bit levels, the smallest
    mean absolute luma difference between frame t's patch at p and frame t+1's patch at p + s
    over the shifts |s| <= `reach`."""
    b, _, t, h, w = clip.shape
    weights = torch.tensor(LUMA, dtype=clip.dtype, device=clip.device).view(1, 3, 1, 1, 1)
    y = _box((clip * weights).sum(1) * 255, PRE_BLUR)  # (B, T, h, w)
    current = y[:, : t - 1]  # each consecutive pair's first frame: (B, T-1, h, w), frames as channels
    following = F.pad(y[:, 1:t], (reach,) * 4, mode="replicate")
    side = 2 * reach + 1
    # Every pair and shift as one (B, (T-1) * shifts, h, w) map, so one box filter takes all the
    # patch means rather than one filter per pair and shift (72 small pooling calls per forward of
    # lite's tile batch before); plain (N, C, H, W) ops, which every exporter takes.
    shifted = [(current - following[:, :, dy : dy + h, dx : dx + w]).abs() for dy in range(side) for dx in range(side)]
    means = _box(torch.stack(shifted, 2).reshape(b, (t - 1) * side * side, h, w), PATCH)
    return means.reshape(b, t - 1, side * side, h, w).amin(2)


def reach_gates(clip: torch.Tensor, reach: int, levels: tuple[float, float]) -> torch.Tensor:
    """(B, 3, T, h, w) in [0, 1] -> (B, T, T, h, w) in [0, 1]: gate [t, u] says how far frame
    t's layers may use frame u at each place (1 on the diagonal).

    Only consecutive frames are compared, and each comparison serves both directions (a patch
    of t found in t+1 within the reach has its match in t within the reach too, up to the
    patch's edge); frames farther apart are as usable as the least usable step between them,
    which keeps the cost at T-1 comparisons instead of T(T-1)."""
    low, high = levels
    steps = ((high - mismatch(clip, reach)) / (high - low)).clamp(0, 1)  # (B, T-1, h, w)
    b, t = steps.shape[0], clip.shape[2]
    # Frame i against each later j: the running minimum of the steps i .. j-1.
    apart = {}
    for i in range(t - 1):
        gate = steps[:, i]
        for j in range(i + 1, t):
            gate = gate if j == i + 1 else torch.minimum(gate, steps[:, j - 1])
            apart[i, j] = gate
    ones = torch.ones_like(steps[:, 0])
    every = [ones if i == j else apart[min(i, j), max(i, j)] for i in range(t) for j in range(t)]
    return torch.stack(every, 1).view(b, t, t, *steps.shape[-2:])


def fold_gates(gates: torch.Tensor, m: int) -> torch.Tensor:
    """The gates of an m x m-folded grid: each position's mean over its block (B, T, T, h/m, w/m)."""
    if m == 1:
        return gates
    b, t, u, h, w = gates.shape
    return F.avg_pool2d(gates.reshape(b, t * u, h, w), m).reshape(b, t, u, h // m, w // m)


def gated_temporal_conv(conv: nn.Conv3d, x: torch.Tensor, gates: torch.Tensor, produce: range) -> torch.Tensor:
    """A 3-frame convolution W = (W_-, W_0, W_+) (time kernel 3, no time padding) at the window
    positions `produce` of (B, C, T, h, w) features, edge frames held, with each output frame t
    reading its neighbours through the gates: x_t + g[t, t-1] (x_{t-1} - x_t) before it and
    x_t + g[t, t+1] (x_{t+1} - x_t) after it. With every gate 1 it is the plain convolution of
    the held clip, with every gate 0 that of the frame alone. (B, O, K, h, w).

    Neighbours share one gate in both directions (reach_gates: g[t, t+1] = g[t+1, t] = s_t), so
    with the gated steps D_t = s_t (x_{t+1} - x_t) the convolution is, by its linearity,

        y_t = (W_- + W_0 + W_+) * x_t + W_+ * D_t - W_- * D_{t-1}:

    one frame-by-frame convolution of the K frames and one 2-frame convolution of the K + 1
    steps around them (D is 0 beyond a held edge), rather than one over 3K gated copies of the
    frames (the lerped triples): the same numbers up to rounding, with no interleaved copy and
    convolutions that slide over their frames, which lite's full-resolution front (16 channels)
    felt most (bench/models.py, table 3, measures what the gate costs the whole forward)."""
    t = x.shape[2]
    first, last = produce.start, produce.stop
    lo, hi = max(first - 1, 0), min(last, t - 1)  # the steps D_lo .. D_{hi-1} inside the window
    # One dtype for the product: CPU autocast runs some ops in float32 whatever they are given,
    # and the gates come from the LR frames while a half-precision model's features do not.
    # g[t, t+1] for every t: the gates' first superdiagonal, a view (B, 1, T-1, h, w).
    steps = gates.diagonal(offset=1, dim1=1, dim2=2).permute(0, 3, 1, 2)[:, None, lo:hi].to(x.dtype)
    gated_steps = (x[:, :, lo + 1 : hi + 1] - x[:, :, lo:hi]) * steps
    gated_steps = F.pad(gated_steps, (0, 0, 0, 0, lo - (first - 1), last - hi))  # D_{first-1} .. D_{last-1}
    before, own, after = conv.weight.unbind(2)
    frames = F.conv3d(x[:, :, first:last], (before + own + after)[:, :, None], conv.bias, padding=(0, 1, 1))
    return frames + F.conv3d(gated_steps, torch.stack([-before, after], 2), None, padding=(0, 1, 1))
