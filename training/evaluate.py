"""Score a model and interpolation baselines on an evaluation set, as the paper's Table 2.

Table 2's PSNR, LPIPS and SSIM, plus temporal consistency (tOF, tLP) and speed. For example:

    python -m training evaluate --weights my.safetensors --scale 2 --report out/eval-x2
    python -m training evaluate --model lite --scale 4 --downsample bilinear --report out/eval-x4
    python -m training evaluate --weights my.safetensors --scale 2 --data ~/Vid4 --report out/vid4

Prints a markdown table to stdout; writes DIR/results.json (every number, per clip and mean,
with the settings and the model's descriptor) and DIR/index.html (training.report).

Conditions: `--data builtin` (default) or `unseen` (the source-disjoint set, training.data.evalset)
or a folder; `--compression h264` (libx264 CRF 26, web video) or `mpeg2` (mpeg2video at DVD's
0.4 bits per pixel) encodes each 8-bit LR clip with a real codec and decodes it before
upscaling, as real footage arrives; scores are always against the clean HR.

Conventions: outputs are rounded to 8 bits before scoring, as saved frames would be; PSNR-Y
and SSIM-Y crop `scale` pixels from each border; LPIPS uses AlexNet; tOF, tLP and temporal
error compare each output's frame-to-frame changes with the ground truth's; seconds per output
megapixel time the upscaling alone (no metrics, no I/O) and are summed over the whole set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

import vsvsr
from vsvsr import metrics, models, resize, weights
from vsvsr.engine import PRECISIONS, Engine, Settings

from . import UserError, report
from .data import codec, evalset

BASELINES = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}
LPIPS_BATCH = 8  # frames per LPIPS forward pass: bounds memory on long, large clips
# The compressed conditions: the LR clip through a real encoder and back (training.data.codec).
COMPRESSIONS: dict[str, codec.Encoding | None] = {
    "none": None,
    "h264": codec.Encoding("libx264", crf=26, preset="medium"),  # web video
    "mpeg2": codec.Encoding("mpeg2video", bits_per_pixel=0.4),  # DVD and SD broadcast (5 Mbit/s at 720x480)
}
# Per-clip scores that are averaged over clips for the table (speed is summed instead).
SCORES = ("psnr_y", "ssim_y", "lpips", "tof", "tlp", "temporal_error")


@dataclass(frozen=True)
class EvalSettings:
    scale: int
    downsample: str = "bicubic"
    data: str = "builtin"  # "unseen", or a folder of clip folders (training.data.evalset.clips)
    compression: str = "none"  # a COMPRESSIONS key: how the LR clip is encoded before upscaling
    window: int | None = None  # frames per window for the model (default: what it was trained with)
    baselines: tuple[str, ...] = tuple(BASELINES)
    device: str = "cpu"
    precision: str | None = None  # the engine's default for the device, what users get


@dataclass(frozen=True)
class Method:
    """Something that upscales an LR clip: (T, 3, h, w) uint8 -> (T, 3, H, W) uint8."""

    name: str
    kind: str  # "baseline" or "model"
    upscale: Callable[[torch.Tensor], torch.Tensor]
    trained: bool | None = None  # models only: the descriptor's word


def upscale_baseline(lr: torch.Tensor, scale: int, name: str) -> torch.Tensor:
    """Interpolate each 8-bit LR frame with Pillow's `name` filter (bicubic is Keys a = -0.5)."""
    height, width = lr.shape[-2] * scale, lr.shape[-1] * scale
    frames = [
        np.asarray(Image.fromarray(frame).resize((width, height), BASELINES[name]))
        for frame in lr.permute(0, 2, 3, 1).numpy()
    ]
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()


def downsample(hr: torch.Tensor, scale: int, kernel: str) -> torch.Tensor:
    """(T, 3, H, W) uint8 HR frames -> LR uint8 frames, as the SR literature makes them."""
    return to_uint8(resize.downsample(hr.float() / 255, scale, kernel))


