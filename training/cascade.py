"""The patch cascade (paper 1.4, 3.1.4-3.1.6): LR crops cut into grids of patches, each patch
through the x2 generator, the outputs assembled back into the HR image.

A stage is one grid: x2 with LR patches of 16 (then 32, ...), or x4, where each LR patch goes
through the same generator twice (16 -> 32 -> 64) and both the intermediate x2 and the final
x4 outputs are scored. Every patch of a grid goes through G in one batched call: the patches
are independent, so that is the same maths as one call per patch, and much faster.

With stride s > 1 only every s-th patch of the grid (in row-major order, from a random
offset) is generated (paper 1.4: "some of them can be eliminated to avoid overfitting"); the
grid then has holes, so such a stage has per-patch terms only and no assembled image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import CascadeConfig


@dataclass(frozen=True)
class PatchGrid:
    """Non-overlapping `tile` x `tile` patches covering (rows * tile) x (cols * tile) images."""

    rows: int
    cols: int
    tile: int

    @classmethod
    def over(cls, height: int, width: int, tile: int) -> PatchGrid:
        if height % tile or width % tile:
            raise ValueError(f"a {width}x{height} image is not a whole number of {tile}x{tile} patches")
        return cls(height // tile, width // tile, tile)

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def split(self, images: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> (B * P, T, C, tile, tile), patches of each image in row-major order."""
        b, t, c = images.shape[:3]
        s = images.shape[-1] // self.cols  # the patch side at this image's resolution
        grid = images.reshape(b, t, c, self.rows, s, self.cols, s)
        return grid.permute(0, 3, 5, 1, 2, 4, 6).reshape(b * self.count, t, c, s, s)

    def assemble(self, patches: torch.Tensor) -> torch.Tensor:
        """(B * P, T, C, s, s) -> (B, T, C, rows * s, cols * s): `split`'s inverse at any scale."""
        t, c, s = patches.shape[1], patches.shape[2], patches.shape[-1]
        grid = patches.reshape(-1, self.rows, self.cols, t, c, s, s)
        return grid.permute(0, 3, 4, 1, 5, 2, 6).reshape(-1, t, c, self.rows * s, self.cols * s)


def keep_every(patches: torch.Tensor, count: int, stride: int, offset: int) -> torch.Tensor:
    """The patches of index offset, offset + stride, ... out of each image's `count`:
    (B * count, ...) -> (B * kept, ...)."""
    grouped = patches.unflatten(0, (-1, count))  # (B, count, ...)
    return grouped[:, offset % stride :: stride].flatten(0, 1)


@dataclass(frozen=True)
class Stage:
    scale: int  # 2 or 4
    tile: int  # LR patch side at this scale

    @property
    def name(self) -> str:
        return f"x{self.scale}/{self.tile}"


def stages_of(cascade: CascadeConfig) -> list[Stage]:
    """The stages in the order the paper runs them: every x2 grid, then every x4 grid."""
    return [Stage(2, t) for t in cascade.x2] + [Stage(4, t) for t in cascade.x4]


@dataclass(frozen=True)
class StageOutput:
    """What one generator pass of a stage made, to be scored: generated and target patches, and
    the assembled images (None when the stride left holes). `patches` counts the patches per image."""

    name: str
    pred_patches: torch.Tensor  # (B * kept, T, 3, s, s)
    target_patches: torch.Tensor
    pred_image: torch.Tensor | None  # (B, T, 3, H, W)
    target_image: torch.Tensor | None
    patches: int


def run_stage(net_g: torch.nn.Module, stage: Stage, batch: dict[str, torch.Tensor], stride: int = 1,
              offset: int = 0) -> list[StageOutput]:  # fmt: skip
    """Generate one stage's patches from `batch` ("lr", "hr"; for x4 also "lr4", "hr_half") and
    pair them with their targets: x2 gives one output; x4 gives its two passes' outputs, the
    intermediate x2 and the final x4, in that order."""
    lr = batch["lr"] if stage.scale == 2 else batch["lr4"]  # (B, T, 3, h, w)
    grid = PatchGrid.over(*lr.shape[-2:], stage.tile)
    kept = len(range(offset % stride, grid.count, stride))
    whole = stride == 1  # a strided grid has holes: no assembled image

    def patches(images: torch.Tensor) -> torch.Tensor:
        return keep_every(grid.split(images), grid.count, stride, offset)

    def output(name: str, pred: torch.Tensor, target: torch.Tensor) -> StageOutput:
        return StageOutput(name, pred, patches(target), grid.assemble(pred) if whole else None,
                     target if whole else None, kept)  # fmt: skip

    x2 = net_g(patches(lr))  # (B * kept, T, 3, 2s, 2s)
    if stage.scale == 2:
        return [output(stage.name, x2, batch["hr"])]
    # The inference engine clamps between the two passes of x4; so does training.
    x4 = net_g(x2.clamp(0, 1))  # (B * kept, T, 3, 4s, 4s)
    return [output(f"{stage.name}:x2", x2, batch["hr_half"]), output(stage.name, x4, batch["hr"])]
