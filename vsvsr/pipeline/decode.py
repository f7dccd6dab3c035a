"""Decoded frames for the engine: an ffmpeg subprocess piping float RGB, read ahead on a thread.

ffmpeg applies `--vf-pre`, then converts to planar float32 RGB with zimg (zscale) exactly as the
VapourSynth adapter does (Spline36 chroma with the source's matrix, range and siting; Point for
RGB sources), so no precision is lost on the way: a 10-bit source reaches the engine as 10-bit
values in float. Frames are read lazily and kept only while a window may still need them.

A decoder that starts later than frame 0 seeks to the last keyframe the scan found before its
first frame (seek.py), where seeking is exact; elsewhere it decodes from the top (from --start).
Either way ffmpeg then drops the frames up to the first one by counting them.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from typing import Any, Self

import numpy as np
import torch

from ..colour import Colour
from .probe import Source
from .scan import VideoFormat, video_stream
from .seek import Seek, seek_point
from .tools import Child, PipelineError, command

PIPE_FORMAT = "gbrpf32le"  # planar float32; ffmpeg orders the planes G, B, R
_GBR_TO_RGB = [2, 0, 1]


def to_rgb_float(stream: Any, source: Source, colour: Colour) -> Any:
    """`stream` of `source`'s frames turned into the engine's float RGB (zimg, no dither)."""
    # (Gray goes to zimg as full-range YUV, the conversion ffmpeg picks itself.)
    if not source.pix_fmt.gray:
        stream = stream.filter("format", pix_fmts=source.pix_fmt.planar_twin())
    if source.pix_fmt.rgb:
        stream = stream.filter("zscale", filter="point", dither="none")
    else:
        stream = stream.filter("zscale", filter="spline36", dither="none", **colour.zscale_options("in"))
    return stream.filter("format", pix_fmts=PIPE_FORMAT)


class DecodedFrames:
    """The engine's frame source: `frames(i)` -> (3, h, w) float32 RGB in [0, 1].

    Frames arrive in order from frame `first` on; a bounded queue lets ffmpeg decode ahead while
    the engine works. Frames stay until `release_before` says no window will ask for them again.
    `seeks` (Scan.seeks) say where it may start instead of the top; after `close`, `bytes_read`
    says how much its ffmpeg read (the input, and its libraries: Child.bytes_read).
    """

    def __init__(self, source: Source, video: VideoFormat, count: int, colour: Colour, vf_pre: str | None,
                 start: str | None, end: str | None, first: int = 0, seeks: tuple[Seek, ...] = (),
                 lookahead: int = 4) -> None:  # fmt: skip
        self.shape = (3, video.height, video.width)
        self.count = count
        self.bytes_read: int | None = None
        seek = seek_point(seeks, first, start)
        if seek is None:
            stream, top = video_stream(source, start, end, vf_pre), 0
        else:  # (without --end, which a seek would move: the frames past it are never asked for)
            position, top = seek
            stream = video_stream(source, position, None, vf_pre)
        # Frames from `top` to `first` are still decoded (and run through --vf-pre, whose
        # temporal filters need them) but dropped before the conversion and the pipe.
        if first > top:
            stream = stream.filter("trim", start_frame=first - top)
        spec = to_rgb_float(stream, source, colour).output("pipe:1", f="rawvideo", fps_mode="passthrough")
        self._child = Child(command(spec), "decoding the input", stdout=subprocess.PIPE)
        self._queue: queue.Queue = queue.Queue(maxsize=lookahead)
        self._reader = threading.Thread(target=self._read, name="vsvsr-decode", daemon=True)
        self._reader.start()
        self._frames: dict[int, torch.Tensor] = {}
        self._next = first  # index of the next frame to arrive
        self._low = first  # frames below this are no longer needed

    def __call__(self, i: int) -> torch.Tensor:
        if i not in self._frames:
            if i < self._next:
                raise IndexError(f"frame {i} was already released")
            while self._next <= i:
                frame = self._receive()
                if self._next >= self._low:
                    self._frames[self._next] = frame
                self._next += 1
        return self._frames[i]

    def release_before(self, i: int) -> None:
        """Frames below i will not be asked for again."""
        self._low = max(self._low, i)
        for n in [n for n in self._frames if n < i]:
            del self._frames[n]

    def close(self) -> None:
        if self.bytes_read is None:
            self.bytes_read = self._child.bytes_read()
        self._child.close()
        while self._reader.is_alive():  # unblock a reader waiting on a full queue, let it see the end
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._reader.join(0.05)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self) -> torch.Tensor:
        item = self._queue.get()
        if isinstance(item, torch.Tensor):
            return item
        if isinstance(item, BaseException):
            raise item
        self._child.wait()  # raises with ffmpeg's message if it failed
        raise PipelineError(f"decoding the input ended at frame {self._next} of {self.count}; was the input changed?")

    def _read(self) -> None:
        """Reader thread: whole frames from ffmpeg's stdout into the queue; None at the end."""
        size = int(np.prod(self.shape)) * 4
        stdout = self._child.process.stdout
        try:
            while True:
                buffer = bytearray(size)
                view, filled = memoryview(buffer), 0
                while filled < size:
                    got = stdout.readinto(view[filled:])
                    if not got:
                        self._queue.put(None)
                        return
                    filled += got
                planes = np.frombuffer(buffer, np.float32).reshape(self.shape)
                self._queue.put(torch.from_numpy(planes[_GBR_TO_RGB]))  # a copy in R, G, B order
        except (OSError, ValueError) as err:  # the pipe was closed under us: we are stopping
            self._queue.put(PipelineError(f"reading decoded frames failed: {err}"))
