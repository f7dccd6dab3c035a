"""Ship a trained generator: measure it against the shipped-weights bars, then write what ships.

    python -m training ship --weights out/train/lite/weights/pixel-last.safetensors --name lite \
        --run out/train/lite
    python -m training ship --weights out/train/lite_real/weights/pixel-last.safetensors --name lite_real \
        --run out/train/lite_real --profile real

The file that would ship (fp16 tensors) is evaluated by `python -m training evaluate`'s own
scoring (training.scoring) on the unseen set (source-disjoint from training: the bars are measured there) and on
the built-in set, each at x2 and x4, on clean bicubic LR and on the same LR through H.264 and
MPEG-2, beside bicubic, lanczos and the model that ships today (`--previous`, default the
shipped `lite`). The same weights run with window 1 show what the window adds, clip by clip;
each clip's first and last frame against the frames inside show what a shot's edge costs;
PSNR-Y by position in the window and real-versus-static windows are diagnostics. Only when
every bar of the profile passes does it write:

    weights/NAME.safetensors             fp16, the tables in its descriptor's metrics
    weights/NAME.md                      the model card: data manifest, config, steps, wall
                                         time, every table, the bars
    weights/NAME.png                     x4 side by side on the first unseen clip: bicubic,
                                         lanczos, the model, the ground truth
    tests/reference/NAME.safetensors     a fixed small input and the model's fp32 output on it
                                         (tests/test_shipped.py pins every shipped model's pixels)

When a bar fails it writes nothing there and says which; --dry-run measures and prints only.
--below-bars ships it all the same, for a model that misses the bars but serves users better
than what ships today (the tables beside the previous model show whether it does): the card
opens with the bars it misses and the file's metrics list them (`bars_missed`).
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
import safetensors.torch
import torch
from PIL import Image

from vsvsr import resize, sample, weights
from vsvsr.atomic import atomic_path
from vsvsr.engine import Engine, Settings
from vsvsr.pictures import labelled_row

from . import UserError, report
from .data import evalset
from .runlog import read_csv
from .scoring import (
    COMPRESSIONS,
    EvalSettings,
    baseline_method,
    dataset_label,
    edge_gaps,
    lr_motion,
    model_method,
    model_summary,
    notes,
    psnr_by_window_position,
    score_methods,
    shot_edge_gains,
    window_versus_static,
)

SETS = ("unseen", "builtin")  # the first is where the bars are measured
SCALES = (2, 4)
BASELINES = ("bicubic", "lanczos")
POSITION_CLIPS = 3  # clips scored by window position (every frame of each is upscaled again)
# ship is a developer tool run from a clone: what it writes goes into the repository (weights/ is
# also the package data vsvsr.shipped_weights of an editable install), never into an installed vsvsr.
REPO = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = REPO / "weights"
REFERENCE_DIR = REPO / "tests" / "reference"


@dataclass(frozen=True)
class Bars:
    """What a model must measure to ship, on the unseen set, for the input it is made for."""

    compression: str = "none"  # the condition the model is for (scoring.COMPRESSIONS)
    x2_gain: float = 3.2  # dB PSNR-Y over bicubic at x2
    x4_gain: float = 1.8  # dB PSNR-Y over bicubic at x4 (the cascade)
    clean_x2_gain: float | None = None  # a model for compressed input must still do this on clean input
    lpips_below_previous: bool = False  # LPIPS below the model shipping today (not just the baselines)
    window_gain: float = 0.3  # dB PSNR-Y, mean over clips, over the same weights run with window 1 ...
    window_clip_loss: float = 0.2  # ... with no clip worse than window 1 by more than this
    edge_gap: float = 0.2  # dB: a shot's first and last frames gain at most this less than the rest


PROFILES = {
    "clean": Bars(),
    "real": Bars("h264", x2_gain=1.2, x4_gain=0.8, clean_x2_gain=2.5, lpips_below_previous=True),
}


@dataclass(frozen=True)
class Bar:
    what: str
    measured: str
    passed: bool


def condition_key(data: str, scale: int, compression: str) -> str:
    """How tables and metrics name a condition, e.g. "unseen-x2-h264"."""
    return f"{evalset.label(data)}-x{scale}-{compression}"


def window_1(name: str) -> str:
    return f"{name}, window 1"


def reference_input() -> torch.Tensor:
    """The fixed input of every reference output: 5 frames, 40 x 48, of the built-in sample
    (a real photo panning), downsampled x4 and rounded to 8 bits. (T, 3, 40, 48) in [0, 1]."""
    hr = sample.sample_clip(5)[..., 48:208, 96:288]  # (5, 3, 160, 192)
    return resize.quantize8(resize.downsample(hr, 4))


def reference_output(model: torch.nn.Module) -> torch.Tensor:
    """The model's x2 output on `reference_input`, through the engine in fp32 on the CPU."""
    frames = reference_input()
    return Engine(model, Settings(2, device="cpu", precision="fp32")).upscale_clip(frames)


