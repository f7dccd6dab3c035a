"""The `vsvsr` command: `vsvsr demo`, `vsvsr models`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import models, weights


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    video, picture = run_demo(Path(args.out), frames=args.frames)
    print(f"upscaled video (vspipe | x264): {video}")
    print(f"side-by-side picture: {picture}")
    return 0


def _models(args: argparse.Namespace) -> int:
    shipped = weights.shipped()
    print(f"{'name':10} {'parameters':>12}  weights")
    for name in models.names():
        n = sum(p.numel() for p in models.build(name).parameters())
        print(f"{name:10} {n:>12,}  {'shipped' if name in shipped else 'none shipped'}  ({models.spec_for(name).summary})")
    for name, path in shipped.items():
        d = weights.read_descriptor(path)
        print(f"{name}: arch {d.arch}, window {d.window}, steps {d.steps}, trained {d.trained}, metrics {d.metrics}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vsvsr", description="spatio-temporal SRGAN video super-resolution")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="upscale the built-in sample through core.vsr.SRGAN, vspipe and x264")
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument("--frames", type=int, default=24, help="frames in the sample clip (default: 24)")
    demo.set_defaults(run=_demo)
    listing = sub.add_parser("models", help="list models, parameters and shipped weights")
    listing.set_defaults(run=_models)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (weights.WeightsError, ValueError) as err:
        print(f"vsvsr {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
