"""Community single-image models: a file spandrel recognises (ESRGAN, Real-ESRGAN Compact,
SwinIR, SPAN, ...), read without running code from it, run by the engine as a one-frame window.

    model = community.load("4x-Foo.pth")
    model.descriptor                           # CommunityDescriptor: arch, scale, size needs, precisions
    Engine(model, Settings(scale=4))           # the same tiles, precision, device and frame server as ours

Reading: spandrel's own `ModelLoader` opens .pth files with `torch.load(pickle_module=...)` and a
restricted unpickler of its own (passing a pickle module turns torch's `weights_only` off), and
.pt files with `torch.jit.load` first, which runs the TorchScript a file carries. So the file is
read here: safetensors as they are, everything else with `torch.load(weights_only=True)`, torch's
maintained allow-list, which refuses pickled code and TorchScript archives. spandrel then only
detects the architecture from the tensors and builds it.
"""

from __future__ import annotations

import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import nn

from .weights import FILE_SUFFIXES, WeightsError

SCALES = (1, 2, 3, 4)
PURPOSES = ("SR", "Restoration")  # spandrel's purposes of image-to-image models that take any picture
# Default LR tile: whole frames (up to 4096 px a side), as vs-realesrgan does by default. The tile
# grid shifts a row's last tile inward, so tiles near a frame's size compute much of it twice
# (960x540 in 512-px tiles: 2x), and some models tile badly (spandrel's `tiling`); where a frame
# does not fit in memory (ESRGAN x4 from 1080p), tile= / --tile (e.g. 256) splits it.
WHOLE_FRAME_TILE = 4096


@dataclass(frozen=True)
class CommunityDescriptor:
    """What spandrel found in a community file (the engine's NetworkSpec, engine/network.py)."""

    arch: str  # spandrel's architecture name, e.g. "ESRGAN", "RealESRGAN Compact"
    arch_id: str  # its stable id, e.g. "ESRGAN", "Compact"
    purpose: str  # "SR" or "Restoration" (x1: denoise, deblock, ...)
    tags: tuple[str, ...]  # spandrel's hyper-parameter tags, e.g. ("64nf", "23nb")
    scale: int
    input_channels: int
    output_channels: int
    size_multiple: int  # inputs are padded to this (by spandrel, by reflection) and cropped back
    min_size: int
    square: bool  # inputs are padded to squares
    supports_fp16: bool
    supports_bf16: bool
    tiling: str  # spandrel's advice: "supported", "discouraged" or "internal"
    parameters: int

    @property
    def window(self) -> int:
        return 1

    @property
    def temporal(self) -> bool:
        return False

    @property
    def inference_tile(self) -> int:
        return WHOLE_FRAME_TILE

    @property
    def precisions(self) -> tuple[str, ...]:
        return ("fp32",) + ("fp16",) * self.supports_fp16 + ("bf16",) * self.supports_bf16


class CommunityModel(nn.Module):
    """A spandrel image model as an engine network: (B, T, 3, h, w) -> (B, K, 3, s*h, s*w) for the
    positions it is asked to produce, each frame on its own (a window of one frame in practice)."""

    def __init__(self, spandrel_model: Any, descriptor: CommunityDescriptor) -> None:
        super().__init__()
        self.net = spandrel_model.model
        self.spandrel = spandrel_model  # called as spandrel calls it: its padding, its call, its clamp
        self.descriptor = descriptor

    def forward(self, frames: torch.Tensor, produce: slice | None = None) -> torch.Tensor:
        b, t, c, h, w = frames.shape
        produced = frames[:, produce if produce is not None else slice(None)]  # (B, K, 3, h, w)
        k, s = produced.shape[1], self.descriptor.scale
        dtype = next(self.net.parameters()).dtype
        out = self.spandrel(produced.reshape(b * k, c, h, w).to(dtype))  # (B*K, 3, s*h, s*w)
        return out.float().reshape(b, k, c, s * h, s * w)

    def to_channels_last(self) -> CommunityModel:
        self.net.to(memory_format=torch.channels_last)
        return self


