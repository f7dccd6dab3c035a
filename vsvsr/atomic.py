"""Writing a file atomically: complete under its final name, or not there at all.

    with atomic_path(path) as tmp:       # tmp: an empty file beside `path`
        torch.save(state, tmp)           # write it by name or open it
    # here `path` holds the whole file: flushed to disk, then renamed over the old one

Every file vsvsr and training write to be read again later (weights, checkpoints, a job's
state, caches) goes through this one helper; a file another program writes under a temporary
name (ffmpeg's segments and outputs) is put in place with `commit`, the same last step. The temporary file is created with mode 0666, so
the kernel applies the user's umask as for any file a program creates (tempfile.mkstemp would
make it 0600, and the rename would carry that mode to the final name).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

_ATTEMPTS = 100


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, prefix: str | None = None) -> Iterator[Path]:
    """A fresh temporary file in `path`'s folder (named `prefix`RANDOM.tmp, by default
    .NAME.RANDOM.tmp) to write; on a clean exit it is synced and renamed onto `path`, on an
    exception removed. A process killed meanwhile leaves at most the temporary file."""
    path = Path(path)
    tmp = _create(path.parent, prefix if prefix is not None else f".{path.name}.")
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Put the finished file `tmp` in place as `path` (same folder): synced, renamed over any
    old `path`, and the rename synced."""
    _fsync_file(Path(tmp))  # the data is on disk before the name points at it
    os.replace(tmp, path)
    _fsync_folder(Path(path).parent)  # and the rename itself (the entry lives in the folder)


def _create(folder: Path, prefix: str) -> Path:
    """Create a new empty file `prefix`RANDOM.tmp in `folder`, mode 0666 less the umask."""
    for _ in range(_ATTEMPTS):
        tmp = folder / f"{prefix}{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name {prefix}*.tmp in {folder}")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); a filesystem that cannot sync folders loses nothing else."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
