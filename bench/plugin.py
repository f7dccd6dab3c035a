"""core.vsr.SRGAN on this machine: speed through VapourSynth, overheads, memory, window positions.

    .venv/bin/python bench/plugin.py                    # lite (shipped, else a fresh one), CPU
    .venv/bin/python bench/plugin.py --weights m.safetensors --device cuda
    .venv/bin/python bench/plugin.py --weights a.safetensors b.safetensors   # speed side by side

Prints, at 960x540 input (x2):
- output fps through VapourSynth (vsr.SRGAN, frames requested concurrently as vspipe does)
  against the raw generator forward on the same tiles (goal: overhead at most 1.10x);
- window frames in, and frames through the generator's trunk, per output frame, for each window mode;
- tiling compute overhead: the tiled forward of one window against one untiled forward
  (goal: at most 1.3x);
- PSNR-Y by position in the window (fast mode, built-in evaluation clips): whether frames at a
  window's edge lose anything;
- peak RSS after 50 and after 300 output frames (goal: flat).

With --backends, only the side-by-side table of vsr.SRGAN's backends on the same clip and
settings: torch, ONNX Runtime (backend="ort") and OpenVINO (backend="ov", fp32 and bf16), each
as s per output megapixel and its largest difference from torch's pictures.

    .venv/bin/python bench/plugin.py --backends --frames 12

With several --weights, only their speed through vsr.SRGAN on one clip, interleaved round by
round so that the machine's drift touches every file alike (how two models' speeds compare).
With --batches, only the same for one file at several tile batches (tiles per generator call):
how the engine's default batch (engine/settings.py, default_batch) was chosen.

    .venv/bin/python bench/plugin.py --batches 16 8 4 2 [--precision fp32]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import vapoursynth as vs

from vsvsr import models, weights
from vsvsr.engine import MODES, Engine, Settings, TileGrid
from vsvsr.engine.settings import cpu_has_native_bf16
from vsvsr.vapoursynth_plugin import SRGAN
from vsvsr.vsfilter import engine_for, frame_to_tensor

core = vs.core


def model_file(args: argparse.Namespace, folder: Path) -> tuple[str, str]:
    if args.weights:
        return args.weights[0], args.weights[0]
    if weights.DEFAULT_MODEL in weights.shipped():
        return str(weights.resolve(weights.DEFAULT_MODEL)), weights.DEFAULT_MODEL
    torch.manual_seed(0)
    path = weights.save(models.build(weights.DEFAULT_MODEL), folder / "fresh.safetensors")
    return str(path), f"{weights.DEFAULT_MODEL} (untrained: speed only)"


def moving_clip(width: int, height: int, length: int) -> vs.VideoNode:
    """Smooth random content panning one pixel per frame, RGBS."""
    rng = np.random.default_rng(0)
    canvas = rng.random((3, height // 8 + 2, (width + length) // 8 + 2), dtype=np.float32)
    canvas = torch.nn.functional.interpolate(torch.from_numpy(canvas)[None], scale_factor=8, mode="bicubic")[0].numpy()
    blank = core.std.BlankClip(format=vs.RGBS, width=width, height=height, length=length)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), canvas[p, :height, n : n + width].clip(0, 1))
        return out

    return blank.std.ModifyFrame(blank, fill)


def fetch_all(clip: vs.VideoNode, count: int, in_flight: int) -> float:
    """Seconds to fetch `count` frames with `in_flight` requests outstanding, as vspipe does."""
    start = time.perf_counter()
    pending = [clip.get_frame_async(n) for n in range(min(in_flight, count))]
    for n in range(count):
        pending[n].result()
        if n + in_flight < count:
            pending.append(clip.get_frame_async(n + in_flight))
    return time.perf_counter() - start


def through_vapoursynth(src: vs.VideoNode, path: str, settings: dict) -> float:
    """Seconds for vsr.SRGAN to produce all of `src`, from a fresh clip (nothing cached from an
    earlier run), with as many frames in flight as VapourSynth has threads."""
    return fetch_all(SRGAN(src, weights=path, **settings), src.num_frames, core.num_threads)


def speed_rows(path: str, settings: dict, frames: int) -> list[str]:
    src = moving_clip(960, 540, frames)
    engine = engine_for(path, Settings(**settings), 1)  # the engine vsr.SRGAN uses (cached)
    fetch_all(SRGAN(src[:1], weights=path, **settings), 1, 1)  # warm-up: kernel selection
    runs = []  # best of two, like the raw forward below: this machine's speed drifts by 10-20%
    for _ in range(2):
        before = engine.frames_evaluated
        runs.append(through_vapoursynth(src, path, settings))
        evaluated = engine.frames_evaluated - before
    seconds = min(runs)

    cfg = engine.settings
    window = torch.rand(cfg.window, 3, 540, 960)
    grid = TileGrid(540, 960, cfg.tile, cfg.overlap)
    model = engine.upscaler.model
    crops = torch.stack([grid.crop(window, t) for t in grid.tiles]).to(cfg.device)  # (tiles, T, 3, tile, tile)

    # The windows VapourSynth's run computed, each with the frames it produces.
    produced = [slice(w.position(w.first), w.position(w.first) + w.count) for w in engine.grid(frames).windows()]

    def tiled(produce: slice | None = None) -> None:
        for i in range(0, len(crops), cfg.batch):
            model(crops[i : i + cfg.batch], produce)

    def untiled() -> None:
        model(window[None].to(cfg.device))

    def raw() -> None:  # the same work as VapourSynth's run, on the same tiles
        for produce in produced:
            tiled(produce)

    with torch.inference_mode():
        t_tiled, t_untiled = best_of(tiled), best_of(untiled)
        raw_per_frame = best_of(raw, repeats=1) / frames
    per_frame = seconds / frames
    out_mp = 1920 * 1080 / 1e6
    return [
        f"| VapourSynth (vsr.SRGAN, {core.num_threads} threads) | {1 / per_frame:.2f} | {per_frame / out_mp:.3f} |",
        f"| raw generator forward, same tiles | {1 / raw_per_frame:.2f} | {raw_per_frame / out_mp:.3f} |",
        "",
        f"VapourSynth overhead over the raw forward: {per_frame / raw_per_frame:.2f}x (goal: at most 1.10x); "
        f"{evaluated / frames:.2f} window frames in per output frame (the context frames among them skip the trunk)",
        f"tiling: {len(grid.tiles)} tiles of {cfg.tile} px, overlap {cfg.overlap}: tiled / untiled forward "
        f"of one window = {t_tiled / t_untiled:.2f}x (goal: at most 1.3x)",
        f"precision {cfg.precision}, device {cfg.device}, channels-last {cfg.channels_last}, window {cfg.window}",
    ]


def compare_rows(variants: list[tuple[str, str, dict]], frames: int, rounds: int) -> list[str]:
    """Several (label, weights file, settings) through vsr.SRGAN on the same clip, interleaved:
    each round runs every variant once, so a machine's drift (10-20% over minutes here) touches
    every variant alike. Each variant's best and worst round, and its best against the first's."""
    src = moving_clip(960, 540, frames)
    for _, path, settings in variants:
        fetch_all(SRGAN(src[:1], weights=path, **settings), 1, 1)  # warm-up: kernel selection
    seconds: dict[str, list[float]] = {label: [] for label, _, _ in variants}
    for _ in range(rounds):
        for label, path, settings in variants:
            seconds[label].append(through_vapoursynth(src, path, settings) / frames)
    out_mp = 1920 * 1080 / 1e6
    first = min(seconds[variants[0][0]])
    rows = [f"| 960x540 -> 1920x1080, {frames} frames, {rounds} rounds interleaved | s per output MP, "
            f"best | worst | best against the first |", "|---|---:|---:|---:|"]  # fmt: skip
    for label, runs in seconds.items():
        rows.append(f"| {label} | {min(runs) / out_mp:.3f} | {max(runs) / out_mp:.3f} | {min(runs) / first:.2f}x |")
    return rows + ["", f"{core.num_threads} VapourSynth threads"]


def best_of(fn, repeats: int = 2) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def evaluation_rows(path: str, settings: dict) -> list[str]:
    rows = ["| mode (60 frames, one cut) | window frames in per output frame | frames through the trunk |",
            "|---|---:|---:|"]  # fmt: skip
    clip = torch.rand(60, 3, 24, 32)
    for mode in MODES:
        engine = Engine(weights.load(path), Settings(**{**settings, "mode": mode}))
        engine.upscale_clip(clip, cuts=[31])
        rows.append(f"| {mode} | {engine.frames_evaluated / 60:.3f} | {engine.frames_produced / 60:.3f} |")
    return rows


def position_rows(path: str, settings: dict, max_clips: int) -> list[str]:
    """PSNR-Y per window position in fast mode (edge frames see one side only)."""
    from training.data import evalset  # the benchmark may use the training package's data
    from training.scoring import EvalSettings, psnr_by_window_position

    eval_settings = EvalSettings(2, device=settings.get("device", "cpu"), precision=settings.get("precision"))
    by_position = psnr_by_window_position(weights.load(path), evalset.named("builtin")[:max_clips], eval_settings)
    rows = ["| position in window (fast mode) | frames | mean PSNR-Y |", "|---:|---:|---:|"]
    for pos, values in by_position.items():
        rows.append(f"| {pos} | {len(values)} | {statistics.fmean(values):.3f} |")
    return rows


def rss_rows(path: str, settings: dict) -> list[str]:
    def peak_mb() -> float:
        line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
        return int(line.split()[1]) / 1024

    out = SRGAN(moving_clip(320, 180, 300), weights=path, **settings)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak mark: earlier rows must not count
    marks = {}
    for n in range(300):
        out.get_frame(n)
        if n + 1 in (50, 300):
            marks[n + 1] = peak_mb()
    return [f"peak RSS after 50 frames: {marks[50]:.0f} MB; after 300 frames: {marks[300]:.0f} MB (320x180 input)"]


def backend_rows(path: str, frames: int) -> list[str]:
    """The same clip through each backend, best of two runs (after a warm-up that also exports
    the graph), interleaved so that a machine's drift touches every row alike."""
    src = moving_clip(960, 540, frames)
    runs = {"torch fp32": dict(precision="fp32"), "ort fp32": dict(backend="ort", precision="fp32"),
            "ov fp32": dict(backend="ov", precision="fp32"), "ov bf16": dict(backend="ov", precision="bf16"),
            "ov fp32, num_streams=2": dict(backend="ov", precision="fp32", num_streams=2)}  # fmt: skip
    for settings in runs.values():
        fetch_all(SRGAN(src[:3], weights=path, **settings), 3, core.num_threads)
    seconds = {name: [] for name in runs}
    for _ in range(2):
        for name, settings in runs.items():
            seconds[name].append(fetch_all(SRGAN(src, weights=path, **settings), frames, core.num_threads))
    reference = [frame_to_tensor(f) for f in SRGAN(src[:4], weights=path, precision="fp32").frames()]
    out_mp = 1920 * 1080 / 1e6
    rows = [f"| backend, 960x540 -> 1920x1080, {frames} frames | s per output MP | fps | max difference from torch |",
            "|---|---:|---:|---:|"]  # fmt: skip
    for name, settings in runs.items():
        outs = SRGAN(src[:4], weights=path, **settings).frames()
        diff = max(float((frame_to_tensor(f) - r).abs().max()) for f, r in zip(outs, reference))
        per_frame = min(seconds[name]) / frames
        rows.append(f"| {name} | {per_frame / out_mp:.3f} | {1 / per_frame:.2f} | {diff:.1e} |")
    bf16 = "has native bf16" if cpu_has_native_bf16() else "has no native bf16 (no avx512_bf16 or amx_bf16)"
    rows += ["", f"this CPU {bf16}; {core.num_threads} VapourSynth threads"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", metavar="FILE",
                        help="weights file (default: the shipped default model, else a fresh lite); with several, "
                        "only their speed through vsr.SRGAN, side by side and interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the side-by-side speed table (default 3)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when available)")
    parser.add_argument("--precision", default=None, help="fp32, fp16 or bf16 (default: the engine's)")
    parser.add_argument("--frames", type=int, default=15, help="frames for the fps measurement (default 15)")
    parser.add_argument("--clips", type=int, default=3, help="evaluation clips for PSNR by position (default 3)")
    parser.add_argument("--backends", action="store_true", help="only compare torch, ort and ov (CPU) side by side")
    parser.add_argument("--batches", nargs="+", type=int, metavar="N",
                        help="only the speed through vsr.SRGAN with each of these tile batches, side by side")  # fmt: skip
    args = parser.parse_args()
    settings = {k: v for k, v in (("device", args.device), ("precision", args.precision)) if v}

    if args.weights and len(args.weights) > 1:
        print(f"torch {torch.__version__}; VapourSynth R{core.core_version.release_major}")
        print()
        print("\n".join(compare_rows([(p, p, settings) for p in args.weights], args.frames, args.rounds)))
        print(f"settings {settings or 'the engine defaults'}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path, label = model_file(args, Path(tmp))
        print(f"model: {label}; torch {torch.__version__}; VapourSynth R{core.core_version.release_major}")
        print()
        if args.batches:
            variants = [(f"batch {n}", path, {**settings, "batch": n}) for n in args.batches]
            print("\n".join(compare_rows(variants, args.frames, args.rounds)))
            default = engine_for(path, Settings(**settings), 1).settings
            print(f"precision {default.precision}, tile {default.tile}; the engine's default batch here: {default.batch}")
            return
        if args.backends:
            print("\n".join(backend_rows(path, args.frames)))
            return
        print("| path, 960x540 -> 1920x1080 | fps | s per output MP |")
        print("|---|---:|---:|")
        print("\n".join(speed_rows(path, settings, args.frames)))
        print()
        print("\n".join(evaluation_rows(path, settings)))
        print()
        print("\n".join(position_rows(path, settings, args.clips)))
        print()
        print("\n".join(rss_rows(path, settings)))


if __name__ == "__main__":
    main()
