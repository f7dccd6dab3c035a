"""Where a model's window gains or loses, by how fast the picture moves there.

Each clip goes through the engine twice, with the model's own window and with window 1 (the
same weights fed each frame alone), and the frames inside each clip (its first and last frame
have one neighbour only) are binned pixel by pixel by the ground truth's optical flow: the faster
of its flows to the two neighbouring frames, HR pixels per frame (TecoGAN's Farneback settings,
as tOF). Per bin it prints PSNR-Y of both, the window's gain, and what the bin adds to the clip's
MSE change (the bins' sum; above 0 the window is worse), so a loss is traced to its motion:

    python -m training.window_motion --model lite --data unseen --scale 2
    python -m training.window_motion --weights mine.safetensors --data unseen --scale 2 --compression h264

A window can only draw on motion its layers reach; where the frame moves farther, the best it
can do is ignore the neighbours and match window 1.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from vsvsr import metrics, models, weights

from . import scoring
from .data import evalset

SPEED_EDGES = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, float("inf"))  # HR pixels per frame


@dataclass(frozen=True)
class SpeedBin:
    low: float
    high: float
    share: float  # of the inside frames' pixels
    psnr_window: float
    psnr_single: float
    mse_change: float  # what the bin adds to the clip's MSE-Y change, window - window 1 (levels^2)

    @property
    def gain(self) -> float:
        return self.psnr_window - self.psnr_single


def pixel_speed(clip: torch.Tensor) -> torch.Tensor:
    """(T, 3, H, W) in [0, 1] -> (T-2, H, W): for each frame inside the clip, the faster of its
    flows to the previous and the next frame, per pixel, in pixels per frame."""
    speeds = [torch.linalg.vector_norm(flow, dim=-1) for flow in metrics.farneback_flows(clip)]  # T-1 x (H, W)
    return torch.stack([torch.maximum(a, b) for a, b in zip(speeds[:-1], speeds[1:])])


def speed_bins(window: torch.Tensor, single: torch.Tensor, target: torch.Tensor, crop: int,
               edges: tuple[float, ...] = SPEED_EDGES) -> list[SpeedBin]:  # fmt: skip
    """PSNR-Y of `window` and `single` against `target` (all (T, 3, H, W) in [0, 1], T >= 3) over
    the inside frames' pixels in each speed bin of `edges`, `crop` pixels off each border as
    PSNR-Y does. Empty bins are left out."""
    inside, kept = slice(1, -1), slice(crop, -crop or None)
    speed = pixel_speed(target)[..., kept, kept].flatten()

    def squared_error(pred: torch.Tensor) -> torch.Tensor:
        y_pred, y_target = metrics.luma(pred[inside]), metrics.luma(target[inside])
        return ((y_pred - y_target)[:, 0, kept, kept] ** 2).flatten().double()

    err_window, err_single = squared_error(window), squared_error(single)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (speed >= low) & (speed < high)
        if not mask.any():
            continue
        psnr = [10 * np.log10(255.0**2 / max(float(e[mask].mean()), 1e-12)) for e in (err_window, err_single)]
        change = float((err_window[mask] - err_single[mask]).sum()) / speed.numel()
        rows.append(SpeedBin(low, high, float(mask.float().mean()), psnr[0], psnr[1], change))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", metavar="NAME", help="a shipped model, by name")
    which.add_argument("--weights", metavar="FILE", help="a .safetensors weights file")
    parser.add_argument("--scale", type=int, choices=models.SCALES, default=2)
    parser.add_argument("--data", default="unseen", help="unseen, builtin, or a folder of clip folders (default unseen)")
    parser.add_argument("--compression", default="none", choices=sorted(scoring.COMPRESSIONS),
                        help="how the LR clip is encoded before upscaling (default none)")  # fmt: skip
    parser.add_argument("--clip", action="append", metavar="NAME", help="only this clip (repeatable)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.window_motion", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    model = weights.load(args.model or args.weights)
    settings = scoring.EvalSettings(scale=args.scale, data=args.data, compression=args.compression)
    own, single = scoring.model_method(model, settings), scoring.model_method(model, settings, window=1)
    clips = [c for c in evalset.clips(args.data) if not args.clip or c.name in args.clip]
    print(f"window {model.descriptor.window} against window 1, {evalset.label(args.data)} x{args.scale}, "
          f"{args.compression} input; speed: ground-truth flow, HR px per frame")  # fmt: skip
    print("| clip | speed | pixels | PSNR-Y window / window 1 | gain | adds to the clip's MSE change |")
    print("|---|---|---:|---:|---:|---:|")
    for clip in clips:
        lr = scoring.lr_input(clip.hr, settings)
        outputs = [m.upscale(lr).float() / 255 for m in (own, single)]
        for row in speed_bins(*outputs, clip.hr.float() / 255, crop=args.scale):
            high = "" if row.high == float("inf") else f"{row.high:g}"
            print(f"| {clip.name} | {row.low:g}-{high} | {row.share:.0%} | {row.psnr_window:.2f} / {row.psnr_single:.2f} "
                  f"| {row.gain:+.2f} | {row.mse_change:+.4f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
