"""Command line of the training package: ``python -m training COMMAND ...``.

    python -m training evaluate --weights my.safetensors --scale 2 --report out/eval
    python -m training train --config training/configs/lite_cpu.yaml --resume auto
    python -m training ship --weights out/train/lite_cpu/weights/pixel-last.safetensors --name lite --run out/train/lite_cpu

Each command is a module with ``add_arguments(parser)`` and ``run(args) -> exit status``.
Mistakes the user can fix end in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import UserError, evaluate, ship, train

COMMANDS = {"evaluate": evaluate, "ship": ship, "train": train}


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming --help instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineErrorParser(prog="python -m training", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(
            commands.add_parser(
                name,
                help=module.__doc__.splitlines()[0],
                description=module.__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except UserError as err:  # weights, checkpoints, configs, data: anything else is a bug
        print(f"python -m training {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
