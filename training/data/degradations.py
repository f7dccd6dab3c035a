"""The nine degradations of the paper (3.1.2), and a real video codec, applied to a window of frames.

Each degradation is a frozen dataclass that is at the same time its configuration (a YAML
section such as ``blur: {p: 0.3, sigma: [0.2, 1.5]}``) and its implementation. ``p`` is the
chance it is applied to a window; the ranges are what its random parameters are drawn from.
Parameters are drawn once per window, so a window keeps one blur kernel, one contrast, one
JPEG quality, one CutBlur region; what is physically per frame (sensor noise) is drawn per
frame. Every draw comes from the ``numpy.random.Generator`` passed in, so a seed reproduces
the output exactly. Frames are ``(T, 3, h, w)`` float32 in [0, 1], and so is every result.

    degrade = Degradations(blur=GaussianBlur(p=0.5), jpeg=Jpeg(p=0.3))
    lr = degrade(lr, np.random.default_rng(seed))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import cv2
import kornia
import numpy as np
import pywt
import torch
import torch.nn.functional as F

# Where a degradation looks at image content, it looks at brightness: the metrics' BT.601 Y. Its
# maps (saliency, contrast) are scaled by their own percentiles, so Y's 8-bit levels cancel.
from vsvsr.metrics import luma

from . import codec

Range = tuple[float, float]



def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A torch generator seeded from `rng`, for tensors drawn in torch (noise)."""
    return torch.Generator().manual_seed(int(rng.integers(2**62)))