def check_bars(tables: dict[str, dict[str, Any]], primary: str, name: str, bars: Bars,
               previous: str | None) -> list[Bar]:  # fmt: skip
    """Every bar of `bars`, measured in `tables` (results.json's form by condition key) on set
    `primary`: PSNR-Y gains over bicubic, lanczos beaten, LPIPS, tOF and tLP below both
    baselines and tOF/tLP no worse than the `previous` model's (the one shipping today), the
    window's worth against the same weights run with window 1, and the shot edges."""
    found = []
    for scale, gain in ((2, bars.x2_gain), (4, bars.x4_gain)):
        where = condition_key(primary, scale, bars.compression)
        mean = tables[where]["mean"]
        ours, bicubic, lanczos = mean[name], mean["bicubic"], mean["lanczos"]
        found.append(Bar(f"{where}: PSNR-Y at least {gain} dB over bicubic",
                         f"{ours['psnr_y'] - bicubic['psnr_y']:+.2f} dB", ours["psnr_y"] - bicubic["psnr_y"] >= gain))  # fmt: skip
        found.append(Bar(f"{where}: PSNR-Y over lanczos", f"{ours['psnr_y'] - lanczos['psnr_y']:+.2f} dB",
                         ours["psnr_y"] > lanczos["psnr_y"]))  # fmt: skip
        for metric in ("lpips", "tof", "tlp"):
            best = min(bicubic[metric], lanczos[metric])
            found.append(Bar(f"{where}: {metric} below bicubic's and lanczos'", f"{ours[metric]:.4f} vs {best:.4f}",
                             ours[metric] < best))  # fmt: skip
        if previous is not None:
            theirs = mean[previous]
            for metric in ("tof", "tlp"):
                found.append(Bar(f"{where}: {metric} no worse than {previous}'s", f"{ours[metric]:.4f} vs {theirs[metric]:.4f}",
                                 ours[metric] <= theirs[metric]))  # fmt: skip
            if bars.lpips_below_previous:
                found.append(Bar(f"{where}: lpips below {previous}'s", f"{ours['lpips']:.4f} vs {theirs['lpips']:.4f}",
                                 ours["lpips"] < theirs["lpips"]))  # fmt: skip
    if bars.clean_x2_gain is not None:
        mean = tables[condition_key(primary, 2, "none")]["mean"]
        gain = mean[name]["psnr_y"] - mean["bicubic"]["psnr_y"]
        found.append(Bar(f"{condition_key(primary, 2, 'none')}: PSNR-Y at least {bars.clean_x2_gain} dB over bicubic",
                         f"{gain:+.2f} dB", gain >= bars.clean_x2_gain))  # fmt: skip

    x2 = tables[condition_key(primary, 2, bars.compression)]
    gains = window_gains(x2, name)
    mean_gain, worst = statistics.fmean(gains.values()), min(gains.values())
    found.append(Bar(f"window beats window 1 by {bars.window_gain} dB on average, no clip worse by more than "
                     f"{bars.window_clip_loss} dB", f"{mean_gain:+.2f} dB, worst clip {worst:+.2f} dB",
                     mean_gain >= bars.window_gain and worst >= -bars.window_clip_loss))  # fmt: skip
    ours, single = x2["mean"][name]["tlp"], x2["mean"][window_1(name)]["tlp"]
    found.append(Bar("window: tLP below window 1's", f"{ours:.4f} vs {single:.4f}", ours < single))
    gap = statistics.fmean(edge_gaps(x2, name).values())
    found.append(Bar(f"shot edges: first and last frames gain within {bars.edge_gap} dB of the frames inside",
                     f"{gap:+.2f} dB less", gap <= bars.edge_gap))  # fmt: skip
    return found


def window_gains(results: dict[str, Any], name: str) -> dict[str, float]:
    """Per clip: PSNR-Y of `name` minus that of the same weights run with window 1 (dB)."""
    return {c["name"]: c["metrics"][name]["psnr_y"] - c["metrics"][window_1(name)]["psnr_y"] for c in results["clips"]}


