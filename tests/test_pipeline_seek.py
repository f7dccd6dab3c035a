"""A decoder that starts late seeks to the keyframe before its first frame (vsvsr/pipeline/seek.py)
and gets exactly the frames a decode from the top gets, where seeking is exact; elsewhere the
scan records no keyframes and decoders start at the top."""

import functools
import subprocess

import pytest
import torch
from pipeline_media import long_gop

from vsvsr.pipeline.decode import DecodedFrames
from vsvsr.pipeline.probe import probe
from vsvsr.pipeline.scan import scan, video_format
from vsvsr.pipeline.seek import microseconds, seek_point

GOP = 24
FRAMES = 120


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """The test input in a container: "mkv" or "mov" (Matroska's and MP4's demuxers)."""
    folder = tmp_path_factory.mktemp("seek")
    return functools.cache(lambda suffix: probe(long_gop(folder / f"in.{suffix}", FRAMES, GOP, size="160x120")))


def decoded(source, start, first, seeks, frames=3):
    """Frames `first`.. of `source` from `start`, and how much the decoder read."""
    video = video_format(source, None, start, None)
    colour = source.colour.resolved(source.width, source.height)
    with DecodedFrames(source, video, FRAMES, colour, None, start, None, first, seeks) as decoder:
        got = [decoder(i) for i in range(first, first + frames)]
    return got, decoder.bytes_read


# --start 1.5 s: from frame 36 of the file, so keyframes at 12, 36, ... of the clip
@pytest.mark.parametrize("suffix, start", [("mkv", None), ("mkv", "1.5"), ("mov", None)])
def test_a_seek_lands_on_exactly_frame_k(media, suffix, start):
    source = media(suffix)
    found = scan(source, video_format(source, None, start, None), None, start, None, threshold=0)
    offset = 36 if start else 0
    assert [k for k, _ in found.seeks] == [k + 1 - offset for k in range(GOP, FRAMES, GOP) if k > offset]  # after each
    last = FRAMES - offset - 10
    for k in (GOP - offset % GOP + 1, 47, 48, 49, last):  # after, before, on keyframes
        seeked, seeked_read = decoded(source, start, k, found.seeks)
        top, top_read = decoded(source, start, k, ())
        assert all(torch.equal(a, b) for a, b in zip(seeked, top, strict=True)), k
    # The seek really skipped the file before (ffmpeg lands a GOP early for B-frames: seek.py)
    assert seeked_read < top_read - source.path.stat().st_size * GOP / FRAMES, (seeked_read, top_read)


def test_no_keyframes_where_a_seek_is_not_exact(media, tmp_path):
    source = media("mkv")
    video = video_format(source, "null", None, None)
    assert scan(source, video, "null", None, None, threshold=0).seeks == ()  # any --vf-pre
    ts = tmp_path / "in.ts"  # ffmpeg moves a TS's timestamps when it reads from the top, not after a seek
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source.path), "-map", "0:v", "-c", "copy", str(ts)], check=True)
    assert scan(probe(ts), video, None, None, None, threshold=0).seeks == ()


def test_seek_points_and_ffmpeg_durations():
    seeks = ((25, 1_020_000), (49, 2_020_000))  # after the keyframes at 24 and 48
    assert seek_point(seeks, 24, None) is None  # before the first: from the top
    assert seek_point(seeks, 25, None) == ("1020000us", 25)
    assert seek_point(seeks, 48, "1:30") == ("91020000us", 25)
    assert seek_point(seeks, 99, "1.5") == ("3520000us", 49)
    assert seek_point(seeks, 99, "1e3") is None  # not a form ffmpeg reads as we do: from the top
    assert [microseconds(t) for t in ("90", "1:30", "01:02:03.5", "2.25s", "1.5ms", "250us", "0.1234567")] == [
        90_000_000, 90_000_000, 3_723_500_000, 2_250_000, 1500, 250, 123_456]  # fmt: skip
    assert [microseconds(t) for t in ("-1", "1:75", "5e3", "1:2:3:4", "")] == [None] * 5
