"""Training samples: N-frame windows, cropped, augmented, checked for darkness, downsampled
and degraded (paper 1.4, 3.1.1-3.1.2).

Sample `k` of epoch `e` is a pure function of (seed, e, k): which source, sequence, frames,
crop, camera motion, augmentation and degradation all come from one generator seeded with
them. So a sample is the same whichever worker or process makes it, a run reproduces under
its seed, and resuming needs only the number of samples consumed (`SampleStream`).

A sample is a dict of (T, 3, H, W) float32 tensors in [0, 1]:
    hr       the HR crop (target)
    lr       the generator's x2 input: hr downsampled by 2, then degraded
    lr4      (x4 cascades) hr downsampled by 4, then degraded the same way
    hr_half  (x4 cascades) hr downsampled by 2, clean: the target of the cascade's first pass
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from vsvsr import resize
from vsvsr.cache import cache_root as vsvsr_cache_root

from ..config import DataConfig, SourceConfig
from . import layouts, motion

# Draws per sample before a dark (or unreadable) window is accepted anyway: a dataset that is
# mostly night must still yield batches, never hang.
MAX_DRAWS = 10


def cache_root() -> Path:
    """Decoded training videos: $XDG_CACHE_HOME/vsvsr/train (default ~/.cache/...)."""
    return vsvsr_cache_root() / "train"


def open_source(source: SourceConfig, config: DataConfig) -> layouts.Layout:
    if source.kind == "offline":
        return layouts.offline(source.names, config.motion, cache_root())
    if source.kind == "photos":
        return layouts.photos(source.path, config.motion)
    return {"reds": layouts.reds, "vimeo": layouts.vimeo, "frames": layouts.frame_folders,
            "videos": layouts.video_files}[source.kind](source.path)  # fmt: skip


def is_dark(window: torch.Tensor, mean: float, border_mean: float, border: int) -> bool:
    """The paper's dark-window test (1.4): the window's mean RGB below `mean`, or any of its
    four border strips (`border` pixels wide) below `border_mean` (a black bar or a sharp
    dark/bright transition at the edge). window: (T, 3, H, W) in [0, 1]."""
    if window.mean() < mean:
        return True
    if border == 0:
        return False
    strips = (window[..., :border, :], window[..., -border:, :], window[..., :, :border], window[..., :, -border:])
    return any(strip.mean() < border_mean for strip in strips)


def augment(window: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """3.1.1: rotation by k * 90 degrees, then a vertical-axis and a horizontal-axis flip with
    probability 0.5 each; one draw for the whole window. (T, 3, H, W) -> same (or H, W swapped)."""
    window = torch.rot90(window, int(rng.integers(4)), dims=(-2, -1))
    if rng.random() < 0.5:
        window = window.flip(-1)
    if rng.random() < 0.5:
        window = window.flip(-2)
    return window


def scene_edge_order(window: int, p: float, rng: np.random.Generator) -> list[int]:
    """With probability `p`, the frame order of a window that meets a scene cut (or a clip's
    end) as vsvsr.engine.windows.WindowGrid builds it in a shot shorter than the window: the
    slots beyond the cut repeat the nearest in-shot frame. Mostly on one side (1 .. window-1
    slots); in one window of five on both. Otherwise the window as it is. (Until session 17 the
    engine built such windows at the ends of every shot; it now slides them inside shots at
    least a window long, so only short shots repeat frames.)
    E.g. [0, 0, 1, 2, 3], [0, 1, 1, 1, 1] or [0, 0, 1, 1, 1] for 5 frames."""
    order = list(range(window))
    if window < 2 or rng.random() >= p:
        return order
    near = int(rng.integers(1, window))  # slots beyond the cut on one side
    far = int(rng.integers(0, window - near)) if rng.random() < 0.2 else 0  # and on the other
    left, right = (near, far) if rng.random() < 0.5 else (far, near)
    return [min(max(j, left), window - 1 - right) - left for j in order]


class WindowDataset(Dataset):
    """Samples keyed by (epoch, index); see the module docstring."""

    def __init__(self, config: DataConfig, seed: int, x4: bool) -> None:
        self.config, self.seed, self.x4 = config, seed, x4
        opened = [open_source(s, config) for s in config.sources]
        self.sequences = [[s for s in layout.sequences if s.fits(config.window, config.hr_crop)] for layout in opened]
        for source, usable in zip(config.sources, self.sequences):
            if not usable:
                raise layouts.LayoutError(
                    f"{source.kind} source {source.path or ', '.join(source.names) or 'TRAIN'}: no sequence has "
                    f"{config.window} frames of at least {config.hr_crop}x{config.hr_crop} (data.window, data.hr_crop)"
                )
        self.manifest = [entry for layout in opened for entry in layout.manifest]
        weights = np.array([s.weight for s in config.sources])
        self.source_weights = weights / weights.sum()

    def __len__(self) -> int:
        return self.config.epoch_samples

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key
        rng = np.random.default_rng([self.seed, epoch, index])
        c = self.config
        hr = self._draw_window(rng)  # (T, 3, H, W)
        if c.moving_object.p > 0:
            # Its own generator: switching the object on leaves every other draw as it was.
            hr = self._add_moving_object(hr, np.random.default_rng([self.seed, epoch, index, 1]))
        if c.augment:
            hr = augment(hr, rng)
        degrade, degrade_seed = c.degradations, int(rng.integers(2**62))

        def lr_input(factor: int) -> torch.Tensor:
            """The generator's input at 1/factor size: downsampled then degraded (stage "lr"), or
            degraded then downsampled (stage "hr"); the same degradation at every size."""
            if not degrade.active:
                return resize.downsample(hr, factor, c.downsample)
            same = np.random.default_rng(degrade_seed)
            if degrade.stage == "hr":
                return resize.downsample(degrade(hr, same), factor, c.downsample)
            return resize.quantize8(degrade(resize.downsample(hr, factor, c.downsample), same))  # saved LR is 8-bit

        sample = {"hr": hr, "lr": lr_input(2)}
        if self.x4:
            sample |= {"lr4": lr_input(4), "hr_half": resize.downsample(hr, 2, c.downsample)}
        if c.scene_edge > 0:
            # Its own generator, as for the moving object. Applied after the degradation, as the
            # engine repeats decoded frames: the repeated slots are exact copies.
            order = scene_edge_order(c.window, c.scene_edge, np.random.default_rng([self.seed, epoch, index, 2]))
            sample = {key: frames[order] for key, frames in sample.items()}
        return sample

    def _add_moving_object(self, hr: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """With probability moving_object.p, an ellipse of another window's texture crossing
        `hr` in a straight line at a random speed and direction (training.data.motion.cross)."""
        m, size = self.config.moving_object, (hr.shape[-1], hr.shape[-2])  # (width, height)
        if rng.random() >= m.p:
            return hr
        diameters = tuple(float(d) for d in rng.uniform(*m.size, size=2) * min(size))
        # A pixel clear of the edge: the antialiased rim reaches half a pixel past the ellipse.
        centre = tuple(float(rng.uniform(d / 2 + 1, s - d / 2 - 1)) for d, s in zip(diameters, size))
        speed, angle = rng.uniform(*m.speed), rng.uniform(0, 2 * np.pi)
        velocity = (float(speed * np.cos(angle)), float(speed * np.sin(angle)))
        return motion.cross(hr, self._draw_window(rng), centre, diameters, velocity)

    def _draw_window(self, rng: np.random.Generator) -> torch.Tensor:
        c = self.config
        window = None
        for _ in range(MAX_DRAWS):
            group = self.sequences[int(rng.choice(len(self.sequences), p=self.source_weights))]
            frames = group[int(rng.integers(len(group)))].window(rng, c.window, c.hr_crop)
            if frames is None:
                continue
            window = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
            if not is_dark(window, c.dark_mean, c.dark_border, c.border):
                return window
        if window is None:
            raise layouts.LayoutError(f"no readable {c.window}-frame window in {MAX_DRAWS} draws; check the data")
        return window  # dark after every draw: train on it rather than stall


class SampleStream(Sampler):
    """Endless (epoch, index) keys of this process's samples, starting after `start` samples.

    Each epoch is `DistributedSampler`'s shuffled shard of range(epoch_samples) for this
    rank, so processes never share a sample; a resumed run passes the samples it consumed.
    """

    def __init__(self, epoch_samples: int, rank: int, world: int, seed: int, start: int = 0) -> None:
        self.epoch_samples, self.rank, self.world, self.seed, self.start = epoch_samples, rank, world, seed, start

    def _epoch(self, epoch: int) -> list[int]:
        shard = DistributedSampler(range(self.epoch_samples), self.world, self.rank, shuffle=True, seed=self.seed,
                                   drop_last=True)  # fmt: skip
        shard.set_epoch(epoch)
        return list(shard)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        per_epoch = self.epoch_samples // self.world
        if per_epoch == 0:
            raise ValueError(f"epoch_samples ({self.epoch_samples}) must be at least the process count ({self.world})")
        epoch, skip = divmod(self.start, per_epoch)
        while True:
            for index in self._epoch(epoch)[skip:]:
                yield epoch, index
            epoch, skip = epoch + 1, 0

