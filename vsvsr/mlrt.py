"""vsr.SRGAN on vs-mlrt's runtimes: backend="ort" | "ov" | "trt" instead of torch.

The windows, scene cuts and tiles stay ours; only the generator runs in vs-mlrt's plugin
(core.ort.Model, core.ov.Model, core.trt.Model), as an ONNX graph exported once and cached (a
window of T frames in, the K frames the window produces out: onnx_export.py). "ncnn" is a name
vs-mlrt users expect, answered with why it cannot run this generator (see `plugin`).

vs-mlrt computes output frame j from frame j of each input clip, with the clips' planes stacked
as channels. So for one x2 pass, with the engine's window grid (windows.py):

- the source is laid out as a mosaic of the engine's tiles (TileGrid: overlapping, the last one
  shifted inward), side by side; vs-mlrt, told to tile it by exactly the tile size with no
  overlap, then runs the network on each of our tiles as it stands;
- window slot d is a clip whose frame j is the mosaic of `window_of(j).frames[d]`, picked per
  request (std.FrameEval) from the scene cuts in the props of the frames around j, as the torch
  filter does; frame j of the network's output holds the K frames that window produces, as K x 3
  planes in frame props (vs-mlrt's flexible_output_prop);
- output frame n asks for the network's frame `window.first` of its window (VapourSynth's cache
  makes it one evaluation per window, as the engine's window cache does), takes its window
  position's three planes and blends the tiles with the engine's own TileGrid.merge.

So every mode costs what it costs in torch (context: T/(T-2) window frames in per output frame,
fast: 1, centre: T), and the pictures are the torch backend's up to the runtime's arithmetic.
x4 chains two such passes, the second over the first's output, as the engine does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import vapoursynth as vs

from . import weights
from .atomic import atomic_path
from .cache import cache_root
from .engine import Resolved, Settings, TileGrid, WindowGrid, passes, resolve
from .engine.settings import cpu_has_native_bf16
from .errors import UsageError
from .onnx_export import OPSET, export_onnx
from .vsfilter import check_progressive, cuts_near, frame_to_tensor, shifted, write_frame

BACKENDS = ("torch", "ort", "ov", "trt", "ncnn")
PACKAGES = {"ort": "vapoursynth-mlrt-ort", "ov": "vapoursynth-mlrt-ov", "trt": "vapoursynth-mlrt-trt"}
RUNTIMES = {"ort": "ONNX Runtime", "ov": "OpenVINO", "trt": "TensorRT"}
# The devices each plugin runs on, as device= names them (the first is the default), and the
# precisions it computes in.
DEVICES = {"ort": ("cpu", "cuda"), "ov": ("cpu", "gpu"), "trt": ("cuda",)}
PRECISIONS = {"ort": ("fp32", "fp16"), "ov": ("fp32", "fp16", "bf16"), "trt": ("fp32", "fp16")}
GRAPH_FORMAT = 1  # bump when the exported graph changes for the same settings: it keys the cache
PLANES_PROP = "vsrWindow"  # vs-mlrt's flexible output: frame props vsrWindow0 .. vsrWindow{3K-1}


@dataclass(frozen=True)
class Runtime:
    """Which vs-mlrt plugin runs the network, where, and how."""

    backend: str
    device: str  # one of DEVICES[backend]
    device_id: int
    precision: str
    num_streams: int


def runtime_for(backend: str, device: str | None, precision: str | None, num_streams: int) -> Runtime:
    """Checked settings for the vs-mlrt backend `backend` (a key of DEVICES); UsageError naming the fix."""
    kinds = DEVICES[backend]
    kind, _, index = (device or kinds[0]).partition(":")
    if kind not in kinds or not (index == "" or index.isdigit()):
        names = " or ".join(f"{k}[:N]" for k in kinds)
        raise UsageError(f"device must be {names} with backend={backend!r}, not {device!r}")
    if precision is None:
        precision = "fp16" if kind != "cpu" else "bf16" if cpu_has_native_bf16() and "bf16" in PRECISIONS[backend] else "fp32"
    if precision not in PRECISIONS[backend]:
        raise UsageError(f"precision must be {' or '.join(PRECISIONS[backend])} with backend={backend!r}, "
                         f"not {precision!r}" + ("; bf16 runs with backend='ov'" if precision == "bf16" else ""))  # fmt: skip
    return Runtime(backend, kind, int(index or 0), precision, num_streams)


def plugin(backend: str) -> vs.Plugin:
    """vs-mlrt's plugin for `backend`, or vs.Error naming the package that provides it (or, for
    ncnn, why it cannot run this generator)."""
    if backend == "ncnn":
        # Measured with vapoursynth-mlrt-ncnn 17.1 (on lavapipe, Mesa's CPU Vulkan): its ONNX
        # converter lacks Shape, Mod, Cast, ConstantOfShape and OneHot, which the generator's
        # padding and local non-local block export to, and crashes the process on them.
        raise vs.Error("vsr.SRGAN: backend='ncnn' cannot run this generator (vs-mlrt's ncnn converter lacks ops "
                       "its graph needs); use backend='ort' (CPU, CUDA), 'ov' (CPU, Intel GPU) or 'trt' (NVIDIA)")  # fmt: skip
    if not hasattr(vs.core, backend):
        raise vs.Error(f"vsr.SRGAN: backend={backend!r} needs vs-mlrt's {RUNTIMES[backend]} plugin (core.{backend}); "
                       f"install it: pip install {PACKAGES[backend]}")  # fmt: skip
    return getattr(vs.core, backend)


@dataclass(frozen=True)
class Plan:
    """Everything one vsr.SRGAN call on a vs-mlrt backend needs: the model file, the engine's
    settings for it (window, mode, tile, overlap), its passes and the runtime."""

    weights: Path
    settings: Resolved
    passes: int
    runtime: Runtime


def plan_for(name_or_path: str, settings: Settings, runtime: Runtime) -> Plan:
    """The plan for one of our weights files (a shipped name or a path); UserError otherwise."""
    path = weights.resolve(name_or_path)
    if not weights.is_vsvsr_file(path):
        raise UsageError(f"backend={runtime.backend!r} runs vsvsr's own window models, not community models like {path.name}; "
                         "use backend='torch' for it")  # fmt: skip
    descriptor = weights.read_descriptor(path)
    # Device and precision are the runtime's; resolve on the CPU, for the geometry only.
    geometry = Settings(settings.scale, settings.window, settings.mode, settings.tile, settings.overlap, "cpu", "fp32")
    resolved = resolve(geometry, descriptor)
    return Plan(path, resolved, passes(resolved.scale, descriptor.scale), runtime)


def upscale(rgbs: vs.VideoNode, props_clip: vs.VideoNode, plan: Plan) -> vs.VideoNode:
    """RGBS clip -> RGBS clip upscaled (x2, or x4 in two passes) on vs-mlrt's runtime; frame
    props kept from `rgbs`, scene cuts read from `props_clip`'s, as vsfilter.upscale_rgbs does
    with torch."""
    plugin(plan.runtime.backend)
    out = rgbs
    for _ in range(plan.passes):
        out = _x2(out, props_clip, plan)
    return out


def _x2(src: vs.VideoNode, props_clip: vs.VideoNode, plan: Plan) -> vs.VideoNode:
    """One pass of our x2 generator (the only network a plan holds: see plan_for)."""
    s = plan.settings
    length, window = src.num_frames, s.window
    layout = WindowGrid(length, window, (), s.mode)  # lead and stride: the same whatever the cuts
    produced = range(layout.lead, layout.lead + layout.stride)
    tiles = TileGrid(src.height, src.width, s.tile, s.overlap)
    mosaic = _mosaic(src, tiles)
    neighbours = [shifted(props_clip, d) for d in range(-layout.reach, layout.reach + 1)]
    grid_at = functools.partial(_grid_at, length=length, window=window, mode=s.mode)

    def slot(d: int) -> vs.VideoNode:
        return mosaic.std.FrameEval(lambda n, f: _frame(mosaic, grid_at(n, f).window_of(n).frames[d]),
                                    prop_src=neighbours)  # fmt: skip

    slots = [slot(d) for d in range(window)]
    tile = (tiles.tiles[0].w, tiles.tiles[0].h)
    windows = _infer(slots, graph_path(plan.weights, window, produced), tile, plan.runtime)
    # A window slid inside its scene at a cut or a clip's end (windows.py) produces from other
    # positions: its frames come from a graph that produces every position, which VapourSynth
    # runs only for the frames that ask for it (in fast mode that is the grid's own graph).
    every = range(window)
    slid = windows if produced == every else _infer(slots, graph_path(plan.weights, window, every), tile, plan.runtime)
    blank = src.std.BlankClip(width=src.width * 2, height=src.height * 2, length=1, keep=True)

    def frame_n(n: int, f: list[vs.VideoFrame]) -> vs.VideoNode:
        grid = grid_at(n, f)
        win = grid.window_of(n)
        for d, frame in zip(range(-layout.reach, layout.reach + 1), f):
            if n + d in win.frames:
                check_progressive(frame.props, n + d)
        at = win.position(win.first)
        outputs, first = (windows, produced.start) if produced.start <= at <= produced.stop - win.count else (slid, 0)
        merge = _Merge(tiles, win.position(n) - first)
        one = blank.std.ModifyFrame(clips=[blank, outputs[win.first], src[n]], selector=merge)
        return one.std.Loop(times=0)

    return blank.std.Loop(times=length).std.FrameEval(frame_n, prop_src=neighbours)


def _grid_at(n: int, f: list[vs.VideoFrame], length: int, window: int, mode: str) -> WindowGrid:
    """The window grid as frame n sees it: with the scene cuts in the props of the frames around n."""
    return WindowGrid(length, window, cuts_near(n, window, f, length), mode)


def _frame(clip: vs.VideoNode, i: int) -> vs.VideoNode:
    """A clip whose every frame is clip's frame i (for std.FrameEval to return at any n)."""
    return clip[i].std.Loop(times=0)