def bars_table(found: list[Bar]) -> str:
    lines = ["| bar | measured | passed |", "|---|---:|:---:|"]
    lines += [f"| {b.what} | {b.measured} | {'yes' if b.passed else '**no**'} |" for b in found]
    return "\n".join(lines)


def side_by_side(report_dir: Path, assets: report.ClipAssets, name: str) -> np.ndarray:
    """One clip's crops from an evaluation report, labelled, in a row (H, W, 3) uint8."""
    methods = [*BASELINES, name, report.GROUND_TRUTH]
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


def card(name: str, model: torch.nn.Module, run: Path, tables: dict[str, dict[str, Any]], primary: str, bars: Bars,
         positions: dict[int, list[float]], static: dict[str, tuple[float, float]], found: list[Bar],
         motion: dict[str, tuple[float, float]]) -> str:  # fmt: skip
    """The model card (markdown) of shipped model `name`; `motion` is each `primary` clip's LR
    motion (lr_motion)."""
    d = model.descriptor
    params = sum(p.numel() for p in model.parameters())
    init, init_steps = d.metrics.get("init"), int(d.metrics.get("init_steps", 0))
    start = (f"fine-tuned from `{init}` (which had trained {init_steps:,} steps; its data is included below) for "
             f"{d.steps - init_steps:,} steps" if init else f"trained {d.steps:,} steps")  # fmt: skip
    x2 = tables[condition_key(primary, 2, bars.compression)]
    missed = [b for b in found if not b.passed]
    parts = [
        f"# `{name}`: {d.arch}, x2, window {d.window}",
        *([f"**Ships below {len(missed)} of its {len(found)} bars** (`ship --below-bars`): "
           + "; ".join(f"{b.what} ({b.measured})" for b in missed) + ". See Bars.", ""] if missed else []),
        f"- File: `weights/{name}.safetensors` (fp16 tensors, {params:,} parameters); "
        f"`core.vsr.SRGAN(clip, scale=2, model=\"{name}\")`, `vsvsr upscale ... --model {name}`.",
        f"- {start[0].upper() + start[1:]} on {d.downsample}-downsampled inputs, patch cascade "
        f"{list(d.train_tiles)} (the last is the inference tile), about {wall_hours(run, d.steps - init_steps):.1f} "
        f"hours of a 2-core CPU (from the run's logs, `{run}`).",
        f"- Made for {'clean' if bars.compression == 'none' else bars.compression + '-compressed'} input; "
        f"the bars are measured on the `{primary}` set.",
        "- Evaluated by `python -m training evaluate`'s scoring on the `unseen` set (Debian packages that "
        "training never reads: no package, series, video or shot in common) and on the `builtin` set "
        "(held-out files of the packages training reads), each on clean bicubic LR and on the same LR "
        "encoded and decoded (h264: libx264 CRF 26; mpeg2: mpeg2video at 0.4 bits per pixel): outputs "
        "rounded to 8 bits, PSNR-Y/SSIM-Y with the scale cropped from each border, LPIPS (AlexNet), tOF, "
        "tLP; the file as shipped (fp16), the engine's default precision on this CPU, x4 = two x2 passes.",
        "",
        f"![x4 on the first {primary} clip: bicubic, lanczos, {name}, ground truth]({name}.png)",
        "",
        "## Evaluation",
    ]
    for key, results in tables.items():
        parts += ["", f"### {key}", "", report.markdown_table(results, key)]
    parts += ["", "## What the window adds", "",
              f"The same weights run with window 1 (each frame alone), `{x2['settings']['data']}` x2, "
              f"{bars.compression} input, clip by clip, with each clip's LR motion (median and 95th percentile "
              "of the ground truth's optical flow, in LR pixels per frame): the window can only use motion its "
              "layers reach. tLP's signed gap says which way it misses: above 0 the output changes less "
              "between frames than the truth (too steady), below 0 more (flicker).", "",
              f"| clip | LR motion | PSNR-Y {name} / window 1 | gain | tOF | tLP | tLP signed gap |",
              "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    gains = window_gains(x2, name)
    for clip in x2["clips"]:
        a, b = clip["metrics"][name], clip["metrics"][window_1(name)]
        median, p95 = motion[clip["name"]]
        parts.append(f"| {clip['name']} | {median:.2f}, {p95:.2f} | {a['psnr_y']:.2f} / {b['psnr_y']:.2f} "
                     f"| {gains[clip['name']]:+.2f} | {a['tof']:.4f} / {b['tof']:.4f} | {a['tlp']:.5f} / {b['tlp']:.5f} "
                     f"| {a['tlp_signed']:+.5f} / {b['tlp_signed']:+.5f} |")  # fmt: skip
    parts += ["", "## Shot edges", "",
              "Each clip is one shot; its first and last frames have neighbours on one side only (the engine's "
              "windows slide inside the shot), as at every scene cut. Gain over bicubic (PSNR-Y, dB) of the "
              "edge frames and of the frames inside, and how much less the edges gain:", "",
              "| clip | edges | inside | gap |", "|---|---:|---:|---:|"]  # fmt: skip
    for clip, (edges, inside) in shot_edge_gains(x2, name).items():
        parts.append(f"| {clip} | {edges:+.2f} | {inside:+.2f} | {inside - edges:+.2f} |")
    if positions:
        parts += ["", f"PSNR-Y by position in the window (engine fast mode, x2, first {POSITION_CLIPS} "
                  f"`{primary}` clips):", "", "| position | frames | PSNR-Y |", "|---:|---:|---:|"]  # fmt: skip
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


def ship(model_path: Path, name: str, run: Path, report_dir: Path, *, bars: Bars = Bars(),
         previous: str | Path | None = "lite", also: tuple[str | Path, ...] = (), sets: tuple[str, ...] = SETS,
         out_dir: Path = WEIGHTS_DIR, reference_dir: Path = REFERENCE_DIR, dry_run: bool = False,
         below_bars: bool = False) -> list[Bar]:  # fmt: skip
    """Measure `model_path` as it would ship and, unless `dry_run` or a bar fails (and not
    `below_bars`), write it, its card and its reference output. `previous`: the model shipping
    today (a shipped name or a file; None, or a name that ships nothing: no comparison); `also`:
    more shipped names or files beside it in the first set's tables, in no bar (the model a
    retrained one replaces, when the bars compare it with another). The bars are measured on
    `sets[0]`. Returns the bars as measured."""
    model = weights.load(model_path)
    if not model.descriptor.trained:
        raise UserError(f"{model_path} is not trained (descriptor.trained is false); ship trained weights only")
    before, before_name = _previous(previous)  # loaded first: shipping `name` may replace it
    others = {other: _previous(other) for other in also}
    if missing := [str(other) for other, (found, _) in others.items() if found is None]:
        raise UserError(f"--also: {', '.join(missing)}: neither a shipped model nor a weights file")
    beside = ([(before, before_name)] if before is not None else []) + list(others.values())
    primary = sets[0]
    with tempfile.TemporaryDirectory(prefix="vsvsr-ship-") as tmp:
        candidate = weights.save(model, Path(tmp, f"{name}.safetensors"), dtype=torch.float16)
        shipped = weights.load(candidate)
        tables, picture = {}, None
        for data in sets:
            clips = evalset.clips(data)
            for compression in COMPRESSIONS:
                for scale in SCALES:
                    settings = EvalSettings(scale, "bicubic", data, compression, baselines=BASELINES)
                    methods = [baseline_method(b, scale) for b in BASELINES] + [model_method(shipped, settings, name)]
                    if data == primary:
                        methods += [model_method(other, settings, label) for other, label in beside]
                    if data == primary and scale == 2 and compression == bars.compression:
                        methods.append(model_method(shipped, settings, window_1(name), window=1))
                    key = condition_key(data, scale, compression)
                    results, assets = score_methods(methods, clips, settings, report_dir / key)
                    results |= {"model": model_summary(shipped, f"{model_path} as shipped (fp16)"),
                                "notes": notes(shipped, settings)}  # fmt: skip
                    (report_dir / key / "results.json").write_text(json.dumps(results, indent=2) + "\n")
                    report.write_index(report_dir / key, results, assets)
                    tables[key] = results
                    if (data, scale, compression) == (primary, 4, bars.compression):
                        picture = side_by_side(report_dir / key, assets[0], name)
                    print(report.markdown_table(results, dataset_label(settings)), flush=True)
        clips = evalset.clips(primary)
        settings = EvalSettings(2, "bicubic", primary, bars.compression)
        positions = psnr_by_window_position(shipped, clips[:POSITION_CLIPS], settings)
        static = window_versus_static(shipped, clips, settings)
        found = check_bars(tables, primary, name, bars, before_name if before is not None else None)
        print(bars_table(found))
        missed = [b.what for b in found if not b.passed]
        if dry_run or (missed and not below_bars):
            return found

        keep = ("psnr_y", "ssim_y", "lpips", "tof", "tlp", "seconds_per_mp")
        measured = {key: {m: {k: round(v[k], 5) for k in keep} for m, v in t["mean"].items()} for key, t in tables.items()}
        reference_dir.mkdir(parents=True, exist_ok=True)
        reference = {"input": reference_input().contiguous(), "output": reference_output(shipped).contiguous()}
        with atomic_path(reference_dir / f"{name}.safetensors") as tmp:  # (save_file would make it 0600)
            tmp.write_bytes(safetensors.torch.save(reference))
        motion = {clip.name: lr_motion(clip, 2) for clip in clips}
        (out_dir / f"{name}.md").write_text(card(name, shipped, run, tables, primary, bars, positions, static, found,
                                                 motion))  # fmt: skip
        Image.fromarray(picture).save(out_dir / f"{name}.png")
        versions = ", ".join(f"{d} {evalset.SETS[d].version}" for d in sets if d in evalset.SETS)
        # Last, and atomically: a shipped file always has its card and its reference output.
        weights.save(shipped, out_dir / f"{name}.safetensors", dtype=torch.float16,
                     metrics=measured | {"how": f"python -m training ship: evaluation sets {versions or sets}, "
                                                "8-bit outputs, the engine's default precision",
                                         "bars_missed": missed})  # fmt: skip
    return found


def _previous(previous: str | Path | None) -> tuple[torch.nn.Module | None, str]:
    """The model shipping today and its label in the tables ("previous lite"), if any."""
    if previous is None:
        return None, ""
    if Path(previous).suffix == ".safetensors":
        return weights.load(previous), f"previous {Path(previous).stem}"
    if str(previous) not in weights.shipped():
        return None, ""
    # "previous": once `name` ships, the model it was compared with is no longer the shipped one.
    return weights.load(str(previous)), f"previous {previous}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", type=Path, required=True, help="the trained weights (e.g. a run's pixel-last)")
    parser.add_argument("--name", required=True, help="the shipped model's name, e.g. lite")
    parser.add_argument("--run", type=Path, required=True, help="the training run's folder (config.yaml, logs)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="clean",
                        help="which bars: clean (for clean input, like lite) or real (H.264 input, like lite_real)")  # fmt: skip
    parser.add_argument("--previous", default="lite", metavar="NAME|PATH|none",
                        help="the model shipping today, compared in every table of the first set (default: the "
                             "shipped lite; none: no comparison)")  # fmt: skip
    parser.add_argument("--also", nargs="+", default=(), metavar="NAME|PATH",
                        help="more models in the first set's tables, in no bar (e.g. the lite_real a retrained "
                             "lite_real replaces, while --previous lite sets its bars)")  # fmt: skip
    parser.add_argument("--report", type=Path, default=None, help="where the reports go (default: out/ship/NAME)")
    parser.add_argument("--data", default=",".join(SETS), metavar="SETS",
                        help=f"evaluation sets or folders, comma-separated; the bars use the first (default: {','.join(SETS)})")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="measure and print; write nothing that ships")
    parser.add_argument("--below-bars", action="store_true",
                        help="ship even where bars fail (the card and the file's metrics list them); for a model "
                             "that serves users better than what ships today without meeting the bars")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if not args.weights.is_file():
        raise UserError(f"--weights: file {args.weights} does not exist; check the path")
    if not args.run.is_dir():
        raise UserError(f"--run: {args.run} is not a folder; pass the training run's output folder")
    if not args.name.isidentifier():
        raise UserError(f"--name: {args.name!r} must be a plain name such as lite or lite_gan")
    if args.previous.endswith(".safetensors") and not Path(args.previous).is_file():
        raise UserError(f"--previous: file {args.previous} does not exist; check the path")
    sets = tuple(d for d in args.data.split(",") if d)
    if not sets:
        raise UserError("--data: name at least one evaluation set (unseen, builtin) or folder")
    report_dir = args.report or Path("out/ship") / args.name
    previous = None if args.previous == "none" else args.previous
    found = ship(args.weights, args.name, args.run, report_dir, bars=PROFILES[args.profile], previous=previous,
                 also=tuple(args.also), sets=sets, dry_run=args.dry_run, below_bars=args.below_bars)  # fmt: skip
    failed = [b.what for b in found if not b.passed]
    if failed and not args.dry_run and not args.below_bars:
        print(f"not shipped: {len(failed)} bar(s) failed: {'; '.join(failed)} (--below-bars ships it regardless)")
        return 1
    if not args.dry_run:
        below = f", below {len(failed)} bar(s): {'; '.join(failed)}" if failed else ""
        print(f"shipped weights/{args.name}.safetensors, weights/{args.name}.md, tests/reference/{args.name}.safetensors{below}")
    return 0
