"""Generator cost on this machine's CPU.

    .venv/bin/python bench/models.py            # all variants
    .venv/bin/python bench/models.py --quick    # lite only, fewer repeats

Table 1, per variant: parameters, GFLOPs per LR megapixel per frame, forward seconds per LR
megapixel (T=5) in fp32 and bf16 (NCHW and channels-last), and achieved GFLOP/s as a share of a
plain 2048^2 matmul's GFLOP/s in the same precision, measured in the same run.
Table 2: the non-local block in linear form theta.(phi^T g)/N vs the quadratic N x N affinity,
time and peak memory at LR tiles 16, 32, 64 (T=5). Each memory figure is the peak-RSS growth
over the inputs, in a fresh process with the peak mark reset (Linux /proc), so allocations of
earlier rows or of the imports cannot hide it.
Table 3: what the neighbour reach gate (models/reach_gate.py) costs lite, as the engine calls
it (a batch of 16 tiles of 64 LR pixels, 5-frame windows producing their 3 inside frames), the
plain and the gated forward interleaved, in fp32 and (where the CPU has it natively) bf16.
Table 4 (alone, 5 repeats: --fold): lite against twins without its 2x2 fold at about its multiply-adds
(weights/MODEL_CARD.md, "Session 19") and against itself with one more trunk block ("Session 20"),
called the same way with the engine's fp32 CPU batch (8 tiles), interleaved; bf16 as in table 3.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import vsvsr.models as models
from vsvsr.engine.settings import cpu_has_native_bf16

T = 5
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def seconds(fn, repeats: int) -> float:
    """Best of `repeats` after one warm-up: the least-disturbed run on a shared machine."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(dtype: torch.dtype, repeats: int) -> float:
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    return 2 * 2048**3 / seconds(lambda: a @ b, repeats) / 1e9


def forward_flops(model: torch.nn.Module, x: torch.Tensor, produce: slice | None = None) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x, produce)
    return counter.get_total_flops()


def variant_rows(names: list[str], repeats: int) -> list[str]:
    peak = {p: matmul_gflops(dtype, repeats) for p, dtype in PRECISIONS.items()}
    rows = [f"plain matmul 2048^2: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s", ""]
    rows.append("| model | params | GFLOP / LR MP / frame | precision | layout | s / LR MP (T=5) | GFLOP/s | of matmul |")
    rows.append("|---|---:|---:|---|---|---:|---:|---:|")
    for name in names:
        torch.manual_seed(0)
        # The paper's models cost ~100x lite per pixel: a single 64x64 window keeps them minutes.
        batch, tile = (4, 64) if name == "lite" else (1, 64)
        x = torch.rand(batch, T, 3, tile, tile)
        lr_mp = batch * T * tile * tile / 1e6
        base = models.build(name).eval()
        flops = forward_flops(base, x)
        n_params = sum(p.numel() for p in base.parameters())
        for precision, dtype in PRECISIONS.items():
            for layout in ("NCHW", "channels-last"):
                model = models.build(name).eval().to(dtype)
                if layout == "channels-last":
                    model.to_channels_last()
                with torch.inference_mode():
                    s = seconds(lambda: model(x), repeats)
                rate = flops / s / 1e9
                rows.append(
                    f"| {name} | {n_params / 1e6:.2f}M | {flops / lr_mp / 1e9:.0f} | {precision} | {layout} "
                    f"| {s / lr_mp:.2f} | {rate:.0f} | {rate / peak[precision]:.0%} |"
                )
    return rows


def quadratic_nonlocal(block: models.NonLocalBlock3d, x: torch.Tensor) -> torch.Tensor:
    """The textbook form of the same block: materialises f(x_i, x_j) for all N^2 pairs."""
    b, c = x.shape[:2]
    flat = x.reshape(b, c, -1)
    theta, phi, g = block.theta(flat), block.phi(flat), block.g(flat)
    affinity = theta.transpose(1, 2) @ phi / flat.shape[-1]  # (B, N, N)
    return x + block.project(g @ affinity.transpose(1, 2)).reshape(x.shape)


def _nonlocal_cost(form: str, tile: int, repeats: int, queue) -> None:
    """In a fresh process: best time, and peak-RSS growth over the inputs (MB)."""
    torch.manual_seed(0)
    block = models.NonLocalBlock3d(64, 32)
    x = torch.randn(1, 64, T, tile, tile)
    run = block if form == "linear" else lambda x: quadratic_nonlocal(block, x)
    with torch.inference_mode():
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark (Linux)
        before = _status_kb("VmRSS")
        s = seconds(lambda: run(x), repeats)
        grown = _status_kb("VmHWM") - before
    queue.put((s, grown / 1024))


def _status_kb(field: str) -> int:
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field))
    return int(line.split()[1])


