"""The frames the engine will see, before any is upscaled: their size, rate, count and scene cuts.

Two cheap passes over the input, after `--vf-pre` (which may change size, rate and count):

1. one frame through ffmpeg's framecrc muxer, whose header names the filtered stream's size,
   sample aspect ratio and time base (1/frame rate: the exact fraction, e.g. 1001/24000);
2. every frame, scaled down, through ffmpeg's `scdet` filter, printing each frame's timestamp
   (in microseconds) and scene score; where a decoder may seek (seek.py), the same pass also
   prints the timestamps of the keyframes, after which the segments' decoders may start.

A raw pipe carries no timestamps, so a stream whose frames are not evenly spaced is refused with
the command that makes it constant-rate. Spacing is measured from the first frame, which may
start anywhere (after AAC's priming delay, say), on timestamps a container may have rounded
(Matroska keeps milliseconds: 41 or 42 ms apart at 24 fps), so each frame's position is rounded
to the nearest frame time only after subtracting the first frame's.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from .probe import Source
from .seek import Seek, seekable
from .tools import PipelineError, command, first_error, run, run_with_errors, span, with_filters

SCAN_HEIGHT = 180  # scene scores need only a thumbnail
_MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class VideoFormat:
    """The frames entering the engine: size, exact rate and pixel shape."""

    width: int
    height: int
    rate: Fraction  # frames per second, exact
    sar: Fraction  # sample (pixel) aspect ratio


@dataclass(frozen=True)
class Scan:
    frames: int
    cuts: tuple[int, ...]  # first frames of new scenes
    damage: str | None = None  # the first error ffmpeg met while reading (a truncated file): None if none
    seeks: tuple[Seek, ...] = ()  # where a decoder may start (seek.py); () where it may not

    def to_json(self) -> dict:
        return {"frames": self.frames, "cuts": list(self.cuts), "damage": self.damage,
                "seeks": [list(s) for s in self.seeks]}  # fmt: skip

    @classmethod
    def from_json(cls, raw: dict) -> Scan:
        return cls(raw["frames"], tuple(raw["cuts"]), raw.get("damage"), tuple(tuple(s) for s in raw.get("seeks", ())))


def video_stream(source: Source, start: str | None, end: str | None, vf_pre: str | None) -> Any:
    """`source`'s video from `start` to `end` through `vf_pre` (an ffmpeg-python stream)."""
    return with_filters(ffmpeg.input(str(source.path), **span(start, end))[str(source.video.index)], vf_pre, "--vf-pre")


def video_format(source: Source, vf_pre: str | None, start: str | None, end: str | None) -> VideoFormat:
    """Pass 1: the size, rate and pixel shape of `source`'s video after `vf_pre`."""
    spec = video_stream(source, start, end, vf_pre).output("-", f="framecrc", fps_mode="passthrough", **{"frames:v": 1})
    text = run(command(spec), "reading the first frame" + (" through --vf-pre" if vf_pre else ""))
    fields = dict(re.findall(r"^#(\w+) 0: (.+)$", text, re.MULTILINE))
    if "dimensions" not in fields:
        raise PipelineError(f"{source.path} decodes to no video frames")
    width, height = map(int, fields["dimensions"].split("x"))
    sar = Fraction(fields.get("sar", "0/1"))
    return VideoFormat(width, height, 1 / Fraction(fields["tb"]), sar or Fraction(1))  # 0/1: unknown, square


