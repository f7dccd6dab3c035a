"""`vsvsr upscale` end to end against the engine alone, on the same frames.

    .venv/bin/python bench/cli.py                                   # 320x180, 96 frames, lite
    .venv/bin/python bench/cli.py --size 640x360 --frames 96 --codecs libx265 --weights my.safetensors
    .venv/bin/python bench/cli.py --codecs libx264 --workers 1,2     # and per worker count (Ray)

The engine row runs `Engine.clip` over frames already decoded into memory (decoded by the
pipeline's own decoder, so they are the same frames); each end-to-end row runs the whole job
(probe, scene scan, dry run, decode, upscale, encode, mux) on a generated input with an audio
track, timed whole and for its streaming part alone (decode + upscale + encode; the rest is a
fixed cost per job). Rows alternate, each keeping its best of --repeats runs. Overhead = seconds
/ engine seconds - 1; the pipeline's goal is at most 10%. The CPU seconds ffmpeg's processes used
(decoding, colour conversion, scene scan, encoding, muxing) are printed per frame and as a share
of the CPU time the engine alone spent: on a machine whose cores the generator already fills,
that work cannot hide, so the share is a floor for the overhead. The `rawvideo` row encodes
nothing (it stores the frames), so its overhead is the pipeline's own: decoding, conversions,
pipes, the scene scan and muxing; each encoder's row adds that encoder's CPU time.
With --workers, a second table runs the whole job with the first codec once per worker count
(1: in process; N > 1: a local Ray cluster of this machine's cores, started inside the "whole
job" time; each worker has cores / N torch threads, loads the model itself and decodes its
segment's context frames again). --segment-frames sets the segments the workers share.
The model is an untrained `lite` unless --weights is given (speed does not depend on training).
Prints a table; no assertions.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from vsvsr import models, weights
from vsvsr.engine import Engine, Settings
from vsvsr.pipeline import ClusterOptions, EncodeOptions, UpscaleOptions, upscale
from vsvsr.pipeline.decode import DecodedFrames
from vsvsr.pipeline.probe import probe
from vsvsr.pipeline.scan import scan, video_format


def make_input(path: Path, size: str, frames: int) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=24", "-f", "lavfi", "-i",
                    "sine", "-frames:v", str(frames), "-shortest", "-c:v", "libx264", "-crf", "10", "-pix_fmt",
                    "yuv420p", "-c:a", "aac", str(path)], check=True)  # fmt: skip
    return path


def engine_seconds(source_path: Path, model_file: Path, settings: Settings) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of all our threads, frames) for the engine to produce every
    frame of the input, from frames in memory."""
    source = probe(source_path)
    video = video_format(source, None, None, None)
    found = scan(source, video, None, None, None, threshold=10)
    colour = source.colour.resolved(source.width, source.height)
    with DecodedFrames(source, video, found.frames, colour, None, None, None) as decoded:
        frames = [decoded(i) for i in range(found.frames)]
    engine = Engine(weights.load(model_file), settings)
    server = engine.clip(found.frames)
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(found.frames):
        server.frame(n, frames.__getitem__, found.cuts)
    return time.perf_counter() - start, time.process_time() - cpu, found.frames


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="320x180", help="input frame size (default: 320x180)")
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--precision", help="fp32, bf16, fp16 (default: the machine's)")
    parser.add_argument("--weights", help="a weights file (default: an untrained lite)")
    parser.add_argument("--codecs", default="rawvideo,libx264,ffv1",
                        help="comma-separated encoders (default: rawvideo,libx264,ffv1)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per row; the best counts (default: 2)")
    parser.add_argument("--workers", help="comma-separated worker counts for the second table, e.g. 1,2 (default: none)")
    parser.add_argument("--segment-frames", type=int, default=24, help="frames per segment (default: 24)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vsvsr-bench-") as tmp:
        folder = Path(tmp)
        source = make_input(folder / "in.mkv", args.size, args.frames)
        if args.weights:
            model_file = Path(args.weights)
        else:
            torch.manual_seed(0)
            model_file = weights.save(models.build("lite"), folder / "lite.safetensors")
        settings = Settings(scale=args.scale, precision=args.precision)
        engine = Engine(weights.load(model_file), settings)
        engine.upscale_window(torch.rand(engine.settings.window, 3, 64, 64))  # warm-up: oneDNN's first-call setup

        # Rows alternate and each keeps its best run: on a shared machine, load that comes and
        # goes would otherwise land on one row only.
        codecs = args.codecs.split(",")
        counts = [int(n) for n in args.workers.split(",")] if args.workers else []
        engine_best, engine_cpu, reports, ffmpeg_cpu, by_workers = float("inf"), float("inf"), {}, {}, {}
        for _ in range(args.repeats):
            seconds, cpu, frames = engine_seconds(source, model_file, settings)
            engine_best, engine_cpu = min(engine_best, seconds), min(engine_cpu, cpu)
            for codec in codecs:
                options = UpscaleOptions(source, folder / f"out-{codec}.mkv", str(model_file), settings,
                                         EncodeOptions(codec=codec), overwrite=True)  # fmt: skip
                cpu = children_cpu_seconds()
                report = upscale(options, progress=False)
                if codec not in reports or report.streaming_seconds < reports[codec].streaming_seconds:
                    reports[codec], ffmpeg_cpu[codec] = report, children_cpu_seconds() - cpu
            for count in counts:
                options = UpscaleOptions(source, folder / f"out-{count}w.mkv", str(model_file), settings,
                                         EncodeOptions(codec=codecs[0]), segment_frames=args.segment_frames,
                                         overwrite=True, cluster=ClusterOptions(workers=count))  # fmt: skip
                report = upscale(options, progress=False)
                if count not in by_workers or report.seconds < by_workers[count].seconds:
                    by_workers[count] = report

        print(f"{args.size} x{args.scale}, {frames} frames, {engine.descriptor.arch}, {engine.settings.precision} on "
              f"{engine.settings.device}, {torch.get_num_threads()} torch threads, best of {args.repeats}")  # fmt: skip
        print("| path | seconds | fps | overhead vs engine | ffmpeg CPU ms / frame | ffmpeg CPU / engine CPU |")
        print("|---|---:|---:|---:|---:|---:|")
        print(f"| engine only (frames in memory) | {engine_best:.2f} | {frames / engine_best:.2f} | - | - | - |")
        for codec, report in reports.items():
            for what, seconds in (("decode + upscale + encode", report.streaming_seconds), ("whole job", report.seconds)):
                cpu = (f"{ffmpeg_cpu[codec] / frames * 1000:.0f} | {ffmpeg_cpu[codec] / engine_cpu:.0%}"
                       if what == "whole job" else " | ")  # fmt: skip
                print(f"| vsvsr upscale, {codec}: {what} | {seconds:.2f} | {frames / seconds:.2f} "
                      f"| {seconds / engine_best - 1:+.0%} | {cpu} |")  # fmt: skip
        if by_workers:
            base = by_workers[min(by_workers)]
            print(f"\n{codecs[0]}, segments of {args.segment_frames} frames, {len(os.sched_getaffinity(0))} cores")
            print("| workers | streaming seconds | fps | whole job seconds | whole-job speed-up |")
            print("|---:|---:|---:|---:|---:|")
            for count, report in by_workers.items():
                print(f"| {count} | {report.streaming_seconds:.2f} | {frames / report.streaming_seconds:.2f} "
                      f"| {report.seconds:.2f} | {base.seconds / report.seconds:.2f}x |")  # fmt: skip

if __name__ == "__main__":
    main()