def read_state_dict(path: Path) -> dict[str, Any]:
    """The tensors of a model file, never unpickling anything but tensors and containers."""
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise WeightsError(f"{path}: a model file must end in {', '.join(FILE_SUFFIXES)}, not {path.suffix or 'nothing'}")
    try:
        if path.suffix.lower() == ".safetensors":
            return safetensors.torch.load_file(str(path))
        with warnings.catch_warnings():  # torch's notes on pickle protocols and TorchScript: the errors say enough
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise WeightsError(f"{path} holds pickled objects besides tensors ({_reason(err)}), and vsvsr never runs code "
                           "from a model file; convert it to .safetensors where it came from, or re-save only its "
                           "state dict") from None  # fmt: skip
    except RuntimeError as err:
        if "TorchScript" in str(err):
            raise WeightsError(f"{path} is a TorchScript archive, which runs code of its own; pass the model's "
                               "state dict (.pth or .safetensors) instead") from None  # fmt: skip
        raise WeightsError(f"{path} is not a readable model file ({_reason(err)})") from None
    except (SafetensorError, OSError, EOFError, ValueError) as err:
        raise WeightsError(f"{path} is not a readable model file ({_reason(err)})") from None


def _reason(err: BaseException) -> str:
    """What torch's long message says was refused: the global a pickle names, or the first line."""
    text = str(err)
    found = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"(Unsupported [^\n.]*)", text)
    if found:
        return f"it names {found.group(1)}" if found.group(0).startswith("GLOBAL") else found.group(1)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def load(path: str | Path) -> CommunityModel:
    """The model a community file holds, in eval mode, float32 on the CPU, with its descriptor.
    WeightsError naming the problem for a file spandrel does not know or the engine cannot run."""
    import spandrel  # seconds to import: only when a community file is used

    path = Path(path)
    state_dict = read_state_dict(path)
    if not isinstance(state_dict, dict):
        raise WeightsError(f"{path} holds a {type(state_dict).__name__}, not a state dict of tensors")
    try:
        found = spandrel.MAIN_REGISTRY.load(spandrel.canonicalize_state_dict(state_dict))
    except spandrel.UnsupportedModelError:
        raise WeightsError(f"{path}: spandrel {spandrel.__version__} does not recognise this model's architecture; "
                           "use a model of an architecture spandrel lists (ESRGAN, Real-ESRGAN Compact, SwinIR, "
                           "SPAN, ...)") from None  # fmt: skip
    except (KeyError, RuntimeError, ValueError, AssertionError) as err:
        raise WeightsError(f"{path}: spandrel recognised the file but could not build its model ({err})") from None
    descriptor = describe(found)
    _check_runnable(path, found, descriptor)
    return CommunityModel(found, descriptor).eval().requires_grad_(False)


def describe(found: Any) -> CommunityDescriptor:
    """The typed descriptor of a spandrel model descriptor."""
    size = found.size_requirements
    return CommunityDescriptor(
        arch=found.architecture.name, arch_id=str(found.architecture.id), purpose=found.purpose,
        tags=tuple(found.tags), scale=found.scale, input_channels=found.input_channels,
        output_channels=found.output_channels, size_multiple=size.multiple_of, min_size=size.minimum,
        square=size.square, supports_fp16=found.supports_half, supports_bf16=found.supports_bfloat16,
        tiling=found.tiling.name.lower(), parameters=sum(p.numel() for p in found.model.parameters()),
    )  # fmt: skip


def _check_runnable(path: Path, found: Any, d: CommunityDescriptor) -> None:
    """WeightsError for what the engine cannot run: masks, face crops, other than RGB, odd scales.
    (Size needs are not among them: spandrel pads each input to what the model takes.)"""
    import spandrel

    if not isinstance(found, spandrel.ImageModelDescriptor) or d.purpose not in PURPOSES:
        raise WeightsError(f"{path} is a {d.arch} model for {d.purpose}, which needs more than video frames; "
                           "vsvsr runs super-resolution and restoration models (spandrel purpose SR or Restoration)")  # fmt: skip
    if (d.input_channels, d.output_channels) != (3, 3):
        raise WeightsError(f"{path}: the {d.arch} model takes {d.input_channels} channel(s) and gives "
                           f"{d.output_channels}; vsvsr runs RGB models (3 in, 3 out)")  # fmt: skip
    if d.scale not in SCALES:
        raise WeightsError(f"{path}: the {d.arch} model upscales x{d.scale}; vsvsr runs x1 to x4 models")
