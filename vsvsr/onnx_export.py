"""Fixed-window ONNX graphs of a generator, for vs-mlrt's runtimes (core.ort.Model and others).

vs-mlrt hands a network the planes of its input clips stacked as channels, so a graph takes a
window of T frames as one (1, 3T, h, w) tensor (frame 0's R, G, B, then frame 1's, ...) and
returns the upscaled frames at the window positions it produces, (1, 3K, 2h, 2w), clamped to
[0, 1] like the engine's output.

h and w are dynamic. `vsvsr export-onnx` writes the centre frame (the engine's "centre" mode)
on a single tile; filter_scripts/upscale_ort.vpy runs it over T shifted clips. The backends of
core.vsr.SRGAN (mlrt.py) export other produced positions and run the graph on the engine's tiles.

    vsvsr export-onnx --weights my.safetensors --window 5 lite_w5.onnx
"""

from __future__ import annotations

import copy
import importlib.util
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_path
from .engine import WindowGrid
from .errors import UsageError
from .models import SpatioTemporalGenerator

EXAMPLE_SIZE = 32  # LR side of the tracing example; the exported h and w stay dynamic
OPSET = 20  # torch 2.11's default, pinned: a new torch must not change the graphs (or their cache keys)


def centre_position(window: int) -> int:
    """Where a window of `window` frames holds the frame it produces in centre mode."""
    return WindowGrid(1, window, mode="centre").lead


class WindowGraph(nn.Module):
    """(1, 3T, h, w) stacked window -> (1, 3K, 2h, 2w): the positions `produced`, upscaled, clamped to
    [0, 1] unless `clamp` is off (tiles that are blended afterwards: the engine clamps the blend)."""

    def __init__(self, model: SpatioTemporalGenerator, window: int, produced: range, clamp: bool = True) -> None:
        super().__init__()
        self.model, self.window, self.clamp = model, window, clamp
        self.produce = slice(produced.start, produced.stop)

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        _, _, h, w = stacked.shape
        frames = stacked.reshape(1, self.window, 3, h, w)  # (1, T, 3, h, w)
        out = self.model(frames, self.produce)  # (1, K, 3, 2h, 2w)
        out = out.clamp(0, 1) if self.clamp else out
        return out.reshape(1, 3 * (self.produce.stop - self.produce.start), 2 * h, 2 * w)  # (1, 3K, 2h, 2w)


def export_onnx(model: SpatioTemporalGenerator, window: int, path: str | os.PathLike, produced: range | None = None,
                clamp: bool = True) -> Path:  # fmt: skip
    """Write `model` (fp32, eval) as a graph of `window` frames to `path`, atomically: by default
    of the centre frame, else of the window positions `produced`."""
    if window < 1:
        raise UsageError(f"window must be at least 1 frame, not {window}")
    if importlib.util.find_spec("onnx") is None:  # torch.onnx.export writes through it
        raise UsageError("exporting ONNX needs the onnx package; install it: pip install 'vsvsr[onnx]'")
    if produced is None:
        produced = range(centre_position(window), centre_position(window) + 1)
    # A private fp32 copy: casting must not change the caller's model.
    graph = WindowGraph(copy.deepcopy(model).float().eval(), window, produced, clamp)
    example = torch.rand(1, 3 * window, EXAMPLE_SIZE, EXAMPLE_SIZE)
    path = Path(path)
    with atomic_path(path) as tmp:
        # The TorchScript exporter (dynamo=False) exports in seconds, also for the 27M-parameter
        # rrdb; its deprecation and tracer warnings say nothing about this graph.
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (example,), tmp, dynamo=False, opset_version=OPSET, input_names=["frames"],
                              output_names=["upscaled"],
                              dynamic_axes={"frames": {2: "h", 3: "w"}, "upscaled": {2: "h2", 3: "w2"}})  # fmt: skip
    return path
