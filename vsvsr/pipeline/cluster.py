"""`vsvsr upscale --workers N`: the segments as Ray tasks, on this machine or on a Ray cluster.

    with Workers(ClusterOptions(workers=4)) as workers:   # a local Ray cluster, or RAY_ADDRESS's
        effort = workers.run(task, weights_file, todo, work, advance)

Each task renders one segment (render.SegmentTask): it loads the model itself, with its share of
the cores as torch threads; decodes the input from the first frame its windows read (seeking to
the keyframe before it where that is exact, seek.py); encodes the segment file. Where the task
runs on the driver's machine (always, on a local cluster) it writes that file straight into the
work folder under a name of its own, so a retry never writes over a dead attempt's unfinished
file, and the driver renames it; from any other machine the file's bytes come back through
Ray. The driver alone records finished segments (WorkDir), so `--resume` after a crash of the
driver reuses them as with one worker. A worker (or machine) that dies is Ray's to retry, up to
RETRIES times. Joining and muxing stay in job.py, once.

Ray is an optional dependency (`pip install 'vsvsr[cluster]'`), imported only here and only
for N > 1: `--workers 1` is job.py's in-process path.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

import torch

from ..atomic import atomic_path, commit
from ..engine import Resolved, Settings, default_batch, default_precision
from .render import Effort, SegmentTask
from .segments import Segment, WorkDir
from .tools import PipelineError

log = logging.getLogger(__name__)

RETRIES = 3  # attempts after the first when a worker process or its machine dies
POLL_SECONDS = 0.25  # how often the driver refreshes the progress bar while tasks run


@dataclass(frozen=True)
class ClusterOptions:
    workers: int = 1  # segments rendered at once; 1: in process, without Ray
    address: str | None = None  # an existing cluster (HOST:PORT, ray://HOST:PORT, auto); None: RAY_ADDRESS, else local
    gpus_per_worker: float = 0  # GPUs Ray gives each worker; 0: workers run on the CPU


def worker_settings(resolved: Resolved, given: Settings, options: ClusterOptions) -> Resolved:
    """What every worker computes with: the driver's settings, on the CPU or on the GPU Ray
    assigns it (cuda:0 inside the task), at the precision and batch the user gave or that
    device's defaults."""
    if options.gpus_per_worker < 0:
        raise PipelineError(f"--gpus-per-worker must be 0 or more, not {options.gpus_per_worker:g}")
    kind = "cuda" if options.gpus_per_worker else "cpu"
    if given.device is not None and torch.device(given.device).type != kind:
        fix = "pass --gpus-per-worker 1 to give each a GPU" if kind == "cpu" else "leave out --device"
        raise PipelineError(f"with --workers {options.workers} the workers run on {'the GPUs Ray assigns them' if options.gpus_per_worker else 'the CPU'}, "
                            f"not --device {given.device}; {fix}")  # fmt: skip
    device = torch.device(kind)
    precision = given.precision or default_precision(device)
    return replace(resolved, device=device, precision=precision, channels_last=device.type == "cuda",
                   batch=given.batch or default_batch(device, resolved.tile, precision))  # fmt: skip


@dataclass(frozen=True)
class _Rendered:
    """A task's answer: what it took, and its segment file (a path on the driver's machine, or
    the file's bytes from another)."""

    effort: Effort
    path: str | None
    data: bytes | None


def _render(task: SegmentTask, segment: Segment, weights_bytes: bytes, work: str, home: str | None, threads: int,
            progress: Any) -> _Rendered:  # fmt: skip
    """The Ray task: one segment, into the work folder when this is the driver's machine;
    (segment, frames done) into the `progress` queue after every frame."""
    import ray

    def done(n: int) -> None:
        progress.put_nowait((segment.index, n + 1 - segment.first))

    if ray.get_runtime_context().get_node_id() == home:
        path = Path(work, f".{segment.name}.{secrets.token_hex(4)}")  # the driver renames it
        return _Rendered(task.render(segment, path, weights_bytes, threads, done), str(path), None)
    with tempfile.TemporaryDirectory(prefix="vsvsr-segment-") as tmp:
        path = Path(tmp, segment.name)
        effort = task.render(segment, path, weights_bytes, threads, done)
        return _Rendered(effort, None, path.read_bytes())


