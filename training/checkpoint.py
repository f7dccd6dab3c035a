"""Training checkpoints: written atomically, found again after a crash.

A checkpoint is one torch file `checkpoints/step-00001234.pt` holding everything a run needs
to continue exactly: its config, both networks, the EMA generator, optimisers, grad scalers,
RNG states and the data position. It is written to a temporary file in the same folder and
renamed over the final name, so a run killed mid-write leaves the previous checkpoints intact
and at worst a stray temporary file (removed by the next write).
"""

from __future__ import annotations

import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsvsr.atomic import atomic_path
from vsvsr.errors import UserError

FORMAT = "vsvsr-train-checkpoint/1"
REQUIRED_KEYS = ("format", "step", "config", "net_g", "ema", "optim_g", "scaler_g", "rng", "data_position")
_NAME = re.compile(r"step-(\d+)\.pt")
_TEMP_PREFIX = ".step-"


class CheckpointError(UserError, ValueError):
    """A file that is not a usable training checkpoint; the message says why."""


def path_for(folder: Path, step: int) -> Path:
    return folder / f"step-{step:08d}.pt"


def save(state: dict[str, Any], folder: Path, keep: int) -> Path:
    """Write `state` (with "step") as the checkpoint of its step, then keep only the newest
    `keep` checkpoints. Atomic: the final name appears only once the file is complete."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{_TEMP_PREFIX}*.tmp"):  # left by a run killed mid-write
        stale.unlink(missing_ok=True)
    path = path_for(folder, state["step"])
    with atomic_path(path, prefix=f"{_TEMP_PREFIX}{state['step']:08d}.") as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, **state}, f)
    for old in checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load(path: str | Path) -> dict[str, Any]:
    """The state in checkpoint `path`; CheckpointError if it is unreadable or incomplete."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a truncated or foreign file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else "no message"  # torch's run to pages
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}: {reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vsvsr training checkpoint ({FORMAT})")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}")
    return state


def checkpoints(folder: Path) -> list[Path]:
    """The checkpoint files in `folder`, oldest step first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.fullmatch(p.name)]
    return sorted(found, key=lambda p: int(_NAME.fullmatch(p.name).group(1)))


def newest_valid(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint in `folder` that loads, with its state; corrupt ones are skipped
    with a warning. None when there is none; CheckpointError when there are some and every one
    is corrupt, since starting over from step 0 would silently throw the run away."""
    found = checkpoints(folder)
    for path in reversed(found):
        try:
            return path, load(path)
        except CheckpointError as err:
            warnings.warn(f"skipping corrupt checkpoint: {err}", stacklevel=2)
    if found:
        raise CheckpointError(f"--resume auto needs a readable checkpoint, but all {len(found)} in {folder} are corrupt "
                              f"(each warning above says why); move them out of {folder} to train from step 0, or set "
                              "another output_dir")  # fmt: skip
    return None


def rng_state() -> dict[str, Any]:
    """Every global RNG a run may touch, in a form torch.load(weights_only=True) reads."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "gauss": gauss},  # fmt: skip
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value: Any) -> Any:
    """random.setstate wants the nested tuples random.getstate gave (a round trip may list them)."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