def lr_input(hr: torch.Tensor, settings: EvalSettings) -> torch.Tensor:
    """The LR clip a method gets for ground truth `hr` ((T, 3, H, W) uint8): downsampled, then
    encoded and decoded when the condition is compressed. (T, 3, h, w) uint8."""
    lr = downsample(hr, settings.scale, settings.downsample)
    encoding = COMPRESSIONS[settings.compression]
    if encoding is None:
        return lr
    return torch.from_numpy(codec.roundtrip(lr.permute(0, 2, 3, 1).numpy(), encoding)).permute(0, 3, 1, 2).contiguous()


def to_uint8(frames: torch.Tensor) -> torch.Tensor:
    return (frames.clamp(0, 1) * 255).round().to(torch.uint8)


def upscale_with_engine(engine: Engine, lr: torch.Tensor) -> torch.Tensor:
    """The clip through the inference engine users get (windows, scene handling, tiles,
    precision), rounded to 8 bits as saved frames would be. (T, 3, h, w) -> (T, 3, H, W) uint8."""
    return to_uint8(engine.upscale_clip(lr.float() / 255))


def lr_motion(clip: evalset.Clip, scale: int) -> tuple[float, float]:
    """How far `clip` moves in LR pixels per frame at `scale` (median, 95th percentile): the
    flow of its ground truth (finer than the LR frames' own) divided by the scale."""
    median, p95 = metrics.motion(clip.hr.float() / 255)
    return median / scale, p95 / scale


def baseline_method(name: str, scale: int) -> Method:
    return Method(name, "baseline", lambda lr: upscale_baseline(lr, scale, name))


def model_method(model: torch.nn.Module, settings: EvalSettings, name: str | None = None,
                 window: int | None = None) -> Method:  # fmt: skip
    """`model` through the engine, named `name` (default: its architecture) in the tables;
    `window` (default: the settings') overrides the frames per window it was trained with (1:
    each frame alone)."""
    window = window if window is not None else settings.window
    engine = Engine(model, Settings(settings.scale, window=window, device=settings.device, precision=settings.precision))
    d = model.descriptor
    label = name or (d.arch if window is None else f"{d.arch}, window {window}")
    return Method(label, "model", lambda lr: upscale_with_engine(engine, lr), trained=d.trained)


def score(pred: torch.Tensor, target: torch.Tensor, scale: int) -> dict[str, Any]:
    """Every metric of one upscaled clip against its ground truth, both (T, 3, H, W) uint8."""
    pred, target = pred.float() / 255, target.float() / 255
    psnr = metrics.psnr_y(pred, target, crop=scale)
    batches = [slice(i, i + LPIPS_BATCH) for i in range(0, len(pred), LPIPS_BATCH)]
    lpips = torch.cat([metrics.lpips(pred[b], target[b]) for b in batches])
    return {
        "psnr_y": psnr.mean().item(),
        "ssim_y": metrics.ssim_y(pred, target, crop=scale).mean().item(),
        "lpips": lpips.mean().item(),
        "tof": metrics.tof(pred, target),
        "tlp": metrics.tlp(pred, target),
        "temporal_error": metrics.temporal_error(pred, target),
        "psnr_y_per_frame": psnr.tolist(),
    }


def evaluate(
    methods: list[Method], clips: list[evalset.Clip], settings: EvalSettings, report_dir: Path
) -> tuple[dict[str, Any], list[report.ClipAssets]]:
    """Score every method on every clip and write the report's pictures under `report_dir`.
    Returns the results (results.json without the model summary) and the pictures written."""
    # One untimed run first, so one-time costs (allocation, kernel selection) are not timed.
    for method in methods:
        method.upscale(lr_input(clips[0].hr[:2], settings))
    seconds = {m.name: 0.0 for m in methods}
    megapixels = 0.0
    clip_results, clip_assets = [], []
    for index, clip in enumerate(tqdm(clips, desc="evaluating", unit="clip", leave=False)):
        lr = lr_input(clip.hr, settings)
        outputs, scores = {}, {}
        for method in methods:
            start = time.perf_counter()
            outputs[method.name] = method.upscale(lr)
            elapsed = time.perf_counter() - start
            seconds[method.name] += elapsed
            scores[method.name] = score(outputs[method.name], clip.hr, settings.scale) | {
                "seconds_per_mp": elapsed / _megapixels(clip.hr)
            }
        megapixels += _megapixels(clip.hr)
        frames, _, height, width = clip.hr.shape
        clip_results.append(
            {"name": clip.name, "origin": clip.origin, "frames": frames, "width": width, "height": height}
            | {"metrics": scores}
        )
        clip_assets.append(report.write_clip_assets(report_dir, index, clip.name, clip.hr, outputs))

    mean = {
        m.name: {k: statistics.fmean(c["metrics"][m.name][k] for c in clip_results) for k in SCORES}
        | {"seconds_per_mp": seconds[m.name] / megapixels}
        for m in methods
    }
    return {
        "settings": dataclasses.asdict(settings)
        | {"crop": settings.scale, "lpips_net": "alex", "clips": len(clips), "output_megapixels": megapixels},
        "environment": {"vsvsr": vsvsr.__version__, "torch": torch.__version__, "threads": torch.get_num_threads()},
        "methods": [_describe(m) for m in methods],
        "mean": mean,
        "clips": clip_results,
    }, clip_assets


