"""A clip through a real video codec and back, in process (PyAV's libavcodec: libx264, libx265,
mpeg2video, mpeg4), the way footage reaches users: RGB -> Y'CbCr (BT.709, limited range,
chroma subsampled) -> encoder -> decoder -> RGB.

Unlike per-frame JPEG, a video codec predicts frames from each other: I, P and B frames carry
different artifacts, blocks move with the motion vectors, detail flickers from frame to frame.
A model that learns to undo that must see it. Every encoder runs single-threaded, so the same
frames and settings give the same bits on every run (`training.data.degradations.VideoCodec`
draws the settings from its seed).

    encoded = Encoding("libx264", crf=26, preset="medium")
    lr = roundtrip(lr, encoded)       # (T, h, w, 3) uint8 -> (T, h, w, 3) uint8

In process, a 5-frame 64x64 window costs 4-50 ms (mpeg4 .. libx265), against about 150 ms per
window for an ffmpeg subprocess (bench/train.py measures the degradation in a step).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

CODECS = ("libx264", "libx265", "mpeg2video", "mpeg4")
RATE_CONTROLLED = ("mpeg2video", "mpeg4")  # no CRF: a bitrate, as DVD and broadcast set it
PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p")
FPS = 25


@dataclass(frozen=True)
class Encoding:
    """One encoder's settings. `crf` for libx264/libx265; `bits_per_pixel` (bits per pixel per
    frame: DVD's 5 Mbit/s at 720x480x30 is 0.48) for mpeg2video/mpeg4; `preset` for x264/x265."""

    codec: str
    crf: int | None = None
    bits_per_pixel: float | None = None
    preset: str = "medium"
    pix_fmt: str = "yuv420p"
    gop: int = 12  # frames between keyframes: a window shows an I frame and predicted ones

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {CODECS}, not {self.codec!r}")
        if self.pix_fmt not in PIX_FMTS:
            raise ValueError(f"pix_fmt must be one of {PIX_FMTS}, not {self.pix_fmt!r}")
        if self.codec in RATE_CONTROLLED:
            if self.bits_per_pixel is None or self.bits_per_pixel <= 0:
                raise ValueError(f"{self.codec} needs a positive bits_per_pixel, not {self.bits_per_pixel}")
        elif self.crf is None or not 0 <= self.crf <= 51:
            raise ValueError(f"{self.codec} needs a crf in 0..51, not {self.crf}")

    def label(self) -> str:
        quality = f"CRF {self.crf}, preset {self.preset}" if self.crf is not None else f"{self.bits_per_pixel} bits/pixel"
        return f"{self.codec} {quality}, {self.pix_fmt}, BT.709"


def roundtrip(frames: np.ndarray, encoding: Encoding) -> np.ndarray:
    """(T, h, w, 3) uint8 RGB -> the same frames encoded with `encoding` and decoded, uint8.

    Odd sides are padded by repeating the last row or column (4:2:0 needs even sides) and
    cropped off again after decoding."""
    count, height, width = frames.shape[:3]
    padded = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as container:
        stream = container.add_stream(encoding.codec, rate=FPS)
        stream.width, stream.height = padded.shape[2], padded.shape[1]
        stream.pix_fmt = encoding.pix_fmt
        stream.thread_count = 1  # one thread: the same bits on every run
        stream.codec_context.gop_size = encoding.gop
        stream.options = _options(encoding)
        if encoding.codec in RATE_CONTROLLED:
            stream.bit_rate = max(1, round(encoding.bits_per_pixel * padded.shape[1] * padded.shape[2] * FPS))
        for rgb in padded:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            yuv = frame.reformat(format=encoding.pix_fmt, src_colorspace="ITU709", dst_colorspace="ITU709",
                                 dst_color_range="MPEG", interpolation="BICUBIC")  # fmt: skip
            container.mux(stream.encode(yuv))
        container.mux(stream.encode())
    buffer.seek(0)
    decoded = []
    with av.open(buffer, "r") as container:
        for frame in container.decode(video=0):
            rgb = frame.reformat(format="rgb24", src_colorspace="ITU709", dst_colorspace="ITU709",
                                 src_color_range="MPEG", interpolation="BICUBIC")  # fmt: skip
            decoded.append(rgb.to_ndarray())
    if len(decoded) != count:
        raise RuntimeError(f"{encoding.label()}: {count} frames encoded, {len(decoded)} decoded")
    return np.stack(decoded)[:, :height, :width]


def _options(encoding: Encoding) -> dict[str, str]:
    if encoding.codec == "libx264":
        return {"crf": str(encoding.crf), "preset": encoding.preset}
    if encoding.codec == "libx265":
        # x265 starts its own thread pools unless told not to; one thread keeps it deterministic.
        params = "log-level=error:pools=none:frame-threads=1:wpp=0"
        return {"crf": str(encoding.crf), "preset": encoding.preset, "x265-params": params}
    return {}
