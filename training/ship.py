"""Ship a trained generator: measure it against the shipped-weights bars, then write what ships.

    python -m training ship --weights out/train/lite_cpu/weights/pixel-last.safetensors --name lite \
        --run out/train/lite_cpu --compare out/train/lite_cpu_w1/weights/pixel-last.safetensors

The file that would ship (fp16 tensors) is evaluated by `python -m training evaluate`'s own
scoring at x2 and x4 on bicubic and bilinear inputs, with bicubic and lanczos baselines; the
same architecture trained with window 1 (`--compare`) is scored beside it, and PSNR-Y by
position in the window shows what the window adds. Only when every bar passes does it write:

    weights/NAME.safetensors             fp16, the tables in its descriptor's metrics
    weights/NAME.md                      the model card: data manifest, config, steps, wall
                                         time, every table, the bars
    weights/NAME.png                     x4 side by side on the first evaluation clip: bicubic,
                                         lanczos, the model, the ground truth
    tests/reference/NAME.safetensors     a fixed small input and the model's fp32 output on it
                                         (tests/test_shipped.py pins every shipped model's pixels)

When a bar fails it writes nothing there and says which; --dry-run measures and prints only.
Every report (index.html, results.json per condition) goes under --report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from vsvsr import resize, sample, weights
from vsvsr.demo import labelled_row
from vsvsr.engine import Engine, Settings

from . import UserError, report
from .data import evalset
from .evaluate import (
    EvalSettings,
    baseline_method,
    evaluate,
    model_method,
    model_summary,
    lr_motion,
    notes,
    psnr_by_window_position,
    window_versus_static,
)
from .runlog import read_csv

CONDITIONS = ((2, "bicubic"), (4, "bicubic"), (2, "bilinear"), (4, "bilinear"))  # (scale, LR kernel)
BASELINES = ("bicubic", "lanczos")
POSITION_CLIPS = 3  # clips scored by window position (every frame of each is upscaled again)
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "tests" / "reference"


@dataclass(frozen=True)
class Bars:
    """What a model must measure to ship (on bicubic inputs; the issue's numbers)."""

    x2_gain: float = 3.0  # dB PSNR-Y over bicubic at x2
    x4_gain: float = 1.2  # dB PSNR-Y over bicubic at x4 (the cascade)
    window_gain: float = 0.3  # dB PSNR-Y over the window-1 model, or instead:
    window_temporal: float = 0.10  # tOF and tLP both at least this fraction lower than its


@dataclass(frozen=True)
class Bar:
    what: str
    measured: str
    passed: bool


def reference_input() -> torch.Tensor:
    """The fixed input of every reference output: 5 frames, 40 x 48, of the built-in sample
    (a real photo panning), downsampled x4 and rounded to 8 bits. (T, 3, 40, 48) in [0, 1]."""
    hr = sample.sample_clip(5)[..., 48:208, 96:288]  # (5, 3, 160, 192)
    return resize.quantize8(resize.downsample(hr, 4))


def reference_output(model: torch.nn.Module) -> torch.Tensor:
    """The model's x2 output on `reference_input`, through the engine in fp32 on the CPU."""
    frames = reference_input()
    clip = Engine(model, Settings(2, device="cpu", precision="fp32")).clip(lambda i: frames[i], len(frames))
    return torch.stack([clip.frame(n) for n in range(len(frames))])


def check_bars(tables: dict[str, dict[str, Any]], compare: dict[str, Any] | None, arch: str, bars: Bars) -> list[Bar]:
    """Every bar, measured: PSNR-Y gains, lanczos beaten, lower LPIPS, tOF and tLP than both
    baselines (x2 and x4, bicubic inputs), and the window's worth against `compare` (the
    window-1 model's x2 bicubic means; None: not measured, which fails)."""
    found = []
    for scale, gain in ((2, bars.x2_gain), (4, bars.x4_gain)):
        mean = tables[f"x{scale}-bicubic"]["mean"]
        ours, bicubic, lanczos = mean[arch], mean["bicubic"], mean["lanczos"]
        found.append(Bar(f"x{scale}: PSNR-Y at least {gain} dB over bicubic",
                         f"{ours['psnr_y'] - bicubic['psnr_y']:+.2f} dB", ours["psnr_y"] - bicubic["psnr_y"] >= gain))  # fmt: skip
        found.append(Bar(f"x{scale}: PSNR-Y over lanczos", f"{ours['psnr_y'] - lanczos['psnr_y']:+.2f} dB",
                         ours["psnr_y"] > lanczos["psnr_y"]))  # fmt: skip
        for metric in ("lpips", "tof", "tlp"):
            best = min(bicubic[metric], lanczos[metric])
            found.append(Bar(f"x{scale}: {metric} below bicubic's and lanczos'", f"{ours[metric]:.4f} vs {best:.4f}",
                             ours[metric] < best))  # fmt: skip
    if compare is None:
        found.append(Bar("window beats window 1", "not measured (pass --compare)", False))
    else:
        ours = tables["x2-bicubic"]["mean"][arch]
        gain = ours["psnr_y"] - compare["psnr_y"]
        temporal = [1 - ours[m] / compare[m] for m in ("tof", "tlp")]
        found.append(Bar(f"window beats window 1 by {bars.window_gain} dB PSNR-Y, or tOF and tLP "
                         f"{bars.window_temporal:.0%} lower", f"{gain:+.2f} dB; tOF {-temporal[0]:+.1%}, tLP {-temporal[1]:+.1%}",
                         gain >= bars.window_gain or min(temporal) >= bars.window_temporal))  # fmt: skip
    return found


def bars_table(found: list[Bar]) -> str:
    lines = ["| bar | measured | passed |", "|---|---:|:---:|"]
    lines += [f"| {b.what} | {b.measured} | {'yes' if b.passed else '**no**'} |" for b in found]
    return "\n".join(lines)


def side_by_side(report_dir: Path, assets: report.ClipAssets, arch: str) -> np.ndarray:
    """One clip's crops from an evaluation report, labelled, in a row (H, W, 3) uint8."""
    methods = [*BASELINES, arch, report.GROUND_TRUTH]
    crops = [torch.from_numpy(np.asarray(Image.open(report_dir / assets.crops[m]).convert("RGB")).copy()) for m in methods]
    return labelled_row([c.permute(2, 0, 1).float() / 255 for c in crops], methods)


def wall_hours(run: Path, steps: int) -> float:
    """Training time of `run` up to step `steps` (a run goes on past a phase that ships), from
    its logs: each logged step's seconds stand for the steps since the previous logged one;
    validations are added."""
    rows = [row for row in read_csv(run / "train.csv") if int(row["step"]) <= steps]
    total, previous = 0.0, 0
    for row in rows:
        step = int(row["step"])
        total += float(row["seconds"]) * (step - previous)
        previous = step
    total += sum(float(r["seconds"]) for r in read_csv(run / "validation.csv") if int(r["step"]) <= steps)
    return total / 3600


def card(name: str, model: torch.nn.Module, run: Path, tables: dict[str, dict[str, Any]], compare: dict[str, Any] | None,
         positions: dict[int, list[float]], static: dict[str, tuple[float, float]], found: list[Bar],
         motion: dict[str, tuple[float, float]]) -> str:  # fmt: skip
    """The model card (markdown) of shipped model `name`. `compare` is the window-1 model's x2
    bicubic evaluation (results.json's form), `motion` each clip's LR motion (lr_motion)."""
    d = model.descriptor
    params = sum(p.numel() for p in model.parameters())
    arch = d.arch
    parts = [
        f"# `{name}`: {arch}, x2, window {d.window}",
        f"- File: `weights/{name}.safetensors` (fp16 tensors, {params:,} parameters); "
        f"`core.vsr.SRGAN(clip, scale=2, model=\"{name}\")`, `vsvsr upscale ... --model {name}`.",
        f"- Trained {d.steps:,} steps on {d.downsample}-downsampled inputs, patch cascade "
        f"{list(d.train_tiles)} (the last is the inference tile), about {wall_hours(run, d.steps):.1f} hours "
        f"of a 2-core CPU (from the run's logs, `{run}`).",
        "- Evaluated on the built-in evaluation set (held out from training) by `python -m training "
        "evaluate`'s scoring: outputs rounded to 8 bits, PSNR-Y/SSIM-Y with the scale cropped from "
        "each border, LPIPS (AlexNet), tOF, tLP; the file as shipped (fp16), the engine's default "
        "precision on this CPU (bf16), x4 = two x2 passes.",
        "",
        f"![x4 on the first evaluation clip: bicubic, lanczos, {name}, ground truth]({name}.png)",
        "",
        "## Evaluation",
    ]
    for key, results in tables.items():
        parts += ["", f"### {key}", "", report.markdown_table(results, "builtin")]
    if compare is not None:
        ours = tables["x2-bicubic"]["mean"][arch]
        parts += ["", "## What the window adds", "",
                  "The same architecture trained with window 1 on the same budget, x2, bicubic inputs:", "",
                  "| model | PSNR-Y | LPIPS | tOF | tLP |", "|---|---:|---:|---:|---:|"]  # fmt: skip
        for label, mean in ((f"{name} (window {d.window})", ours), ("window 1", compare["mean"][arch])):
            parts.append(f"| {label} | {mean['psnr_y']:.3f} | {mean['lpips']:.4f} | {mean['tof']:.4f} | {mean['tlp']:.5f} |")
        parts += ["", f"Clip by clip ({name} / window 1), with each clip's LR motion (median and 95th "
                  "percentile of the ground truth's optical flow, in LR pixels per frame): the window can "
                  "only use motion its layers reach.", "",
                  "| clip | LR motion | PSNR-Y | tOF | tLP |", "|---|---:|---:|---:|---:|"]  # fmt: skip
        theirs = {c["name"]: c["metrics"][arch] for c in compare["clips"]}
        for clip in tables["x2-bicubic"]["clips"]:
            a, b = clip["metrics"][arch], theirs[clip["name"]]
            median, p95 = motion[clip["name"]]
            parts.append(f"| {clip['name']} | {median:.2f}, {p95:.2f} | {a['psnr_y']:.2f} / {b['psnr_y']:.2f} "
                         f"| {a['tof']:.4f} / {b['tof']:.4f} | {a['tlp']:.5f} / {b['tlp']:.5f} |")  # fmt: skip
    if positions:
        parts += ["", "PSNR-Y by position in the window (engine fast mode, x2, first "
                  f"{POSITION_CLIPS} clips):", "", "| position | frames | PSNR-Y |", "|---:|---:|---:|"]  # fmt: skip
        parts += [f"| {p} | {len(v)} | {statistics.fmean(v):.3f} |" for p, v in positions.items()]
    parts += ["", "Each clip's middle frame (of its first window) from the real window and from copies of "
              "itself, PSNR-Y x2: what the window's motion adds.", "",
              "| clip | real window | static window |", "|---|---:|---:|"]  # fmt: skip
    parts += [f"| {clip} | {real:.3f} | {still:.3f} |" for clip, (real, still) in static.items()]
    parts += ["", "## Bars", "", bars_table(found), "", "## Training data", "",
              "| source | sha256 | frames |", "|---|---|---|"]  # fmt: skip
    for entry in d.train_data:
        frames = entry["frames"] if entry.get("frames") is not None else "all"
        parts.append(f"| `{entry['source']}` | `{entry['sha256']}` | {frames} |")
    config = (run / "config.yaml").read_text() if (run / "config.yaml").is_file() else "(not found)"
    parts += ["", "## Config as run", "", "```yaml", config.rstrip(), "```", ""]
    return "\n".join(parts)


def ship(model_path: Path, name: str, run: Path, compare_path: Path | None, report_dir: Path, *,
         out_dir: Path = weights.WEIGHTS_DIR, reference_dir: Path = REFERENCE_DIR, data: str = "builtin",
         bars: Bars = Bars(), dry_run: bool = False) -> list[Bar]:  # fmt: skip
    """Measure `model_path` as it would ship and, unless `dry_run` or a bar fails, write it,
    its card and its reference output. Returns the bars as measured."""
    model = weights.load(model_path)
    if not model.descriptor.trained:
        raise UserError(f"{model_path} is not trained (descriptor.trained is false); ship trained weights only")
    clips = evalset.builtin() if data == "builtin" else evalset.from_folder(data)
    arch = model.descriptor.arch
    with tempfile.TemporaryDirectory(prefix="vsvsr-ship-") as tmp:
        candidate = weights.save(model, Path(tmp, f"{name}.safetensors"), dtype=torch.float16)
        shipped = weights.load(candidate)
        tables = {}
        for scale, kernel in CONDITIONS:
            settings = EvalSettings(scale, kernel, data, BASELINES)
            methods = [baseline_method(b, scale) for b in BASELINES] + [model_method(shipped, settings)]
            folder = report_dir / f"x{scale}-{kernel}"
            results, assets = evaluate(methods, clips, settings, folder)
            results |= {"model": model_summary(shipped, f"{model_path} as shipped (fp16)"),
                        "notes": notes(shipped, settings)}  # fmt: skip
            (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
            report.write_index(folder, results, assets)
            tables[f"x{scale}-{kernel}"] = results
            if (scale, kernel) == (4, "bicubic"):
                picture = side_by_side(folder, assets[0], arch)
            print(report.markdown_table(results, data if data == "builtin" else Path(data).name), flush=True)
        compare = None
        if compare_path is not None:
            other = weights.load(compare_path)
            if other.descriptor.arch != arch or other.descriptor.window != 1:
                raise UserError(f"--compare: {compare_path} must be {arch} trained with window 1")
            settings = EvalSettings(2, "bicubic", data, ())
            compare = evaluate([model_method(other, settings)], clips, settings, report_dir / "window-1")[0]
        positions = psnr_by_window_position(shipped, clips[:POSITION_CLIPS], EvalSettings(2, "bicubic", data))
        static = window_versus_static(shipped, clips, EvalSettings(2, "bicubic", data))
        found = check_bars(tables, None if compare is None else compare["mean"][arch], arch, bars)
        print(bars_table(found))
        if dry_run or not all(b.passed for b in found):
            return found

        keep = ("psnr_y", "ssim_y", "lpips", "tof", "tlp", "seconds_per_mp")
        measured = {key: {m: {k: round(v[k], 5) for k in keep} for m, v in t["mean"].items()} for key, t in tables.items()}
        reference_dir.mkdir(parents=True, exist_ok=True)
        save_file({"input": reference_input().contiguous(), "output": reference_output(shipped).contiguous()},
                  reference_dir / f"{name}.safetensors")  # fmt: skip
        motion = {clip.name: lr_motion(clip, 2) for clip in clips}
        (out_dir / f"{name}.md").write_text(card(name, shipped, run, tables, compare, positions, static, found, motion))
        Image.fromarray(picture).save(out_dir / f"{name}.png")
        # Last, and atomically: a shipped file always has its card and its reference output.
        weights.save(shipped, out_dir / f"{name}.safetensors", dtype=torch.float16,
                     metrics=measured | {"how": f"python -m training ship: built-in evaluation set v{evalset.VERSION}, "
                                                "8-bit outputs, the engine's default precision"})  # fmt: skip
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, required=True, help="the trained weights (e.g. a run's pixel-last)")
    parser.add_argument("--name", required=True, help="the shipped model's name, e.g. lite")
    parser.add_argument("--run", type=Path, required=True, help="the training run's folder (config.yaml, logs)")
    parser.add_argument("--compare", type=Path, help="the same architecture trained with window 1")
    parser.add_argument("--report", type=Path, default=None, help="where the reports go (default: out/ship/NAME)")
    parser.add_argument("--data", default="builtin", help="evaluation clips (default: the built-in set)")
    parser.add_argument("--dry-run", action="store_true", help="measure and print; write nothing that ships")


def run(args: argparse.Namespace) -> int:
    if not args.weights.is_file():
        raise UserError(f"--weights: file {args.weights} does not exist; check the path")
    if not args.run.is_dir():
        raise UserError(f"--run: {args.run} is not a folder; pass the training run's output folder")
    if args.compare is not None and not args.compare.is_file():
        raise UserError(f"--compare: file {args.compare} does not exist; check the path")
    if not args.name.isidentifier():
        raise UserError(f"--name: {args.name!r} must be a plain name such as lite or lite_gan")
    report_dir = args.report or Path("out/ship") / args.name
    found = ship(args.weights, args.name, args.run, args.compare, report_dir, data=args.data, dry_run=args.dry_run)
    failed = [b.what for b in found if not b.passed]
    if failed and not args.dry_run:
        print(f"not shipped: {len(failed)} bar(s) failed: {'; '.join(failed)}")
        return 1
    if not args.dry_run:
        print(f"shipped weights/{args.name}.safetensors, weights/{args.name}.md, tests/reference/{args.name}.safetensors")
    return 0
