"""Each loss of training.losses on a case small enough to compute by hand."""

import math

import pytest
import torch

from training import losses
from training.config import LossConfig
from vsvsr import metrics


def image(rows, channels: int = 1) -> torch.Tensor:
    """(1, C, H, W) from nested lists, the same values in every channel."""
    return torch.tensor(rows, dtype=torch.float32).expand(1, channels, -1, -1).clone()


def delta(size: int = 3) -> torch.Tensor:
    """A single 1 in the middle of a size x size zero image, three channels."""
    x = torch.zeros(1, 3, size, size)
    x[..., size // 2, size // 2] = 1
    return x


def test_mse():
    assert losses.mse_loss(image([[0, 1], [2, 3]]), torch.zeros(1, 1, 2, 2)) == pytest.approx((0 + 1 + 4 + 9) / 4)


def test_charbonnier():
    # sqrt(3^2 + 4^2) = 5; identical images give eps.
    three, zero = torch.full((1, 1, 2, 2), 3.0), torch.zeros(1, 1, 2, 2)
    assert losses.charbonnier_loss(three, zero, eps=4.0) == pytest.approx(5.0)
    x = torch.rand(1, 3, 4, 4)
    assert losses.charbonnier_loss(x, x) == pytest.approx(1e-3)  # the default eps


@pytest.mark.parametrize("kernel, centre", [("von_neumann", -4.0), ("moore", -8.0)])
def test_laplacian(kernel, centre):
    # The 'valid' response of a 3x3 image is one value: the kernel's centre times the delta.
    assert losses.laplacian_loss(delta(), torch.zeros(1, 3, 3, 3), kernel) == pytest.approx(abs(centre))
    assert losses.laplacian_loss(delta(), torch.zeros(1, 3, 3, 3), kernel, kind="l2") == pytest.approx(centre**2)
    # Every kernel sums to zero: a constant image has no second derivative.
    assert losses.laplacian_loss(torch.full((1, 3, 5, 5), 0.7), torch.zeros(1, 3, 5, 5), kernel) == pytest.approx(
        0.0, abs=1e-6
    )


def test_sobel():
    # A vertical edge: horizontal response (-1*0 + 1*1) + (-2*0 + 2*1) + (-1*0 + 1*1) = 4,
    # vertical response 0.
    edge = image([[0, 0, 1], [0, 0, 1], [0, 0, 1]], 3)
    assert losses.sobel_loss(edge, torch.zeros_like(edge)) == pytest.approx(4.0)
    assert losses.sobel_loss(edge.transpose(-1, -2), torch.zeros_like(edge)) == pytest.approx(4.0)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_sobel_from_kornia_equals_the_hand_written_kernels(kind):
    """The loss takes kornia's Sobel kernels (as the degradations do): the same values as the
    hand-written [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] pair it replaced, on random images."""
    torch.manual_seed(0)
    pred, target = torch.rand(2, 3, 24, 20), torch.rand(2, 3, 24, 20)
    h = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    responses = [(losses.filter_channels(pred, k), losses.filter_channels(target, k)) for k in (h, h.T)]
    by_hand = sum(losses.distance(p, t, kind) for p, t in responses)
    assert losses.sobel_loss(pred, target, kind).item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_ricker_kernel_is_the_papers():
    k = losses.ricker_kernel(0.55)
    assert k[1, 1].item() == pytest.approx(3.4786, abs=1e-4)  # 1 / (pi 0.55^4)
    s2 = 0.55**2
    edge = 1 / (math.pi * s2 * s2) * (1 - 1 / (2 * s2)) * math.exp(-1 / (2 * s2))  # r = 1
    corner = 1 / (math.pi * s2 * s2) * (1 - 2 / (2 * s2)) * math.exp(-2 / (2 * s2))  # r = sqrt 2
    assert k[0, 1].item() == pytest.approx(edge, rel=1e-6) and k[0, 0].item() == pytest.approx(corner, rel=1e-6)
    assert torch.equal(k, k.flip(0)) and torch.equal(k, k.T)
    assert losses.ricker_loss(delta(), torch.zeros(1, 3, 3, 3)) == pytest.approx(3.4786, abs=1e-4)


def test_gradient():
    # [[0, 1], [2, 4]]: x differences 1 and 2 (mean 1.5), y differences 2 and 3 (mean 2.5).
    assert losses.gradient_loss(image([[0, 1], [2, 4]]), torch.zeros(1, 1, 2, 2)) == pytest.approx(4.0)


def test_laplacian_pyramid():
    x = torch.rand(2, 3, 16, 16)
    bands = losses.laplacian_pyramid(x, 3)
    assert [tuple(b.shape[-2:]) for b in bands] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    # Burt-Adelson expansion reproduces constants exactly, so a constant has no detail bands and
    # the loss between two constants is their difference in the residual alone.
    flat = losses.laplacian_pyramid(torch.full((1, 3, 16, 16), 0.5), 3)
    assert all(b.abs().max() < 1e-6 for b in flat[:-1]) and torch.allclose(flat[-1], torch.tensor(0.5))
    assert losses.pyramid_loss(torch.ones(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), 3) == pytest.approx(1.0)
    # The bands rebuild the image: G_k = L_k + expand(G_{k+1}).
    rebuilt = bands[-1]
    for band in reversed(bands[:-1]):
        expanded = torch.zeros_like(band)
        expanded[..., ::2, ::2] = rebuilt
        rebuilt = band + 4 * losses.pyramid_blur(expanded)
    assert torch.allclose(rebuilt, x, atol=1e-5)


def test_ssim_of_constants():
    # Constant images: SSIM = (2ab + c1) / (a^2 + b^2 + c1), with c1 = 0.01^2.
    a, b, c1 = 0.5, 0.25, 1e-4
    expected = 1 - (2 * a * b + c1) / (a * a + b * b + c1)
    flat_a, flat_b = torch.full((1, 3, 16, 16), a), torch.full((1, 3, 16, 16), b)
    assert losses.ssim_loss(flat_a, flat_b) == pytest.approx(expected, rel=1e-4)
    x = torch.rand(1, 3, 16, 16)
    assert losses.ssim_loss(x, x) == pytest.approx(0.0, abs=1e-6)


def test_perceptual_is_the_mean_l1_of_vgg_features():
    loss = losses.PerceptualLoss()
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    fx, fy = loss.taps(x), loss.taps(y)
    assert [f.shape[1] for f in fx] == [128, 256, 512]  # relu2_2, relu3_3, relu4_3
    expected = sum((a - b).abs().mean() for a, b in zip(fx, fy)) / 3
    assert loss(x, y).item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss(x, x).item() == 0.0


def test_lpips_loss_is_the_metric_with_gradients():
    x, y = torch.rand(2, 3, 32, 32, requires_grad=True), torch.rand(2, 3, 32, 32)
    value = losses.LpipsLoss(torch.device("cpu"))(x, y)
    assert value.item() == pytest.approx(metrics.lpips(x.detach(), y).mean().item(), rel=1e-5)
    value.backward()
    assert x.grad.abs().sum() > 0


def test_adversarial_losses():
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731  BCE-with-logits of a real target: softplus(-x)
    zeros = torch.zeros(2, 1, 4, 4)
    assert losses.generator_adversarial_loss(zeros, zeros, "vanilla").item() == pytest.approx(math.log(2))
    assert losses.discriminator_loss(zeros, zeros, "vanilla").item() == pytest.approx(math.log(2))
    # Relativistic, with real logits 2 and fake logits 0 everywhere:
    # G: (BCE(2 - 0, fake) + BCE(0 - 2, real)) / 2 = softplus(2); D: (BCE(2, real) + BCE(-2, fake)) / 2 = softplus(-2).
    real, fake = torch.full((2, 1, 4, 4), 2.0), zeros
    assert losses.generator_adversarial_loss(fake, real, "relativistic").item() == pytest.approx(softplus(2))
    assert losses.discriminator_loss(real, fake, "relativistic").item() == pytest.approx(softplus(-2))


def test_temporal_loss_sees_how_frames_change_not_what_they_are():
    # Ground truth brightening by 0.5 a frame; eps 1e-6, so the loss is the mean |change error|.
    truth = torch.arange(3.0).mul(0.5).view(1, 3, 1, 1, 1).expand(2, 3, 3, 4, 4)  # (B, T, 3, H, W)
    # An output off by the same 0.2 in every frame changes as the truth does: no temporal loss,
    # though its per-frame loss is 0.2.
    assert losses.temporal_loss(truth + 0.2, truth, eps=1e-6) == pytest.approx(0.0, abs=1e-5)
    # A still output (too steady) misses each change by 0.5; one that flickers +-0.1 by 0.2.
    still = truth[:, :1].expand_as(truth)
    assert losses.temporal_loss(still, truth, eps=1e-6) == pytest.approx(0.5)
    flicker = truth + torch.tensor([0.1, -0.1, 0.1]).view(1, 3, 1, 1, 1)
    assert losses.temporal_loss(flicker, truth, eps=1e-6) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="T >= 2"):
        losses.temporal_loss(truth[:, :1], truth[:, :1])


