"""The window modes side by side: quality on the built-in evaluation set, and cost, per mode.

    .venv/bin/python bench/modes.py --weights out/train/lite_cpu/weights/pixel-best.safetensors
    .venv/bin/python bench/modes.py --weights W5.safetensors --compare W1.safetensors

For each of the engine's window modes (vsvsr/engine/windows.py): PSNR-Y, LPIPS, tOF and tLP
at x2 on the built-in evaluation clips (bicubic-downsampled, through the engine users get, as
`python -m training evaluate` scores them), and the seconds per output frame of one 960x540
window's produced frames relative to fast mode (best of 3). `--compare` adds another weights
file in the default mode, e.g. the same architecture trained with window 1, and `--per-clip`
then adds both files' scores clip by clip (default mode). Prints tables; no assertions.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from training.data import evalset  # the benchmark may use the training package's data
from training.scoring import downsample, lr_motion, score, upscale_with_engine
from vsvsr import weights
from vsvsr.engine import MODES, Engine, Settings, WindowGrid

METRICS = ("psnr_y", "lpips", "tof", "tlp")


def quality_per_clip(path: str, mode: str) -> dict[str, dict[str, float]]:
    engine = Engine(weights.load(path), Settings(2, mode=mode))
    return {c.name: score(upscale_with_engine(engine, downsample(c.hr, 2, "bicubic")), c.hr, 2)
            for c in evalset.named("builtin")}  # fmt: skip


def mean(per_clip: dict[str, dict[str, float]]) -> dict[str, float]:
    return {k: statistics.fmean(f[k] for f in per_clip.values()) for k in METRICS}


def seconds_per_frame(path: str) -> dict[str, float]:
    """Best-of-3 seconds per produced frame of one 960x540 window, for each mode's produced frames."""
    engine = Engine(weights.load(path), Settings(2))
    window = engine.settings.window
    frames = torch.rand(window, 3, 540, 960)
    produced = {mode: produced_frames(window, mode) for mode in MODES}
    engine.upscaler(frames)  # warm-up: kernel selection
    best = dict.fromkeys(MODES, float("inf"))
    for _ in range(3):
        for mode, produce in produced.items():
            start = time.perf_counter()
            engine.upscaler(frames, produce)
            best[mode] = min(best[mode], (time.perf_counter() - start) / (produce.stop - produce.start))
    return best


def produced_frames(window: int, mode: str) -> slice:
    """The positions a window in the middle of a long clip produces in `mode`."""
    w = WindowGrid(10 * window, window, mode=mode).window_of(5 * window)
    return slice(w.position(w.first), w.position(w.first) + w.count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", required=True, help="a trained weights file")
    parser.add_argument("--compare", help="another weights file, scored in the default mode")
    parser.add_argument("--per-clip", action="store_true", help="both files clip by clip (needs --compare)")
    args = parser.parse_args()

    cost = seconds_per_frame(args.weights)
    print(f"{args.weights}: x2, built-in evaluation set, bicubic inputs; cost: one 960x540 window, CPU")
    print()
    print("| weights | mode | PSNR-Y | LPIPS | tOF | tLP x100 | cost per output frame vs fast |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows = [(args.weights, mode) for mode in MODES] + ([(args.compare, Settings().mode)] if args.compare else [])
    scored = {row: quality_per_clip(*row) for row in rows}  # each file and mode upscaled once
    for (path, mode), per_clip in scored.items():
        q = mean(per_clip)
        ratio = f"{cost[mode] / cost['fast']:.2f}x" if path == args.weights else ""
        print(f"| {path} | {mode} | {q['psnr_y']:.3f} | {q['lpips']:.4f} | {q['tof']:.4f} | {q['tlp'] * 100:.3f} "
              f"| {ratio} |")  # fmt: skip
    if args.per_clip and args.compare:
        a, b = (scored[(path, Settings().mode)] for path in (args.weights, args.compare))
        print()
        print("| clip | LR motion, px / frame (median, 95th pct) | PSNR-Y (weights / compare) | tOF | tLP x100 |")
        print("|---|---:|---:|---:|---:|")
        for clip in evalset.named("builtin"):
            median, p95 = lr_motion(clip, 2)
            x, y = a[clip.name], b[clip.name]
            print(f"| {clip.name} | {median:.2f}, {p95:.2f} | {x['psnr_y']:.2f} / {y['psnr_y']:.2f} | {x['tof']:.4f} / "
                  f"{y['tof']:.4f} | {x['tlp'] * 100:.3f} / {y['tlp'] * 100:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
