"""Generated media and ffprobe helpers for the ffmpeg pipeline's tests (tiny, a second each)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import torch
from conftest import perturb_nonlocal

from vsvsr import models, weights

SUBTITLES = "1\n00:00:00,000 --> 00:00:00,500\nhello\n\n2\n00:00:00,600 --> 00:00:01,000\nworld\n"
CHAPTERS = ";FFMETADATA1\ntitle=generated\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=one\n" \
           "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=two\n"  # fmt: skip


def tiny_weights(path: Path) -> str:
    torch.manual_seed(0)
    return str(weights.save(perturb_nonlocal(models.build("lite", num_blocks=1), seed=1), path))


def make_input(path: Path, seconds: float = 2, size: str = "64x48", rate: str = "24000/1001", codec: str = "libx264",
               pix_fmt: str = "yuv420p", audio: bool = True, subtitles: bool = True, video_args: tuple = ()) -> Path:  # fmt: skip
    """testsrc2 (+ a sine audio track, an SRT subtitle stream, two chapters), BT.709-tagged."""
    inputs = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]
    maps = ["-map", "0:v"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        maps += ["-map", f"{len(maps) // 2}:a"]
    if subtitles:
        srt = path.with_suffix(".srt")
        srt.write_text(SUBTITLES)
        inputs += ["-i", str(srt)]
        maps += ["-map", f"{len(maps) // 2}:s"]
    meta = path.with_suffix(".ffmeta")
    meta.write_text(CHAPTERS)
    inputs += ["-i", str(meta)]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, *maps, "-map_chapters", str(len(maps) // 2), "-c:v", codec,
         "-pix_fmt", pix_fmt, "-c:a", "aac", "-c:s", "srt", "-colorspace", "bt709", "-color_primaries", "bt709",
         "-color_trc", "bt709", "-color_range", "tv", *video_args, str(path)],
        check=True,
    )  # fmt: skip
    return path


def streams(path: Path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_chapters", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out)["streams"]


def chapters(path: Path) -> list[str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [c["tags"]["title"] for c in json.loads(out)["chapters"]]


def packet_hashes(path: Path, selector: str) -> list[str]:
    """MD5 of every packet's payload in the streams `selector` names (e.g. "a")."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", selector, "-show_entries", "packet=data_hash",
                          "-show_data_hash", "md5", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return out.split()


def frame_hashes(path: Path) -> list[str]:
    """MD5 of every decoded video frame."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line.split(",")[-1].strip() for line in out.splitlines() if not line.startswith("#")]


def decode(path: Path, pix_fmt: str, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Every video frame as raw `pix_fmt` samples, (frames, *shape)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt",
                          pix_fmt, "-"], capture_output=True, check=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype).reshape(-1, *shape)



def long_gop(path: Path, frames: int, gop: int, size: str = "64x48", pcm: bool = False) -> Path:
    """Noisy testsrc2 in lossless H.264 with B-pyramids and a keyframe every `gop` frames (at
    24000/1001 fps), so that how much of the file a decoder reads says where it started; with
    `pcm`, beside 8 channels of PCM (3 MB a second, which Matroska's demuxer reads too)."""
    audio = ["-f", "lavfi", "-i", "sine=sample_rate=96000", "-shortest", "-af",
             "pan=7.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0|c6=c0|c7=c0", "-c:a", "pcm_s32le"] if pcm else []  # fmt: skip
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=24000/1001", *audio[:4],
                    "-frames:v", str(frames), *audio[4:], "-vf", "noise=alls=40:allf=t", "-c:v", "libx264", "-qp", "0",
                    "-g", str(gop), "-keyint_min", str(gop), "-bf", "3", "-x264-params", "b-pyramid=normal:scenecut=0",
                    "-pix_fmt", "yuv420p", str(path)], check=True)  # fmt: skip
    return path
