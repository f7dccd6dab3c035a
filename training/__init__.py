"""The vsvsr training package: data, the patch-cascade GAN trainer, evaluation.

    python -m training train --config training/configs/lite_cpu.yaml --resume auto
    python -m training evaluate --weights my.safetensors --scale 2 --report out/eval

It imports vsvsr; vsvsr never imports it.
"""


class UserError(Exception):
    """A mistake in what the user asked for; the command line prints its message, no traceback."""
