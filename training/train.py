"""Train a generator with the paper's patch-cascade GAN recipe (a vsvsr weights file comes out).

    python -m training train --config training/configs/lite_cpu.yaml
    python -m training train --config training/configs/lite_cpu.yaml --resume auto
    python -m training train --config training/configs/smoke.yaml --set output_dir=out/smoke --set train.seed=3
    torchrun --nproc_per_node 4 -m training train --config training/configs/rrdb.yaml

The config (training/configs/*.yaml, typed: an unknown key is an error) names the networks,
data, degradations, cascade stages, losses per phase, optimiser and output_dir. --set
overrides any key (values are YAML: --set data.hr_crop=96, --set cascade.x2=[16,32]; list
items by index: --set phases.0.steps=500). --resume auto continues from the newest valid
checkpoint in output_dir (a fresh start when there is none); --stop-after N ends after N steps
with a checkpoint, to split a long run across sessions; --stop-at STEP ends at that step, so the
same command continues a run to the same end however often it was interrupted.

Writes OUTPUT/weights/<phase>-best.safetensors and final.safetensors (use them with
--weights / weights=), checkpoints, train.csv, validation.csv and TensorBoard logs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import UserError
from .config import load_config
from .trainer import train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, metavar="YAML", help="a training config")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
        help="override a config key (repeatable), e.g. --set output_dir=out/run1 --set phases.0.steps=100",
    )  # fmt: skip
    parser.add_argument(
        "--resume", metavar="auto|PATH",
        help="continue from the newest valid checkpoint in output_dir (auto) or from a checkpoint file",
    )  # fmt: skip
    parser.add_argument("--stop-after", type=int, metavar="N", help="stop (with a checkpoint) after N more steps")
    parser.add_argument("--stop-at", type=int, metavar="STEP",
                        help="stop (with a checkpoint) at step STEP, counted from the run's start")


def run(args: argparse.Namespace) -> int:
    """The train command: check the arguments and the config, then train."""
    for flag, value in (("--stop-after", args.stop_after), ("--stop-at", args.stop_at)):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be at least 1, not {value}")
    if args.resume not in (None, "auto") and not Path(args.resume).is_file():
        raise UserError(f"--resume: {args.resume} is not a file; pass OUTPUT/checkpoints/step-*.pt or auto")
    config = load_config(args.config, args.overrides)
    out = train(config, args.resume, args.stop_after, args.stop_at)
    if int(os.environ.get("RANK", "0")) == 0:  # one line per job, not per torchrun process
        print(out)
    return 0
