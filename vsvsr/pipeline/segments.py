"""Resumable work: the clip cut into fixed segments, and a state file saying which are finished.

Every job is encoded in segments, interrupted or not, so an interrupted and an uninterrupted run
produce the same frames: the engine's output for frame n depends only on n, the clip length, the
scene cuts and the source frames, and segments start on the window grid (a multiple of its
stride), so no window straddles two segments. A segment counts as finished once its file is
complete and recorded in `state.json`; both are written atomically, so a run killed at any point
leaves either a finished segment or none.

The work folder sits beside OUTPUT as `.OUTPUT.vsvsr/`; the joined result is written there too
and renamed onto OUTPUT only when everything succeeded.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_path

STATE_VERSION = 1


@dataclass(frozen=True)
class Segment:
    index: int
    first: int  # first frame
    end: int  # one past the last frame

    @property
    def frames(self) -> int:
        return self.end - self.first

    @property
    def name(self) -> str:
        return f"segment{self.index:05d}.nut"


def plan_segments(length: int, stride: int, target: int) -> list[Segment]:
    """Segments of about `target` frames (a multiple of the window stride) covering `length`."""
    size = max(1, round(target / stride)) * stride
    return [Segment(i, first, min(first + size, length)) for i, first in enumerate(range(0, length, size))]


def _write_json(path: Path, data: Any) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))


class WorkDir:
    """`.OUTPUT.vsvsr/` beside OUTPUT: segments, their state, the joined output before its rename.

    `job` is everything that changes the output (input file, model, settings, encode options):
    finished segments are reused only by a job with the same `job`.
    """

    def __init__(self, output: Path) -> None:
        self.path = output.parent / f".{output.name}.vsvsr"
        self.state_file = self.path / "state.json"
        self.joined = self.path / f"joined{output.suffix}"  # the muxer picks its format by suffix
        self.job: dict[str, Any] = {}
        self.scan: dict[str, Any] | None = None
        self.finished: dict[int, int] = {}  # segment index -> file size in bytes

    def load(self) -> bool:
        """Read an earlier run's state; False when there is none (or it is unreadable)."""
        try:
            raw = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return False
        if raw.get("version") != STATE_VERSION:
            return False
        self.job, self.scan = raw["job"], raw.get("scan")
        self.finished = {int(i): size for i, size in raw["finished"].items()}
        return True

    def start(self, job: dict[str, Any]) -> None:
        """Begin `job` afresh: an empty folder and state."""
        self.remove()
        self.path.mkdir(parents=True)
        self.job, self.scan, self.finished = job, None, {}
        self.save()

    def save(self) -> None:
        _write_json(self.state_file, {"version": STATE_VERSION, "job": self.job, "scan": self.scan,
                                      "finished": {str(i): n for i, n in sorted(self.finished.items())}})  # fmt: skip

    def segment_file(self, segment: Segment) -> Path:
        return self.path / segment.name

    def is_finished(self, segment: Segment) -> bool:
        """Recorded as finished and its file still there, whole."""
        path = self.segment_file(segment)
        return segment.index in self.finished and path.is_file() and path.stat().st_size == self.finished[segment.index]

    def finish(self, segment: Segment) -> None:
        self.finished[segment.index] = self.segment_file(segment).stat().st_size
        self.save()

    def changed(self, job: dict[str, Any]) -> list[str]:
        """The settings in which `job` differs from the recorded one."""
        return sorted(k for k in set(job) | set(self.job) if job.get(k) != self.job.get(k))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
