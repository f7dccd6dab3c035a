"""The vsvsr training package: data, the patch-cascade GAN trainer, evaluation.

    python -m training train --config training/configs/lite_cpu.yaml --resume auto
    python -m training evaluate --weights my.safetensors --scale 2 --report out/eval

It imports vsvsr; vsvsr never imports it.
"""

from vsvsr.errors import UserError  # the training package's mistakes are the same kind: one line

__all__ = ["UserError"]
