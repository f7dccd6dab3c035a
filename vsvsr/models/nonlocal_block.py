"""The 3D non-local block (paper 2.1, Eq. 9-15): every position of a T x H x W window attends to
every other one, which is how the generator mixes information across frames.

    z_i = x_i + W_z y_i,    y_i = 1/C(x) * sum_j f(x_i, x_j) g(x_j)

with theta, phi, g as 1x1 convolutions to `inner` channels and W_z initialised to zero (a fresh
block is the identity). Two pairwise functions:

- "dot" (the paper's, Eq. 13/18): f = theta_i . phi_j and C(x) = N. Because f is bilinear,
  sum_j (theta_i . phi_j) g_j = (sum_j g_j phi_j^T) theta_i, so the block is computed as
  theta . (phi^T g) / N: a C' x C' matrix per window instead of an N x N affinity, linear in the
  number of positions. It is exact, not an approximation.
- "embedded_gaussian" (Eq. 17): softmax over theta_i . phi_j, via scaled_dot_product_attention
  (quadratic in positions; memory-efficient kernels keep it usable on small tiles).
- "local": the embedded Gaussian with j restricted to the `neighbourhood` x `neighbourhood`
  positions around i's place in every frame of the window (T k^2 terms), linear in positions.
  The dot form's sum over the whole window is one C' x C' summary shared by every position, so
  it cannot say where a detail moved between frames; the local softmax can: each position picks
  its own matches in the neighbouring frames, a learned soft motion compensation (sub-pixel
  too, as a weighted mix of neighbours). lite uses it; measured in weights/MODEL_CARD.md.

Every position is a real pixel: the generator replicates edges rather than padding with
zeros (generator.py), and tiles are shifted inward rather than padded (engine/tiles.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAIRWISE = ("dot", "embedded_gaussian", "local")


class NonLocalBlock3d(nn.Module):
    def __init__(self, channels: int, inner: int | None = None, pairwise: str = "dot", neighbourhood: int = 5) -> None:
        super().__init__()
        if pairwise not in PAIRWISE:
            raise ValueError(f"pairwise must be one of {PAIRWISE}, not {pairwise!r}")
        if neighbourhood < 1 or neighbourhood % 2 != 1:
            raise ValueError(f"neighbourhood must be odd and positive, not {neighbourhood}")
        inner = inner or max(channels // 2, 1)
        self.pairwise = pairwise
        self.neighbourhood = neighbourhood
        # 1x1 convolutions over the flattened T*H*W positions.
        self.theta = nn.Conv1d(channels, inner, 1)
        self.phi = nn.Conv1d(channels, inner, 1)
        self.g = nn.Conv1d(channels, inner, 1)
        self.project = nn.Conv1d(inner, channels, 1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x: torch.Tensor, gates: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, C, T, H, W) -> the same shape. `gates` ((B, T, T, H, W), reach_gate.py; local
        pairwise only) weigh each query's keys in every other frame."""
        if gates is not None and self.pairwise != "local":
            raise ValueError(f"neighbour gates need the local pairwise function, not {self.pairwise!r}")
        b, c, t, h, w = x.shape
        flat = x.reshape(b, c, t * h * w)  # (B, C, N)
        theta, phi, g = (pointwise(conv, flat) for conv in (self.theta, self.phi, self.g))  # (B, C', N) each
        if self.pairwise == "dot":
            y = _dot_product_linear(theta, phi, g)
        elif self.pairwise == "embedded_gaussian":
            y = _embedded_gaussian(theta, phi, g)
        else:
            shape = (b, theta.shape[1], t, h, w)
            y = _local_embedded_gaussian(theta.reshape(shape), phi.reshape(shape), g.reshape(shape), self.neighbourhood,
                                         gates)  # fmt: skip
            y = y.reshape(b, theta.shape[1], t * h * w)
        return x + pointwise(self.project, y).reshape(b, c, t, h, w)


def pointwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 Conv1d on (B, C, N) as the matrix product it is: the same numbers, without the
    layout reorders oneDNN's convolution adds to every call on CPU."""
    # (1, C', C) @ (B, C, N) broadcasts to a batched product; a 2D weight would make torch fold
    # the batch into one product over x transposed, which copies x.
    return conv.weight[None, ..., 0] @ x + conv.bias[:, None]


