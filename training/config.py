"""Typed training configuration, read from YAML.

    config = load_config("training/configs/lite_cpu.yaml", ["output_dir=out/x", "phases.0.steps=2000"])

Every section is a frozen dataclass and every YAML key a field of one (the degradation sections
are the degradation classes themselves). An unknown key, a value of the wrong type or a broken
rule is a `ConfigError` naming the key's path
(`phases[1].losses.charbonier: unknown key; ...`). Overrides (`--set key.sub=value`, list items
by index) are applied to the YAML before typing, and their values are parsed as YAML, so
`--set data.hr_crop=96` is an int and `--set train.betas=[0.9,0.99]` a pair. A config is never
changed after it is built: variations are new configs (`dataclasses.replace`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from vsvsr import models, weights

from . import UserError
from .data.degradations import Degradations

SOURCE_KINDS = ("offline", "reds", "vimeo", "frames", "videos", "photos")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("constant", "cosine")
GAN_TYPES = ("vanilla", "relativistic")
LAPLACIAN_KERNELS = ("von_neumann", "moore")
DISTANCES = ("l1", "l2")
PATCH_REDUCTIONS = ("sum", "mean")
HIGHER_IS_BETTER = {"psnr_y": True, "ssim_y": True, "lpips": False}  # metrics that can pick the best export


class ConfigError(UserError):
    """A config that cannot be used; the message names the key and the rule."""


def _require(condition: bool, message: str) -> None:
    """Field rules raise ValueError("<field> must ..."); the loader prefixes the key's path."""
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class GeneratorConfig:
    arch: str = "lite"  # a vsvsr.models name
    # Arch params: overrides of the architecture's constructor defaults, e.g. {num_blocks: 1} for
    # tests; all of them, defaults included, become the weights descriptor's `arch_params`.
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(self.arch in models.names(), f"arch must be one of {models.names()}, not {self.arch!r}")
        try:
            models.arch_params(self.arch, **self.params)
        except TypeError as err:
            raise ValueError(f"params: {err}") from None


@dataclass(frozen=True)
class DiscriminatorConfig:
    num_feat: int = 64  # the U-Net's first width; built only when a phase has an adversarial loss

    def __post_init__(self) -> None:
        _require(self.num_feat >= 1, f"num_feat must be at least 1, not {self.num_feat}")


@dataclass(frozen=True)
class InitConfig:
    """Where the networks start: fine-tuning a shipped model is how most users train."""

    generator: str | None = None  # a vsvsr weights file or shipped model name
    discriminator: str | None = None  # a training checkpoint whose net_d to start from


@dataclass(frozen=True)
class SourceConfig:
    kind: str  # one of SOURCE_KINDS (training.data.layouts)
    path: str | None = None  # the dataset's folder (or one video file); not for "offline"
    names: tuple[str, ...] = ()  # "offline" only: these TRAIN sources (default: all of them)
    weight: float = 1.0  # share of samples drawn from this source, relative to the others

    def __post_init__(self) -> None:
        _require(self.kind in SOURCE_KINDS, f"kind must be one of {SOURCE_KINDS}, not {self.kind!r}")
        _require((self.path is None) == (self.kind == "offline"),
                 "path is required for every kind but 'offline', and not allowed for it")  # fmt: skip
        _require(not self.names or self.kind == "offline", "names is for kind 'offline' only")
        _require(self.weight > 0, f"weight must be positive, not {self.weight}")


@dataclass(frozen=True)
class MotionConfig:
    """The synthetic camera that films still photos (training.data.motion), maxima per frame."""

    pan: float = 1.5  # HR pixels per frame, each axis, drawn in [-pan, pan]
    zoom: float = 0.005  # |log zoom| per frame
    rotation: float = 0.2  # degrees per frame
    reduce: tuple[float, float] = (1.0, 2.0)  # photo pixels per HR pixel (>= 1: clean ground truth)

    def __post_init__(self) -> None:
        _require(min(self.pan, self.zoom, self.rotation) >= 0, "pan, zoom and rotation must not be negative")
        _require(1.0 <= self.reduce[0] <= self.reduce[1], f"reduce must be a range within [1, inf), not {self.reduce}")