def test_criterion_weighs_the_active_losses():
    config = LossConfig(charbonnier=2.0, sobel=0.5, charbonnier_eps=1e-3)
    criterion = losses.Criterion(config, torch.device("cpu"))
    pred, target = torch.rand(2, 3, 3, 16, 16), torch.rand(2, 3, 3, 16, 16)  # (B, T, 3, H, W)
    flat_p, flat_t = pred.flatten(0, 1), target.flatten(0, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = criterion(pred, target)
    assert set(terms) == {"charbonnier", "sobel"} and all(t.dtype == torch.float32 for t in terms.values())
    assert terms["charbonnier"].item() == pytest.approx(2.0 * losses.charbonnier_loss(flat_p, flat_t).item(), rel=1e-6)
    assert terms["sobel"].item() == pytest.approx(0.5 * losses.sobel_loss(flat_p, flat_t).item(), rel=1e-6)


def test_criterion_takes_the_temporal_loss_over_each_window():
    criterion = losses.Criterion(LossConfig(charbonnier=1.0, temporal=0.5), torch.device("cpu"))
    pred, target = torch.rand(2, 3, 3, 8, 8), torch.rand(2, 3, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = criterion(pred, target)
    assert set(terms) == {"charbonnier", "temporal"} and terms["temporal"].dtype == torch.float32
    assert terms["temporal"].item() == pytest.approx(0.5 * losses.temporal_loss(pred, target).item(), rel=1e-6)
    # Frames of different windows are never differenced (as they would be once flattened).
    joined = losses.temporal_loss(pred.flatten(0, 1)[None], target.flatten(0, 1)[None])
    assert terms["temporal"].item() != pytest.approx(0.5 * joined.item(), rel=1e-3)
