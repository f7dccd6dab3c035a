"""`vsvsr upscale`: a video file in, an upscaled and encoded file out, resumable.

    report = upscale(UpscaleOptions(Path("in.mp4"), Path("out.mkv"), model="my.safetensors"))

Every check that can fail runs before the long work starts:

1. check OUTPUT, probe INPUT, load the model, resolve the encoder;
2. read the filtered video's format; dry-run the encode and the mux on one black frame (a bad
   --vf-post, preset or codec/container pairing fails here, not after hours);
3. scan frame count and scene cuts (or reuse the scan of the run being resumed);
4. upscale and encode segment by segment, skipping finished ones: in this process, or with
   `--workers N` as Ray tasks on this machine or a cluster (cluster.py);
5. join the segments with the input's other streams, rename onto OUTPUT, remove the work folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from .. import __version__, networks, weights
from ..atomic import commit
from ..colour import Colour
from ..engine import ClipServer, Engine, Resolved, Settings
from .cluster import ClusterOptions, Workers, worker_settings
from .decode import DecodedFrames
from .encode import EncodeOptions, SegmentEncoder, encoder_command, resolve
from .mux import concat_list, mux, plan_streams
from .probe import PixelFormat, Source, pixel_format, probe
from .render import Effort, SegmentTask, encode_frames
from .scan import Scan, VideoFormat, scan, video_format
from .segments import Segment, WorkDir, plan_segments
from .tools import DeferredInterrupt, Interrupted, PipelineError, ffprobe_json, tool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpscaleOptions:
    input: Path
    output: Path
    model: str = weights.DEFAULT_MODEL  # a shipped model's name or a weights file
    engine: Settings = field(default_factory=Settings)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    vf_pre: str | None = None  # ffmpeg filter graph before upscaling
    start: str | None = None  # where to start and end in the input (ffmpeg time syntax)
    end: str | None = None
    scene_threshold: float = 10.0  # scdet score (percent) that starts a new scene; 0: no cuts
    segment_frames: int = 240  # frames per resumable segment (rounded to the window stride)
    overwrite: bool = False
    resume: bool = False
    allow_damaged: bool = False  # upscale the frames that decode from a truncated or damaged input
    cluster: ClusterOptions = field(default_factory=ClusterOptions)  # --workers, --ray-address, --gpus-per-worker


@dataclass(frozen=True)
class UpscaleReport:
    output: Path
    frames: int
    upscaled: int  # frames upscaled by this run; the rest came from finished segments
    evaluated: int  # generator frame-evaluations of this run
    seconds: float  # the whole job
    streaming_seconds: float  # decoding, upscaling and encoding the segments (the rest: checks, scan, mux)
    decoder_read: int | None = None  # bytes this run's decoders read (render.Effort; None: unknown)


@dataclass(frozen=True)
class _Plan:
    """What a job runs with, every part checked: made by `_plan` before any long work."""

    options: UpscaleOptions
    source: Source
    engine: Engine
    settings: Resolved  # what the frames are made with: the engine's, or the workers' (cluster.worker_settings)
    weights_file: Path
    weights_digest: str
    encode: EncodeOptions  # resolved: codec checked, crf and pix_fmt concrete
    colour: Colour  # the source's, concrete (both conversions use it)
    video: VideoFormat  # the frames entering the engine
    encoder: Callable[[Path], list[str]]  # ffmpeg's command from the pipe to a segment file
    streams: list[tuple[int, str]]  # the input's other streams: (index, "copy" or codec)
    key: dict[str, Any]  # what a resumed job must match

    @property
    def rgb_out(self) -> bool:
        return pixel_format(self.encode.pix_fmt).rgb


def upscale(options: UpscaleOptions, progress: bool = True,
            on_frame: Callable[[int, int], None] | None = None) -> UpscaleReport:  # fmt: skip
    """Run the job; PipelineError (one line, naming the fix) on any failure, Interrupted on
    Ctrl-C. Either way nothing is left under OUTPUT, and finished segments stay for --resume.

    `on_frame(done, total)` is called once the frame count is known and after every frame (for
    progress shown elsewhere, as by vsvsr serve); an exception it raises stops the job the same way."""
    began = time.monotonic()
    plan = _plan(options)
    _dry_run(plan)
    work = WorkDir(options.output)
    _open_work(work, plan.key, options)
    try:
        with Workers(options.cluster) if options.cluster.workers > 1 else contextlib.nullcontext() as workers:
            found = _scan(work, plan)
            server = plan.engine.clip(found.frames)
            segments = plan_segments(found.frames, server.stride, options.segment_frames)
            streaming = time.monotonic()
            upscaled, effort = _upscale_segments(plan, work, found, server, segments, workers, progress, on_frame)
            streaming = time.monotonic() - streaming
        list_file = work.path / "segments.txt"
        list_file.write_text(concat_list([(work.segment_file(s), s.frames) for s in segments], plan.video.rate))
        mux(list_file, plan.source, work.joined, plan.streams, plan.colour, plan.rgb_out, options.start, options.end)
        commit(work.joined, options.output)
    except KeyboardInterrupt:
        _abandon(work)
        if not work.finished:
            raise Interrupted("interrupted") from None
        raise Interrupted(f"interrupted; {len(work.finished)} finished segment(s) kept in {work.path}: run the same "
                          "command with --resume to continue") from None  # fmt: skip
    except BaseException:
        _abandon(work)
        raise
    work.remove()
    return UpscaleReport(options.output, found.frames, upscaled, effort.evaluated, time.monotonic() - began, streaming,
                         effort.read)  # fmt: skip


def _plan(options: UpscaleOptions) -> _Plan:
    """Check paths and tools, probe the input, load the model, resolve the encoder."""
    _check_paths(options)
    for name in ("ffmpeg", "ffprobe"):
        tool(name)
    source = probe(options.input)
    if source.interlaced and not options.vf_pre:
        raise PipelineError(f"{options.input} is interlaced (field order {source.field_order}); deinterlace it with "
                            "--vf-pre bwdif (or yadif), or pass --vf-pre setfield=prog if it is progressive")  # fmt: skip
    if source.hdr_side_data:
        log.warning("%s: its HDR %s are not carried into the output (its transfer, primaries and matrix tags are); "
                    "add them back when muxing, e.g. with mkvmerge's --max-content-light and --max-luminance",
                    options.input, " and ".join(t.lower() for t in source.hdr_side_data))  # fmt: skip
    weights_file = weights.resolve(options.model)
    cluster = options.cluster
    # With workers, this engine only plans (stride, needs) and needs no GPU here.
    engine = Engine(networks.load(weights_file),
                    options.engine if cluster.workers == 1 else dataclasses.replace(options.engine, device="cpu"))  # fmt: skip
    settings = engine.settings if cluster.workers == 1 else worker_settings(engine.settings, options.engine, cluster)
    with open(weights_file, "rb") as f:
        weights_digest = hashlib.file_digest(f, "sha256").hexdigest()
    encode = resolve(options.encode, source.pix_fmt)
    colour = source.colour.resolved(source.width, source.height)
    video = video_format(source, options.vf_pre, options.start, options.end)
    _check_subsampling(source.pix_fmt, video.width, video.height)
    _check_subsampling(pixel_format(encode.pix_fmt), video.width * engine.settings.scale,
                       video.height * engine.settings.scale, "--vf-post")  # fmt: skip
    return _Plan(
        options, source, engine, settings, weights_file, weights_digest, encode, colour, video,
        encoder=functools.partial(encoder_command, encode, video, engine.settings.scale, colour),
        streams=plan_streams(source, options.output),
        key=_job_key(options, weights_digest, settings, encode),
    )  # fmt: skip


def _upscale_segments(plan: _Plan, work: WorkDir, found: Scan, server: ClipServer, segments: list[Segment],
                      workers: Workers | None, progress: bool,
                      on_frame: Callable[[int, int], None] | None) -> tuple[int, Effort]:  # fmt: skip
    """Upscale and encode the segments not finished yet, here or on `workers`; (frames upscaled,
    what it took)."""
    options, video, engine = plan.options, plan.video, plan.engine
    log.info("%s: %dx%d at %s fps, %d frames, %d scene cuts -> %dx%d %s %s", options.input, video.width, video.height,
             video.rate, found.frames, len(found.cuts), video.width * engine.settings.scale,
             video.height * engine.settings.scale, plan.encode.codec, plan.encode.pix_fmt)  # fmt: skip
    todo = [s for s in segments if not work.is_finished(s)]
    if len(todo) < len(segments):
        log.info("resuming: %d of %d segments finished earlier", len(segments) - len(todo), len(segments))
    upscaled = sum(s.frames for s in todo)
    evaluated = engine.frames_evaluated
    effort = Effort()  # on the workers, or this process's decoder
    with tqdm(total=found.frames, initial=found.frames - upscaled, unit="frame", desc="upscale", file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:  # fmt: skip
        done = found.frames - upscaled  # counted here: a disabled bar counts nothing

        def advance(frames: int = 0) -> None:
            nonlocal done
            bar.update(frames)
            done += frames
            if on_frame is not None:
                on_frame(done, found.frames)

        advance()
        if todo and workers is not None:
            effort = workers.run(_segment_task(plan, found), plan.weights_file, todo, work, advance)
        elif todo:
            # The decoder starts at the first frame the first unfinished segment's windows read
            # (from the keyframe before it, where the scan found one: a resumed late segment),
            # then streams through the rest.
            first = server.needs(todo[0].first, found.cuts)[0]
            with DeferredInterrupt() as interrupt, DecodedFrames(plan.source, video, found.frames, plan.colour,
                                                                 options.vf_pre, options.start, options.end,
                                                                 first, found.seeks) as frames:  # fmt: skip
                for segment in todo:
                    _encode_segment(segment, work, plan.encoder, server, found.cuts, frames, interrupt, advance)
            effort = Effort(0, frames.bytes_read)
    return upscaled, effort + Effort(engine.frames_evaluated - evaluated)


def _segment_task(plan: _Plan, found: Scan) -> SegmentTask:
    """What a worker needs to render any segment of this job."""
    options = plan.options
    return SegmentTask(plan.source, plan.video, plan.colour, options.vf_pre, options.start, options.end, found,
                       plan.settings, plan.weights_file.name, plan.weights_digest, plan.encoder,
                       {"vsvsr": __version__, "torch": torch.__version__})  # fmt: skip


def _check_paths(options: UpscaleOptions) -> None:
    output = options.output
    if output.exists() and output.resolve() == options.input.resolve():
        raise PipelineError("OUTPUT must not be INPUT; choose another output file")
    if output.is_dir():
        raise PipelineError(f"{output} is a folder; OUTPUT must be a file such as {output / 'upscaled.mkv'}")
    if output.exists() and not options.overwrite:
        raise PipelineError(f"{output} exists; pass --overwrite to replace it")
    if not output.parent.is_dir():
        raise PipelineError(f"the folder {output.parent} does not exist; create it first")
    if not output.suffix:
        raise PipelineError(f"{output} has no file extension; name the container, e.g. {output}.mkv")
    if options.segment_frames < 1:
        raise PipelineError(f"segment frames must be at least 1, not {options.segment_frames}")
    if options.cluster.workers < 1:
        raise PipelineError(f"--workers must be at least 1, not {options.cluster.workers}")


def _check_subsampling(pix_fmt: PixelFormat, width: int, height: int, flag: str = "--vf-pre") -> None:
    """zimg converts only whole chroma samples: refuse, before any work, a size that leaves a
    partial one (65x49 in yuv420p), with the crop (or pad) that fixes it."""
    step_w, step_h = 1 << pix_fmt.chroma[0], 1 << pix_fmt.chroma[1]
    if width % step_w == 0 and height % step_h == 0:
        return
    if (step_w, step_h) == (2, 2):
        rule = "an even width and height"
    else:
        sides = [f"{side} that is a multiple of {step}" for side, step in (("a width", step_w), ("a height", step_h)) if step > 1]
        rule = " and ".join(sides)
    crop_w, crop_h = width - width % step_w, height - height % step_h
    pad_w, pad_h = -(-width // step_w) * step_w, -(-height // step_h) * step_h
    raise PipelineError(f"frames in {pix_fmt.name} must have {rule} (its chroma is subsampled), not {width}x{height}; "
                        f"crop or pad them first, e.g. {flag} crop={crop_w}:{crop_h}:0:0 (or {flag} pad={pad_w}:{pad_h})")  # fmt: skip


def _dry_run(plan: _Plan) -> None:
    """One black frame through the encoder and the muxer, with the input's other streams."""
    options, video, encode = plan.options, plan.video, plan.encode
    scale = plan.engine.settings.scale
    with tempfile.TemporaryDirectory(prefix="vsvsr-check-") as tmp:
        segment, list_file = Path(tmp, "check.nut"), Path(tmp, "check.txt")
        joined = Path(tmp, f"check{options.output.suffix}")
        with SegmentEncoder(segment, plan.encoder) as writer:
            writer.write(torch.zeros(3, video.height * scale, video.width * scale))
            writer.finish()
        list_file.write_text(concat_list([(segment, 1)], video.rate))
        mux(list_file, plan.source, joined, plan.streams, plan.colour, plan.rgb_out, options.start, options.end,
            limit=float(1 / video.rate))  # fmt: skip
        # Raw video in formats without a codec tag comes back as another format: say so now.
        found = ffprobe_json(["-select_streams", "v:0", "-show_entries", "stream=pix_fmt", str(joined)],
                             "checking the test encode")["streams"]  # fmt: skip
        got = found[0].get("pix_fmt") if found else None
        if got is None:
            raise PipelineError(f"the test encode's {options.output.suffix} file holds no video frame; please report "
                                "this input (vsvsr cannot mux it)")  # fmt: skip
        if got != encode.pix_fmt:
            raise PipelineError(f"{encode.codec} in {encode.pix_fmt} comes back as {got} from the segments (NUT) or "
                                f"the {options.output.suffix} container; choose another --codec or --pix-fmt")  # fmt: skip