@dataclass(frozen=True)
class MovingObject:
    """A textured ellipse cut from another training window that crosses the view fast, in a
    straight line (training.data.motion.cross): the large local motion of real footage (a bike
    passing a wall), which the synthetic camera's sub-pixel pans never show. Where a neighbour
    moved beyond a window model's reach, it must learn to rely on the middle frame."""

    p: float = 0.0  # share of windows that get one (0: off)
    speed: tuple[float, float] = (6.0, 24.0)  # HR pixels per frame, drawn in this range
    size: tuple[float, float] = (0.25, 0.6)  # the ellipse's diameters, as shares of hr_crop

    def __post_init__(self) -> None:
        _require(0 <= self.p <= 1, f"p must be in [0, 1], not {self.p}")
        _require(0 <= self.speed[0] <= self.speed[1], f"speed must be a range of non-negative values, not {self.speed}")
        _require(0 < self.size[0] <= self.size[1] <= 1, f"size must be a range within (0, 1], not {self.size}")


@dataclass(frozen=True)
class DataConfig:
    sources: tuple[SourceConfig, ...] = (SourceConfig("offline"),)
    window: int = 5  # frames per sample (the generator's window)
    hr_crop: int = 128  # HR crop side
    downsample: str = "bicubic"  # how LR inputs are made (vsvsr.resize)
    augment: bool = True  # rot90 by k, flips with p = 0.5, the same for every frame (3.1.1)
    dark_mean: float = 0.05  # a window whose mean RGB is below this is rejected (1.4) ...
    dark_border: float = 0.02  # ... and so is one with a border strip darker than this
    border: int = 4  # width of that strip, HR pixels
    motion: MotionConfig = MotionConfig()
    moving_object: MovingObject = MovingObject()
    # Share of windows cut at a scene edge the way the engine builds them at a cut or a clip's
    # end in a shot shorter than the window (vsvsr.engine.windows; before session 17, in every
    # shot): 1 to window-1 slots on one side repeat the nearest in-shot frame.
    scene_edge: float = 0.0
    degradations: Degradations = Degradations()
    epoch_samples: int = 10000  # samples per epoch, the unit the sampler shuffles and shards
    workers: int = 0  # DataLoader worker processes (0: in the training process)

    def __post_init__(self) -> None:
        _require(len(self.sources) >= 1, "sources must list at least one source")
        _require(self.window >= 1, f"window must be at least 1, not {self.window}")
        _require(self.hr_crop >= 8 and self.hr_crop % 4 == 0,
                 f"hr_crop must be a multiple of 4, at least 8, not {self.hr_crop}")  # fmt: skip
        _require(self.downsample in weights.DOWNSAMPLES, f"downsample must be one of {weights.DOWNSAMPLES}")
        _require(0 <= 2 * self.border < self.hr_crop, f"border must be in [0, hr_crop / 2), not {self.border}")
        _require(self.epoch_samples >= 1 and self.workers >= 0, "epoch_samples must be >= 1 and workers >= 0")
        _require(0 <= self.scene_edge <= 1, f"scene_edge must be in [0, 1], not {self.scene_edge}")


@dataclass(frozen=True)
class CascadeConfig:
    """The patch cascade (1.4, 3.1.4-3.1.6): the tile (LR patch side) of each stage, in order.
    The tiles a model trained on become its weights' `train_tiles` (trainer.trained_tiles), whose
    largest is the engine's default `tile`."""

    x2: tuple[int, ...] = (16, 32)  # x2 stages: the LR crop (hr_crop / 2) in patches of each side
    x4: tuple[int, ...] = (16,)  # x4 stages: the LR crop (hr_crop / 4) in patches, each through G twice
    stride: int = 1  # > 1: only every stride-th patch of a grid (random offset per step) is used
    patch_losses: str = "sum"  # how per-patch losses accumulate: "sum" (the paper) or "mean"
    patch_weight: float = 1.0  # weight of the per-patch terms ...
    assembled_weight: float = 1.0  # ... and of the assembled-image terms

    def __post_init__(self) -> None:
        _require(bool(self.x2 or self.x4), "x2 and x4 must not both be empty")
        _require(all(t >= 2 for t in self.x2 + self.x4), "every patch side must be at least 2")
        _require(self.stride >= 1, f"stride must be at least 1, not {self.stride}")
        _require(self.patch_losses in PATCH_REDUCTIONS, f"patch_losses must be one of {PATCH_REDUCTIONS}")
        _require(min(self.patch_weight, self.assembled_weight) >= 0, "patch_weight and assembled_weight must be >= 0")


