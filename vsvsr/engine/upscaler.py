"""Upscaling one window by one pass of the network: tiles, batches, precision and device.

Each LR frame of the window is split into tiles, the tiles go through the network in batches
(always the same tiles of the same window together: batch composition changes kernels, and so
bits), and the upscaled tiles are blended back into full frames. (Two passes, our x4, chain two
of these through the frame server, see `Engine.clip`.)
"""

from __future__ import annotations

import copy
import queue
from contextlib import contextmanager
from typing import Iterator

import torch

from .settings import Resolved
from .tiles import TileGrid


class WindowUpscaler:
    """(T, 3, h, w) float32 frames in [0, 1] -> (K, 3, s*h, s*w) float32 in [0, 1], on CPU, for
    the K <= T frames it is asked to produce; s: the network's `scale` (engine/network.py).

    Safe to call from several threads: on CPU calls run one at a time (each already uses all
    of torch's threads); on CUDA up to `num_streams` run concurrently, each on its own stream.
    """

    def __init__(self, model: torch.nn.Module, settings: Resolved, scale: int, num_streams: int = 1) -> None:
        self.settings = settings
        self.scale = scale
        # A private copy: casting and moving must not change the caller's model.
        self.model = copy.deepcopy(model).eval().requires_grad_(False).to(settings.device, settings.dtype)
        if settings.channels_last:
            self.model.to_channels_last()
        self._slots: queue.Queue = queue.Queue()
        if settings.device.type == "cuda":
            for _ in range(num_streams):
                self._slots.put(torch.cuda.Stream(settings.device))
        else:
            self._slots.put(None)

        # Whole frames into the generator, and whole frames out of it (a tiled frame counts
        # once). Frames in but not out were context only: they skipped the trunk.
        self.frames_evaluated = 0
        self.frames_produced = 0

    def __call__(self, frames: torch.Tensor, produce: slice | None = None) -> torch.Tensor:
        """The window's upscaled frames, or only the consecutive positions `produce` selects (the
        others are then context only, and cost less: see the generator's `forward`)."""
        with self._slot() as stream, torch.inference_mode():
            self.frames_evaluated += frames.shape[0]
            out = self._pass(frames.to(self.settings.device, non_blocking=True), produce).cpu()
            self.frames_produced += out.shape[0]
            if stream is not None:
                stream.synchronize()
            return out

    def _pass(self, frames: torch.Tensor, produce: slice | None) -> torch.Tensor:
        """One network pass over a whole window: tile, batch, merge, clamp."""
        t, c, h, w = frames.shape
        grid = TileGrid(h, w, self.settings.tile, self.settings.overlap, self.scale)
        upscaled = []
        step = self.settings.batch
        for i in range(0, len(grid.tiles), step):
            crops = torch.stack([grid.crop(frames, tile) for tile in grid.tiles[i : i + step]])  # (B, T, 3, th, tw)
            upscaled.extend(self.model(crops, produce))  # B x (K, 3, s*th, s*tw), float32
        return grid.merge(upscaled).clamp_(0, 1)

    @contextmanager
    def _slot(self) -> Iterator[torch.cuda.Stream | None]:
        stream = self._slots.get()
        try:
            if stream is None:
                yield None
            else:
                with torch.cuda.stream(stream):
                    yield stream
        finally:
            self._slots.put(stream)

