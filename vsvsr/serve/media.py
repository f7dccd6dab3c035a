"""Media questions the website asks beside the pipeline: is an upload a video or a still image,
what does frame n look like (decoded to RGB), how far is each output frame from the original."""

from __future__ import annotations

import io
import itertools
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..metrics import psnr_y
from ..pipeline import PipelineError
from ..pipeline.tools import ffprobe_json, tool
from ..resize import quantize8, upsample


def is_image(path: Path) -> bool:
    """Whether ffmpeg reads `path` with a still-image demuxer (PNG, JPEG, ...), not as a video."""
    found = ffprobe_json(["-show_entries", "format=format_name", str(path)], "probing the upload")
    name = found.get("format", {}).get("format_name", "")
    return name == "image2" or name.endswith("_pipe")


def frames(path: Path, width: int, height: int, first: int = 0, count: int | None = None) -> Iterator[torch.Tensor]:
    """Decoded RGB frames of `path` (rotation applied, as the pipeline does), (3, H, W) in [0, 1],
    from frame `first` on; `width` x `height` is the decoded size."""
    select = ["-vf", f"select=gte(n\\,{first})"] if first else []
    limit = ["-frames:v", str(count)] if count is not None else []
    args = [tool("ffmpeg"), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", *select, "-fps_mode", "passthrough",
            *limit, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    size = width * height * 3
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout is not None
        while len(raw := child.stdout.read(size)) == size:
            yield torch.from_numpy(np.frombuffer(raw, np.uint8).reshape(height, width, 3).copy()).permute(2, 0, 1) / 255
        child.stdout.close()
        error = child.stderr.read().decode(errors="replace").strip() if child.stderr else ""
    if child.returncode not in (0, None) and error:
        raise PipelineError(f"decoding {path.name} failed: {error.splitlines()[0]}")


def frame_size(path: Path) -> tuple[int, int]:
    """The size frames of `path` decode to (after rotation, like `frames`)."""
    args = [tool("ffmpeg"), "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-frames:v", "1", "-f", "image2pipe",
            "-c:v", "png", "-"]  # fmt: skip
    done = subprocess.run(args, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise PipelineError(f"decoding {path.name} failed: {done.stderr.decode(errors='replace').strip() or 'no frame'}")
    with Image.open(io.BytesIO(done.stdout)) as image:
        return image.size


def side_by_side(lr: torch.Tensor, output: torch.Tensor, box: tuple[int, int, int, int]) -> bytes:
    """PNG of the bicubic-upscaled LR frame | the output frame, both cropped to `box`
    (x, y, width, height in output pixels)."""
    scale = output.shape[-1] // lr.shape[-1]
    bicubic = quantize8(upsample(lr, scale))
    x, y, w, h = box
    row = torch.cat([bicubic[:, y : y + h, x : x + w], output[:, y : y + h, x : x + w]], dim=-1)
    picture = Image.fromarray((row.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def psnr_per_frame(lr: Path, output: Path, original: Path, scale: int) -> list[dict[str, float]]:
    """PSNR-Y (dB) against the original of every frame, for bicubic and for the output; PipelineError
    when the original does not have the output's size and frame count."""
    lr_size, out_size, hr_size = frame_size(lr), frame_size(output), frame_size(original)
    if hr_size != out_size:
        raise PipelineError(f"the original must be {out_size[0]}x{out_size[1]} (the upload's size times {scale}), not "
                            f"{hr_size[0]}x{hr_size[1]}; give the clip the upload was downscaled from, or no original")  # fmt: skip
    rows, outputs, originals = [], 0, 0
    for a, b, c in itertools.zip_longest(frames(lr, *lr_size), frames(output, *out_size), frames(original, *hr_size)):
        outputs, originals = outputs + (b is not None), originals + (c is not None)
        if a is not None and b is not None and c is not None:
            bicubic = quantize8(upsample(a, scale))
            rows.append({"bicubic": _finite(psnr_y(bicubic[None], c[None])), "output": _finite(psnr_y(b[None], c[None]))})
    if originals != outputs:
        raise PipelineError(f"the original must have as many frames as the upload ({outputs}), not {originals}; give "
                            "the clip the upload was downscaled from, or no original")  # fmt: skip
    return rows


def _finite(value: torch.Tensor) -> float:
    """JSON has no infinity: identical frames report 100 dB (8-bit levels never get there otherwise)."""
    return round(min(float(value[0]), 100.0), 3)
