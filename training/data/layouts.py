"""Training sequences from the dataset layouts users bring and from the offline sources.

Every layout becomes a list of `Sequence`s, and a sequence knows one thing: how to give a
random window of consecutive frames cropped to a square, `(T, crop, crop, 3)` uint8 RGB.

    reds    ROOT/train_sharp/000/00000000.png ...            (REDS)
    vimeo   ROOT/sequences/00001/0001/im1.png .. im7.png     (Vimeo-90k septuplets; ROOT/sep_trainlist.txt
                                                               selects the training split when present)
    frames  ROOT/<clip>/<frame>.png|jpg ...                  (BVI-style folders of frames)
    videos  ROOT/<clip>.mp4|mkv|... or one video file        (any container ffmpeg reads; decoded lazily,
                                                               only the frames of the window)
    photos  ROOT/<photo>.png|jpg ...                         (stills filmed by a synthetic camera)
    offline the TRAIN split of training.data.sources          (photos filmed by the synthetic camera, and
                                                               video frame ranges split at scene cuts)
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from vsvsr.atomic import atomic_path
from vsvsr.pipeline.tools import PipelineError, tool

from ..config import MotionConfig
from . import sources
from .motion import CameraMotion, photo_sequence

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = sources.VIDEO_SUFFIXES
# Photo pixels kept between the filmed view and the photo's edge, beyond what the motion
# needs: the reach of motion.py's Lanczos warp and reduction, plus rounding.
_PHOTO_EDGE = 10


class LayoutError(sources.SourceError):
    """A dataset folder that does not hold the layout it was given as; the message says why."""


class Sequence(Protocol):
    name: str

    def fits(self, frames: int, crop: int) -> bool:
        """Whether it can give windows of `frames` frames of `crop` x `crop` at all."""
        ...

    def window(self, rng: np.random.Generator, frames: int, crop: int) -> np.ndarray | None:
        """`frames` consecutive frames cropped to `crop` x `crop` at a random place:
        (frames, crop, crop, 3) uint8, or None if this draw gave no usable window."""
        ...


def _random_crop(clip: np.ndarray, rng: np.random.Generator, crop: int) -> np.ndarray:
    """(T, H, W, 3) -> (T, crop, crop, 3) at a random position (the same for every frame)."""
    height, width = clip.shape[1:3]
    top, left = int(rng.integers(height - crop + 1)), int(rng.integers(width - crop + 1))
    return clip[:, top : top + crop, left : left + crop]


def _natural_key(path: Path) -> list[Any]:
    """im2 before im10: numbers in names compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith(".")),
                  key=_natural_key)  # fmt: skip


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class FrameFolder:
    """A sequence stored as one image file per frame."""

    name: str
    paths: tuple[Path, ...]
    size: tuple[int, int]  # (height, width) of the first frame

    def fits(self, frames: int, crop: int) -> bool:
        return len(self.paths) >= frames and min(self.size) >= crop

    def window(self, rng: np.random.Generator, frames: int, crop: int) -> np.ndarray | None:
        start = int(rng.integers(len(self.paths) - frames + 1))
        clip = [_read_rgb(p) for p in self.paths[start : start + frames]]
        if any(f.shape != clip[0].shape for f in clip):
            return None  # a frame of another size: not a sequence we can crop as one
        return _random_crop(np.stack(clip), rng, crop)


def _frame_folder(folder: Path) -> FrameFolder | None:
    paths = _files(folder, FRAME_SUFFIXES)
    if not paths:
        return None
    with Image.open(paths[0]) as first:
        size = (first.height, first.width)
    return FrameFolder(str(folder), tuple(paths), size)


@dataclass(frozen=True)
class VideoFile:
    """A video file, decoded by ffmpeg a window at a time (seeking to the window's start)."""

    name: str
    frames: int
    fps: float
    size: tuple[int, int]  # (height, width)

    def fits(self, frames: int, crop: int) -> bool:
        return self.frames >= frames and min(self.size) >= crop

    def window(self, rng: np.random.Generator, frames: int, crop: int) -> np.ndarray | None:
        start = int(rng.integers(self.frames - frames + 1))
        clip = decode_frames(Path(self.name), start / self.fps, frames, self.size)
        return _random_crop(clip, rng, crop) if len(clip) == frames else None  # short read at the end


def _ffmpeg_tool(name: str) -> str:
    """vsvsr's lookup of ffmpeg/ffprobe, its message as this module's error."""
    try:
        return tool(name)
    except PipelineError as err:
        raise LayoutError(f"reading video files needs {name}: {err}") from None