class Workers:
    """A connection to Ray for one job: `run` renders segments on it.

    Joins the cluster at `address` (or RAY_ADDRESS), else starts a local one with this
    machine's cores; a process already connected to Ray (ray.init) is used as it is."""

    def __init__(self, options: ClusterOptions) -> None:
        self.options = options
        self._connected = False  # by us: we disconnect (and stop the local cluster we started)
        self._ray: Any = None
        self._sigint: Any = None

    def __enter__(self) -> Self:
        try:
            import ray
        except ImportError:
            raise PipelineError(f"--workers {self.options.workers} runs on Ray, which is not installed; install it "
                                "with pip install 'vsvsr[cluster]', or pass --workers 1") from None  # fmt: skip
        self._ray = ray
        # Ray may change SIGINT's handler in the driver (the test suite once found it ignored
        # after a cluster's run): the job hands the process back with the Ctrl-C handler it found.
        self._sigint = signal.getsignal(signal.SIGINT)
        address = self.options.address or os.environ.get("RAY_ADDRESS")
        if ray.is_initialized() and self.options.address is None:
            return self
        if address:
            _check_reachable(address)
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=len(os.sched_getaffinity(0)), **quiet)
        except Exception as err:  # Ray fails to connect in many types (ConnectionError, RuntimeError, ...)
            where = f"join the Ray cluster at {address}" if address else "start a local Ray cluster"
            raise PipelineError(f"could not {where}: {_first_line(err)}; check the address, or pass --workers 1") from None
        self._connected = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connected:
            self._ray.shutdown()
        if threading.current_thread() is threading.main_thread() and self._sigint is not None:
            signal.signal(signal.SIGINT, self._sigint)

    def run(self, task: SegmentTask, weights_file: Path, todo: list[Segment], work: WorkDir,
            advance: Callable[[int], None]) -> Effort:  # fmt: skip
        """Render `todo`, at most `workers` at once, recording each in `work` as it finishes;
        `advance(frames)` as frames get done anywhere. What the finished tasks took."""
        from ray.util.queue import Queue

        ray, workers = self._ray, self.options.workers
        cpus = ray.cluster_resources().get("CPU", 1)
        share = cpus // workers or cpus / workers  # whole cores where there are enough
        remote = ray.remote(_render).options(num_cpus=share, num_gpus=self.options.gpus_per_worker,
                                             max_retries=RETRIES)  # fmt: skip
        # Its actor imports Ray alone (not torch), so it starts in a second.
        progress = Queue(actor_options={"num_cpus": 0})
        weights_ref = ray.put(weights_file.read_bytes())  # once, not once per task
        # A ray:// client's node is a server's, not this machine: have every file sent back.
        home = None if (self.options.address or "").startswith("ray://") else _home_node(ray)
        queue, pending = list(todo), {}
        counts: dict[int, int] = {}  # frames done per unfinished segment: a retry counts from 0 again, the most stands
        finished_frames = shown = 0
        effort = Effort()
        try:
            while queue or pending:
                while queue and len(pending) < workers:
                    segment = queue.pop(0)
                    ref = remote.remote(task, segment, weights_ref, str(work.path), home, max(1, int(share)), progress)
                    pending[ref] = segment
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    segment = pending.pop(ref)
                    rendered = self._result(ref, segment)
                    _keep(rendered, work.segment_file(segment))
                    work.finish(segment)
                    finished_frames += segment.frames
                    effort += rendered.effort
                for index, frames in progress.get_nowait_batch(progress.qsize()):
                    counts[index] = max(counts.get(index, 0), frames)
                now = finished_frames + sum(min(counts.get(s.index, 0), s.frames) for s in pending.values())
                advance(now - shown)
                shown = now
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            progress.shutdown()
        return effort

    def _result(self, ref: Any, segment: Segment) -> _Rendered:
        """The task's answer; PipelineError with its message when it failed."""
        errors = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except errors.RayTaskError as err:  # the task raised: no retry would help
            cause = getattr(err, "cause", None) or err
            raise PipelineError(f"segment {segment.index} (frames {segment.first}-{segment.end - 1}): "
                                f"{_first_line(cause)}") from None  # fmt: skip
        except errors.RayError as err:  # its worker or machine died every time
            raise PipelineError(f"segment {segment.index} failed {RETRIES + 1} times on the cluster "
                                f"({type(err).__name__}: {_first_line(err)}); finished segments are kept: "
                                "run the same command with --resume") from None  # fmt: skip


def _home_node(ray: Any) -> str:
    """The Ray node this process runs on: tasks there share our filesystem."""
    return ray.get_runtime_context().get_node_id()


def _keep(rendered: _Rendered, target: Path) -> None:
    """Put a rendered segment under its name in the work folder."""
    if rendered.data is None:
        commit(rendered.path, target)
    else:
        with atomic_path(target) as tmp:
            tmp.write_bytes(rendered.data)


def _check_reachable(address: str) -> None:
    """Fail in a second, with the fix, on an address nothing answers at (Ray itself retries
    for a minute before it gives up)."""
    if address in ("auto", "local"):
        return
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        raise PipelineError(f"--ray-address must be HOST:PORT (e.g. 10.0.0.5:6379), ray://HOST:PORT or auto, "
                            f"not {address!r}")  # fmt: skip
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        raise PipelineError(f"no Ray cluster answers at {address} ({err.strerror or err}); start one there with "
                            "'ray start --head', or correct --ray-address (or RAY_ADDRESS)") from None  # fmt: skip


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
