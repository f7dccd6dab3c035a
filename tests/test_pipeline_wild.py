"""`vsvsr upscale` (and, for the video itself, bs.VideoSource -> core.vsr.SRGAN -> vspipe) on the files
users actually have: a matrix of real files made with ffmpeg at
64x48, a fraction of a second each. Every case checks the output against its input: frame count,
size (and pixel shape), each frame's timestamp within one frame time, colour tags, and every other
stream with its codec, packets, language, title and default/forced flags, attachments and chapters.
"""

from __future__ import annotations

import json
import struct
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
import numpy as np
from pipeline_media import decode, packet_hashes, tiny_weights

from vsvsr.cli import main

SIZE = "64x48"
SRT = "1\n00:00:00,000 --> 00:00:00,200\nhello\n\n2\n00:00:00,250 --> 00:00:00,400\nworld\n"
CHAPTERS = ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=200\ntitle=one\n" \
           "[CHAPTER]\nTIMEBASE=1/1000\nSTART=200\nEND=500\ntitle=two\n"  # fmt: skip
HDR10 = "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400:log-level=error"


@dataclass(frozen=True)
class Case:
    """An input made by ffmpeg from `video` (a lavfi source or a list of inputs) and its options,
    upscaled into `output_suffix` with `extra` vsvsr options."""

    suffix: str  # the input's container
    rate: str = "24"
    seconds: float = 0.5
    audio: tuple[str, ...] = ("aac",)  # one audio stream per codec
    args: tuple[str, ...] = ()  # more ffmpeg output options
    output_suffix: str = ".mkv"
    extra: tuple[str, ...] = ()
    subtitles: int = 0
    attachment: bool = False
    chapters: bool = False
    video_offset: float = 0.0  # seconds the video starts after the audio (negative: before)


CASES = {
    # Frame rates and audio codecs, in both containers.
    "mkv-23.976-aac": Case(".mkv", rate="24000/1001"),
    "mkv-24-ac3": Case(".mkv", audio=("ac3",)),
    "mp4-25-aac": Case(".mp4", rate="25", output_suffix=".mp4"),
    "mkv-29.97-flac": Case(".mkv", rate="30000/1001", audio=("flac",)),
    "mkv-50-opus": Case(".mkv", rate="50", seconds=0.25, audio=("libopus",)),
    "mp4-59.94-ac3": Case(".mp4", rate="60000/1001", seconds=0.25, audio=("ac3",), output_suffix=".mp4"),
    # Streams that start late: stream start times (MKV), edit lists (MP4).
    "mkv-video-late": Case(".mkv", audio=("flac",), video_offset=0.25),
    "mp4-video-late": Case(".mp4", video_offset=0.25, output_suffix=".mp4"),
    "mp4-audio-late": Case(".mp4", video_offset=-0.25, output_suffix=".mp4"),
    # Reordered frames: B-frames with an open GOP (MP4: an edit list hides the B-frame delay).
    "mp4-bframes-open-gop": Case(".mp4", args=("-bf", "3", "-x264-params", "open-gop=1:keyint=6:min-keyint=6:scenecut=0"),
                                 output_suffix=".mp4"),  # fmt: skip
    "mkv-hevc-10bit": Case(".mkv", args=("-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"),
                           extra=("--codec", "libx265")),  # fmt: skip
    # Anamorphic: the output keeps the display aspect ratio by carrying the pixel shape.
    "mkv-sar-32:27": Case(".mkv", args=("-vf", "setsar=32/27")),
    "mp4-sar-8:9": Case(".mp4", args=("-vf", "setsar=8/9"), output_suffix=".mp4"),
    # HDR tags and full range.
    "mkv-hdr10-pq": Case(".mkv", args=("-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", HDR10,
                                       "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc"),
                         extra=("--codec", "libx265")),  # fmt: skip
    "mkv-hlg": Case(".mkv", args=("-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020", "-color_trc", "arib-std-b67",
                                  "-colorspace", "bt2020nc")),  # fmt: skip
    "mkv-full-range": Case(".mkv", args=("-color_range", "pc", "-colorspace", "bt709")),
    # Several audio and subtitle streams with languages, titles and flags; fonts and chapters.
    "mkv-many-streams": Case(".mkv", audio=("aac", "ac3"), subtitles=2, attachment=True, chapters=True),
    "mkv-many-streams-to-mp4": Case(".mkv", audio=("aac", "ac3"), subtitles=2, attachment=True, chapters=True,
                                    output_suffix=".mp4"),  # fmt: skip
}

