"""Engine settings: what the user may set, and the concrete values they resolve to.

A `Settings` holds what the user passed (None = default); `resolve` turns it into `Resolved`
with every value concrete, using the network's descriptor (scale, window, inference tile,
precisions) and the machine (device, precision). Both are frozen: settings travel and key
caches, never mutate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UsageError
from .network import NetworkSpec
from .windows import MODES

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Bytes of one feature plane per generator call on CPU (batch x tile^2 x element size). A
# call's activations grow with it, and past this they outgrow the caches: through vsr.SRGAN
# (bench/plugin.py --batches, lite, 64 px tiles, 2 threads; README, Benchmarks) fp32 ran 1.18x
# (session 16) and 1.09x (session 17) as long per pixel in calls of 16 tiles as in calls of 8,
# while in bf16, half the bytes, 16 ran within 3% of 8 and then 6% faster. On CUDA the batch
# stays the 16 it always was (no GPU run in bench/ has measured another).
CPU_BATCH_BYTES = 8 * 64 * 64 * 4
CUDA_BATCH = 16
MAX_PASSES = 2  # the network once, or again on its own output (our x4: the paper's cascade)
MIN_TILE = 8


@dataclass(frozen=True)
class Settings:
    scale: int | None = None  # output over input size; default: the network's own (2 for ours)
    window: int | None = None  # frames per window; default: what the model was trained with
    mode: str = "context"  # window layout, see windows.py
    tile: int | None = None  # LR tile side; default: the model's inference tile
    overlap: int | None = None  # LR pixels shared by neighbouring tiles; default: tile // 16, at least 2
    device: str | None = None  # "cpu", "cuda", "cuda:1"; default: CUDA when available
    precision: str | None = None  # "fp32", "fp16", "bf16"; default: see default_precision
    batch: int | None = None  # tiles per generator call (batches never mix windows); default: default_batch


@dataclass(frozen=True)
class Resolved:
    scale: int
    window: int
    mode: str
    tile: int
    overlap: int
    device: torch.device
    precision: str
    batch: int
    channels_last: bool

    @property
    def dtype(self) -> torch.dtype:
        return PRECISIONS[self.precision]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic (AVX512-BF16 or AMX). Read from the CPU's flags,
    never measured, so the choice (and so the output) is the same under any load."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def default_precision(device: torch.device) -> str:
    """fp16 on CUDA; on CPU bf16 where the CPU computes it natively, fp32 otherwise."""
    if device.type == "cuda":
        return "fp16"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def default_batch(device: torch.device, tile: int, precision: str) -> int:
    """Tiles per generator call: 16 on CUDA; on CPU as many as fit CPU_BATCH_BYTES (fp32: 8 of
    64 px, bf16: 16), at least 1 and at most 16."""
    if device.type == "cuda":
        return CUDA_BATCH
    element = PRECISIONS[precision].itemsize
    return max(1, min(CUDA_BATCH, CPU_BATCH_BYTES // (tile * tile * element)))


def resolve_device(name: str | None) -> torch.device:
    """The torch device `name` names (None: CUDA when available, else the CPU). UsageError naming
    the fix for anything but an existing CPU or CUDA device: torch's own message lists a dozen
    backends this engine does not run on."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UsageError(f"device must be cpu, cuda or cuda:N (N: the GPU's number), not {name!r}; pass one of those "
                         "(cpu works everywhere)")  # fmt: skip
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("device is 'cuda' but torch sees no CUDA device; use device='cpu'")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(f"device must be a GPU torch sees, not {name!r}: it sees {torch.cuda.device_count()}; "
                         f"pass cuda:0 to cuda:{torch.cuda.device_count() - 1}")  # fmt: skip
    return device


def scales_reached(network_scale: int) -> tuple[int, ...]:
    """The scales a network of `network_scale` reaches: its own once, then repeated on its own
    output (x2: 2 and 4); an x1 network only 1."""
    return tuple(network_scale**k for k in range(1, (MAX_PASSES if network_scale > 1 else 1) + 1))


def passes(scale: int, network_scale: int) -> int:
    """How many times a network of `network_scale` runs to upscale by `scale`. UsageError naming
    the scales it reaches."""
    reached = scales_reached(network_scale)
    if scale not in reached:
        runs = f"; {reached[-1]} runs it twice" if len(reached) > 1 else ""
        raise UsageError(f"scale must be {' or '.join(map(str, reached))}, not {scale}: the model is x{network_scale}"
                         f"{runs}; for other sizes resize the result")  # fmt: skip
    return reached.index(scale) + 1


def resolve(settings: Settings, network: NetworkSpec) -> Resolved:
    """Concrete settings for `network` (its scale, window, inference tile and precisions).
    Raises UsageError with the rule broken and the fix."""
    scale = settings.scale if settings.scale is not None else network.scale
    passes(scale, network.scale)
    if settings.mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {settings.mode!r}")
    window = settings.window if settings.window is not None else network.window
    if not network.temporal and window != 1:
        raise UsageError(f"window must be 1 for a single-image model (it upscales each frame on its own), not {window}; "
                         "leave window out")  # fmt: skip
    if window < 1:
        raise UsageError(f"window must be at least 1 frame, not {window}")
    tile = settings.tile if settings.tile is not None else network.inference_tile
    if tile < max(MIN_TILE, network.size_multiple):
        raise UsageError(f"tile must be at least {max(MIN_TILE, network.size_multiple)} pixels, not {tile}")
    overlap = settings.overlap if settings.overlap is not None else max(2, tile // 16)
    if not 0 <= overlap <= tile // 4:
        raise UsageError(f"overlap must be between 0 and tile / 4 ({tile // 4}), not {overlap}")
    if settings.batch is not None and settings.batch < 1:
        raise UsageError(f"batch must be at least 1, not {settings.batch}")

    device = resolve_device(settings.device)
    # A network that computes wrongly in the machine's default (spandrel marks some) gets fp32.
    precision = settings.precision or next(p for p in (default_precision(device), "fp32") if p in network.precisions)
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision not in network.precisions:
        raise UsageError(f"precision {precision} is not supported by this model (it computes wrongly in it); "
                         f"use {' or '.join(network.precisions)}")  # fmt: skip
    # On CPU, oneDNN runs these convolutions faster in NCHW, fp32 and bf16 alike (bench/models.py:
    # channels-last was 10-40% slower); on CUDA, channels-last is the layout cuDNN's half-precision
    # (tensor core) kernels take, by NVIDIA's guidance: no GPU run in bench/ has measured it.
    channels_last = device.type == "cuda"
    batch = settings.batch if settings.batch is not None else default_batch(device, tile, precision)
    return Resolved(scale, window, settings.mode, tile, overlap, device, precision,
                    batch, channels_last)  # fmt: skip

