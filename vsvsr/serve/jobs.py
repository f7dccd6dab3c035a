"""The website's job queue: each upload is a folder under the cache, upscaled by `vsvsr upscale`'s
own `upscale()` in a worker thread, one job at a time per worker, and removed `keep_hours`
after it ended.

    CACHE/.lock          held by the one server using this cache (flock), so startup may clean up
    CACHE/<id>/input     the upload, under a fixed name (uploaded names are never paths)
    CACHE/<id>/original  the optional original the upload was downscaled from (per-frame PSNR)
    CACHE/<id>/result.mkv or result.png, then job.json: a finished job (the input stays for
                         previews), reloaded by a restart

A failed job keeps no files: its folder goes at once and only its state and error stay (in
memory, until it expires). Jobs run in the server's process, not the browser's: closing the page
changes nothing, and the page finds its job again by id.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import weights
from ..atomic import atomic_path
from ..cache import cache_root
from ..engine import Settings
from ..errors import UsageError, UserError
from ..pipeline import EncodeOptions, UpscaleOptions, upscale
from . import media

log = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
STATES = ("queued", "running", "done", "failed")
STOP_WAIT_S = 10  # how long shutdown waits for a running job to stop at its next frame


def default_cache() -> Path:
    return cache_root() / "serve"


@dataclass(frozen=True)
class ServeOptions:
    """How `vsvsr serve` runs; `models` maps the names offered to their weights files (default:
    the shipped models, as `vsvsr models` lists them)."""

    cache: Path = field(default_factory=default_cache)
    workers: int = 1
    max_upload_mb: float = 500
    keep_hours: float = 24
    models: dict[str, Path] = field(default_factory=weights.shipped)
    engine: Settings = field(default_factory=Settings)  # device and precision; scale and mode come per job

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"--workers must be at least 1, not {self.workers}; each worker runs one job at a time")
        if self.max_upload_mb <= 0:
            raise UsageError(f"--max-upload-mb must be above 0, not {self.max_upload_mb}; give the largest upload in MB")
        if self.keep_hours <= 0:
            raise UsageError(f"--keep-hours must be above 0, not {self.keep_hours}; give how long results stay")
        if not self.models:
            raise UsageError("the website must offer at least one model; train one and pass its file with --weights")


@dataclass
class Job:
    id: str
    name: str  # the uploaded file's name, for the download's name only
    model: str
    scale: int
    mode: str
    image: bool
    has_original: bool
    created: float = field(default_factory=time.time)
    state: str = "queued"
    frames_done: int = 0
    frames_total: int = 0
    fps: float = 0.0
    error: str | None = None
    psnr: list[dict[str, float]] | None = None  # per frame, when an original was given
    ended: float | None = None

    @property
    def result_name(self) -> str:
        return "result.png" if self.image else "result.mkv"

    @property
    def download_name(self) -> str:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(self.name).stem).strip("._")[:80] or "upload"
        return f"{stem}_x{self.scale}{Path(self.result_name).suffix}"

    def status(self) -> dict[str, Any]:
        progress = 1.0 if self.state == "done" else self.frames_done / self.frames_total if self.frames_total else 0.0
        return {"id": self.id, "state": self.state, "progress": round(progress, 4), "frames_done": self.frames_done,
                "frames_total": self.frames_total, "fps": round(self.fps, 2), "error": self.error, "name": self.name,
                "model": self.model, "scale": self.scale, "mode": self.mode, "image": self.image,
                "psnr": self.psnr, "download": self.download_name if self.state == "done" else None}  # fmt: skip


class Stopped(Exception):
    """Raised inside a running job when the server shuts down."""


class JobQueue:
    """Jobs by id, their folders under `options.cache`, and the worker threads that run them."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.jobs: dict[str, Job] = {}
        self._todo: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._cache_lock: int | None = None

    # ---- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Take the cache folder, reload finished jobs, remove what an earlier server left unfinished."""
        cache = self.options.cache
        cache.mkdir(parents=True, exist_ok=True)
        fd = os.open(cache / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"the cache folder {cache} must belong to one server and another vsvsr serve uses it; "
                             "stop that one or pass --cache with another folder") from None  # fmt: skip
        self._cache_lock = fd
        for folder in cache.iterdir():
            if folder.is_dir() and ID_PATTERN.fullmatch(folder.name):
                self._reload(folder)
        self.expire()
        self._stop.clear()
        for n in range(self.options.workers):
            self._spawn(self._work, f"vsvsr-serve-worker-{n}")
        self._spawn(self._sweep, "vsvsr-serve-expiry")

    def stop(self) -> None:
        """Stop the workers (a running job at its next frame) and remove every unfinished job."""
        self._stop.set()
        for thread in self._threads:
            thread.join(STOP_WAIT_S)
        self._threads.clear()
        with self._lock:
            for job in [j for j in self.jobs.values() if j.state in ("queued", "running")]:
                self._remove(job.id)
        if self._cache_lock is not None:
            os.close(self._cache_lock)  # releases the flock
            self._cache_lock = None

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _reload(self, folder: Path) -> None:
        try:
            job = Job(**json.loads((folder / "job.json").read_text()))
        except (OSError, ValueError, TypeError):
            job = None  # unfinished (no job.json yet) or from another version: nothing to keep
        if job is None or job.state != "done" or not (folder / job.result_name).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            return
        self.jobs[job.id] = job

    # ---- jobs ---------------------------------------------------------------------------------

    def new_folder(self) -> tuple[str, Path]:
        """A fresh id and its (empty) folder, for an upload being received."""
        job_id = uuid.uuid4().hex
        folder = self.folder(job_id)
        folder.mkdir()
        return job_id, folder

    def folder(self, job_id: str) -> Path:
        if not ID_PATTERN.fullmatch(job_id):  # ids are ours: never a path someone typed
            raise KeyError(job_id)
        return self.options.cache / job_id

    def submit(self, job: Job) -> None:
        with self._lock:
            self.jobs[job.id] = job
        self._todo.put(job.id)

    def get(self, job_id: str) -> Job:
        """The job; KeyError for an unknown or expired id."""
        with self._lock:
            return self.jobs[job_id]

    def result(self, job: Job) -> Path:
        return self.folder(job.id) / job.result_name

    def expire(self, now: float | None = None) -> list[str]:
        """Remove jobs that ended more than keep_hours ago; their ids."""
        now = time.time() if now is None else now
        keep = self.options.keep_hours * 3600
        with self._lock:
            old = [j.id for j in self.jobs.values() if j.ended is not None and now - j.ended > keep]
            for job_id in old:
                self._remove(job_id)
                del self.jobs[job_id]
        return old

    def _remove(self, job_id: str) -> None:
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def _sweep(self) -> None:
        period = min(60.0, self.options.keep_hours * 3600 / 4)
        while not self._stop.wait(period):
            self.expire()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = self._todo.get(timeout=0.2)
            except queue.Empty:
                continue
            with self._lock:
                job = self.jobs.get(job_id)
            if job is not None:
                self._run(job)

    def _run(self, job: Job) -> None:
        folder = self.folder(job.id)
        job.state = "running"
        began: list[float] = []

        def on_frame(done: int, total: int) -> None:
            if self._stop.is_set():
                raise Stopped
            if not began:
                began.append(time.monotonic())
            elif done:
                job.fps = done / max(time.monotonic() - began[0], 1e-9)
            job.frames_done, job.frames_total = done, total

        try:
            upscale(self._options(job, folder), progress=False, on_frame=on_frame)
            if job.has_original:
                job.psnr = media.psnr_per_frame(folder / "input", self.result(job), folder / "original", job.scale)
            job.state, job.ended = "done", time.time()
            with atomic_path(folder / "job.json") as tmp:
                tmp.write_text(json.dumps(dataclasses.asdict(job)))
            log.info("job %s done: %d frames of %s", job.id, job.frames_total, job.name)
        except Stopped:
            return  # stop() removes it
        except UserError as err:
            self._fail(job, str(err).replace(str(folder / "input"), job.name).replace(str(folder) + os.sep, ""))
        except Exception as err:  # a bug: say so in the job, keep the traceback in the server's log
            log.exception("job %s failed", job.id)
            self._fail(job, f"internal error ({type(err).__name__}: {err}); please report it with the server's log")

    def _fail(self, job: Job, error: str) -> None:
        self._remove(job.id)
        job.error, job.state, job.ended = error, "failed", time.time()
        log.info("job %s failed: %s", job.id, error)

    def _options(self, job: Job, folder: Path) -> UpscaleOptions:
        """What `vsvsr upscale` runs for this job: its defaults for a video (libx264 CRF 18 in MKV),
        a lossless PNG for a still image (as `vsvsr upscale in.png out.png --codec png --pix-fmt rgb24`)."""
        encode = EncodeOptions("png", pix_fmt="rgb24") if job.image else EncodeOptions()
        engine = dataclasses.replace(self.options.engine, scale=job.scale, mode=job.mode)
        return UpscaleOptions(folder / "input", folder / job.result_name, model=str(self.options.models[job.model]),
                              engine=engine, encode=encode)  # fmt: skip