def psnr_by_window_position(model: torch.nn.Module, clips: list[evalset.Clip], settings: EvalSettings) -> dict[int, list[float]]:
    """PSNR-Y of every output frame, grouped by its position in the window that produced it, in
    the engine's fast mode (each window's frames are its outputs, so edge positions see the
    clip on one side only): where the temporal window helps, the middle positions score higher."""
    engine = Engine(model, Settings(settings.scale, device=settings.device, precision=settings.precision, mode="fast"))
    by_position: dict[int, list[float]] = {}
    for clip in clips:
        hr = clip.hr.float() / 255
        lr = lr_input(clip.hr, settings).float() / 255
        srs = to_uint8(engine.upscale_clip(lr)).float() / 255
        grid = engine.grid(len(lr))
        for n, sr in enumerate(srs):
            psnr = metrics.psnr_y(sr[None], hr[n : n + 1], crop=settings.scale).item()
            by_position.setdefault(grid.window_of(n).position(n), []).append(psnr)
    return dict(sorted(by_position.items()))


def window_versus_static(model: torch.nn.Module, clips: list[evalset.Clip], settings: EvalSettings) -> dict[str, tuple[float, float]]:
    """Whether the model uses its window: PSNR-Y of each clip's middle frame of its first window,
    upscaled from the real window and from copies of the frame itself (the same frame with no
    motion to learn from). {clip name: (real, static)}."""
    window = weights.descriptor_of(model).window
    found = {}
    for clip in clips:
        hr = clip.hr[:window]
        found[clip.name] = real_versus_static(model, lr_input(hr, settings), hr, settings.scale)
    return found


def real_versus_static(model: torch.nn.Module, lr: torch.Tensor, hr: torch.Tensor, scale: int) -> tuple[float, float]:
    """PSNR-Y of the middle frame of one window (lr (T, 3, h, w), hr (T, 3, H, W), both uint8)
    upscaled from the window itself and from T copies of its middle frame."""
    frames = lr.float() / 255
    middle = len(frames) // 2
    target = hr[middle : middle + 1].float() / 255
    with torch.no_grad():
        real = models.upscale(model, frames[None], scale)[0, middle]
        static = models.upscale(model, frames[middle : middle + 1].expand_as(frames)[None], scale)[0, middle]
    return tuple(metrics.psnr_y(to_uint8(out)[None].float() / 255, target, crop=scale).item() for out in (real, static))


def model_summary(model: torch.nn.Module, source: str) -> dict[str, Any]:
    """What results.json says about the model: its descriptor without the bulky fields."""
    d = model.descriptor
    return {
        "source": source,
        "arch": d.arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "window": d.window,
        "train_tiles": list(d.train_tiles),
        "downsample": d.downsample,
        "trained": d.trained,
        "steps": d.steps,
        "train_data_entries": len(d.train_data),
        "format_version": d.format_version,
    }


