"""training.window_motion: a window's gain binned by how fast the ground truth moves."""

import torch
from skimage import data

from training import window_motion
from vsvsr import metrics


def half_moving_clip() -> torch.Tensor:
    """Five 64x128 frames: the left half still, the right half panning 6 px per frame."""
    image = torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).float() / 255
    frames = []
    for t in range(5):
        still = image[:, 100:164, 100:164]
        moving = image[:, 100:164, 200 + 6 * t : 264 + 6 * t]
        frames.append(torch.cat([still, moving], dim=-1))
    return torch.stack(frames)


def test_a_loss_where_the_picture_moves_is_binned_with_the_fast_pixels():
    target = half_moving_clip()
    speed = window_motion.pixel_speed(target)
    assert speed.shape == (3, 64, 128)
    assert speed[..., 8:56, 8:56].median() < 0.5 and (speed[..., 8:56, 72:120].median() - 6).abs() < 1

    noise = torch.randn(target.shape, generator=torch.Generator().manual_seed(0))
    single = (target + 0.01 * noise).clamp(0, 1)
    window = single.clone()
    window[..., 64:] = (target[..., 64:] + 0.03 * noise[..., 64:]).clamp(0, 1)  # worse only where it moves
    rows = window_motion.speed_bins(window, single, target, crop=2)
    assert abs(sum(r.share for r in rows) - 1) < 1e-6
    still, fast = rows[0], max(rows, key=lambda r: r.share if r.low >= 4 else 0)
    # Farneback finds little motion in flat parts of the moving half, so the still bin holds a few
    # of its pixels; the loss still shows where the picture moves.
    assert still.low == 0 and fast.gain < -5 and still.gain > fast.gain + 3
    # The bins' changes add up to the inside frames' MSE change.
    inside = [metrics.luma(x[1:-1])[..., 2:-2, 2:-2] for x in (window, single, target)]
    total = float(((inside[0] - inside[2]) ** 2).mean() - ((inside[1] - inside[2]) ** 2).mean())
    assert abs(sum(r.mse_change for r in rows) - total) < 1e-3 * abs(total)
    assert fast.mse_change > 0.5 * total
