"""Scoring upscalers on evaluation clips: the library behind `python -m training evaluate`,
validation during training, `python -m training ship` and the benchmarks.

Conventions: outputs are rounded to 8 bits before scoring, as saved frames would be; PSNR-Y
and SSIM-Y crop `scale` pixels from each border; LPIPS uses AlexNet; tOF, tLP and temporal
error compare each output's frame-to-frame changes with the ground truth's; seconds per output
megapixel time the upscaling alone (no metrics, no I/O) and are summed over the whole set.

Conditions (`EvalSettings`): an evaluation set (training.data.evalset) or a folder of clips,
clean or through a real codec (`COMPRESSIONS`), always scored against the clean HR.
"""

from __future__ import annotations

import dataclasses
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
from vsvsr.engine import Engine, Settings

from . import report
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
    gaps = metrics.tlp_gaps(pred, target)
    return {
        "psnr_y": psnr.mean().item(),
        "ssim_y": metrics.ssim_y(pred, target, crop=scale).mean().item(),
        "lpips": lpips.mean().item(),
        "tof": metrics.tof(pred, target),
        "tlp": gaps.abs().mean().item(),
        # Mean signed gap: > 0 the output changes less between frames than the truth, < 0 it flickers.
        "tlp_signed": gaps.mean().item(),
        "temporal_error": metrics.temporal_error(pred, target),
        "psnr_y_per_frame": psnr.tolist(),
    }


def score_methods(
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


def shot_edge_gains(results: dict[str, Any], name: str) -> dict[str, tuple[float, float]]:
    """Per clip (each is one shot): `name`'s mean gain over bicubic (PSNR-Y, dB) at its first and
    last frames, which have neighbours on one side only as at every scene cut, and inside it."""
    found = {}
    for clip in results["clips"]:
        ours, bicubic = clip["metrics"][name]["psnr_y_per_frame"], clip["metrics"]["bicubic"]["psnr_y_per_frame"]
        gain = [a - b for a, b in zip(ours, bicubic)]
        found[clip["name"]] = (statistics.fmean((gain[0], gain[-1])), statistics.fmean(gain[1:-1]))
    return found


def edge_gaps(results: dict[str, Any], name: str) -> dict[str, float]:
    """Per clip: how much less `name`'s first and last frames gain over bicubic than the frames inside (dB)."""
    return {clip: inside - edges for clip, (edges, inside) in shot_edge_gains(results, name).items()}


def dataset_label(settings: EvalSettings) -> str:
    """How tables name the condition: the set (or folder) and, if any, the compression."""
    name = evalset.label(settings.data)
    return name if settings.compression == "none" else f"{name}, {settings.compression}"


def _describe(method: Method) -> dict[str, Any]:
    described = {"name": method.name, "kind": method.kind}
    return described if method.trained is None else described | {"trained": method.trained}


def _megapixels(frames: torch.Tensor) -> float:
    return frames.shape[0] * frames.shape[-2] * frames.shape[-1] / 1e6
