"""Community models (spandrel) through core.vsr.SRGAN on this machine: fps against spandrel's own call.

    .venv/bin/python bench/community.py                          # fresh Real-ESRGAN Compact shapes, CPU
    .venv/bin/python bench/community.py --weights 4x-Foo.pth --size 640x360 --device cuda

Without --weights it builds untrained networks of two popular shapes (speed only, no downloads):
Real-ESRGAN Compact x4 with 32 convolutions (realesr-general-x4v3) and with 16
(realesr-animevideov3), saves them as .pth files and, for each, prints output fps through
VapourSynth (vsr.SRGAN, frames fetched concurrently as vspipe does) and through spandrel's own
call on the same whole frames, one at a time: the ratio is what the adapter costs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import vapoursynth as vs

from plugin import best_of, fetch_all, moving_clip  # bench/plugin.py: the same clip and fetching
from vsvsr.engine import Settings
from vsvsr.vapoursynth_plugin import SRGAN
from vsvsr.vsfilter import engine_for

core = vs.core


def fresh_models(folder: Path) -> dict[str, str]:
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    shapes = {"Compact x4, 32 convs (realesr-general-x4v3 shape)": 32,
              "Compact x4, 16 convs (realesr-animevideov3 shape)": 16}  # fmt: skip
    made = {}
    for label, convs in shapes.items():
        path = folder / f"compact{convs}.pth"
        torch.save({"params": Compact(num_feat=64, num_conv=convs, upscale=4).state_dict()}, path)
        made[label] = str(path)
    return made


def row(label: str, path: str, width: int, height: int, frames: int, settings: dict) -> str:
    src = moving_clip(width, height, frames)
    fetch_all(SRGAN(src[:1], weights=path, **settings), 1, 1)  # warm-up: loading, kernel selection
    # Best of three, each way: on a shared machine the speed drifts between runs.
    seconds = min(fetch_all(SRGAN(src, weights=path, **settings), frames, core.num_threads) for _ in range(3))

    engine = engine_for(path, Settings(**settings), 1)  # the engine vsr.SRGAN used (cached): its device, precision
    found = engine.upscaler.model.spandrel
    picture = torch.rand(1, 3, height, width, device=engine.settings.device, dtype=engine.settings.dtype)
    raw = best_of(lambda: found(picture), repeats=3)
    d = engine.descriptor
    return (f"| {label} | {d.parameters / 1e6:.2f}M | {width}x{height} -> {width * d.scale}x{height * d.scale} | "
            f"{engine.settings.precision} | {frames / seconds:.2f} | {1 / raw:.2f} | {seconds / frames / raw:.2f}x |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", help="a community model file (default: fresh Compact shapes)")
    parser.add_argument("--size", default="320x180", help="input WxH (default 320x180)")
    parser.add_argument("--frames", type=int, default=8, help="frames for the fps measurement (default 8)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when available)")
    parser.add_argument("--precision", default=None, help="fp32, fp16 or bf16 (default: the engine's)")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    settings = {k: v for k, v in (("device", args.device), ("precision", args.precision)) if v}

    with tempfile.TemporaryDirectory() as tmp:
        files = {args.weights: args.weights} if args.weights else fresh_models(Path(tmp))
        print(f"torch {torch.__version__}; VapourSynth R{core.core_version.release_major}, {core.num_threads} threads; "
              "whole frames (the default tile)")  # fmt: skip
        print()
        print("| model | parameters | size | precision | fps, vsr.SRGAN | fps, spandrel's call | overhead |")
        print("|---|---:|---|---|---:|---:|---:|")
        for label, path in files.items():
            print(row(label, path, width, height, args.frames, settings))


if __name__ == "__main__":
    main()
