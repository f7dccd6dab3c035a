"""Side-by-side pictures of frames, each labelled in its corner: the demo's and the model cards'."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw


def labelled_row(images: list[torch.Tensor], labels: list[str]) -> np.ndarray:
    """(3, H, W) images in [0, 1] side by side, each labelled in its corner: (H, sum W, 3) uint8."""
    tiles = []
    for image, label in zip(images, labels, strict=True):
        tile = Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        ImageDraw.Draw(tile).text((6, 4), label, fill=(255, 255, 0))
        tiles.append(np.asarray(tile))
    return np.concatenate(tiles, axis=1)
