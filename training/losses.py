"""The paper's losses (3.1.7), as its issue defines them (the extracted text lost the equations).

Image losses take `pred` and `target` of shape (N, 3, H, W) in [0, 1] and return a scalar,
averaged over everything. Edge losses filter both images with a fixed kernel per channel (no
padding: borders would add edges that are not in the picture) and compare the responses with
L1 or L2. `Criterion` weighs a phase's losses; the adversarial losses work on the per-pixel
logits of vsvsr's U-Net discriminator and are combined by training.steps.
"""

from __future__ import annotations

import functools
import math

import kornia
import torch
import torch.nn.functional as F
from torch import nn

from vsvsr import metrics
from vsvsr.backbones import IMAGENET_MEAN, IMAGENET_STD, vgg16_features

from .config import LossConfig

LAPLACIAN_KERNELS = {
    "von_neumann": ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0)),  # the 4 orthogonal neighbours
    "moore": ((1.0, 1.0, 1.0), (1.0, -8.0, 1.0), (1.0, 1.0, 1.0)),  # all 8 neighbours
}
# 5x5 Gaussian of the Laplacian pyramid: the binomial [1, 4, 6, 4, 1] / 16, separable.
PYRAMID_TAPS = (1.0, 4.0, 6.0, 4.0, 1.0)
# VGG16 `features` indices of relu2_2, relu3_3 and relu4_3: texture at three scales.
PERCEPTUAL_LAYERS = (8, 15, 22)


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean (x - y)^2 (paper Eq. 20)."""
    return (pred - target).square().mean()


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """mean sqrt((x - y)^2 + eps^2) (Eq. 21): L2 near zero, L1 for large errors."""
    return ((pred - target).square() + eps * eps).sqrt().mean()


def temporal_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier of the frame-to-frame changes, ``(x_t - x_{t-1}) - (y_t - y_{t-1})``, over the
    window's frames ((..., T, 3, H, W), T >= 2). The per-frame losses say nothing of how errors
    move: a window model that keeps its neighbours' texture where the truth changes (too steady,
    tLP's sign) or lets its error jump from frame to frame (flicker) pays here and nowhere else."""
    if pred.ndim < 5 or pred.shape[-4] < 2:
        raise ValueError(f"temporal loss: needs (..., T, 3, H, W) with T >= 2, got shape {tuple(pred.shape)}")
    return charbonnier_loss(pred.diff(dim=-4), target.diff(dim=-4), eps)


