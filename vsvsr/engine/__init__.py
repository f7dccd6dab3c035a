"""The inference engine: windows, tiles, batching, precision and device, in plain torch.

Both adapters (the VapourSynth filter and the ffmpeg pipeline) drive this one engine, so the
same RGB frames and scene cuts give the same output through either:

    engine = Engine(weights.load("lite"), Settings(scale=2))
    clip = engine.clip(length)                 # one clip's windows, computed once and shared
    frame = clip.frame(n, source, cuts)        # source(i) -> (3, h, w) float32 RGB in [0, 1];
                                               # (3, 2h, 2w) float32, any order, any thread
    frames = engine.upscale_clip(lr, cuts)     # a clip held in memory, (N, 3, h, w), all at once

The network is ours or a community single-image model (network.py: what the engine needs of it).
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..weights import descriptor_of
from .network import NetworkSpec
from .server import ClipServer, FrameSource, WindowCache
from .settings import PRECISIONS, Resolved, Settings, default_batch, default_precision, passes, resolve
from .tiles import TileGrid
from .upscaler import WindowUpscaler
from .windows import MODES, Window, WindowGrid


class Engine:
    """A network with resolved settings; `clip` serves one clip's upscaled frames."""

    def __init__(self, model: torch.nn.Module, settings: Settings = Settings(), num_streams: int = 1) -> None:
        descriptor: NetworkSpec = descriptor_of(model)
        self.descriptor = descriptor
        self.settings: Resolved = resolve(settings, descriptor)
        self.passes = passes(self.settings.scale, descriptor.scale)
        self.upscaler = WindowUpscaler(model, self.settings, descriptor.scale, num_streams)

    @property
    def frames_evaluated(self) -> int:
        """Generator frame-evaluations so far (each window frame through each pass counts once)."""
        return self.upscaler.frames_evaluated

    @property
    def frames_produced(self) -> int:
        """Frames out of the generator so far: the frames that went through its per-frame trunk."""
        return self.upscaler.frames_produced

    def grid(self, length: int, cuts: Sequence[int] = ()) -> WindowGrid:
        """Which window produces which frame of a clip of `length` frames (as `clip` serves them)."""
        return WindowGrid(length, self.settings.window, cuts, self.settings.mode)

    def clip(self, length: int, cache_windows: int = 2) -> ClipServer:
        """Upscaled frames of a clip of `length` frames, by index. Two passes (our x4: the
        paper's cascade) chain the network twice, the second pass's source being the first's
        output, so engine x4 is exactly engine x2 applied to engine x2's output (every frame
        entering the second pass had its own window's context)."""
        s = self.settings
        return ClipServer(self.upscaler, length, s.window, s.mode, self.passes, cache_windows)

    def upscale_clip(self, frames: torch.Tensor, cuts: Sequence[int] = ()) -> torch.Tensor:
        """(N, 3, h, w) float32 in [0, 1] -> (N, 3, sh, sw): every frame of a clip held in memory."""
        server = self.clip(len(frames))
        return torch.stack([server.frame(n, frames.__getitem__, cuts) for n in range(len(frames))])

    def upscale_window(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, 3, h, w) -> (T, 3, s*h, s*w): one pass of the network over one window, no caching."""
        return self.upscaler(frames)


__all__ = [
    "MODES", "PRECISIONS", "ClipServer", "Engine", "FrameSource", "NetworkSpec", "WindowCache", "Resolved", "Settings",
    "TileGrid", "Window", "WindowGrid", "WindowUpscaler", "default_batch", "default_precision", "passes", "resolve",
]  # fmt: skip
