"""A decoder that starts late seeks to the keyframe before its first frame (vsvsr/pipeline/seek.py)
and gets exactly the frames a decode from the top gets, where seeking is exact; elsewhere the
scan records no keyframes and decoders start at the top. The one-worker path seeks too, when
--resume continues late in the input."""

import functools
import subprocess

import pytest
import torch
from pipeline_media import frame_hashes, long_gop, tiny_weights

from vsvsr.engine import ClipServer, Settings
from vsvsr.pipeline import EncodeOptions, PipelineError, UpscaleOptions, upscale
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


def test_one_worker_resuming_late_seeks_and_gives_the_same_frames(tmp_path, monkeypatch):
    source = long_gop(tmp_path / "in.mkv", 72, 12, pcm=True)  # PCM: bytes read track time
    model = tiny_weights(tmp_path / "tiny.safetensors")

    def run(output, resume=False):
        options = UpscaleOptions(source, output, model=model, engine=Settings(scale=2, precision="fp32"),
                                 encode=EncodeOptions("ffv1"), segment_frames=12, resume=resume)  # fmt: skip
        return upscale(options, progress=False)

    run(tmp_path / "whole.mkv")
    real_frame = ClipServer.frame

    def failing(self, n, *args, **kwargs):
        if n == 60:  # in the last segment
            raise PipelineError("simulated failure")
        return real_frame(self, n, *args, **kwargs)

    monkeypatch.setattr(ClipServer, "frame", failing)
    with pytest.raises(PipelineError, match="simulated"):
        run(tmp_path / "out.mkv")
    monkeypatch.setattr(ClipServer, "frame", real_frame)
    report = run(tmp_path / "out.mkv", resume=True)
    assert report.upscaled == 12 and frame_hashes(tmp_path / "out.mkv") == frame_hashes(tmp_path / "whole.mkv")
    # From the top its decoder would read the file up to frame 72; seeking, from about frame 36
    # (a keyframe before 58, one earlier in Matroska with B-frames).
    assert report.decoder_read < 0.75 * source.stat().st_size, (report.decoder_read, source.stat().st_size)