def _job_key(options: UpscaleOptions, weights_digest: str, settings: Resolved, encode: EncodeOptions) -> dict[str, Any]:
    """Everything that changes the output frames or the encode: a resumed job must match it
    (the worker count does not: any count gives the same frames)."""
    stat = options.input.stat()
    return {
        "input": str(options.input.resolve()), "input_size": stat.st_size, "input_mtime_ns": stat.st_mtime_ns,
        "weights": weights_digest, "engine": {k: str(v) for k, v in dataclasses.asdict(settings).items()},
        "encode": dataclasses.asdict(encode), "vf_pre": options.vf_pre, "start": options.start, "end": options.end,
        "scene_threshold": options.scene_threshold, "segment_frames": options.segment_frames,
        "allow_damaged": options.allow_damaged,
        # Kernels (and so bits) change with versions: segments of another build are not reused.
        "vsvsr": __version__, "torch": torch.__version__,
    }  # fmt: skip


def _open_work(work: WorkDir, job: dict[str, Any], options: UpscaleOptions) -> None:
    """Continue the unfinished job in `work` (--resume) or start afresh."""
    if work.load() and work.finished:
        if options.resume:
            changed = work.changed(job)
            if not changed:
                return
            raise PipelineError(f"the unfinished job in {work.path} was started with other settings "
                                f"({', '.join(changed)}); pass --overwrite instead of --resume to start over")  # fmt: skip
        if not options.overwrite:
            raise PipelineError(f"an unfinished job for {options.output} is in {work.path}; pass --resume to "
                                "continue it, or --overwrite to start over")  # fmt: skip
        log.info("discarding the unfinished job in %s", work.path)
    work.start(job)


