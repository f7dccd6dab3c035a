"""What an input file holds (ffprobe): its video stream's format and colour, and its other streams.

Colour (vsvsr/colour.py, shared with the VapourSynth adapter): the stream's own tags, else what
its resolution implies; the conversion to and from RGB goes through zimg (ffmpeg's zscale
filter, the library behind VapourSynth's resize), so both adapters feed the engine the same RGB
for the same decoded frames.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from ..colour import Colour
from .tools import PipelineError, ffprobe_json

_YUV_SAMPLING = {(1, 1): "420", (1, 0): "422", (0, 0): "444", (2, 0): "411", (2, 2): "410", (0, 1): "440"}


@dataclass(frozen=True)
class PixelFormat:
    name: str
    rgb: bool
    components: int
    depth: int  # bits per sample
    chroma: tuple[int, int]  # log2 chroma subsampling (w, h)

    @property
    def gray(self) -> bool:
        return self.components in (1, 2)  # (2: gray with alpha)

    def planar_twin(self) -> str:
        """The planar format with the same sampling and depth, which zimg (ffmpeg 5.1's zscale)
        reads and writes: nv12 -> yuv420p, p010le -> yuv420p10le, rgb24 -> gbrp, gray ->
        yuv444p (whose Y plane is the gray). Converting between twins only moves samples, so
        ffmpeg's own scaler does it losslessly, where it would otherwise convert colours with
        its own matrix guess."""
        bits = "" if self.depth == 8 else f"{self.depth}le"
        if self.rgb:
            twin = f"gbrp{bits}"
        else:
            twin = f"yuv{_YUV_SAMPLING.get(self.chroma, '444')}p{bits}"
        return twin if twin in _pixel_formats() else self.name


@functools.cache
def _pixel_formats() -> dict[str, PixelFormat]:
    formats = {}
    for p in ffprobe_json(["-show_pixel_formats"], "listing ffmpeg's pixel formats")["pixel_formats"]:
        depth = p.get("components", [{}])[0].get("bit_depth", 8)  # hardware formats list no components
        chroma = (p.get("log2_chroma_w", 0), p.get("log2_chroma_h", 0))
        formats[p["name"]] = PixelFormat(p["name"], bool(p["flags"]["rgb"]), p["nb_components"], depth, chroma)
    return formats


def pixel_format(name: str) -> PixelFormat:
    """ffmpeg's description of pixel format `name`; PipelineError for a name it doesn't know."""
    formats = _pixel_formats()
    if name not in formats:
        raise PipelineError(f"unknown pixel format {name!r}; list them with: ffmpeg -pix_fmts")
    return formats[name]


@dataclass(frozen=True)
class Stream:
    index: int
    kind: str  # ffprobe's codec_type: "video", "audio", "subtitle", "attachment", "data"
    codec: str
    title: str | None = None  # the "title" tag: a track's name in a player's menu


@dataclass(frozen=True)
class Source:
    """An input file's video stream (the one we upscale) and the streams around it."""

    path: Path
    video: Stream
    width: int
    height: int
    pix_fmt: PixelFormat
    field_order: str  # "progressive", "tt", "bb", "tb", "bt", or "unknown"
    colour: Colour
    streams: tuple[Stream, ...]
    video_delay: float  # seconds from the file's start to its first video frame (A/V sync)
    hdr_side_data: tuple[str, ...] = ()  # HDR10 metadata the output does not carry (see hdr_side_data)
    container: str = ""  # ffprobe's format_name, e.g. "matroska,webm"

    @property
    def interlaced(self) -> bool:
        return self.field_order in ("tt", "bb", "tb", "bt")


def probe(path: Path) -> Source:
    """Read `path`'s streams; PipelineError for a missing, unreadable or video-less file."""
    if not path.is_file():
        raise PipelineError(f"cannot read {path}: no such file")
    if not os.access(path, os.R_OK):
        raise PipelineError(f"cannot read {path}: permission denied")
    try:
        info = ffprobe_json(["-show_streams", "-show_format", str(path)], "ffprobe")
    except PipelineError as err:
        raise PipelineError(f"cannot read {path}: {str(err).removeprefix(f'ffprobe failed: {path}: ')}") from None
    streams = tuple(Stream(int(s["index"]), s.get("codec_type", "data"), s.get("codec_name", "none"),
                           s.get("tags", {}).get("title")) for s in info.get("streams", []))  # fmt: skip
    # Cover art is a video stream holding one picture; the video is the first other one.
    videos = [s for s in info.get("streams", [])
              if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]  # fmt: skip
    if not videos:
        raise PipelineError(f"{path} has no video stream")
    v = videos[0]
    if "pix_fmt" not in v or "width" not in v:
        raise PipelineError(f"cannot decode {path}'s video ({v.get('codec_name', 'unknown codec')}): this ffmpeg has no decoder for it")
    file_start = float(info.get("format", {}).get("start_time", 0) or 0)
    return Source(
        path=path,
        video=next(s for s in streams if s.index == int(v["index"])),
        width=int(v["width"]),
        height=int(v["height"]),
        pix_fmt=pixel_format(v["pix_fmt"]),
        field_order=v.get("field_order", "unknown"),
        colour=Colour.from_ffprobe(v),
        streams=streams,
        video_delay=max(0.0, float(v.get("start_time", file_start) or file_start) - file_start),
        hdr_side_data=hdr_side_data(path, v),
        container=info.get("format", {}).get("format_name", ""),
    )


_HDR_SIDE_DATA = ("Mastering display metadata", "Content light level metadata")


def hdr_side_data(path: Path, video: dict) -> tuple[str, ...]:
    """The HDR10 side data (mastering display, content light level) of `path`'s video, in its
    stream header or its first frame's SEI. The upscaled video is a new encode, and ffmpeg 5.1's
    encoders take no such side data from frames, so the caller warns that it is dropped."""
    found = [d.get("side_data_type") for d in video.get("side_data_list", [])]
    if not any(t in _HDR_SIDE_DATA for t in found):
        info = ffprobe_json(["-select_streams", str(video["index"]), "-read_intervals", "%+#1", "-show_entries",
                             "frame=side_data_list:side_data=side_data_type", str(path)], "reading the first frame's side data")  # fmt: skip
        # (Asking for side data types lists packets too: ffprobe then mixes both in one list.)
        frames = [f for f in info.get("frames", info.get("packets_and_frames", [])) if f.get("type", "frame") == "frame"]
        found = [d.get("side_data_type") for f in frames[:1] for d in f.get("side_data_list", [])]
    return tuple(t for t in _HDR_SIDE_DATA if t in found)