@dataclass(frozen=True)
class LossConfig:
    """Weights of the paper's losses (3.1.7; 0 = off) and their settings (training.losses)."""

    mse: float = 0.0
    charbonnier: float = 0.0
    charbonnier_eps: float = 1e-3
    perceptual: float = 0.0  # VGG16 features
    lpips: float = 0.0
    laplacian: float = 0.0
    laplacian_kernel: str = "von_neumann"  # or "moore"
    sobel: float = 0.0
    ricker: float = 0.0
    pyramid: float = 0.0
    pyramid_levels: int = 3
    gradient: float = 0.0
    ssim: float = 0.0
    temporal: float = 0.0  # frame-to-frame changes against the truth's (Charbonnier, charbonnier_eps)
    edge_distance: str = "l1"  # how filtered images are compared (laplacian, sobel, ricker, gradient)
    adversarial: float = 0.0  # > 0 trains the discriminator in this phase
    gan_type: str = "relativistic"  # or "vanilla"

    def __post_init__(self) -> None:
        _require(all(getattr(self, n) >= 0 for n in self.weight_names()), "loss weights must not be negative")
        _require(any(getattr(self, n) > 0 for n in self.weight_names()), "at least one loss weight must be positive")
        _require(self.charbonnier_eps > 0, "charbonnier_eps must be positive")
        _require(self.laplacian_kernel in LAPLACIAN_KERNELS, f"laplacian_kernel must be one of {LAPLACIAN_KERNELS}")
        _require(self.pyramid_levels >= 1, "pyramid_levels must be at least 1")
        _require(self.edge_distance in DISTANCES, f"edge_distance must be one of {DISTANCES}")
        _require(self.gan_type in GAN_TYPES, f"gan_type must be one of {GAN_TYPES}")

    @staticmethod
    def weight_names() -> tuple[str, ...]:
        return ("mse", "charbonnier", "perceptual", "lpips", "laplacian", "sobel", "ricker", "pyramid", "gradient",
                "ssim", "temporal", "adversarial")  # fmt: skip

    def active(self) -> tuple[str, ...]:
        return tuple(n for n in self.weight_names() if getattr(self, n) > 0)


