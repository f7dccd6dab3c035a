"""Which N-frame window produces which output frame.

Windows sit on a fixed grid from frame 0, so the window that produces frame n depends only on n,
the clip length and the scene cuts: never on request order, threads or cache state. A window
never crosses a scene cut (or a clip's end). A grid window that would, slides back inside its
scene and produces the same frames from other positions: the frame next to a cut then has as
many real neighbours as the window holds, all on one side, rather than copies of itself
(measured on the unseen set, weights/MODEL_CARD.md "Session 17": lite's shot edges gain 0.20 dB
less than the frames inside instead of 0.25). Only a scene shorter than the window repeats
frames: positions beyond its ends hold its first or last frame. A window straddling a cut is
computed once per scene.

Three layouts, `mode`:

- "context" (default): each window of T frames produces its central T-2 positions (stride T-2),
  so every produced frame but a scene's first and last has a neighbour on both sides; T/(T-2)
  window frames in per output frame.
- "fast": windows tile the clip without overlap (stride T), one window frame per output frame;
  frames at a window's edge see context on one side only.
- "centre": every frame comes from its own centred window (stride 1; near a scene's ends, the
  window slid inside it): best quality, T window frames per output frame.

Frames a window holds only as context pass the generator's temporal part and skip its
frame-by-frame trunk (the generator's `produce`), so each output frame goes through the trunk
once in every mode. For lite (FLOPs per LR pixel: temporal part 35k, the rest 216k; its
temporal part moves more data per FLOP) `bench/modes.py` measures per output frame: context
about 1.2-1.3x fast, centre 2-2.5x from run to run (not 1.67x and 5x).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

MODES = ("context", "fast", "centre")


@dataclass(frozen=True)
class Window:
    """One generator input: `frames` are source indices (replicated only in a scene shorter than
    the window); it produces the output frames `first` .. `first + count - 1`, found at positions
    `first - start` on."""

    scene: int  # first frame of the window's scene: the same in any grid that knows the cuts near it
    start: int  # grid position of frame slot 0 (may lie outside the scene)
    frames: tuple[int, ...]
    first: int
    count: int

    @property
    def key(self) -> tuple[int, int]:
        # Windows of a scene produce disjoint frames; two may share a start where one slid.
        return (self.scene, self.first)

    def position(self, n: int) -> int:
        """Slot of output frame n in this window's frames."""
        return n - self.start


class WindowGrid:
    def __init__(self, length: int, size: int, cuts: tuple[int, ...] | list[int] = (), mode: str = "context") -> None:
        if length < 1:
            raise ValueError(f"clip length must be at least 1, not {length}")
        if size < 1:
            raise ValueError(f"window must be at least 1 frame, not {size}")
        if mode not in MODES:
            raise ValueError(f"window mode must be one of {MODES}, not {mode!r}")
        self.length, self.size, self.mode = length, size, mode
        # Scene starts: frame 0 and every cut inside the clip (a cut at c: c starts a new scene).
        self.scene_starts = sorted({0, *(c for c in cuts if 0 < c < length)})
        if mode == "context" and size >= 3:
            self.lead, self.stride = 1, size - 2
        elif mode == "centre":
            self.lead, self.stride = (size - 1) // 2, 1
        else:  # "fast", and "context" windows too short to keep context on both sides
            self.lead, self.stride = 0, size

    def scene_of(self, n: int) -> tuple[int, int]:
        """(first frame, end) of the scene holding frame n."""
        i = bisect.bisect_right(self.scene_starts, n) - 1
        end = self.scene_starts[i + 1] if i + 1 < len(self.scene_starts) else self.length
        return self.scene_starts[i], end

    def window_of(self, n: int) -> Window:
        """The window that produces output frame n."""
        if not 0 <= n < self.length:
            raise IndexError(f"frame {n} is outside a clip of {self.length} frames")
        lo, hi = self.scene_of(n)
        k = n // self.stride
        start = k * self.stride - self.lead
        first = max(k * self.stride, lo)
        last = min(k * self.stride + self.stride, hi)  # exclusive
        if hi - lo >= self.size:
            start = min(max(start, lo), hi - self.size)  # inside the scene
        frames = tuple(min(max(start + j, lo), hi - 1) for j in range(self.size))
        return Window(lo, start, frames, first, last - first)

    @property
    def reach(self) -> int:
        """How far from frame n a window producing n can look (and so how far cuts matter)."""
        return self.size

    def windows(self) -> list[Window]:
        """Every window of the clip, in order; together they produce each frame exactly once."""
        out, n = [], 0
        while n < self.length:
            window = self.window_of(n)
            out.append(window)
            n = window.first + window.count
        return out
