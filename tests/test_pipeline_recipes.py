"""The filter_scripts recipes that combine ffmpeg filter graphs with the upscaler, both ways round,
run on generated inputs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_media import make_input, packet_hashes, streams, tiny_weights

SCRIPTS = Path(__file__).resolve().parent.parent / "filter_scripts"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_weights(tmp_path_factory.mktemp("w") / "tiny.safetensors")


def test_vspipe_into_an_ffmpeg_filter_graph(model, tmp_path):
    source = make_input(tmp_path / "in.mkv", seconds=0.5)
    output = tmp_path / "out.mkv"
    env = {**os.environ, "VSPIPE": str(BIN / "vspipe"), "VF": "unsharp=3:3:0.5,pad=iw+16:ih:8:0", "PRESET": "ultrafast"}
    subprocess.run([str(SCRIPTS / "vspipe_to_ffmpeg.sh"), str(source), str(output), "2", "--", "-a", f"weights={model}"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    video, _, subtitle = streams(output)
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (128 + 16, 96, 12)
    assert video["r_frame_rate"] == "24000/1001"
    assert packet_hashes(output, "a") == packet_hashes(source, "a") and subtitle["codec_name"] == "subrip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ffmeta", "in.mkv", "in.srt", "out.mkv"]


def test_vsvsr_upscale_between_ffmpeg_filter_graphs(model, tmp_path):
    source = make_input(tmp_path / "interlaced.mkv", seconds=0.5, subtitles=False,
                        video_args=("-vf", "setfield=tff", "-flags", "+ildct+ilme"))  # fmt: skip
    output = tmp_path / "out.mkv"
    env = {**os.environ, "VSVSR": str(BIN / "vsvsr"), "VF_POST": "unsharp=5:5:0.3,scale=160:-2"}
    subprocess.run([str(SCRIPTS / "upscale_with_filters.sh"), str(source), str(output), "--weights", model, "--quiet"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    video, _ = streams(output)
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (160, 120, 12)
    assert video["field_order"] == "progressive"
    assert packet_hashes(output, "a") == packet_hashes(source, "a")
