"""`vsvsr serve`: the local website of the paper. Upload a clip or a photo, pick a model and a
scale, watch the progress, compare bicubic and the model on any frame, download the result.

A thin adapter over `vsvsr upscale`'s pipeline (so one engine and the same output bits):

    app.py     the routes: the page at `/` and the JSON API it uses (`/api/...`)
    jobs.py    the job queue: folders under the cache, worker threads, expiry
    media.py   what an upload is, frames decoded for previews and per-frame PSNR
    static/    the page: plain HTML, CSS and JS (no build step, nothing fetched from elsewhere)
"""

from .app import create_app
from .jobs import ServeOptions

__all__ = ["ServeOptions", "create_app"]
