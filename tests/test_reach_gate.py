"""The neighbour reach gate (vsvsr.models.reach_gate): open where a neighbour holds the patch
within the reach, closed where it does not, and at its two extremes exactly the plain window
and exactly window 1."""

import pytest
import torch

from conftest import perturb_nonlocal
from vsvsr import models, weights
from vsvsr.models import reach_gate


def texture(h: int = 48, w: int = 64, seed: int = 0) -> torch.Tensor:
    """(3, h, w) independent pixel noise: no patch matches anything but itself."""
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def clip_of(*frames: torch.Tensor) -> torch.Tensor:
    return torch.stack(frames, 1)[None]  # (1, 3, T, h, w)


INSIDE = (..., slice(8, -8), slice(8, -8))  # away from the rolled-in border
# Pixel noise against itself moved: an exact match is 0 levels off, the pre-blur leaves the
# nearest wrong shift over 10 levels off. (The model's own levels are tuned on real footage.)
LEVELS = (2.0, 4.0)


def test_gate_opens_within_reach_and_closes_beyond():
    f = texture()
    gates = reach_gate.reach_gates(clip_of(f, torch.roll(f, 1, -1), torch.roll(f, 6, -1)), 1, LEVELS)
    assert gates.shape == (1, 3, 3, 48, 64)
    assert torch.equal(gates[0].diagonal(dim1=0, dim2=1), torch.ones(48, 64, 3))
    assert gates[0, 0, 1][INSIDE].min() == 1  # moved by 1 pixel: within the reach
    assert gates[0, 1, 2][INSIDE].mean() < 0.05  # moved by 5 more: nothing there matches
    assert torch.equal(gates[0, 0, 1], gates[0, 1, 0])  # one comparison serves both directions
    # Frames farther apart are as usable as the least usable step between them.
    assert torch.equal(gates[0, 0, 2], torch.minimum(gates[0, 0, 1], gates[0, 1, 2]))


def test_gate_needs_the_reach_for_the_move():
    f = texture()
    moved = clip_of(f, torch.roll(f, (2, -2), (-2, -1)))
    assert reach_gate.reach_gates(moved, 1, LEVELS)[0, 0, 1][INSIDE].mean() < 0.05
    assert reach_gate.reach_gates(moved, 2, LEVELS)[0, 0, 1][INSIDE].min() == 1


def gated_twin(model: torch.nn.Module, levels: tuple[float, float]) -> torch.nn.Module:
    twin = models.build("lite", neighbour_reach=1, reach_match=levels[0], reach_miss=levels[1])
    twin.load_state_dict(model.state_dict())
    return twin.eval()


@pytest.mark.parametrize("produce", [None, slice(1, 4)])
def test_open_gates_are_the_plain_window(produce):
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite")).eval()
    frames = torch.rand(1, 5, 3, 24, 30)
    with torch.no_grad():
        plain, gated = model(frames, produce), gated_twin(model, (1e6, 2e6))(frames, produce)
    assert (plain - gated).abs().max() < 1e-5


def test_closed_gates_are_window_1():
    """Every neighbour replaced by the frame itself in every layer that mixes frames: what the
    same weights give each frame alone."""
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite")).eval()
    frames = torch.rand(1, 5, 3, 24, 30)
    with torch.no_grad():
        closed = gated_twin(model, (-2.0, -1.0))(frames)
        alone = torch.cat([model(frames[:, t : t + 1]) for t in range(5)], 1)
        window = model(frames)
    assert (closed - alone).abs().max() < 1e-5
    assert (window - alone).abs().max() > 1e-2  # the window itself does differ


def lerped_conv(conv: torch.nn.Conv3d, x: torch.Tensor, gates: torch.Tensor, produce: range) -> torch.Tensor:
    """The gated convolution as defined: each output frame's three inputs built one by one."""
    t = x.shape[2]
    outputs = []
    for i in produce:
        before, after = x[:, :, max(i - 1, 0)], x[:, :, min(i + 1, t - 1)]
        own = x[:, :, i]
        inputs = [torch.lerp(own, before, gates[:, None, i, max(i - 1, 0)]), own,
                  torch.lerp(own, after, gates[:, None, i, min(i + 1, t - 1)])]  # fmt: skip
        outputs.append(torch.nn.functional.conv3d(torch.stack(inputs, 2), conv.weight, conv.bias, padding=(0, 1, 1)))
    return torch.cat(outputs, 2)


@pytest.mark.parametrize("produce", [range(5), range(1, 4), range(0, 2), range(3, 5)])
def test_partly_open_gates_convolve_the_gated_neighbours(produce):
    """The gated 3-frame convolution, computed from the gated steps between frames, equals its
    definition on the lerped neighbours wherever the gates are between 0 and 1 and at both
    held edges of the window."""
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(4, 6, (3, 3, 3), padding=(0, 1, 1))
    x = torch.rand(2, 4, 5, 9, 11)
    gates = reach_gate.reach_gates(torch.rand(2, 3, 5, 9, 11), 1, (5.0, 25.0))
    steps = torch.stack([gates[:, i, i + 1] for i in range(4)])
    assert ((steps > 0) & (steps < 1)).float().mean() > 0.8  # mostly part open
    with torch.no_grad():
        fast = reach_gate.gated_temporal_conv(conv, x, gates, produce)
        assert fast.shape == (2, 6, len(produce), 9, 11)
        assert (fast - lerped_conv(conv, x, gates, produce)).abs().max() < 1e-5


def test_a_lone_frame_has_nothing_to_gate():
    """Window 1 (or a one-frame clip) through a gated model is the plain model's window 1."""
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite")).eval()
    frame = torch.rand(1, 1, 3, 16, 20)
    with torch.no_grad():
        assert torch.equal(gated_twin(model, (10.0, 20.0))(frame), model(frame))


def test_gate_travels_in_the_weight_file(tmp_path):
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite", neighbour_reach=1, reach_match=4.0, reach_miss=8.0)).eval()
    loaded = weights.load(weights.save(model, tmp_path / "gated.safetensors", trained=False))
    assert (loaded.neighbour_reach, loaded.reach_levels) == (1, (4.0, 8.0))
    frames = torch.rand(1, 5, 3, 16, 20)
    with torch.no_grad():
        assert torch.equal(model(frames), loaded(frames))


def test_gated_model_trains_under_bf16_autocast():
    """Training's mixed precision on CPUs with native bf16: the float32 gates meet bf16
    features, and the result stays the float32 model's to bf16's precision."""
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite", neighbour_reach=1))
    frames = torch.rand(1, 3, 3, 16, 20)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(frames)
    mixed.float().mean().backward()
    with torch.no_grad():
        exact = model(frames)
    assert model.expand.weight.grad is not None
    assert (mixed.float() - exact).abs().max() < 0.05


@pytest.mark.parametrize("params, message", [
    ({"arch": "residual", "pairwise": "dot"}, "pairwise='local'"),
    ({"arch": "lite", "reach_match": 20.0, "reach_miss": 10.0}, "must be below"),
    ({"arch": "lite", "neighbour_reach": -1}, "must not be negative"),
])  # fmt: skip
def test_gate_rejects_what_it_cannot_gate(params, message):
    arch = params.pop("arch")
    with pytest.raises(ValueError, match=message):
        models.build(arch, **{"neighbour_reach": 1, **params})
