"""The patch cascade and the two halves of a training step: exact patch grids, x4 cascade
shapes, batched patches = one at a time, gradients accumulated over stages and clipped, and
no gradient crossing between G's and D's steps."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training.cascade import PatchGrid, Stage, keep_every, run_stage, stages_of
from training.config import CascadeConfig, LossConfig
from training.losses import Criterion
from training.steps import Amp, discriminator_step, generator_step
from vsvsr import models

B, T = 2, 3


def tiny_g() -> torch.nn.Module:
    torch.manual_seed(0)
    return models.build("lite", num_feat=16, num_blocks=1, nonlocal_inner=8)


def batch(hr_side: int = 32) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    hr = torch.rand(B, T, 3, hr_side, hr_side)
    return {"hr": hr, "lr": F.avg_pool3d(hr, (1, 2, 2)), "lr4": F.avg_pool3d(hr, (1, 4, 4)),
            "hr_half": F.avg_pool3d(hr, (1, 2, 2))}  # fmt: skip


class NearestX2(torch.nn.Module):
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.repeat_interleave(2, -1).repeat_interleave(2, -2)


def test_split_and_assemble_are_exact_inverses():
    images = torch.rand(B, T, 3, 24, 40)
    grid = PatchGrid.over(24, 40, 8)
    patches = grid.split(images)
    assert patches.shape == (B * 15, T, 3, 8, 8)
    assert torch.equal(grid.assemble(patches), images)
    # Row-major order: patch (row 1, col 2) of the second image.
    assert torch.equal(patches[15 + 1 * 5 + 2], images[1, :, :, 8:16, 16:24])
    # Assembling upscaled patches equals upscaling the whole image (for a pointwise upscaler).
    assert torch.equal(grid.assemble(NearestX2()(patches)), NearestX2()(images))
    with pytest.raises(ValueError, match="whole number"):
        PatchGrid.over(24, 40, 16)


def test_stride_keeps_every_nth_patch():
    patches = torch.arange(2 * 6).float().view(12, 1, 1, 1, 1)  # two images of six patches
    kept = keep_every(patches, 6, stride=2, offset=1)
    assert kept.flatten().tolist() == [1, 3, 5, 7, 9, 11]
    assert keep_every(patches, 6, 4, 6).flatten().tolist() == [2, 8]  # offsets wrap; per image


def test_x2_stage_output():
    (output,) = run_stage(NearestX2(), Stage(2, 8), batch())
    assert output.pred_patches.shape == output.target_patches.shape == (B * 4, T, 3, 16, 16)
    assert output.pred_image.shape == (B, T, 3, 32, 32) and torch.equal(output.target_image, batch()["hr"])
    (strided,) = run_stage(NearestX2(), Stage(2, 8), batch(), stride=3, offset=0)
    assert strided.patches == 2 and strided.pred_patches.shape[0] == B * 2 and strided.pred_image is None


def test_x4_cascade_shapes():
    g = tiny_g()
    mid, final = run_stage(g, Stage(4, 4), batch())  # LR4 8x8 as 2x2 patches of 4: 4 -> 8 -> 16
    assert mid.pred_patches.shape == (B * 4, T, 3, 8, 8) and mid.pred_image.shape == (B, T, 3, 16, 16)
    assert final.pred_patches.shape == (B * 4, T, 3, 16, 16) and final.pred_image.shape == (B, T, 3, 32, 32)
    assert torch.equal(mid.target_image, batch()["hr_half"]) and torch.equal(final.target_image, batch()["hr"])
    assert [s.name for s in stages_of(CascadeConfig(x2=(16, 32), x4=(16,)))] == ["x2/16", "x2/32", "x4/16"]


def test_batched_patches_equal_one_patch_at_a_time():
    g = tiny_g()
    lr = batch()["lr"]
    grid = PatchGrid.over(16, 16, 8)
    with torch.no_grad():
        batched = g(grid.split(lr))
        single = torch.cat([g(p[None]) for p in grid.split(lr)])
    assert torch.allclose(batched, single, atol=1e-6)


def step_parts(adversarial: float = 0.0):
    cascade = CascadeConfig(x2=(8, 16), x4=(8,), patch_losses="sum")
    losses = LossConfig(charbonnier=1.0, sobel=0.1, adversarial=adversarial)
    return cascade, losses, Criterion(losses, torch.device("cpu"))


def grads(net: torch.nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in net.parameters()]


def test_gradients_accumulate_over_stages_into_one_update():
    """The per-stage backward passes add up to the gradient of the summed loss."""
    cascade, losses, criterion = step_parts()
    g = tiny_g()
    frozen = torch.optim.SGD(g.parameters(), lr=0.0)  # the step changes nothing: grads stay readable
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    result, fakes = generator_step(g, None, batch(), stages_of(cascade), cascade, criterion, losses, Amp("cpu"),
                                   frozen, scaler, 0.0, np.random.default_rng(0))  # fmt: skip
    assert fakes == [] and set(result.terms) == {"charbonnier", "sobel"}
    accumulated = grads(g)

    g.zero_grad()
    total = 0
    for stage in stages_of(cascade):
        for output in run_stage(g, stage, batch()):
            for pred, target, factor in ((output.pred_patches, output.target_patches, output.patches),
                                         (output.pred_image, output.target_image, 1.0)):  # fmt: skip
                total = total + factor * sum(criterion(pred, target).values())
    total.backward()
    assert result.loss == pytest.approx(total.item(), rel=1e-5)
    assert all(torch.allclose(a, p.grad, rtol=1e-4, atol=1e-7) for a, p in zip(accumulated, g.parameters()))


def test_gradients_are_clipped_before_the_step():
    cascade, losses, criterion = step_parts()
    g = tiny_g()
    result, _ = generator_step(g, None, batch(), stages_of(cascade), cascade, criterion, losses, Amp("cpu"),
                               torch.optim.SGD(g.parameters(), lr=0.0), torch.amp.GradScaler("cpu", enabled=False),
                               0.01, np.random.default_rng(0))  # fmt: skip
    clipped = torch.cat([p.grad.flatten() for p in g.parameters() if p.grad is not None]).norm()
    assert result.grad_norm > 0.01 and clipped.item() == pytest.approx(0.01, rel=1e-4)


def test_g_and_d_steps_keep_their_gradients_apart():
    cascade, losses, criterion = step_parts(adversarial=0.1)
    g, d = tiny_g(), models.UNetDiscriminator(8)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    optim_g, optim_d = torch.optim.SGD(g.parameters(), lr=0.0), torch.optim.SGD(d.parameters(), lr=0.0)
    d.zero_grad()
    result, fakes = generator_step(g, d, batch(), stages_of(cascade), cascade, criterion, losses, Amp("cpu"), optim_g,
                                   scaler, 0.0, np.random.default_rng(0))  # fmt: skip
    assert "adversarial" in result.terms
    assert all(p.grad is None for p in d.parameters())  # G's losses put nothing into D
    assert all(p.requires_grad for p in d.parameters())  # and D trains again afterwards
    # x2/8: patches and image; x2/16, and both x4/8 outputs: one patch each, the image itself.
    assert len(fakes) == 5 and all(not f.pred.requires_grad for f in fakes)
    g_grads = grads(g)
    assert any(gr is not None and gr.abs().sum() > 0 for gr in g_grads)

    d_result = discriminator_step(d, fakes, "relativistic", Amp("cpu"), optim_d, scaler, 0.0)
    assert d_result.loss > 0 and all(p.grad is not None for p in d.parameters())
    # D's loss put nothing into G.
    assert all((a is None and p.grad is None) or torch.equal(a, p.grad) for a, p in zip(g_grads, g.parameters()))


def test_bf16_autocast_step_runs():
    cascade, losses, criterion = step_parts()
    g = tiny_g()
    result, _ = generator_step(g, None, batch(), stages_of(cascade), cascade, criterion, losses,
                               Amp("cpu", torch.bfloat16), torch.optim.Adam(g.parameters(), 1e-3),
                               torch.amp.GradScaler("cpu", enabled=False), 1.0, np.random.default_rng(0))  # fmt: skip
    assert np.isfinite(result.loss) and result.grad_norm > 0
