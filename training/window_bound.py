"""How much a window of frames could add at x2, in principle: the linear MMSE bound.

An LR frame is the HR frame filtered by the downsampling kernel (Pillow's antialiased bicubic at
x2, as our data is made) and sampled every second pixel, then rounded to 8 bits. Sampling folds
each LR frequency u together with its three aliases u + (1/2, 0), (0, 1/2), (1/2, 1/2) (HR
cycles per pixel): one frame gives one equation for four unknowns per frequency, and only prior
knowledge of the spectrum can split them. A neighbour moved by a sub-pixel shift d gives another
equation in which each alias turns by its own phase exp(-2 pi i f.d), so a few frames with known
shifts can separate them. For Gaussian HR content with the power spectrum of real photos, the
best linear estimate from K frames has error covariance (S^-1 + M^H M / sigma^2)^-1 per LR
frequency (S the four aliases' powers, M the K x 4 matrix of filtered, phase-turned aliases,
sigma^2 the rounding noise), and its mean trace is the MSE.

It is a bound for linear estimators that know the motion exactly: a network also has priors
beyond second order (edges), and must find the motion itself. What it tells: whether the frames
hold the information at all, for our degradation and motion sizes.

    python -m training.window_bound
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from .data import sources

ROUNDING_NOISE = (1 / 255) ** 2 / 12  # variance of rounding to 8-bit levels
ALIASES = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5))


def bicubic_x2_response(f: np.ndarray) -> np.ndarray:
    """Frequency response (f in HR cycles per pixel) of Pillow's antialiased bicubic at x2 along
    one axis: Keys' cubic (a = -0.5) stretched to 8 HR taps around each LR sample's centre."""
    taps = np.arange(-4, 4) + 0.5
    d = np.abs(taps / 2)
    a = -0.5
    w = np.where(d < 1, (a + 2) * d**3 - (a + 3) * d**2 + 1, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a)
    w /= w.sum()
    return (w * np.exp(-2j * np.pi * f[..., None] * taps)).sum(-1)


def photo_spectrum(names: tuple[str, ...], reduce: float = 1.5, size: int = 256) -> np.ndarray:
    """Mean power spectrum (size x size, FFT order, variance units) of the grey photos `names`,
    reduced `reduce` times as the synthetic camera films them."""
    power, count, variance = np.zeros((size, size)), 0, []
    window = np.outer(np.hanning(size), np.hanning(size))
    for name in names:
        grey = Image.fromarray(sources.read_photo(name)).convert("L")
        grey = grey.resize((round(grey.width / reduce), round(grey.height / reduce)), Image.LANCZOS)
        pixels = np.asarray(grey, dtype=np.float64) / 255
        variance.append(pixels.var())
        for y in range(0, pixels.shape[0] - size + 1, size // 2):
            for x in range(0, pixels.shape[1] - size + 1, size // 2):
                patch = pixels[y : y + size, x : x + size]
                power += np.abs(np.fft.fft2((patch - patch.mean()) * window)) ** 2
                count += 1
    if not count:
        raise ValueError(f"no photo among {names} is {size} pixels on each side")
    return power / power.mean() * np.mean(variance)


def bound_psnr(spectrum: np.ndarray, shifts: list[tuple[float, float]], cells: int = 64) -> float:
    """PSNR (dB, signal range 1) of the best linear x2 estimate from frames moved by `shifts`
    (HR pixels, (x, y)), for HR content with power `spectrum`."""
    size = spectrum.shape[0]
    u = (np.arange(cells) + 0.5) / cells * 0.5 - 0.25  # the LR band, HR cycles per pixel
    fx, fy = np.meshgrid(u, u, indexing="ij")
    freqs = [(fx - np.sign(fx) * ax, fy - np.sign(fy) * ay) for ax, ay in ALIASES]  # each in [-1/2, 1/2)
    power = np.stack([spectrum[np.round(a * size).astype(int) % size, np.round(b * size).astype(int) % size]
                      for a, b in freqs], -1)  # fmt: skip
    response = np.stack([bicubic_x2_response(a) * bicubic_x2_response(b) for a, b in freqs], -1)
    turns = np.stack([np.stack([np.exp(-2j * np.pi * (a * dx + b * dy)) for a, b in freqs], -1) for dx, dy in shifts], -2)
    m = response[..., None, :] * turns  # (cells, cells, K, 4)
    precision = np.einsum("...ka,...kb->...ab", m.conj(), m) / ROUNDING_NOISE
    precision += np.eye(4) / power[..., None, :]
    mse = np.trace(np.linalg.inv(precision), axis1=-2, axis2=-1).real.mean() / 4
    return float(10 * np.log10(1 / mse))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.window_bound", description=__doc__.split("\n")[0])
    parser.add_argument("--pan", type=float, default=0.7, help="camera pan, HR pixels per frame (default 0.7)")
    args = parser.parse_args(argv)
    photos = tuple(u.source for u in sources.EVAL if not sources.SOURCES[u.source].is_video)
    spectrum = photo_spectrum(photos)
    print(f"linear MMSE bound at x2, bicubic-downsampled 8-bit frames, spectrum of {', '.join(photos)}:")
    print("| frames | motion | PSNR bound (grey) |\n|---|---|---:|")
    for frames, motion, shifts in (
        (1, "-", [(0.0, 0.0)]),
        (5, "pan 2 px/frame (whole LR pixels)", [(2.0 * t, 0.0) for t in range(-2, 3)]),
        (3, f"pan {args.pan} px/frame", [(args.pan * t, 0.6 * args.pan * t) for t in range(-1, 2)]),
        (5, f"pan {args.pan} px/frame", [(args.pan * t, 0.6 * args.pan * t) for t in range(-2, 3)]),
    ):
        print(f"| {frames} | {motion} | {bound_psnr(spectrum, shifts):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
