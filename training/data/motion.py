"""Still photo -> video by a synthetic camera: sub-pixel pan, slow zoom, small rotation; and
an object crossing a window fast (`cross`).

Each frame is warped at the photo's full resolution (OpenCV's Lanczos-4, in fixed point on
8-bit images, so every machine gets the same pixels) and then reduced to the clip's size with
Pillow's antialiased Lanczos. Reducing after warping averages away the warp's interpolation
softness and the photo's JPEG blocks, so the HR frames are clean ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image

# Source pixels kept clear of the photo's edge: the reach of Lanczos-4 plus Pillow's reducing
# filter, so no frame ever samples the border extension.
_EDGE_MARGIN = 8.0


@dataclass(frozen=True)
class CameraMotion:
    """Per-frame motion of the camera over a photo. Time is centred on the middle of the clip, so
    the middle frames show the photo nearly as it is and motion runs both ways from there."""

    pan: tuple[float, float] = (0.0, 0.0)  # (x, y) in output pixels per frame; fractions welcome
    zoom: float = 1.0  # magnification factor per frame (> 1 moves in)
    rotation: float = 0.0  # degrees per frame, counter-clockwise

    def matrix(self, time: float, centre: tuple[float, float], reduce: float) -> np.ndarray:
        """The 2x3 affine map from photo pixels to warped-photo pixels at `time` (frames from
        the clip's middle), for output pixels `reduce` photo pixels wide."""
        warp = cv2.getRotationMatrix2D(centre, self.rotation * time, self.zoom**time)
        warp[:, 2] += np.asarray(self.pan) * time * reduce
        return warp


def photo_sequence(
    photo: np.ndarray, motion: CameraMotion, frames: int, size: tuple[int, int], reduce: float
) -> np.ndarray:
    """`frames` views of `photo` ((H, W, 3) uint8) through a camera moving by `motion`, each the
    centre `size` = (width, height) output pixels, one output pixel per `reduce` photo pixels.
    Returns (T, height, width, 3) uint8. Raises ValueError if the view leaves the photo."""
    height, width = photo.shape[:2]
    centre = ((width - 1) / 2, (height - 1) / 2)
    half_w, half_h = size[0] * reduce / 2, size[1] * reduce / 2
    box = (centre[0] + 0.5 - half_w, centre[1] + 0.5 - half_h, centre[0] + 0.5 + half_w, centre[1] + 0.5 + half_h)
    out = []
    for t in range(frames):
        warp = motion.matrix(t - (frames - 1) / 2, centre, reduce)
        _check_inside(warp, box, width, height)
        warped = cv2.warpAffine(
            photo, warp, (width, height), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT_101
        )
        out.append(np.asarray(Image.fromarray(warped).resize(size, Image.LANCZOS, box=box)))
    return np.stack(out)


def _check_inside(warp: np.ndarray, box: tuple[float, float, float, float], width: int, height: int) -> None:
    """Raise unless every corner of `box` (in warped pixels) comes from inside the photo."""
    left, top, right, bottom = box
    corners = np.array([[left, top, 1], [right, top, 1], [left, bottom, 1], [right, bottom, 1]])
    sources = corners @ cv2.invertAffineTransform(warp).T  # (4, 2) photo coordinates
    low, high = _EDGE_MARGIN, np.array([width, height]) - _EDGE_MARGIN
    if (sources < low).any() or (sources > high).any():
        raise ValueError(
            f"camera motion leaves the {width}x{height} photo (view corners reach {sources.round(1).tolist()}); "
            f"use a smaller output size, a smaller reduce factor or less motion"
        )


def cross(background: torch.Tensor, texture: torch.Tensor, centre: tuple[float, float], diameters: tuple[float, float],
          velocity: tuple[float, float]) -> torch.Tensor:  # fmt: skip
    """`background` (T, 3, H, W) with an ellipse of `texture` (same shape) moving across it.

    In the middle frame the ellipse has `diameters` (x, y) and sits at `centre` (x, y), pixels,
    wholly inside the frame; it moves by `velocity` (x, y) pixels per frame in both directions of
    time, carrying its texture with it (each frame's texture stays put inside the ellipse), and
    may leave the frame. Positions are whole pixels; the ellipse's edge is antialiased over one
    pixel, as a sharp edge filmed by a camera would be.
    """
    frames, _, height, width = background.shape
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    radius = min(diameters) / 2
    out = background.clone()
    for t in range(frames):
        dx, dy = (round(v * (t - (frames - 1) / 2)) for v in velocity)
        # Distance outside the ellipse in (roughly) pixels: < 0 inside, the edge at 0.
        r = torch.sqrt(((xs - centre[0] - dx) / (diameters[0] / 2)) ** 2 + ((ys - centre[1] - dy) / (diameters[1] / 2)) ** 2)
        alpha = ((1 - r) * radius + 0.5).clamp(0, 1)
        # The texture moves with the ellipse: where alpha > 0 the shifted-back pixels lie inside
        # the middle frame's ellipse, so the roll's wrap-around never shows.
        moved = torch.roll(texture[t], shifts=(dy, dx), dims=(-2, -1))
        out[t] = alpha * moved + (1 - alpha) * background[t]
    return out