def _blur(frames: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur with a kernel reaching 3 sigma, reflecting at the borders."""
    if sigma <= 0:
        return frames
    size = 2 * math.ceil(3 * sigma) + 1
    return kornia.filters.gaussian_blur2d(frames, (size, size), (sigma, sigma), border_type="reflect")


def _normalised(values: torch.Tensor) -> torch.Tensor:
    """Scale a (T, 1, h, w) map to [0, 1] by its window-wide 99th percentile, so one strong
    edge does not flatten the rest and every frame of a window is measured on one scale."""
    top = torch.quantile(values.flatten().float(), 0.99).clamp_min(1e-6)
    return (values / top).clamp(0, 1)


def _variable_blur(frames: torch.Tensor, sigma: torch.Tensor, max_sigma: float, levels: int = 5) -> torch.Tensor:
    """Blur whose strength varies per pixel: `sigma` (T, 1, h, w) in [0, max_sigma]. The result
    interpolates linearly between `levels` uniformly blurred copies (sigma 0 .. max_sigma)."""
    stack = torch.stack([_blur(frames, max_sigma * k / (levels - 1)) for k in range(levels)])  # (L, T, 3, h, w)
    position = (sigma / max_sigma).clamp(0, 1) * (levels - 1)  # (T, 1, h, w)
    below = position.floor().long().clamp(max=levels - 2)
    frac = position - below
    lower = stack.gather(0, below.expand_as(frames).unsqueeze(0)).squeeze(0)
    upper = stack.gather(0, (below + 1).expand_as(frames).unsqueeze(0)).squeeze(0)
    return lower + frac * (upper - lower)


@dataclass(frozen=True)
class GaussianBlur:
    """Out-of-focus or soft optics: one Gaussian kernel for the whole window."""

    p: float = 0.0
    sigma: Range = (0.2, 1.5)  # in pixels of the frames it is applied to

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        return _blur(frames, _uniform(rng, self.sigma))


@dataclass(frozen=True)
class GaussianNoise:
    """Sensor noise: one strength per window, an independent draw per frame and pixel."""

    p: float = 0.0
    sigma: Range = (0.005, 0.03)  # standard deviation in [0, 1] units

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        sigma = _uniform(rng, self.sigma)
        noise = torch.randn(frames.shape, generator=_torch_generator(rng), dtype=frames.dtype)
        return frames + sigma * noise


@dataclass(frozen=True)
class ContrastBrightness:
    """Lighting and display variation: brightness shifted, then contrast scaled about the
    window's mean (so the window keeps one exposure)."""

    p: float = 0.0
    brightness: Range = (-0.06, 0.06)  # added, [0, 1] units
    contrast: Range = (0.8, 1.2)  # factor

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        brightness, contrast = _uniform(rng, self.brightness), _uniform(rng, self.contrast)
        frames = frames + brightness
        mean = frames.mean()
        return (frames - mean) * contrast + mean


@dataclass(frozen=True)
class FrequencyGuided:
    """Texture and compression-like changes in the frequency domain: each wavelet detail band
    (per level and orientation) is scaled by its own gain, drawn once per window."""

    p: float = 0.0
    gain: Range = (0.5, 1.3)
    levels: tuple[int, int] = (1, 2)  # decomposition depth, drawn inclusive
    wavelet: str = "haar"

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        h, w = frames.shape[-2:]
        level = int(rng.integers(self.levels[0], self.levels[1] + 1))
        coeffs = pywt.wavedec2(frames.numpy(), self.wavelet, level=level, axes=(-2, -1))
        scaled = [coeffs[0]] + [tuple(band * _uniform(rng, self.gain) for band in bands) for bands in coeffs[1:]]
        rebuilt = pywt.waverec2(scaled, self.wavelet, axes=(-2, -1))[..., :h, :w]  # odd sizes come back padded
        return torch.from_numpy(np.ascontiguousarray(rebuilt, dtype=np.float32))


@dataclass(frozen=True)
class CutBlur:
    """Depth of field: inside one random rectangle per window the frames are replaced by an
    average-pooled and bilinearly re-enlarged copy; outside they stay sharp."""

    p: float = 0.0
    size: Range = (0.25, 0.6)  # rectangle side as a fraction of the frame side
    factor: tuple[int, int] = (2, 4)  # pooling factor, drawn inclusive

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        h, w = frames.shape[-2:]
        factor = int(rng.integers(self.factor[0], self.factor[1] + 1))
        blurred = F.interpolate(F.avg_pool2d(frames, factor, ceil_mode=True), size=(h, w), mode="bilinear",
                                align_corners=False)  # fmt: skip
        rh, rw = max(1, round(h * _uniform(rng, self.size))), max(1, round(w * _uniform(rng, self.size)))
        top, left = int(rng.integers(h - rh + 1)), int(rng.integers(w - rw + 1))
        out = frames.clone()
        out[..., top : top + rh, left : left + rw] = blurred[..., top : top + rh, left : left + rw]
        return out


@dataclass(frozen=True)
class Diffusion:
    """Natural softening as diffusion: a few small Gaussian steps applied one after another,
    each spreading intensity a little further."""

    p: float = 0.0
    steps: tuple[int, int] = (2, 6)  # drawn inclusive
    sigma: Range = (0.3, 0.7)  # per step

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        steps, sigma = int(rng.integers(self.steps[0], self.steps[1] + 1)), _uniform(rng, self.sigma)
        for _ in range(steps):
            frames = _blur(frames, sigma)
        return frames


@dataclass(frozen=True)
class ContentAware:
    """Semantic blur: edges and texture (large first derivatives) stay sharp, smooth regions get
    blurred up to the drawn maximum sigma. Saliency is the Sobel gradient magnitude of luma."""

    p: float = 0.0
    sigma: Range = (1.0, 2.5)  # the blur of the flattest regions

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        max_sigma = _uniform(rng, self.sigma)
        saliency = _normalised(kornia.filters.sobel(luma(frames)))  # (T, 1, h, w)
        # Dilated: the pixels on both sides of an edge stay sharp, not just the edge line.
        saliency = F.max_pool2d(saliency, 3, stride=1, padding=1)
        return _variable_blur(frames, max_sigma * (1 - saliency), max_sigma)


@dataclass(frozen=True)
class Adaptive:
    """Context-sensitive blur: repeated passes, each measuring local contrast (standard
    deviation of luma over a 5x5 neighbourhood) of the current image and blurring flat
    regions more than busy ones, with a strength drawn anew for each pass."""

    p: float = 0.0
    sigma: Range = (0.5, 1.5)  # maximum blur of a pass
    steps: tuple[int, int] = (1, 3)  # passes, drawn inclusive

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        for _ in range(int(rng.integers(self.steps[0], self.steps[1] + 1))):
            max_sigma = _uniform(rng, self.sigma)
            y = luma(frames)
            mean = F.avg_pool2d(y, 5, stride=1, padding=2, count_include_pad=False)
            mean_sq = F.avg_pool2d(y * y, 5, stride=1, padding=2, count_include_pad=False)
            contrast = _normalised((mean_sq - mean * mean).clamp_min(0).sqrt())
            frames = _variable_blur(frames, max_sigma * (1 - contrast), max_sigma)
        return frames


@dataclass(frozen=True)
class Jpeg:
    """Low-bandwidth compression: each frame JPEG-encoded and decoded (OpenCV's libjpeg, 4:2:0)
    at one quality drawn per window."""

    p: float = 0.0
    quality: tuple[int, int] = (30, 95)  # drawn inclusive

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        quality = int(rng.integers(self.quality[0], self.quality[1] + 1))
        rgb = (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (T, h, w, 3)
        decoded = []
        for frame in rgb:
            ok, encoded = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise RuntimeError("OpenCV could not JPEG-encode a frame")
            decoded.append(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])
        return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).float() / 255