def probe_video(path: Path) -> VideoFile:
    """Frame count (packets of the first video stream), frame rate and size, from ffprobe."""
    command = [_ffmpeg_tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
               "stream=width,height,avg_frame_rate,nb_read_packets", "-of", "json", str(path)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        stream = json.loads(result.stdout)["streams"][0]
        num, den = (int(v) for v in stream["avg_frame_rate"].split("/"))
        size = (int(stream["height"]), int(stream["width"]))
        return VideoFile(str(path), int(stream["nb_read_packets"]), num / den, size)
    except (KeyError, IndexError, ValueError, ZeroDivisionError, json.JSONDecodeError):
        why = result.stderr.strip() or "no video stream"
        raise LayoutError(f"ffprobe cannot read {path} as a video: {why}") from None


def decode_frames(path: Path, start_seconds: float, count: int, size: tuple[int, int]) -> np.ndarray:
    """Up to `count` RGB frames from `start_seconds` on: (n, H, W, 3) uint8, n <= count. Input
    seeking decodes from the keyframe before the start and drops frames up to it, so only the
    window's neighbourhood is ever decoded."""
    command = [_ffmpeg_tool("ffmpeg"), "-v", "error", "-nostdin", "-ss", f"{start_seconds:.6f}", "-i", str(path),
               "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise LayoutError(f"ffmpeg could not decode {path}: {result.stderr.decode(errors='replace').strip()}")
    height, width = size
    frame_bytes = height * width * 3
    usable = len(result.stdout) // frame_bytes
    return np.frombuffer(result.stdout[: usable * frame_bytes], np.uint8).reshape(usable, height, width, 3)


@dataclass(frozen=True)
class CachedVideo:
    """Frames of an offline source video, decoded once into an uncompressed cache file and read
    through a memory map, so a window costs a crop, not a decode."""

    name: str
    path: Path  # the .npy cache

    def fits(self, frames: int, crop: int) -> bool:
        count, height, width = np.load(self.path, mmap_mode="r").shape[:3]
        return count >= frames and min(height, width) >= crop

    def window(self, rng: np.random.Generator, frames: int, crop: int) -> np.ndarray | None:
        video = np.load(self.path, mmap_mode="r")  # (N, H, W, 3)
        start = int(rng.integers(len(video) - frames + 1))
        return np.ascontiguousarray(_random_crop(video[start : start + frames], rng, crop))


@dataclass(frozen=True)
class Photo:
    """A still photo filmed by a random synthetic camera (training.data.motion) per window:
    sub-pixel pan, slow zoom, small rotation, at a random reduction (photo pixels per HR
    pixel), around a random place in the photo."""

    name: str
    path: Path | None  # an image file, or None for an offline source read by name
    motion: MotionConfig

    def fits(self, frames: int, crop: int) -> bool:
        """Whether a still camera fits at the smallest reduction (moving ones may still not)."""
        return min(_photo_pixels(self.name, self.path).shape[:2]) >= crop * self.motion.reduce[0] + 2 * _PHOTO_EDGE

    def window(self, rng: np.random.Generator, frames: int, crop: int) -> np.ndarray | None:
        m = self.motion
        camera = CameraMotion(
            pan=(float(rng.uniform(-m.pan, m.pan)), float(rng.uniform(-m.pan, m.pan))),
            zoom=float(math.exp(rng.uniform(-m.zoom, m.zoom))),
            rotation=float(rng.uniform(-m.rotation, m.rotation)),
        )
        photo = _photo_pixels(self.name, self.path)
        per_reduce, fixed = _footprint(camera, frames, crop)
        fit = (min(photo.shape[:2]) - fixed) / per_reduce
        if fit < m.reduce[0]:
            return None  # this photo is too small for this motion at the smallest reduction
        reduce = float(rng.uniform(m.reduce[0], min(m.reduce[1], fit)))
        side = math.ceil(per_reduce * reduce + fixed)
        top, left = int(rng.integers(photo.shape[0] - side + 1)), int(rng.integers(photo.shape[1] - side + 1))
        return photo_sequence(photo[top : top + side, left : left + side], camera, frames, (crop, crop), reduce)


def _footprint(camera: CameraMotion, frames: int, crop: int) -> tuple[float, float]:
    """The side of the photo square a filmed view needs, as `a * reduce + b`: the view, plus
    room for the motion at the clip's ends (pan, and rotation and zoom moving the corners)."""
    half_time = (frames - 1) / 2
    corner = crop / math.sqrt(2)  # view centre to corner, in HR pixels
    pan = max(abs(v) for v in camera.pan) * half_time
    turn = math.radians(abs(camera.rotation) * half_time)
    zoom = max(camera.zoom, 1 / camera.zoom) ** half_time - 1
    return crop + 2 * (pan + corner * (turn + zoom)), 2 * _PHOTO_EDGE


@functools.cache
def _photo_pixels(name: str, path: Path | None) -> np.ndarray:
    """A photo's pixels, decoded once per process (the offline photos are a few MB in all)."""
    return _read_rgb(path) if path is not None else sources.read_photo(name)


@dataclass(frozen=True)
class Layout:
    """What a source gave: its sequences and its manifest entries (what a model card records)."""

    sequences: list[Sequence]
    manifest: list[dict[str, Any]]


def _folder(path: str, kind: str, hint: str) -> Path:
    root = Path(path).expanduser()
    if not root.is_dir():
        raise LayoutError(f"{kind}: {path} is not a folder; {hint}")
    return root


def _listing_manifest(kind: str, root: Path, files: list[Path], sequences: int) -> list[dict[str, Any]]:
    """A user dataset's manifest entry: hashing every frame of REDS would take hours, so the
    hash covers the file listing (relative names and sizes)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root)}\t{path.stat().st_size}\n".encode())
    return [{"source": f"{kind}:{root.resolve()}", "sequences": sequences, "files": len(files),
             "listing_sha256": digest.hexdigest()}]  # fmt: skip


def _from_folders(kind: str, root: Path, folders: list[Path]) -> Layout:
    sequences = [s for s in (_frame_folder(f) for f in folders) if s is not None]
    if not sequences:
        raise LayoutError(f"{kind}: no frames found under {root}")
    files = [p for s in sequences for p in s.paths]
    return Layout(sequences, _listing_manifest(kind, root, files, len(sequences)))


def reds(path: str) -> Layout:
    root = _folder(path, "reds", "pass the REDS folder that holds train_sharp/")
    if not (root / "train_sharp").is_dir():
        raise LayoutError(f"reds: {path} has no train_sharp folder; pass the REDS root (train_sharp/000/00000000.png)")
    return _from_folders("reds", root, sorted(p for p in (root / "train_sharp").iterdir() if p.is_dir()))


def vimeo(path: str) -> Layout:
    root = _folder(path, "vimeo", "pass the Vimeo-90k septuplet folder that holds sequences/")
    if not (root / "sequences").is_dir():
        raise LayoutError(f"vimeo: {path} has no sequences folder; pass the vimeo_septuplet root")
    listing = root / "sep_trainlist.txt"
    if listing.is_file():
        folders = [root / "sequences" / line.strip() for line in listing.read_text().splitlines() if line.strip()]
    else:
        folders = sorted(p for p in (root / "sequences").glob("*/*") if p.is_dir())
    return _from_folders("vimeo", root, folders)


def frame_folders(path: str) -> Layout:
    root = _folder(path, "frames", "pass a folder holding one folder of frames per clip")
    return _from_folders("frames", root, sorted(p for p in root.iterdir() if p.is_dir()))


def video_files(path: str) -> Layout:
    root = Path(path).expanduser()
    if root.is_file():
        files = [root]
    else:
        files = _files(_folder(path, "videos", "pass a video file or a folder of them"), VIDEO_SUFFIXES)
    if not files:
        raise LayoutError(f"videos: no video files ({', '.join(VIDEO_SUFFIXES)}) in {path}")
    base = root.parent if root.is_file() else root
    return Layout([probe_video(f) for f in files], _listing_manifest("videos", base, files, len(files)))


def photos(path: str, motion: MotionConfig) -> Layout:
    root = _folder(path, "photos", "pass a folder of still photos")
    files = _files(root, FRAME_SUFFIXES)
    if not files:
        raise LayoutError(f"photos: no images in {path}")
    return Layout([Photo(str(f), f, motion) for f in files], _listing_manifest("photos", root, files, len(files)))


def offline(names: tuple[str, ...], motion: MotionConfig, cache: Path) -> Layout:
    """The TRAIN split of the offline sources (all, or those named). Videos are split at their
    scene cuts (a window never spans a cut) and decoded once into `cache`."""
    uses = [u for u in sources.TRAIN if not names or u.source in names]
    unknown = sorted(set(names) - {u.source for u in sources.TRAIN})
    if unknown:
        raise LayoutError(
            f"offline: {', '.join(unknown)} not in the training split; choose from "
            f"{', '.join(dict.fromkeys(u.source for u in sources.TRAIN))}"
        )
    sequences: list[Sequence] = []
    for use in uses:
        if sources.SOURCES[use.source].is_video:
            sequences += [CachedVideo(f"{use.source}[{s.start}:{s.stop}]", _cached_range(use.source, s, cache))
                          for s in sources.shots(use)]  # fmt: skip
        else:
            sequences.append(Photo(use.source, None, motion))
    return Layout(sequences, sources.manifest(tuple(uses)))


def _cached_range(name: str, frames: range, cache: Path) -> Path:
    """The decoded frames of a source video range, as a .npy file under `cache` (written once,
    atomically, keyed by the source's hash)."""
    path = cache / f"{name}-{sources.SOURCES[name].sha256[:16]}-{frames.start}-{frames.stop}.npy"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, sources.read_video(name, frames))  # (by name, np.save would add ".npy")
    return path
