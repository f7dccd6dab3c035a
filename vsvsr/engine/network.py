"""The seam between the engine and the networks it runs.

The engine runs any module that upscales a window of frames by a fixed factor: our x2
spatio-temporal generator (vsvsr.models, a window of T frames) and a community single-image
model (vsvsr.community, a window of one frame) alike. It reads what it needs from the module's
descriptor (`weights.descriptor_of`); tiles, blending, batching, precision, device and the
chained passes of the frame server are the same for both.

A network is a torch module whose `forward(frames, produce)` maps (B, T, 3, h, w) float32 in
[0, 1] to (B, K, 3, s*h, s*w) float32 for the K consecutive window positions `produce` selects
(all when None), s = its descriptor's `scale`, with the body in the parameters' dtype; and whose
`to_channels_last()` sets the layout cuDNN's half-precision kernels want.
"""

from __future__ import annotations

from typing import Protocol


class NetworkSpec(Protocol):
    """What the engine needs of a network's descriptor (weights.ModelDescriptor for ours,
    community.CommunityDescriptor for a spandrel model)."""

    @property
    def scale(self) -> int: ...  # output size over input size, per pass

    @property
    def window(self) -> int: ...  # frames per window by default

    @property
    def temporal(self) -> bool: ...  # False: each frame on its own, so the window is fixed at 1

    @property
    def inference_tile(self) -> int: ...  # default LR tile side

    @property
    def size_multiple(self) -> int: ...  # the network pads inputs to this itself; tiles must not be smaller

    @property
    def precisions(self) -> tuple[str, ...]: ...  # the precisions it computes correctly in