def _dot_product_linear(theta: torch.Tensor, phi: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """y = theta . (phi^T g) / N for (B, C', N) inputs."""
    count = torch.full((theta.shape[0], 1, 1), theta.shape[-1], dtype=theta.dtype, device=theta.device)
    # Divide by sqrt(N) on both factors rather than by N once: the sum over N positions stays
    # O(1) instead of O(N), so it neither overflows fp16 nor underflows it.
    root = count.sqrt()
    summary = (phi / root) @ (g / root).transpose(1, 2)  # (B, C', C') = sum_j phi_j g_j^T / N
    return summary.transpose(1, 2) @ theta  # (B, C', N)


def _embedded_gaussian(theta: torch.Tensor, phi: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """y_i = sum_j softmax_j(theta_i . phi_j) g_j for (B, C', N) inputs."""
    y = F.scaled_dot_product_attention(
        theta.transpose(1, 2).unsqueeze(1),  # (B, 1, N, C') queries
        phi.transpose(1, 2).unsqueeze(1),
        g.transpose(1, 2).unsqueeze(1),
        scale=1.0,  # the paper's exp(theta . phi), not attention's 1/sqrt(d)
    )
    return y.squeeze(1).transpose(1, 2)  # (B, C', N)


def _local_embedded_gaussian(theta: torch.Tensor, phi: torch.Tensor, g: torch.Tensor, k: int,
                             gates: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """y_i = sum_j softmax_j(theta_i . phi_j) g_j over the j in a k x k neighbourhood of i's
    place in every frame; (B, C', T, H, W) inputs. Keys outside the frame get no weight. With
    `gates` ((B, T, T, H, W)) the keys of frame u weigh gate[t, u] times as much for a query of
    frame t at the same place (closed: only the query's own frame, as in window 1).

    The keys and values of each place are gathered from k^2 shifted views (plain slicing, so it
    runs and exports to ONNX wherever the rest of the model does), then every place is one small
    matrix product: its T k^2 keys against its T queries. The features are laid out by place
    first, (B, H, W, T, C), so each view copies runs of T x C values rather than single ones."""
    b, c, t, h, w = theta.shape
    r = k // 2

    def neighbours(x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B, H, W, k^2 T, C): each place's k x k neighbourhood in every
        frame, offset-major (the order of the keys is free, as long as keys, values and the
        border pattern agree), zeros outside the frame."""
        padded = F.pad(x.permute(0, 3, 4, 2, 1), (0, 0, 0, 0, r, r, r, r))  # (B, H + 2r, W + 2r, T, C)
        views = [padded[:, dy : dy + h, dx : dx + w] for dy in range(k) for dx in range(k)]
        n, channels, frames = x.shape[:3]
        return torch.stack(views, dim=3).reshape(n, h, w, k * k * frames, channels)

    # Only the frame's border hides keys: one (1, H, W, 1, k^2 T) pattern for every query,
    # built on a single frame and repeated for each frame, instead of gathering a map of ones.
    ones = torch.ones(1, 1, 1, h, w, dtype=theta.dtype, device=theta.device)
    hidden = (neighbours(ones) == 0).transpose(-1, -2).repeat_interleave(t, dim=-1)
    queries = theta.permute(0, 3, 4, 2, 1).contiguous()  # (B, H, W, T, C')
    # Queries times the gathered keys transposed: the batched product reads the transposed keys
    # in place. Keys times strided queries instead copied every place's queries on its own
    # (one copy per place), 8x slower on CPU (torch 2.x).
    logits = queries @ neighbours(phi).transpose(-1, -2)  # (B, H, W, T, k^2 T)
    # A finite "minus infinity": real keys outweigh these by e^10000.
    logits = logits.masked_fill(hidden, -1e4)
    if gates is not None:
        # Weight times gate is logit plus log(gate); the keys are offset-major, so each frame's
        # gate repeats over the k^2 offsets. A closed gate leaves e^-9 of a key's weight.
        bias = gates.clamp_min(1e-4).log().permute(0, 3, 4, 1, 2)  # (B, H, W, T, T)
        logits = logits + bias.unsqueeze(-2).expand(b, h, w, t, k * k, t).reshape(b, h, w, t, k * k * t)
    weights = torch.softmax(logits.float(), dim=-1).to(g.dtype)
    return (weights @ neighbours(g)).permute(0, 4, 3, 1, 2)  # (B, C', T, H, W)