def nonlocal_rows(repeats: int) -> list[str]:
    # Large blocks straight from mmap and back: freed memory of one call cannot serve the
    # next, so peak RSS sees each call's own allocations.
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    ctx = mp.get_context("spawn")
    rows = ["| LR tile (T=5) | positions N | linear s | linear peak MB | quadratic s | quadratic peak MB |",
            "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    times = {}
    for tile in (16, 32, 64):
        result = {}
        for form in ("linear", "quadratic"):
            queue = ctx.Queue()
            proc = ctx.Process(target=_nonlocal_cost, args=(form, tile, repeats, queue))
            proc.start()
            result[form] = queue.get()
            proc.join()
        times[tile] = result["linear"][0]
        (ls, lm), (qs, qm) = result["linear"], result["quadratic"]
        rows.append(f"| {tile} | {T * tile * tile} | {ls * 1e3:.2f} ms | {lm:.1f} | {qs * 1e3:.1f} ms | {qm:.1f} |")
    ratio = times[64] / times[16]
    rows.append("")
    rows.append(f"linear time 64 / 16 = {ratio:.1f}x for 16x the positions (goal: at most {1.3 * 16:.1f}x)")
    return rows


def timed_precisions() -> dict[str, torch.dtype]:
    """The precisions worth timing here: bf16 only where the CPU has it natively (AVX512-BF16 or
    AMX); elsewhere it is emulated, about 80x slower than fp32 (table 4 on an AVX2 machine)."""
    return {p: dtype for p, dtype in PRECISIONS.items() if p == "fp32" or cpu_has_native_bf16()}


def untimed_note(timed: dict[str, torch.dtype]) -> list[str]:
    return [] if len(timed) == len(PRECISIONS) else ["", "(bf16 not timed: this CPU has no native bf16)"]


def interleaved_best(variants: dict[str, torch.nn.Module], x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Best forward time of each model as the engine calls lite (producing the 3 inside frames
    of 5), the models taking turns within every repeat so that all see the same machine."""
    best = dict.fromkeys(variants, float("inf"))
    with torch.inference_mode():
        for model in variants.values():
            model(x, slice(1, 4))
        for _ in range(repeats):
            for name, model in variants.items():
                start = time.perf_counter()
                model(x, slice(1, 4))
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def gate_rows(repeats: int) -> list[str]:
    torch.manual_seed(0)
    x = torch.rand(16, T, 3, 64, 64)
    produced_mp = 16 * 3 * 64 * 64 / 1e6
    rows = ["| lite | s / produced LR MP | gated against plain |", "|---|---:|---:|"]
    timed = timed_precisions()
    for precision, dtype in timed.items():
        plain = models.build("lite").eval()
        gated = models.build("lite", neighbour_reach=1).eval()
        gated.load_state_dict(plain.state_dict())
        best = interleaved_best({"plain": plain.to(dtype), "gated": gated.to(dtype)}, x, repeats)
        rows += [f"| {name}, {precision} | {t / produced_mp:.2f} | {t / best['plain']:.2f}x |" for name, t in best.items()]
    return rows + untimed_note(timed)


# lite's trunk without its 2x2 fold, at about its multiply-adds (weights/MODEL_CARD.md, "Session 19"):
# full-resolution features, so no separate front; the 3D block, local non-local block and gate as lite's.
UNFOLDED = dict(unshuffle=1, front_feat=0, temporal_kernel=3, nonlocal_inner=8, neighbour_reach=1)
TWINS = {
    "lite (2x2 fold)": dict(neighbour_reach=1),
    "unfolded, 32 features x 5 blocks": dict(UNFOLDED, num_feat=32, num_blocks=5),
    "unfolded, 24 features x 8 blocks": dict(UNFOLDED, num_feat=24, num_blocks=8),
    # What one more block costs (grown into v2, it bought +0.004 dB in 6,000 steps: "Session 20").
    "lite, 4 trunk blocks": dict(neighbour_reach=1, num_blocks=4),
}


def fold_rows(repeats: int) -> list[str]:
    torch.manual_seed(0)
    x = torch.rand(8, T, 3, 64, 64)  # the engine's fp32 CPU batch of 64-pixel tiles
    produced_px = 8 * 3 * 64 * 64
    cost = {}  # name: (parameters, multiply-adds per produced LR pixel)
    for name, params in TWINS.items():
        model = models.build("lite", **params).eval()
        cost[name] = (sum(p.numel() for p in model.parameters()), forward_flops(model, x, slice(1, 4)) / 2 / produced_px)
    rows = ["| model | params | multiply-adds / produced LR px | precision | s / produced LR MP | against lite |",
            "|---|---:|---:|---|---:|---:|"]  # fmt: skip
    lite = next(iter(TWINS))
    timed = timed_precisions()
    for precision, dtype in timed.items():
        variants = {name: models.build("lite", **params).eval().to(dtype) for name, params in TWINS.items()}
        best = interleaved_best(variants, x, repeats)
        rows += [
            f"| {name} | {cost[name][0] / 1e3:.0f}k | {cost[name][1] / 1e3:.0f}k | {precision} "
            f"| {t / produced_px * 1e6:.2f} | {t / best[lite]:.2f}x |"
            for name, t in best.items()
        ]
    return rows + untimed_note(timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="lite only, 2 repeats")
    parser.add_argument("--fold", action="store_true", help="table 4 only")
    args = parser.parse_args()
    repeats = 2 if args.quick else 3
    if args.fold:
        print("\n".join(fold_rows(5)))
        return
    names = ["lite"] if args.quick else models.names()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("\n".join(variant_rows(names, repeats)))
    print()
    print("\n".join(nonlocal_rows(repeats)))
    print()
    print("\n".join(gate_rows(repeats)))
    print()
    print("\n".join(fold_rows(repeats)))


if __name__ == "__main__":
    main()
