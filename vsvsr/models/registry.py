"""The generator variants by name. Explicit: each name maps to its full hyper-parameters here."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from .generator import SpatioTemporalGenerator


@dataclass(frozen=True)
class ArchSpec:
    name: str
    summary: str
    params: dict[str, Any] = field(default_factory=dict)
    window: int = 5  # frames per window a fresh model is meant to be trained with
    train_tiles: tuple[int, ...] = (16, 32, 64)  # LR patch sizes of the cascade; last = inference tile
    train_config: str = ""  # the training package's config for it, under training/configs/


ARCHS: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        ArchSpec(
            "rrdb",
            "the paper's large model: 37 RRDBs of 64 features (~27M parameters)",
            dict(trunk="rrdb", num_feat=64, num_blocks=37, num_grow=32, res_scale=0.2, hr_conv=True),
            train_config="rrdb.yaml",
        ),
        ArchSpec(
            "residual",
            "the paper's light model: 14 residual blocks of 128 features (~5M parameters)",
            dict(trunk="residual", num_feat=128, num_blocks=14, res_scale=0.2, hr_conv=True),
            train_config="residual.yaml",
        ),
        ArchSpec(
            # What lite trades: the trunk runs on a 2x2 space-to-depth grid, so each 3x3
            # convolution costs a quarter per LR pixel and sees twice as far, at the price of
            # fine per-pixel nonlinearity; no HR-resolution convolutions (the final pixel shuffle
            # maps 64 features straight to 4x4 RGB blocks); four residual blocks instead of
            # dozens. About 0.13 MMAC per LR pixel (bench/models.py: 254 GFLOP per LR megapixel):
            # one forward of a 960x540 frame in about 0.6 s on two cores in bf16.
            # Its window is used three times before the trunk (weights/MODEL_CARD.md has the
            # evidence for each): two 3D convolutions of 16 features compare the frames at full LR
            # resolution before the fold (part 0), since a sub-pixel move is invisible on the
            # folded grid; the non-local block is local (each place attends to its 3x3
            # neighbourhood in every frame), since the paper's global dot product cannot say where
            # a detail moved; and the first residual block's first convolution is 3D, since a
            # blend of neighbours cannot respond to their offsets. The folded expand convolution
            # then needs no temporal reach of its own (temporal_kernel=1).
            "lite",
            "our CPU model: two 3D convolutions at full LR resolution, then on a 2x2-folded grid a "
            "local non-local block, one 3D and three 2D residual blocks of 64 features (~0.48M parameters)",
            dict(trunk="residual", num_feat=64, num_blocks=3, temporal_blocks=1, res_scale=1.0, unshuffle=2,
                 front_feat=16, temporal_kernel=1, nonlocal_inner=16, pairwise="local", neighbourhood=3,
                 hr_conv=False),  # fmt: skip
            train_config="lite_cpu.yaml",
        ),
    )
}

# Constructor arguments that change no weight (the neighbour reach gate): a trained model may be
# run or fine-tuned with other values of these.
WEIGHTLESS_PARAMS = frozenset({"neighbour_reach", "reach_match", "reach_miss"})

# Every constructor argument with its default: the complete set an `arch_params` dict holds.
_GENERATOR_DEFAULTS = {
    k: p.default for k, p in inspect.signature(SpatioTemporalGenerator).parameters.items()
}


def names() -> list[str]:
    """The generator variants `build` knows."""
    return list(ARCHS)


def arch_params(name: str, **overrides: Any) -> dict[str, Any]:
    """The complete hyper-parameters of variant `name` with `overrides` applied."""
    spec = spec_for(name)
    unknown = sorted(set(overrides) - set(_GENERATOR_DEFAULTS))
    if unknown:
        raise TypeError(f"{name}: unknown generator parameter(s) {unknown}; known: {list(_GENERATOR_DEFAULTS)}")
    return {**_GENERATOR_DEFAULTS, **spec.params, **overrides}


def spec_for(name: str) -> ArchSpec:
    if name not in ARCHS:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(ARCHS)}")
    return ARCHS[name]


def build(name: str, **overrides: Any) -> SpatioTemporalGenerator:
    """A freshly initialised generator of variant `name` (see `names()`), e.g. `build("lite")`.

    The returned module remembers `arch` and its complete `arch_params`, which is what
    `vsvsr.weights.save` writes into the weight file's descriptor.
    """
    params = arch_params(name, **overrides)
    model = SpatioTemporalGenerator(**params)
    model.arch = name
    model.arch_params = dict(params)
    return model

