"""Serving upscaled frames by index: each window computed once, shared, and briefly kept.

Adapters ask for frame n in any order and from any thread. The window that produces n comes
from the fixed grid (windows.py); concurrent requests for one window wait on a single
computation; finished windows stay in a small LRU cache for the neighbours that follow, so
memory stays flat however long the clip.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable

import torch

from .windows import Window, WindowGrid

FrameSource = Callable[[int], torch.Tensor]  # index -> (3, h, w) float32 RGB in [0, 1]


class FrameServer:
    def __init__(
        self,
        upscale_window: Callable[[torch.Tensor], torch.Tensor],
        source: FrameSource,
        grid: WindowGrid,
        cache_windows: int = 2,
    ) -> None:
        self.upscale_window = upscale_window
        self.source = source
        self.grid = grid
        self.cache_windows = max(1, cache_windows)
        self._lock = threading.Lock()
        self._done: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()
        self._running: dict[tuple[int, int], Future] = {}

    @property
    def cached_windows(self) -> int:
        return len(self._done)

    def frame(self, n: int) -> torch.Tensor:
        """Upscaled frame n: (3, s*h, s*w) float32 in [0, 1]."""
        window = self.grid.window_of(n)
        return self._outputs(window)[n - window.first]

    def _outputs(self, window: Window) -> torch.Tensor:
        """The frames `window` produces, (count, 3, H, W): from cache, from a computation already
        running in another thread, or computed here."""
        key = window.key
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            future = self._running.get(key)
            owner = future is None
            if owner:
                future = self._running[key] = Future()
        if not owner:
            return future.result()
        try:
            outputs = self._compute(window)
        except BaseException as err:
            with self._lock:
                del self._running[key]
            future.set_exception(err)
            raise
        with self._lock:
            del self._running[key]
            self._done[key] = outputs
            while len(self._done) > self.cache_windows:
                self._done.popitem(last=False)
        future.set_result(outputs)
        return outputs

    def _compute(self, window: Window) -> torch.Tensor:
        loaded = {i: self.source(i) for i in sorted(set(window.frames))}
        frames = torch.stack([loaded[i] for i in window.frames])  # (T, 3, h, w)
        kept = slice(window.position(window.first), window.position(window.first) + window.count)
        # Keep only the produced frames: a clone, so the full window's memory is released.
        return self.upscale_window(frames)[kept].clone()
