"""Any model file the engine runs: our weights (vsvsr.weights) or a community model (vsvsr.community).

    model = networks.load("lite")             # a shipped name, or our .safetensors: the x2 window generator
    model = networks.load("4x-Foo.pth")       # anything spandrel recognises: a one-frame network
    lines = networks.inspect("4x-Foo.pth")    # what `vsvsr models --inspect` prints
"""

from __future__ import annotations

import os

import torch

from . import community, weights
from .engine.settings import scales_reached


def load(name_or_path: str | os.PathLike) -> torch.nn.Module:
    """The network a shipped name or a file holds, float32 on the CPU, with its `.descriptor`;
    WeightsError naming the problem otherwise."""
    path = weights.resolve(name_or_path)
    return weights.load(path) if weights.is_vsvsr_file(path) else community.load(path)


def inspect(name_or_path: str | os.PathLike) -> list[str]:
    """What a model file is, as lines for `vsvsr models --inspect`."""
    path = weights.resolve(name_or_path)
    model = load(path)
    d = model.descriptor
    scales = " or ".join(map(str, scales_reached(d.scale)))
    parameters = sum(p.numel() for p in model.parameters())
    if isinstance(d, weights.ModelDescriptor):
        return [
            f"{path}: vsvsr weights, arch {d.arch} ({'trained' if d.trained else 'untrained'}, {d.steps:,} steps)",
            f"  scale x{d.scale} per pass (scale {scales}), window {d.window} frames, inference tile {d.inference_tile}, "
            f"size multiple {d.size_multiple}",
            f"  precisions {', '.join(d.precisions)}; {parameters:,} parameters; trained on {d.downsample} LR",
        ]
    size = f"any size, padded to a multiple of {d.size_multiple}" if d.size_multiple > 1 else "any size"
    return [
        f"{path}: community model, spandrel architecture {d.arch} (id {d.arch_id}, purpose {d.purpose}"
        f"{', ' + ' '.join(d.tags) if d.tags else ''})",
        f"  scale x{d.scale} per pass (scale {scales}), one frame at a time; channels {d.input_channels} in, "
        f"{d.output_channels} out",
        f"  {size}{f', at least {d.min_size}' if d.min_size else ''}{', square' if d.square else ''}; "
        f"tiling {d.tiling} (by spandrel); default tile: whole frames up to {d.inference_tile} px",
        f"  precisions {', '.join(d.precisions)}; {parameters:,} parameters",
    ]
