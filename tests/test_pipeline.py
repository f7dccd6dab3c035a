"""vsvsr upscale end to end on generated inputs (real ffmpeg), and the pipeline's parts."""

import subprocess
from fractions import Fraction

import ffmpeg
import pytest
from pipeline_media import chapters, make_input, packet_hashes, streams, tiny_weights

from vsvsr.cli import main
from vsvsr.engine import ClipServer
from vsvsr.pipeline import PipelineError
from vsvsr.pipeline.mux import Container, plan_stream
from vsvsr.colour import Colour
from vsvsr.pipeline.probe import Stream, pixel_format, probe
from vsvsr.pipeline.scan import scan, video_format
from vsvsr.pipeline.segments import plan_segments
from vsvsr.pipeline.tools import Filter, command, parse_chain, with_filters


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return tiny_weights(tmp_path_factory.mktemp("w") / "tiny.safetensors")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return make_input(tmp_path_factory.mktemp("in") / "in.mkv")


def upscale(*args: str) -> int:
    return main(["upscale", *map(str, args), "--quiet", "--precision", "fp32"])


@pytest.mark.parametrize("suffix, subtitle_codec", [(".mkv", "subrip"), (".mp4", "mov_text")])
def test_streams_frames_rate_and_colour_carried(source, model_file, tmp_path, suffix, subtitle_codec, capsys):
    output = tmp_path / f"out{suffix}"
    assert upscale(source, output, "--weights", model_file, "--segment-frames", "12") == 0
    assert capsys.readouterr().out.strip() == str(output)
    video, audio, subtitle, *_ = streams(output)  # (mp4 adds a text track holding the chapters)
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (128, 96, 48)
    assert video["r_frame_rate"] == "24000/1001" and video["avg_frame_rate"] == "24000/1001"
    assert (video["color_space"], video["color_primaries"], video["color_transfer"], video["color_range"]) == \
        ("bt709", "bt709", "bt709", "tv")  # fmt: skip
    assert packet_hashes(output, "a") == packet_hashes(source, "a")  # audio copied byte for byte
    assert audio["codec_name"] == "aac"
    assert subtitle["codec_name"] == subtitle_codec and int(subtitle["nb_read_frames"]) == 2
    assert chapters(output) == ["one", "two"]
    assert [p.name for p in tmp_path.iterdir()] == [output.name]  # no work folder left


def test_start_end_and_x4(source, model_file, tmp_path):
    output = tmp_path / "cut.mkv"
    assert upscale(source, output, "--weights", model_file, "--scale", "4", "--start", "0.5", "--end", "1.0",
                   "--codec", "ffv1") == 0  # fmt: skip
    video, audio, _ = streams(output)
    assert (video["width"], video["height"]) == (256, 192)
    assert abs(int(video["nb_read_frames"]) - 12) <= 1  # half a second at 23.976 fps
    assert abs(int(audio["nb_read_frames"]) - 22) <= 2  # and of 44.1 kHz audio in 1024-sample packets


def test_failure_mid_run_leaves_nothing_at_output_and_resumes(source, model_file, tmp_path, monkeypatch, capsys):
    output = tmp_path / "out.mkv"
    real_frame = ClipServer.frame

    def failing(self, n, *args, **kwargs):
        if n == 30:
            raise PipelineError("simulated failure")
        return real_frame(self, n, *args, **kwargs)

    monkeypatch.setattr(ClipServer, "frame", failing)
    assert upscale(source, output, "--weights", model_file, "--segment-frames", "12", "--codec", "ffv1") == 2
    assert "simulated failure" in capsys.readouterr().err
    assert not output.exists()
    work = tmp_path / ".out.mkv.vsvsr"
    assert sorted(p.name for p in work.glob("segment*")) == ["segment00000.nut", "segment00001.nut"]

    monkeypatch.setattr(ClipServer, "frame", real_frame)
    assert upscale(source, output, "--weights", model_file, "--segment-frames", "12", "--codec", "ffv1") == 2
    assert "--resume to continue it" in capsys.readouterr().err  # never discards work silently
    assert upscale(source, output, "--weights", model_file, "--segment-frames", "12", "--codec", "libx264",
                   "--resume") == 2  # fmt: skip
    assert "was started with other settings (encode)" in capsys.readouterr().err
    assert upscale(source, output, "--weights", model_file, "--segment-frames", "12", "--codec", "ffv1",
                   "--resume") == 0  # fmt: skip
    assert "resuming: 2 of 4 segments" in capsys.readouterr().err
    assert int(streams(output)[0]["nb_read_frames"]) == 48 and not work.exists()


