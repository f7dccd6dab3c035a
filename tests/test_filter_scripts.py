"""The ready-made scripts users copy: upscale.vpy through vspipe into the real encoders."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import vsvsr.models as models
from vsvsr import weights

SCRIPTS = Path(__file__).resolve().parent.parent / "filter_scripts"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    return weights.save(models.build("lite", num_blocks=1), tmp_path_factory.mktemp("w") / "tiny.safetensors")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """8 frames of testsrc2 at 64x48 with a sine audio track, a subtitle and a chapter."""
    folder = tmp_path_factory.mktemp("src")
    (folder / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:00,300\nhello\n")
    (folder / "chapters.txt").write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=300\ntitle=one\n")
    path = folder / "in.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=24:duration=0.3333",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=0.3333", "-i", str(folder / "subs.srt"),
         "-i", str(folder / "chapters.txt"), "-map", "0", "-map", "1", "-map", "2", "-map_chapters", "3",
         "-c:v", "ffv1", "-pix_fmt", "yuv420p", "-c:a", "flac", "-c:s", "srt", str(path)],
        check=True,
    )  # fmt: skip
    return path


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VSPIPE": str(Path(sys.executable).with_name("vspipe")), "PRESET": "ultrafast"}
    return subprocess.run([str(SCRIPTS / name), *map(str, args)], env=env, capture_output=True, text=True, timeout=300)


def probe(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,codec_name,width,height,pix_fmt,nb_read_frames:format=nb_streams",
         "-show_chapters", "-of", "flat", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.splitlines())


@pytest.mark.parametrize("script, codec", [("upscale_x264.sh", "h264"), ("upscale_x265.sh", "hevc")])
def test_upscale_and_encode_keeps_audio_subtitles_chapters(tmp_path, source, model_file, script, codec):
    out = tmp_path / "out.mkv"
    proc = run_script(script, source, out, 2, "--", "-a", f"weights={model_file}")
    assert proc.returncode == 0, proc.stderr
    info = probe(out)
    video = {k.split(".")[-1]: v.strip('"') for k, v in info.items() if k.startswith("streams.stream.0.")}
    assert (video["codec_name"], video["width"], video["height"]) == (codec, "128", "96")
    assert (video["pix_fmt"], video["nb_read_frames"]) == ("yuv420p10le", "8")
    types = sorted(v.strip('"') for k, v in info.items() if k.endswith(".codec_type"))
    assert types == ["audio", "subtitle", "video"]
    assert info["chapters.chapter.0.tags.title"].strip('"') == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]  # no partial files left


def test_x4(tmp_path, source, model_file):
    out = tmp_path / "x4.mkv"
    proc = run_script("upscale_x264.sh", source, out, 4, "--", "-a", f"weights={model_file}")
    assert proc.returncode == 0, proc.stderr
    assert probe(out)["streams.stream.0.width"] == "256"


def test_failure_leaves_nothing_at_output(tmp_path, source):
    out = tmp_path / "out.mkv"
    proc = run_script("upscale_x265.sh", source, out, 2, "--", "-a", "weights=/nonexistent.safetensors")
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_batch_skips_finished_outputs(tmp_path, source, model_file):
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    (inputs / "a.mkv").write_bytes(source.read_bytes())
    proc = run_script("batch.sh", inputs, outputs, 2, "x264", "--", "-a", f"weights={model_file}")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in outputs.iterdir()] == ["a.mkv"]
    before = (outputs / "a.mkv").stat().st_mtime_ns
    (inputs / "b.mkv").write_bytes(source.read_bytes())  # a new input beside a finished one
    proc = run_script("batch.sh", inputs, outputs, 2, "x264", "--", "-a", f"weights={model_file}")
    assert proc.returncode == 0, proc.stderr
    assert "skip (done)" in proc.stderr and f"upscale: {inputs / 'b.mkv'}" in proc.stderr
    assert (outputs / "a.mkv").stat().st_mtime_ns == before
    assert (outputs / "b.mkv").exists()