def distance(a: torch.Tensor, b: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Mean absolute ("l1") or squared ("l2") difference."""
    return (a - b).abs().mean() if kind == "l1" else (a - b).square().mean()


def filter_channels(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Each channel of (N, C, H, W) correlated with one 2-D kernel, 'valid' region only."""
    c = images.shape[1]
    weight = kernel.to(images).expand(c, 1, *kernel.shape)  # (C, 1, kh, kw)
    return F.conv2d(images, weight, groups=c)


def _kernel(rows: tuple[tuple[float, ...], ...]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def laplacian_loss(
    pred: torch.Tensor, target: torch.Tensor, kernel: str = "von_neumann", kind: str = "l1"
) -> torch.Tensor:
    """Distance between the Laplacians (second derivatives) of both images, with the von
    Neumann [[0,1,0],[1,-4,1],[0,1,0]] or the Moore [[1,1,1],[1,-8,1],[1,1,1]] kernel."""
    k = _kernel(LAPLACIAN_KERNELS[kernel])
    return distance(filter_channels(pred, k), filter_channels(target, k), kind)


def sobel_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Distance between Sobel responses, horizontal plus vertical: kornia's unnormalised Sobel
    kernels (the degradations' saliency uses kornia's Sobel too), without its border padding."""
    return sum(distance(filter_channels(pred, k), filter_channels(target, k), kind) for k in _sobel_kernels())


@functools.cache
def _sobel_kernels() -> tuple[torch.Tensor, torch.Tensor]:
    """[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] (d/dx) and its transpose (d/dy)."""
    return tuple(kornia.filters.get_spatial_gradient_kernel2d("sobel", 1))


def ricker_kernel(sigma: float = 0.55, size: int = 3) -> torch.Tensor:
    """The 2-D Ricker (Mexican hat) wavelet on a size x size grid:
    psi(r) = 1 / (pi sigma^4) (1 - r^2 / (2 sigma^2)) exp(-r^2 / (2 sigma^2)).
    With sigma = 0.55 on 3x3 its centre is 1 / (pi 0.55^4) = 3.4786, the paper's number."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    r2 = offsets.view(-1, 1) ** 2 + offsets.view(1, -1) ** 2
    s2 = sigma * sigma
    return (1 / (math.pi * s2 * s2) * (1 - r2 / (2 * s2)) * torch.exp(-r2 / (2 * s2))).float()


def ricker_loss(pred: torch.Tensor, target: torch.Tensor, sigma: float = 0.55, kind: str = "l1") -> torch.Tensor:
    """Distance between the images filtered with the Ricker wavelet (a band-pass edge detector)."""
    k = ricker_kernel(sigma)
    return distance(filter_channels(pred, k), filter_channels(target, k), kind)


def gradient_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Distance between first-order finite differences, along x plus along y."""

    def dx(x: torch.Tensor) -> torch.Tensor:
        return x[..., :, 1:] - x[..., :, :-1]

    def dy(x: torch.Tensor) -> torch.Tensor:
        return x[..., 1:, :] - x[..., :-1, :]

    return distance(dx(pred), dx(target), kind) + distance(dy(pred), dy(target), kind)


def pyramid_blur(images: torch.Tensor) -> torch.Tensor:
    """The 5x5 Gaussian (binomial) blur, borders reflected so the size is kept."""
    taps = torch.tensor(PYRAMID_TAPS, dtype=torch.float32) / 16
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    return filter_channels(filter_channels(padded, taps.view(1, -1)), taps.view(-1, 1))


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[L_0, ..., L_{levels-1}, G_levels]: G_0 is the image, G_{k+1} = blur(G_k) taken at every
    second pixel, L_k = G_k - upsample(G_{k+1}) the detail lost in between (the upsampling is
    Burt and Adelson's: zeros between the samples, then the same blur times 4)."""
    bands, current = [], images
    for _ in range(levels):
        if min(current.shape[-2:]) < 3:  # nothing left to reflect-pad
            break
        smaller = pyramid_blur(current)[..., ::2, ::2]
        expanded = torch.zeros_like(current)
        expanded[..., ::2, ::2] = smaller
        bands.append(current - 4 * pyramid_blur(expanded))
        current = smaller
    return bands + [current]


def pyramid_loss(pred: torch.Tensor, target: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Sum over pyramid levels of the mean L1 distance of their bands (fine to coarse)."""
    pairs = zip(laplacian_pyramid(pred, levels), laplacian_pyramid(target, levels))
    return sum(distance(a, b) for a, b in pairs)


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (vsvsr.metrics' differentiable SSIM, per RGB channel, 11-tap Gaussian window)."""
    return 1 - metrics.ssim_rgb(pred, target).mean()


@functools.cache
def _vgg16_trunk(layers: int) -> nn.Sequential:
    """The first `layers` layers of the frozen VGG16, built once per process: building it
    initialises torchvision's whole VGG16 (138M parameters) before loading the weights, which
    takes seconds. Frozen weights are safe to share between losses (one device per process)."""
    return vgg16_features()[:layers]


class PerceptualLoss(nn.Module):
    """Mean L1 distance between VGG16 features (relu2_2, relu3_3, relu4_3) of both images, with
    the offline ImageNet weights of vsvsr.backbones (no VGG19 exists offline; DESIGN.md)."""

    def __init__(self, layers: tuple[int, ...] = PERCEPTUAL_LAYERS) -> None:
        super().__init__()
        self.layers = layers
        self.features = _vgg16_trunk(max(layers) + 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        x, out = (images - self.mean) / self.std, []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.layers:
                out.append(x)
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # One pass over both halves: half the calls, the same numbers.
        features = self.taps(torch.cat([pred, target.detach()]))
        return sum(distance(*f.float().chunk(2)) for f in features) / len(features)


class LpipsLoss:
    """LPIPS (AlexNet, v0.1) as a loss: the metric's network, with gradients to the images.

    vsvsr.metrics.lpips runs under no_grad; its cached per-device network (frozen weights) is
    what a loss needs, so one network serves metric and loss. It is deliberately not a
    submodule: moving a Criterion must not move the metric's cached network.
    """

    def __init__(self, device: torch.device) -> None:
        self.net = metrics.lpips_model("alex", str(device))

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.net(pred, target, normalize=True).mean()


def generator_adversarial_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor, gan_type: str) -> torch.Tensor:
    """What G minimises. vanilla: -log D(fake). relativistic (ESRGAN's RaGAN): real should look
    less real than the average fake and fake more real than the average real, with
    D_Ra(a, b) = sigmoid(C(a) - mean C(b)). `real_logits` must carry no gradient to D."""
    if gan_type == "vanilla":
        return _bce(fake_logits, True)
    return (_bce(real_logits - fake_logits.mean(), False) + _bce(fake_logits - real_logits.mean(), True)) / 2


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, gan_type: str) -> torch.Tensor:
    """What D minimises, on logits of real images and of detached fakes."""
    if gan_type == "vanilla":
        return (_bce(real_logits, True) + _bce(fake_logits, False)) / 2
    return (_bce(real_logits - fake_logits.mean(), True) + _bce(fake_logits - real_logits.mean(), False)) / 2


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


# The losses computed on pixels (not through a network), by config weight name.
PIXEL_LOSSES = {
    "mse": lambda p, t, c: mse_loss(p, t),
    "charbonnier": lambda p, t, c: charbonnier_loss(p, t, c.charbonnier_eps),
    "laplacian": lambda p, t, c: laplacian_loss(p, t, c.laplacian_kernel, c.edge_distance),
    "sobel": lambda p, t, c: sobel_loss(p, t, c.edge_distance),
    "ricker": lambda p, t, c: ricker_loss(p, t, kind=c.edge_distance),
    "pyramid": lambda p, t, c: pyramid_loss(p, t, c.pyramid_levels),
    "gradient": lambda p, t, c: gradient_loss(p, t, c.edge_distance),
    "ssim": lambda p, t, c: ssim_loss(p, t),
}


class Criterion(nn.Module):
    """The weighted non-adversarial losses of one phase: `(pred, target) -> {name: weighted loss}`
    for (..., T, 3, H, W) windows of frames (the leading dims are flattened into the batch for all
    but the temporal loss)."""

    def __init__(self, config: LossConfig, device: torch.device) -> None:
        super().__init__()
        self.config = config
        self.perceptual = PerceptualLoss().to(device) if config.perceptual > 0 else None
        self.lpips = LpipsLoss(device) if config.lpips > 0 else None

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        terms = {}
        # Pixel and edge losses in float32 even under autocast: bf16 filter responses of two
        # nearly equal images differ mostly by rounding.
        with torch.autocast(pred.device.type, enabled=False):
            p32, t32 = pred.float(), target.float()
            if c.temporal > 0:  # on the window's frames, before they are flattened into the batch
                terms["temporal"] = c.temporal * temporal_loss(p32, t32, c.charbonnier_eps)
            p32, t32 = p32.flatten(0, -4), t32.flatten(0, -4)
            for name, loss in PIXEL_LOSSES.items():
                if getattr(c, name) > 0:
                    terms[name] = getattr(c, name) * loss(p32, t32, c)
        pred, target = pred.flatten(0, -4), target.flatten(0, -4)  # (N, 3, H, W)
        if self.perceptual is not None:
            terms["perceptual"] = c.perceptual * self.perceptual(pred, target)
        if self.lpips is not None:
            terms["lpips"] = c.lpips * self.lpips(pred, target)
        return terms
