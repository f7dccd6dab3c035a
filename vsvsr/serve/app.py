"""The website's routes: one page at `/` and the JSON API the page uses.

    GET  /                          the page (static/index.html, with static/app.js and style.css)
    GET  /api/models                the models offered (shipped ones, as `vsvsr models` lists), scales, modes
    POST /api/jobs                  multipart: file, scale (2|4), model, mode, original (optional) -> 202 {"id"}
    GET  /api/jobs/{id}             {"state": queued|running|done|failed, "progress", "frames_done", ...}
    GET  /api/jobs/{id}/result      the upscaled file (MKV as vsvsr upscale makes it; PNG for an image)
    GET  /api/jobs/{id}/preview     ?frame=N[&x=&y=&w=&h=]: PNG of bicubic | output, cropped to the box

Every error a user can cause is a 4xx with {"error": "<what> must <rule>; <how to fix>"}.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from .. import weights
from ..engine.windows import MODES
from ..errors import UserError
from ..pipeline import PipelineError
from ..pipeline.probe import probe
from . import media
from .jobs import Job, JobQueue, ServeOptions

SCALES = (2, 4)
STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
_MULTIPART_SLACK = 64 * 1024  # form fields and part headers around the files
_COPY_CHUNK = 1 << 20


class RequestError(UserError):
    """A request the user can fix: answered `status` with {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(options: ServeOptions | None = None) -> FastAPI:
    """The ASGI app; its job queue starts and stops with the app's lifespan."""
    options = options or ServeOptions()
    jobs = JobQueue(options)
    offered = _model_list(options.models)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        try:
            yield
        finally:
            jobs.stop()

    app = FastAPI(title="vsvsr", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.jobs = jobs

    @app.exception_handler(RequestError)
    async def user_error(request: Request, err: RequestError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.get("/")
    def page() -> Response:
        return _static("index.html")

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:  # a fixed list: the URL never becomes a path
            raise RequestError(404, f"/static/{name} must be one of the page's files ({', '.join(STATIC)})")
        return _static(name)

    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {"models": offered, "default": _default_model(options), "scales": list(SCALES), "modes": list(MODES),
                "max_upload_mb": options.max_upload_mb, "keep_hours": options.keep_hours}  # fmt: skip

    @app.post("/api/jobs", status_code=202)
    async def create_job(request: Request) -> JSONResponse:
        limit = int(options.max_upload_mb * 2**20)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:  # refused before reading it
            raise _too_large(int(declared), options.max_upload_mb)
        try:
            form = await request.form(max_files=2, max_fields=8)
        except HTTPException as err:
            raise RequestError(400, f"the upload must be a multipart form ({err.detail}); send file=@CLIP with scale and model") from None
        try:
            fields = _fields(form, options)
            job_id, folder = jobs.new_folder()
            try:
                job = await run_in_threadpool(_receive, form, fields, job_id, folder, limit, options.max_upload_mb)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
        finally:
            await form.close()
        jobs.submit(job)
        return JSONResponse({"id": job.id}, status_code=202)

    @app.get("/api/jobs/{job_id}")
    def status(job_id: str) -> dict[str, Any]:
        return _job(jobs, job_id).status()

    @app.get("/api/jobs/{job_id}/result")
    def result(job_id: str) -> FileResponse:
        job = _done(jobs, job_id)
        return FileResponse(jobs.result(job), filename=job.download_name)

    @app.get("/api/jobs/{job_id}/preview")
    def preview(job_id: str, frame: str = "0", x: str = "0", y: str = "0", w: str | None = None,
                h: str | None = None) -> Response:  # fmt: skip
        job = _done(jobs, job_id)
        n = _whole("frame", frame, 0, job.frames_total - 1)
        folder, output = jobs.folder(job.id), jobs.result(job)
        out_w, out_h = media.frame_size(output)
        left, top = _whole("x", x, 0, out_w - 1), _whole("y", y, 0, out_h - 1)
        width = _whole("w", w, 1, out_w - left) if w is not None else out_w - left
        height = _whole("h", h, 1, out_h - top) if h is not None else out_h - top
        lr = next(media.frames(folder / "input", *media.frame_size(folder / "input"), first=n, count=1))
        out = next(media.frames(output, out_w, out_h, first=n, count=1))
        return Response(media.side_by_side(lr, out, (left, top, width, height)), media_type="image/png")

    return app


def _static(name: str) -> Response:
    return Response(resources.files(__package__).joinpath("static", name).read_bytes(), media_type=STATIC[name])


def _model_list(models: dict[str, Path]) -> list[dict[str, Any]]:
    listed = []
    for name, path in models.items():
        d = weights.read_descriptor(path)
        listed.append({"name": name, "arch": d.arch, "window": d.window, "trained": d.trained, "steps": d.steps})
    return listed


def _default_model(options: ServeOptions) -> str:
    return weights.DEFAULT_MODEL if weights.DEFAULT_MODEL in options.models else next(iter(options.models))


def _fields(form: Any, options: ServeOptions) -> dict[str, Any]:
    """The form's settings, checked before any byte of the upload is copied."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise RequestError(400, "the upload must have a file field; choose a video or an image to upscale")
    model = str(form.get("model") or _default_model(options))
    if model not in options.models:
        raise RequestError(400, f"model must be one of {', '.join(options.models)}, not {model!r}; pick one from /api/models")
    scale = str(form.get("scale") or "2")
    if scale not in {str(s) for s in SCALES}:
        raise RequestError(400, f"scale must be 2 or 4, not {scale!r}; for other sizes resize the result afterwards")
    mode = str(form.get("mode") or "context")
    if mode not in MODES:
        raise RequestError(400, f"mode must be one of {', '.join(MODES)}, not {mode!r}; leave it out for context")
    original = form.get("original")
    has_original = isinstance(original, UploadFile) and bool(original.filename)
    return {"name": upload.filename, "model": model, "scale": int(scale), "mode": mode, "has_original": has_original}


def _receive(form: Any, fields: dict[str, Any], job_id: str, folder: Path, limit: int, limit_mb: float) -> Job:
    """Copy the upload (and the original) into the job's folder under fixed names and check that
    ffmpeg reads them; RequestError naming the fix otherwise. Runs in a worker thread."""
    received = _copy(form["file"], folder / "input", limit, limit_mb)
    if fields["has_original"]:
        _copy(form["original"], folder / "original", limit - received, limit_mb)
    image = _readable(folder / "input", "file", fields["name"])
    if fields["has_original"]:
        _readable(folder / "original", "original", form["original"].filename)
    return Job(job_id, image=image, **fields)


def _copy(upload: UploadFile, path: Path, limit: int, limit_mb: float) -> int:
    upload.file.seek(0)
    size = 0
    with open(path, "wb") as out:
        while chunk := upload.file.read(_COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit_mb)
            out.write(chunk)
    return size


def _readable(path: Path, field: str, name: str) -> bool:
    """Whether the upload is a still image; RequestError when it is neither a video nor an image."""
    try:
        probe(path)
        return media.is_image(path)
    except PipelineError as err:
        detail = str(err).replace(str(path), name)
        raise RequestError(400, f"the {field} must be a video or an image that ffmpeg reads ({detail}); upload another file") from None


def _too_large(size: int, limit_mb: float) -> RequestError:
    return RequestError(413, f"the upload must be at most {limit_mb:g} MB, not {size / 2**20:.1f} MB or more; cut the clip "
                          "shorter (e.g. ffmpeg -t 10) or start the server with a larger --max-upload-mb")  # fmt: skip


def _job(jobs: JobQueue, job_id: str) -> Job:
    try:
        return jobs.get(job_id)
    except KeyError:
        raise RequestError(404, f"job {job_id} must be a job of this server that has not expired; upload the file again") from None


def _done(jobs: JobQueue, job_id: str) -> Job:
    job = _job(jobs, job_id)
    if job.state != "done":
        raise RequestError(409, f"job {job_id} must be done first, it is {job.state}; wait until its state is done")
    return job


def _whole(name: str, value: str, least: int, most: int) -> int:
    if not value.isdigit() or not least <= int(value) <= most:
        raise RequestError(400, f"{name} must be a whole number from {least} to {most}, not {value!r}; pick one in that range")
    return int(value)
