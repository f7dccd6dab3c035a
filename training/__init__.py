"""The vsvsr training package: data, evaluation and (later) the patch-cascade GAN trainer.

    python -m training evaluate --weights my.safetensors --scale 2 --report out/eval

It imports vsvsr; vsvsr never imports it.
"""


class UserError(Exception):
    """A mistake in what the user asked for; the command line prints its message, no traceback."""
