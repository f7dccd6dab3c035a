"""Serving upscaled frames by index: each window computed once, shared, and briefly kept.

Adapters ask for frame n in any order and from any thread. The window that produces n comes
from the fixed grid (windows.py); concurrent requests for one window wait on a single
computation; finished windows stay in a small LRU cache for the neighbours that follow, so
memory stays flat however long the clip. x4 chains two passes: the second pass's source is
the first pass's output.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable, Sequence

import torch

from .windows import Window, WindowGrid

FrameSource = Callable[[int], torch.Tensor]  # index -> (3, h, w) float32 RGB in [0, 1]
UpscaleWindow = Callable[[torch.Tensor, slice], torch.Tensor]  # (T, 3, h, w), produce -> (K, 3, s*h, s*w)


class WindowCache:
    """One network pass over a clip: windows computed on demand, merged across threads, kept LRU."""

    def __init__(self, upscale_window: UpscaleWindow, capacity: int) -> None:
        self.upscale_window = upscale_window
        self.capacity = max(1, capacity)
        self._lock = threading.Lock()
        self._done: OrderedDict[tuple[int, int], torch.Tensor] = OrderedDict()
        self._running: dict[tuple[int, int], Future] = {}

    def __len__(self) -> int:
        return len(self._done)

    def frame(self, n: int, grid: WindowGrid, source: FrameSource) -> torch.Tensor:
        """Upscaled frame n: (3, s*h, s*w) float32 in [0, 1]."""
        window = grid.window_of(n)
        return self._outputs(window, source)[n - window.first]

    def _outputs(self, window: Window, source: FrameSource) -> torch.Tensor:
        """The frames `window` produces, (count, 3, H, W): from the cache, from a computation
        already running in another thread, or computed here."""
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
            outputs = self._compute(window, source)
        except BaseException as err:
            with self._lock:
                del self._running[key]
            future.set_exception(err)
            raise
        with self._lock:
            del self._running[key]
            self._done[key] = outputs
            while len(self._done) > self.capacity:
                self._done.popitem(last=False)
        future.set_result(outputs)
        return outputs

    def _compute(self, window: Window, source: FrameSource) -> torch.Tensor:
        loaded = {i: source(i) for i in sorted(set(window.frames))}
        frames = torch.stack([loaded[i] for i in window.frames])  # (T, 3, h, w)
        produce = slice(window.position(window.first), window.position(window.first) + window.count)
        return self.upscale_window(frames, produce)


class ClipServer:
    """A clip's upscaled frames by index, through `passes` chained network passes (ours: 1 is
    x2, 2 is x4).

    The one door the adapters use. Every request names its source and the scene cuts it knows
    (the VapourSynth filter learns cuts from frame props near n; the ffmpeg pipeline has all of
    them): a window's cache key depends only on its own scene, so answers agree however many
    cuts a request knows, as long as it knows those within `reach` of n.
    """

    def __init__(self, upscale_window: UpscaleWindow, length: int, window: int, mode: str, passes: int,
                 cache_windows: int = 2) -> None:  # fmt: skip
        self.length, self.window, self.mode = length, window, mode
        self._passes = [WindowCache(upscale_window, cache_windows) for _ in range(passes)]
        grid = self._grid(())
        self.stride = grid.stride  # segments and chunks that start on a multiple share no window
        # How far from frame n a request can look, through every pass (so how far cuts matter).
        self.reach = grid.reach * passes

    @property
    def cached_windows(self) -> int:
        return sum(len(cache) for cache in self._passes)

    def frame(self, n: int, source: FrameSource, cuts: Sequence[int] = ()) -> torch.Tensor:
        """Upscaled frame n, reading source frames `needs(n, cuts)` through `source`."""
        grid = self._grid(cuts)
        return self._pass_frame(len(self._passes) - 1, n, grid, source)

    def needs(self, n: int, cuts: Sequence[int] = ()) -> tuple[int, ...]:
        """The source frames producing frame n reads: its window's frames, through every pass.
        Their lowest never decreases with n, so a sequential reader may drop frames below it."""
        grid = self._grid(cuts)
        needed = {n}
        for _ in self._passes:
            needed = {i for m in needed for i in grid.window_of(m).frames}
        return tuple(sorted(needed))

    def _grid(self, cuts: Sequence[int]) -> WindowGrid:
        # Built per request: sorting the cuts costs microseconds against a window's upscale.
        return WindowGrid(self.length, self.window, cuts, self.mode)

    def _pass_frame(self, index: int, n: int, grid: WindowGrid, source: FrameSource) -> torch.Tensor:
        below = source if index == 0 else (lambda i: self._pass_frame(index - 1, i, grid, source))
        return self._passes[index].frame(n, grid, below)
