"""The VapourSynth binding: `core.vsr.SRGAN(clip, ...)` in any script, or this module's `SRGAN`.

`core.vsr` comes from a small native plugin (vsvsr/native/vsr_shim.c, installed into
vapoursynth/plugins/vsr/ and autoloaded). It forwards every `core.vsr.SRGAN(...)` call here:
it parks the input node under an integer handle and calls `_invoke_from_shim(handle, kwargs)`,
which takes the clip with `core.vsr.ShimTake`, runs `SRGAN` and hands the result back with
`core.vsr.ShimGive`. Only `SRGAN` holds the filter's logic; the rest is that handshake.

    import vapoursynth as vs
    clip = vs.core.vsr.SRGAN(clip, scale=2)          # through the plugin, no import needed
    import vsvsr.vapoursynth_plugin as vsr
    clip = vsr.SRGAN(clip, scale=2)                  # the same function, called directly
"""

from __future__ import annotations

import torch
import vapoursynth as vs

from . import mlrt
from .engine import Settings
from .errors import UserError
from .vsfilter import check_clip, check_integers, colour_of, default_model, engine_for, from_rgbs, to_rgbs, upscale_rgbs

__all__ = ["SRGAN"]


def SRGAN(
    clip: vs.VideoNode,
    scale: int | None = None,
    model: str | None = None,
    weights: str | None = None,
    window: int | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    device: str | None = None,
    precision: str | None = None,
    num_streams: int = 1,
    threads: int | None = None,
    mode: str = "context",
    backend: str = "torch",
    batch: int | None = None,
) -> vs.VideoNode:
    """Upscale `clip` x2 or x4 with vsvsr's spatio-temporal SRGAN, or by a community model's scale.

    clip: any constant-format RGB, YUV or GRAY clip (integer up to 16 bits, half or float),
        progressive, at least 8x8. Non-RGBS clips are converted to RGB with their _Matrix,
        _Range/_ColorRange and _ChromaLocation props (resolution-based defaults when absent) and
        back to their own format at the new size; _Transfer and _Primaries pass through. Frame
        props are kept. Scene cuts come from _SceneChangePrev/_SceneChangeNext props (e.g.
        scd.Detect); without them the clip is one scene.
    scale: the model's scale (default; 2 for ours) or its square (the model twice, on its own
        output: for ours 4, the paper's cascade).
    model: a shipped model name (default: the best shipped, see README); or
    weights: a .safetensors file written by vsvsr.weights.save, or a community model file that
        spandrel recognises (.pth, .pt, .ckpt, .safetensors: ESRGAN, Real-ESRGAN Compact,
        SwinIR, ...), read without unpickling code (README: Community models).
    window: frames per window (default: the window the model was trained with; 1 for a
        community model, which upscales each frame on its own).
    tile, overlap: LR tile side and tile overlap in pixels (default: the model's inference tile,
        tile // 16 overlap).
    device: "cpu", "cuda" or "cuda:N" (default: CUDA when available).
    precision: "fp32", "fp16" or "bf16" (default: fp16 on CUDA; on CPU bf16 where the CPU has
        native bf16 instructions, else fp32).
    num_streams: concurrent CUDA streams.
    threads: torch's CPU threads. Set when the filter is created, process-wide (torch has one
        pool); by default VapourSynth's own thread count.
    mode: window layout: "context" (every frame has neighbours on both sides; T/(T-2) cost),
        "fast" (non-overlapping windows, 1x cost) or "centre" (each frame its own centred
        window, T x cost).
    backend: "torch" (default), or a vs-mlrt runtime that runs vsvsr's own generator as an ONNX
        graph (exported once, cached): "ort" (ONNX Runtime; device "cpu" or "cuda[:N]"), "ov"
        (OpenVINO; "cpu" or "gpu[:N]") or "trt" (TensorRT; "cuda[:N]"); "ncnn" is refused
        (its converter cannot read this generator's graph). Windows, scene cuts and tiles stay
        vsvsr's, so the pictures are the torch backend's up to the runtime's arithmetic. Needs
        pip install vapoursynth-mlrt-<backend>. precision: fp32 or fp16, bf16 on ov (default
        fp16 on GPUs; on CPUs as for torch, fp32 with ort); num_streams: the plugin's concurrent
        inferences.
    batch: tiles per network call (torch backend; default: 16 on CUDA; on a CPU 16 tiles of
        64 px in bf16, 8 in fp32, where bigger calls outgrow the caches and run slower).
    """
    if not isinstance(clip, vs.VideoNode):
        raise vs.Error("vsr.SRGAN: clip must be a video clip")
    props = clip.get_frame(0).props if clip.num_frames else {}
    check_clip(clip, props)
    check_integers(scale=scale, window=window, tile=tile, overlap=overlap, num_streams=num_streams, threads=threads,
                   batch=batch)  # fmt: skip
    if model is not None and weights is not None:
        raise vs.Error("vsr.SRGAN: pass either model= (a shipped model) or weights= (a file), not both")
    if num_streams < 1:
        raise vs.Error(f"vsr.SRGAN: num_streams must be at least 1, not {num_streams}")
    if threads is not None and threads < 1:
        raise vs.Error(f"vsr.SRGAN: threads must be at least 1, not {threads}")
    if backend not in mlrt.BACKENDS:
        raise vs.Error(f"vsr.SRGAN: backend must be one of {', '.join(mlrt.BACKENDS)}, not {backend!r}")
    try:
        settings = Settings(scale, window, mode, tile, overlap, device, precision, batch)
        name = weights or model or default_model()
        if backend == "torch":
            engine = engine_for(name, settings, num_streams)
        else:
            mlrt.plugin(backend)
            plan = mlrt.plan_for(name, settings, mlrt.runtime_for(backend, device, precision, num_streams))
    except UserError as err:
        raise vs.Error(f"vsr.SRGAN: {err}") from None
    if backend == "torch" and engine.settings.device.type == "cpu":
        # Process-wide, like VapourSynth's own thread count, which it follows by default.
        torch.set_num_threads(threads or vs.core.num_threads)

    colour = colour_of(clip, props)
    rgbs = to_rgbs(clip, colour)
    upscaled = upscale_rgbs(rgbs, clip, engine) if backend == "torch" else mlrt.upscale(rgbs, clip, plan)
    return from_rgbs(upscaled, clip, colour)


