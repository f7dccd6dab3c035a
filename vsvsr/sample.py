"""The built-in sample clip: a real photo (scikit-image's bundled `chelsea`) seen by a camera
panning 2 px right and 1 px down per frame, i.e. sub-pixel motion once downsampled. Offline."""

from __future__ import annotations

import torch
from skimage import data

SIZE = (256, 384)  # HR height, width: divisible by 4 for the x4 demo


def sample_clip(frames: int = 5) -> torch.Tensor:
    """(T, 3, 256, 384) HR frames in [0, 1]."""
    photo = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float() / 255  # (3, 300, 451)
    h, w = SIZE
    if frames < 1 or 8 + 2 * frames + w > photo.shape[-1]:
        raise ValueError(f"frames must be between 1 and {(photo.shape[-1] - w - 8) // 2}")
    return torch.stack([photo[:, 4 + t : 4 + t + h, 8 + 2 * t : 8 + 2 * t + w] for t in range(frames)])
