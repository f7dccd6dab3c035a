"""Training throughput of the patch-cascade trainer.

    .venv/bin/python bench/train.py            # lite on CPU: fp32 vs bf16 (lite_cpu.yaml's two phases),
                                               # clean (lite.yaml) vs degraded with the codec (lite_real.yaml)
    .venv/bin/python bench/train.py --steps 5  # quicker, noisier
    python bench/train.py --gpu                # on a CUDA machine: residual and rrdb, AMP vs fp32

Per row: optimiser steps per second and HR megapixels per second (batch x window x HR crop^2
of targets per step), both from the median step time (robust to other work on the machine),
and where the time goes: generator, discriminator and loss forward passes, backward passes, and
the rest (waiting for data, patch split and assembly, clipping, the optimisers, the EMA).
The loop is the trainer's own: the config's dataset and loader, `generator_step`,
`discriminator_step` in adversarial phases, `ema_update`; forward time is measured with module
hooks, backward time around `Tensor.backward`. A machine shared with other work gives noisy
numbers (two busy processes on two cores slow each other's OpenMP threads many times over):
run it on an idle one.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from training.cascade import stages_of
from training.config import Config, load_config
from training.data.windows import SampleStream, WindowDataset
from training.losses import Criterion
from training.steps import discriminator_step, generator_step
from training.trainer import build_discriminator, build_generator, ema_update, resolve_amp

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"


class Stopwatch:
    """Seconds spent inside forward passes (nested calls count once) and inside backward."""

    def __init__(self) -> None:
        self.forward = self.backward = 0.0
        self._depth, self._start = 0, 0.0

    def enter(self, *_) -> None:
        if self._depth == 0:
            self._start = time.perf_counter()
        self._depth += 1

    def leave(self, *_) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.forward += time.perf_counter() - self._start

    def watch(self, *modules: torch.nn.Module) -> None:
        for module in modules:
            module.register_forward_pre_hook(self.enter)
            module.register_forward_hook(self.leave)

    @contextlib.contextmanager
    def backward_timed(self) -> Iterator[None]:
        original = torch.Tensor.backward

        def timed(tensor: torch.Tensor, *args, **kwargs) -> None:
            start = time.perf_counter()
            original(tensor, *args, **kwargs)
            if tensor.is_cuda:
                torch.cuda.synchronize()
            self.backward += time.perf_counter() - start

        torch.Tensor.backward = timed
        try:
            yield
        finally:
            torch.Tensor.backward = original


def measure(config: Config, phase_index: int, device: torch.device, steps: int, warmup: int) -> dict[str, float]:
    """Run one phase of the config for warmup + steps steps; timings of the last `steps`."""
    phase = config.phases[phase_index]
    cascade = config.cascade_of(phase)
    amp = resolve_amp(config.train.precision, device)
    torch.manual_seed(0)
    net_g = build_generator(config)[0].to(device)
    ema = build_generator(config)[0].to(device).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(net_g.parameters(), lr=phase.lr_g, betas=config.train.betas)
    scaler = torch.amp.GradScaler(device.type, enabled=amp.needs_scaler)
    criterion = Criterion(phase.losses, device)
    adversarial = phase.losses.adversarial > 0
    net_d = build_discriminator(config).to(device) if adversarial else None
    optim_d = torch.optim.Adam(net_d.parameters(), lr=phase.lr_d) if adversarial else None
    dataset = WindowDataset(config.data, config.train.seed, x4=bool(cascade.x4))
    loader = DataLoader(dataset, batch_size=config.train.batch_size, num_workers=config.data.workers,
                        sampler=SampleStream(config.data.epoch_samples, 0, 1, config.train.seed),
                        pin_memory=device.type == "cuda", persistent_workers=config.data.workers > 0)  # fmt: skip
    batches = iter(loader)
    clock = Stopwatch()
    clock.watch(*(m for m in (net_g, criterion, net_d) if m is not None))
    durations, waits = [], []
    with clock.backward_timed():
        for step in range(warmup + steps):
            if step == warmup:
                clock.forward = clock.backward = 0.0
            start = time.perf_counter()
            batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
            waits.append(time.perf_counter() - start)
            _, fakes = generator_step(net_g, net_d, batch, stages_of(cascade), cascade, criterion, phase.losses,
                                      amp, optimizer, scaler, config.train.grad_clip,
                                      np.random.default_rng(step))  # fmt: skip
            if adversarial:
                discriminator_step(net_d, fakes, phase.losses.gan_type, amp, optim_d, scaler, config.train.grad_clip)
            ema_update(ema, net_g, step, config.train.ema_decay)
            if device.type == "cuda":
                torch.cuda.synchronize()
            durations.append(time.perf_counter() - start)
    timed = durations[warmup:]
    median, total = float(np.median(timed)), sum(timed)
    data = sum(waits[warmup:]) / total
    hr_megapixels = config.train.batch_size * config.data.window * config.data.hr_crop**2 / 1e6
    return {
        "steps_per_s": 1 / median,
        "hr_mp_per_s": hr_megapixels / median,
        "forward": clock.forward / total,
        "backward": clock.backward / total,
        "outside": 1 - (clock.forward + clock.backward) / total - data,
        "data": data,
    }


def row(name: str, precision: str, config: Config, phase_index: int, result: dict[str, float]) -> str:
    c, phase = config, config.phases[phase_index]
    cascade = config.cascade_of(phase)
    setup = (f"{phase.name}: {', '.join(phase.losses.active())}; batch {c.train.batch_size}, "
             f"T={c.data.window}, HR {c.data.hr_crop}, x2 {list(cascade.x2)}, x4 {list(cascade.x4)}, "
             f"workers {c.data.workers}; degraded: "
             f"{', '.join(n for n, d in c.data.degradations.each() if d.p > 0) or 'no'}")  # fmt: skip
    return (f"| {name} | {precision} | {setup} | {result['steps_per_s']:.2f} | {result['hr_mp_per_s']:.3f} | "
            f"{result['forward']:.0%} | {result['backward']:.0%} | {result['data']:.0%} | {result['outside']:.0%} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per row (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    parser.add_argument("--gpu", action="store_true", help="residual and rrdb on CUDA, AMP vs fp32")
    parser.add_argument("--only", metavar="CONFIGS", help="comma-separated configs to measure, e.g. lite,lite_real")
    args = parser.parse_args()

    if args.gpu:
        if not torch.cuda.is_available():
            parser.error("--gpu needs a CUDA device")
        rows = [(name, precision, load_config(CONFIGS / f"{name}.yaml", [f"train.precision={precision}"]), 0,
                 torch.device("cuda"))
                for name in ("residual", "rrdb") for precision in ("fp32", "fp16", "bf16")]  # fmt: skip
    else:
        rows = [(name, precision, load_config(CONFIGS / f"{name}.yaml", [f"train.precision={precision}", *extra]),
                 phase, torch.device("cpu"))
                for name, precision, extra, phase in (
                    ("lite_cpu", "fp32", [], 0), ("lite_cpu", "bf16", [], 0), ("lite_cpu", "bf16", ["data.workers=1"], 0),
                    ("lite_cpu", "bf16", [], 1), ("lite", "fp32", [], 0), ("lite_real", "fp32", [], 0))]  # fmt: skip

    if args.only:
        rows = [r for r in rows if r[0] in args.only.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{torch.cuda.get_device_name() if args.gpu else 'CPU'}; {args.steps} timed steps after {args.warmup}")
    print()
    print("| config | precision | setup | steps/s | HR MP/s | forward (G, D, losses) | backward | data | the rest |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, precision, config, phase, device in rows:
        result = measure(config, phase, device, args.steps, args.warmup)
        print(row(name, precision, config, phase, result), flush=True)


if __name__ == "__main__":
    main()