@dataclass(frozen=True)
class PhaseConfig:
    """A stretch of training with its own losses and learning rates, e.g. pixel losses first,
    then a perceptual/adversarial fine-tune (what ESRGAN and the paper call their two stages;
    here a stage is one grid of the patch cascade)."""

    name: str
    steps: int
    losses: LossConfig
    lr_g: float = 2e-4
    lr_d: float = 1e-4
    schedule: str = "cosine"  # "constant" or "cosine" (from lr down to final_lr * lr), after warmup
    warmup: int = 0  # steps of linear ramp from 0
    final_lr: float = 0.1
    cascade: CascadeConfig | None = None  # this phase's cascade, if not the run's
    select: str = "psnr_y"  # the validation metric that picks this phase's best export

    def __post_init__(self) -> None:
        _require(self.name.isidentifier(), f"name must be a simple identifier, not {self.name!r}")
        _require(self.steps >= 1, f"steps must be at least 1, not {self.steps}")
        _require(self.lr_g > 0 and self.lr_d > 0, "lr_g and lr_d must be positive")
        _require(self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        _require(0 <= self.warmup < self.steps, "warmup must be in [0, steps)")
        _require(0 <= self.final_lr <= 1, "final_lr must be in [0, 1]")
        _require(self.select in HIGHER_IS_BETTER, f"select must be one of {tuple(HIGHER_IS_BETTER)}")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    batch_size: int = 4  # windows per step and process
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
    precision: str = "auto"  # "auto": fp16 on CUDA, bf16 on CPUs with native bf16, else fp32
    betas: tuple[float, float] = (0.9, 0.99)  # Adam
    grad_clip: float = 1.0  # max gradient norm per step, for G and D each (3.2); 0: off
    ema_decay: float = 0.999  # EMA of G's weights, what validation scores and exports
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    log_every: int = 10
    tensorboard: bool = True  # also write TensorBoard scalars when the package is installed

    def __post_init__(self) -> None:
        _require(self.batch_size >= 1, f"batch_size must be at least 1, not {self.batch_size}")
        _require(self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, not {self.device!r}")
        _require(self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        _require(self.grad_clip >= 0, "grad_clip must not be negative")
        _require(0 <= self.ema_decay < 1, "ema_decay must be in [0, 1)")
        _require(min(self.checkpoint_every, self.keep_checkpoints, self.log_every) >= 1,
                 "checkpoint_every, keep_checkpoints and log_every must be at least 1")  # fmt: skip


@dataclass(frozen=True)
class ValidationConfig:
    every: int = 1000  # steps; the end of every phase validates too
    data: str = "builtin"  # a built-in evaluation set (builtin, unseen), or a folder of clip folders
    clips: int = 0  # the first N clips (0: all)
    frames: int = 5  # the first N frames of each (>= 2 for tOF/tLP), upscaled in windows of data.window
    crop: int = 0  # HR centre crop side (0: whole frames), for speed
    scale: int = 2

    def __post_init__(self) -> None:
        _require(self.every >= 1 and self.clips >= 0, "every must be >= 1 and clips >= 0")
        _require(self.frames >= 2, f"frames must be at least 2 (tOF and tLP compare frame pairs), not {self.frames}")
        _require(self.crop == 0 or (self.crop >= 48 and self.crop % 4 == 0),
                 f"crop must be 0 or a multiple of 4 of at least 48, not {self.crop}")  # fmt: skip
        _require(self.scale in models.SCALES, f"scale must be one of {models.SCALES}")


@dataclass(frozen=True)
class Config:
    output_dir: str
    phases: tuple[PhaseConfig, ...]
    generator: GeneratorConfig = GeneratorConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    init: InitConfig = InitConfig()
    data: DataConfig = DataConfig()
    cascade: CascadeConfig = CascadeConfig()
    train: TrainConfig = TrainConfig()
    validation: ValidationConfig = ValidationConfig()

    def __post_init__(self) -> None:
        _require(len(self.phases) >= 1, "phases must list at least one phase")
        names = [p.name for p in self.phases]
        _require(len(set(names)) == len(names), f"phases: names must be unique, not {names}")
        for p in self.phases:
            _require(p.losses.temporal == 0 or self.data.window >= 2,
                     f"phases[{p.name}].losses.temporal compares frames of a window: set data.window to 2 or more "
                     f"(it is {self.data.window}) or the temporal weight to 0")  # fmt: skip
        multiple = self.size_multiple
        for where, cascade in [("cascade", self.cascade)] + [
            (f"phases[{i}].cascade", p.cascade) for i, p in enumerate(self.phases) if p.cascade is not None
        ]:
            for scale, tiles in ((2, cascade.x2), (4, cascade.x4)):
                lr_side = self.data.hr_crop // scale
                for tile in tiles:
                    _require(lr_side % tile == 0 and tile % multiple == 0,
                             f"{where}.x{scale}: patch side {tile} must divide the LR crop "
                             f"(data.hr_crop / {scale} = {lr_side}) and be a multiple of the generator's "
                             f"size multiple {multiple}")  # fmt: skip

    @property
    def size_multiple(self) -> int:
        """The generator's input size multiple (its unshuffle factor)."""
        return models.arch_params(self.generator.arch, **self.generator.params)["unshuffle"]

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)

    @property
    def uses_gan(self) -> bool:
        return any(p.losses.adversarial > 0 for p in self.phases)

    @property
    def uses_x4(self) -> bool:
        return any(bool(self.cascade_of(p).x4) for p in self.phases)

    def cascade_of(self, phase: PhaseConfig) -> CascadeConfig:
        return phase.cascade if phase.cascade is not None else self.cascade

    def phase_at(self, step: int) -> tuple[PhaseConfig, int]:
        """The phase that step `step` (0-based) belongs to, and the step's index within it."""
        for phase in self.phases:
            if step < phase.steps:
                return phase, step
            step -= phase.steps
        raise IndexError(f"step beyond the last phase ({self.total_steps} steps)")

    def phase_ends(self) -> set[int]:
        """The step counts at which a phase is complete."""
        ends, total = set(), 0
        for phase in self.phases:
            total += phase.steps
            ends.add(total)
        return ends


def improves(metric: str, new: float, old: float) -> bool:
    """Whether validation metric `metric` got better from `old` to `new`."""
    return new > old if HIGHER_IS_BETTER[metric] else new < old


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """The config in YAML file `path`, with `key.sub=value` overrides applied."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    raw = raw if raw is not None else {}
    for override in overrides:
        raw = apply_override(raw, override)
    return from_dict(raw)


def from_dict(raw: Any) -> Config:
    """A Config from plain data (parsed YAML, or a checkpoint's stored config)."""
    return _build(Config, raw, "")


def to_dict(config: Config) -> dict[str, Any]:
    """Plain data (lists, dicts, scalars) that `from_dict` turns back into the same config."""
    return _plain(dataclasses.asdict(config))


def apply_override(raw: dict[str, Any], override: str) -> dict[str, Any]:
    """A copy of `raw` with one `a.b.0.c=value` override applied (value parsed as YAML)."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {override!r}: expected key.sub=value")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {key}: value is not valid YAML ({err})") from None
    return _set_path(raw, key.split("."), value, key)


def _set_path(node: Any, parts: list[str], value: Any, key: str) -> Any:
    """`node` copied with the value at `parts` replaced (the raw data is never changed in place)."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= len(node):
            raise ConfigError(f"--set {key}: {head!r} is not an index of a list of {len(node)} items")
        copy = list(node)
        copy[int(head)] = _set_path(node[int(head)], rest, value, key)
        return copy
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise ConfigError(f"--set {key}: {head!r} is inside a value that is not a mapping")
    return {**node, head: _set_path(node.get(head), rest, value, key)}


def _build(cls: type, raw: Any, where: str) -> Any:
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping with keys {_field_names(cls)}, not {raw!r}")
    hints = typing.get_type_hints(cls)
    known = _field_names(cls)
    for key in raw:
        if key not in known:
            raise ConfigError(f"{_join(where, key)}: unknown key; known keys: {', '.join(known)}")
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]  # fmt: skip
    missing = [name for name in required if name not in raw]
    if missing:
        raise ConfigError(f"{where or 'config'}: missing required key(s) {', '.join(missing)}")
    values = {key: _coerce(hints[key], value, _join(where, key)) for key, value in raw.items()}
    try:
        return cls(**values)
    except ValueError as err:
        raise ConfigError(f"{where or 'config'}: {err}") from None


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where} must be a list of {len(args)} values, not {value!r}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, not {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float:
        # YAML 1.1 reads 1e-4 (no dot) as a string; numbers are what such a key means.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where} must be a number, not {value!r}")
    if tp in (int, bool, str):
        if type(value) is not tp:
            raise ConfigError(f"{where} must be {_TYPE_WORDS[tp]}, not {value!r}")
        return value
    raise TypeError(f"config type {tp} at {where} is not supported")  # a bug in this module, not the YAML


_TYPE_WORDS = {int: "an integer", bool: "true or false", str: "a string"}


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