def scan(source: Source, video: VideoFormat, vf_pre: str | None, start: str | None, end: str | None,
         threshold: float) -> Scan:  # fmt: skip
    """Pass 2: frame count, scene cuts (scdet score >= `threshold` percent; 0 finds none) and, where
    a decoder may seek, keyframes of `source`'s video after `vf_pre`, between `start` and `end`,
    and the first error met reading it. Refuses a variable frame rate."""
    frames, key_times, damage = _frame_scores(video_stream(source, start, end, vf_pre), seekable(source, vf_pre))
    if not frames:
        raise PipelineError(f"{source.path} has no video frames" + (" in the --start/--end range" if start or end else ""))
    first = frames[0][0]
    positions = [round((pts - first) * video.rate / _MICROSECONDS) for pts, _ in frames]
    steps = {b - a for a, b in itertools.pairwise(positions)}
    # (A damaged file loses frames where it is damaged; the damage, not the rate, is its problem.)
    if steps - {1} and damage is None:
        raise PipelineError(
            f"{source.path} has a variable frame rate (frames {min(steps)} to {max(steps)} frame times apart at "
            f"{video.rate} fps); convert it to a constant rate first, e.g. ffmpeg -i {source.path} -vf fps={video.rate} "
            "-c:a copy constant.mkv"
        )
    cuts = tuple(n for n, (_, score) in enumerate(frames) if n > 0 and threshold > 0 and score >= threshold)
    # The frame after each keyframe but the first, and the time halfway between the two (a
    # damaged file's are not trusted).
    seeks = tuple((n + 1, (pts + after) // 2) for n, ((pts, _), (after, _)) in enumerate(itertools.pairwise(frames))
                  if n > 0 and pts in key_times and damage is None)  # fmt: skip
    return Scan(len(frames), cuts, damage, seeks)


def _frame_scores(stream: Any, keyframes: bool) -> tuple[list[tuple[int, float]], set[int], str | None]:
    """(timestamp in microseconds, scene score) of every frame of `stream`; the timestamps of its
    keyframes (seek.py), if `keyframes`, else none; and the first error ffmpeg reported while
    decoding (None: a clean read)."""
    stream = stream.filter("settb", expr="AVTB")  # (ffmpeg's microsecond time base)
    with tempfile.TemporaryDirectory(prefix="vsvsr-scan-") as tmp:
        keys_file = Path(tmp, "keys.txt")
        outputs = []
        if keyframes:
            split = stream.split()
            stream = split[0]
            outputs.append(_keyframes(split[1], keys_file).output("-", f="null", fps_mode="passthrough"))
        scores = (
            stream.filter("scale", w=-2, h=f"min(ih,{SCAN_HEIGHT})")
            .filter("scdet")
            .filter("metadata", mode="print", file="pipe:1")
        )
        spec = ffmpeg.merge_outputs(scores.output("-", f="null", fps_mode="passthrough"), *outputs)
        text, errors = run_with_errors(command(spec), "scanning for scene cuts")
        keys = keys_file.read_text() if keyframes else ""
    key_times = {int(pts) for pts in re.findall(r"^frame:\d+\s+pts:(-?\d+)", keys, re.MULTILINE)}
    frames: list[tuple[int, float]] = []
    for line in text.splitlines():
        if line.startswith("frame:"):
            pts = re.search(r"pts:(\S+)", line).group(1)
            if not pts.lstrip("-").isdigit():
                raise PipelineError("the input's video frames carry no timestamps; remux it first (ffmpeg -i IN -c copy OUT.mkv)")
            frames.append((int(pts), 0.0))
        elif line.startswith("lavfi.scd.score=") and frames:
            frames[-1] = (frames[-1][0], float(line.split("=", 1)[1]))
    # The null muxer's own complaints (timestamps it rounds onto its time base) say nothing
    # about the input; what the demuxers and decoders report does.
    reading = [line for line in errors.splitlines() if line.strip() and not line.startswith("[null @ ")]
    return frames, key_times, first_error("\n".join(reading)) if reading else None


def _keyframes(stream: Any, path: Path) -> Any:
    """`stream`'s keyframes (seek.py: coded as I-frames too), their timestamps printed to `path`."""
    return (
        stream.filter("select", expr="key*eq(pict_type,PICT_TYPE_I)")
        .filter("metadata", mode="add", key="vsvsr.key", value="1")  # (print leaves out frames without metadata)
        .filter("metadata", mode="print", file=str(path))
    )
