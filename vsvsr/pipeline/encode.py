"""Encoding upscaled frames: an ffmpeg subprocess fed float RGB through a pipe, one per segment.

The engine's float32 frames go into the pipe untouched; ffmpeg converts them to the output pixel
format with zimg (the inverse of decode.py's conversion, as the VapourSynth adapter converts
back), applies `--vf-post` and encodes. The colour tags of the source are carried to the encode.
Segments are written as NUT, which keeps exact frame timing for any codec, and joined by mux.py.
"""

from __future__ import annotations

import functools
import queue
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

import ffmpeg
import torch

from ..atomic import commit
from ..colour import Colour
from .decode import PIPE_FORMAT
from .probe import PixelFormat, pixel_format
from .scan import VideoFormat
from .tools import Child, PipelineError, command, run, with_filters

_RGB_TO_GBR = [1, 2, 0]
DEFAULT_CRF = 18  # visually lossless for x264/x265; the point of upscaling is detail
# Encoders that print their own log past ffmpeg's -v, and the option that quiets them.
_QUIET_ENCODER = {"libx265": {"x265-params": "log-level=error"}}


@dataclass(frozen=True)
class EncodeOptions:
    """How upscaled frames are encoded; None means the encoder's own default (crf: DEFAULT_CRF
    where the encoder takes one; pix_fmt: the source's)."""

    codec: str = "libx264"
    crf: float | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    vf_post: str | None = None


@dataclass(frozen=True)
class Encoder:
    """An encoder ffmpeg has: the pixel formats it takes (empty: any) and its option names."""

    name: str
    pix_fmts: tuple[str, ...]
    options: frozenset[str] = field(default_factory=frozenset)


@functools.cache
def find_encoder(name: str) -> Encoder:
    text = run(["ffmpeg", "-hide_banner", "-h", f"encoder={name}"], f"looking up encoder {name}")
    if "is not recognized" in text or not text.strip():
        raise PipelineError(f"ffmpeg has no encoder {name!r}; list them with: ffmpeg -encoders")
    formats = re.search(r"Supported pixel formats: (.+)", text)
    return Encoder(name, tuple(formats.group(1).split()) if formats else (),
                   frozenset(re.findall(r"^\s+-([\w-]+)\s+<", text, re.MULTILINE)))  # fmt: skip


def resolve(options: EncodeOptions, source_pix_fmt: PixelFormat) -> EncodeOptions:
    """`options` with the encoder checked and crf and pix_fmt made concrete; PipelineError naming
    the fix for an unknown encoder or pixel format, or an option the encoder lacks."""
    encoder = find_encoder(options.codec)
    pix_fmt = pixel_format(options.pix_fmt or source_pix_fmt.name).name
    if encoder.pix_fmts and pix_fmt not in encoder.pix_fmts:
        given = "--pix-fmt" if options.pix_fmt else f"the source's pixel format ({pix_fmt})"
        raise PipelineError(f"{options.codec} cannot encode {given}; pass --pix-fmt, one of: {' '.join(encoder.pix_fmts)}")
    for option, value in (("crf", options.crf), ("preset", options.preset)):
        if value is not None and option not in encoder.options:
            raise PipelineError(f"{options.codec} has no -{option} option; leave out --{option}")
    crf = options.crf if options.crf is not None or "crf" not in encoder.options else DEFAULT_CRF
    return replace(options, crf=crf, pix_fmt=pix_fmt)


def encoder_command(options: EncodeOptions, video: VideoFormat, scale: int, colour: Colour, path: Path) -> list[str]:
    """ffmpeg's command from the float RGB pipe (stdin) to `path` (NUT), for resolved `options`."""
    out = pixel_format(options.pix_fmt)
    stream = ffmpeg.input("pipe:0", f="rawvideo", pix_fmt=PIPE_FORMAT, s=f"{video.width * scale}x{video.height * scale}",
                          framerate=str(video.rate))  # fmt: skip
    stream = stream.filter("setsar", r=f"{video.sar.numerator}/{video.sar.denominator}")  # upscaling keeps the pixel shape
    if out.rgb:
        stream = stream.filter("zscale", filter="point", dither="none")
    else:
        stream = stream.filter("zscale", filter="spline36", dither="none", **colour.zscale_options(""))
    stream = stream.filter("format", pix_fmts=out.planar_twin())
    if out.gray:
        # zimg writes gray as the Y plane of YUV; take that plane, rather than let ffmpeg's
        # scaler convert (and re-range) it.
        stream = stream.filter("extractplanes", planes="y")
    # --vf-post sees frames in the output's pixel format and colours, as filters after a decoder
    # would: an RGB float frame handed to a filter that takes only YUV would otherwise be
    # converted by ffmpeg's default scaler, with its own matrix guess.
    stream = with_filters(stream.filter("format", pix_fmts=out.name), options.vf_post, "--vf-post")
    tuning = {"crf": f"{options.crf:g}"} if options.crf is not None else {}
    tuning |= {"preset": options.preset} if options.preset else {}
    spec = stream.output(str(path), f="nut", pix_fmt=out.name, **{"c:v": options.codec}, **tuning,
                         **_QUIET_ENCODER.get(options.codec, {}), **colour.tags(out.rgb)).overwrite_output()  # fmt: skip
    return command(spec)


class SegmentEncoder:
    """Encodes frames to `path` with the ffmpeg command `encoder(file)` (e.g. `encoder_command`
    with its options bound): `write` each frame, then `finish`. The file appears under `path`
    only when the encode succeeded; until then it is `path` + ".partial"."""

    def __init__(self, path: Path, encoder: Callable[[Path], list[str]], queue_frames: int = 4) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        self._child = Child(encoder(self._partial), "encoding", stdin=subprocess.PIPE)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write, name="vsvsr-encode", daemon=True)
        self._writer.start()

    def write(self, frame: torch.Tensor) -> None:
        """Queue one (3, H, W) float32 RGB frame; the writer thread pipes it to ffmpeg."""
        self._put(frame)

    def finish(self) -> Path:
        self._put(None)
        self._writer.join()
        self._child.process.stdin.close()
        self._child.wait()
        commit(self._partial, self.path)
        return self.path

    def close(self) -> None:
        """Stop: kill ffmpeg if it still runs and remove an unfinished file."""
        self._child.close()
        while self._writer.is_alive():  # a writer blocked on the pipe wakes up when ffmpeg dies
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                self._writer.join(0.05)
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, item: torch.Tensor | None) -> None:
        """Queue for the writer; if the writer stopped because ffmpeg failed, raise its message."""
        while self._writer.is_alive():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        self._child.stop()
        raise self._child.error() if self._error is not None else PipelineError("encoding stopped early")

    def _write(self) -> None:
        stdin = self._child.process.stdin
        try:
            while (frame := self._queue.get()) is not None:
                stdin.write(frame[_RGB_TO_GBR].contiguous().numpy().data)
        except (OSError, ValueError) as err:  # ffmpeg died (its message says why) or was killed
            self._error = err
