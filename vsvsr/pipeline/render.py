"""Producing segments: decoded frames through the engine into a segment file.

`encode_frames` is the loop every segment runs through. The in-process path (one worker) feeds
it from a single decoder that streams through every unfinished segment in turn; with
`--workers N` each Ray task (cluster.py) runs `SegmentTask.render` for one segment, with its own
decoder, engine and encoder. A segment's decoder starts at the first source frame its windows
read (`server.needs(first)`, through both x4 passes), so every frame is computed from exactly
the window it gets in a one-worker run: the joins are seamless, bit for bit. It gets there from
the keyframe before it where the scan found keyframes (seek.py), else from the top of the input.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import networks
from ..colour import Colour
from ..engine import ClipServer, Engine, Resolved, Settings
from .decode import DecodedFrames
from .encode import SegmentEncoder
from .probe import Source
from .scan import Scan, VideoFormat
from .segments import Segment
from .tools import PipelineError


def encode_frames(path: Path, segment: Segment, encoder: Callable[[Path], list[str]], server: ClipServer,
                  cuts: tuple[int, ...], frames: DecodedFrames, done: Callable[[int], None]) -> Path:  # fmt: skip
    """Upscale `segment`'s frames from `frames` (a DecodedFrames) and encode them to `path`
    (appearing only when whole); `done(n)` after frame n is queued for the encoder."""
    with SegmentEncoder(path, encoder) as writer:
        for n in range(segment.first, segment.end):
            frames.release_before(server.needs(n, cuts)[0])  # what no later window reads
            writer.write(server.frame(n, frames, cuts))
            done(n)
        return writer.finish()


@dataclass(frozen=True)
class Effort:
    """What rendering took: generator frame-evaluations, and the bytes the decoders read
    (DecodedFrames.bytes_read; None where a decoder could not say)."""

    evaluated: int = 0
    read: int | None = 0

    def __add__(self, other: Effort) -> Effort:
        read = None if self.read is None or other.read is None else self.read + other.read
        return Effort(self.evaluated + other.evaluated, read)


@dataclass(frozen=True)
class SegmentTask:
    """Everything a worker on any machine needs to render any segment of one job (it is pickled
    to Ray's workers), except the weights' bytes, which travel once through Ray's object store."""

    source: Source
    video: VideoFormat
    colour: Colour
    vf_pre: str | None
    start: str | None
    end: str | None
    found: Scan  # the clip's length, cuts and seek points
    settings: Resolved  # what the frames are made with; the job key records it
    weights_name: str  # the weights file's name (its suffix tells a community format)
    weights_digest: str  # sha256 of the weights file
    encoder: Callable[[Path], list[str]]
    versions: dict[str, str]  # the driver's vsvsr and torch: other kernels give other bits

    def render(self, segment: Segment, path: Path, weights_bytes: bytes, threads: int,
               done: Callable[[int], None]) -> Effort:  # fmt: skip
        """Encode `segment` to `path`; what it took."""
        self._check_worker()
        torch.set_num_threads(threads)
        engine = _engine(self.weights_name, self.weights_digest, weights_bytes, self.settings)
        found = self.found
        server = engine.clip(found.frames)
        evaluated = engine.frames_evaluated
        first = server.needs(segment.first, found.cuts)[0]
        with DecodedFrames(self.source, self.video, found.frames, self.colour, self.vf_pre, self.start, self.end,
                           first, found.seeks) as frames:  # fmt: skip
            encode_frames(path, segment, self.encoder, server, found.cuts, frames, done)
        return Effort(engine.frames_evaluated - evaluated, frames.bytes_read)

    def _check_worker(self) -> None:
        """This machine can produce the driver's bits: same builds, and it reads the input."""
        from .. import __version__

        here = {"vsvsr": __version__, "torch": torch.__version__}
        for name, version in self.versions.items():
            if here[name] != version:
                raise PipelineError(f"worker {os.uname().nodename} has {name} {here[name]}, the driver {version} (other "
                                    f"builds give other frames); install {name}=={version} on every machine")  # fmt: skip
        if not os.access(self.source.path, os.R_OK):
            raise PipelineError(f"worker {os.uname().nodename} cannot read {self.source.path}; every machine must read "
                                "INPUT at the same path (e.g. a shared filesystem), or run with --workers 1")  # fmt: skip


def engine_settings(resolved: Resolved) -> Settings:
    """The Settings that resolve to `resolved` on a machine with its device."""
    return Settings(scale=resolved.scale, window=resolved.window, mode=resolved.mode, tile=resolved.tile,
                    overlap=resolved.overlap, device=str(resolved.device), precision=resolved.precision,
                    batch=resolved.batch)  # fmt: skip


_engines: dict[tuple[str, Resolved], Engine] = {}  # a Ray worker process renders many segments with one model


def _engine(name: str, digest: str, weights_bytes: bytes, resolved: Resolved) -> Engine:
    key = (digest, resolved)
    if key not in _engines:
        if hashlib.sha256(weights_bytes).hexdigest() != digest:
            raise PipelineError("the weights reached this worker damaged; run the job again")
        with tempfile.TemporaryDirectory(prefix="vsvsr-weights-") as tmp:
            path = Path(tmp, name)
            path.write_bytes(weights_bytes)
            engine = Engine(networks.load(path), engine_settings(resolved))
        if engine.settings != resolved:
            raise PipelineError(f"worker {os.uname().nodename} resolves the engine settings differently "
                                f"({engine.settings} against {resolved}); please report this")  # fmt: skip
        _engines.clear()
        _engines[key] = engine
    return _engines[key]