AUDIO_TAGS = [("eng", "Main"), ("fre", "Commentaire")]
SUBTITLE_TAGS = [("eng", "Full"), ("ger", "Signs")]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return tiny_weights(tmp_path_factory.mktemp("w") / "tiny.safetensors")


def make(case: Case, folder: Path) -> Path:
    """The input file `case` describes, in `folder`."""
    path = folder / f"in{case.suffix}"
    video = ["-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r={case.rate}:d={case.seconds}"]
    inputs = [*(["-itsoffset", str(case.video_offset)] if case.video_offset > 0 else []), *video]
    maps, codecs, tags = ["-map", "0:v"], ["-c:v", "libx264", "-pix_fmt", "yuv420p"], []
    for n, codec in enumerate(case.audio):
        offset = ["-itsoffset", str(-case.video_offset)] if case.video_offset < 0 else []
        inputs += [*offset, "-f", "lavfi", "-i", f"sine=frequency={440 * (n + 1)}:sample_rate=48000:duration={case.seconds}"]
        maps += ["-map", f"{len(maps) // 2}:a"]
        codecs += [f"-c:a:{n}", codec]
        if len(case.audio) > 1:
            language, title = AUDIO_TAGS[n]
            tags += [f"-metadata:s:a:{n}", f"language={language}", f"-metadata:s:a:{n}", f"title={title}",
                     f"-disposition:a:{n}", "default" if n == 0 else "0"]  # fmt: skip
    for n in range(case.subtitles):
        srt = folder / f"sub{n}.srt"
        srt.write_text(SRT)
        inputs += ["-i", str(srt)]
        maps += ["-map", f"{len(maps) // 2}:s"]
        language, title = SUBTITLE_TAGS[n]
        tags += [f"-metadata:s:s:{n}", f"language={language}", f"-metadata:s:s:{n}", f"title={title}",
                 f"-disposition:s:{n}", "default" if n == 0 else "forced"]  # fmt: skip
    if case.attachment:
        font = folder / "Font Name.ttf"
        font.write_bytes(bytes(range(256)) * 4)  # copied byte for byte: any bytes do
        codecs += ["-attach", str(font), "-metadata:s:t", "mimetype=application/x-truetype-font"]
    if case.chapters:
        meta = folder / "chapters.ffmeta"
        meta.write_text(CHAPTERS)
        inputs += ["-i", str(meta)]
        tags += ["-map_chapters", str(len(maps) // 2)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, *maps, *codecs, "-c:s", "srt" if case.suffix == ".mkv" else
                    "mov_text", *tags, "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
                    *case.args, "-shortest" if case.video_offset else "-y", str(path)], check=True)  # fmt: skip
    return path


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_chapters", "-show_format",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out)


