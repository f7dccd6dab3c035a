"""The main job on the built-in sample: upscale it x2 and x4, write a side-by-side picture.

Until trained weights ship, the generator is a fresh, untrained `lite`, and the demo says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from . import models, weights
from .resize import downsample, quantize8, upsample
from .sample import sample_clip

DEMO_MODEL = "lite"


def demo_model() -> models.SpatioTemporalGenerator:
    """The shipped demo model, or a fresh untrained one (said on stderr) until weights ship."""
    if DEMO_MODEL in weights.shipped():
        return weights.load(DEMO_MODEL)
    print(
        f"note: no trained weights ship yet, so the demo runs an UNTRAINED '{DEMO_MODEL}' generator "
        "(expect its bicubic skip plus noise-like texture); see weights/MODEL_CARD.md",
        file=sys.stderr,
    )
    torch.manual_seed(0)
    return models.build(DEMO_MODEL).eval()


def run_demo(out_dir: Path, frames: int = 5) -> Path:
    """Upscale the sample clip x2 and x4 (from LR made by bicubic downsampling) and write
    `out_dir/side_by_side.png`: per scale, the centre frame as bicubic | model | original."""
    model = demo_model()
    hr = sample_clip(frames)  # (T, 3, H, W)
    centre = frames // 2
    rows = []
    for scale in models.SCALES:
        lr = downsample(hr, scale)
        with torch.inference_mode():
            sr = models.upscale(model, lr.unsqueeze(0), scale)[0]
        panels = [upsample(lr[centre], scale), quantize8(sr[centre]), hr[centre]]
        rows.append(_labelled_row(panels, [f"bicubic x{scale}", f"{DEMO_MODEL} x{scale}", "original"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "side_by_side.png"
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path


def _labelled_row(images: list[torch.Tensor], labels: list[str]) -> np.ndarray:
    tiles = []
    for image, label in zip(images, labels):
        tile = Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        ImageDraw.Draw(tile).text((6, 4), label, fill=(255, 255, 0))
        tiles.append(np.asarray(tile))
    return np.concatenate(tiles, axis=1)
