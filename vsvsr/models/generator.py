"""The spatio-temporal x2 generator (paper 2.1, Fig. 8), one class for all three variants.

The paper splits the network into four parts, and so does `forward`, after an optional part 0
of our own (`front_feat`: 3D convolutions on the LR frames at full resolution, which lite needs
because the rest of it runs on a 2x2-folded grid):

1. channel expansion and temporal feature extraction: a 3D convolution over (time, y, x) lifts
   RGB to `num_feat` channels while looking at the neighbouring frames, then a 3D non-local block
   relates every position of the T x H x W window to every other, then `temporal_blocks`
   residual blocks of 3D convolutions (ours; 0 for the paper's models) compare neighbouring
   frames before the trunk treats each frame on its own;
2. spatial feature extraction: the trunk (residual blocks or RRDBs), frame by frame;
3. reconstruction: a convolution closing the trunk's long skip;
4. upsampling and channel compression: pixel shuffle to twice the size, down to RGB.

A global skip adds the bicubic-interpolated input, so the network learns only the missing
detail. With `neighbour_reach` > 0, every layer that mixes frames (parts 0 and 1) reads each
neighbour through a gate measured on the LR frames themselves (reach_gate.py): where the
neighbour holds no match for a patch within that many LR pixels, the layer sees the frame
itself in its place, as it would in window 1.

Every frame of the window comes out, (B, T, 3, h, w) -> (B, T, 3, 2h, 2w), or only the
positions the caller asks it to produce (`forward`'s `produce`); the others are context.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import TemporalResidualBlock, conv3x3, conv3x3x3, hold_edges, lrelu, make_trunk, scale_init_
from .nonlocal_block import NonLocalBlock3d
from .reach_gate import fold_gates, gated_temporal_conv, reach_gates


class SpatioTemporalGenerator(nn.Module):
    """x2 video super-resolution generator.

    `unshuffle` > 1 folds each u x u block of pixels into channels before the network (Real-ESRGAN's
    trick for small scales): every convolution then runs on u^2 fewer positions, and the final pixel
    shuffle goes up by 2u. Inputs are padded (by edge replication) to a multiple of `unshuffle` and
    the output is cropped back, so any h and w work. The padding is smaller than one folded
    position, so every position the non-local block sees holds real pixels and it needs no mask.
    """

    def __init__(
        self,
        trunk: str = "rrdb",
        num_feat: int = 64,
        num_blocks: int = 23,
        num_grow: int = 32,
        res_scale: float = 0.2,
        unshuffle: int = 1,
        temporal_kernel: int = 3,
        nonlocal_inner: int | None = None,
        pairwise: str = "dot",
        neighbourhood: int = 5,
        hr_conv: bool = True,
        temporal_blocks: int = 0,
        front_feat: int = 0,
        neighbour_reach: int = 0,
        reach_match: float = 10.0,
        reach_miss: float = 20.0,
    ) -> None:
        super().__init__()
        if temporal_kernel % 2 != 1:
            raise ValueError(f"temporal_kernel must be odd, not {temporal_kernel}")
        if min(temporal_blocks, front_feat) < 0:
            raise ValueError(f"temporal_blocks and front_feat must not be negative, not {temporal_blocks}, {front_feat}")
        if neighbour_reach < 0 or reach_match >= reach_miss:
            raise ValueError(f"neighbour_reach must not be negative ({neighbour_reach}) and reach_match must be "
                             f"below reach_miss ({reach_match}, {reach_miss})")  # fmt: skip
        if neighbour_reach and (pairwise != "local" or temporal_kernel not in (1, 3)):
            raise ValueError("neighbour_reach gates 3-frame convolutions and the local non-local block: it needs "
                             f"pairwise='local' and temporal_kernel 1 or 3, not {pairwise!r} and {temporal_kernel}")  # fmt: skip
        self.unshuffle = unshuffle
        self.temporal_pad = temporal_kernel // 2
        # Parameter-free neighbour gates (reach_gate.py): a neighbour's patch found within
        # `neighbour_reach` LR pixels at most `reach_match` 8-bit levels off is used fully, one
        # `reach_miss` or more off not at all. 0: every layer sees the window as it is.
        self.neighbour_reach = neighbour_reach
        self.reach_levels = (float(reach_match), float(reach_miss))
        in_ch = (front_feat or 3) * unshuffle * unshuffle

        # 0. (ours) two 3D convolutions on the LR frames before any fold (see _front)
        self.front = nn.ModuleList(
            [conv3x3x3(3, front_feat), conv3x3x3(front_feat, front_feat)] if front_feat else []
        )

        # 1. channel expansion + temporal feature extraction
        self.expand = nn.Conv3d(in_ch, num_feat, (temporal_kernel, 3, 3), padding=(0, 1, 1))
        self.act = lrelu()
        self.nonlocal_block = NonLocalBlock3d(num_feat, nonlocal_inner, pairwise, neighbourhood)
        self.temporal_trunk = nn.Sequential(
            *(TemporalResidualBlock(num_feat, res_scale) for _ in range(temporal_blocks))
        )
        # 2. spatial feature extraction
        self.trunk = make_trunk(trunk, num_feat, num_blocks, num_grow, res_scale)
        # 3. reconstruction
        self.reconstruct = conv3x3(num_feat, num_feat)
        # 4. upsampling (x2 overall, x2u on the folded grid) and channel compression to RGB
        shuffle = 2 * unshuffle
        if hr_conv:
            self.upsample = nn.Sequential(
                conv3x3(num_feat, num_feat * shuffle**2), nn.PixelShuffle(shuffle), lrelu(),
                conv3x3(num_feat, num_feat), lrelu(), conv3x3(num_feat, 3),
            )  # fmt: skip
        else:
            self.upsample = nn.Sequential(conv3x3(num_feat, 3 * shuffle**2), nn.PixelShuffle(shuffle))
        # The detail starts small, so a fresh generator is close to its bicubic skip.
        scale_init_([m for m in self.upsample if isinstance(m, nn.Conv2d)][-1], 0.1)

    @property
    def size_multiple(self) -> int:
        return self.unshuffle

    def to_channels_last(self) -> SpatioTemporalGenerator:
        """Channels-last 2D convolutions; the 3D and 1D layers keep their layout. Outputs are
        unchanged up to rounding. The engine uses it on CUDA only (why: engine/settings.py);
        on CPU it was 10-40% slower (bench/models.py)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.to(memory_format=torch.channels_last)
        return self

    def forward(self, frames: torch.Tensor, produce: slice | None = None) -> torch.Tensor:
        """frames: (B, T, 3, h, w) in [0, 1] -> (B, K, 3, 2h, 2w), float32: every frame of the
        window (K = T), or only the consecutive positions `produce` selects, computed exactly as in
        the whole window but without the frame-by-frame work on the others (see
        _temporal_features).

        The body runs in the parameters' dtype (fp16/bf16 when the model was cast); the bicubic
        skip and the sum stay float32 so low-precision steps never reach the output's levels.
        """
        b, t, c, h, w = frames.shape
        produced = range(t)[produce if produce is not None else slice(None)]
        if produced.step != 1 or not produced:
            raise ValueError(f"produce must select consecutive frames of the {t}-frame window, not {produce}")
        wanted = frames[:, produced.start : produced.stop].reshape(b * len(produced), c, h, w)
        base = F.interpolate(wanted.float(), scale_factor=2, mode="bicubic", align_corners=False)
        detail = self._detail(frames.to(self.expand.weight.dtype).transpose(1, 2), produced)
        return (base + detail.float()).reshape(b, len(produced), c, 2 * h, 2 * w)

    def _detail(self, clip: torch.Tensor, produced: range) -> torch.Tensor:
        """The learned residual of the produced frames of a (B, 3, T, h, w) clip: (B*K, 3, 2h, 2w).

        The clip stays (B, C, T, h, w) through parts 0 and 1, the layout of the 3D layers, so
        the only copies between layouts are the fold and the produced frames' way into the 2D trunk."""
        h, w = clip.shape[-2:]
        m = self.unshuffle
        clip = F.pad(clip, (0, (-w) % m, 0, (-h) % m, 0, 0), mode="replicate")
        # A lone frame has no neighbours to gate (window 1, a one-frame clip).
        gated = self.neighbour_reach and clip.shape[2] > 1
        gates = reach_gates(clip, self.neighbour_reach, self.reach_levels) if gated else None
        clip = fold(self._front(clip, gates), m)
        feat = self._temporal_features(clip, produced, fold_gates(gates, m) if gates is not None else None)
        feat = feat + self.reconstruct(self.trunk(feat))
        return self.upsample(feat)[..., : 2 * h, : 2 * w]

    def _front(self, clip: torch.Tensor, gates: torch.Tensor | None) -> torch.Tensor:
        """Part 0 (ours) on a (B, 3, T, h, w) clip: frames compared at full LR resolution.

        On lite's folded grid one position is a 2x2 block of pixels, and a sub-pixel move between
        frames changes which block a detail falls in rather than how it looks: what the
        neighbours add over the frame itself (the aliasing that their sub-pixel offsets sample
        differently) is only visible before the fold. Trained 1,500 steps on the same data, a
        lite with this front drew +0.33 dB from its real window over a static one, and without it
        +0.005 (weights/MODEL_CARD.md). With `front_feat` 0 the frames go straight to part 1."""
        every = range(clip.shape[2])
        for conv in self.front:
            clip = self.act(conv(hold_edges(clip)) if gates is None else gated_temporal_conv(conv, clip, gates, every))
        return clip

    def _temporal_features(self, clip: torch.Tensor, produced: range, gates: torch.Tensor | None) -> torch.Tensor:
        """Part 1 on a (B, C_in, T, h, w) clip: 3D conv over time, the non-local block, the 3D
        blocks; (B*K, C, h, w) for the produced frames.

        Everything after part 1 works frame by frame, so only the produced frames go on: a window
        whose edge frames are context only (windows.py, "context" and "centre") skips the trunk
        for them, and the last 3D block computes just the produced frames from their neighbours.
        `gates` (the folded grid's neighbour gates) reach every layer that mixes frames."""
        if gates is not None and self.temporal_pad:
            expanded = gated_temporal_conv(self.expand, clip, gates, range(clip.shape[2]))
        else:
            expanded = self.expand(hold_edges(clip, self.temporal_pad))
        feat = self.nonlocal_block(self.act(expanded), gates)
        blocks = list(self.temporal_trunk)
        for block in blocks[:-1]:
            feat = block(feat, gates=gates)  # (B, C, T, h, w)
        feat = blocks[-1](feat, produced, gates) if blocks else feat[:, :, produced.start : produced.stop]
        return feat.transpose(1, 2).flatten(0, 1)


def fold(clip: torch.Tensor, m: int) -> torch.Tensor:
    """Each m x m block of pixels into channels, frame by frame: (B, C, T, m*h, m*w) ->
    (B, C*m*m, T, h, w), in `F.pixel_unshuffle`'s channel order (c*m*m + row*m + column)."""
    if m == 1:
        return clip
    b, c, t, hm, wm = clip.shape
    blocks = clip.reshape(b, c, t, hm // m, m, wm // m, m)  # (B, C, T, h, row, w, column)
    return blocks.permute(0, 1, 4, 6, 2, 3, 5).reshape(b, c * m * m, t, hm // m, wm // m)
