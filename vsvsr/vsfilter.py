"""The VapourSynth side of vsr.SRGAN: formats in and out, and frames to and from the engine.

The engine sees float32 RGB. Any other format is converted with the clip's own colour props
(resolution-based defaults where absent), upscaled, and converted back to the input's format
at the new size. `_Transfer` and `_Primaries` pass through untouched: the model learned
gamma-encoded values, so there is no linearisation and no gamut mapping.

Frames reach the engine without `get_frame` inside a callback (which can deadlock VapourSynth's
thread pool): for output frame n, `std.FrameEval` looks at the props of the frames around n for
scene cuts, works out which source frames the windows producing n read, and returns a one-frame
`std.ModifyFrame` over exactly those frames; VapourSynth fetches them in parallel and the
selector hands them to the engine.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import vapoursynth as vs

from . import networks, weights
from .colour import Colour
from .engine import ClipServer, Engine, Settings
from .weights import DEFAULT_MODEL, WeightsError

MIN_SIZE = 8  # pixels per side; below this a frame holds too little for a 3x3 network


def colour_of(clip: vs.VideoNode, props: vs.FrameProps) -> Colour:
    """The clip's colour props (from its first frame), else what its resolution implies."""
    return Colour.from_props(props).resolved(clip.width, clip.height)


def check_clip(clip: vs.VideoNode, props: vs.FrameProps) -> None:
    """Raise vs.Error, naming the fix, for clips the filter cannot take."""
    if not isinstance(clip, vs.VideoNode):
        raise vs.Error("vsr.SRGAN: clip must be a video clip")
    if clip.format is None or clip.format.id == vs.NONE:
        raise vs.Error("vsr.SRGAN: clip must have a constant format; convert it first, e.g. with resize.Bicubic(format=...)")
    if clip.width == 0 or clip.height == 0:
        raise vs.Error("vsr.SRGAN: clip must have a constant size; resize it to one size first")
    if clip.format.color_family not in (vs.RGB, vs.YUV, vs.GRAY):
        raise vs.Error(f"vsr.SRGAN: cannot convert {clip.format.name} to RGB; pass an RGB, YUV or GRAY clip")
    if clip.format.sample_type == vs.INTEGER and clip.format.bits_per_sample > 16:
        raise vs.Error(f"vsr.SRGAN: {clip.format.name} has more than 16 bits per sample; convert to RGBS first")
    if clip.width < MIN_SIZE or clip.height < MIN_SIZE:
        raise vs.Error(f"vsr.SRGAN: frames must be at least {MIN_SIZE}x{MIN_SIZE}, not {clip.width}x{clip.height}; "
                       "pad them first, e.g. with std.AddBorders")  # fmt: skip
    check_progressive(props, 0)


def check_progressive(props: vs.FrameProps, n: int) -> None:
    """Raise vs.Error if frame n's props mark it interlaced. Checked on frame 0 when the filter
    is created and on every frame a window reads, since _FieldBased may change mid-clip."""
    if props.get("_FieldBased", 0) in (1, 2):
        raise vs.Error(f"vsr.SRGAN: clip is interlaced (_FieldBased is set on frame {n}); deinterlace it first, "
                       "e.g. clip = core.bwdif.Bwdif(clip, field=1), or set _FieldBased=0 if it is progressive")  # fmt: skip


def check_integers(**values: object) -> None:
    """Raise vs.Error for an integer argument given as another type (scale="2" from a script
    that read its arguments as text, or 2.0): name the type, since '2' and 2 print alike."""
    for name, value in values.items():
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            continue
        rule = "the integer 2 or 4" if name == "scale" else "an integer"
        given = f"the string {value!r}" if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
        whole = _as_whole_number(value)
        fix = f"pass {name}={whole}" if whole is not None else f"pass {name} as a whole number, without quotes"
        raise vs.Error(f"vsr.SRGAN: {name} must be {rule}, not {given}; {fix}")