def notes(model: torch.nn.Module, settings: EvalSettings) -> list[str]:
    """Caveats a reader of the numbers must see."""
    d = model.descriptor
    found = []
    if not d.trained:
        found.append(
            f"{d.arch} is untrained (descriptor.trained is false): a fresh generator adds random detail "
            f"to its bicubic skip, so its numbers measure no learning"
        )
    if d.downsample != settings.downsample:
        found.append(f"{d.arch} was trained on {d.downsample} inputs and is evaluated on {settings.downsample} inputs")
    encoding = COMPRESSIONS[settings.compression]
    if encoding is not None:
        found.append(f"LR inputs encoded with {encoding.label()} and decoded before upscaling; scored against clean HR")
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", metavar="NAME", help="a shipped model, by name")
    which.add_argument("--weights", metavar="PATH", help="a .safetensors weights file")
    parser.add_argument("--scale", type=int, choices=models.SCALES, required=True, help="2 or 4 (x4: two x2 passes)")
    parser.add_argument(
        "--data", default="builtin", metavar="builtin|unseen|PATH",
        help="'builtin' (default), 'unseen' (source-disjoint from training) or a folder of clip folders holding "
             "PNG frames (PATH/<clip>/0000.png ...)",
    )  # fmt: skip
    parser.add_argument("--downsample", choices=weights.DOWNSAMPLES, default="bicubic", help="how LR inputs are made")
    parser.add_argument("--compression", choices=tuple(COMPRESSIONS), default="none",
                        help="encode each LR clip before upscaling: h264 (libx264 CRF 26) or mpeg2 (DVD bitrate)")  # fmt: skip
    parser.add_argument(
        "--baselines", default=",".join(BASELINES), metavar="LIST",
        help=f"comma-separated interpolations to compare with (default: all of {','.join(BASELINES)}; '' for none)",
    )  # fmt: skip
    parser.add_argument(
        "--report", required=True, type=Path, metavar="DIR", help="folder for results.json and index.html"
    )
    parser.add_argument("--window", type=int, metavar="N",
                        help="run the model with N-frame windows (default: its own; 1: each frame alone)")
    parser.add_argument("--device", default="cpu", help="torch device for the model (default: cpu)")
    parser.add_argument(
        "--precision", choices=tuple(PRECISIONS),
        help="the model's precision (default: the engine's for the device: fp16 on CUDA, bf16 on CPUs with native bf16, else fp32)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """The evaluate command: check every argument, then evaluate, print, write."""
    baselines = tuple(b for b in args.baselines.split(",") if b)
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise UserError(f"--baselines: unknown {', '.join(unknown)}; choose from {','.join(BASELINES)}")
    if args.window is not None and args.window < 1:
        raise UserError(f"--window must be at least 1 frame, not {args.window}")
    settings = EvalSettings(args.scale, args.downsample, args.data, args.compression, args.window, baselines,
                            _check_device(args.device), args.precision)  # fmt: skip
    if args.report.exists() and not args.report.is_dir():
        raise UserError(f"--report: {args.report} is a file; pass a folder (it is created if missing)")
    if args.weights is not None and not Path(args.weights).is_file():
        raise UserError(f"--weights: file {args.weights} does not exist; check the path")
    source = args.weights if args.weights is not None else args.model
    model = weights.load(source)
    clips = evalset.clips(settings.data)

    methods = [baseline_method(b, settings.scale) for b in baselines] + [model_method(model, settings)]
    results, assets = evaluate(methods, clips, settings, args.report)
    results["model"] = model_summary(model, str(source))
    results["notes"] = notes(model, settings)
    if settings.data in evalset.SETS:
        results["settings"]["evalset_version"] = evalset.SETS[settings.data].version

    (args.report / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.write_index(args.report, results, assets)
    print(report.markdown_table(results, dataset_label(settings)))
    return 0


def dataset_label(settings: EvalSettings) -> str:
    """How tables name the condition: the set (or folder) and, if any, the compression."""
    name = evalset.label(settings.data)
    return name if settings.compression == "none" else f"{name}, {settings.compression}"


def _check_device(name: str) -> str:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: {name!r} is not a torch device; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return name


def _describe(method: Method) -> dict[str, Any]:
    described = {"name": method.name, "kind": method.kind}
    return described if method.trained is None else described | {"trained": method.trained}


def _megapixels(frames: torch.Tensor) -> float:
    return frames.shape[0] * frames.shape[-2] * frames.shape[-1] / 1e6