def frame_times(path: Path, rate: Fraction) -> list[float]:
    """Each video frame's presentation time, in seconds. AVI stores none: its frames come one per
    1/rate from its start (ffprobe's guess from decode times puts B-frame delay before them)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    times = [t.strip(",") for t in out.split()]
    if path.suffix == ".avi":
        return [float(n / rate) for n in range(len(times))]
    return [float(t) for t in times]


def upscale(source: Path, output: Path, *extra: str) -> int:
    return main(["upscale", str(source), str(output), "--quiet", "--precision", "fp32", *extra])


def video_of(info: dict) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def others(info: dict, kind: str) -> list[dict]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def check_video(source: Path, output: Path, scale: int = 2) -> None:
    """Frame count, size, pixel shape, display aspect, rate, colour tags and timestamps."""
    src, out = video_of(probe(source)), video_of(probe(output))
    assert int(out["nb_read_frames"]) == int(src["nb_read_frames"])
    assert (out["width"], out["height"]) == (src["width"] * scale, src["height"] * scale)
    assert out.get("sample_aspect_ratio", "1:1") == src.get("sample_aspect_ratio", "1:1")
    assert out.get("display_aspect_ratio") == src.get("display_aspect_ratio")
    assert out["r_frame_rate"] == src["r_frame_rate"]
    for tag in ("color_space", "color_primaries", "color_transfer", "color_range"):
        assert out.get(tag) == src.get(tag), tag
    rate = Fraction(src["r_frame_rate"])
    a, b = frame_times(source, rate), frame_times(output, rate)
    frame = 1 / rate
    assert len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < frame, (a, b)


def check_streams(source: Path, output: Path, dropped: tuple[str, ...] = ()) -> None:
    """Every audio, subtitle and attachment stream (but the kinds in `dropped`) carried with
    its tags and flags; audio byte for byte; chapters."""
    src, out = probe(source), probe(output)
    for kind in ("audio", "subtitle", "attachment"):
        if kind in dropped:
            assert others(out, kind) == []
            continue
        a, b = others(src, kind), others(out, kind)
        assert len(a) == len(b), kind
        for s, o in zip(a, b):
            for tag in ("language", "title", "filename", "mimetype"):
                # (MP4 names tracks in handler_name: ffmpeg's MP4 muxer drops "title")
                kept = "handler_name" if tag == "title" and "title" in s.get("tags", {}) and output.suffix == ".mp4" else tag
                assert o.get("tags", {}).get(kept) == s.get("tags", {}).get(tag), (kind, tag)
            for flag in ("default", "forced"):
                assert o["disposition"][flag] == s["disposition"][flag], (kind, flag)
            if kind == "subtitle":
                assert int(o["nb_read_frames"]) == int(s["nb_read_frames"])
    assert [packet_hashes(output, f"a:{n}") for n in range(len(others(src, "audio")))] == \
        [packet_hashes(source, f"a:{n}") for n in range(len(others(src, "audio")))]  # fmt: skip
    assert [(c["tags"]["title"], c["start_time"]) for c in out["chapters"]] == \
        [(c["tags"]["title"], c["start_time"]) for c in src["chapters"]]  # fmt: skip


def check_sync(source: Path, output: Path) -> None:
    """The video starts as far from the first audio as in the input, within a frame."""
    def lead(info: dict) -> float:
        return float(video_of(info)["start_time"]) - float(others(info, "audio")[0]["start_time"])

    src, out = probe(source), probe(output)
    assert abs(lead(out) - lead(src)) < 1 / Fraction(video_of(src)["r_frame_rate"])


@pytest.mark.parametrize("name", CASES)
def test_files_from_the_wild(name, tmp_path, model_file, capsys):
    case = CASES[name]
    source = make(case, tmp_path)
    output = tmp_path / f"out{case.output_suffix}"
    assert upscale(source, output, "--weights", model_file, *case.extra) == 0
    check_video(source, output)
    # MP4 outputs hold no attachments (left out with a warning, see test_pipeline.py).
    check_streams(source, output, dropped=("attachment",) if case.output_suffix == ".mp4" else ())
    check_sync(source, output)
    hdr10_note = "HDR mastering display metadata and content light level metadata are not carried"
    assert (hdr10_note in capsys.readouterr().err) == (HDR10 in case.args)


def patched(path: Path, box: bytes, offset: int, fmt: str, *values: int) -> Path:
    """`path` with `values` packed at `offset` bytes after the first `box` tag."""
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, data.index(box) + offset, *values)
    path.write_bytes(data)
    return path


def test_phone_video_rotation_is_applied(tmp_path, model_file):
    # A phone's portrait video: landscape frames and a display matrix turning them by 90 degrees
    # (the MP4 track header's matrix, 16.16 and 2.30 fixed point; ffmpeg 5.1 cannot write one).
    source = patched(make(Case(".mp4"), tmp_path), b"tkhd", 44, ">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
    assert video_of(probe(source))["side_data_list"][0]["rotation"] == -90
    output = tmp_path / "out.mp4"
    assert upscale(source, output, "--weights", model_file) == 0
    video = video_of(probe(output))
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (96, 128, 12)
    assert "side_data_list" not in video  # upright pixels, no matrix: players must not turn it again
    upright = decode(source, "gray", np.uint8, (64, 48)).astype(float)  # (ffmpeg applies the matrix)
    ours = decode(output, "gray", np.uint8, (128, 96))[:, ::2, ::2].astype(float)
    assert np.abs(ours - upright).mean() < 12 < np.abs(ours - upright[:, ::-1, ::-1]).mean()
    check_streams(source, output)
    check_sync(source, output)


def test_a_frame_count_header_that_lies_is_not_believed(tmp_path, model_file):
    # AVI's main and stream headers both claim 1000 frames; the file holds 12.
    source = make(Case(".avi", audio=("ac3",)), tmp_path)
    patched(source, b"avih", 8 + 16, "<I", 1000)
    patched(source, b"strh", 8 + 32, "<I", 1000)
    assert int(video_of(probe(source))["nb_frames"]) == 1000
    output = tmp_path / "out.mkv"
    assert upscale(source, output, "--weights", model_file) == 0
    check_video(source, output)  # 12 frames, as decoded
    check_streams(source, output)


def test_a_truncated_file_is_refused_unless_allowed(tmp_path, model_file, capsys):
    whole = make(Case(".mkv", seconds=1), tmp_path)
    source = tmp_path / "truncated.mkv"
    source.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    decodable = int(video_of(probe(source))["nb_read_frames"])
    assert 0 < decodable < 24
    output = tmp_path / "out.mkv"
    assert upscale(source, output, "--weights", model_file) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"vsvsr upscale: {source} is truncated or damaged (ffmpeg: File ended prematurely); pass --allow-damaged to "
        f"upscale the {decodable} frames that decode, or repair or replace the file")  # fmt: skip
    assert not output.exists()
    assert upscale(source, output, "--weights", model_file, "--allow-damaged") == 0
    assert f"upscaling the {decodable} frames that decode" in capsys.readouterr().err
    video = video_of(probe(output))
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (128, 96, decodable)
    check_streams(source, output)


# The same files through VapourSynth: bs.VideoSource -> core.vsr.SRGAN (-> vspipe). Audio,
# subtitles and containers are the encoder's business there; what SRGAN must keep is every frame,
# the clip's rate and format, and the props that say how to show it.
VAPOURSYNTH_CASES = ("mkv-23.976-aac", "mp4-video-late", "mp4-bframes-open-gop", "mkv-hevc-10bit", "mkv-sar-32:27",
                     "mkv-hlg", "mkv-full-range")  # fmt: skip
KEPT_PROPS = ("_SARNum", "_SARDen", "_Matrix", "_Transfer", "_Primaries", "_Range", "_ChromaLocation")


@pytest.mark.parametrize("name", VAPOURSYNTH_CASES)
def test_files_from_the_wild_through_core_vsr(name, tmp_path, model_file):
    import vapoursynth as vs

    source = make(CASES[name], tmp_path)
    clip = vs.core.bs.VideoSource(str(source))
    out = vs.core.vsr.SRGAN(clip, scale=2, weights=model_file, precision="fp32")
    frames = int(video_of(probe(source))["nb_read_frames"])
    assert clip.num_frames == out.num_frames == frames
    assert (out.width, out.height, out.format.id) == (2 * clip.width, 2 * clip.height, clip.format.id)
    assert (out.fps_num, out.fps_den) == (clip.fps_num, clip.fps_den)
    for n in (0, frames - 1):
        before, after = clip.get_frame(n).props, out.get_frame(n).props
        assert {k: after.get(k) for k in KEPT_PROPS} == {k: before.get(k) for k in KEPT_PROPS}, n


def test_a_file_from_the_wild_through_vspipe(tmp_path, model_file):
    """10-bit HEVC through a .vpy with core.vsr and vspipe: every frame comes out as y4m."""
    import sys

    source = make(CASES["mkv-hevc-10bit"], tmp_path)
    script = tmp_path / "up.vpy"
    script.write_text("import vapoursynth as vs\n"
                      f"clip = vs.core.bs.VideoSource({str(source)!r})\n"
                      f"vs.core.vsr.SRGAN(clip, scale=2, weights={model_file!r}).set_output()\n")  # fmt: skip
    vspipe = Path(sys.executable).with_name("vspipe")
    y4m = subprocess.run([str(vspipe), "-c", "y4m", str(script), "-"], capture_output=True, check=True).stdout
    header = y4m.split(b"\n", 1)[0].split()
    assert {b"W128", b"H96", b"C420p10"} <= set(header)
    assert y4m.count(b"FRAME\n") == int(video_of(probe(source))["nb_read_frames"])
