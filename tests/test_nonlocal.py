import math

import pytest
import torch
import torch.nn.functional as F

from vsvsr.models import NonLocalBlock3d


def quadratic_reference(block: NonLocalBlock3d, x: torch.Tensor) -> torch.Tensor:
    """The textbook form (paper Eq. 9-13): the full N x N affinity, in float64."""
    b, c, t, h, w = x.shape
    flat = x.reshape(b, c, -1).double()
    theta, phi, g = (F.conv1d(flat, m.weight.double(), m.bias.double()) for m in (block.theta, block.phi, block.g))
    affinity = theta.transpose(1, 2) @ phi  # (B, N, N): f(x_i, x_j)
    keep = torch.ones_like(affinity[:, :1, :])
    if block.pairwise == "local":  # only keys within the neighbourhood of the query's place
        r = block.neighbourhood // 2
        ys, xs = (v.flatten().repeat(t) for v in torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"))
        keep = keep * (((ys[:, None] - ys[None]).abs() <= r) & ((xs[:, None] - xs[None]).abs() <= r)).double()
    if block.pairwise == "dot":
        weights = affinity * keep / keep.sum(dim=-1, keepdim=True)  # C(x) = N real positions
    else:
        weights = torch.softmax(affinity.masked_fill(keep == 0, -math.inf), dim=-1)
    y = g @ weights.transpose(1, 2)  # (B, C', N)
    out = F.conv1d(y, block.project.weight.double(), block.project.bias.double())
    return (flat + out).reshape(b, c, t, h, w)


def perturbed(block: NonLocalBlock3d) -> NonLocalBlock3d:
    """A fresh block is the identity; give its output projection weights so it computes something."""
    torch.nn.init.normal_(block.project.weight, std=0.5)
    torch.nn.init.normal_(block.project.bias, std=0.1)
    return block


@pytest.mark.parametrize("shape", [(2, 8, 1, 5, 7), (1, 8, 3, 6, 5), (2, 8, 5, 4, 9)])
def test_linear_dot_product_equals_quadratic_oracle(shape):
    torch.manual_seed(0)
    block = perturbed(NonLocalBlock3d(shape[1], 4))
    x = torch.randn(shape)
    with torch.no_grad():
        fast = block(x)
    assert torch.allclose(fast.double(), quadratic_reference(block, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pairwise, neighbourhood", [("embedded_gaussian", 5), ("local", 3), ("local", 5)])
def test_embedded_gaussian_equals_quadratic_oracle(pairwise, neighbourhood):
    torch.manual_seed(1)
    block = perturbed(NonLocalBlock3d(8, 4, pairwise=pairwise, neighbourhood=neighbourhood))
    x = torch.randn(2, 8, 3, 5, 6) * 0.5
    with torch.no_grad():
        assert torch.allclose(block(x).double(), quadratic_reference(block, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pairwise", ["dot", "embedded_gaussian", "local"])
def test_fresh_block_is_identity(pairwise):
    x = torch.randn(2, 16, 3, 4, 5)
    with torch.no_grad():
        assert torch.equal(NonLocalBlock3d(16, pairwise=pairwise)(x), x)


@pytest.mark.parametrize("pairwise", ["dot", "local"])
def test_mixes_across_time(pairwise):
    """Positive control for the temporal path: changing frame 2 changes the output at frame 0."""
    torch.manual_seed(3)
    block = perturbed(NonLocalBlock3d(8, 4, pairwise=pairwise))
    x = torch.randn(1, 8, 3, 4, 4)
    y = x.clone()
    y[:, :, 2] += 1.0
    with torch.no_grad():
        assert not torch.allclose(block(x)[:, :, 0], block(y)[:, :, 0])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_stays_finite_on_large_windows(dtype):
    """The sum over N = 20480 positions is normalised before it is formed, so fp16 cannot overflow."""
    torch.manual_seed(4)
    block = perturbed(NonLocalBlock3d(16, 8))
    x = torch.randn(1, 16, 5, 64, 64) * 8
    with torch.no_grad():
        ref = block(x)
        low = block.to(dtype)(x.to(dtype)).float()
    assert torch.isfinite(low).all()
    assert (low - ref).abs().max() < 0.05 * ref.abs().max()


def test_local_attention_sees_its_neighbourhood_in_every_frame_and_nothing_else():
    torch.manual_seed(5)
    block = perturbed(NonLocalBlock3d(8, 4, pairwise="local", neighbourhood=3))
    x = torch.randn(1, 8, 3, 7, 7)
    with torch.no_grad():
        base = block(x)[0, :, 0, 3, 3]  # frame 0, centre place
        for (dy, dx), seen in (((1, 1), True), ((0, 2), False), ((2, 0), False)):
            y = x.clone()
            y[0, :, 2, 3 + dy, 3 + dx] += 3.0  # another frame, that far from the centre
            assert torch.allclose(block(y)[0, :, 0, 3, 3], base) != seen, (dy, dx)
