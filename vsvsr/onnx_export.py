"""A fixed-window ONNX graph of a generator, for vs-mlrt's runtimes (core.ort.Model and others).

vs-mlrt hands a network the planes of its input clips stacked as channels, so the graph takes a
window of T frames as one (1, 3T, h, w) tensor (frame 0's R, G, B, then frame 1's, ...) and
returns the window's centre frame upscaled, (1, 3, 2h, 2w), clamped to [0, 1] like the engine's
output. That is the engine's "centre" mode (each frame its own window, stride 1) on a single
tile; h and w are dynamic. filter_scripts/upscale_ort.vpy runs it over T shifted clips.

    vsvsr export-onnx --weights my.safetensors --window 5 lite_w5.onnx
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_path
from .errors import UsageError
from .engine import WindowGrid
from .models import SpatioTemporalGenerator

EXAMPLE_SIZE = 32  # LR side of the tracing example; the exported h and w stay dynamic


def centre_position(window: int) -> int:
    """Where a window of `window` frames holds the frame it produces in centre mode."""
    return WindowGrid(1, window, mode="centre").lead


class CentreFrameGraph(nn.Module):
    """(1, 3T, h, w) stacked window -> (1, 3, 2h, 2w) upscaled centre frame."""

    def __init__(self, model: SpatioTemporalGenerator, window: int) -> None:
        super().__init__()
        self.model, self.window, self.centre = model, window, centre_position(window)

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        b, _, h, w = stacked.shape
        frames = stacked.reshape(b, self.window, 3, h, w)  # (1, T, 3, h, w)
        return self.model(frames)[:, self.centre].clamp(0, 1)  # (1, 3, 2h, 2w)


def export_onnx(model: SpatioTemporalGenerator, window: int, path: str | os.PathLike) -> Path:
    """Write `model` (fp32, eval) as a fixed-window ONNX graph to `path`, atomically."""
    if window < 1:
        raise UsageError(f"window must be at least 1 frame, not {window}")
    if importlib.util.find_spec("onnx") is None:  # torch.onnx.export writes through it
        raise UsageError("exporting ONNX needs the onnx package; install it: pip install 'vsvsr[onnx]'")
    graph = CentreFrameGraph(model.float().eval(), window)
    example = torch.rand(1, 3 * window, EXAMPLE_SIZE, EXAMPLE_SIZE)
    path = Path(path)
    with atomic_path(path) as tmp:
        # The TorchScript exporter (dynamo=False) exports in seconds, also for the 27M-parameter
        # rrdb; its deprecation and tracer warnings say nothing about this graph.
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (example,), tmp, dynamo=False, input_names=["frames"], output_names=["upscaled"],
                              dynamic_axes={"frames": {2: "h", 3: "w"}, "upscaled": {2: "h2", 3: "w2"}})  # fmt: skip
    return path
