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
upscaling, as real footage arrives; scores are always against the clean HR. How each number is
measured: training.scoring.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from vsvsr import models, weights
from vsvsr.engine import PRECISIONS

from . import UserError, report
from .data import evalset
from .scoring import (
    BASELINES,
    COMPRESSIONS,
    EvalSettings,
    baseline_method,
    dataset_label,
    edge_gaps,
    model_method,
    model_summary,
    notes,
    score_methods,
)


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

    # Named as asked for: a shipped model by its name (lite_gan is a lite), a file by its arch.
    label = model.descriptor.arch if args.weights is not None else args.model
    label += f", window {args.window}" if args.window is not None else ""
    methods = [baseline_method(b, settings.scale) for b in baselines] + [model_method(model, settings, label)]
    results, assets = score_methods(methods, clips, settings, args.report)
    results["model"] = model_summary(model, str(source))
    results["notes"] = notes(model, settings)
    if settings.data in evalset.SETS:
        results["settings"]["evalset_version"] = evalset.SETS[settings.data].version

    (args.report / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.write_index(args.report, results, assets)
    print(report.markdown_table(results, dataset_label(settings)))
    if "bicubic" in baselines and all(len(c["metrics"]["bicubic"]["psnr_y_per_frame"]) >= 3 for c in results["clips"]):
        gap = statistics.fmean(edge_gaps(results, label).values())
        print(f"\nShot edges: each clip's first and last frames gain {gap:+.3f} dB less over bicubic than the "
              "frames inside (PSNR-Y, mean over clips)")  # fmt: skip
    return 0


def _check_device(name: str) -> str:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: {name!r} is not a torch device; use cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return name
