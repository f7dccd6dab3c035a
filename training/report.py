"""How evaluation results are shown: the markdown table, and an HTML page with pictures.

``index.html`` is plain HTML and CSS with PNGs beside it under ``assets/`` (relative paths)
and inline SVG plots, so it opens offline from any folder. Per clip it shows:

- the ground truth's middle frame, marking the crop (yellow), the zoomed detail (red) and the
  pixel row of the temporal profile (cyan);
- side by side, every method's output and the ground truth: the crop at 1:1, the detail
  enlarged by nearest neighbour (every output pixel visible), and the temporal profile;
- PSNR-Y per frame, one line per method.

The temporal profile is an x-t slice: the same row of pixels from every frame, stacked top to
bottom in frame order. Steady motion draws smooth slanted streaks; flicker shows as noise
across the streaks.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw

CROP = 192  # side of the side-by-side crops, in HR pixels
DETAIL = 48  # side of the zoomed detail region, in HR pixels
DETAIL_ZOOM = 4
PROFILE_ROW_HEIGHT = 6  # screen rows per frame in the temporal profile
GROUND_TRUTH = "ground truth"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_TICK_STEPS = (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 50, 100)  # dB between grid lines

# (header, key in the results, factor, format): the paper's Table 2 columns, then ours.
TABLE_COLUMNS = (
    ("PSNR-Y (dB) ↑", "psnr_y", 1, "{:.2f}"),
    ("LPIPS ↓", "lpips", 1, "{:.3f}"),
    ("SSIM-Y ↑", "ssim_y", 1, "{:.4f}"),
    ("tOF ↓", "tof", 1, "{:.3f}"),
    ("tLP×100 ↓", "tlp", 100, "{:.3f}"),  # TecoGAN prints tLP times 100
    ("s/MP ↓", "seconds_per_mp", 1, "{:.3g}"),
)
# The page also shows the temporal error, in 8-bit luma levels.
PAGE_COLUMNS = TABLE_COLUMNS[:5] + (("temporal error ↓", "temporal_error", 1, "{:.3f}"),) + TABLE_COLUMNS[5:]


@dataclass(frozen=True)
class ClipAssets:
    """The pictures written for one clip, as paths relative to the report folder."""

    name: str
    frame: int  # index of the frame shown
    row: int  # HR row the temporal profile slices
    overview: str
    crops: dict[str, str]  # method (or GROUND_TRUTH) -> picture
    details: dict[str, str]
    profiles: dict[str, str]


def markdown_table(results: dict[str, Any], dataset: str) -> str:
    """The mean results as a markdown table, one row per method."""
    settings = results["settings"]
    header = ["Dataset", "Method", "Scale", "Downsampling"] + [c[0] for c in TABLE_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for method in results["methods"]:
        cells = [dataset, _label(method), f"x{settings['scale']}", settings["downsample"]]
        cells += _cells(results["mean"][method["name"]], TABLE_COLUMNS)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_clip_assets(
    report_dir: Path, index: int, name: str, hr: torch.Tensor, outputs: dict[str, torch.Tensor]
) -> ClipAssets:
    """Write one clip's pictures: `hr` and each of `outputs` are (T, 3, H, W) uint8."""
    folder = Path("assets") / f"{index:02d}_{_safe(name)}"
    (report_dir / folder).mkdir(parents=True, exist_ok=True)
    clips = {method: _to_numpy(frames) for method, frames in outputs.items()} | {GROUND_TRUTH: _to_numpy(hr)}
    gt = clips[GROUND_TRUTH]
    frame = len(gt) // 2
    dx, dy = _detail_corner(gt[frame])
    cx, cy = _crop_corner(gt.shape[1:3], dx, dy)
    row = dy + DETAIL // 2

    def save(image: np.ndarray, stem: str) -> str:
        path = folder / f"{_safe(stem)}.png"
        Image.fromarray(image).save(report_dir / path)
        return path.as_posix()

    crops, details, profiles = {}, {}, {}
    for method, frames in clips.items():
        crops[method] = save(frames[frame, cy : cy + CROP, cx : cx + CROP], f"crop_{method}")
        detail = frames[frame, dy : dy + DETAIL, dx : dx + DETAIL]
        details[method] = save(np.repeat(np.repeat(detail, DETAIL_ZOOM, 0), DETAIL_ZOOM, 1), f"detail_{method}")
        profiles[method] = save(np.repeat(frames[:, row, cx : cx + CROP], PROFILE_ROW_HEIGHT, 0), f"profile_{method}")
    overview = _overview(gt[frame], (cx, cy, CROP), (dx, dy, DETAIL), row)
    return ClipAssets(name, frame, row, save(overview, "overview"), crops, details, profiles)


