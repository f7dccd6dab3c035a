"""The `vsvsr` command.

    vsvsr upscale in.mp4 out.mkv --weights my.safetensors --scale 2 --codec libx265 --crf 18
    vsvsr info                 # torch device, VapourSynth version, whether core.vsr loads
    vsvsr models               # models, parameters, shipped weights and their metrics
    vsvsr models --inspect 4x-Foo.pth   # what a model file is: ours, or a community model spandrel knows
    vsvsr export-onnx --weights my.safetensors --window 5 srgan_w5.onnx
    vsvsr demo                 # the built-in sample through core.vsr.SRGAN, vspipe and x264
    vsvsr serve                # the local website: upload, compare before and after, download

A mistake the user can fix (vsvsr.errors.UserError) is one line on stderr and exit status 2;
any other exception is a bug and shows its traceback. Nothing heavy is imported before
`main` runs (torch takes seconds to import), so Ctrl-C at any moment is one line and exit 130.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from . import __version__
from .errors import UsageError, UserError

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's code for a process stopped by SIGINT


def _demo(args: argparse.Namespace) -> int:
    if any(importlib.util.find_spec(m) is None for m in ("PIL", "skimage")):  # the sample photo and the picture
        raise UsageError("vsvsr demo needs the eval extra (Pillow, scikit-image); install it: pip install 'vsvsr[eval]'")
    from .demo import run_demo

    video, picture, psnr = run_demo(Path(args.out), frames=args.frames)
    print(f"upscaled video (vspipe | x264): {video}")
    print(f"side-by-side picture: {picture}")
    print(f"centre frame PSNR-Y against the original: bicubic {psnr['bicubic']:.2f} dB, SRGAN {psnr['SRGAN']:.2f} dB")
    return 0


def _models(args: argparse.Namespace) -> int:
    from . import models, networks, weights

    if args.inspect:
        print("\n".join(networks.inspect(args.inspect)))
        return 0

    shipped = weights.shipped()
    print(f"{'name':10} {'parameters':>12}  weights")
    for name in models.names():
        n = sum(p.numel() for p in models.build(name).parameters())
        print(f"{name:10} {n:>12,}  {'shipped' if name in shipped else 'none shipped'}  ({models.spec_for(name).summary})")
    for name, path in shipped.items():
        d = weights.read_descriptor(path)
        print(f"\n{name}: arch {d.arch}, window {d.window}, {d.steps:,} steps, card {path.with_suffix('.md')}")
        for condition, table in d.metrics.items():
            if isinstance(table, dict) and d.arch in table:  # {method: {metric: value}} (training ship)
                ours = table[d.arch]
                baselines = ", ".join(f"{m} {v['psnr_y']:.2f}" for m, v in table.items() if m != d.arch)
                print(f"  {condition}: PSNR-Y {ours['psnr_y']:.2f} dB ({baselines}), LPIPS {ours['lpips']:.3f}, "
                      f"tOF {ours['tof']:.3f}, tLP {ours['tlp']:.4f}")  # fmt: skip
    return 0


def _upscale(args: argparse.Namespace) -> int:
    from . import weights
    from .engine import Settings
    from .pipeline import ClusterOptions, EncodeOptions, UpscaleOptions, upscale

    options = UpscaleOptions(
        input=Path(args.input),
        output=Path(args.output),
        model=args.weights or args.model or weights.DEFAULT_MODEL,
        engine=Settings(scale=args.scale, tile=args.tile, device=args.device, precision=args.precision,
                        batch=args.batch),
        encode=EncodeOptions(args.codec, args.crf, args.preset, args.pix_fmt, args.vf_post),
        vf_pre=args.vf_pre,
        start=args.start,
        end=args.end,
        scene_threshold=args.scene_threshold,
        segment_frames=args.segment_frames,
        overwrite=args.overwrite,
        resume=args.resume,
        allow_damaged=args.allow_damaged,
        cluster=ClusterOptions(args.workers, args.ray_address, args.gpus_per_worker),
    )
    report = upscale(options, progress=not args.quiet)
    logging.getLogger("vsvsr").info(
        "%d frames in %.1f s: %d upscaled now (%.2f fps), %d from finished segments; %d generator frame-evaluations",
        report.frames, report.seconds, report.upscaled, report.upscaled / max(report.streaming_seconds, 1e-9),
        report.frames - report.upscaled, report.evaluated,
    )  # fmt: skip
    print(report.output)
    return 0


def _info(args: argparse.Namespace) -> int:
    import torch

    from . import weights
    from .engine import default_precision

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) or "none"
    print(f"vsvsr {__version__} on Python {platform.python_version()}")
    print(f"torch {torch.__version__}: CUDA {'available' if torch.cuda.is_available() else 'not available'} (devices: {cuda})")
    print(f"default device: {device}, default precision: {default_precision(device)}")
    print(f"VapourSynth: {_vapoursynth_status()}")
    print(f"ffmpeg: {_ffmpeg_status()}")
    print(f"shipped weights: {', '.join(weights.shipped()) or 'none yet'}")
    return 0


# Run in a child Python: loading plugins can crash a process, and info must report, not crash.
_VS_PROBE = """
import vapoursynth as vs
core = vs.core
print(vs.__version__, "with core.vsr" if hasattr(core, "vsr") else "WITHOUT core.vsr")
"""


def _vapoursynth_status() -> str:
    done = subprocess.run([sys.executable, "-c", _VS_PROBE], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return f"does not load ({lines[-1] if lines else f'exit status {done.returncode}'})"
    return done.stdout.strip()


def _ffmpeg_status() -> str:
    """ffmpeg's version, and whether it has the filters `vsvsr upscale` needs."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return "not found (install ffmpeg, e.g. apt-get install ffmpeg)"
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=True).stdout.split()[2]
    filters = subprocess.run([ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, check=True).stdout.split()
    missing = [f for f in ("zscale", "scdet") if f not in filters]
    return f"{version} ({'lacks ' + ' and '.join(missing) + ': vsvsr upscale needs them' if missing else 'with zscale and scdet'})"


def _export_onnx(args: argparse.Namespace) -> int:
    from . import weights
    from .onnx_export import export_onnx

    model = weights.load(args.weights or args.model or weights.DEFAULT_MODEL)
    path = export_onnx(model, args.window, args.output)
    print(path)
    return 0


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .serve import ServeOptions, create_app
    except ImportError as err:
        raise UsageError(f"vsvsr serve needs {err.name}; install the website's libraries with pip install 'vsvsr[serve]'") from None
    from . import weights

    offered = weights.shipped()
    for path in map(Path, args.weights or ()):
        weights.read_descriptor(path)  # a missing or foreign file fails here, not in the first job
        offered[path.stem] = path
    options = ServeOptions(workers=args.workers, max_upload_mb=args.max_upload_mb, keep_hours=args.keep_hours,
                           models=offered, **({"cache": Path(args.cache)} if args.cache else {}))  # fmt: skip
    log = logging.getLogger("vsvsr")
    if args.host not in LOOPBACK_HOSTS:
        log.warning("listening on %s: there is no authentication, so anyone who reaches port %d can upload files and "
                    "run jobs on this machine; bind 127.0.0.1 (the default) unless the network is yours", args.host, args.port)  # fmt: skip
    log.info("the website: http://%s:%d/ (results kept %g hours in %s; Ctrl-C stops)",
             f"[{args.host}]" if ":" in args.host else args.host, args.port, options.keep_hours, options.cache)  # fmt: skip
    uvicorn.run(create_app(options), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


class _StderrHandler(logging.Handler):
    """Log lines on stderr through tqdm, so they do not break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        prefix = "warning: " if record.levelno >= logging.WARNING else ""
        tqdm.write(f"vsvsr: {prefix}{record.getMessage()}", file=sys.stderr)


def _log_to_stderr() -> None:
    logger = logging.getLogger("vsvsr")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.INFO)


def _model_arguments(parser: argparse.ArgumentParser, community: bool = False) -> None:
    """--model or --weights; with `community`, --weights may also be a community model (vsvsr.community)."""
    from . import weights

    ours = "a .safetensors file written by vsvsr.weights.save"
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", help=f"a shipped model (default: {weights.DEFAULT_MODEL})")
    which.add_argument("--weights", metavar="FILE", help=ours + (", or a community model spandrel recognises (.pth, .pt, "
                       ".ckpt, .safetensors: ESRGAN, Real-ESRGAN Compact, SwinIR, ...)" if community else ""))  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsvsr", description="spatio-temporal SRGAN video super-resolution")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("upscale", help="upscale a video file through ffmpeg (audio, subtitles, chapters copied)",
                        description="Upscale any video ffmpeg reads; resumable (--resume) after a crash or Ctrl-C.")  # fmt: skip
    up.add_argument("input", metavar="INPUT")
    up.add_argument("output", metavar="OUTPUT", help="the container follows its extension (.mkv, .mp4, ...)")
    up.add_argument("--scale", type=int,
                    help="the model's scale (default; 2 for ours) or its square, the model run twice (4 for ours)")  # fmt: skip
    _model_arguments(up, community=True)
    up.add_argument("--vf-pre", metavar="GRAPH", help="ffmpeg filters before upscaling, joined by commas, e.g. bwdif or crop=1920:800")
    up.add_argument("--vf-post", metavar="GRAPH", help="ffmpeg filters after upscaling, joined by commas, e.g. unsharp or scale=1920:-2")
    up.add_argument("--codec", default="libx264", help="ffmpeg video encoder (default: libx264)")
    up.add_argument("--crf", type=float, help="quality, for encoders that take it (default: 18)")
    up.add_argument("--preset", help="encoder preset (default: the encoder's)")
    up.add_argument("--pix-fmt", help="output pixel format (default: the input's)")
    up.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when available)")
    up.add_argument("--precision", help="fp32, fp16 or bf16 (default: fp16 on CUDA, bf16 on CPUs with native bf16, else fp32)")
    up.add_argument("--tile", type=int, help="LR tile side in pixels (default: the model's)")
    up.add_argument("--batch", type=int, help="tiles per network call (default: 16 on CUDA; on a CPU 16 of 64 px in bf16, 8 in fp32)")
    up.add_argument("--start", metavar="T", help="start at this input position (seconds or HH:MM:SS.ms)")
    up.add_argument("--end", metavar="T", help="end at this input position")
    up.add_argument("--scene-threshold", type=float, default=10.0, metavar="X",
                    help="scdet score (0-100) that starts a new scene; 0: no scene cuts (default: 10)")  # fmt: skip
    up.add_argument("--segment-frames", type=int, default=240, metavar="N",
                    help="frames per resumable segment (default: 240)")  # fmt: skip
    up.add_argument("--overwrite", action="store_true", help="replace OUTPUT, discard an unfinished job")
    up.add_argument("--resume", action="store_true", help="continue an interrupted job, reusing finished segments")
    up.add_argument("--allow-damaged", action="store_true",
                    help="upscale the frames that decode from a truncated or damaged INPUT (default: refuse it)")  # fmt: skip
    up.add_argument("--workers", type=int, default=1, metavar="N",
                    help="segments upscaled at once, as Ray tasks (needs vsvsr[cluster]); 1: in this process (default: 1)")  # fmt: skip
    up.add_argument("--ray-address", metavar="ADDR",
                    help="run the workers on this Ray cluster (default: RAY_ADDRESS, else a local one on this machine's cores)")  # fmt: skip
    up.add_argument("--gpus-per-worker", type=float, default=0, metavar="G",
                    help="GPUs Ray gives each worker (default: 0, workers run on the CPU)")  # fmt: skip
    up.add_argument("--quiet", action="store_true", help="no progress bar")
    up.set_defaults(run=_upscale)

    info = sub.add_parser("info", help="torch device, VapourSynth version, whether core.vsr loads")
    info.set_defaults(run=_info)

    listing = sub.add_parser("models", help="list models, parameters and shipped weights")
    listing.add_argument("--inspect", metavar="FILE",
                         help="say what a model file is instead: ours (its descriptor) or a community model spandrel "
                              "recognises (architecture, scale, channels, size needs, precisions, parameters)")  # fmt: skip
    listing.set_defaults(run=_models)

    onnx = sub.add_parser("export-onnx", help="write a fixed-window ONNX graph for vs-mlrt (core.ort.Model)")
    _model_arguments(onnx)
    onnx.add_argument("--window", type=int, default=5, metavar="T", help="frames per window (default: 5)")
    onnx.add_argument("output", metavar="OUT.onnx")
    onnx.set_defaults(run=_export_onnx)

    demo = sub.add_parser("demo", help="upscale the built-in sample through core.vsr.SRGAN, vspipe and x264")
    demo.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    demo.add_argument("--frames", type=int, default=24, help="frames in the sample clip (default: 24)")
    demo.set_defaults(run=_demo)

    serve = sub.add_parser("serve", help="the local website: upload a clip, compare before and after, download",
                           description="Serve the page and its JSON API; jobs run through vsvsr upscale's pipeline.")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--workers", type=int, default=1, help="jobs that run at once, each one at a time (default: 1)")
    serve.add_argument("--max-upload-mb", type=float, default=500, metavar="N", help="largest upload in MB (default: 500)")
    serve.add_argument("--keep-hours", type=float, default=24, metavar="H",
                       help="hours a finished job's files stay before they are removed (default: 24)")  # fmt: skip
    serve.add_argument("--cache", metavar="DIR", help="folder for uploads and results (default: $XDG_CACHE_HOME/vsvsr/serve)")
    serve.add_argument("--weights", action="append", metavar="FILE",
                       help="also offer this .safetensors file, named by its file name without .safetensors (repeatable)")  # fmt: skip
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _run(argv)
    except KeyboardInterrupt:  # anywhere outside a job, e.g. while torch is still importing
        print(f"vsvsr {_command(argv)}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    _log_to_stderr()
    from .pipeline import Interrupted

    try:
        return args.run(args)
    except Interrupted as err:
        print(f"vsvsr {args.command}: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UserError as err:  # anything else is a bug: its traceback shows
        print(f"vsvsr {args.command}: {err}", file=sys.stderr)
        return EXIT_ERROR


def _command(argv: list[str]) -> str:
    """The subcommand named in `argv` (for messages before or without argparse)."""
    return next((a for a in argv if not a.startswith("-")), "").strip() or "(no command)"


if __name__ == "__main__":
    sys.exit(main())
