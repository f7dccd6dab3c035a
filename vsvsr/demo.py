"""The main job on the built-in sample, the way users run it: a .vpy with core.vsr.SRGAN piped
through vspipe into x264, muxed into an mkv, plus a side-by-side picture labelled with each
panel's PSNR-Y against the original.

The sample is scikit-image's `chelsea` photo under a camera pan, downsampled x2 (the LR input),
written as a lossless video; `filter_scripts/upscale_x264.sh` upscales it back. Until trained
weights ship, the demo runs a fresh, untrained `lite` generator and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import metrics, models, weights
from .pictures import labelled_row
from .resize import downsample, quantize8, upsample
from .resources import filter_scripts_folder
from .sample import sample_clip

SCALE = 2
UNTRAINED_NOTE = (
    "note: no trained weights ship yet, so the demo runs an UNTRAINED '{model}' generator "
    "(expect its bicubic skip plus noise-like texture); see weights/MODEL_CARD.md\n"
)


def demo_weights(out_dir: Path) -> Path:
    """The default shipped model's file, or (until weights ship) a fresh untrained `lite`
    written to `out_dir`, said plainly on stderr."""
    if weights.DEFAULT_MODEL in weights.shipped():
        return weights.resolve(weights.DEFAULT_MODEL)
    sys.stderr.write(UNTRAINED_NOTE.format(model=weights.DEFAULT_MODEL))
    torch.manual_seed(0)
    path = out_dir / f"untrained-{weights.DEFAULT_MODEL}.safetensors"
    return weights.save(models.build(weights.DEFAULT_MODEL), path)


def run_demo(out_dir: Path, frames: int = 24) -> tuple[Path, Path, dict[str, float]]:
    """Writes `out_dir/sample_lr.mkv` (the input), `out_dir/sample_x2.mkv` (SRGAN x2 through
    vspipe and x264) and `out_dir/side_by_side.png` (centre frame: bicubic | SRGAN | original).
    Returns those two paths and the centre frame's PSNR-Y (dB) of bicubic and of SRGAN."""
    out_dir = out_dir.resolve()  # vspipe evaluates scripts from their own folder
    out_dir.mkdir(parents=True, exist_ok=True)
    hr = sample_clip(frames)  # (T, 3, H, W)
    lr = downsample(hr, SCALE)
    source = out_dir / "sample_lr.mkv"
    write_video(lr, source)
    weight_file = demo_weights(out_dir)

    video = out_dir / f"sample_x{SCALE}.mkv"
    env = {**os.environ, "VSPIPE": str(Path(sys.executable).with_name("vspipe")), "PRESET": "fast"}
    subprocess.run(
        [str(filter_scripts_folder() / "upscale_x264.sh"), str(source), str(video), str(SCALE), "--", "-a", f"weights={weight_file}"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip

    centre = frames // 2
    sr = read_frame(video, centre, hr.shape[-1], hr.shape[-2])
    bicubic = quantize8(upsample(lr[centre], SCALE).clamp(0, 1))
    # The SRGAN panel went through x264 (CRF 18, 10-bit), so its score includes the encode.
    psnr = {name: float(metrics.psnr_y(panel[None], hr[centre][None], crop=SCALE))
            for name, panel in (("bicubic", bicubic), ("SRGAN", sr))}  # fmt: skip
    labels = [f"bicubic x{SCALE}: {psnr['bicubic']:.2f} dB", f"SRGAN x{SCALE} (vspipe | x264): {psnr['SRGAN']:.2f} dB",
              "original"]  # fmt: skip
    picture = out_dir / "side_by_side.png"
    Image.fromarray(labelled_row([bicubic, sr, hr[centre]], labels)).save(picture)
    return video, picture, psnr


def write_video(frames: torch.Tensor, path: Path) -> None:
    """(T, 3, h, w) RGB in [0, 1] -> a lossless FFV1 mkv (4:2:0, like most sources), 24 fps."""
    t, _, h, w = frames.shape
    raw = (frames.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy().tobytes()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "24",
         "-i", "-", "-c:v", "ffv1", "-pix_fmt", "yuv420p", "-color_range", "tv", "-colorspace", "bt470bg",
         str(path)],
        input=raw, check=True,
    )  # fmt: skip


def read_frame(path: Path, n: int, w: int, h: int) -> torch.Tensor:
    """Frame n of a video as (3, h, w) RGB in [0, 1]."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"select=eq(n\\,{n})", "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return torch.from_numpy(np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()).permute(2, 0, 1).float() / 255
