"""Splitting LR frames into tiles and blending the upscaled tiles back together.

Tiles have the model's inference size (the LR patch size of its last training stage), so the
non-local block sees the extent it was trained on. Tiles overlap by `overlap` LR pixels; the
last tile of a row or column is shifted inward rather than padded, so every tile holds real
pixels only. Overlaps are blended with linear ramps (weights normalised per pixel), which hides
the small differences between neighbouring tiles' outputs instead of cutting between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis: stride tile - overlap, the last one flush with the end."""
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return starts + [size - tile]


def ramp(length: int, fade: int, fade_start: bool, fade_end: bool) -> torch.Tensor:
    """Blend weights along one axis of an upscaled tile: 1 inside, rising over `fade` pixels at
    sides shared with a neighbour. Strictly positive, so every pixel's weights sum above zero."""
    weights = torch.ones(length)
    fade = min(fade, length // 2)
    if fade > 0:
        rise = (torch.arange(fade) + 0.5) / fade
        if fade_start:
            weights[:fade] = rise
        if fade_end:
            weights[length - fade :] = rise.flip(0)
    return weights


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    h: int
    w: int


class TileGrid:
    """Tiles covering an h x w LR frame, and their blend weights once upscaled by `scale`."""

    def __init__(self, h: int, w: int, tile: int, overlap: int, scale: int = 2) -> None:
        if not 0 <= overlap < tile:
            raise ValueError(f"overlap must be between 0 and tile - 1 ({tile - 1}), not {overlap}")
        self.h, self.w, self.scale = h, w, scale
        th, tw = min(tile, h), min(tile, w)
        ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
        self.tiles = [Tile(y, x, th, tw) for y in ys for x in xs]
        fade = overlap * scale
        wy = [ramp(th * scale, fade, y > 0, y + th < h) for y in ys]
        wx = [ramp(tw * scale, fade, x > 0, x + tw < w) for x in xs]
        self.weights = [wy[i][:, None] * wx[j][None, :] for i in range(len(ys)) for j in range(len(xs))]

    def crop(self, frames: torch.Tensor, tile: Tile) -> torch.Tensor:
        """(..., h, w) -> (..., tile.h, tile.w)."""
        return frames[..., tile.y : tile.y + tile.h, tile.x : tile.x + tile.w]

    def merge(self, upscaled: list[torch.Tensor]) -> torch.Tensor:
        """Blend upscaled tiles (..., s*tile.h, s*tile.w), in `tiles` order, into (..., s*h, s*w), float32."""
        s = self.scale
        lead = upscaled[0].shape[:-2]
        out = upscaled[0].new_zeros(*lead, self.h * s, self.w * s, dtype=torch.float32)
        total = out.new_zeros(self.h * s, self.w * s)
        for tile, weight, part in zip(self.tiles, self.weights, upscaled, strict=True):
            weight = weight.to(out.device)
            region = (..., slice(tile.y * s, (tile.y + tile.h) * s), slice(tile.x * s, (tile.x + tile.w) * s))
            out[region] += part.float() * weight
            total[region[1:]] += weight
        return out / total