def write_index(report_dir: Path, results: dict[str, Any], assets: list[ClipAssets]) -> Path:
    """Write report_dir/index.html for `results` and the pictures in `assets`."""
    settings, model = results["settings"], results["model"]
    title = f"vsvsr evaluation: {model['arch']} x{settings['scale']}, {settings['downsample']} inputs"
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in results["notes"])
    summary = {
        "data": settings["data"] + (f" ({settings['evalset_version']})" if "evalset_version" in settings else ""),
        "model": f"{model['source']} — {model['arch']}, {model['parameters']:,} parameters, "
        f"window {model['window']}, trained {str(model['trained']).lower()}, {model['steps']} steps, "
        f"trained on {model['downsample']} inputs",
        "scoring": f"outputs rounded to 8 bits; PSNR-Y/SSIM-Y crop {settings['crop']} px; "
        f"LPIPS {settings['lpips_net']}; speed on {settings['device']} with "
        f"{results['environment']['threads']} threads, {settings['output_megapixels']:.1f} output megapixels",
    }
    sections = "".join(_clip_section(results, clip, clip_assets) for clip, clip_assets in zip(results["clips"], assets))
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
{notes}
<h2>Mean over {len(results["clips"])} clips</h2>
{_metrics_table(results, results["mean"])}
<dl>{"".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in summary.items())}</dl>
<nav>{" · ".join(f'<a href="#{_safe(c["name"])}">{html.escape(c["name"])}</a>' for c in results["clips"])}</nav>
{sections}
</body>
</html>
"""
    path = report_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _clip_section(results: dict[str, Any], clip: dict[str, Any], assets: ClipAssets) -> str:
    columns = list(assets.crops)
    heads = "".join(f"<th>{html.escape(c)}</th>" for c in columns)

    def pictures(paths: dict[str, str], alt: str) -> str:
        cells = (f'<td><img src="{html.escape(paths[c])}" alt="{html.escape(f"{alt}, {c}")}"></td>' for c in columns)
        return "".join(cells)

    per_frame = {m["name"]: clip["metrics"][m["name"]]["psnr_y_per_frame"] for m in results["methods"]}
    return f"""