def _as_whole_number(value: object) -> int | None:
    """The integer a mistyped argument meant ("2" or 2.0 -> 2), if it plainly meant one."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def to_rgbs(clip: vs.VideoNode, colour: Colour) -> vs.VideoNode:
    if clip.format.id == vs.RGBS:
        return clip
    if clip.format.color_family == vs.RGB:
        return clip.resize.Point(format=vs.RGBS)
    return clip.resize.Spline36(format=vs.RGBS, **colour.resize_args("_in"))


def from_rgbs(rgbs: vs.VideoNode, like: vs.VideoNode, colour: Colour) -> vs.VideoNode:
    """RGBS back to `like`'s format (at rgbs' size)."""
    fmt = like.format
    if fmt.id == vs.RGBS:
        return rgbs
    if fmt.color_family == vs.RGB:
        return rgbs.resize.Point(format=fmt.id)
    return rgbs.resize.Spline36(format=fmt.id, **colour.resize_args(""))


def upscale_rgbs(rgbs: vs.VideoNode, props_clip: vs.VideoNode, engine: Engine) -> vs.VideoNode:
    """RGBS clip -> RGBS clip upscaled by the engine's scale; frame props kept from the input.

    `props_clip` (the clip as the user passed it) supplies the scene-cut props
    (`_SceneChangePrev` / `_SceneChangeNext`, as scd.Detect sets them)."""
    scale = engine.settings.scale
    length = rgbs.num_frames
    server = engine.clip(length)
    blank = rgbs.std.BlankClip(width=rgbs.width * scale, height=rgbs.height * scale, length=1, keep=True)
    neighbours = [shifted(props_clip, d) for d in range(-server.reach, server.reach + 1)]

    def frame_n(n: int, f: list[vs.VideoFrame]) -> vs.VideoNode:
        cuts = cuts_near(n, server.reach, f, length)
        needed = server.needs(n, cuts)
        selector = _Selector(server, cuts, n, needed)
        one = blank.std.ModifyFrame(clips=[blank] + [rgbs[i] for i in needed], selector=selector)
        return one.std.Loop(times=0)  # frame n of an endless repeat of that one frame

    return blank.std.Loop(times=length).std.FrameEval(frame_n, prop_src=neighbours)


@dataclass(frozen=True)
class _Selector:
    server: ClipServer
    cuts: list[int]
    n: int
    needed: tuple[int, ...]

    def __call__(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        template, frames = f[0], f[1:]
        loaded = dict(zip(self.needed, frames))
        for i, frame in loaded.items():
            check_progressive(frame.props, i)
        out = self.server.frame(self.n, lambda i: frame_to_tensor(loaded[i]), self.cuts)
        return write_frame(template, out, loaded[self.n].props)


def frame_to_tensor(frame: vs.VideoFrame) -> torch.Tensor:
    """RGBS frame -> (3, h, w) float32 (a copy: VapourSynth owns the frame's memory)."""
    return torch.from_numpy(np.stack([np.asarray(frame[p]) for p in range(3)]))


def write_frame(template: vs.VideoFrame, rgb: torch.Tensor, props: vs.FrameProps) -> vs.VideoFrame:
    """A copy of the RGBS `template` holding `rgb` (3, h, w) and exactly the props `props`."""
    fout = template.copy()
    fout.props.clear()
    fout.props.update(props)
    for p in range(3):
        np.copyto(np.asarray(fout[p]), rgb[p].numpy())
    return fout


def shifted(clip: vs.VideoNode, d: int) -> vs.VideoNode:
    """clip whose frame n is clip[n + d], clamped to the clip's ends."""
    if d == 0:
        return clip
    if d > 0:
        return clip[d:] + clip[-1] * d if d < clip.num_frames else clip[-1] * clip.num_frames
    d = -d
    return clip[0] * d + clip[:-d] if d < clip.num_frames else clip[0] * clip.num_frames


def cuts_near(n: int, reach: int, frames: list[vs.VideoFrame], length: int) -> list[int]:
    """Scene starts within `reach` of n, from the props of frames n - reach .. n + reach."""
    cuts = set()
    for d, frame in zip(range(-reach, reach + 1), frames):
        i = n + d
        if not 0 <= i < length:
            continue
        if frame.props.get("_SceneChangePrev", 0) == 1:
            cuts.add(i)
        if frame.props.get("_SceneChangeNext", 0) == 1:
            cuts.add(i + 1)
    return sorted(cuts)


def default_model() -> str:
    """The best shipped model; a clear error while none ships."""
    if DEFAULT_MODEL not in weights.shipped():
        raise WeightsError(
            "no trained model ships yet; pass weights=<file.safetensors> written by vsvsr.weights.save "
            "(train one with: python -m training train --config training/configs/lite_cpu.yaml)"
        )
    return DEFAULT_MODEL


def engine_for(name_or_path: str, settings: Settings, num_streams: int) -> Engine:
    path = weights.resolve(name_or_path)
    return _cached_engine(str(path.resolve()), path.stat().st_mtime_ns, settings, num_streams)


@functools.lru_cache(maxsize=4)
def _cached_engine(path: str, mtime_ns: int, settings: Settings, num_streams: int) -> Engine:
    """Engines keyed on everything that changes their output: file (and its version), settings."""
    return Engine(networks.load(path), settings, num_streams)