def _mosaic(clip: vs.VideoNode, tiles: TileGrid) -> vs.VideoNode:
    """The tiles of each frame side by side, rows of `tiles` as rows: a frame that vs-mlrt,
    tiling by the tile size without overlap, cuts back into exactly these tiles."""
    rows: dict[int, list[vs.VideoNode]] = {}
    for t in tiles.tiles:
        rows.setdefault(t.y, []).append(clip.std.CropAbs(width=t.w, height=t.h, left=t.x, top=t.y))
    return vs.core.std.StackVertical([vs.core.std.StackHorizontal(row) for row in rows.values()])


@dataclass(frozen=True)
class _Merge:
    """The network's output mosaic -> one upscaled frame: the frame at `position` among those the
    window produces, tiles blended as the engine blends them, props from the source frame."""

    tiles: TileGrid
    position: int

    def __call__(self, n: int, f: list[vs.VideoFrame]) -> vs.VideoFrame:
        template, outputs, source = f
        planes = [np.asarray(outputs.props[f"{PLANES_PROP}{3 * self.position + c}"][0]) for c in range(3)]
        mosaic = torch.from_numpy(np.stack(planes))  # (3, rows * 2th, cols * 2tw)
        first = self.tiles.tiles[0]
        th, tw, cols = 2 * first.h, 2 * first.w, mosaic.shape[-1] // (2 * first.w)
        parts = [mosaic[:, (i // cols) * th : (i // cols + 1) * th, (i % cols) * tw : (i % cols + 1) * tw]
                 for i in range(len(self.tiles.tiles))]  # fmt: skip
        return write_frame(template, self.tiles.merge(parts).clamp_(0, 1), source.props)


def _infer(clips: list[vs.VideoNode], network: Path, tile: tuple[int, int], runtime: Runtime) -> vs.VideoNode:
    """The network over `clips` (planes stacked as channels), run on each tile x tile block; the
    output frames carry the 3K output planes as props PLANES_PROP0 ...."""
    p = plugin(runtime.backend)
    common = dict(tilesize=list(tile), overlap=[0, 0], flexible_output_prop=PLANES_PROP, num_streams=runtime.num_streams)
    fp16 = runtime.precision == "fp16"
    if runtime.backend == "ort":
        provider = "CPU" if runtime.device == "cpu" else "CUDA"
        out = p.Model(clips, str(network), provider=provider, device_id=runtime.device_id, fp16=fp16, **common)
    elif runtime.backend == "ov":
        device = "CPU" if runtime.device == "cpu" else f"GPU.{runtime.device_id}"
        hint = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}[runtime.precision]
        config = {"NUM_STREAMS": runtime.num_streams, "INFERENCE_PRECISION_HINT": hint}
        out = p.Model(clips, str(network), device=device, fp16=False, config=lambda: config, **common)
    else:  # trt runs engines built for one input shape, not ONNX graphs
        engine = _trt_engine(network, 3 * len(clips), tile, runtime)
        out = p.Model(clips, str(engine), device_id=runtime.device_id, **common)
    return out["clip"]


def graph_path(weights_path: Path, window: int, produced: range) -> Path:
    """The ONNX graph of `weights_path` for `window` frames producing positions `produced`,
    exported on first use into the cache, keyed on everything that changes it."""
    key = {"weights_sha256": _file_sha256(str(weights_path), *_version(weights_path)), "window": window,
           "produced": [produced.start, produced.stop], "opset": OPSET, "format": GRAPH_FORMAT}  # fmt: skip
    path = _cache_folder() / f"{_digest(key)}.onnx"
    if not path.exists():
        export_onnx(weights.load(weights_path), window, path, produced, clamp=False)
    return path


def _trt_engine(network: Path, channels: int, tile: tuple[int, int], runtime: Runtime) -> Path:
    """A TensorRT engine of `network` for one input shape, built with vs-mlrt's trtexec on first use."""
    version = vs.core.trt.Version()
    trtexec = Path(os.fsdecode(version["path"])).parent / "vsmlrt-cuda" / "trtexec"
    key = {"network": network.name, "tile": list(tile), "precision": runtime.precision, "device": runtime.device_id,
           "tensorrt": os.fsdecode(version.get("tensorrt_version", b"?"))}  # fmt: skip
    path = _cache_folder() / f"{_digest(key)}.engine"
    if not path.exists():
        with atomic_path(path) as tmp:
            command = [str(trtexec), f"--onnx={network}", f"--saveEngine={tmp}", f"--device={runtime.device_id}",
                       f"--shapes=frames:1x{channels}x{tile[1]}x{tile[0]}", "--buildOnly"]  # fmt: skip
            subprocess.run(command + (["--fp16"] if runtime.precision == "fp16" else []), check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
    return path


def _cache_folder() -> Path:
    folder = cache_root() / "mlrt"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    """The file's sha256, computed once per version of the file (mtime and size key the memo)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