<section id="{_safe(clip["name"])}">
<h2>{html.escape(clip["name"])}</h2>
<p class="origin">{html.escape(clip["origin"])} — {clip["frames"]} frames of {clip["width"]}×{clip["height"]}</p>
<div class="side">
<figure><img src="{html.escape(assets.overview)}" alt="ground truth, frame {assets.frame}, with the regions marked">
<figcaption>ground truth, frame {assets.frame}: <span class="y">crop</span>, <span class="r">detail</span>,
<span class="c">profile row {assets.row}</span></figcaption></figure>
<figure>{_psnr_plot(per_frame)}<figcaption>PSNR-Y (dB) per frame</figcaption></figure>
</div>
{_metrics_table(results, clip["metrics"])}
<table class="compare">
<tr><th></th>{heads}</tr>
<tr><th>frame {assets.frame}, {CROP}×{CROP} crop</th>{pictures(assets.crops, "crop")}</tr>
<tr><th>detail ×{DETAIL_ZOOM}</th>{pictures(assets.details, "detail")}</tr>
<tr><th>temporal profile: row {assets.row}, frames top to bottom</th>
{pictures(assets.profiles, "temporal profile")}</tr>
</table>
</section>"""


def _metrics_table(results: dict[str, Any], values: dict[str, dict[str, float]]) -> str:
    head = "".join(f"<th>{html.escape(c[0])}</th>" for c in PAGE_COLUMNS)
    rows = "".join(
        f"<tr><th>{html.escape(_label(m))}</th>"
        + "".join(f"<td>{cell}</td>" for cell in _cells(values[m["name"]], PAGE_COLUMNS))
        + "</tr>"
        for m in results["methods"]
    )
    return f'<table class="metrics"><tr><th>method</th>{head}</tr>{rows}</table>'


def _psnr_plot(per_frame: dict[str, list[float]], width: int = 460, height: int = 220) -> str:
    """An inline SVG line chart of PSNR per frame, one line per method, legend on the right."""
    left, right, top, bottom = 44, 120, 10, 28
    finite = [v for values in per_frame.values() for v in values if math.isfinite(v)] or [0.0]
    step = next(s for s in _TICK_STEPS if (max(finite) - min(finite)) / s <= 5)
    low, high = math.floor(min(finite) / step) * step, math.ceil(max(finite) / step) * step
    high += step * (high == low)
    frames = max(len(v) for v in per_frame.values())

    def x(i: int) -> float:
        return left + i * (width - left - right) / max(frames - 1, 1)

    def y(v: float) -> float:
        return top + (high - min(v, high)) * (height - top - bottom) / (high - low)

    ticks = low + step * np.arange(round((high - low) / step) + 1)
    parts = [f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" class="grid"/>'
             f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>' for t in ticks]  # fmt: skip
    parts += [f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle">{i}</text>' for i in range(frames)]
    for n, (method, values) in enumerate(per_frame.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        legend_y = top + 14 + 18 * n
        parts.append(
            f'<line x1="{width - right + 10}" x2="{width - right + 30}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{width - right + 36}" y="{legend_y}">{html.escape(method)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="PSNR-Y per frame">{"".join(parts)}</svg>'
    )


def _overview(frame: np.ndarray, crop: tuple[int, int, int], detail: tuple[int, int, int], row: int) -> np.ndarray:
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    (cx, cy, cs), (dx, dy, ds) = crop, detail
    draw.line([(cx, row), (cx + cs - 1, row)], fill="cyan")
    draw.rectangle([cx, cy, cx + cs - 1, cy + cs - 1], outline="yellow")
    draw.rectangle([dx - 1, dy - 1, dx + ds, dy + ds], outline="red")
    return np.asarray(image)


def _detail_corner(frame: np.ndarray) -> tuple[int, int]:
    """Top-left corner of the DETAIL x DETAIL square with the most fine detail (summed absolute
    Laplacian of OpenCV's 8-bit grey image, which only picks where to look): where upscalers
    differ most visibly."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    energy = cv2.integral(np.abs(cv2.Laplacian(gray, cv2.CV_32F)))  # (H+1, W+1) running sums
    d = min(DETAIL, *gray.shape)
    sums = energy[d:, d:] - energy[:-d, d:] - energy[d:, :-d] + energy[:-d, :-d]  # per top-left corner
    y, x = np.unravel_index(np.argmax(sums), sums.shape)
    return int(x), int(y)


def _crop_corner(size: tuple[int, int], dx: int, dy: int) -> tuple[int, int]:
    """Top-left corner of the CROP square centred on the detail square, kept inside the frame."""
    height, width = size
    x = min(max(dx + DETAIL // 2 - CROP // 2, 0), max(width - CROP, 0))
    y = min(max(dy + DETAIL // 2 - CROP // 2, 0), max(height - CROP, 0))
    return x, y


def _cells(values: dict[str, float], columns: tuple) -> list[str]:
    return [fmt.format(values[key] * factor) for _, key, factor, fmt in columns]


def _label(method: dict[str, Any]) -> str:
    return method["name"] + (" (untrained)" if method.get("trained") is False else "")


def _safe(name: str) -> str:
    """`name` reduced to characters safe in file names and HTML ids."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _to_numpy(frames: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) uint8 tensor -> (T, H, W, 3) uint8 array."""
    return frames.permute(0, 2, 3, 1).contiguous().numpy()


_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1400px; padding: 0 16px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.note { background: #fff4d6; border-left: 4px solid #e0a800; padding: 6px 10px; }
.origin { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; }
table.metrics td, table.metrics th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.metrics th:first-child { text-align: left; }
table.compare th { font-weight: 600; padding: 2px 6px; vertical-align: middle; }
table.compare tr:first-child th { text-align: center; }
table.compare tr th:first-child { text-align: right; max-width: 10em; font-weight: normal; color: #555; }
table.compare td { padding: 2px; text-align: center; }
img { image-rendering: pixelated; display: block; }
.side { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; } figcaption { color: #555; font-size: 0.9em; }
svg text { font: 11px system-ui, sans-serif; fill: #333; } svg .grid { stroke: #e4e4e4; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; } dt { font-weight: 600; }
span.y { color: #b59b00; } span.r { color: #d00; } span.c { color: #008b8b; }
"""