# ---- the handshake with the native plugin (vsvsr/native/vsr_shim.c) ----------------------------


def _take_parked_clip(handle: int) -> vs.VideoNode:
    return vs.core.vsr.ShimTake(id=handle)


def _give_result(handle: int, clip: vs.VideoNode) -> None:
    vs.core.vsr.ShimGive(clip=clip, id=handle)


def _error_message(exc: BaseException) -> str:
    """What the user sees as the filter's error: the message, prefixed so it names the filter;
    for an unexpected exception also its type, since 'list index out of range' alone says little."""
    message = str(exc)
    if not isinstance(exc, vs.Error):
        message = f"{type(exc).__name__}: {message}"
    return message if message.startswith("vsr.SRGAN") else f"vsr.SRGAN: {message}"


def _invoke_from_shim(handle: int, kwargs: dict[str, int | str]) -> None:
    """Called by the native plugin with the GIL held, for one `core.vsr.SRGAN` call. Raising is
    how it reports failure: the plugin turns the exception's message into the filter's error."""
    try:
        result = SRGAN(_take_parked_clip(handle), **kwargs)
        if not isinstance(result, vs.VideoNode):
            raise vs.Error(f"vsr.SRGAN: the implementation returned {type(result).__name__}, not a clip")
        _give_result(handle, result)
    except Exception as exc:
        raise vs.Error(_error_message(exc)) from None
