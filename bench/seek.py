"""Decoding one segment late in a long file, from the top and seeking to the keyframe before it.

    .venv/bin/python bench/seek.py                                  # 960x540 H.264, 1,440 frames, the last 240
    .venv/bin/python bench/seek.py --size 1920x1080 --frames 4800 --segment 240 --container mp4

What each `--workers N` task does before it upscales anything: its decoder (the pipeline's own
DecodedFrames, to float RGB) reads the segment's frames plus the 2 context frames before it.
From the top it first decodes every frame before the segment; seeking (vsvsr/pipeline/seek.py)
it starts at the keyframe before the segment (in Matroska, where the stream has B-frames,
ffmpeg lands one keyframe earlier still: seek.py). The input is x264 at its defaults (a keyframe
every 250 frames at most, 3 B-frames), CRF 20, on testsrc2 with moving noise (so it is not
trivially compressible), in MKV (or --container mp4).
Prints the decoder's CPU seconds (its ffmpeg process, reaped), wall seconds and megabytes read
for both, and for the same number of frames at the top of the file: the floor, what decoding and
converting the segment's own frames costs.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from vsvsr.pipeline.decode import DecodedFrames
from vsvsr.pipeline.probe import probe
from vsvsr.pipeline.scan import scan, video_format
from vsvsr.pipeline.seek import seek_point


def make_input(path: Path, size: str, frames: int) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=24000/1001", "-frames:v",
                    str(frames), "-vf", "noise=alls=3:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                    "-pix_fmt", "yuv420p", str(path)], check=True)  # fmt: skip
    return path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--frames", type=int, default=1440)
    parser.add_argument("--segment", type=int, default=240, help="frames of the segment at the end (default: 240)")
    parser.add_argument("--container", default="mkv", choices=["mkv", "mp4"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vsvsr-bench-seek-") as tmp:
        began = time.monotonic()
        source = probe(make_input(Path(tmp, f"in.{args.container}"), args.size, args.frames))
        video = video_format(source, None, None, None)
        found = scan(source, video, None, None, None, threshold=10)
        print(f"input: {args.size} H.264 in {args.container.upper()}, {found.frames} frames, "
              f"{len(found.seeks) + 1} keyframes, {source.path.stat().st_size / 1e6:.1f} MB "
              f"(made and scanned in {time.monotonic() - began:.0f} s)")  # fmt: skip
        colour = source.colour.resolved(source.width, source.height)
        first = found.frames - args.segment - 2  # (2 context frames: lite's 5-frame windows at x2)
        print(f"\nsegment: frames {first + 2}-{found.frames - 1}, decoded from frame {first}\n")
        print("| decoder | keyframe sought | CPU s | wall s | MB read |")
        print("|---|---:|---:|---:|---:|")
        length = found.frames - first
        rows = (("from the top", first, ()), ("seeking", first, found.seeks), ("the first segment (the floor)", 0, ()))
        for name, start, keys in rows:
            cpu, wall = children_cpu(), time.monotonic()
            with DecodedFrames(source, video, found.frames, colour, None, None, None, start, keys) as frames:
                for n in range(start, start + length):
                    frames(n)
                    frames.release_before(n)
            point = seek_point(keys, start, None)
            sought = "-" if point is None else point[1] - 1  # (the first frame out is the one after it)
            read = f"{frames.bytes_read / 1e6:.1f}" if frames.bytes_read is not None else "?"
            print(f"| {name} | {sought} | {children_cpu() - cpu:.2f} | {time.monotonic() - wall:.2f} | {read} |")


if __name__ == "__main__":
    main()