def test_scene_cuts_come_from_scdet(tmp_path):
    path = tmp_path / "cut.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1", "-f", "lavfi", "-i",
                    "mandelbrot=s=64x48:r=25,trim=duration=1", "-filter_complex", "[0][1]concat=n=2",
                    "-c:v", "ffv1", str(path)], check=True)  # fmt: skip
    source = probe(path)
    video = video_format(source, None, None, None)
    assert (video.width, video.height, video.rate) == (64, 48, Fraction(25))
    assert scan(source, video, None, None, None, threshold=10).cuts == (25,)
    assert scan(source, video, None, None, None, threshold=0).cuts == ()
    doubled = video_format(source, "yadif=mode=send_field", None, None)  # --vf-pre may change the rate
    assert doubled.rate == 50 and scan(source, doubled, "yadif=mode=send_field", None, None, 10).frames == 100


def test_variable_frame_rate_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "vfr.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1", "-vf",
                    "setpts='if(lt(N,10),N,N*2)/25/TB'", "-fps_mode", "vfr", "-c:v", "ffv1", str(path)], check=True)  # fmt: skip
    source = probe(path)
    with pytest.raises(PipelineError, match=r"variable frame rate.*-vf fps="):
        scan(source, video_format(source, None, None, None), None, None, None, 10)


def test_segments_start_on_the_window_grid():
    segments = plan_segments(100, stride=3, target=10)
    assert [s.first for s in segments] == list(range(0, 100, 9))
    assert segments[-1].end == 100 and sum(s.frames for s in segments) == 100


def test_user_filter_chains_parse_as_ffmpeg_reads_them():
    # Graph-level quotes keep the comma; option-level escapes and quotes are removed once.
    assert parse_chain("bwdif=mode=1, crop=1920:800 ,scale=w='min(iw\\,1280)':h=-2,hqdn3d", "--vf-pre") == [
        Filter("bwdif", (), {"mode": "1"}),
        Filter("crop", ("1920", "800")),
        Filter("scale", (), {"w": "min(iw,1280)", "h": "-2"}),
        Filter("hqdn3d"),
    ]
    assert parse_chain("select=expr=not(mod(n\\,2))", "--vf-pre") == [Filter("select", (), {"expr": "not(mod(n,2))"})]


@pytest.mark.parametrize("graph, message", [
    ("[in]scale=64:48[out]", "chain of filters joined by commas"),
    ("split;null", "chain of filters joined by commas"),
    ("yadif,,null", "filter name is missing"),
    ("scale=w=64:48", "follows named options"),
])  # fmt: skip
def test_user_graphs_that_are_not_chains_are_refused(graph, message):
    with pytest.raises(PipelineError, match=message):
        parse_chain(graph, "--vf-pre")


def test_commands_come_from_ffmpeg_python_escaped_for_both_parsers():
    stream = with_filters(ffmpeg.input("in.mkv", ss="1")["2"], "scale=w='min(iw,180)':h=-2", "--vf-pre")
    args = command(stream.filter("metadata", mode="print", file="pipe:1").output("-", f="null"))
    graph = args[args.index("-filter_complex") + 1]
    assert graph == "[0:2]scale=h=-2:w=min(iw\\,180)[s0];[s0]metadata=file=pipe\\\\:1:mode=print[s1]"
    assert args[:5] == ["ffmpeg", "-ss", "1", "-i", "in.mkv"]
    assert "-filter_complex_threads" in args  # zscale on whole frames (tools.WHOLE_FRAME_ZIMG)


def test_user_chains_with_escapes_run_in_real_ffmpeg(tmp_path):
    path = tmp_path / "in.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1", "-c:v", "ffv1", str(path)],
                   check=True)  # fmt: skip
    source = probe(path)
    graph = "scale=w='min(iw\\,40)':h=-2 , select='not(mod(n\\,2))',setpts=N/FRAME_RATE/TB"
    video = video_format(source, graph, None, None)
    assert (video.width, video.height) == (40, 30)
    assert scan(source, video, graph, None, None, 10).frames == 13


def test_streams_the_container_cannot_hold_are_converted_or_left_out(caplog):
    mkv = Container("Matroska", "srt", attachments=True, subtitles=frozenset({"subrip"}))
    webm = Container("WebM", "webvtt", audio=frozenset({"opus"}), subtitles=frozenset({"webvtt"}))
    assert plan_stream(Stream(2, "subtitle", "mov_text"), mkv) == "srt"
    assert plan_stream(Stream(3, "attachment", "ttf"), mkv) == "copy"
    assert plan_stream(Stream(1, "audio", "aac"), webm) is None
    assert "WebM output cannot hold the input's audio stream #1 (aac)" in caplog.text


