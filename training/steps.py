"""One training iteration's two halves: the generator step and the discriminator step.

The GAN logic lives here, apart from the networks (vsvsr.models) and the loop
(training.trainer). Gradients never cross between the two steps: during G's step D's weights
do not require gradients (so G's losses put nothing into D's .grad), and D's step sees only
detached fakes (so D's loss puts nothing into G's .grad). Each step accumulates the gradients
of every cascade stage (3.2, Eq. 22), clips their norm, and updates once (Eq. 23).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from .cascade import Stage, StageOutput, run_stage
from .config import CascadeConfig, LossConfig
from .losses import Criterion, discriminator_loss, generator_adversarial_loss


@dataclass(frozen=True)
class Amp:
    """Mixed precision: the autocast dtype (None: float32) on a device type."""

    device_type: str
    dtype: torch.dtype | None = None

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    @property
    def needs_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 has fp32's range."""
        return self.dtype == torch.float16


@dataclass(frozen=True)
class Scored:
    """One thing a loss is computed on: generated and real images and the term's weight."""

    pred: torch.Tensor
    target: torch.Tensor
    factor: float


@dataclass(frozen=True)
class StepResult:
    terms: dict[str, float]  # weighted losses by name, summed over stages, their outputs and parts
    loss: float
    grad_norm: float  # before clipping


def scored_parts(output: StageOutput, cascade: CascadeConfig) -> list[Scored]:
    """A stage output's per-patch and assembled terms with their weights. Per-patch losses are
    means over one patch; "sum" accumulates them over the patches of an image as the paper does."""
    per_patch = cascade.patch_weight * (output.patches if cascade.patch_losses == "sum" else 1)
    if output.patches == 1 and output.pred_image is not None:
        # A one-patch grid: the patch is the assembled image, so one term carries both weights.
        parts = [Scored(output.pred_image, output.target_image, per_patch + cascade.assembled_weight)]
    else:
        parts = [Scored(output.pred_patches, output.target_patches, per_patch)]
        if output.pred_image is not None:
            parts.append(Scored(output.pred_image, output.target_image, cascade.assembled_weight))
    return [p for p in parts if p.factor > 0]


def unwrap(net: torch.nn.Module) -> torch.nn.Module:
    return net.module if isinstance(net, DistributedDataParallel) else net


@contextlib.contextmanager
def _synced_if(net: torch.nn.Module, sync: bool) -> Iterator[None]:
    """DDP averages gradients across processes only in the last backward of a step: the earlier
    ones accumulate locally (`no_sync`), as one big backward would."""
    if sync or not isinstance(net, DistributedDataParallel):
        yield
    else:
        with net.no_sync():
            yield


def _clip_and_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                   grad_clip: float) -> float:  # fmt: skip
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip if grad_clip > 0 else float("inf"))
    scaler.step(optimizer)
    scaler.update()
    return float(norm)


def generator_step(
    net_g: torch.nn.Module,
    net_d: torch.nn.Module | None,
    batch: dict[str, torch.Tensor],
    stages: list[Stage],
    cascade: CascadeConfig,
    criterion: Criterion,
    losses: LossConfig,
    amp: Amp,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    grad_clip: float,
    rng: np.random.Generator,
) -> tuple[StepResult, list[Scored]]:
    """G's update on one batch: every stage's losses (plus the adversarial term when `net_d` is
    given), gradients accumulated stage by stage, clipped, one optimiser step. Returns the
    losses and the detached fakes D's step trains on. `rng` draws the stride offsets."""
    optimizer.zero_grad(set_to_none=True)
    critic = unwrap(net_d) if net_d is not None else None
    if critic is not None:
        critic.requires_grad_(False)
    terms: dict[str, torch.Tensor] = {}
    fakes = []
    for index, stage in enumerate(stages):
        offset = int(rng.integers(cascade.stride))
        with _synced_if(net_g, index == len(stages) - 1), amp.autocast():
            stage_loss = torch.zeros((), device=batch["lr"].device)
            for output in run_stage(net_g, stage, batch, cascade.stride, offset):
                for part in scored_parts(output, cascade):
                    part_terms = criterion(part.pred, part.target)
                    if critic is not None:
                        # One pass over fake and real: D(real) only calibrates the relativistic
                        # loss, so it is detached.
                        fake_logits, real_logits = critic(torch.cat([part.pred, part.target])).chunk(2)
                        part_terms["adversarial"] = losses.adversarial * generator_adversarial_loss(
                            fake_logits, real_logits.detach(), losses.gan_type
                        )
                        fakes.append(Scored(part.pred.detach(), part.target, part.factor))
                    for name, value in part_terms.items():
                        stage_loss = stage_loss + part.factor * value
                        terms[name] = terms.get(name, 0) + part.factor * value.detach()
            # Backward per stage: the same accumulated gradient as one backward of the sum,
            # with only one stage's activations alive at a time.
            scaler.scale(stage_loss).backward()
    grad_norm = _clip_and_step(net_g, optimizer, scaler, grad_clip)
    if critic is not None:
        critic.requires_grad_(True)
    values = {name: float(value) for name, value in terms.items()}
    return StepResult(values, sum(values.values()), grad_norm), fakes


def discriminator_step(
    net_d: torch.nn.Module,
    fakes: list[Scored],
    gan_type: str,
    amp: Amp,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    grad_clip: float,
) -> StepResult:
    """D's update: real vs (detached) generated images of every scored part, weighted like G's
    terms, gradients accumulated, clipped, one optimiser step."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for index, part in enumerate(fakes):
        with _synced_if(net_d, index == len(fakes) - 1), amp.autocast():
            real_logits, fake_logits = net_d(torch.cat([part.target, part.pred])).chunk(2)
            loss = part.factor * discriminator_loss(real_logits, fake_logits, gan_type)
            scaler.scale(loss).backward()
        total += float(loss.detach())
    grad_norm = _clip_and_step(net_d, optimizer, scaler, grad_clip)
    return StepResult({"d_loss": total}, total, grad_norm)
