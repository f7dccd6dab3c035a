"""Joining finished segments losslessly and carrying the input's other streams into the output.

Segments are concatenated with ffmpeg's concat demuxer and copied (no re-encode). Each one's
duration is given exactly (frames / rate), so the joined stream keeps the constant rate even
where a segment's first frame is delayed by B-frame reordering. Audio, subtitles, attachments,
chapters and metadata are copied from the input where the output container takes them; text
subtitles are converted to the container's own format where it takes no other; the rest is left
out with a warning that says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..colour import Colour
from .probe import Source, Stream
from .tools import FFMPEG_QUIET, input_args, option_args, run

log = logging.getLogger(__name__)

_TEXT_SUBTITLES = {"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"}


@dataclass(frozen=True)
class Container:
    """What a container family takes: the subtitle codec text subtitles become, the codecs it
    copies (None: any) per stream kind."""

    name: str
    text_subtitles: str | None  # codec for text subtitles; None: they are left out
    audio: frozenset[str] | None = None
    subtitles: frozenset[str] | None = None  # besides text_subtitles
    attachments: bool = False
    title_tag: str = "title"  # the tag that names a track (ffmpeg's MP4 muxer drops "title")


_MKV = Container("Matroska", "srt", attachments=True, subtitles=frozenset(
    {"subrip", "ass", "ssa", "webvtt", "hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle", "arib_caption"}))  # fmt: skip
_MP4 = Container("MP4", "mov_text", subtitles=frozenset({"mov_text", "dvd_subtitle"}), title_tag="handler_name")
_WEBM = Container("WebM", "webvtt", audio=frozenset({"opus", "vorbis"}), subtitles=frozenset({"webvtt"}))
_OTHER = Container("this", None, subtitles=frozenset())
_CONTAINERS = {".mkv": _MKV, ".mka": _MKV, ".mp4": _MP4, ".m4v": _MP4, ".mov": _MP4, ".webm": _WEBM}


def container_for(output: Path) -> Container:
    return _CONTAINERS.get(output.suffix.lower(), _OTHER)


def plan_stream(stream: Stream, container: Container) -> str | None:
    """How `stream` goes into `container`: "copy", a codec to convert to, or None (left out,
    with a warning)."""
    kind, codec = stream.kind, stream.codec
    if kind == "audio" and (container.audio is None or codec in container.audio):
        return "copy"
    if kind == "subtitle":
        if container.subtitles is None or codec in container.subtitles:
            return "copy"
        if codec in _TEXT_SUBTITLES and container.text_subtitles:
            return container.text_subtitles
    if kind == "attachment" and container.attachments:
        return "copy"
    log.warning("%s output cannot hold the input's %s stream #%d (%s): left out", container.name, kind, stream.index, codec)
    return None


def concat_list(segments: list[tuple[Path, int]], rate: Fraction) -> str:
    """The concat demuxer's script for (file, frame count) pairs."""
    lines = []
    for path, frames in segments:
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {float(frames / rate):.6f}"]
    return "\n".join(lines) + "\n"


def track_titles(source: Source, streams: list[tuple[int, str]], output: Path) -> list[str]:
    """ffmpeg options that name each carried track by its input title where `output`'s
    container keeps track names in another tag than "title"."""
    tag = container_for(output).title_tag
    titles = {s.index: s.title for s in source.streams if s.title}
    if tag == "title":
        return []  # (copied with the other tags)
    return [arg for out, (index, _) in enumerate(streams, start=1) if index in titles
            for arg in (f"-metadata:s:{out}", f"{tag}={titles[index]}")]  # fmt: skip


def plan_streams(source: Source, output: Path) -> list[tuple[int, str]]:
    """(input stream index, "copy" or codec) for each of `source`'s streams besides its video
    that `output`'s container takes; warns about each one left out."""
    container = container_for(output)
    plan = []
    for stream in source.streams:
        if stream.index == source.video.index:
            continue
        if stream.kind == "video":
            log.warning("the input's extra video stream #%d (%s) is left out", stream.index, stream.codec)
            continue
        codec = plan_stream(stream, container)
        if codec is not None:
            plan.append((stream.index, codec))
    return plan


def mux(list_file: Path, source: Source, output: Path, streams: list[tuple[int, str]], colour: Colour, rgb: bool,
        start: str | None = None, end: str | None = None, limit: float | None = None) -> None:  # fmt: skip
    """Join the segments named in `list_file` with `source`'s `streams` (from `plan_streams`),
    chapters and metadata (from `start` to `end`, as the video was cut) into `output`; `limit`
    seconds of video stops early (a dry run of the muxing)."""
    maps = ["-map", "0:v:0"] + [arg for index, _ in streams for arg in ("-map", f"1:{index}")]
    codecs = [arg for out, (_, codec) in enumerate(streams, start=1) for arg in (f"-c:{out}", codec)]
    # Any -map_metadata:s mapping turns off ffmpeg's default copying of every stream's tags
    # (language, title), so each stream's are mapped explicitly.
    tags = [arg for out, (index, _) in enumerate(streams, start=1) for arg in (f"-map_metadata:s:{out}", f"1:s:{index}")]
    # Without a cut, the video keeps its delay against the audio (A/V sync as in the input).
    video_delay = source.video_delay if not start else 0.0
    delay = ["-itsoffset", f"{video_delay:.6f}"] if video_delay else []
    # Seeking lands on the video keyframe before `start`; copied streams would otherwise keep
    # the packets before it too.
    trim = ["-copypriorss", "0"] if start else []
    run([
        "ffmpeg", *FFMPEG_QUIET, "-f", "concat", "-safe", "0", *delay, "-i", str(list_file),
        *input_args(source.path, start, end),
        *maps, "-map_metadata", "1", "-map_metadata:s:v:0", f"1:s:{source.video.index}", *tags,
        *track_titles(source, streams, output), "-map_chapters", "1",
        "-c", "copy", *codecs, *trim, *option_args(colour.tags(rgb, ":v:0")),
        # (-t counts from the output's start, the video's first frame `video_delay` later.)
        *(["-t", f"{video_delay + limit:.6f}"] if limit else []), "-y", str(output),
    ], "writing the output")  # fmt: skip