def test_colour_tags_and_zimg_names():
    colour = Colour(matrix=None, range=None, transfer="bt470m").resolved(1920, 1080)
    assert colour.zscale_options("in") == {"matrixin": "bt709", "rangein": "tv", "chromalin": "left"}
    assert Colour().resolved(720, 576).matrix == "smpte170m"  # like the VapourSynth adapter's default
    assert colour.tags(rgb=False) == {"color_trc": "gamma22", "colorspace": "bt709", "color_range": "tv",
                                      "chroma_sample_location": "left"}  # fmt: skip
    assert colour.tags(rgb=True, stream=":v:0") == {"color_trc:v:0": "gamma22", "colorspace:v:0": "rgb",
                                                    "color_range:v:0": "pc"}  # fmt: skip


def test_planar_twins_let_zimg_do_every_colour_conversion():
    twins = {name: pixel_format(name).planar_twin() for name in ("nv12", "p010le", "rgb24", "gray10le", "yuv420p", "yuv422p10le")}
    assert twins == {"nv12": "yuv420p", "p010le": "yuv420p10le", "rgb24": "gbrp", "gray10le": "yuv444p10le",
                     "yuv420p": "yuv420p", "yuv422p10le": "yuv422p10le"}  # fmt: skip


@pytest.mark.parametrize("rate", ["24", "24000/1001"])
def test_constant_rate_mkv_whose_video_starts_after_its_audio_is_not_vfr(tmp_path, rate):
    # AAC's priming delay makes the muxer start the video ~21 ms after the audio, and Matroska
    # rounds timestamps to milliseconds: 21, 63, 104, 146 ms at 24 fps.
    path = tmp_path / "aac.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=64x48:rate={rate}", "-f", "lavfi",
                    "-i", "sine=sample_rate=48000", "-t", "0.5", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    str(path)], check=True)  # fmt: skip
    source = probe(path)
    assert source.video_delay > 0.01
    assert scan(source, video_format(source, None, None, None), None, None, None, 10).frames == 12


def test_video_starting_after_the_audio_keeps_its_delay(tmp_path, model_file):
    plain = make_input(tmp_path / "in.mp4", seconds=0.5, audio=False, subtitles=False)
    delayed = tmp_path / "delayed.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=sample_rate=48000:duration=1", "-itsoffset",
                    "0.5", "-i", str(plain), "-map", "1:v", "-map", "0:a", "-c:v", "copy", "-c:a", "flac", str(delayed)],
                   check=True)  # fmt: skip
    output = tmp_path / "out.mkv"
    assert upscale(delayed, output, "--weights", model_file) == 0
    video, audio = streams(output)
    assert int(video["nb_read_frames"]) == 12
    assert abs(float(video["start_time"]) - float(audio["start_time"]) - 0.5) < 1 / 24


def test_stream_language_and_title_tags_are_carried(source, tmp_path, model_file):
    tagged = tmp_path / "tagged.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-map", "0", "-c", "copy",
                    "-metadata:s:a:0", "language=fre", "-metadata:s:a:0", "title=Commentaire",
                    "-metadata:s:s:0", "language=ger", "-metadata:s:s:0", "title=Deutsch", "-disposition:s:0", "forced",
                    str(tagged)], check=True)  # fmt: skip
    output = tmp_path / "out.mkv"
    assert upscale(tagged, output, "--weights", model_file, "--end", "0.5") == 0
    _, audio, subtitle = streams(output)
    assert (audio["tags"]["language"], audio["tags"]["title"]) == ("fre", "Commentaire")
    assert (subtitle["tags"]["language"], subtitle["tags"]["title"]) == ("ger", "Deutsch")
    assert subtitle["disposition"]["forced"] == 1


def test_odd_sizes_with_subsampled_chroma_are_refused_before_any_work(tmp_path, model_file, capsys):
    odd = tmp_path / "odd.mkv"  # (testsrc, since testsrc2 rounds its size down to even)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=s=65x49:r=24:d=0.5", "-c:v", "ffv1",
                    "-pix_fmt", "yuv420p", str(odd)], check=True)  # fmt: skip
    output = tmp_path / "out.mkv"
    assert upscale(odd, output, "--weights", model_file) == 2
    err = capsys.readouterr().err
    assert "scanning" not in err and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"vsvsr upscale: frames in yuv420p must have an even width and height (its chroma is subsampled), not "
        f"65x49; crop or pad them first, e.g. --vf-pre crop=64:48:0:0 (or --vf-pre pad=66:50)")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("out", ".out"))) == []
    # The suggested fix works.
    assert upscale(odd, output, "--weights", model_file, "--vf-pre", "crop=64:48:0:0") == 0
    assert (streams(output)[0]["width"], streams(output)[0]["height"]) == (128, 96)