def _scan(work: WorkDir, plan: _Plan) -> Scan:
    """Frame count and cuts: from the state of the job being resumed, else a scan (then recorded)."""
    if work.scan is not None:
        return Scan.from_json(work.scan)
    options = plan.options
    log.info("scanning %s for scene cuts", options.input)
    found = scan(plan.source, plan.video, options.vf_pre, options.start, options.end, options.scene_threshold)
    _check_damage(found, options)
    work.scan = found.to_json()
    work.save()
    return found


def _check_damage(found: Scan, options: UpscaleOptions) -> None:
    """A truncated or damaged input is the user's call: refused unless --allow-damaged, which
    upscales the frames that decode (and says so)."""
    if found.damage is None:
        return
    if not options.allow_damaged:
        raise PipelineError(f"{options.input} is truncated or damaged (ffmpeg: {found.damage}); pass --allow-damaged to "
                            f"upscale the {found.frames} frames that decode, or repair or replace the file")  # fmt: skip
    log.warning("%s is truncated or damaged (ffmpeg: %s): upscaling the %d frames that decode", options.input,
                found.damage, found.frames)  # fmt: skip


def _encode_segment(segment: Segment, work: WorkDir, encoder: Callable[[Path], list[str]], server: ClipServer,
                    cuts: tuple[int, ...], frames: DecodedFrames, interrupt: DeferredInterrupt,
                    advance: Callable[[int], None]) -> None:  # fmt: skip
    def done(n: int) -> None:
        advance(1)
        if n + 1 < segment.end:  # Ctrl-C after the last frame still keeps the segment
            interrupt.check()

    interrupt.check()
    encode_frames(work.segment_file(segment), segment, encoder, server, cuts, frames, done)
    work.finish(segment)


def _abandon(work: WorkDir) -> None:
    """After a failure: keep finished segments for --resume, and nothing else."""
    if work.finished:
        work.joined.unlink(missing_ok=True)
    else:
        work.remove()
