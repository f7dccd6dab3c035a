"""Validation during training: the EMA generator on a few held-out clips, scored as
`python -m training evaluate` scores (training.scoring: outputs rounded to 8 bits, PSNR-Y and
SSIM-Y with `scale` pixels cropped from each border, LPIPS with AlexNet, tOF, tLP), next to bicubic's PSNR-Y
on the same frames, and `window_vs_static`: how much better each clip's first window's middle
frame comes out from the real window than from copies of that frame (dB; 0 for window 1). A
model that draws detail from the neighbouring frames scores above 0; one that ignores them, 0.
Clips are upscaled a window of `window` frames at a time, as the model was trained, by
`vsvsr.models.upscale` on whole (small) crops rather than the tiled engine.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from vsvsr import metrics, models

from .config import ValidationConfig
from .data import evalset
from .scoring import SCORES, downsample, real_versus_static, score, to_uint8, upscale_baseline


@dataclass(frozen=True)
class ValidationClip:
    name: str
    hr: torch.Tensor  # (T, 3, H, W) uint8
    lr: torch.Tensor  # (T, 3, h, w) uint8


def _centre_crop(frames: torch.Tensor, side: int, multiple: int) -> torch.Tensor:
    """The centre side x side (clipped to the frame), sides cut to a multiple of `multiple`."""
    h, w = frames.shape[-2:]
    ch, cw = min(side or h, h), min(side or w, w)
    ch, cw = ch - ch % multiple, cw - cw % multiple
    top, left = (h - ch) // 2, (w - cw) // 2
    return frames[..., top : top + ch, left : left + cw]


def load_clips(config: ValidationConfig, kernel: str, size_multiple: int) -> list[ValidationClip]:
    """The first `clips` clips of the validation data, `frames` frames each, centre-cropped,
    with their LR inputs made the way the model's training inputs were (`kernel`)."""
    source = evalset.clips(config.data)
    chosen = source[: config.clips] if config.clips else source
    out = []
    for clip in chosen:
        hr = _centre_crop(clip.hr[: config.frames], config.crop, config.scale * size_multiple)
        out.append(ValidationClip(clip.name, hr.contiguous(), downsample(hr, config.scale, kernel)))
    return out


def upscale_clip(model: torch.nn.Module, lr: torch.Tensor, scale: int, window: int) -> torch.Tensor:
    """(T, 3, h, w) uint8 -> (T, 3, scale h, scale w) uint8, in windows of `window` frames."""
    frames = lr.float() / 255
    with torch.no_grad():
        parts = [models.upscale(model, frames[i : i + window][None], scale)[0] for i in range(0, len(frames), window)]
    return to_uint8(torch.cat(parts))


def validate(model: torch.nn.Module, clips: list[ValidationClip], config: ValidationConfig, window: int,
             device: torch.device) -> dict[str, float]:  # fmt: skip
    """Mean scores (training.scoring.SCORES) of `model` over `clips`, plus bicubic's PSNR-Y and
    the real window's gain over a static one."""
    was_training = model.training
    model.eval()
    per_clip = []
    for clip in clips:
        pred = upscale_clip(model, clip.lr.to(device), config.scale, window).cpu()
        bicubic = upscale_baseline(clip.lr, config.scale, "bicubic")
        scores = {k: v for k, v in score(pred, clip.hr, config.scale).items() if k in SCORES}
        bicubic_psnr = metrics.psnr_y(bicubic.float() / 255, clip.hr.float() / 255, crop=config.scale)
        real, static = real_versus_static(model, clip.lr[:window].to(device), clip.hr[:window].to(device), config.scale)
        per_clip.append(scores | {"psnr_y_bicubic": bicubic_psnr.mean().item(), "window_vs_static": real - static})
    model.train(was_training)
    return {key: statistics.fmean(c[key] for c in per_clip) for key in per_clip[0]}
