"""The training loop: the paper's patch-cascade GAN training, reproducible and resumable.

    python -m training train --config training/configs/lite_cpu.yaml
    python -m training train --config training/configs/lite_cpu.yaml --resume auto
    torchrun --nproc_per_node 4 -m training train --config training/configs/rrdb.yaml

`train` reads top to bottom: set up (process, networks, optimisers, data, logs), optionally
restore a checkpoint, then per step: a batch, G's step over every cascade stage, D's step in
adversarial phases, the EMA update, logging, validation and checkpoints. What the run writes:

    OUTPUT/config.yaml                   the config as run
    OUTPUT/checkpoints/step-*.pt         resumable state (training.checkpoint)
    OUTPUT/weights/<phase>-best.safetensors   the best EMA generator of each phase, by the
                                              phase's `select` metric (vsvsr weights files)
    OUTPUT/weights/<phase>-last.safetensors   the EMA generator at the end of each phase (what
                                              ships: choosing a step by validation scores
                                              would tune on the clips the model is judged on)
    OUTPUT/weights/final.safetensors     the EMA generator at the end
    OUTPUT/train.csv, validation.csv, tensorboard/   (training.runlog)
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vsvsr import models, weights
from vsvsr.engine.settings import PRECISIONS, default_precision

from . import checkpoint, distributed, validation
from .cascade import stages_of
from .config import Config, ConfigError, LossConfig, PhaseConfig, improves, to_dict
from .data.windows import SampleStream, WindowDataset
from .losses import Criterion
from .runlog import RunLog
from .steps import Amp, discriminator_step, generator_step, unwrap


def resolve_amp(precision: str, device: torch.device) -> Amp:
    """The autocast of train.precision on `device` ("auto": the inference engine's default)."""
    name = default_precision(device) if precision == "auto" else precision
    if name == "fp16" and device.type != "cuda":
        raise ConfigError("train.precision fp16 needs CUDA; use bf16 (CPUs with AVX512-BF16 or AMX) or fp32 on CPU")
    return Amp(device.type, None if name == "fp32" else PRECISIONS[name])


def build_generator(config: Config) -> tuple[torch.nn.Module, dict[str, Any]]:
    """G from `init.generator` (checked against the config's arch) or freshly initialised; and
    what it already learnt from: {"steps": ..., "train_data": its manifest}.

    The init's architecture must be the config's, except for options that hold no weights
    (models.WEIGHTLESS_PARAMS, the neighbour reach gate): a run may add those to a trained model."""
    built = models.build(config.generator.arch, **config.generator.params)
    if config.init.generator is None:
        return built, {"steps": 0, "train_data": []}
    model = weights.load(config.init.generator)
    d = model.descriptor
    # The loaded model's complete params: a file written before a param existed holds its default.
    differ = sorted(k for k, v in built.arch_params.items() if model.arch_params[k] != v and k not in models.WEIGHTLESS_PARAMS)
    if d.arch != config.generator.arch or differ:
        raise ConfigError(
            f"init.generator: {config.init.generator} holds a {d.arch!r} generator (differing in {differ or 'arch'}), "
            f"the config builds {config.generator.arch!r}; set generator.arch and generator.params to match the file"
        )
    built.load_state_dict(model.state_dict())
    return built.train(), {"steps": d.steps, "train_data": list(d.train_data)}


def seen_data(init: dict[str, Any], manifest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Everything a fine-tuned generator has been trained on: its init's data, then this run's."""
    return init["train_data"] + [entry for entry in manifest if entry not in init["train_data"]]


def build_discriminator(config: Config) -> torch.nn.Module | None:
    """D when some phase is adversarial, from `init.discriminator`'s checkpoint if given."""
    if not config.uses_gan:
        return None
    net_d = models.UNetDiscriminator(config.discriminator.num_feat)
    if config.init.discriminator is not None:
        state = checkpoint.load(config.init.discriminator)
        if state.get("net_d") is None:
            raise ConfigError(f"init.discriminator: {config.init.discriminator} holds no discriminator")
        net_d.load_state_dict(state["net_d"])
    return net_d


def lr_factor(phase: PhaseConfig, step_in_phase: int) -> float:
    """Linear warm-up, then constant or cosine from 1 down to `final_lr`."""
    if step_in_phase < phase.warmup:
        return (step_in_phase + 1) / phase.warmup
    if phase.schedule == "constant":
        return 1.0
    progress = (step_in_phase - phase.warmup) / max(1, phase.steps - phase.warmup)
    return phase.final_lr + (1 - phase.final_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def ema_update(ema: torch.nn.Module, model: torch.nn.Module, updates: int, decay: float) -> None:
    """ema <- d * ema + (1 - d) * model, with d warming up as (1 + n) / (10 + n) so a short run's
    EMA is not still the initial weights."""
    d = min(decay, (1 + updates) / (10 + updates))
    with torch.no_grad():
        torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - d)
        for mine, theirs in zip(ema.buffers(), model.buffers()):
            mine.copy_(theirs)


def loss_names(config: Config) -> list[str]:
    """Every loss term some phase logs, in a fixed order (train.csv's columns)."""
    return [n for n in LossConfig.weight_names() if any(getattr(p.losses, n) > 0 for p in config.phases)]


def trained_tiles(config: Config, phase: PhaseConfig) -> tuple[int, ...]:
    """The LR patch sides G has trained on by the end of `phase`, ascending: the descriptor's
    train_tiles, whose last (largest) is the default inference tile."""
    so_far = config.phases[: config.phases.index(phase) + 1]
    return tuple(sorted({t for p in so_far for t in (config.cascade_of(p).x2 or config.cascade_of(p).x4)}))


def export(ema: torch.nn.Module, path: Path, config: Config, phase: PhaseConfig, steps: int,
           scores: dict[str, float], manifest: list[dict[str, Any]], init_steps: int) -> Path:  # fmt: skip
    """The EMA generator as a vsvsr weights file with its full training descriptor. `steps`
    count from the init's start; `init_steps` of them were the init's (0: trained from scratch)."""
    v = config.validation
    described = dict(scores) | {
        "validation": f"{v.data}: {v.clips or 'all'} clips x {v.frames} frames, crop {v.crop or 'none'}, "
        f"x{v.scale} {config.data.downsample}",
        "phase": phase.name,
        "init": config.init.generator,
        "init_steps": init_steps,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    return weights.save(ema, path, trained=True, steps=steps, window=config.data.window,
                        train_tiles=trained_tiles(config, phase), downsample=config.data.downsample,
                        train_data=manifest, metrics=described)  # fmt: skip


def _differences(stored: dict[str, Any], current: dict[str, Any], where: str = "") -> list[str]:
    if isinstance(stored, dict) and isinstance(current, dict):
        keys = sorted(set(stored) | set(current))
        return [d for k in keys for d in _differences(stored.get(k), current.get(k), f"{where}.{k}".lstrip("."))]
    return [] if stored == current else [where]


def train(config: Config, resume: str | None = None, stop_after: int | None = None, stop_at: int | None = None) -> Path:
    """Run (or, with `resume` = "auto" or a checkpoint path, continue) the training `config`
    describes, stopping after `stop_after` more steps or at step `stop_at` if given. Returns the
    output folder."""
    process = distributed.start(config.train.device)
    out = Path(config.output_dir)
    device, seed, batch_size = process.device, config.train.seed, config.train.batch_size
    amp = resolve_amp(config.train.precision, device)
    if config.data.epoch_samples < process.world:
        raise ConfigError(f"data.epoch_samples must be at least the number of processes ({process.world})")

    # Networks and optimisers. Every rank initialises identically (DDP checks it).
    torch.manual_seed(seed)
    net_g, init = build_generator(config)
    net_g = net_g.to(device)
    net_d = build_discriminator(config)
    net_d = net_d.to(device) if net_d is not None else None
    ema = copy.deepcopy(net_g).eval().requires_grad_(False)
    first = config.phases[0]
    optim_g = torch.optim.Adam(net_g.parameters(), lr=first.lr_g, betas=config.train.betas)
    optim_d = torch.optim.Adam(net_d.parameters(), lr=first.lr_d, betas=config.train.betas) if net_d else None
    scaler_g = torch.amp.GradScaler(device.type, enabled=amp.needs_scaler)
    scaler_d = torch.amp.GradScaler(device.type, enabled=amp.needs_scaler)
    step, best = 0, {}

    # Resume: every piece of state the next step depends on.
    found = None
    if resume is None and checkpoint.checkpoints(out / "checkpoints"):
        raise ConfigError(f"{out} holds checkpoints of an earlier run: continue it with --resume auto, or set "
                          f"another output_dir")  # fmt: skip
    if resume == "auto":
        found = checkpoint.newest_valid(out / "checkpoints")
    elif resume is not None:
        found = (Path(resume), checkpoint.load(resume))
    if found is not None:
        path, state = found
        changed = [k for k in _differences(state["config"], to_dict(config)) if k != "output_dir"]
        net_g.load_state_dict(state["net_g"])
        ema.load_state_dict(state["ema"])
        optim_g.load_state_dict(state["optim_g"])
        scaler_g.load_state_dict(state["scaler_g"])
        if net_d is not None and state.get("net_d") is not None:
            net_d.load_state_dict(state["net_d"])
            optim_d.load_state_dict(state["optim_d"])
            scaler_d.load_state_dict(state["scaler_d"])
        checkpoint.set_rng_state(state["rng"])
        step, best = state["step"], state["best"]
        # What the init file held when the run began (it may since have been replaced).
        init = state.get("init", init)
        if state["data_position"] != step * batch_size:
            raise ConfigError(f"{path}: its data position does not match batch_size {batch_size}; resume with "
                              f"the batch size it was written with")  # fmt: skip

    if process.distributed:
        ids = [device.index] if device.type == "cuda" else None
        net_g = DistributedDataParallel(net_g, device_ids=ids)
        net_d = DistributedDataParallel(net_d, device_ids=ids) if net_d is not None else None

    # Data: sample keys continue exactly where the checkpoint's run stopped.
    dataset = WindowDataset(config.data, seed, x4=config.uses_x4)
    init_steps, manifest = init["steps"], seen_data(init, dataset.manifest)
    sampler = SampleStream(config.data.epoch_samples, process.rank, process.world, seed, start=step * batch_size)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=config.data.workers,
                        pin_memory=device.type == "cuda", persistent_workers=config.data.workers > 0)  # fmt: skip
    batches = iter(loader)

    end = min(config.total_steps, step + stop_after if stop_after is not None else config.total_steps,
              stop_at if stop_at is not None else config.total_steps)  # fmt: skip
    clips = []
    if process.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
        clips = validation.load_clips(config.validation, config.data.downsample, config.size_multiple)
    log = RunLog(out, loss_names(config), step, config.total_steps, process.is_main, config.train.tensorboard)
    if found is not None:
        note = f"resumed from {found[0]} at step {step}"
        log.note(note + (f"; config changed: {', '.join(changed)}" if changed else ""))
    if end <= step:
        log.note(f"nothing to train: the run is at step {step} and stops at {end}")
    criteria: dict[str, Criterion] = {}

    try:
        while step < end:
            phase, in_phase = config.phase_at(step)
            cascade = config.cascade_of(phase)
            if phase.name not in criteria:
                criteria[phase.name] = Criterion(phase.losses, device)
            criterion = criteria[phase.name]
            adversarial = phase.losses.adversarial > 0
            factor = lr_factor(phase, in_phase)
            for group in optim_g.param_groups:
                group["lr"] = phase.lr_g * factor
            if optim_d is not None:
                for group in optim_d.param_groups:
                    group["lr"] = phase.lr_d * factor

            started = time.perf_counter()
            batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}  # (B, T, 3, H, W) each
            waited = time.perf_counter() - started
            g_result, fakes = generator_step(
                net_g, net_d if adversarial else None, batch, stages_of(cascade), cascade, criterion, phase.losses,
                amp, optim_g, scaler_g, config.train.grad_clip, np.random.default_rng([seed, step]),
            )  # fmt: skip
            d_result = None
            if adversarial:
                d_result = discriminator_step(net_d, fakes, phase.losses.gan_type, amp, optim_d, scaler_d,
                                              config.train.grad_clip)  # fmt: skip
            ema_update(ema, unwrap(net_g), step, config.train.ema_decay)
            step += 1
            seconds = time.perf_counter() - started

            row = {"phase": phase.name, "lr_g": phase.lr_g * factor, "loss": g_result.loss, **g_result.terms,
                   "grad_norm_g": g_result.grad_norm, "seconds": seconds, "data_share": waited / seconds}  # fmt: skip
            if d_result is not None:
                row |= {"lr_d": phase.lr_d * factor, "d_loss": d_result.loss, "grad_norm_d": d_result.grad_norm}
            log.step(step, row, log=step % config.train.log_every == 0 or step == end)

            if step % config.validation.every == 0 or step in config.phase_ends():
                if process.is_main:
                    started = time.perf_counter()
                    scores = validation.validate(ema, clips, config.validation, config.data.window, device)
                    log.validated(step, {"phase": phase.name, **scores, "seconds": time.perf_counter() - started})
                    record = best.get(phase.name)
                    if record is None or improves(phase.select, scores[phase.select], record["value"]):
                        best[phase.name] = {"metric": phase.select, "value": scores[phase.select], "step": step}
                        export(ema, out / "weights" / f"{phase.name}-best.safetensors", config, phase,
                               init_steps + step, scores, manifest, init_steps)  # fmt: skip
                    if step in config.phase_ends():
                        export(ema, out / "weights" / f"{phase.name}-last.safetensors", config, phase,
                               init_steps + step, scores, manifest, init_steps)  # fmt: skip
                    if step == config.total_steps:
                        export(ema, out / "weights" / "final.safetensors", config, phase, init_steps + step, scores,
                               manifest, init_steps)  # fmt: skip
                process.barrier()

            if process.is_main and (step % config.train.checkpoint_every == 0 or step == end):
                checkpoint.save({
                    "step": step, "config": to_dict(config), "net_g": unwrap(net_g).state_dict(),
                    "ema": ema.state_dict(), "net_d": unwrap(net_d).state_dict() if net_d is not None else None,
                    "optim_g": optim_g.state_dict(), "optim_d": optim_d.state_dict() if optim_d else None,
                    "scaler_g": scaler_g.state_dict(), "scaler_d": scaler_d.state_dict(),
                    "rng": checkpoint.rng_state(), "data_position": step * batch_size, "best": best,
                    "world_size": process.world, "init": init,
                }, out / "checkpoints", config.train.keep_checkpoints)  # fmt: skip

    finally:
        log.close()
        distributed.stop(process)
    return out
