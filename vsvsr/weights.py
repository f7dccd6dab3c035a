"""Weight files: safetensors whose metadata carries one JSON `descriptor` (DESIGN.md).

    save(model, "my.safetensors")                  # a fresh model: trained=false
    save(model, "lite.safetensors", trained=True, steps=40000, metrics={...}, dtype=torch.float16)
    model = load("lite")                           # shipped weights (package data, vsvsr.resources)
    model = load("my.safetensors", device="cuda", dtype=torch.float16)
    model.descriptor.inference_tile                # typed, from the file, not guessed

A loaded file is checked against the architecture it names; any mismatch raises `WeightsError`
with a message that names it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
import safetensors.torch

from . import models
from .atomic import atomic_path
from .errors import UserError
from .resources import weights_folder

FORMAT_VERSION = 1
SUFFIX = ".safetensors"
# What `resolve` takes for a file: ours, and the community formats spandrel reads (vsvsr.community).
FILE_SUFFIXES = (SUFFIX, ".pth", ".pt", ".ckpt")
WEIGHTS_DIR = weights_folder()  # the repository's weights/ in a clone, package data in a wheel
DOWNSAMPLES = ("bicubic", "bilinear")
DEFAULT_MODEL = "lite"  # the best shipped model: the default of core.vsr.SRGAN and vsvsr upscale


class WeightsError(UserError, ValueError):
    """A weights file or name that cannot give the requested model; the message says why."""


@dataclass(frozen=True)
class ModelDescriptor:
    """What a weight file says about its model (spandrel-style: declared, never guessed)."""

    arch: str
    arch_params: dict[str, Any]
    scale: int = 2  # one x2 generator; x4 is two passes of it
    window: int = 5  # frames per window it was trained with
    train_tiles: tuple[int, ...] = (16, 32, 64)  # LR patch sizes of the cascade stages
    downsample: str = "bicubic"  # the degradation its LR inputs were made with
    train_data: list[dict[str, Any]] = field(default_factory=list)  # hashed manifest of what it saw
    steps: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    trained: bool = False
    format_version: int = FORMAT_VERSION

    @property
    def inference_tile(self) -> int:
        """The default LR tile for inference: the cascade's last (largest) training patch."""
        return self.train_tiles[-1]

    @property
    def size_multiple(self) -> int:
        return int(self.arch_params.get("unshuffle", 1))

    @property
    def temporal(self) -> bool:
        """A window of frames in (engine/network.py); community single-image models are not."""
        return True

    @property
    def precisions(self) -> tuple[str, ...]:
        """Ours keep the bicubic skip and the sum in float32, so every precision is sound."""
        return ("fp32", "fp16", "bf16")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "descriptor") -> ModelDescriptor:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise WeightsError(f"{source}: descriptor is not valid JSON ({err})") from None
        if not isinstance(raw, dict):
            raise WeightsError(f"{source}: descriptor must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise WeightsError(f"{source}: unknown descriptor field(s) {unknown}; is it from a newer vsvsr?")
        missing = sorted({"arch", "arch_params", "format_version"} - set(raw))
        if missing:
            raise WeightsError(f"{source}: descriptor lacks {missing}")
        if "train_tiles" in raw:
            raw["train_tiles"] = tuple(raw["train_tiles"])
        return cls(**raw).validated(source)

    def validated(self, source: str = "descriptor") -> ModelDescriptor:
        """Self, after checking every field's value; raises WeightsError naming the bad one."""
        if self.format_version != FORMAT_VERSION:
            raise WeightsError(
                f"{source}: format_version {self.format_version} is not supported (this vsvsr reads "
                f"{FORMAT_VERSION}); upgrade vsvsr or re-export the weights"
            )
        if self.arch not in models.names():
            raise WeightsError(f"{source}: unknown arch {self.arch!r}; known: {', '.join(models.names())}")
        if self.scale != 2:
            raise WeightsError(f"{source}: scale must be 2 (x4 runs the x2 generator twice), not {self.scale}")
        if not (isinstance(self.window, int) and self.window >= 1):
            raise WeightsError(f"{source}: window must be a positive integer, not {self.window!r}")
        if not self.train_tiles or not all(isinstance(t, int) and t > 0 for t in self.train_tiles):
            raise WeightsError(f"{source}: train_tiles must be positive integers, not {self.train_tiles!r}")
        if self.downsample not in DOWNSAMPLES:
            raise WeightsError(f"{source}: downsample must be one of {DOWNSAMPLES}, not {self.downsample!r}")
        return self


def descriptor_of(model: torch.nn.Module) -> ModelDescriptor:
    """The descriptor a loaded model carries, or its architecture's defaults for a fresh one."""
    if getattr(model, "descriptor", None) is not None:
        return model.descriptor
    spec = models.spec_for(model.arch)
    return ModelDescriptor(model.arch, dict(model.arch_params), window=spec.window, train_tiles=spec.train_tiles)


def save(model: torch.nn.Module, path: str | os.PathLike, *, dtype: torch.dtype | None = None, **meta: Any) -> Path:
    """Write `model` (a generator from `vsvsr.models.build` or `load`) to a safetensors file.

    `meta` sets descriptor fields (window, train_tiles, downsample, train_data, steps, metrics,
    trained); the rest come from the model's own descriptor when it was loaded, else from its
    architecture's defaults. `dtype` (e.g. torch.float16) stores the tensors in that precision.
    The file appears atomically: a crash never leaves a half-written file under `path`.
    """
    settable = {f.name for f in dataclasses.fields(ModelDescriptor)} - {"arch", "arch_params", "format_version"}
    unknown = sorted(set(meta) - settable)
    if unknown:
        raise TypeError(f"save: unknown descriptor field(s) {unknown}; settable: {sorted(settable)}")
    if not hasattr(model, "arch"):
        raise TypeError("save: model must come from vsvsr.models.build or vsvsr.weights.load")
    descriptor = dataclasses.replace(descriptor_of(model), **meta).validated("save")

    tensors = {
        k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    path = Path(path)
    # As bytes, written by us: safetensors' save_file makes its own 0600 temporary file.
    data = safetensors.torch.save(tensors, metadata={"descriptor": descriptor.to_json()})
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def shipped() -> dict[str, Path]:
    """Model names with shipped weights, e.g. {"lite": .../lite.safetensors}."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob(f"*{SUFFIX}"))}


def resolve(name_or_path: str | os.PathLike) -> Path:
    """The weights file for a shipped model name or a path; WeightsError saying what to do otherwise."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = str(name_or_path)
    available = shipped()
    if name in available:
        return available[name]
    if path.suffix.lower() in FILE_SUFFIXES or os.sep in name:
        raise WeightsError(f"weights file {name} does not exist; check the path")
    if name in models.names():
        raise WeightsError(
            f"model {name!r} has no shipped weights yet; train them with the training package "
            f"(python -m training train --config training/configs/{models.spec_for(name).train_config}) and pass the file "
            f"(weights= in VapourSynth, --weights on the command line), or use one of the shipped "
            f"models: {', '.join(available) or 'none yet'}"
        )
    raise WeightsError(
        f"unknown model {name!r}; shipped models: {', '.join(available) or 'none yet'}; "
        f"architectures: {', '.join(models.names())}; or pass a model file ({', '.join(FILE_SUFFIXES)})"
    )


def is_vsvsr_file(path: str | os.PathLike) -> bool:
    """Whether `path` is a safetensors file carrying our descriptor (otherwise it may be a
    community model, vsvsr.community)."""
    if Path(path).suffix.lower() != SUFFIX:
        return False
    try:
        with safe_open(str(path), framework="pt") as f:
            return "descriptor" in (f.metadata() or {})
    except (SafetensorError, OSError):
        return False


def read_descriptor(path: str | os.PathLike) -> ModelDescriptor:
    """The descriptor of a weights file, without loading its tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise WeightsError(f"{path} is not a readable safetensors file ({err})") from None
    if "descriptor" not in metadata:
        raise WeightsError(
            f"{path} is not a vsvsr weights file: its metadata has no 'descriptor'; "
            f"write weights with vsvsr.weights.save"
        )
    return ModelDescriptor.from_json(metadata["descriptor"], source=str(path))


def load(
    name_or_path: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> models.SpatioTemporalGenerator:
    """The generator stored in a weights file (or shipped under a model name), in eval mode, with
    its `.descriptor`. Raises WeightsError naming any mismatch between the file and its arch."""
    path = resolve(name_or_path)
    descriptor = read_descriptor(path)
    try:
        model = models.build(descriptor.arch, **descriptor.arch_params)
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{path}: arch_params do not build a {descriptor.arch!r} generator ({err})") from None

    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in tensors]
    problems += [f"unexpected {k}" for k in tensors if k not in expected]
    problems += [
        f"{k} has shape {tuple(tensors[k].shape)}, expected {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise WeightsError(f"{path}: tensors do not match the {descriptor.arch!r} architecture: {shown}")

    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    model.descriptor = descriptor
    return model.to(device=device, dtype=dtype).eval()
