"""What a run records: CSV files, TensorBoard scalars and a tqdm progress line (rank 0 only).

    OUTPUT/train.csv       one row per logged step: phase, learning rates, every loss term,
                           gradient norms, seconds per step and the share of it spent waiting
                           for data
    OUTPUT/validation.csv  one row per validation: PSNR-Y, SSIM-Y, LPIPS, tOF, tLP, temporal
                           error (training.scoring's scores), bicubic's PSNR-Y and the
                           real window against a static one (training.validation)
    OUTPUT/tensorboard/    the same scalars, when the tensorboard package is installed

A resumed run first drops the rows of steps after its checkpoint (written by the run that
died), so each file reads as one uninterrupted run.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .scoring import SCORES


class CsvLog:
    """A CSV file with fixed columns whose first column is the step."""

    def __init__(self, path: Path, columns: list[str], resume_step: int) -> None:
        self.path, self.columns = path, columns
        kept = self._rows_up_to(resume_step)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(kept)

    def _rows_up_to(self, step: int) -> list[dict[str, str]]:
        if step == 0 or not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        return [{k: row.get(k, "") for k in self.columns} for row in rows if int(row["step"]) <= step]

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow({k: _cell(row.get(k)) for k in self.columns})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)  # repr: every digit, so runs compare exactly


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class RunLog:
    """Rank 0's CSV, TensorBoard and progress line; on other ranks every method does nothing."""

    def __init__(self, folder: Path, loss_names: list[str], start: int, total: int, enabled: bool,
                 tensorboard: bool) -> None:  # fmt: skip
        self.enabled = enabled
        if not enabled:
            return
        folder.mkdir(parents=True, exist_ok=True)
        self.train = CsvLog(folder / "train.csv", ["step", "phase", "lr_g", "lr_d", "loss", *loss_names, "d_loss",
                            "grad_norm_g", "grad_norm_d", "seconds", "data_share"], start)  # fmt: skip
        self.validation = CsvLog(folder / "validation.csv", ["step", "phase", *SCORES, "psnr_y_bicubic",
                                 "window_vs_static", "seconds"], start)  # fmt: skip
        self.board = None
        if tensorboard and importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(folder / "tensorboard"), purge_step=start + 1)
        self.progress = tqdm(total=total, initial=start, unit="step", file=sys.stderr, dynamic_ncols=True)

    def step(self, step: int, row: dict[str, Any], log: bool) -> None:
        """Advance the progress line to `step`; write `row` when `log` is set."""
        if not self.enabled:
            return
        self.progress.update(step - self.progress.n)
        if not log:
            return
        self.progress.set_postfix(phase=row["phase"], loss=f"{row['loss']:.4g}", refresh=False)
        self.train.write({"step": step, **row})
        self._scalars("train", step, row)

    def validated(self, step: int, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.validation.write({"step": step, **row})
        self._scalars("validation", step, row)
        self.progress.write(
            f"step {step} ({row['phase']}): PSNR-Y {row['psnr_y']:.2f} dB (bicubic {row['psnr_y_bicubic']:.2f}), "
            f"SSIM-Y {row['ssim_y']:.4f}, LPIPS {row['lpips']:.4f}, tOF {row['tof']:.3f}, "
            f"window vs static {row['window_vs_static']:+.3f} dB",
            file=sys.stderr,
        )

    def note(self, message: str) -> None:
        if self.enabled:
            self.progress.write(message, file=sys.stderr)

    def _scalars(self, group: str, step: int, row: dict[str, Any]) -> None:
        if self.board is None:
            return
        for key, value in row.items():
            if isinstance(value, (int, float)):
                self.board.add_scalar(f"{group}/{key}", value, step)

    def close(self) -> None:
        if not self.enabled:
            return
        self.progress.close()
        if self.board is not None:
            self.board.close()