@dataclass(frozen=True)
class VideoCodec:
    """What video compression does, beyond the paper's nine: the window encoded and decoded by
    a real codec (training.data.codec), so artifacts differ between I, P and B frames and
    move with the picture, as in real footage. One codec, quality, preset and chroma format
    per window; CRF for x264/x265, bits per pixel for mpeg2video/mpeg4 (DVD is about 0.48).
    List an entry several times to draw it more often."""

    p: float = 0.0
    codecs: tuple[str, ...] = ("libx264", "libx265", "mpeg2video", "mpeg4")
    crf: tuple[int, int] = (18, 34)  # drawn inclusive
    bits_per_pixel: Range = (0.15, 0.8)  # drawn log-uniformly
    presets: tuple[str, ...] = ("veryfast", "fast", "medium")
    pix_fmts: tuple[str, ...] = ("yuv420p",)

    def __post_init__(self) -> None:
        for name in self.codecs:
            if name not in codec.CODECS:
                raise ValueError(f"codecs: {name!r} is not one of {codec.CODECS}")
        for name in self.pix_fmts:
            if name not in codec.PIX_FMTS:
                raise ValueError(f"pix_fmts: {name!r} is not one of {codec.PIX_FMTS}")
        if not (self.codecs and self.presets and self.pix_fmts):
            raise ValueError("codecs, presets and pix_fmts must each list at least one value")
        if not 0 <= self.crf[0] <= self.crf[1] <= 51 or not 0 < self.bits_per_pixel[0] <= self.bits_per_pixel[1]:
            raise ValueError(f"crf must be a range within 0..51 and bits_per_pixel a positive range, not "
                             f"{self.crf} and {self.bits_per_pixel}")  # fmt: skip

    def draw(self, rng: np.random.Generator) -> codec.Encoding:
        name = self.codecs[int(rng.integers(len(self.codecs)))]
        crf = int(rng.integers(self.crf[0], self.crf[1] + 1))
        bpp = float(np.exp(rng.uniform(np.log(self.bits_per_pixel[0]), np.log(self.bits_per_pixel[1]))))
        preset = self.presets[int(rng.integers(len(self.presets)))]
        pix_fmt = self.pix_fmts[int(rng.integers(len(self.pix_fmts)))]
        if name in codec.RATE_CONTROLLED:
            return codec.Encoding(name, bits_per_pixel=round(bpp, 4), pix_fmt=pix_fmt)
        return codec.Encoding(name, crf=crf, preset=preset, pix_fmt=pix_fmt)

    def apply(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        rgb = (frames.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (T, h, w, 3)
        decoded = codec.roundtrip(rgb, self.draw(rng))
        return torch.from_numpy(decoded).permute(0, 3, 1, 2).float() / 255


Degradation = (
    GaussianBlur | GaussianNoise | ContrastBrightness | FrequencyGuided | CutBlur | Diffusion | ContentAware
    | Adaptive | Jpeg | VideoCodec
)  # fmt: skip
STAGES = ("lr", "hr")


@dataclass(frozen=True)
class Degradations:
    """All nine, applied in the paper's order, then the codec (compression comes last, as it
    does to real footage), each with its own chance `p` (0: never).

    `stage` (a YAML key older than the glossary: read it as "side") says which side of the
    downsampling: "lr" degrades the generator's input after downsampling (the default); "hr"
    degrades the HR frames before they are downsampled. Targets stay clean either way.
    """

    stage: str = "lr"
    blur: GaussianBlur = GaussianBlur()
    noise: GaussianNoise = GaussianNoise()
    contrast: ContrastBrightness = ContrastBrightness()
    frequency: FrequencyGuided = FrequencyGuided()
    cutblur: CutBlur = CutBlur()
    diffusion: Diffusion = Diffusion()
    content_aware: ContentAware = ContentAware()
    adaptive: Adaptive = Adaptive()
    jpeg: Jpeg = Jpeg()
    codec: VideoCodec = VideoCodec()

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {self.stage!r}")
        for name, degradation in self.each():
            if not 0 <= degradation.p <= 1:
                raise ValueError(f"{name}.p must be a probability in [0, 1], not {degradation.p}")

    def each(self) -> list[tuple[str, Degradation]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self) if f.name != "stage"]

    @property
    def active(self) -> bool:
        return any(d.p > 0 for _, d in self.each())

    def __call__(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """(T, 3, h, w) in [0, 1] -> the same shape, degraded, in [0, 1]."""
        # Each degradation draws from its own child stream, so changing one degradation's
        # settings never changes what another draws.
        streams = rng.spawn(len(self.each()))
        for (_, degradation), stream in zip(self.each(), streams):
            if stream.random() < degradation.p:
                frames = degradation.apply(frames, stream).clamp(0, 1)
        return frames
